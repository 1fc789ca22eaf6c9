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
            "an edited checkpoint",
            "UPDATE audit_checkpoints SET note = replace(note, 'audit.test/finance', 'audit.test/finanse') WHERE size = (SELECT MAX(size) FROM audit_checkpoints)",
            "FAILED: checkpoint",
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
    assert_eq!(log.verify(&[]).code, Some(0), "without the exported checkpoint it looks fine");
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
