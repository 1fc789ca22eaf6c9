//! Replicas: two engine instances, each with its own `PostgresStore` on one database, keep
//! every guarantee of a single instance. A run's budget holds across them, an idempotency
//! key executes once, a grant is spent once, the audit log has one verifiable history,
//! and instances that start at once migrate the schema once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aecl_audit::verify_log;
use aecl_core::policy::Revision;
use aecl_core::{Call, CallDigest, Decision, Policy, Stage, Timestamp};
use aecl_engine::{
    BoxFuture, Connector, ConnectorOutcome, EffectState, Engine, EngineConfig, Grant, GrantRefusal,
    Invocation, Store, StoreError, SystemClock,
};
use aecl_policy::SourceFile;
use aecl_store::{AnyStore, PostgresStore, StoreUrl};
use serde_json::json;
use sqlx::Connection;
use tokio::task::JoinSet;

use crate::pg::postgres_url;
use crate::support::{audit_config, record, verifier};

const MANIFEST: &str = r#"
agent_id = "mailer"
allowed_actions = ["send_email"]
max_tool_calls_per_run = 50
"#;

const CATALOG: &str = r#"
[actions.send_email]
description = "Send an email to a colleague."
effect = "read"
connector = "http"
"#;

/// The policy, written as a directory and loaded from its files like the CLI does.
fn policy() -> Arc<Policy> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("agents")).unwrap();
    std::fs::write(dir.path().join("agents/mailer.toml"), MANIFEST).unwrap();
    std::fs::write(dir.path().join("catalog.toml"), CATALOG).unwrap();
    let files: Vec<SourceFile> = ["agents/mailer.toml", "catalog.toml"]
        .into_iter()
        .map(|name| SourceFile {
            path: name.to_owned(),
            text: std::fs::read_to_string(dir.path().join(name)).unwrap(),
        })
        .collect();
    Arc::new(aecl_policy::load(&files).unwrap().policy)
}

type Replica = Arc<Engine<PostgresStore>>;

/// Two engines with distinct node names, each over its own store on the database `url`.
async fn replicas(url: &str) -> (Replica, Replica) {
    let policy = policy();
    let engine = |store: PostgresStore, node: &str| {
        let config = EngineConfig { node: node.to_owned(), ..EngineConfig::default() };
        Arc::new(Engine::new(Arc::new(store), policy.clone(), Arc::new(SystemClock), config))
    };
    let (a, b) = tokio::join!(
        PostgresStore::open(url, audit_config()),
        PostgresStore::open(url, audit_config())
    );
    (engine(a.unwrap(), "replica-a"), engine(b.unwrap(), "replica-b"))
}

fn email(run: &str, id: &str, key: Option<&str>) -> Call {
    Call {
        id: id.to_owned(),
        agent: "mailer".to_owned(),
        run: run.to_owned(),
        action: "send_email".to_owned(),
        args: json!({ "to": "ops@example.com", "subject": format!("report {id}") }),
        idempotency_key: key.map(str::to_owned),
        ..Call::default()
    }
}

/// A connector that counts its executions.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

