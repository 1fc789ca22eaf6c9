//! PostgreSQL answers the decision path's commonest statements for many requests at once
//! (`postgres/batch.rs`): plain run appends and revocation checks waiting together share one
//! statement. The contract suite checks each request's answer; these check that requests
//! are shared, and that sharing reads no older state than a request of its own would.

use aecl_core::Timestamp;
use aecl_engine::{Committed, Store};
use aecl_store::PostgresStore;
use sqlx::Connection;

use crate::pg::postgres_url;
use crate::support::{audit_config, plain_commit};

/// Appends to many runs made at once are committed in fewer transactions than appends
/// (each row's `xmin` names its transaction), and every one is appended.
#[tokio::test]
async fn appends_made_at_once_share_transactions() {
    const RUNS: usize = 32;
    let url = postgres_url().await;
    let store = PostgresStore::open(&url, audit_config()).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RUNS {
        let store = store.clone();
        tasks.spawn(async move { store.commit_run_event(plain_commit(&format!("run-{i}"))).await });
    }
    for answer in tasks.join_all().await {
        assert!(matches!(answer.unwrap(), Committed::Done { version: 1, .. }));
    }
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let (events, transactions): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT xmin::text) FROM run_events")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(events, RUNS as i64);
    assert!(transactions < RUNS as i64, "{RUNS} appends in {transactions} transactions");
}

/// A revocation committed by another connection (another replica) is seen by the next
/// check, however many checks are made around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_committed_elsewhere_is_seen_by_every_later_check() {
    let url = postgres_url().await;
    let store = PostgresStore::open(&url, audit_config()).await.unwrap();
    let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
    let background = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..400 {
                store.revoked_credential(&[format!("jti:noise-{i}")]).await.unwrap();
            }
        })
    };
    for i in 0..20 {
        let id = format!("jti:t-{i}");
        assert_eq!(store.revoked_credential(std::slice::from_ref(&id)).await.unwrap(), None);
        sqlx::query(
            "INSERT INTO revoked_credentials (id, revoked_at, revoked_by) VALUES ($1, $2, 'root')",
        )
        .bind(&id)
        .bind(i64::try_from(Timestamp(1).0).unwrap())
        .execute(&mut other)
        .await
        .unwrap();
        assert_eq!(
            store.revoked_credential(std::slice::from_ref(&id)).await.unwrap(),
            Some(id.clone()),
            "a revocation committed before the check"
        );
    }
    background.await.unwrap();
}

/// A run's row held by a transaction that does not end (another instance stalled in the
/// middle of a commit) costs the commits to that run an error, after the batchers' lock
/// timeout, and not the commits to other runs that were queued with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_locked_elsewhere_holds_up_only_its_own_commits() {
    let url = postgres_url().await;
    let store = PostgresStore::open(&url, audit_config()).await.unwrap();
    let first = store.commit_run_event(plain_commit("held")).await.unwrap();
    assert!(matches!(first, Committed::Done { version: 1, .. }));
    let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut stalled = other.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM runs WHERE run = 'held' FOR UPDATE")
        .execute(&mut *stalled)
        .await
        .unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for run in ["held", "free-0", "free-1", "free-2", "free-3", "free-4"] {
        let store = store.clone();
        let expected = u64::from(run == "held");
        let commit = aecl_engine::RunCommit { expected_version: expected, ..plain_commit(run) };
        tasks.spawn(async move { (run, store.commit_run_event(commit).await) });
    }
    let answers = tokio::time::timeout(std::time::Duration::from_secs(20), tasks.join_all())
        .await
        .expect("the commits are answered while the run stays locked");
    for (run, answer) in answers {
        if run == "held" {
            let error = answer.expect_err("the held run's commit waits out the lock timeout");
            assert!(error.to_string().contains("lock timeout"), "{error}");
        } else {
            assert!(matches!(answer, Ok(Committed::Done { version: 1, .. })), "{run}: {answer:?}");
        }
    }
    // Released, the run takes its commit.
    stalled.rollback().await.unwrap();
    let again = aecl_engine::RunCommit { expected_version: 1, ..plain_commit("held") };
    assert!(matches!(store.commit_run_event(again).await, Ok(Committed::Done { version: 2, .. })));
}
