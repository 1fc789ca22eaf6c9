//! A database writer without the key against the state beside the audit log (red team
//! round 21, audit F1), on a real `aecl serve` and its SQLite file:
//!
//! - an approval written by hand (the request set to `approved`, a grant row for its call)
//!   permits nothing: grants are signed;
//! - a spent grant made unspent, a standing grant's count of uses reset, a call's ledger
//!   and run history deleted: the engine acts again (that state is not signed), and
//!   `aecl audit verify` fails, naming the record that tells.

use serde_json::Value;

use crate::serve::{Running, issue, keys, request, serve};
use crate::{finance, run, temp_dir};

/// `aecl audit verify` of the store in `dir`: (exit code, standard output).
fn verify(dir: &std::path::Path) -> (Option<i32>, String) {
    let (db, key) = (dir.join("aecl.db"), dir.join("audit/audit.pub"));
    let out = run([
        "audit",
        "verify",
        "--db",
        &db.display().to_string(),
        "--key",
        &key.display().to_string(),
    ]);
    (out.code, out.stdout)
}

/// The insider's statements, on the live server's file.
fn sql(dir: &std::path::Path, statements: &str) {
    let conn = rusqlite::Connection::open(dir.join("aecl.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    conn.execute_batch(statements).unwrap();
}

struct Agent {
    address: String,
    token: String,
}

impl Agent {
    /// `POST /v1/execute` of `action` with `args` (JSON) in run `run` under call id `id`.
    fn execute(&self, run: &str, id: &str, action: &str, args: &str) -> Value {
        let call = format!(r#"{{"run":"{run}","id":"{id}","action":"{action}","args":{args}}}"#);
        let (status, answer) =
            request(&self.address, "POST", "/v1/execute", Some(&self.token), &[], &call);
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// A transfer of run `run` under call id `id` (the same arguments every time).
    fn transfer(&self, run: &str, id: &str) -> Value {
        let args =
            r#"{"vendor":"V-100","iban":"DE89370400440532013000","amount":1200,"currency":"EUR"}"#;
        self.execute(run, id, "transfer_funds", args)
    }

    /// The weekly report (a read, allowed without approval) of run `run` under call id `id`.
    fn report(&self, run: &str, id: &str) -> Value {
        self.execute(run, id, "generate_payment_report", r#"{"week":"2026-W48"}"#)
    }

    fn approve(&self, approver: &str, id: &str) {
        let path = format!("/v1/approvals/{id}/approve");
        let (status, answer) = request(&self.address, "POST", &path, Some(approver), &[], "{}");
        assert_eq!(status, 200, "{answer}");
    }
}

fn rules(answer: &Value) -> Vec<String> {
    answer["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["rule"].as_str().map(str::to_owned))
        .collect()
}

fn start(dir: &std::path::Path) -> (Running, Agent) {
    let policy = finance().display().to_string();
    let token = issue(dir, &["--agent", "finance_agent", "--policy", &policy]);
    let (server, address) = serve(dir, &policy, &[]);
    (server, Agent { address, token })
}

#[test]
fn a_hand_written_approval_permits_nothing_and_a_reset_grant_fails_verify() {
    let dir = temp_dir();
    keys(dir.path());
    let (_server, agent) = start(dir.path());
    let alice = issue(dir.path(), &["--approver", "alice"]);
    let asked = agent.transfer("r1", "c1");
    assert_eq!(asked["decision"], "require_approval", "{asked}");
    let forged_request = asked["approval_id"].as_str().unwrap().to_owned();

    // (a) The request set to approved and a grant for its exact call, by hand.
    sql(
        dir.path(),
        &format!(
            "UPDATE approvals SET status = 'approved', decided_by = 'alice' WHERE id = \
             '{forged_request}';
             INSERT INTO grants (id, approval_id, call_digest, policy_revision, expires)
               SELECT 'forged', id, call_digest, policy_revision, expires FROM approvals
               WHERE id = '{forged_request}';"
        ),
    );
    let retried = agent.transfer("r1", "c2");
    assert_eq!(retried["decision"], "require_approval", "{retried}");
    assert!(rules(&retried).contains(&"approval.grant_unsigned".to_owned()), "{retried}");
    assert!(retried["effect"].is_null(), "nothing dispatched: {retried}");
    assert_eq!(verify(dir.path()).0, Some(0), "nothing ran that the log cannot explain");

    // A real approval of the request the retry filed runs the call once.
    let request = retried["approval_id"].as_str().unwrap().to_owned();
    assert_ne!(request, forged_request);
    agent.approve(&alice, &request);
    let ran = agent.transfer("r1", "c3");
    assert_eq!(ran["decision"], "allow", "{ran}");
    assert_eq!(agent.transfer("r1", "c4")["decision"], "require_approval", "spent");
    let (code, out) = verify(dir.path());
    assert_eq!(code, Some(0), "{out}");

    // (b) The spent grant made unspent: the call runs again, and the log tells.
    sql(
        dir.path(),
        &format!("UPDATE grants SET consumed_at = NULL WHERE approval_id = '{request}'"),
    );
    assert_eq!(agent.transfer("r1", "c5")["decision"], "allow");
    let (code, out) = verify(dir.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("the grant of approval request `{request}` lifted a second")),
        "{out}"
    );
}

#[test]
fn a_reset_standing_grant_count_and_a_deleted_ledger_fail_verify() {
    let dir = temp_dir();
    keys(dir.path());
    let (server, agent) = start(dir.path());
    let alice = issue(dir.path(), &["--approver", "alice"]);
    let body = r#"{"agent":"finance_agent","action":"transfer_funds","args":{"iban":{"equals":"DE89370400440532013000"}},"max_uses":1,"ttl_seconds":600,"reason":"weekly"}"#;
    let (status, given) =
        request(&agent.address, "POST", "/v1/standing-grants", Some(&alice), &[], body);
    assert_eq!(status, 201, "{given}");
    assert_eq!(agent.transfer("r1", "c1")["decision"], "allow");
    assert_eq!(agent.transfer("r1", "c2")["decision"], "require_approval", "one use");
    assert_eq!(verify(dir.path()).0, Some(0));

    // (c) The count of uses reset: a second use, which the signed terms never allowed.
    sql(dir.path(), "UPDATE standing_grants SET used = 0");
    let again = agent.transfer("r1", "c3");
    assert_eq!(again["decision"], "allow", "{again}");
    let (code, out) = verify(dir.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("lifted 2 decisions; its signed terms allow 1 use(s)"), "{out}");
    drop(server);

    // (d) Exactly once: an executed call's ledger and run history deleted, and the server
    // restarted: the retry under the same call id executes again.
    let dir = temp_dir();
    keys(dir.path());
    let (server, agent) = start(dir.path());
    let first = agent.report("r2", "once");
    assert!(first["effect"]["id"].is_string(), "{first}");
    assert_eq!(agent.report("r2", "once")["replay_of"], "once", "a replay");
    drop(server);
    sql(
        dir.path(),
        "DELETE FROM effects WHERE run = 'r2'; DELETE FROM run_events WHERE run = 'r2';
         DELETE FROM runs WHERE run = 'r2';",
    );
    let (_server, agent) = start(dir.path());
    let second = agent.report("r2", "once");
    assert!(second["effect"]["id"].is_string(), "{second}");
    let (code, out) = verify(dir.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("call `once` of run `r2` executed a second time"), "{out}");
}

#[test]
fn a_revocation_deleted_from_the_store_is_still_refused_by_the_server_that_saw_it() {
    let dir = temp_dir();
    keys(dir.path());
    let policy = finance().display().to_string();
    let key = dir.path().join("tokens/audit.key").display().to_string();
    let issued =
        run(["token", "issue", "--key", &key, "--agent", "finance_agent", "--policy", &policy]);
    assert_eq!(issued.code, Some(0), "{issued:#?}");
    let token = issued.stdout.trim().to_owned();
    let jti = issued
        .stderr
        .split_whitespace()
        .skip_while(|w| *w != "id:")
        .nth(1)
        .expect("the token's id on standard error")
        .to_owned();
    let admin = issue(dir.path(), &["--admin", "root"]);
    let (_server, address) = serve(dir.path(), &policy, &[]);
    let read = r#"{"run":"r1","id":"c1","action":"read_invoice","args":{"invoice_id":"INV-1"}}"#;
    let evaluate = || request(&address, "POST", "/v1/evaluate", Some(&token), &[], read).0;
    assert_eq!(evaluate(), 200);
    let body = format!(r#"{{"token":"{jti}"}}"#);
    let (status, answer) = request(&address, "POST", "/v1/tokens/revoke", Some(&admin), &[], &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(evaluate(), 401);
    // (e) The revocation's row deleted by hand: the server that revoked it still refuses.
    sql(dir.path(), "DELETE FROM revoked_credentials");
    assert_eq!(evaluate(), 401, "a deleted revocation brought the token back");
}
