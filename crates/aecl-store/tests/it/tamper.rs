//! The audit log's tamper matrix (`aecl_testkit::tamper`) on real stores:
//! a log written by the SQLite and the PostgreSQL writer, with every checkpoint published
//! through the writer's `CheckpointSink`, then each case's log written over the store's
//! tables with SQL (as an attacker with write access to the database would) and read back
//! through the store's reader for verification.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aecl_audit::{AddCheckpoint, CheckpointSink, LogState, Problem, verify_log_with};
use aecl_engine::Store as _;
use aecl_store::{AuditConfig, PostgresStore, SqliteStore};

use crate::support::{ORIGIN, record, signer, verifier};

use aecl_testkit::tamper::{Keys, Log, run_matrix, sizes};

/// Records written: one commit (and one checkpoint) each.
const N: usize = 24;

/// Keeps what the writer publishes.
#[derive(Debug, Default)]
struct Collect(Mutex<Vec<AddCheckpoint>>);

impl CheckpointSink for Collect {
    fn publish(&self, request: AddCheckpoint) {
        self.0.lock().unwrap().push(request);
    }
}

fn config(sink: &Arc<Collect>) -> AuditConfig {
    AuditConfig { origin: ORIGIN.to_owned(), signer: signer(), publish: Some(sink.clone()) }
}

/// What the store can hold: its records' numbers and its checkpoints' sizes are primary
/// keys read in order.
fn representable(log: &Log) -> bool {
    log.records.windows(2).all(|w| w[0].0 < w[1].0)
        && sizes(&log.checkpoints).windows(2).all(|w| w[0] < w[1])
}

fn head_row(head: &LogState) -> (i64, Vec<u8>, Vec<u8>) {
    (head.next_seq() as i64, head.head().to_vec(), head.range().nodes().concat())
}

fn published(sink: &Collect) -> Vec<Vec<u8>> {
    let requests = sink.0.lock().unwrap();
    assert_eq!(requests.len(), N, "one publication per commit");
    // Each proof starts where the one before ended.
    for pair in requests.windows(2) {
        let before = aecl_audit::Checkpoint::parse_body(&format!(
            "{}\n",
            pair[0].checkpoint.split_once("\n\n").unwrap().0
        ))
        .unwrap();
        assert_eq!(pair[1].old_size, before.size);
    }
    requests.iter().map(|r| r.to_text().into_bytes()).collect()
}

fn verify(log: &Log, read: &aecl_audit::VerifyOptions<'_>, stored: Stored) -> Option<Problem> {
    let _ = log;
    verify_log_with(stored.records, &stored.checkpoints, &verifier(), read).problem
}

/// A log as read back through a store's reader.
struct Stored {
    records: Vec<aecl_audit::StoredRecord>,
    checkpoints: Vec<String>,
    head: LogState,
}

fn options<'a>(log: &'a Log, head: LogState, with: bool) -> aecl_audit::VerifyOptions<'a> {
    aecl_audit::VerifyOptions {
        published: if with { &log.published } else { &[] },
        head: Some(head),
        origin: Some(ORIGIN),
        ..aecl_audit::VerifyOptions::default()
    }
}

// ---- SQLite ----

fn sqlite_write(path: &Path, log: &Log) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "DELETE FROM audit_log; DELETE FROM audit_checkpoints; DELETE FROM audit_head;",
    )
    .unwrap();
    for (seq, bytes, hash) in &log.records {
        tx.execute(
            "INSERT INTO audit_log (seq, record, chain_hash) VALUES (?1, ?2, ?3)",
            (*seq as i64, bytes, hash.as_slice()),
        )
        .unwrap();
    }
    // Each note under the size it states: a key that disagrees is the reader's to refuse
    // (`a_checkpoint_under_another_size_is_refused_by_the_readers`).
    for (size, note) in sizes(&log.checkpoints).into_iter().zip(&log.checkpoints) {
        tx.execute(
            "INSERT INTO audit_checkpoints (size, note) VALUES (?1, ?2)",
            (size as i64, note),
        )
        .unwrap();
    }
    if log.head != LogState::new() {
        tx.execute(
            "INSERT INTO audit_head (id, size, head, nodes) VALUES (1, ?1, ?2, ?3)",
            head_row(&log.head),
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn sqlite_read(path: &Path) -> Stored {
    let reader = SqliteStore::open_read_only(path).unwrap();
    Stored {
        records: reader.audit_records(0, usize::MAX >> 1).unwrap(),
        checkpoints: reader.audit_checkpoints().unwrap(),
        head: reader.audit_head().unwrap(),
    }
}

#[test]
fn the_tamper_matrix_is_named_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("aecl.db");
    let sink = Arc::new(Collect::default());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&original, config(&sink)).unwrap();
        for i in 0..N {
            store.append_audit(record(0, i)).await.unwrap();
        }
    });
    let stored = sqlite_read(&original);
    let log = Log {
        records: stored.records,
        checkpoints: stored.checkpoints,
        head: stored.head,
        published: published(&sink),
    };
    // Each case on its own copy of the database.
    let copies = std::sync::atomic::AtomicUsize::new(0);
    let copy = |log: &Log| -> PathBuf {
        let n = copies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.path().join(format!("case-{n}.db"));
        let conn = rusqlite::Connection::open(&original).unwrap();
        conn.execute("VACUUM INTO ?1", [path.display().to_string()]).unwrap();
        sqlite_write(&path, log);
        path
    };
    let keys = Keys { real: signer() };
    let ran = run_matrix(&log, &keys, representable, |log, with| {
        let stored = sqlite_read(&copy(log));
        let head = stored.head.clone();
        verify(log, &options(log, head, with), stored)
    });
    assert!(ran >= 30, "only {ran} cases ran on SQLite");
}

