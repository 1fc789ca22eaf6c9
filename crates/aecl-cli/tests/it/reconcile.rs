//! Reconciliation end to end: a real `aecl serve` is killed with SIGKILL between dispatch
//! and outcome, with one SQL insert committed in its target, one SQL delete never run, and
//! one webhook sent to a receiver that never answers. The restart reconciles them
//! (`succeeded` with a rollback token, `failed` behind a fence, `undecidable`), `aecl
//! rollback` undoes the one that landed, `aecl effects reconcile` finds nothing new to
//! record, and the audit log verifies.
//!
//! How the kill lands between dispatch and outcome, with no test hook in aecl: the test
//! holds the write lock of each target database, so the connector waits (SQLite's busy
//! timeout) after the effect is recorded `dispatched`; it then takes the write lock of
//! aecl's own store (so the outcome cannot be committed), releases one target's lock, and
//! kills the server once that statement's undo record is in the target.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::rollback::http;
use crate::serve::{issue, keys, serve};
use crate::{run, temp_dir, write};

const CATALOG: &str = r#"
[actions.put_user]
description = "One SQL statement on the users database."
effect = "write"
reversibility = "reversible"
compensation = "undo_sql"
connector = "users_db"

[actions.put_user.schema]
type = "object"
required = ["query"]
additionalProperties = false
properties = { query = { type = "string" } }

[actions.put_item]
description = "One SQL statement on the items database."
effect = "write"
reversibility = "reversible"
compensation = "undo_sql"
connector = "items_db"

[actions.put_item.schema]
type = "object"
required = ["query"]
additionalProperties = false
properties = { query = { type = "string" } }

[actions.undo_sql]
description = "Undo one SQL effect (called by the rollback engine)."
effect = "write"
reversibility = "irreversible"

[actions.undo_sql.approval]
waive_irreversible = "restores rows only if they are still as the change left them"

[actions.undo_sql.schema]
type = "object"
required = ["effect"]
additionalProperties = false
properties = { effect = { type = "string" } }

[actions.notify]
description = "Post a JSON message to the team's webhook."
effect = "send"
reversibility = "irreversible"
connector = "team_hook"

[actions.notify.approval]
waive_irreversible = "a status message to the team's own endpoint"

[actions.notify.schema]
type = "object"
required = ["url", "body"]
additionalProperties = false
properties = { url = { type = "string" }, body = { type = "object" } }
"#;

const AGENT: &str = r#"
agent_id = "ops_agent"
allowed_actions = ["put_user", "put_item", "undo_sql", "notify"]
token_ttl_seconds = 900
"#;

const CONNECTORS: &str = r#"
[connectors.users_db]
kind = "sql"
database = "users.db"

[connectors.items_db]
kind = "sql"
database = "items.db"

[connectors.team_hook]
kind = "webhook"
"#;

fn sqlite(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

/// Every row of `table` as `id:name`, in key order.
fn rows(db: &Path, table: &str) -> Vec<String> {
    let conn = sqlite(db);
    let mut stmt =
        conn.prepare(&format!("SELECT id || ':' || name FROM {table} ORDER BY id")).unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// Polls `what` until it holds, for up to 20 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn count(db: &Path, sql: &str) -> i64 {
    sqlite(db).query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

/// The effect of `action` in aecl's store: (id, state, result, error, rollback token).
fn effect(store: &Path, action: &str) -> (String, String, Value, Option<String>, Option<String>) {
    sqlite(store)
        .query_row(
            "SELECT id, state, result, error, rollback_token FROM effects WHERE action = ?1",
            [action],
            |r| {
                let result: String = r.get(2)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    serde_json::from_str(&result).unwrap(),
                    r.get(3)?,
                    r.get(4)?,
                ))
            },
        )
        .unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    /// The webhook's receiver: it takes the connection and never answers.
    silent: TcpListener,
    policy: String,
    connectors: String,
    users: PathBuf,
    items: PathBuf,
    store: PathBuf,
}

fn setup() -> Setup {
    let dir = temp_dir();
    keys(dir.path());
    write(dir.path(), "policy/policy.toml", "mode = \"enforce\"\n");
    write(dir.path(), "policy/catalog.toml", CATALOG);
    write(dir.path(), "policy/agents/ops_agent.toml", AGENT);
    // An allow_hosts entry without a port allows port 80 only: name the receiver's.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let allow = format!("allow_hosts = [\"{}\"]\n", silent.local_addr().unwrap());
    let connectors = write(dir.path(), "connectors.toml", &format!("{CONNECTORS}{allow}"));
    let (users, items) = (dir.path().join("users.db"), dir.path().join("items.db"));
    sqlite(&users)
        .execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO users VALUES (1, 'ada'), (2, 'bob');",
        )
        .unwrap();
    sqlite(&items)
        .execute_batch(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO items VALUES (1, 'hammer'), (2, 'saw');",
        )
        .unwrap();
    Setup {
        silent,
        policy: dir.path().join("policy").display().to_string(),
        connectors: connectors.display().to_string(),
        store: dir.path().join("aecl.db"),
        users,
        items,
        dir,
    }
}

