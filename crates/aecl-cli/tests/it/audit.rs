//! `aecl keys generate`, `aecl replay --record` and `aecl audit verify | export | tail |
//! checkpoint | prove | verify-proof` on a real SQLite store, including logs tampered with
//! in the database file itself.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Outcome, finance, repo, run, temp_dir};

/// A store recorded from the finance demo trace, with its key pair.
struct Recorded {
    dir: tempfile::TempDir,
}

impl Recorded {
    fn new() -> Recorded {
        let dir = temp_dir();
        let keys = run(["keys", "generate", "--name", "audit.test/finance", "--out"]
            .map(String::from)
            .into_iter()
            .chain([dir.path().display().to_string()]));
        assert_eq!(keys.code, Some(0), "{}", keys.stderr);
        let recorded = Recorded { dir };
        let out = recorded.record(&repo("examples/traces/finance-vendor-email.jsonl"));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        recorded
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db(&self) -> String {
        self.path("aecl.db").display().to_string()
    }

    fn record(&self, trace: &Path) -> Outcome {
        run([
            "replay".into(),
            "--policy".into(),
            finance().display().to_string(),
            "--record".into(),
            self.db(),
            "--key".into(),
            self.path("audit.key").display().to_string(),
            trace.display().to_string(),
        ])
    }

    fn audit(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["audit".to_owned(), args[0].to_owned(), "--db".to_owned(), self.db()];
        all.extend(args[1..].iter().map(|s| (*s).to_owned()));
        run(all)
    }

    fn verify(&self, extra: &[&str]) -> Outcome {
        let key = self.path("audit.pub").display().to_string();
        let mut args = vec!["verify", "--key", &key];
        args.extend(extra);
        self.audit(&args)
    }

    fn sql(&self, statements: &str) {
        let db = rusqlite::Connection::open(self.path("aecl.db")).unwrap();
        db.execute_batch(statements).unwrap();
    }

    fn size(&self) -> i64 {
        let db = rusqlite::Connection::open(self.path("aecl.db")).unwrap();
        db.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0)).unwrap()
    }
}