impl Connector for Counting {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        let effect_id = invocation.effect_id;
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            // Long enough for the other replica to arrive while this one executes.
            tokio::time::sleep(Duration::from_millis(20)).await;
            ConnectorOutcome::Succeeded {
                result: json!({ "sent": effect_id }),
                rollback_token: None,
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_budget_holds_across_replicas() {
    let url = postgres_url().await;
    let (a, b) = replicas(&url).await;
    let mut calls = JoinSet::new();
    for i in 0..120 {
        let engine = if i % 2 == 0 { a.clone() } else { b.clone() };
        calls.spawn(async move {
            engine.evaluate(email("run-1", &format!("c{i}"), None)).await.unwrap()
        });
    }
    let decided = calls.join_all().await;

    let allowed = decided.iter().filter(|d| d.verdict.decision == Decision::Allow).count();
    assert_eq!(allowed, 50);
    for d in decided.iter().filter(|d| d.verdict.decision != Decision::Allow) {
        assert_eq!(d.verdict.decision, Decision::Block);
        assert!(
            d.verdict.reasons.iter().any(|r| r.stage == Stage::Budget),
            "{:?}",
            d.verdict.reasons
        );
    }
    assert_eq!(a.store().load_run("run-1").await.unwrap().version, 120);

    // One audit record per decision, numbered 0..120 whichever replica wrote it.
    let seqs: BTreeSet<u64> = decided.iter().map(|d| d.audit_seq).collect();
    assert_eq!(seqs, (0..120).collect());
    let records = a.store().audit_records(0, 1_000).await.unwrap();
    assert_eq!(records.iter().map(|r| r.0).collect::<Vec<_>>(), (0..120).collect::<Vec<_>>());
    let checkpoints = b.store().audit_checkpoints().await.unwrap();
    let report = verify_log(records, &checkpoints, &verifier());
    assert_eq!(report.problem, None);
    assert_eq!(report.size, 120);
    assert_eq!(report.latest.map(|c| c.size), Some(120));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_executes_once_across_replicas() {
    let url = postgres_url().await;
    let (a, b) = replicas(&url).await;
    let connector = Arc::new(Counting::default());
    let rounds = 10;
    for round in 0..rounds {
        let key = format!("send-report-{round}");
        let mut both = JoinSet::new();
        for (engine, id) in [(a.clone(), format!("a{round}")), (b.clone(), format!("b{round}"))] {
            let (connector, key) = (connector.clone(), key.clone());
            both.spawn(async move {
                // The same call (same arguments) under the same key, through each replica.
                let mut call = email("run-2", "x", Some(&key));
                call.id = id;
                engine.execute(call, connector.as_ref()).await.unwrap()
            });
        }
        let executed = both.join_all().await;
        assert_eq!(connector.0.load(Ordering::SeqCst), round + 1, "round {round}: executed twice");
        assert_eq!(executed.iter().filter(|e| !e.replayed).count(), 1, "round {round}");
        let stored = a.store().effect_by_key("run-2", &key).await.unwrap().unwrap();
        assert_eq!(b.store().effect_by_key("run-2", &key).await.unwrap().as_ref(), Some(&stored));
        // Both answers carry the one effect: the retry waited for the first call's outcome.
        for e in &executed {
            let effect = e.effect.as_ref().unwrap_or_else(|| panic!("round {round}: no effect"));
            assert_eq!(effect.id, stored.id, "round {round}");
            assert_eq!(effect.state, EffectState::Succeeded, "round {round}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_grant_is_spent_once_across_replicas() {
    let url = postgres_url().await;
    let (a, b) = tokio::join!(
        PostgresStore::open(&url, audit_config()),
        PostgresStore::open(&url, audit_config())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let digest = CallDigest("d".repeat(64));
    let revision = Revision("r1".to_owned());
    a.put_grant(Grant {
        id: "g-1".to_owned(),
        approval_id: None,
        call_digest: digest.clone(),
        policy_revision: revision.clone(),
        expires: Timestamp(u64::MAX / 2),
        signature: None,
    })
    .await
    .unwrap();
    let mut spends = JoinSet::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (digest, revision) = (digest.clone(), revision.clone());
        spends.spawn(async move {
            store.consume_grant("g-1", &digest, &revision, Timestamp(1_000)).await.unwrap()
        });
    }
    let outcomes = spends.join_all().await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(outcomes.iter().filter(|o| o.is_err()).all(|o| o == &Err(GrantRefusal::AlreadyUsed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_at_once_migrate_once() {
    let url = postgres_url().await;
    let mut opening = JoinSet::new();
    for _ in 0..4 {
        let url = url.clone();
        opening.spawn(async move { PostgresStore::open(&url, audit_config()).await.unwrap() });
    }
    let stores = opening.join_all().await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let versions: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM aecl_schema ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let expected = [
        (1, "initial"),
        (2, "grant_digest"),
        (3, "standing_grants"),
        (4, "approval_digest"),
        (5, "revoked_credentials"),
        (6, "grant_voids"),
        (7, "append_event"),
        (8, "append_events"),
        (9, "append_audit"),
        (10, "append_audit_at_end"),
        (11, "append_audit_signed_end"),
        (12, "grant_signature"),
        (13, "rollback_seal"),
    ];
    assert_eq!(versions, expected.map(|(v, name)| (v, name.to_owned())));
    // Each store appends; together they make one log.
    for (i, store) in stores.iter().enumerate() {
        store.append_audit(record(i, 0)).await.unwrap();
    }
    let records = stores[0].audit_records(0, 100).await.unwrap();
    let checkpoints = stores[3].audit_checkpoints().await.unwrap();
    let report = verify_log(records, &checkpoints, &verifier());
    assert_eq!((report.problem, report.size), (None, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_newer_than_this_build_is_refused() {
    let url = postgres_url().await;
    drop(PostgresStore::open(&url, audit_config()).await.unwrap());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO aecl_schema (version, name) VALUES (99, 'from the future')")
        .execute(&mut conn)
        .await
        .unwrap();
    let refused = PostgresStore::open(&url, audit_config()).await.unwrap_err();
    assert!(matches!(refused, StoreError::SchemaTooNew { found: 99, known: 13 }), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_reads_the_log_without_a_key() {
    let url = postgres_url().await;
    assert!(PostgresStore::open_reader(&url).await.is_err(), "an empty database has no log");
    let store = AnyStore::open(&StoreUrl::parse(&url).unwrap(), audit_config()).await.unwrap();
    assert!(matches!(store, AnyStore::Postgres(_)));
    for i in 0..5 {
        assert_eq!(store.append_audit(record(0, i)).await.unwrap(), i as u64);
    }
    let reader = PostgresStore::open_reader(&url).await.unwrap();
    let records = reader.audit_records(0, 100).await.unwrap();
    let checkpoints = reader.audit_checkpoints().await.unwrap();
    let report = verify_log(records, &checkpoints, &verifier());
    assert_eq!((report.problem, report.size), (None, 5));
}