#[test]
fn a_crash_between_dispatch_and_outcome_is_reconciled_at_restart_and_rolled_back() {
    let s = setup();
    let dir = s.dir.path();
    let agent = issue(dir, &["--agent", "ops_agent", "--policy", &s.policy]);
    let approver = write(dir, "alice.token", &issue(dir, &["--approver", "alice"]));
    let (mut server, address) = serve(dir, &s.policy, &["--connectors", &s.connectors]);
    // A receiver that takes the webhook's connection and never answers.
    let silent = s.silent.try_clone().unwrap();
    let hook_url = format!("http://{}/hook", silent.local_addr().unwrap());

    // Hold both targets' write locks: the connectors wait after dispatch.
    let users_lock = sqlite(&s.users);
    users_lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let items_lock = sqlite(&s.items);
    items_lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let calls = [
        ("c1", "put_user", json!({ "query": "INSERT INTO users VALUES (3, 'cy')" })),
        ("c2", "put_item", json!({ "query": "DELETE FROM items WHERE id = 1" })),
        ("c3", "notify", json!({ "url": hook_url, "body": { "text": "done" } })),
    ];
    let clients: Vec<_> = calls
        .into_iter()
        .map(|(id, action, args)| {
            let (address, agent) = (address.clone(), agent.clone());
            std::thread::spawn(move || {
                let body = json!({ "run": "r1", "id": id, "action": action, "args": args });
                http(&address, "/v1/execute", &agent, &[], &body)
            })
        })
        .collect();
    // The webhook's connection is taken and held, never answered.
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(120));
        drop(held);
    });
    wait_for("three dispatched effects", || {
        count(&s.store, "SELECT count(*) FROM effects WHERE state = 'dispatched'") == 3
    });
    // No outcome can be committed now; then the insert goes ahead and commits.
    let store_lock = sqlite(&s.store);
    store_lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    users_lock.execute_batch("ROLLBACK").unwrap();
    wait_for("the insert's undo record", || count(&s.users, "SELECT count(*) FROM aecl_undo") == 1);
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    store_lock.execute_batch("ROLLBACK").unwrap();
    items_lock.execute_batch("ROLLBACK").unwrap();
    for client in clients {
        let _ = client.join();
    }
    assert_eq!(rows(&s.users, "users"), ["1:ada", "2:bob", "3:cy"], "the insert landed");
    for action in ["put_user", "put_item", "notify"] {
        assert_eq!(effect(&s.store, action).1, "dispatched", "{action} was left in flight");
    }

    // The restart recovers and reconciles before it listens.
    drop(server);
    let (_server, address) = serve(dir, &s.policy, &["--connectors", &s.connectors]);
    let (insert, state, result, _, token) = effect(&s.store, "put_user");
    assert_eq!(state, "succeeded", "{result}");
    assert_eq!(result["reconciled"], true, "{result}");
    assert_eq!(result["evidence"]["undo_record"], "found", "{result}");
    assert!(token.is_some(), "a reconciled effect has its rollback token");
    let (delete, state, result, error, token) = effect(&s.store, "put_item");
    assert_eq!(state, "failed", "{result}");
    assert_eq!(result["evidence"]["fence"], "written", "{result}");
    assert!(error.unwrap().starts_with("reconciled: did not land"));
    assert!(token.is_none());
    assert_eq!(
        count(&s.items, "SELECT count(*) FROM aecl_undo WHERE sha256 = 'fence'"),
        1,
        "a fence keeps the delete from ever committing"
    );
    assert_eq!(rows(&s.items, "items"), ["1:hammer", "2:saw"], "the delete never ran");
    let (_, state, result, _, _) = effect(&s.store, "notify");
    assert_eq!(state, "outcome_unknown", "a webhook leaves no trace to tell from");
    assert_eq!(result["reconciled"], false, "{result}");
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    assert!(log.contains("effect reconciled"), "{log}");

    // The landed insert is undone by `aecl rollback`; the failed delete has nothing to undo.
    let server_url = format!("http://{address}");
    let token_file = approver.display().to_string();
    let base = ["--server", server_url.as_str(), "--token-file", token_file.as_str()];
    let out = run(["rollback", insert.as_str()].iter().chain(&base));
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with(&format!("restored {insert}")), "{out:#?}");
    assert_eq!(rows(&s.users, "users"), ["1:ada", "2:bob"]);
    let out = run(["rollback", delete.as_str()].iter().chain(&base));
    assert!(out.stdout.starts_with(&format!("nothing_to_undo {delete}")), "{out:#?}");

    // Reconciling again finds only the undecidable webhook, with the same evidence:
    // nothing is recorded, nothing executed.
    let records = count(&s.store, "SELECT count(*) FROM audit_log");
    let out = run(["effects", "reconcile"].iter().chain(&base));
    assert_eq!(out.code, Some(0), "{out:#?}");
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "a header and one effect: {out:#?}");
    assert!(lines[0].starts_with("STATUS") && lines[0].contains("EVIDENCE"), "{out:#?}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[0], "undecidable", "{out:#?}");
    assert_eq!(cells[2..5], ["notify", "r1", "unchanged"], "{out:#?}");
    assert_eq!(count(&s.store, "SELECT count(*) FROM audit_log"), records);
    assert_eq!(rows(&s.users, "users"), ["1:ada", "2:bob"]);
    assert_eq!(rows(&s.items, "items"), ["1:hammer", "2:saw"]);

    // An agent may not reconcile.
    let (status, _) = http(&address, "/v1/effects/reconcile", &agent, &[], &json!({}));
    assert_eq!(status, 403);

    // Every reconciliation is in the log, which verifies.
    let path = |name: &str| dir.join(name).display().to_string();
    let out = run(["audit", "verify", "--db", &path("aecl.db"), "--key", &path("audit/audit.pub")]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let reconciled = sqlite(&s.store)
        .prepare("SELECT record FROM audit_log")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|record| String::from_utf8_lossy(record).contains("\"reconciled\""))
        .count();
    assert_eq!(reconciled, 3, "one record per reconciled effect, none for the repeat");
}
