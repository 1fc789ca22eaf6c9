//! The `sql` connector on a real PostgreSQL (a private cluster, see `pg.rs`): pre-images
//! through `to_jsonb`, restored through `jsonb_populate_record`, checked by the server.

use std::sync::Arc;

use aecl_connectors::sql::{SqlConfig, SqlConnector};
use aecl_engine::Compensated;
use serde_json::json;
use tokio_postgres::{Client, NoTls};

use crate::pg::postgres_url;
use crate::{execute, failed, registry, succeeded, undo};

async fn client(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Every row of `users` as text, in key order.
async fn dump(client: &Client) -> Vec<String> {
    client
        .query("SELECT u::text FROM users AS u ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_updates_and_inserts_are_undone_and_conflicts_touch_nothing() {
    let url = postgres_url().await;
    let db = client(&url).await;
    db.batch_execute(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, last_login DATE,
                             balance NUMERIC(30, 10), tags TEXT[], profile JSONB);
         INSERT INTO users VALUES
           (1, 'ada', '2022-03-01', 12345678901234567890.0123456789, '{a,b}', '{\"k\": [1, 2]}'),
           (2, 'bob', '2024-01-10', NULL, NULL, NULL),
           (3, 'cy', '2021-12-31', -2.25, '{}', '[]'),
           (4, 'di', '2023-06-30', 0.1, '{x}', '{}');",
    )
    .await
    .unwrap();
    let config = SqlConfig { max_rows: 10, ..SqlConfig::new("") };
    let registry = registry(vec![("db", Arc::new(SqlConnector::postgres(&url, &config)))]);
    let before = dump(&db).await;

    let query = json!({ "query": "DELETE FROM users WHERE last_login < '2023-01-01'" });
    let (outcome, deleted) = execute(&registry, "sql_write", query).await;
    assert_eq!(succeeded(&outcome), &json!({ "rows_affected": 2 }));
    assert_eq!(dump(&db).await.len(), 2);

    // Someone re-creates row 3: conflict, nothing restored.
    db.execute("INSERT INTO users (id, name) VALUES (3, 'other')", &[]).await.unwrap();
    let changed = dump(&db).await;
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Conflict { .. }));
    assert_eq!(dump(&db).await, changed);
    db.execute("DELETE FROM users WHERE id = 3", &[]).await.unwrap();
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Restored { .. }));
    assert_eq!(dump(&db).await, before, "every value came back exactly (NUMERIC, arrays, JSONB)");
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Conflict { .. }));

    let query = json!({ "query": "UPDATE users SET balance = balance * 2, name = upper(name) WHERE id IN (1, 4)" });
    let (outcome, updated) = execute(&registry, "sql_write", query).await;
    assert_eq!(succeeded(&outcome)["rows_affected"], 2);
    let query = json!({ "query": "INSERT INTO users (id, name) VALUES (9, 'new')" });
    let (_, inserted) = execute(&registry, "sql_write", query).await;
    db.execute("UPDATE users SET name = 'changed' WHERE id = 9", &[]).await.unwrap();
    assert!(matches!(undo(&registry, &inserted).await, Compensated::Conflict { .. }));
    db.execute("UPDATE users SET name = 'new' WHERE id = 9", &[]).await.unwrap();
    assert!(matches!(undo(&registry, &inserted).await, Compensated::Restored { .. }));
    assert!(matches!(undo(&registry, &updated).await, Compensated::Restored { .. }));
    assert_eq!(dump(&db).await, before);

    // Reads come back as objects; a table without a primary key cannot be undone.
    let (outcome, _) = execute(
        &registry,
        "sql_write",
        json!({ "query": "SELECT id, name FROM users WHERE id = 2" }),
    )
    .await;
    assert_eq!(succeeded(&outcome)["rows"], json!([{ "id": 2, "name": "bob" }]));
    db.batch_execute("CREATE TABLE log (line TEXT); INSERT INTO log VALUES ('a')").await.unwrap();
    let (outcome, _) = execute(&registry, "sql_write", json!({ "query": "DELETE FROM log" })).await;
    assert!(failed(&outcome).contains("no primary key"));
    assert_eq!(db.query_one("SELECT count(*) FROM log", &[]).await.unwrap().get::<_, i64>(0), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_is_bounded_by_its_bytes_as_by_its_rows() {
    // Red team, 2026-11-30: one read of 16 MB cells grew the server by 150 MB.
    let url = postgres_url().await;
    let config = SqlConfig { max_rows: 100, max_read_bytes: 1000, ..SqlConfig::new("") };
    let registry = registry(vec![("db", Arc::new(SqlConnector::postgres(&url, &config)))]);
    let query = "SELECT g AS id, CASE WHEN g = 3 THEN repeat('x', 16000000) ELSE 'a' END AS v \
                 FROM generate_series(1, 5) AS g ORDER BY g";
    let (outcome, _) = execute(&registry, "sql_write", json!({ "query": query })).await;
    let result = succeeded(&outcome);
    assert_eq!(result["truncated"], true, "{result}");
    assert_eq!(result["rows"], json!([{ "id": 1, "v": "a" }, { "id": 2, "v": "a" }]));
    let small = "SELECT g AS id FROM generate_series(1, 5) AS g";
    let (outcome, _) = execute(&registry, "sql_write", json!({ "query": small })).await;
    let result = succeeded(&outcome);
    assert_eq!(
        (result["row_count"].clone(), result["truncated"].clone()),
        (json!(5), json!(false))
    );
}
