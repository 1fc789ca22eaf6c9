//! The `sql` connector's refusals on SQLite: writes the database would extend by itself
//! (triggers, cascading foreign keys, `ON CONFLICT REPLACE`), any statement naming
//! `aecl_undo`, and statements that would run past the statement timeout.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aecl_connectors::sql::{SqlConfig, SqlConnector};
use aecl_engine::Compensated;
use rusqlite::Connection;
use serde_json::json;

use crate::{execute, failed, registry, succeeded, undo};

/// A database made of `schema`, in `dir/app.db`.
fn database(dir: &Path, schema: &str) -> PathBuf {
    let path = dir.join("app.db");
    Connection::open(&path).unwrap().execute_batch(schema).unwrap();
    path
}

fn sql(path: &Path, timeout_secs: u64) -> crate::Registry {
    let config = SqlConfig { statement_timeout_secs: timeout_secs, ..SqlConfig::new("") };
    registry(vec![("db", Arc::new(SqlConnector::sqlite(path.to_owned(), &config)))])
}

/// Every row of every table but `aecl_undo`, as text.
fn dump(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'aecl_undo' \
             ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid")).unwrap();
        let width = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                let mut cells = vec![table.clone()];
                for i in 0..width {
                    cells.push(format!("{:?}", row.get::<_, rusqlite::types::Value>(i)?));
                }
                Ok(cells.join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>();
        out.extend(rows);
    }
    out
}

/// Runs `query` as a reversible write: it must be refused as not undoable, and change
/// nothing in any table.
async fn refused(db: &Path, registry: &crate::Registry, query: &str, why: &str) {
    let before = dump(db);
    let (outcome, _) = execute(registry, "sql_write", json!({ "query": query })).await;
    let error = failed(&outcome);
    assert!(error.starts_with("not_undoable") && error.contains(why), "{query}: {error}");
    assert_eq!(dump(db), before, "{query}: nothing changed");
}

#[tokio::test]
async fn a_delete_that_cascades_to_a_child_table_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(
        dir.path(),
        "CREATE TABLE parents (id INTEGER PRIMARY KEY, code TEXT UNIQUE, name TEXT);
         CREATE TABLE children (id INTEGER PRIMARY KEY,
             parent INTEGER REFERENCES parents (id) ON DELETE CASCADE ON UPDATE CASCADE);
         CREATE TABLE pets (id INTEGER PRIMARY KEY,
             code TEXT REFERENCES parents (code) ON UPDATE SET NULL);
         CREATE TABLE notes (id INTEGER PRIMARY KEY,
             parent INTEGER REFERENCES parents ON DELETE RESTRICT);
         CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT);
         CREATE TABLE tagged (tag INTEGER REFERENCES tags (id) ON DELETE SET NULL);
         INSERT INTO parents VALUES (1, 'a', 'ada'), (2, 'b', 'bob');
         INSERT INTO children VALUES (10, 1), (11, 1), (12, 2);
         INSERT INTO tags VALUES (1, 'x');",
    );
    let registry = sql(&db, 25);
    refused(&db, &registry, "DELETE FROM parents WHERE id = 1", "children").await;
    refused(&db, &registry, "DELETE FROM main.Parents WHERE id = 1", "children").await;
    refused(&db, &registry, "DELETE FROM tags WHERE id = 1", "tagged").await;
    // An update of a referenced column fires `ON UPDATE` (here `SET NULL` on `pets`).
    refused(&db, &registry, "UPDATE parents SET code = 'z' WHERE id = 1", "pets").await;
    // An insert's undo is a delete, which would cascade to rows added meanwhile.
    refused(&db, &registry, "INSERT INTO parents (id, code) VALUES (3, 'c')", "children").await;

    // What fires no action still runs and is undone: an update of an unreferenced column,
    // an insert into a table nothing references with an action.
    let before = dump(&db);
    let query = json!({ "query": "UPDATE parents SET name = 'eve' WHERE id = 1" });
    let (outcome, updated) = execute(&registry, "sql_write", query).await;
    assert_eq!(succeeded(&outcome)["rows_affected"], 1);
    let query = json!({ "query": "INSERT INTO children (id, parent) VALUES (13, 2)" });
    let (outcome, inserted) = execute(&registry, "sql_write", query).await;
    assert_eq!(succeeded(&outcome)["rows_affected"], 1);
    assert!(matches!(undo(&registry, &inserted).await, Compensated::Restored { .. }));
    assert!(matches!(undo(&registry, &updated).await, Compensated::Restored { .. }));
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn a_write_to_a_table_with_a_trigger_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(
        dir.path(),
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER);
         CREATE TABLE audit (line TEXT);
         CREATE TRIGGER orders_audit AFTER UPDATE ON orders
             BEGIN INSERT INTO audit VALUES ('amount ' || new.amount); END;
         INSERT INTO orders VALUES (1, 10), (2, 20);",
    );
    let registry = sql(&db, 25);
    for query in [
        "UPDATE orders SET amount = 5 WHERE id = 1",
        "DELETE FROM orders WHERE id = 2",
        "INSERT INTO orders (id, amount) VALUES (3, 30)",
    ] {
        refused(&db, &registry, query, "trigger `orders_audit`").await;
    }
    // A non-reversible action runs it, trigger and all: nothing is promised to undo.
    let query = json!({ "query": "UPDATE orders SET amount = 5 WHERE id = 1" });
    let (outcome, effect) = execute(&registry, "sql_irreversible", query).await;
    assert_eq!(succeeded(&outcome)["rows_affected"], 1);
    assert!(effect.rollback_token.is_none());
}

