//! The PostgreSQL store when the server drops its connections (a restart, an
//! administrator's `pg_terminate_backend`): a request on a dropped connection is an error,
//! never an answer, each dropped connection costs at most that one error, and the store
//! then works again without a restart, its audit log and batched statements included.

use aecl_audit::verify_log;
use aecl_engine::{Committed, Store, StoreError};
use aecl_store::PostgresStore;
use sqlx::Connection;

use crate::pg::postgres_url;
use crate::support::{audit_config, plain_commit, record, verifier};

/// The store's pool size (`postgres/mod.rs`), and one more.
const MOST_ERRORS: usize = 16 + 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_dropped_cost_at_most_one_error_each() {
    let url = postgres_url().await;
    let store = PostgresStore::open(&url, audit_config()).await.unwrap();
    // Several connections in the pool, all used within the last second (not pinged again).
    let mut warming = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        warming.spawn(async move { store.load_run(&format!("r{i}")).await.map(|_| ()) });
    }
    assert!(warming.join_all().await.iter().all(Result::is_ok));
    store.append_audit(record(0, 0)).await.unwrap();
    // The connections of the batched statements (`postgres/batch.rs`), kept out of the pool.
    store.commit_run_event(plain_commit("warm")).await.unwrap();
    assert_eq!(store.revoked_credential(&["jti:t".to_owned()]).await.unwrap(), None);

    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let others =
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    let dropped: i64 =
        sqlx::query_scalar(&format!("SELECT count(pg_terminate_backend(pid)) {others}"))
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(dropped >= 2, "the store held {dropped} connections");
    for _ in 0..200 {
        let left: i64 = sqlx::query_scalar(&format!("SELECT count(*) {others}"))
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let mut errors = 0;
    loop {
        match store.load_run("r0").await {
            Ok(run) => {
                assert_eq!(run.version, 0);
                break;
            }
            Err(StoreError::Backend(_)) => errors += 1,
            Err(other) => panic!("a dropped connection is a backend error, got {other}"),
        }
        assert!(errors <= MOST_ERRORS, "still failing after {errors} errors");
    }
    for _ in 0..20 {
        store.load_run("r0").await.expect("the pool works again");
    }
    let mut appended = None;
    for i in 1..=MOST_ERRORS {
        if let Ok(seq) = store.append_audit(record(0, i)).await {
            appended = Some(seq);
            break;
        }
    }
    assert_eq!(appended, Some(1), "the log goes on from its stored head");
    // Each batcher's own connection costs at most its one error.
    let mut commits = Vec::new();
    for i in 0..2 {
        commits.push(store.commit_run_event(plain_commit(&format!("after-{i}"))).await);
    }
    assert!(matches!(commits[1], Ok(Committed::Done { version: 1, .. })), "{commits:?}");
    let mut checks = Vec::new();
    for _ in 0..2 {
        checks.push(store.revoked_credential(&["jti:t".to_owned()]).await);
    }
    assert!(matches!(checks[1], Ok(None)), "{checks:?}");
    let records = store.audit_records(0, 10).await.unwrap();
    let report = verify_log(records, &store.audit_checkpoints().await.unwrap(), &verifier());
    assert_eq!((report.problem, report.size), (None, 2));
}
