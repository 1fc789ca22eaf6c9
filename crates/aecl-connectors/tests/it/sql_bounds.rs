//! The bounds of the `sql` connector's undo record (red team F6), on SQLite and on
//! PostgreSQL: a reversible write changing more than `max_undo_rows` rows, or whose record
//! (rows before and after) would exceed `max_undo_bytes`, is refused and changes nothing;
//! under both bounds it runs and is undone exactly.

use std::path::Path;
use std::sync::Arc;

use aecl_connectors::sql::{SqlConfig, SqlConnector};
use aecl_engine::Compensated;
use rusqlite::Connection;
use serde_json::json;
use tokio_postgres::{Client, NoTls};

use crate::pg::postgres_url;
use crate::{execute, failed, registry, succeeded, undo};

/// Rows at most 10, records at most 64 KiB.
fn bounded() -> SqlConfig {
    SqlConfig { max_undo_rows: 10, max_undo_bytes: 64 * 1024, ..SqlConfig::new("") }
}

/// Asserts that `error` is the refusal of a bound, naming it.
fn refused(error: &str, limit: &str) {
    assert!(error.starts_with("not_undoable:") && error.contains(limit), "{error}");
}

/// `m` (id, v) and `items` (id, n) in `dir/app.db`: row 1 of `m` holds `v_bytes` bytes,
/// `items` holds `items` rows.
fn sqlite_db(dir: &Path, v_bytes: usize, items: usize) -> std::path::PathBuf {
    let path = dir.join("app.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE m (id INTEGER PRIMARY KEY, v BLOB);
         INSERT INTO m VALUES (1, zeroblob({v_bytes})), (2, x'01');
         CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER, pad TEXT);
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {items})
         INSERT INTO items SELECT x, x, 'p' FROM c;"
    ))
    .unwrap();
    path
}

/// Every row of `m` and `items`, and how many undo records were kept.
fn sqlite_dump(path: &Path) -> (Vec<String>, i64) {
    let conn = Connection::open(path).unwrap();
    let mut rows = Vec::new();
    for sql in [
        "SELECT 'm|' || id || '|' || hex(v) FROM m ORDER BY id",
        "SELECT 'items|' || id || '|' || n || pad FROM items ORDER BY id",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        rows.extend(stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap));
    }
    let records = conn
        .query_row("SELECT count(*) FROM aecl_undo WHERE sha256 <> 'fence'", [], |r| r.get(0))
        .unwrap_or(0);
    (rows, records)
}

fn sqlite(path: &Path, config: &SqlConfig) -> crate::Registry {
    registry(vec![("db", Arc::new(SqlConnector::sqlite(path.to_owned(), config)))])
}

#[tokio::test]
async fn sqlite_a_write_over_max_undo_rows_is_refused_with_nothing_changed() {
    // The red team's case: 1,500 rows against the default bound of 1,000.
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path(), 1, 1500);
    let registry = sqlite(&db, &SqlConfig::new(""));
    let before = sqlite_dump(&db);
    for (query, outcome) in [
        ("UPDATE items SET n = 0", "nothing was executed"),
        ("DELETE FROM items WHERE n > 100", "nothing was executed"),
        ("INSERT INTO items SELECT id + 10000, n, pad FROM items", "rolled back"),
    ] {
        let (result, _) = execute(&registry, "sql_write", json!({ "query": query })).await;
        let error = failed(&result);
        refused(error, "more than 1000 rows");
        assert!(error.contains("max_undo_rows") && error.contains(outcome), "{query}: {error}");
        assert_eq!(sqlite_dump(&db), before, "{query} changed nothing");
    }
    // An irreversible action keeps no record, and is not bound by it.
    let (result, _) =
        execute(&registry, "sql_irreversible", json!({ "query": "UPDATE items SET n = 0" })).await;
    assert_eq!(succeeded(&result)["rows_affected"], 1500);
}

#[tokio::test]
async fn sqlite_a_write_whose_pre_or_post_image_is_over_max_undo_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path(), 100_000, 5);
    let registry = sqlite(&db, &bounded());
    let before = sqlite_dump(&db);
    for (query, outcome) in [
        // The rows before are too large: measured, refused before anything runs.
        ("UPDATE m SET v = x'00' WHERE id = 1", "nothing was executed"),
        ("DELETE FROM m WHERE id = 1", "nothing was executed"),
        // The rows after are: the statement is rolled back.
        ("UPDATE m SET v = zeroblob(300000) WHERE id = 2", "rolled back"),
        ("INSERT INTO m VALUES (3, zeroblob(300000))", "rolled back"),
        // Small rows adding up: each under the bound, together over it.
        ("UPDATE items SET pad = hex(zeroblob(20000))", "rolled back"),
        // Values under the bound whose record is not (base64 of a blob, JSON escapes).
        ("UPDATE m SET v = zeroblob(60000) WHERE id = 2", "rolled back"),
    ] {
        let (result, _) = execute(&registry, "sql_write", json!({ "query": query })).await;
        let error = failed(&result);
        refused(error, "would exceed 65536 bytes (`max_undo_bytes`)");
        assert!(error.contains(outcome), "{query}: {error}");
        assert_eq!(sqlite_dump(&db), before, "{query} changed nothing");
    }
}

