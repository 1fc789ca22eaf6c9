//! The issue's end-to-end scenarios against a real `aecl serve` with the connectors of
//! `examples/rollback`: (1) an approved `DELETE` on a real SQLite database, undone exactly
//! by `aecl rollback`, a second rollback a no-op, and a rollback over someone else's
//! change an `undo_conflict` that changes nothing; (2) a webhook retried three times with
//! one `Idempotency-Key` reaches its receiver once.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::serve::{issue, keys, serve};
use crate::{copy_dir, repo, run, temp_dir, write};

/// A `POST` with extra headers as `token`: (status, body).
pub(crate) fn http(
    address: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Value) {
    crate::serve::request(address, "POST", path, Some(token), headers, &body.to_string())
}

/// Every row of `users`, every column, in key order.
fn users(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT * FROM users ORDER BY id").unwrap();
    let width = stmt.column_count();
    stmt.query_map([], |row| {
        (0..width)
            .map(|i| row.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}")))
            .collect::<Result<Vec<_>, _>>()
            .map(|cells| cells.join("|"))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The example copied into `dir`, with a `users` database.
fn example(dir: &Path) -> std::path::PathBuf {
    copy_dir(&repo("examples/rollback"), dir);
    let db = dir.join("users.db");
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, last_login TEXT,
                                 credits REAL, avatar BLOB);
             INSERT INTO users VALUES (1, 'ada@example.com', '2022-03-01', 10.5, x'0102'),
                                      (2, 'bob@example.com', '2024-01-10', 0, NULL),
                                      (3, 'cy@example.com', '2021-12-31', -1.25, x''),
                                      (4, 'di@example.com', '2023-01-01', NULL, NULL),
                                      (5, 'ed@example.com', '2020-07-04', 3, x'ff');",
        )
        .unwrap();
    db
}

/// `aecl rollback ARGS` against `address` with the approver token in `token_file`.
fn rollback(address: &str, token_file: &Path, args: &[&str]) -> crate::Outcome {
    let server = format!("http://{address}");
    let token = token_file.display().to_string();
    let mut all = vec!["rollback", "--server", &server, "--token-file", &token];
    all.extend_from_slice(args);
    run(all)
}

/// Executes the approval-gated `DELETE` as the agent: asks, is approved by `approver`
/// through `aecl approvals approve`, retries; the executed answer.
fn approved_delete(address: &str, agent: &str, approver: &Path, run_id: &str) -> Value {
    let call = |id: &str| {
        json!({ "run": run_id, "id": id, "action": "run_sql",
                "args": { "query": "DELETE FROM users WHERE last_login < '2023-01-01'" } })
    };
    let (status, asked) = http(address, "/v1/execute", agent, &[], &call("c1"));
    assert_eq!((status, asked["decision"].as_str()), (200, Some("require_approval")), "{asked}");
    let approval = asked["approval_id"].as_str().unwrap().to_owned();
    let server = format!("http://{address}");
    let token = approver.display().to_string();
    let out = run(["approvals", "approve", &approval, "--server", &server, "--token-file", &token]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let (status, done) = http(address, "/v1/execute", agent, &[], &call("c2"));
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["effect"]["state"], "succeeded", "{done}");
    done
}

#[test]
fn an_approved_delete_is_rolled_back_exactly_once_and_never_over_a_change() {
    let dir = temp_dir();
    keys(dir.path());
    let example_dir = dir.path().join("example");
    let db = example(&example_dir);
    let policy = example_dir.join("policy").display().to_string();
    let connectors = example_dir.join("connectors.toml").display().to_string();
    let agent = issue(dir.path(), &["--agent", "ops_agent", "--policy", &policy]);
    let approver = write(dir.path(), "alice.token", &issue(dir.path(), &["--approver", "alice"]));
    let (_server, address) = serve(dir.path(), &policy, &["--connectors", &connectors]);
    let original = users(&db);

    let done = approved_delete(&address, &agent, &approver, "r1");
    assert_eq!(done["effect"]["result"], json!({ "rows_affected": 3 }), "{done}");
    let effect = done["effect"]["id"].as_str().unwrap().to_owned();
    let kept: Vec<String> = original
        .iter()
        .filter(|r| r.starts_with("Integer(2)") || r.starts_with("Integer(4)"))
        .cloned()
        .collect();
    assert_eq!(users(&db), kept, "exactly the rows with last_login < 2023-01-01 are gone");

    // An agent cannot roll back.
    let (status, refused) =
        http(&address, &format!("/v1/effects/{effect}/rollback"), &agent, &[], &json!({}));
    assert_eq!(status, 403, "{refused}");

    // Nor take the undo's place: its names are refused, its action blocked, the bound
    // action never run by the client (which would keep nothing to undo it with).
    let reserved = format!("rollback:{effect}");
    let undo = |id: &str| json!({ "run": "r1", "id": id, "action": "undo_sql", "args": { "effect": effect } });
    let client = [("Aecl-Executor", "client")];
    for (path, headers, body) in [
        ("/v1/execute", &client[..], undo(&reserved)),
        ("/v1/execute", &[("Idempotency-Key", reserved.as_str())][..], undo("u1")),
        ("/v1/evaluate", &[][..], undo(&reserved)),
        (
            "/v1/runs/r1/events",
            &[][..],
            json!({"type": "result", "id": reserved, "output": {"status": "restored"}}),
        ),
    ] {
        let (status, answer) = http(&address, path, &agent, headers, &body);
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert!(answer.to_string().contains("aecl's own"), "{answer}");
    }
    // In another case, and ids no log line can show faithfully (round 29, tamper L1).
    let shouting = format!("ROLLBACK:{effect}");
    let read =
        |run: &str, id: &str| json!({ "run": run, "id": id, "action": "undo_sql", "args": {} });
    for (body, says) in [
        (undo(&shouting), "aecl's own"),
        (read("", "u4"), "something visible"),
        (read("r1", ""), "something visible"),
        (read("r\u{0}1", "u5"), "control"),
        (read("\u{200b}", "u7"), "something visible"),
        (read("r\u{200b}", "u9"), "invisible"),
        (read("r1\u{202e}", "u8"), "invisible"),
        (read("r1", "u\n6"), "control"),
    ] {
        let (status, answer) = http(&address, "/v1/evaluate", &agent, &[], &body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.to_string().contains(says), "{answer}");
    }
    let (status, blocked) = http(&address, "/v1/execute", &agent, &client, &undo("u2"));
    assert_eq!((status, blocked["decision"].as_str()), (200, Some("block")), "{blocked}");
    assert!(blocked.to_string().contains("rollback.compensation_action"), "{blocked}");
    let sql = json!({ "run": "r1", "id": "u3", "action": "run_sql",
                      "args": { "query": "UPDATE users SET credits = 0" } });
    let (status, refused) = http(&address, "/v1/execute", &agent, &client, &sql);
    assert_eq!(status, 403, "{refused}");
    // Nor through a hook, whose agent would run it itself.
    let hook = json!({ "session_id": "r1", "hook_event_name": "PreToolUse", "tool_name": "run_sql",
                       "tool_input": { "query": "UPDATE users SET credits = 0" }, "tool_use_id": "u4" });
    let (status, answer) = http(&address, "/v1/hooks/claude-code", &agent, &[], &hook);
    let output = &answer["hookSpecificOutput"];
    assert_eq!((status, output["permissionDecision"].as_str()), (200, Some("deny")), "{answer}");
    assert!(output.to_string().contains("bound to connector `users_db`"), "{answer}");

    let out = rollback(&address, &approver, &[&effect]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with(&format!("restored {effect} action=run_sql")), "{out:#?}");
    assert_eq!(users(&db), original, "every deleted row is back, every column as it was");
    // The undo's record names who asked for it.
    let db_path = dir.path().join("aecl.db").display().to_string();
    let out = run(["audit", "tail", "--db", &db_path, "--action", "undo_sql", "--json"]);
    let asked: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by: Vec<&Value> = asked.iter().map(|r| &r["input"]["requested_by"]).collect();
    assert!(by.contains(&&json!({"subject": "alice", "role": "approver"})), "{:#?}", out);

    // A second rollback does nothing.
    let out = rollback(&address, &approver, &[&effect]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with(&format!("already_rolled_back {effect}")), "{out:#?}");
    assert_eq!(users(&db), original);

    // The agent repeating the executed call is answered with its effect, which nothing runs
    // again, marked undone: the agent must not take the rows for deleted (before, the
    // answer said `succeeded` and nothing else).
    assert!(done["effect"].get("rolled_back_by").is_none(), "{done}");
    let again = json!({ "run": "r1", "id": "c2", "action": "run_sql",
                        "args": { "query": "DELETE FROM users WHERE last_login < '2023-01-01'" } });
    let (status, replayed) = http(&address, "/v1/execute", &agent, &[], &again);
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(
        (replayed["replayed"].as_bool(), replayed["decision"].as_str()),
        (Some(true), Some("allow")),
        "{replayed}"
    );
    assert_eq!(replayed["effect"]["id"], effect.as_str(), "{replayed}");
    let undone = replayed["effect"]["rolled_back_by"].as_str().unwrap_or_default();
    assert!(!undone.is_empty() && undone != effect, "{replayed}");
    assert_eq!(users(&db), original, "nothing ran again");

    // Again, but someone re-creates one of the deleted rows before the rollback.
    let done = approved_delete(&address, &agent, &approver, "r2");
    let effect = done["effect"]["id"].as_str().unwrap().to_owned();
    Connection::open(&db)
        .unwrap()
        .execute("INSERT INTO users (id, email) VALUES (3, 'new-cy@example.com')", [])
        .unwrap();
    let changed = users(&db);
    let out = rollback(&address, &approver, &[&effect]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stdout.starts_with(&format!("undo_conflict {effect}")), "{out:#?}");
    assert_eq!(users(&db), changed, "nothing was restored, not even the rows without a conflict");

    // The run-level rollback reports the same conflict and stops there.
    let out = rollback(&address, &approver, &["--run", "r2"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stdout.starts_with("undo_conflict"), "{out:#?}");
    assert_eq!(users(&db), changed);

    // Once the other change is undone by hand, a new rollback attempt restores the rows.
    Connection::open(&db).unwrap().execute("DELETE FROM users WHERE id = 3", []).unwrap();
    let out = rollback(&address, &approver, &[&effect]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with(&format!("restored {effect}")), "{out:#?}");
    assert_eq!(users(&db), original);

    // The log of all this verifies.
    let path = |name: &str| dir.path().join(name).display().to_string();
    let out = run(["audit", "verify", "--db", &path("aecl.db"), "--key", &path("audit/audit.pub")]);
    assert_eq!(out.code, Some(0), "{out:#?}");
}

/// A receiver on 127.0.0.1 that answers 200 and counts the requests it gets.
fn receiver() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            // The head, then the body its content-length announces.
            loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                request.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (address, count)
}

#[test]
fn a_webhook_retried_three_times_with_one_idempotency_key_is_delivered_once() {
    let dir = temp_dir();
    keys(dir.path());
    let example_dir = dir.path().join("example");
    example(&example_dir);
    let (hook, received) = receiver();
    // The example's webhook may reach a receiver on 127.0.0.1:8080: the test's listens on
    // another port, which the allowlist must name (an entry without a port allows 80).
    let connectors_file = example_dir.join("connectors.toml");
    let text = std::fs::read_to_string(&connectors_file).unwrap();
    assert!(text.contains("\"127.0.0.1:8080\""), "{text}");
    std::fs::write(&connectors_file, text.replace("127.0.0.1:8080", &hook)).unwrap();
    let policy = example_dir.join("policy").display().to_string();
    let connectors = connectors_file.display().to_string();
    let agent = issue(dir.path(), &["--agent", "ops_agent", "--policy", &policy]);
    let (_server, address) = serve(dir.path(), &policy, &["--connectors", &connectors]);

    let mut effects = Vec::new();
    for attempt in 1..=3 {
        let call = json!({ "run": "r1", "id": format!("notify-{attempt}"), "action": "notify",
                           "args": { "url": format!("http://{hook}/deploys"), "body": { "text": "deployed" } } });
        let (status, answer) = http(
            &address,
            "/v1/execute",
            &agent,
            &[("Idempotency-Key", "deploy-2026-11-23")],
            &call,
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["effect"]["state"], "succeeded", "{answer}");
        assert_eq!(answer["replayed"], attempt > 1, "{answer}");
        effects.push(answer["effect"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(received.load(Ordering::SeqCst), 1, "the receiver got exactly one request");
    assert!(effects.iter().all(|e| *e == effects[0]), "{effects:?}");
}

#[test]
fn serve_refuses_connectors_that_do_not_fit_the_policy() {
    let dir = temp_dir();
    keys(dir.path());
    let path = |name: &str| dir.path().join(name).display().to_string();
    let serve_with = |policy: &str, connectors: &str| {
        run([
            "serve",
            "--policy",
            policy,
            "--db",
            &path("aecl.db"),
            "--listen",
            "127.0.0.1:0",
            "--key",
            &path("audit/audit.key"),
            "--token-key",
            &path("tokens/audit.pub"),
            "--connectors",
            connectors,
        ])
    };
    // The finance catalog names connector `http`, which the rollback example lacks.
    let finance = crate::finance().display().to_string();
    let example = repo("examples/rollback/connectors.toml").display().to_string();
    let out = serve_with(&finance, &example);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("names connector `http`, which"), "{}", out.stderr);
    // An unknown key is named with its file.
    let bad = write(
        dir.path(),
        "bad.toml",
        "[connectors.users_db]\nkind = \"sql\"\ndatabase = \"x.db\"\nmax_row = 3\n",
    );
    let policy = repo("examples/rollback/policy").display().to_string();
    let out = serve_with(&policy, &bad.display().to_string());
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("bad.toml") && out.stderr.contains("max_row"), "{}", out.stderr);
}

#[test]
fn a_reloaded_policy_naming_an_undefined_connector_is_refused() {
    let dir = temp_dir();
    keys(dir.path());
    let example_dir = dir.path().join("example");
    example(&example_dir);
    let policy_dir = example_dir.join("policy");
    let policy = policy_dir.display().to_string();
    let connectors = example_dir.join("connectors.toml").display().to_string();
    let (_server, address) =
        serve(dir.path(), &policy, &["--connectors", &connectors, "--watch-interval", "1"]);
    let revision = crate::serve::revision_after(&address, "");

    let catalog = std::fs::read_to_string(policy_dir.join("catalog.toml")).unwrap();
    let with = |connector: &str| {
        format!("{catalog}\n[actions.list_files]\neffect = \"read\"\nconnector = \"{connector}\"\n")
    };
    std::fs::write(policy_dir.join("catalog.toml"), with("nowhere")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let log = loop {
        let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
        if log.contains("policy reload refused") || std::time::Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(log.contains("names connector `nowhere`"), "{log}");
    assert_eq!(crate::serve::revision_after(&address, "x"), revision, "the old policy stays");

    // Bound to a configured connector, the same change is taken.
    std::fs::write(policy_dir.join("catalog.toml"), with("users_db")).unwrap();
    assert_ne!(crate::serve::revision_after(&address, &revision), revision);
}
