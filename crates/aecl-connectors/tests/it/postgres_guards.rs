//! The `sql` connector's refusals on a real PostgreSQL (see `pg.rs`): writes the server
//! would extend by itself (triggers, rules, cascading foreign keys, partitions' triggers,
//! functions writing elsewhere), any statement naming `aecl_undo`, and statements that
//! would run past the statement timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

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

fn sql(url: &str, timeout_secs: u64) -> crate::Registry {
    let config = SqlConfig { statement_timeout_secs: timeout_secs, ..SqlConfig::new("") };
    registry(vec![("db", Arc::new(SqlConnector::postgres(url, &config)))])
}

/// Every row of every user table but `aecl_undo`, as text.
async fn dump(db: &Client) -> Vec<String> {
    let tables = db
        .query(
            "SELECT c.oid::regclass::text FROM pg_class AS c
             JOIN pg_namespace AS n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname <> 'aecl_undo'
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let table: String = table.get(0);
        let rows = db
            .query(&format!("SELECT t::text FROM ONLY {table} AS t ORDER BY 1"), &[])
            .await
            .unwrap();
        out.extend(rows.iter().map(|r| format!("{table}: {}", r.get::<_, String>(0))));
    }
    out
}

/// Runs `query` as a reversible write: it must be refused as not undoable and change
/// nothing in any table.
async fn refused(db: &Client, registry: &crate::Registry, query: &str, why: &str) {
    let before = dump(db).await;
    let (outcome, _) = execute(registry, "sql_write", json!({ "query": query })).await;
    let error = failed(&outcome);
    assert!(error.starts_with("not_undoable") && error.contains(why), "{query}: {error}");
    assert_eq!(dump(db).await, before, "{query}: nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_the_server_would_extend_are_refused_before_they_run() {
    let url = postgres_url().await;
    let db = client(&url).await;
    db.batch_execute(
        "CREATE TABLE parents (id BIGINT PRIMARY KEY, code TEXT UNIQUE, name TEXT);
         CREATE TABLE children (id BIGINT PRIMARY KEY,
             parent BIGINT REFERENCES parents (id) ON DELETE CASCADE ON UPDATE CASCADE);
         CREATE TABLE pets (id BIGINT PRIMARY KEY,
             code TEXT REFERENCES parents (code) ON UPDATE SET NULL ON DELETE RESTRICT);
         INSERT INTO parents VALUES (1, 'a', 'ada'), (2, 'b', 'bob');
         INSERT INTO children VALUES (10, 1), (11, 2);
         INSERT INTO pets VALUES (5, 'b');
         CREATE TABLE orders (id BIGINT PRIMARY KEY, amount INT);
         CREATE TABLE audit (line TEXT);
         CREATE FUNCTION log_order() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO audit VALUES ('order ' || NEW.id); RETURN NEW; END $$;
         CREATE TRIGGER orders_audit AFTER UPDATE ON orders
             FOR EACH ROW EXECUTE FUNCTION log_order();
         INSERT INTO orders VALUES (1, 10);
         CREATE TABLE ruled (id BIGINT PRIMARY KEY, v TEXT);
         CREATE RULE ruled_log AS ON DELETE TO ruled DO ALSO INSERT INTO audit VALUES ('rule');
         INSERT INTO ruled VALUES (1, 'x');
         CREATE TABLE events (id BIGINT, at DATE, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
         CREATE TABLE events_2024 PARTITION OF events
             FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE TRIGGER events_audit AFTER DELETE ON events_2024
             FOR EACH ROW EXECUTE FUNCTION log_order();
         INSERT INTO events VALUES (1, '2024-06-01');
         CREATE TABLE base (id BIGINT PRIMARY KEY);
         CREATE TABLE derived (extra TEXT) INHERITS (base);
         INSERT INTO derived VALUES (1, 'kept only in derived');
         CREATE VIEW parent_names AS SELECT id, name FROM parents;
         CREATE FUNCTION sneaky() RETURNS boolean LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO audit VALUES ('sneaky'); RETURN TRUE; END $$;",
    )
    .await
    .unwrap();
    let registry = sql(&url, 25);
    refused(&db, &registry, "DELETE FROM parents WHERE id = 1", "children").await;
    refused(&db, &registry, "UPDATE parents SET code = 'z' WHERE id = 1", "pets").await;
    // An insert's undo is a delete, which would cascade to rows added meanwhile.
    refused(&db, &registry, "INSERT INTO parents (id, code) VALUES (3, 'c')", "children").await;
    refused(&db, &registry, "UPDATE orders SET amount = 5 WHERE id = 1", "orders_audit").await;
    refused(&db, &registry, "DELETE FROM ruled WHERE id = 1", "ruled_log").await;
    refused(&db, &registry, "DELETE FROM events WHERE id = 1", "events_audit").await;
    refused(&db, &registry, "DELETE FROM base WHERE id = 1", "inherits").await;
    refused(&db, &registry, "DELETE FROM parent_names WHERE id = 2", "not an ordinary").await;
    // A function the statement calls that writes elsewhere is caught by the transaction's
    // statistics, and rolled back.
    refused(&db, &registry, "DELETE FROM pets WHERE id = 5 AND sneaky()", "other tables").await;

    // What fires nothing runs and is undone, over the same tables.
    let before = dump(&db).await;
    let query = json!({ "query": "UPDATE parents SET name = 'eve' WHERE id = 1" });
    let (outcome, updated) = execute(&registry, "sql_write", query).await;
    assert_eq!(succeeded(&outcome)["rows_affected"], 1);
    let query = json!({ "query": "INSERT INTO children (id, parent) VALUES (13, 2)" });
    let (outcome, inserted) = execute(&registry, "sql_write", query).await;
    assert_eq!(succeeded(&outcome)["rows_affected"], 1);
    assert!(matches!(undo(&registry, &inserted).await, Compensated::Restored { .. }));
    assert!(matches!(undo(&registry, &updated).await, Compensated::Restored { .. }));
    assert_eq!(dump(&db).await, before);

    // A trigger added between the write and its undo stops the undo.
    let query = json!({ "query": "DELETE FROM children WHERE id = 11" });
    let (outcome, deleted) = execute(&registry, "sql_write", query).await;
    assert_eq!(succeeded(&outcome)["rows_affected"], 1);
    db.batch_execute(
        "CREATE TRIGGER children_audit AFTER INSERT ON children
             FOR EACH ROW EXECUTE FUNCTION log_order();",
    )
    .await
    .unwrap();
    let after = dump(&db).await;
    let Compensated::Failed { error } = undo(&registry, &deleted).await else {
        panic!("the undo ran over a trigger");
    };
    assert!(error.contains("children_audit"), "{error}");
    assert_eq!(dump(&db).await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_statement_may_touch_the_undo_table_and_runaway_queries_stop() {
    let url = postgres_url().await;
    let db = client(&url).await;
    db.batch_execute(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT);
         INSERT INTO users VALUES (1, 'ada'), (2, 'bob');",
    )
    .await
    .unwrap();
    let registry = sql(&url, 1);
    let query = json!({ "query": "DELETE FROM users WHERE id = 1" });
    let (_, deleted) = execute(&registry, "sql_write", query).await;
    let records = || async {
        db.query_one("SELECT string_agg(id || ':' || undone, ',') FROM aecl_undo", &[])
            .await
            .unwrap()
            .get::<_, String>(0)
    };
    let before = records().await;
    for (action, query) in [
        ("sql_irreversible", "DELETE FROM public.aecl_undo AS u WHERE TRUE"),
        ("sql_irreversible", "UPDATE aecl_undo SET undone = TRUE RETURNING id"),
        ("sql_irreversible", "TRUNCATE aecl_undo"),
        (
            "sql_irreversible",
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ DELETE FROM aecl_undo $$",
        ),
        ("sql_read", "SELECT * FROM \"aecl_undo\""),
    ] {
        let (outcome, _) = execute(&registry, action, json!({ "query": query })).await;
        let error = failed(&outcome);
        assert!(error.contains("aecl_undo"), "{query}: {error}");
    }
    assert_eq!(records().await, before);

    let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)";
    for (action, query) in [
        ("sql_read", format!("{forever} SELECT count(*) FROM c")),
        ("sql_write", format!("DELETE FROM users WHERE id IN ({forever} SELECT count(*) FROM c)")),
        ("sql_irreversible", format!("{forever} SELECT count(*) FROM c")),
    ] {
        let started = Instant::now();
        let (outcome, _) = execute(&registry, action, json!({ "query": query })).await;
        let took = started.elapsed();
        let error = failed(&outcome);
        assert!(error.starts_with("timed_out"), "{query}: {error}");
        assert!(took < Duration::from_secs(10), "{query}: ran on for {took:?}");
    }
    // No statement of the calls runs on in the server: a cancelled backend may take a
    // moment to report itself idle or to exit, not the seconds a runaway would.
    let active = || async {
        db.query(
            "SELECT query FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND backend_type = 'client backend' AND state = 'active'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
    };
    let mut busy = active().await;
    for _ in 0..20 {
        if busy.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        busy = active().await;
    }
    assert!(busy.is_empty(), "{busy:?}");
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Restored { .. }));
}

/// The red team's F3 on PostgreSQL: a statement sqlparser prints otherwise (`0x10`, read by
/// PostgreSQL 16 as 16, printed as the bit string `X'10'`; a `U&` string printed with its
/// escapes decoded) is refused and nothing runs; what is printed as written runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_sqlparser_prints_otherwise_is_refused_not_run() {
    let url = postgres_url().await;
    let db = client(&url).await;
    db.batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY); INSERT INTO t VALUES (16);")
        .await
        .unwrap();
    let registry = sql(&url, 25);
    let before = dump(&db).await;
    for (action, query, naming) in [
        ("sql_read", "SELECT 0x10 AS v", "`0x10`"),
        ("sql_irreversible", "DELETE FROM t WHERE id = 0x10", "`0x10`"),
        ("sql_read", "SELECT U&'d\\0061t\\+000061' AS v", "U&'data'"),
    ] {
        let (outcome, _) = execute(&registry, action, json!({ "query": query })).await;
        let error = failed(&outcome);
        assert!(error.contains(naming), "{query}: {error}");
    }
    assert_eq!(dump(&db).await, before);
    let query = json!({ "query": "SELECT id::text AS v FROM t WHERE id = 16 -- a note" });
    let (outcome, _) = execute(&registry, "sql_read", query).await;
    assert_eq!(succeeded(&outcome)["rows"], json!([{ "v": "16" }]));
}