// ---- PostgreSQL ----

async fn pg_write(pool: &sqlx::PgPool, log: &Log) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("DELETE FROM audit_log").execute(&mut *tx).await.unwrap();
    sqlx::query("DELETE FROM audit_checkpoints").execute(&mut *tx).await.unwrap();
    sqlx::query("DELETE FROM audit_head").execute(&mut *tx).await.unwrap();
    for (seq, bytes, hash) in &log.records {
        sqlx::query("INSERT INTO audit_log (seq, record, chain_hash) VALUES ($1, $2, $3)")
            .bind(*seq as i64)
            .bind(bytes)
            .bind(hash.to_vec())
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for (size, note) in sizes(&log.checkpoints).into_iter().zip(&log.checkpoints) {
        sqlx::query("INSERT INTO audit_checkpoints (size, note) VALUES ($1, $2)")
            .bind(size as i64)
            .bind(note)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    if log.head != LogState::new() {
        let (size, head, nodes) = head_row(&log.head);
        sqlx::query("INSERT INTO audit_head (id, size, head, nodes) VALUES (1, $1, $2, $3)")
            .bind(size)
            .bind(head)
            .bind(nodes)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn pg_read(reader: &aecl_store::PostgresReader) -> Stored {
    Stored {
        records: reader.audit_records(0, 1 << 20).await.unwrap(),
        checkpoints: reader.audit_checkpoints().await.unwrap(),
        head: reader.audit_head().await.unwrap(),
    }
}

#[test]
fn the_tamper_matrix_is_named_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sink = Arc::new(Collect::default());
    let (url, log) = runtime.block_on(async {
        let url = crate::pg::postgres_url().await;
        let store = PostgresStore::open(&url, config(&sink)).await.unwrap();
        for i in 0..N {
            store.append_audit(record(0, i)).await.unwrap();
        }
        let reader = PostgresStore::open_reader(&url).await.unwrap();
        let stored = pg_read(&reader).await;
        (url, stored)
    });
    let log = Log {
        records: log.records,
        checkpoints: log.checkpoints,
        head: log.head,
        published: published(&sink),
    };
    let (pool, reader) = runtime.block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        (pool, PostgresStore::open_reader(&url).await.unwrap())
    });
    let keys = Keys { real: signer() };
    let ran = run_matrix(&log, &keys, representable, |tampered, with| {
        runtime.block_on(async {
            pg_write(&pool, tampered).await;
            let stored = pg_read(&reader).await;
            let head = stored.head.clone();
            verify(tampered, &options(tampered, head, with), stored)
        })
    });
    assert!(ran >= 30, "only {ran} cases ran on PostgreSQL");
}

/// A checkpoint row's key is the size its note states: the writers find the newest
/// checkpoint by that key, and the note's signature does not cover it. A key changed in
/// place (or a note moved under another) is refused by every reader, with the table named,
/// and `aecl audit verify` reads that as a log that does not verify.
#[test]
fn a_checkpoint_under_another_size_is_refused_by_the_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aecl.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sink = Arc::new(Collect::default());
    runtime.block_on(async {
        let store = SqliteStore::open(&path, config(&sink)).unwrap();
        for i in 0..4 {
            store.append_audit(record(0, i)).await.unwrap();
        }
    });
    assert_eq!(sqlite_read(&path).checkpoints.len(), 4);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE audit_checkpoints SET size = 9 WHERE size = 2", []).unwrap();
    let error = SqliteStore::open_read_only(&path).unwrap().audit_checkpoints().unwrap_err();
    assert!(error.to_string().contains("stored under size 9 is a checkpoint of size 2"), "{error}");

    runtime.block_on(async {
        let url = crate::pg::postgres_url().await;
        let store = PostgresStore::open(&url, config(&sink)).await.unwrap();
        for i in 0..4 {
            store.append_audit(record(0, i)).await.unwrap();
        }
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        // The newest note moved under an older size's key, the older one dropped.
        sqlx::query("DELETE FROM audit_checkpoints WHERE size = 3").execute(&pool).await.unwrap();
        sqlx::query("UPDATE audit_checkpoints SET size = 3 WHERE size = 4")
            .execute(&pool)
            .await
            .unwrap();
        let reader = PostgresStore::open_reader(&url).await.unwrap();
        let error = reader.audit_checkpoints().await.unwrap_err();
        assert!(
            error.to_string().contains("stored under size 3 is a checkpoint of size 4"),
            "{error}"
        );
    });
}