#[tokio::test]
async fn a_table_with_on_conflict_replace_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(
        dir.path(),
        "CREATE TABLE kv (k TEXT PRIMARY KEY ON CONFLICT REPLACE, v TEXT);
         CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT,
                             UNIQUE (name) on conflict replace);
         CREATE TABLE flags (id INTEGER PRIMARY KEY,
                             flag TEXT NOT NULL ON CONFLICT REPLACE DEFAULT 'x');
         INSERT INTO kv VALUES ('a', 'human');
         INSERT INTO names VALUES (1, 'ada');
         INSERT INTO flags VALUES (1, 'y');",
    );
    let registry = sql(&db, 25);
    for query in [
        "INSERT INTO kv (k, v) VALUES ('a', 'agent')",
        "UPDATE kv SET v = 'agent' WHERE k = 'a'",
        "DELETE FROM kv WHERE k = 'a'",
        "INSERT INTO names (id, name) VALUES (2, 'ada')",
        "INSERT INTO flags (id, flag) VALUES (2, NULL)",
    ] {
        refused(&db, &registry, query, "ON CONFLICT REPLACE").await;
    }
    assert!(dump(&db).contains(&"kv|Text(\"a\")|Text(\"human\")".to_owned()));
}

/// `AUTOINCREMENT` writes `sqlite_sequence` on the side, which is no row of the agent's
/// and which the changes count leaves out: such tables stay undoable.
#[tokio::test]
async fn an_insert_into_an_autoincrement_table_is_still_undone() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(
        dir.path(),
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT);
         INSERT INTO tickets (title) VALUES ('first');",
    );
    let registry = sql(&db, 25);
    let before = dump(&db);
    let query = json!({ "query": "INSERT INTO tickets (title) VALUES ('second'), ('third')" });
    let (outcome, inserted) = execute(&registry, "sql_write", query).await;
    assert_eq!(succeeded(&outcome)["rows_affected"], 2);
    assert!(matches!(undo(&registry, &inserted).await, Compensated::Restored { .. }));
    let tickets: Vec<String> = dump(&db).into_iter().filter(|r| r.starts_with("tickets")).collect();
    let expected: Vec<String> = before.into_iter().filter(|r| r.starts_with("tickets")).collect();
    assert_eq!(tickets, expected);
}

