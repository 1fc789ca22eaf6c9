//! Reconciliation through the registry, on SQLite files and a real PostgreSQL: an effect
//! whose statement committed is found with exactly the rollback token its execution
//! returned; one whose statement never committed is fenced, so that the statement can
//! never commit later; what leaves no trace (an irreversible statement, a forged record)
//! is undecidable. Nothing is ever executed by reconciling.

use std::path::Path;
use std::sync::Arc;

use aecl_connectors::sql::{SqlConfig, SqlConnector};
use aecl_core::{Call, CallDigest, Timestamp};
use aecl_engine::{ConnectorOutcome, Effect, EffectState, Reconciled};
use rusqlite::Connection;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::pg::postgres_url;
use crate::{call, registry};

fn config() -> SqlConfig {
    SqlConfig { max_rows: 10, ..SqlConfig::new("") }
}

/// The ledger entry of `call` under `effect_id`, as a crash leaves it.
fn unknown(call: &Call, effect_id: &str) -> Effect {
    Effect {
        id: effect_id.to_owned(),
        run: call.run.clone(),
        call_id: call.id.clone(),
        agent: call.agent.clone(),
        action: call.action.clone(),
        idempotency_key: None,
        call_digest: CallDigest(String::new()),
        node: "test".into(),
        state: EffectState::OutcomeUnknown,
        result: Value::Null,
        error: Some("outcome_unknown: the process stopped".into()),
        rollback_token: None,
        rollback_seal: None,
        created: Timestamp(0),
        updated: Timestamp(0),
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn sqlite_db(dir: &Path) -> (std::path::PathBuf, crate::Registry) {
    let path = dir.join("users.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO users VALUES (1, 'ada'), (2, 'bob');",
        )
        .unwrap();
    let registry = registry(vec![("db", Arc::new(SqlConnector::sqlite(path.clone(), &config())))]);
    (path, registry)
}

fn names(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT id || ':' || name FROM users ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn landed(found: Reconciled) -> (Value, Option<String>, Value) {
    match found {
        Reconciled::Landed { result, rollback_token, evidence } => {
            (result, rollback_token, evidence)
        }
        other => panic!("expected landed, got {other:?}"),
    }
}

#[tokio::test]
async fn sqlite_a_committed_write_is_found_with_the_token_its_execution_returned() {
    let dir = tempfile::tempdir().unwrap();
    let (db, registry) = sqlite_db(dir.path());
    let insert = call("sql_write", json!({ "query": "INSERT INTO users VALUES (3, 'cy')" }));
    let effect_id = new_id();
    let ConnectorOutcome::Succeeded { rollback_token, .. } =
        registry.execute(&insert, &effect_id).await
    else {
        panic!("the insert failed");
    };
    // The crash came after the commit, before the outcome was recorded.
    let effect = unknown(&insert, &effect_id);
    let (result, token, evidence) = landed(registry.reconcile(&effect, &insert).await);
    assert_eq!(result, json!({ "rows_affected": 1 }));
    assert_eq!(token, rollback_token, "the token the execution returned, so rollback works");
    assert_eq!(evidence["undo_record"], "found", "{evidence}");
    assert_eq!(evidence["target_rows"], "as the statement left them", "{evidence}");
    // Read only: a second look finds the same, and the table holds the row once.
    let (_, again, _) = landed(registry.reconcile(&effect, &insert).await);
    assert_eq!(again, token);
    assert_eq!(names(&db), ["1:ada", "2:bob", "3:cy"]);

    // Someone changed the row since: still landed, and the evidence says so.
    Connection::open(&db).unwrap().execute("UPDATE users SET name = 'x' WHERE id = 3", []).unwrap();
    let (_, _, evidence) = landed(registry.reconcile(&effect, &insert).await);
    assert!(evidence["target_rows"].as_str().unwrap().starts_with("changed since"), "{evidence}");
}

#[tokio::test]
async fn sqlite_a_missing_undo_record_is_fenced_so_the_statement_can_never_commit_later() {
    let dir = tempfile::tempdir().unwrap();
    let (db, registry) = sqlite_db(dir.path());
    let delete = call("sql_write", json!({ "query": "DELETE FROM users WHERE id = 1" }));
    let effect_id = new_id();
    let effect = unknown(&delete, &effect_id);
    let Reconciled::NotLanded { evidence } = registry.reconcile(&effect, &delete).await else {
        panic!("expected not landed");
    };
    assert_eq!(evidence["fence"], "written", "{evidence}");
    let Reconciled::NotLanded { evidence } = registry.reconcile(&effect, &delete).await else {
        panic!("expected not landed again");
    };
    assert_eq!(evidence["fence"], "found", "idempotent: {evidence}");
    // The statement, still in flight somewhere, tries to commit now: its undo record
    // collides with the fence and its whole transaction rolls back.
    let late = registry.execute(&delete, &effect_id).await;
    assert!(matches!(late, ConnectorOutcome::Failed { .. }), "{late:?}");
    assert_eq!(names(&db), ["1:ada", "2:bob"], "the row was never deleted");
}

#[tokio::test]
async fn sqlite_what_leaves_no_trace_or_a_forged_one_is_undecidable_and_a_read_landed_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, registry) = sqlite_db(dir.path());
    // An irreversible statement keeps no undo record.
    let irreversible =
        call("sql_irreversible", json!({ "query": "INSERT INTO users VALUES (9, 'zed')" }));
    let found = registry.reconcile(&unknown(&irreversible, &new_id()), &irreversible).await;
    assert!(matches!(found, Reconciled::Undecidable { .. }), "{found:?}");
    // A read, of a read action or of a reversible one, changed nothing whether it ran or
    // not: settled, so that it never stops a run's rollback (red team round 24, escape E2).
    for (action, query) in
        [("sql_read", "SELECT name FROM users"), ("sql_write", "SELECT CAST(X'FF' AS TEXT)")]
    {
        let read = call(action, json!({ "query": query }));
        let found = registry.reconcile(&unknown(&read, &new_id()), &read).await;
        assert!(matches!(found, Reconciled::NotLanded { .. }), "{action}: {found:?}");
    }

    // A record under the effect's id that another statement would have written (another
    // table), with a matching digest: refused, never taken as proof.
    let delete = call("sql_write", json!({ "query": "DELETE FROM users WHERE id = 2" }));
    let effect_id = new_id();
    let forged = json!({ "kind": "delete", "table": "accounts", "key": ["id"],
                         "columns": ["id"], "pre": [[{"integer": 1}]], "post": [] })
    .to_string();
    let digest: String =
        Sha256::digest(forged.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE aecl_undo (id TEXT PRIMARY KEY, record TEXT NOT NULL, sha256 TEXT NOT NULL,
                                 undone INTEGER NOT NULL DEFAULT 0)",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO aecl_undo (id, record, sha256) VALUES (?1, ?2, ?3)",
        [&effect_id, &forged, &digest],
    )
    .unwrap();
    let found = registry.reconcile(&unknown(&delete, &effect_id), &delete).await;
    assert!(matches!(found, Reconciled::Undecidable { .. }), "{found:?}");
    // An edited record (digest no longer matching) is refused too.
    conn.execute("UPDATE aecl_undo SET record = replace(record, 'accounts', 'users')", []).unwrap();
    let found = registry.reconcile(&unknown(&delete, &effect_id), &delete).await;
    assert!(matches!(found, Reconciled::Undecidable { .. }), "{found:?}");
    assert_eq!(names(&db), ["1:ada", "2:bob"], "nothing executed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_landed_and_fenced_effects_are_told_apart() {
    let url = postgres_url().await;
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    db.batch_execute(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO users VALUES (1, 'ada'), (2, 'bob');",
    )
    .await
    .unwrap();
    let registry = registry(vec![("db", Arc::new(SqlConnector::postgres(&url, &config())))]);

    let update = call("sql_write", json!({ "query": "UPDATE users SET name = 'b' WHERE id = 2" }));
    let effect_id = new_id();
    let ConnectorOutcome::Succeeded { rollback_token, .. } =
        registry.execute(&update, &effect_id).await
    else {
        panic!("the update failed");
    };
    let (result, token, evidence) =
        landed(registry.reconcile(&unknown(&update, &effect_id), &update).await);
    assert_eq!(result, json!({ "rows_affected": 1 }));
    assert_eq!(token, rollback_token);
    assert_eq!(evidence["target_rows"], "as the statement left them", "{evidence}");

    let delete = call("sql_write", json!({ "query": "DELETE FROM users WHERE id = 1" }));
    let fenced_id = new_id();
    let found = registry.reconcile(&unknown(&delete, &fenced_id), &delete).await;
    assert!(matches!(found, Reconciled::NotLanded { .. }), "{found:?}");
    let late = registry.execute(&delete, &fenced_id).await;
    assert!(matches!(late, ConnectorOutcome::Failed { .. }), "{late:?}");
    let rows: Vec<String> = db
        .query("SELECT id::text || ':' || name FROM users ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, ["1:ada", "2:b"], "the fenced delete never happened");
}

#[tokio::test]
async fn fs_changes_that_landed_are_found_by_their_intent_and_the_rest_are_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = crate::fs::files(dir.path());
    std::fs::write(root.join("a.txt"), "old").unwrap();
    std::fs::write(root.join("b.txt"), "keep me").unwrap();

    // A write that landed: found, with the token its execution returned.
    let write = call("file", json!({ "path": "a.txt", "content": "new" }));
    let effect_id = new_id();
    let ConnectorOutcome::Succeeded { rollback_token, .. } =
        registry.execute(&write, &effect_id).await
    else {
        panic!("the write failed");
    };
    let effect = unknown(&write, &effect_id);
    let (result, token, evidence) = landed(registry.reconcile(&effect, &write).await);
    assert_eq!(token, rollback_token, "{evidence}");
    assert_eq!(result["bytes"], 3);
    // Someone changed the file since: neither what was written nor what was there.
    std::fs::write(root.join("a.txt"), "someone else's").unwrap();
    let found = registry.reconcile(&effect, &write).await;
    assert!(matches!(found, Reconciled::Undecidable { .. }), "{found:?}");

    // A delete that landed.
    let delete = call("file_delete", json!({ "path": "b.txt" }));
    let deleted_id = new_id();
    assert!(matches!(
        registry.execute(&delete, &deleted_id).await,
        ConnectorOutcome::Succeeded { .. }
    ));
    let (result, _, _) = landed(registry.reconcile(&unknown(&delete, &deleted_id), &delete).await);
    assert_eq!(result["deleted"], true);

    // A write that never started: fenced, and the write itself can no longer happen.
    let never = call("file", json!({ "path": "c.txt", "content": "late" }));
    let never_id = new_id();
    let Reconciled::NotLanded { evidence } =
        registry.reconcile(&unknown(&never, &never_id), &never).await
    else {
        panic!("expected not landed");
    };
    assert_eq!(evidence["fence"], "written", "{evidence}");
    let late = registry.execute(&never, &never_id).await;
    assert!(matches!(late, ConnectorOutcome::Failed { .. }), "{late:?}");
    assert!(!root.join("c.txt").exists(), "the fenced write never happened");
    let Reconciled::NotLanded { evidence } =
        registry.reconcile(&unknown(&never, &never_id), &never).await
    else {
        panic!("expected not landed again");
    };
    assert_eq!(evidence["fence"], "found", "{evidence}");
}