#[tokio::test]
async fn sqlite_a_write_under_both_bounds_runs_and_is_undone_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path(), 10_000, 10);
    let registry = sqlite(&db, &bounded());
    let before = sqlite_dump(&db);
    let mut effects = Vec::new();
    for query in [
        "UPDATE items SET n = n * 2, pad = hex(zeroblob(500))",
        "DELETE FROM m WHERE id = 1",
        "INSERT INTO m VALUES (3, zeroblob(20000))",
    ] {
        let (result, effect) = execute(&registry, "sql_write", json!({ "query": query })).await;
        succeeded(&result);
        effects.push(effect);
    }
    assert_ne!(sqlite_dump(&db).0, before.0);
    for effect in effects.iter().rev() {
        assert!(matches!(undo(&registry, effect).await, Compensated::Restored { .. }));
    }
    assert_eq!(sqlite_dump(&db).0, before.0, "every row is back exactly");
}

async fn client(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Every row of `m` and `items`, and how many undo records were kept.
async fn pg_dump(db: &Client) -> (Vec<String>, i64) {
    let rows = db
        .query(
            "SELECT 'm|' || id || '|' || md5(v) FROM m
             UNION ALL SELECT 'items|' || id || '|' || n || pad FROM items ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let records =
        match db.query_one("SELECT count(*) FROM aecl_undo WHERE sha256 <> 'fence'", &[]).await {
            Ok(row) => row.get(0),
            Err(_) => 0,
        };
    (rows.iter().map(|r| r.get(0)).collect(), records)
}

/// `m` (id, v) with row 1 of `v_bytes` characters, and `items` of `items` rows.
async fn pg_db(v_bytes: usize, items: usize) -> (String, Client) {
    let url = postgres_url().await;
    let db = client(&url).await;
    db.batch_execute(&format!(
        "CREATE TABLE m (id INT PRIMARY KEY, v TEXT);
         INSERT INTO m VALUES (1, repeat('x', {v_bytes})), (2, 'y');
         CREATE TABLE items (id INT PRIMARY KEY, n INT, pad TEXT);
         INSERT INTO items SELECT x, x, 'p' FROM generate_series(1, {items}) AS x;"
    ))
    .await
    .unwrap();
    (url, db)
}

fn postgres(url: &str, config: &SqlConfig) -> crate::Registry {
    registry(vec![("db", Arc::new(SqlConnector::postgres(url, config)))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_write_over_max_undo_rows_is_refused_with_nothing_changed() {
    let (url, db) = pg_db(1, 11).await;
    let registry = postgres(&url, &bounded());
    let before = pg_dump(&db).await;
    for (query, outcome) in [
        ("UPDATE items SET n = 0", "nothing was executed"),
        ("DELETE FROM items", "nothing was executed"),
        ("INSERT INTO items SELECT id + 100, n, pad FROM items", "rolled back"),
    ] {
        let (result, _) = execute(&registry, "sql_write", json!({ "query": query })).await;
        let error = failed(&result);
        refused(error, "more than 10 rows");
        assert!(error.contains(outcome), "{query}: {error}");
        assert_eq!(pg_dump(&db).await, before, "{query} changed nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_write_whose_pre_or_post_image_is_over_max_undo_bytes_is_refused() {
    let (url, db) = pg_db(100_000, 5).await;
    let registry = postgres(&url, &bounded());
    let before = pg_dump(&db).await;
    for (query, outcome) in [
        ("UPDATE m SET v = 'z' WHERE id = 1", "nothing was executed"),
        ("DELETE FROM m WHERE id = 1", "nothing was executed"),
        ("UPDATE m SET v = repeat('z', 300000) WHERE id = 2", "rolled back"),
        ("INSERT INTO m VALUES (3, repeat('z', 300000))", "rolled back"),
        ("UPDATE items SET pad = repeat('z', 20000)", "rolled back"),
        // Under the bound as a row's JSON, over it as a record (each `\"` escaped again).
        ("UPDATE m SET v = repeat('\"', 30000) WHERE id = 2", "rolled back"),
    ] {
        let (result, _) = execute(&registry, "sql_write", json!({ "query": query })).await;
        let error = failed(&result);
        refused(error, "would exceed 65536 bytes (`max_undo_bytes`)");
        assert!(error.contains(outcome), "{query}: {error}");
        assert_eq!(pg_dump(&db).await, before, "{query} changed nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_write_under_both_bounds_runs_and_is_undone_exactly() {
    let (url, db) = pg_db(10_000, 10).await;
    let registry = postgres(&url, &bounded());
    let before = pg_dump(&db).await;
    let mut effects = Vec::new();
    for query in [
        "UPDATE items SET n = n * 2, pad = repeat('q', 500)",
        "DELETE FROM m WHERE id = 1",
        "INSERT INTO m VALUES (3, repeat('w', 20000))",
    ] {
        let (result, effect) = execute(&registry, "sql_write", json!({ "query": query })).await;
        succeeded(&result);
        effects.push(effect);
    }
    assert_ne!(pg_dump(&db).await.0, before.0);
    for effect in effects.iter().rev() {
        assert!(matches!(undo(&registry, effect).await, Compensated::Restored { .. }));
    }
    assert_eq!(pg_dump(&db).await.0, before.0, "every row is back exactly");
}
