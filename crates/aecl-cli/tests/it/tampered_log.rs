//! `aecl serve` refuses to start on a database whose audit log was changed outside aecl
//! (red-team finding F1): a record forged into the SQLite file with its chain hash and the
//! head recomputed (no key needed). Before, the server started, signed a checkpoint over
//! the forgery at its first request, published it, and `aecl audit verify` said ok. Now it
//! exits at start, naming the database, the check that failed and what to do, and signs
//! and publishes nothing.

use std::process::Stdio;
use std::time::{Duration, Instant};

use aecl_audit::{AuditRecord, LogState};
use aecl_core::Decision;

use crate::serve::keys;
use crate::{aecl, finance, repo, run, temp_dir};

/// Appends an edited copy of record 2, allowed, as the next record, and recomputes its
/// chain hash and the head from the records, as someone with the file but not the key can.
fn forge(db: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    let records: Vec<Vec<u8>> = conn
        .prepare("SELECT record FROM audit_log ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut forged = AuditRecord::from_canonical(&records[2]).unwrap();
    forged.decision = Some(Decision::Allow);
    forged.seq = records.len() as u64;
    let mut log = LogState::new();
    for bytes in &records {
        log.append_canonical(bytes.clone());
    }
    let appended = log.append_canonical(forged.to_canonical().unwrap());
    conn.execute(
        "INSERT INTO audit_log (seq, record, chain_hash) VALUES (?1, ?2, ?3)",
        (appended.seq as i64, &appended.canonical, appended.chain_hash.as_slice()),
    )
    .unwrap();
    conn.execute(
        "UPDATE audit_head SET size = ?1, head = ?2, nodes = ?3 WHERE id = 1",
        (log.next_seq() as i64, log.head().as_slice(), log.range().nodes().concat()),
    )
    .unwrap();
    conn.query_row("SELECT COUNT(*) FROM audit_checkpoints", [], |r| r.get(0)).unwrap()
}

#[test]
fn serve_refuses_a_forged_audit_log_at_start_and_signs_nothing() {
    let dir = temp_dir();
    keys(dir.path());
    let path = |name: &str| dir.path().join(name).display().to_string();
    let policy = finance().display().to_string();
    let trace = repo("examples/traces/finance-vendor-email.jsonl").display().to_string();
    let recorded = run([
        "replay",
        "--policy",
        &policy,
        "--record",
        &path("aecl.db"),
        "--key",
        &path("audit/audit.key"),
        &trace,
    ]);
    assert_eq!(recorded.code, Some(0), "{recorded:#?}");
    let checkpoints = forge(&dir.path().join("aecl.db"));

    let mut server = aecl()
        .args(["serve", "--policy", &policy, "--db", &path("aecl.db"), "--listen", "127.0.0.1:0"])
        .args(["--key", &path("audit/audit.key"), "--token-key", &path("tokens/audit.pub")])
        .args(["--checkpoint-dir", &path("published")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning aecl serve");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = server.kill();
            panic!("aecl serve started on a forged log");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    for part in [
        "refusing to resume the audit log of",
        &path("aecl.db"),
        "the newest signed checkpoint covers",
        "aecl audit verify",
    ] {
        assert!(stderr.contains(part), "`{part}` not in: {stderr}");
    }
    let conn = rusqlite::Connection::open(dir.path().join("aecl.db")).unwrap();
    let now: i64 =
        conn.query_row("SELECT COUNT(*) FROM audit_checkpoints", [], |r| r.get(0)).unwrap();
    assert_eq!(now, checkpoints, "nothing signed");
    let published = std::fs::read_dir(dir.path().join("published")).map_or(0, |d| d.count());
    assert_eq!(published, 0, "nothing published");
}
