//! Durable append throughput of the audit log: records per second acknowledged by
//! `Store::append_audit` (each one committed, fsynced and under a signed checkpoint before
//! its producer hears back) with 1, 16 and 64 concurrent producers, on SQLite and on
//! PostgreSQL. The baseline, measured in the same run on the same disk or server, is the
//! naive way: one transaction and one fsync per record, one producer.
//!
//! `cargo bench -p aecl-store --bench append` runs each case for 3 seconds; under
//! `cargo test --benches` each case appends a few records so the suite only checks that it
//! works. PostgreSQL is the private server of the tests (`aecl_testkit::pg`), or
//! `AECL_TEST_POSTGRES_URL`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aecl_engine::Store;
use aecl_store::{AuditConfig, PostgresStore, SqliteStore};
use aecl_testkit::audit::{ORIGIN, record, signer};
use aecl_testkit::pg;

fn audit_config() -> AuditConfig {
    AuditConfig { origin: ORIGIN.to_owned(), signer: signer(), publish: None }
}

/// Records per second from `producers` tasks appending for `length`.
async fn throughput<S: Store + Clone>(
    store: &S,
    producers: usize,
    length: Duration,
    quick: bool,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..producers {
        let (store, stop, count) = (store.clone(), stop.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            // Quick runs (under `cargo test`) append three records per producer.
            let most = if quick { 3 } else { usize::MAX };
            let mut i = 0;
            while i < most && !stop.load(Ordering::Relaxed) {
                store.append_audit(record(p, i)).await.unwrap();
                count.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// One `INSERT` + `COMMIT` (one fsync) per record, one producer: the naive SQLite log.
fn sqlite_baseline(dir: &std::path::Path, length: Duration) -> f64 {
    let db = rusqlite::Connection::open(dir.join("naive.db")).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE log (seq INTEGER PRIMARY KEY, record BLOB NOT NULL)",
    )
    .unwrap();
    let bytes = record(0, 0).to_canonical().unwrap();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < length {
        db.execute("INSERT INTO log (seq, record) VALUES (?1, ?2)", (n as i64, &bytes)).unwrap();
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// The same on PostgreSQL: one autocommitted `INSERT` per record.
async fn postgres_baseline(url: &str, length: Duration) -> f64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("CREATE TABLE naive_log (seq BIGINT PRIMARY KEY, record BYTEA NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    let bytes = record(0, 0).to_canonical().unwrap();
    let started = Instant::now();
    let mut n = 0i64;
    while started.elapsed() < length {
        sqlx::query("INSERT INTO naive_log (seq, record) VALUES ($1, $2)")
            .bind(n)
            .bind(&bytes)
            .execute(&mut conn)
            .await
            .unwrap();
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn row(case: &str, rate: f64, baseline: f64) {
    println!("{case:<44} {rate:>12.0} {:>10.1}", rate / baseline);
}

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let length = if quick { Duration::from_millis(50) } else { Duration::from_secs(3) };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        println!("{:<44} {:>12} {:>10}", "case", "records/s", "vs naive");
        let dir = tempfile::tempdir().unwrap();
        let baseline = sqlite_baseline(dir.path(), length);
        row("sqlite naive: 1 commit per record", baseline, baseline);
        for producers in [1, 16, 64] {
            let sub = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(&sub.path().join("aecl.db"), audit_config()).unwrap();
            let rate = throughput(&store, producers, length, quick).await;
            row(&format!("sqlite group commit, {producers} producers"), rate, baseline);
        }

        let url = pg::postgres_url().await;
        let baseline = postgres_baseline(&url, length).await;
        row("postgres naive: 1 commit per record", baseline, baseline);
        for producers in [1, 16, 64] {
            let url = pg::postgres_url().await;
            let store = PostgresStore::open(&url, audit_config()).await.unwrap();
            let rate = throughput(&store, producers, length, quick).await;
            row(&format!("postgres group commit, {producers} producers"), rate, baseline);
        }
    });
}