#[tokio::test]
async fn an_undo_refuses_a_trigger_added_since_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(
        dir.path(),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE audit (line TEXT);
         INSERT INTO users VALUES (1, 'ada'), (2, 'bob');",
    );
    let registry = sql(&db, 25);
    let before = dump(&db);
    let query = json!({ "query": "DELETE FROM users WHERE id = 1" });
    let (outcome, deleted) = execute(&registry, "sql_write", query).await;
    assert_eq!(succeeded(&outcome)["rows_affected"], 1);
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER users_audit AFTER INSERT ON users
             BEGIN INSERT INTO audit VALUES ('restored ' || new.id); END;",
    )
    .unwrap();
    let after = dump(&db);
    let Compensated::Failed { error } = undo(&registry, &deleted).await else {
        panic!("the undo ran over a trigger");
    };
    assert!(error.contains("trigger `users_audit`"), "{error}");
    assert_eq!(dump(&db), after, "nothing was restored, nothing audited");
    conn.execute_batch("DROP TRIGGER users_audit").unwrap();
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Restored { .. }));
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn no_statement_of_any_action_may_touch_the_undo_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(
        dir.path(),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
         INSERT INTO users VALUES (1, 'ada'), (2, 'bob');",
    );
    let registry = sql(&db, 25);
    let query = json!({ "query": "DELETE FROM users WHERE id = 1" });
    let (_, deleted) = execute(&registry, "sql_write", query).await;
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Restored { .. }));
    let undo_rows = || {
        Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT group_concat(id || ':' || undone || ':' || sha256) FROM aecl_undo",
                [],
                |r| r.get::<_, String>(0),
            )
            .unwrap()
    };
    let records = undo_rows();
    for (action, query) in [
        ("sql_irreversible", "DELETE FROM aecl_undo AS u WHERE u.undone = 1"),
        ("sql_irreversible", "UPDATE aecl_undo SET undone = 0 WHERE undone = 1 RETURNING id"),
        (
            "sql_irreversible",
            "INSERT OR REPLACE INTO aecl_undo (id, record, sha256) VALUES ('x', '{}', 'y')",
        ),
        ("sql_irreversible", "UPDATE main.aecl_undo AS a SET undone = 0"),
        ("sql_irreversible", "UPDATE \"AECL_UNDO\" SET undone = 0"),
        ("sql_irreversible", "DROP TABLE aecl_undo"),
        ("sql_irreversible", "ALTER TABLE aecl_undo RENAME TO spent"),
        (
            "sql_irreversible",
            "CREATE TRIGGER t AFTER INSERT ON users BEGIN UPDATE aecl_undo SET undone = 0; END",
        ),
        ("sql_write", "DELETE FROM users WHERE id IN (SELECT 1 FROM aecl_undo)"),
        ("sql_read", "SELECT record FROM aecl_undo"),
        ("sql_read", "WITH r AS (SELECT * FROM main.aecl_undo) SELECT count(*) FROM r"),
    ] {
        let (outcome, _) = execute(&registry, action, json!({ "query": query })).await;
        let error = failed(&outcome);
        assert!(error.contains("aecl_undo"), "{query}: {error}");
    }
    assert_eq!(undo_rows(), records, "the undo records are as they were");
    // The spent record stays spent: the effect cannot be undone twice.
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Conflict { .. }));
}

#[tokio::test]
async fn a_runaway_recursive_query_is_stopped_at_the_statement_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(
        dir.path(),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
         INSERT INTO users VALUES (1, 'ada');",
    );
    let registry = sql(&db, 1);
    let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)";
    let before = dump(&db);
    for (action, query) in [
        ("sql_read", format!("{forever} SELECT count(*) FROM c")),
        // A write through the capture and through the plain path: interrupted, rolled back.
        ("sql_write", format!("DELETE FROM users WHERE id IN ({forever} SELECT count(*) FROM c)")),
        (
            "sql_irreversible",
            format!("INSERT INTO users (name) SELECT 'x' FROM ({forever} SELECT x FROM c)"),
        ),
    ] {
        let started = Instant::now();
        let (outcome, _) = execute(&registry, action, json!({ "query": query })).await;
        let took = started.elapsed();
        let error = failed(&outcome);
        assert!(error.starts_with("timed_out"), "{query}: {error}");
        assert!(took >= Duration::from_millis(900), "{query}: stopped before the limit: {took:?}");
        assert!(took < Duration::from_secs(10), "{query}: ran on for {took:?}");
    }
    assert_eq!(dump(&db), before, "the interrupted writes left nothing");
    // The connector still answers, and a quick statement is not interrupted.
    let (outcome, _) =
        execute(&registry, "sql_read", json!({ "query": "SELECT count(*) AS n FROM users" })).await;
    assert_eq!(succeeded(&outcome)["rows"], json!([{ "n": 1 }]));
}

/// The red team's F3: sqlparser prints SQLite's integer `0x10` as the blob `X'10'`, so the
/// statement that ran was not the one decided (`SELECT 0x10 + 1` answered 1, and a `DELETE
/// ... WHERE id = 0x10` would match other rows than written). Refused, nothing run.
#[tokio::test]
async fn a_statement_sqlparser_prints_otherwise_is_refused_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let db =
        database(dir.path(), "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (16);");
    let registry = sql(&db, 25);
    let before = dump(&db);
    for (action, query) in [
        ("sql_read", "SELECT 0x10 + 1 AS v"),
        ("sql_read", "SELECT count(*) AS v FROM t WHERE id = 0x10"),
        ("sql_irreversible", "DELETE FROM t WHERE id = 0x10"),
        ("sql_write", "DELETE FROM t WHERE id = 0x10"),
    ] {
        let (outcome, _) = execute(&registry, action, json!({ "query": query })).await;
        let error = failed(&outcome);
        assert!(error.contains("`0x10`") && error.contains("X'10'"), "{query}: {error}");
    }
    assert_eq!(dump(&db), before);
    // Written as it runs, it runs.
    let (outcome, _) =
        execute(&registry, "sql_read", json!({ "query": "SELECT 16 + 1 AS v" })).await;
    assert_eq!(succeeded(&outcome)["rows"], json!([{ "v": 17 }]));
}
