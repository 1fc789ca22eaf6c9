//! `aecl serve` notices when its SQLite database is gone from under it (deleted, or
//! replaced by another file): the next calls are blocked, `/healthz` answers 503 and says
//! why, and the reason is in the log. (Nothing can be audited about it: the audit log is
//! in the file that is gone.) Refused requests are logged with their status and code.

use std::time::Duration;

use serde_json::Value;

use crate::serve::{issue, keys, request, serve};
use crate::{finance, temp_dir};

const CALL: &str =
    r#"{"run":"r1","id":"ID","action":"read_invoice","args":{"invoice_id":"INV-7781"}}"#;

/// A server on a fresh store with the finance example, and a token of its agent.
fn served() -> (tempfile::TempDir, String, crate::serve::Running, String) {
    let dir = temp_dir();
    keys(dir.path());
    let policy = finance().display().to_string();
    let token = issue(dir.path(), &["--agent", "finance_agent", "--policy", &policy]);
    let (server, address) = serve(dir.path(), &policy, &[]);
    (dir, token, server, address)
}

fn evaluate(address: &str, token: &str, id: &str) -> (u16, Value) {
    request(address, "POST", "/v1/evaluate", Some(token), &[], &CALL.replace("ID", id))
}

fn health(address: &str) -> (u16, Value) {
    request(address, "GET", "/healthz", None, &[], "")
}

/// The server's log, once it contains `needle` (it is written as things happen).
fn log_with(dir: &std::path::Path, needle: &str) -> String {
    for _ in 0..100 {
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("`{needle}` never logged: {}", std::fs::read_to_string(dir.join("serve.log")).unwrap());
}

/// Serves, answers one call, lets `break_it` do its worst to the database, and checks
/// that everything after is blocked and reported with `why`.
fn blocked_after(break_it: impl FnOnce(&std::path::Path), why: &str) {
    let (dir, token, _server, address) = served();
    let (status, answer) = health(&address);
    assert_eq!((status, answer["status"].as_str()), (200, Some("ok")), "{answer}");
    assert_eq!(answer["audit_writer"], "running", "{answer}");
    let (status, answer) = evaluate(&address, &token, "c1");
    assert_eq!((status, answer["decision"].as_str()), (200, Some("allow")), "{answer}");

    break_it(&dir.path().join("aecl.db"));

    for id in ["c2", "c3"] {
        let (status, answer) = evaluate(&address, &token, id);
        assert_eq!((status, answer["decision"].as_str()), (503, Some("block")), "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(why), "{answer}");
    }
    let (status, answer) = health(&address);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["status"], "unhealthy", "{answer}");
    assert_eq!(answer["audit_writer"], "failed", "{answer}");
    assert_eq!(answer["store_reachable"], false, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains(why), "{answer}");
    let log = log_with(dir.path(), "the SQLite database is gone");
    assert!(log.contains(why), "{log}");
    assert!(log.contains("call blocked"), "{log}");
}

#[test]
fn a_deleted_database_blocks_every_call_and_fails_health() {
    blocked_after(|db| std::fs::remove_file(db).unwrap(), "was deleted");
}

#[test]
fn a_replaced_database_blocks_every_call_and_fails_health() {
    blocked_after(
        |db| {
            let other = db.with_file_name("other.db");
            std::fs::write(&other, b"").unwrap();
            std::fs::rename(&other, db).unwrap();
        },
        "was replaced",
    );
}

/// Red team round 20, audit F5: a `-wal` emptied in place (same file, so no identity
/// check sees it) blocks every call, and the health check, which reads as well as writes,
/// says so instead of `ok`.
#[test]
fn an_emptied_wal_blocks_every_call_and_fails_health() {
    let (dir, token, _server, address) = served();
    for id in ["c1", "c2", "c3"] {
        let (status, answer) = evaluate(&address, &token, id);
        assert_eq!((status, answer["decision"].as_str()), (200, Some("allow")), "{answer}");
    }
    let wal = dir.path().join("aecl.db-wal");
    std::fs::OpenOptions::new().write(true).open(&wal).unwrap().set_len(0).unwrap();
    let (status, answer) = evaluate(&address, &token, "c4");
    assert_eq!((status, answer["decision"].as_str()), (503, Some("block")), "{answer}");
    // Past the probe's one-second reuse of a success.
    std::thread::sleep(Duration::from_millis(1100));
    let (status, answer) = health(&address);
    assert_eq!(status, 503, "{answer}");
    assert_ne!(answer["status"], "ok", "{answer}");
}

#[test]
fn refused_requests_are_logged_with_status_and_code() {
    let (dir, token, _server, address) = served();
    let (status, _) = request(&address, "POST", "/v1/evaluate", Some(&token), &[], "{oops");
    assert_eq!(status, 400);
    let log = log_with(dir.path(), "request refused");
    let line = log.lines().find(|l| l.contains("request refused")).unwrap();
    for part in ["400", "bad_request", "finance_agent", "invalid request body"] {
        assert!(line.contains(part), "`{part}` not in {line}");
    }
    assert!(!log.contains(&token), "the token is never logged");
}