#[test]
fn keys_generate_writes_a_private_key_and_never_replaces_one() {
    let dir = temp_dir();
    let out_dir = dir.path().display().to_string();
    let first = run(["keys", "generate", "--out", &out_dir]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let public = std::fs::read_to_string(dir.path().join("audit.pub")).unwrap();
    assert!(first.stdout.contains(public.trim()));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("audit.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = run(["keys", "generate", "--out", &out_dir]);
    assert_eq!(again.code, Some(2));
    assert!(again.stderr.contains("refusing to replace a key"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("audit.pub")).unwrap(), public);
}

#[test]
fn keys_generate_hints_fit_the_keys_use() {
    let dir = temp_dir();
    let out_dir = dir.path().display().to_string();
    let audit = run(["keys", "generate", "--out", &out_dir]);
    assert_eq!(audit.code, Some(0), "{}", audit.stderr);
    assert!(audit.stdout.contains("`aecl serve --key` signs checkpoints"), "{}", audit.stdout);
    assert!(audit.stdout.contains("`aecl audit verify --key`"), "{}", audit.stdout);
    assert!(!audit.stdout.contains("token"), "{}", audit.stdout);

    let tokens = run(["keys", "generate", "--for", "tokens", "--out", &out_dir]);
    assert_eq!(tokens.code, Some(0), "{}", tokens.stderr);
    let public = std::fs::read_to_string(dir.path().join("tokens.pub")).unwrap();
    assert!(public.starts_with("aecl.local/tokens+"), "{public}");
    assert!(tokens.stdout.contains("`aecl token issue --key` signs tokens"), "{}", tokens.stdout);
    assert!(tokens.stdout.contains("`aecl serve --token-key`"), "{}", tokens.stdout);
    assert!(!tokens.stdout.contains("audit"), "{}", tokens.stdout);

    let both = run(["keys", "generate", "--for", "tokens", "--agent", "a", "--out", &out_dir]);
    assert_eq!(both.code, Some(2), "an agent's key has a use of its own: {}", both.stdout);
}

#[test]
fn a_recorded_log_verifies_and_exports_a_trace_that_replays_the_same() {
    let log = Recorded::new();
    let ok = log.verify(&[]);
    assert_eq!(ok.code, Some(0), "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.starts_with(&format!("ok: {} records", log.size())), "{}", ok.stdout);

    // Export, replay the export in memory, and compare with replaying the original trace.
    let export = log.audit(&["export", "--format", "jsonl"]);
    assert_eq!(export.code, Some(0), "{}", export.stderr);
    let exported = log.path("export.jsonl");
    std::fs::write(&exported, &export.stdout).unwrap();
    let decisions = |trace: &Path| -> Vec<(String, String)> {
        let out = run([
            "replay",
            "--policy",
            &finance().display().to_string(),
            &trace.display().to_string(),
        ]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out.lines()
            .iter()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["id"].as_str().unwrap().to_owned(), v["decision"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let original = decisions(&repo("examples/traces/finance-vendor-email.jsonl"));
    assert!(!original.is_empty());
    assert_eq!(decisions(&exported), original);

    let tail = log.audit(&["tail"]);
    assert_eq!(tail.lines().len() as i64, log.size());
    let since = log.audit(&["tail", "--since", "2"]);
    assert_eq!(since.lines().len() as i64, log.size() - 2);
    // Filters: every one given must match; piped, each line is the stored record.
    let transfers = log.audit(&["tail", "--action", "transfer_funds", "--json"]);
    let records: Vec<Value> =
        transfers.lines().iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!records.is_empty(), "{}", transfers.stderr);
    assert!(records.iter().all(|r| r["action"] == "transfer_funds"), "{records:?}");
    let asked =
        log.audit(&["tail", "--action", "transfer_funds", "--decision", "require_approval"]);
    assert!(asked.lines().iter().all(|l| l.contains("\"require_approval\"")), "{asked:?}");
    assert_eq!(asked.lines().len(), 1, "one decision record: {asked:?}");
    let reads = log.audit(&["tail", "--agent", "finance_agent", "--decision", "allow"]);
    assert_eq!(reads.lines().len(), 2, "the two reads: {reads:?}");
    assert!(log.audit(&["tail", "--run", "no-such-run"]).lines().is_empty());
    let bad = log.audit(&["tail", "--decision", "maybe"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
}

#[test]
fn an_inclusion_proof_checks_offline_against_an_exported_checkpoint() {
    let log = Recorded::new();
    let checkpoint = log.audit(&["checkpoint"]);
    assert_eq!(checkpoint.code, Some(0), "{}", checkpoint.stderr);
    let checkpoint_file = log.path("checkpoint.note");
    std::fs::write(&checkpoint_file, &checkpoint.stdout).unwrap();

    let proof = log.audit(&["prove", "3", "--checkpoint", &checkpoint_file.display().to_string()]);
    assert_eq!(proof.code, Some(0), "{}", proof.stderr);
    let proof_file = log.path("proof.json");
    std::fs::write(&proof_file, &proof.stdout).unwrap();
    let check = |proof: &Path| {
        run([
            "audit".into(),
            "verify-proof".into(),
            proof.display().to_string(),
            "--checkpoint".into(),
            checkpoint_file.display().to_string(),
            "--key".into(),
            log.path("audit.pub").display().to_string(),
        ])
    };
    let ok = check(&proof_file);
    assert_eq!(ok.code, Some(0), "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.starts_with("ok: record 3 is in the log"), "{}", ok.stdout);

    // The same proof for a record that says something else fails.
    let mut forged: Value = serde_json::from_str(&proof.stdout).unwrap();
    let record = forged["record"].as_str().unwrap().replace("\"run\":\"", "\"run\":\"x");
    forged["record"] = Value::String(record);
    let forged_file = log.path("forged.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let bad = check(&forged_file);
    assert_eq!(bad.code, Some(1), "{}{}", bad.stdout, bad.stderr);
    assert!(bad.stdout.starts_with("FAILED"), "{}", bad.stdout);
}

/// Red-team round 10, finding 5: `export`, `tail` and `prove` printed an edited record
/// with exit 0. They now check the chain of what they read (and, with `--key`, the whole
/// log against the signed checkpoints first), stop at the record that does not fit and
/// exit 1, naming it; on a log that verifies they print as before.
#[test]
fn export_tail_and_prove_stop_at_an_edited_record() {
    let key = |log: &Recorded| log.path("audit.pub").display().to_string();
    // A clean log: the same output with or without the key, and a note without it.
    let log = Recorded::new();
    let plain = log.audit(&["export"]);
    assert_eq!(plain.code, Some(0), "{}", plain.stderr);
    assert!(plain.stderr.contains("hash chain only"), "{}", plain.stderr);
    let keyed = log.audit(&["export", "--key", &key(&log)]);
    assert_eq!((keyed.code, &keyed.stdout), (Some(0), &plain.stdout), "{}", keyed.stderr);
    assert!(!keyed.stderr.contains("hash chain only"), "{}", keyed.stderr);
    let tail = log.audit(&["tail", "--json", "--key", &key(&log)]);
    assert_eq!(tail.lines().len() as i64, log.size(), "{}", tail.stderr);
    let proof = log.audit(&["prove", "3", "--key", &key(&log)]);
    assert_eq!(proof.code, Some(0), "{}", proof.stderr);

    // Record 2 edited in place (block → allow, say), its hashes left as they were.
    log.sql(
        r#"UPDATE audit_log SET record = CAST(replace(CAST(record AS TEXT), '"run":"', '"run":"x') AS BLOB) WHERE seq = 2"#,
    );
    let export = log.audit(&["export"]);
    assert_eq!(export.code, Some(1), "{export:#?}");
    assert!(export.stderr.contains("FAILED at record 2: record 2 does not match its chain hash"));
    // What came before the edit, and nothing from it on.
    assert!(plain.stdout.starts_with(&export.stdout), "{}", export.stdout);
    assert!(export.stdout.len() < plain.stdout.len(), "{}", export.stdout);
    let tail = log.audit(&["tail", "--json"]);
    assert_eq!(tail.code, Some(1), "{tail:#?}");
    assert_eq!(tail.lines().len(), 2, "records 0 and 1 only: {tail:#?}");
    assert!(tail.stderr.contains("FAILED at record 2"), "{}", tail.stderr);
    let proof = log.audit(&["prove", "3"]);
    assert_eq!(proof.code, Some(1), "{proof:#?}");
    assert!(proof.stdout.is_empty(), "no proof printed: {}", proof.stdout);
    assert!(proof.stderr.contains("FAILED at record 2"), "{}", proof.stderr);
    // After the edit, the chain goes on from its stored hashes: a tail of what follows
    // is what was written, but with the key the whole log must verify first.
    let later = log.audit(&["tail", "--json", "--since", "3"]);
    assert_eq!(later.code, Some(0), "{later:#?}");
    for command in [&["export", "--key"][..], &["tail", "--since", "3", "--key"]] {
        let mut args = command.to_vec();
        let key = key(&log);
        args.push(&key);
        let out = log.audit(&args);
        assert_eq!(out.code, Some(1), "{command:?}: {out:#?}");
        assert!(out.stdout.is_empty(), "{command:?}: {}", out.stdout);
        assert!(out.stderr.contains("FAILED at record 2"), "{command:?}: {}", out.stderr);
    }
}

/// `audit checkpoint --key` prints the newest checkpoint only when the log verifies with
/// it: a note stored without the key's signature is not handed out to be kept as the
/// log's (red team round 17).
#[test]
fn the_checkpoint_printed_with_the_key_is_one_the_log_verifies_with() {
    let log = Recorded::new();
    let key = log.path("audit.pub").display().to_string();
    let good = log.audit(&["checkpoint", "--key", &key]);
    assert_eq!(good.code, Some(0), "{good:#?}");
    assert!(good.stdout.lines().nth(1).is_some_and(|size| size == log.size().to_string()));
    let unchecked = log.audit(&["checkpoint"]);
    assert_eq!(unchecked.stdout, good.stdout);
    assert!(unchecked.stderr.contains("not checked"), "{}", unchecked.stderr);

    // A note of one more record than the log, not signed by the key.
    let size = log.size() + 1;
    let forged = format!("aecl.test/audit\n{size}\nAAAA\n\n\u{2014} aecl.test/audit AAAA\n");
    log.sql(&format!("INSERT INTO audit_checkpoints (size, note) VALUES ({size}, '{forged}')"));
    let refused = log.audit(&["checkpoint", "--key", &key]);
    assert_eq!(refused.code, Some(1), "{refused:#?}");
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    assert!(refused.stderr.contains("FAILED"), "{}", refused.stderr);
}

/// Each tampering of the database file is caught and the first bad record named.
#[test]
fn tampering_with_the_database_is_caught_and_the_first_bad_record_named() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "an edited record",
            r#"UPDATE audit_log SET record = CAST(replace(CAST(record AS TEXT), '"run":"', '"run":"x') AS BLOB) WHERE seq = 4"#,
            "FAILED at record 4",
        ),
        ("a deleted record", "DELETE FROM audit_log WHERE seq = 5", "FAILED at record 5"),
        (
            "two records swapped",
            "UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1",
            "FAILED at record 2",
        ),
        (
            "an inserted record",
            "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3; UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1003; INSERT INTO audit_log (seq, record, chain_hash) SELECT 3, record, chain_hash FROM audit_log WHERE seq = 1",
            "FAILED at record 3",
        ),
        (
            // A row below 0 was invisible to a reader starting at 0 (a red-team finding).
            "a row planted below sequence 0",
            "INSERT INTO audit_log (seq, record, chain_hash) SELECT -7, record, chain_hash FROM audit_log WHERE seq = 1",
            "FAILED",
        ),
        (
            // Past the head the writer keeps: no batch of a writer wrote it.
            "a record appended past the head",
            "INSERT INTO audit_log (seq, record, chain_hash) SELECT (SELECT MAX(seq) + 1 FROM audit_log), record, chain_hash FROM audit_log WHERE seq = 1",
            "FAILED at record 7: records past the store's head are not covered",
        ),
        (
            "an edited checkpoint",
            "UPDATE audit_checkpoints SET note = replace(note, 'audit.test/finance', 'audit.test/finanse') WHERE size = (SELECT MAX(size) FROM audit_checkpoints)",
            "FAILED: checkpoint",
        ),
        (
            // The newest still covers every record; the one after the deleted names it.
            "a checkpoint in the middle deleted",
            "DELETE FROM audit_checkpoints WHERE size = (SELECT size FROM audit_checkpoints ORDER BY size LIMIT 1 OFFSET 1)",
            "FAILED: checkpoint #1",
        ),
        (
            "the first checkpoint deleted",
            "DELETE FROM audit_checkpoints WHERE size = (SELECT MIN(size) FROM audit_checkpoints)",
            "FAILED: checkpoint #0",
        ),
        (
            "a checkpoint stored under another size",
            "UPDATE audit_checkpoints SET size = size + 1000000 WHERE size = (SELECT MIN(size) FROM audit_checkpoints)",
            "FAILED: the store's checkpoints cannot be read",
        ),
    ];
    for (what, sql, expected) in cases {
        let log = Recorded::new();
        log.sql(sql);
        let out = log.verify(&[]);
        assert_eq!(out.code, Some(1), "{what}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.starts_with(expected),
            "{what}: expected `{expected}`, got {}",
            out.stdout
        );
    }
}

/// Checking against a directory of published checkpoints that holds none fails: emptied
/// together with a cut-back database, it would otherwise pass (a red-team finding).
#[test]
fn an_empty_published_checkpoint_directory_fails_verification() {
    let log = Recorded::new();
    let empty = log.path("published");
    std::fs::create_dir(&empty).expect("a directory");
    let out = log.verify(&["--checkpoints", &empty.display().to_string()]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("no published checkpoint"), "{}", out.stdout);
}

#[test]
fn a_truncated_tail_is_caught_with_an_exported_checkpoint() {
    let log = Recorded::new();
    let checkpoint = log.audit(&["checkpoint"]);
    let kept = log.path("kept.note");
    std::fs::write(&kept, &checkpoint.stdout).unwrap();
    let size = log.size();
    // Remove the last two records and every checkpoint that covered them: the store alone
    // now looks like a shorter, valid log.
    log.sql(&format!(
        "DELETE FROM audit_log WHERE seq >= {cut}; DELETE FROM audit_checkpoints WHERE size > {cut}",
        cut = size - 2
    ));
    // The store's head still counts the removed records.
    let out = log.verify(&[]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with(&format!("FAILED at record {}", size - 2)), "{}", out.stdout);
    let out = log.verify(&["--checkpoint", &kept.display().to_string()]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with(&format!("FAILED at record {}", size - 2)), "{}", out.stdout);
}

#[test]
fn a_checkpoint_re_signed_with_another_key_is_caught() {
    let log = Recorded::new();
    // A second log signed with another key under the same name, whose newest checkpoint
    // replaces the real one.
    let other = temp_dir();
    let other_dir = other.path().display().to_string();
    assert_eq!(
        run(["keys", "generate", "--name", "audit.test/finance", "--out", &other_dir]).code,
        Some(0)
    );
    let mut args = vec!["replay", "--policy"];
    let policy = finance().display().to_string();
    let db = other.path().join("aecl.db").display().to_string();
    let key = other.path().join("audit.key").display().to_string();
    let trace = repo("examples/traces/finance-vendor-email.jsonl").display().to_string();
    args.extend([policy.as_str(), "--record", &db, "--key", &key, &trace]);
    assert_eq!(run(args).code, Some(0));
    let forged: String = rusqlite::Connection::open(other.path().join("aecl.db"))
        .unwrap()
        .query_row("SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let db = rusqlite::Connection::open(log.path("aecl.db")).unwrap();
    db.execute("UPDATE audit_checkpoints SET note = ?1 WHERE size = (SELECT MAX(size) FROM audit_checkpoints)", [&forged]).unwrap();
    let out = log.verify(&[]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("FAILED: checkpoint"), "{}", out.stdout);
}

#[test]
fn fields_named_in_policy_toml_never_reach_the_audit_log() {
    let dir = temp_dir();
    let policy = dir.path().join("policy");
    crate::copy_dir(&finance(), &policy);
    let settings = policy.join("policy.toml");
    let mut text = std::fs::read_to_string(&settings).unwrap();
    text.push_str("\n[audit]\nredact = [\"invoice_id\"]\n");
    std::fs::write(&settings, text).unwrap();
    let out_dir = dir.path().display().to_string();
    assert_eq!(run(["keys", "generate", "--out", &out_dir]).code, Some(0));
    let db = dir.path().join("aecl.db").display().to_string();
    let recorded = run([
        "replay".to_owned(),
        "--policy".to_owned(),
        policy.display().to_string(),
        "--record".to_owned(),
        db.clone(),
        "--key".to_owned(),
        dir.path().join("audit.key").display().to_string(),
        repo("examples/traces/finance-vendor-email.jsonl").display().to_string(),
    ]);
    assert_eq!(recorded.code, Some(0), "{}", recorded.stderr);
    let tail = run(["audit", "tail", "--db", &db]);
    assert!(tail.stdout.contains(r#""invoice_id":"[REDACTED]""#), "{}", tail.stdout);
    assert!(!tail.stdout.contains("INV-7781"), "{}", tail.stdout);
}

#[test]
fn bad_input_is_named() {
    let dir = temp_dir();
    let missing = dir.path().join("none.db").display().to_string();
    let out = run(["audit", "verify", "--db", &missing, "--key", "not-a-key"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("not-a-key") || out.stderr.contains("none.db"), "{}", out.stderr);
}

// ---- Checkpoints published outside the store (`--checkpoint-dir`, `aecl witness`) ----

mod published {
    use std::path::Path;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use crate::serve::{Running, issue, keys, request, serve};
    use crate::{aecl, finance, run, temp_dir};

    fn records(db: &Path) -> u64 {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get::<_, i64>(0)).unwrap() as u64
    }

    /// A directory with the keys, its store's path, the finance policy and an agent's
    /// token.
    fn prepared() -> (tempfile::TempDir, std::path::PathBuf, String, String) {
        let dir = temp_dir();
        keys(dir.path());
        let db = dir.path().join("aecl.db");
        let policy = finance().display().to_string();
        let token = issue(dir.path(), &["--agent", "finance_agent", "--policy", &policy]);
        (dir, db, policy, token)
    }

    /// Makes `calls` decided calls through the server (each recorded and checkpointed).
    fn calls(address: &str, token: &str, run_id: &str, calls: usize) {
        for i in 0..calls {
            let call = format!(
                r#"{{"run":"{run_id}","id":"c{i}","action":"read_invoice","args":{{"invoice_id":"INV-{i}"}}}}"#
            );
            let (status, answer) =
                request(address, "POST", "/v1/evaluate", Some(token), &[], &call);
            assert_eq!(status, 200, "{answer}");
        }
    }

    /// Waits until `published` (the largest published size) reaches the store's size.
    fn until_published(db: &Path, published: impl Fn() -> u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let want = records(db);
        while published() < want {
            assert!(Instant::now() < deadline, "checkpoint of size {want} never published");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn largest_in(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| {
                        e.ok()?.file_name().to_str()?.strip_suffix(".add-checkpoint")?.parse().ok()
                    })
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    fn stop(mut server: Running) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(server.0.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        assert!(server.0.wait().unwrap().success());
    }

    /// A consistent copy of the store as it is now.
    fn snapshot(db: &Path, to: &Path) {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute("VACUUM INTO ?1", [to.display().to_string()]).unwrap();
    }

    /// Puts the older copy back in place of the store.
    fn roll_back(db: &Path, copy: &Path) {
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        std::fs::copy(copy, db).unwrap();
    }

    fn verify(dir: &Path, checkpoints: Option<&str>) -> crate::Outcome {
        let path = |name: &str| dir.join(name).display().to_string();
        let mut args = vec!["audit".to_owned(), "verify".into(), "--db".into(), path("aecl.db")];
        args.extend(["--key".into(), path("audit/audit.pub")]);
        if let Some(checkpoints) = checkpoints {
            args.extend(["--checkpoints".into(), checkpoints.to_owned()]);
        }
        run(args)
    }

    /// Serves, publishes, is rolled back, and the rollback is named; `target` is the
    /// `--checkpoint-dir` value and `published` the largest size published there.
    fn serve_then_roll_back(dir: &Path, target: &str, published: &dyn Fn() -> u64) {
        let db = dir.join("aecl.db");
        let policy = finance().display().to_string();
        let token = issue(dir, &["--agent", "finance_agent", "--policy", &policy]);

        let (server, address) = serve(dir, &policy, &["--checkpoint-dir", target]);
        calls(&address, &token, "r1", 3);
        until_published(&db, published);
        stop(server);
        let ok = verify(dir, Some(target));
        assert_eq!(ok.code, Some(0), "{ok:#?}");
        assert!(ok.stdout.contains("published checkpoints consistent"), "{}", ok.stdout);
        let old_size = records(&db);
        snapshot(&db, &dir.join("older.db"));

        // Restarted, it carries on from the published checkpoints.
        let (server, address) = serve(dir, &policy, &["--checkpoint-dir", target]);
        calls(&address, &token, "r2", 2);
        until_published(&db, published);
        stop(server);
        assert_eq!(verify(dir, Some(target)).code, Some(0));
        assert!(records(&db) > old_size);

        // The database put back to its older copy: self-consistent, so only the published
        // checkpoints can tell, and they do.
        roll_back(&db, &dir.join("older.db"));
        assert_eq!(verify(dir, None).code, Some(0), "undetectable from the store alone");
        let out = verify(dir, Some(target));
        assert_eq!(out.code, Some(1), "{out:#?}");
        assert!(
            out.stdout.starts_with(&format!("FAILED at record {old_size}: published checkpoint #")),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("rolled back to an older copy"), "{}", out.stdout);

        // Red-team round 10, finding 1: restarted on the older copy, the server resumed it
        // and signed a second history, which a directory then took. It now refuses to
        // start, naming both sizes, and signs nothing.
        let newest = published();
        let stderr = refused_start(dir, &policy, target);
        for part in [
            "refusing to start".to_owned(),
            format!("(size {old_size}, root"),
            "is behind".to_owned(),
            format!("(size {newest}, root"),
            target.to_owned(),
        ] {
            assert!(stderr.contains(&part), "`{part}` not in: {stderr}");
        }
        assert_eq!(records(&db), old_size, "nothing appended");
        assert_eq!(published(), newest, "nothing published");
    }

    /// Starts `aecl serve` on `dir`'s store, which must refuse to start; its standard error.
    fn refused_start(dir: &Path, policy: &str, target: &str) -> String {
        let path = |name: &str| dir.join(name).display().to_string();
        let mut server = aecl()
            .args(["serve", "--policy", policy, "--db", &path("aecl.db")])
            .args(["--listen", "127.0.0.1:0", "--key", &path("audit/audit.key")])
            .args(["--token-key", &path("tokens/audit.pub"), "--checkpoint-dir", target])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = server.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = server.kill();
                panic!("aecl serve started on a rolled-back store");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{stderr}");
        stderr
    }

    #[test]
    fn serve_publishes_to_a_checkpoint_dir_and_a_rollback_is_named() {
        let dir = temp_dir();
        keys(dir.path());
        let published = dir.path().join("published");
        let target = published.display().to_string();
        serve_then_roll_back(dir.path(), &target, &|| largest_in(&published));
        let out = verify(dir.path(), Some(&target));
        assert!(out.stdout.contains(".add-checkpoint`"), "names the file: {}", out.stdout);

        // Red-team round 14: with the store rolled back, one added file holding a copy of an
        // old checkpoint (which the older store extends), named to sort after the real ones,
        // was taken for the newest: the server resumed and signed a fork. Such a name, or a
        // file whose checkpoint is not the size its name says, now refuses the start.
        let oldest =
            std::fs::read_dir(&published).unwrap().map(|e| e.unwrap().path()).min().unwrap();
        let policy = finance().display().to_string();
        let db = dir.path().join("aecl.db");
        let before = records(&db);
        for (name, says) in [
            ("~zz.add-checkpoint", "is not a checkpoint file of this directory"),
            ("99999999999999999999.add-checkpoint", "is not a checkpoint file of this directory"),
            ("09999999999999999999.add-checkpoint", "not 9999999999999999999"),
        ] {
            let planted = published.join(name);
            std::fs::copy(&oldest, &planted).unwrap();
            let stderr = refused_start(dir.path(), &policy, &target);
            assert!(stderr.contains(name) && stderr.contains(says), "{name}: {stderr}");
            assert_eq!(records(&db), before, "{name}: nothing appended");
            // `aecl audit verify --checkpoints` refuses the directory alike (round 20, I2).
            let checked = verify(dir.path(), Some(&target));
            let said = format!("{}{}", checked.stdout, checked.stderr);
            assert!(checked.code != Some(0) && said.contains(says), "{name}: {checked:#?}");
            std::fs::remove_file(&planted).unwrap();
        }

        // Two neighbouring files: the newer carries the proof from the older.
        let mut files: Vec<_> =
            std::fs::read_dir(&published).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert!(files.len() >= 5, "{files:?}");
        let key = dir.path().join("audit/audit.pub").display().to_string();
        let consistency = |old: &Path, new: &Path, extra: &[&str]| {
            let mut args = vec!["audit".to_owned(), "consistency".into()];
            args.extend([old.display().to_string(), new.display().to_string()]);
            args.extend(["--key".into(), key.clone()]);
            args.extend(extra.iter().map(|s| (*s).to_owned()));
            run(args)
        };
        let n = files.len();
        let ok = consistency(&files[n - 2], &files[n - 1], &[]);
        assert_eq!(ok.code, Some(0), "{ok:#?}");
        assert!(ok.stdout.starts_with("old "), "{}", ok.stdout);
        assert!(ok.stdout.contains("ok: the log of"), "{}", ok.stdout);
        // Far apart, the proof is read from a store that holds both.
        let far = consistency(&files[0], &files[n - 1], &[]);
        assert_eq!(far.code, Some(2), "no proof without --db: {far:#?}");
        // A damaged proof line does not connect them.
        let text = std::fs::read_to_string(&files[n - 1]).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        assert!(lines.len() > 2 && !lines[1].is_empty(), "{text}");
        let first = if lines[1].starts_with('A') { "B" } else { "A" };
        lines[1].replace_range(0..1, first);
        let damaged = dir.path().join("damaged.add-checkpoint");
        std::fs::write(&damaged, lines.join("\n") + "\n").unwrap();
        let bad = consistency(&files[n - 2], &damaged, &[]);
        assert_eq!(bad.code, Some(1), "{bad:#?}");
        assert!(bad.stdout.contains("FAILED: the checkpoint of size"), "{}", bad.stdout);
    }

    /// `aecl witness` on a free port; its address.
    fn witness(dir: &Path) -> (Running, String) {
        witness_on(dir, "127.0.0.1:0")
    }

    fn witness_on(dir: &Path, listen: &str) -> (Running, String) {
        use std::io::BufRead as _;
        let child = aecl()
            .args(["witness", "--listen", listen, "--key"])
            .arg(dir.join("audit/audit.pub"))
            .arg("--dir")
            .arg(dir.join("witnessed"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut running = Running(child);
        let mut first = String::new();
        std::io::BufReader::new(running.0.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let address = first.trim().strip_prefix("aecl witness: listening on http://").unwrap();
        (running, address.to_owned())
    }

    fn witnessed_size(address: &str) -> u64 {
        use std::io::{Read as _, Write as _};
        let Ok(mut stream) = std::net::TcpStream::connect(address) else { return 0 };
        let _ = write!(
            stream,
            "GET /checkpoint HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        );
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        let Some((_, body)) = text.split_once("\r\n\r\n") else { return 0 };
        // The note's second line is its size.
        body.split_once("\n\n").and_then(|(_, note)| note.lines().nth(1)?.parse().ok()).unwrap_or(0)
    }

    #[test]
    fn serve_publishes_to_a_witness_that_refuses_to_go_back() {
        let dir = temp_dir();
        keys(dir.path());
        let (_witness, address) = witness(dir.path());
        let url = format!("http://{address}");
        serve_then_roll_back(dir.path(), &url, &|| witnessed_size(&address));

        // The witness itself refuses what would take it back or is not the log's.
        let held = witnessed_size(&address);
        let files: Vec<_> = {
            let mut f: Vec<_> = std::fs::read_dir(dir.path().join("witnessed"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            f.sort();
            f
        };
        let older = std::fs::read_to_string(&files[0]).unwrap();
        let (status, _) = request(&address, "POST", "/add-checkpoint", None, &[], &older);
        assert_eq!(status, 409, "an older checkpoint");
        let latest = std::fs::read_to_string(files.last().unwrap()).unwrap();
        let forged = latest.replacen("old ", "old 0\nold ", 1);
        let (status, _) = request(&address, "POST", "/add-checkpoint", None, &[], &forged);
        assert_eq!(status, 400, "not an add-checkpoint body");
        // Signed by another key of the same name: a log recorded with it.
        let other = temp_dir();
        let other_dir = other.path().display().to_string();
        let out = run(["keys", "generate", "--name", "aecl.test/audit", "--out", &other_dir]);
        assert_eq!(out.code, Some(0));
        let db = other.path().join("aecl.db").display().to_string();
        let key = other.path().join("audit.key").display().to_string();
        let trace = crate::repo("examples/traces/finance-vendor-email.jsonl").display().to_string();
        let policy = finance().display().to_string();
        let out = run(["replay", "--policy", &policy, "--record", &db, "--key", &key, &trace]);
        assert_eq!(out.code, Some(0), "{out:#?}");
        let note: String = rusqlite::Connection::open(other.path().join("aecl.db"))
            .unwrap()
            .query_row("SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        let body = format!("old {held}\n\n{note}");
        let (status, _) = request(&address, "POST", "/add-checkpoint", None, &[], &body);
        assert_eq!(status, 403, "a checkpoint signed by another key");
        assert_eq!(witnessed_size(&address), held, "nothing refused was taken");
    }

    /// A witness that takes its time: it answers every request 200 after `delay` (404 to
    /// `GET /checkpoint`: it holds nothing) and keeps the size of each checkpoint posted.
    fn slow_witness(delay: Duration) -> (String, std::sync::Arc<std::sync::Mutex<Vec<u64>>>) {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = sizes.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut first, mut length) = (String::new(), 0usize);
                let _ = reader.read_line(&mut first);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let status = if first.starts_with("GET") { "404 Not Found" } else { "200 OK" };
                std::thread::sleep(delay);
                if let Some((_, note)) = String::from_utf8_lossy(&body).split_once("\n\n")
                    && let Some(size) = note.lines().nth(1).and_then(|l| l.parse().ok())
                {
                    kept.lock().unwrap().push(size);
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        (address, sizes)
    }

    /// A server stopped while checkpoints still wait for a slow destination publishes the
    /// newest before it exits: the records its answers acknowledged are covered outside
    /// the store, so the store cannot be cut back to what the destination held.
    #[test]
    fn a_stop_publishes_the_checkpoints_still_waiting() {
        let (dir, db, policy, token) = prepared();
        let (witness, sizes) = slow_witness(Duration::from_millis(400));
        let url = format!("http://{witness}");
        let (server, address) = serve(dir.path(), &policy, &["--checkpoint-dir", &url]);
        calls(&address, &token, "r1", 6);
        let answered = records(&db);
        let published_before = sizes.lock().unwrap().iter().copied().max().unwrap_or(0);
        assert!(published_before < answered, "the witness is slow: a backlog at the stop");
        stop(server);
        let published = sizes.lock().unwrap().iter().copied().max().unwrap_or(0);
        assert_eq!(published, answered, "published {:?}", sizes.lock().unwrap());
    }

    /// A client that never finishes its request does not keep a stopping server from
    /// exiting and publishing what it committed (red team round 17: a body sent a byte a
    /// second held `aecl serve` past SIGTERM until a SIGKILL would come).
    #[test]
    fn a_stop_is_not_held_by_a_request_that_never_ends() {
        use std::io::Write as _;
        let (dir, db, policy, token) = prepared();
        let target = dir.path().join("published").display().to_string();
        let (server, address) = serve(dir.path(), &policy, &["--checkpoint-dir", &target]);
        calls(&address, &token, "r1", 2);
        let mut slow = std::net::TcpStream::connect(&address).unwrap();
        write!(
            slow,
            "POST /v1/evaluate HTTP/1.1\r\nHost: {address}\r\nContent-Length: 100000\r\n\r\n{{"
        )
        .unwrap();
        stop(server);
        drop(slow);
        assert_eq!(largest_in(Path::new(&target)), records(&db), "published before exiting");
    }

    /// A destination that holds less than the store (checkpoints left unpublished by an
    /// earlier stop or a failed attempt, or a destination added later) gets the store's
    /// newest checkpoint at start, before any call.
    #[test]
    fn a_start_publishes_what_the_destination_missed() {
        let (dir, db, policy, token) = prepared();
        let (server, address) = serve(dir.path(), &policy, &[]);
        calls(&address, &token, "r1", 3);
        stop(server);

        let target = dir.path().join("published");
        let target = target.display().to_string();
        let (server, _address) = serve(dir.path(), &policy, &["--checkpoint-dir", &target]);
        until_published(&db, || largest_in(Path::new(&target)));
        stop(server);
        let ok = verify(dir.path(), Some(&target));
        assert_eq!(ok.code, Some(0), "{ok:#?}");
        assert!(ok.stdout.contains("published checkpoints consistent: 1"), "{}", ok.stdout);
        assert_eq!(largest_in(Path::new(&target)), records(&db), "the store's newest");
        let all = records(&db);
        let covered = format!("published checkpoints cover {all} of {all} records");
        assert!(ok.stdout.contains(&covered) && !ok.stdout.contains("warning"), "{}", ok.stdout);
        // Records acknowledged while nothing published them: verified, and said to be
        // anchored in the store alone (a cut back to the published checkpoint would verify).
        let (server, address) = serve(dir.path(), &policy, &[]);
        calls(&address, &token, "r2", 2);
        stop(server);
        let ok = verify(dir.path(), Some(&target));
        assert_eq!(ok.code, Some(0), "{ok:#?}");
        let now = records(&db);
        let covered = format!("published checkpoints cover {all} of {now} records");
        let warning =
            format!("warning: the newest {} records are signed in the store alone", now - all);
        assert!(ok.stdout.contains(&covered) && ok.stdout.contains(&warning), "{}", ok.stdout);

        // A published file is an exported checkpoint too (its note after the proof).
        let file = std::fs::read_dir(&target).unwrap().next().unwrap().unwrap().path();
        let file = file.display().to_string();
        let key = dir.path().join("audit/audit.pub").display().to_string();
        let db = db.display().to_string();
        let ok = run(["audit", "verify", "--db", &db, "--key", &key, "--checkpoint", &file]);
        assert_eq!(ok.code, Some(0), "{ok:#?}");
        let proof = run(["audit", "prove", "--db", &db, "--key", &key, "--checkpoint", &file, "1"]);
        assert_eq!(proof.code, Some(0), "{proof:#?}");
        let path = dir.path().join("proof.json");
        std::fs::write(&path, &proof.stdout).unwrap();
        let path = path.display().to_string();
        let ok = run(["audit", "verify-proof", "--key", &key, "--checkpoint", &file, &path]);
        assert_eq!(ok.code, Some(0), "{ok:#?}");
    }

    /// A checkpoint directory emptied while the server runs is not published into afresh,
    /// as if it had never held anything: the server reports publishing failed (red team
    /// round 30, tamper F2: health went back to `ok` and the next checkpoint was written
    /// into the empty directory).
    #[test]
    fn a_checkpoint_directory_emptied_while_serving_is_a_failure() {
        let (dir, db, policy, token) = prepared();
        let target = dir.path().join("published");
        let shown = target.display().to_string();
        let (server, address) = serve(dir.path(), &policy, &["--checkpoint-dir", &shown]);
        calls(&address, &token, "r1", 2);
        until_published(&db, || largest_in(&target));
        for entry in std::fs::read_dir(&target).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        calls(&address, &token, "r2", 2);
        let deadline = Instant::now() + Duration::from_secs(20);
        let warnings = loop {
            let (status, warnings) = health(&address);
            if status == "degraded" {
                break warnings;
            }
            assert!(Instant::now() < deadline, "health stayed {status}: {warnings:?}");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(warnings.iter().any(|w| w.contains("is gone")), "{warnings:?}");
        assert_eq!(largest_in(&target), 0, "nothing was published into the emptied directory");
        stop(server);
    }

    /// `/healthz`'s status and warnings.
    fn health(address: &str) -> (String, Vec<String>) {
        let (_, health) = request(address, "GET", "/healthz", None, &[], "");
        // Left out when there are none.
        let warnings = health["warnings"].as_array().cloned().unwrap_or_default();
        let warnings = warnings.iter().map(|w| w.as_str().unwrap().to_owned()).collect();
        (health["status"].as_str().unwrap().to_owned(), warnings)
    }

    /// Red team round 20, audit F3: a store with records does not start while its witness
    /// cannot be asked what it holds (an older copy restored meanwhile would be resumed and
    /// signed into a second history), unless told so; an empty store does (the test below).
    #[test]
    fn a_store_with_records_waits_for_its_witness_unless_told_not_to() {
        let (dir, db, policy, token) = prepared();
        let (server, address) = serve(dir.path(), &policy, &[]);
        calls(&address, &token, "r1", 2);
        stop(server);
        let before = records(&db);
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let url = format!("http://{free}");
        let stderr = refused_start(dir.path(), &policy, &url);
        for part in ["refusing to start", &url, "--allow-unwitnessed-start"] {
            assert!(stderr.contains(part), "`{part}` not in: {stderr}");
        }
        assert_eq!(records(&db), before, "nothing appended");
        let args = ["--checkpoint-dir", &url, "--allow-unwitnessed-start"];
        let (server, address) = serve(dir.path(), &policy, &args);
        calls(&address, &token, "r2", 1);
        stop(server);
        assert!(records(&db) > before);
    }

    /// With its witness down, a decision allowing an action with an effect is answered
    /// blocked (503), not allowed: its record is only in the store, whose tail a cut back to
    /// what the witness holds would remove unseen (red team round 23, audit F1). A read
    /// goes on; once the witness is back, so does the effect.
    #[test]
    fn an_effect_is_not_allowed_while_its_checkpoint_cannot_be_published() {
        let dir = temp_dir();
        keys(dir.path());
        let policy = crate::repo("test_data/policies/limits").display().to_string();
        let token = issue(dir.path(), &["--agent", "unlimited", "--policy", &policy]);
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let url = format!("http://{free}");
        let (server, address) = serve(dir.path(), &policy, &["--checkpoint-dir", &url]);
        let evaluate = |id: &str, action: &str| {
            let call = format!(r#"{{"run":"r1","id":"{id}","action":"{action}","args":{{}}}}"#);
            request(&address, "POST", "/v1/evaluate", Some(&token), &[], &call)
        };
        let (status, answer) = evaluate("c1", "hook");
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["decision"], "block", "{answer}");
        assert!(answer.to_string().contains("not published"), "{answer}");
        let (status, answer) = evaluate("c2", "ping");
        assert_eq!(status, 200, "a read goes on: {answer}");

        let (_witness, _) = witness_on(dir.path(), &free.to_string());
        let (status, answer) = evaluate("c3", "hook");
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["decision"], "allow", "{answer}");
        stop(server);
        let ok = verify(dir.path(), Some(&url));
        assert_eq!(ok.code, Some(0), "{ok:#?}");
    }

    /// Checkpoints that cannot reach their witness make the server degraded, naming the
    /// witness and why, until they reach it again.
    #[test]
    fn healthz_is_degraded_while_checkpoints_cannot_be_published() {
        let (dir, db, policy, token) = prepared();
        // A port nothing listens on yet.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let url = format!("http://{free}");
        let (server, address) = serve(dir.path(), &policy, &["--checkpoint-dir", &url]);
        assert_eq!(health(&address).0, "ok", "nothing to publish yet");

        calls(&address, &token, "r1", 2);
        let deadline = Instant::now() + Duration::from_secs(20);
        let (status, warnings) = loop {
            let (status, warnings) = health(&address);
            if status != "ok" || Instant::now() > deadline {
                break (status, warnings);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status, "degraded", "{warnings:?}");
        let expected = format!("publishing checkpoints to `{url}` failed: reaching {url}");
        assert!(warnings.iter().any(|w| w.starts_with(&expected)), "{warnings:?}");
        // Decisions go on meanwhile.
        calls(&address, &token, "r1", 1);

        // The witness comes up: the next checkpoint reaches it (with a proof from the
        // store for the ones it missed), and the server is healthy again.
        let (_witness, witnessed) = witness_on(dir.path(), &free.to_string());
        calls(&address, &token, "r2", 1);
        until_published(&db, || witnessed_size(&witnessed));
        let deadline = Instant::now() + Duration::from_secs(20);
        while health(&address).0 != "ok" {
            assert!(Instant::now() < deadline, "{:?}", health(&address));
            std::thread::sleep(Duration::from_millis(50));
        }
        stop(server);
        let ok = verify(dir.path(), Some(&url));
        assert_eq!(ok.code, Some(0), "{ok:#?}");
    }
}

/// A store whose log cannot be read is a log that does not verify: exit 1 with `FAILED`,
/// like a bad record, and never 2 (bad input) or 0.
#[test]
fn a_damaged_store_fails_verification() {
    for (damage, statements) in [
        ("a dropped log table", "DROP TABLE audit_log"),
        ("a dropped checkpoint table", "DROP TABLE audit_checkpoints"),
        ("a dropped head table", "DROP TABLE audit_head"),
        ("a record stored as text", "UPDATE audit_log SET record = 'x' WHERE seq = 1"),
        ("a hash stored as a number", "UPDATE audit_log SET chain_hash = 7 WHERE seq = 2"),
        // Red-team round 10, finding 4: a view read in place of the log never ended.
        (
            "a recursive view in place of the log",
            "ALTER TABLE audit_log RENAME TO audit_log_real;
             CREATE VIEW audit_log AS WITH RECURSIVE r(seq, record, chain_hash) AS
               (SELECT 0, x'7b7d', zeroblob(32) UNION ALL
                SELECT seq + 1, x'7b7d', zeroblob(32) FROM r) SELECT * FROM r",
        ),
        (
            "a view in place of the head",
            "ALTER TABLE audit_head RENAME TO audit_head_real;
             CREATE VIEW audit_head AS SELECT * FROM audit_head_real",
        ),
        ("a trigger", "CREATE TRIGGER t AFTER INSERT ON runs BEGIN DELETE FROM audit_log; END"),
        // Red team round 17: the log remade without its keys took a row with no sequence
        // number, which every reader skipped and the log still verified.
        (
            "the log remade without its keys",
            "ALTER TABLE audit_log RENAME TO o;
             CREATE TABLE audit_log(seq, record, chain_hash);
             INSERT INTO audit_log SELECT * FROM o; DROP TABLE o;
             INSERT INTO audit_log SELECT NULL, record, chain_hash FROM audit_log WHERE seq = 1",
        ),
        ("a column added beside the record", "ALTER TABLE audit_log ADD COLUMN decision TEXT"),
        (
            "checkpoints remade to take two of one size",
            "ALTER TABLE audit_checkpoints RENAME TO o;
             CREATE TABLE audit_checkpoints(size INTEGER, note TEXT NOT NULL);
             INSERT INTO audit_checkpoints SELECT * FROM o; DROP TABLE o;
             INSERT INTO audit_checkpoints SELECT * FROM audit_checkpoints LIMIT 1",
        ),
    ] {
        let recorded = Recorded::new();
        assert_eq!(recorded.verify(&[]).code, Some(0), "the log verified before the damage");
        recorded.sql(statements);
        let out = recorded.verify(&[]);
        assert_eq!(out.code, Some(1), "{damage}: {out:#?}");
        assert!(out.stdout.contains("FAILED"), "{damage}: {}", out.stdout);
    }
    // A view of one's own beside aecl's tables is read by nobody: the log still verifies.
    let recorded = Recorded::new();
    recorded.sql("CREATE VIEW allowed_calls AS SELECT seq FROM audit_log");
    assert_eq!(recorded.verify(&[]).code, Some(0));
    // No database at all: nothing verifies.
    let recorded = Recorded::new();
    std::fs::remove_file(recorded.path("aecl.db")).unwrap();
    let out = recorded.verify(&[]);
    assert_eq!(out.code, Some(1), "{out:#?}");
}
