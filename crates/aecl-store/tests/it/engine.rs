//! The engine's execute flow over a real store: decision before dispatch, the effect
//! ledger around it, idempotent retries, budgets released on failure, limits from policy.

use std::sync::Arc;

use aecl_audit::{AuditRecord, RecordKind, verify_log};
use aecl_core::{Decision, Timestamp};
use aecl_engine::{EffectState, Engine, EngineConfig, ManualClock, Store};
use aecl_store::SqliteStore;

use crate::support::{Counting, call, policy, sqlite_store, verifier};

fn new_engine(
    store: SqliteStore,
    max_calls: u32,
    limits: &str,
) -> (Engine<SqliteStore>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    let engine = Engine::new(
        Arc::new(store),
        policy(max_calls, limits),
        clock.clone(),
        EngineConfig::default(),
    );
    (engine, clock)
}

pub(crate) async fn records(store: &SqliteStore) -> Vec<AuditRecord> {
    let stored = store.audit_records(0, usize::MAX).await.unwrap();
    let checkpoints = store.audit_checkpoints().await.unwrap();
    assert_eq!(verify_log(stored.clone(), &checkpoints, &verifier()).problem, None);
    stored.iter().map(|(_, bytes, _)| AuditRecord::from_canonical(bytes).unwrap()).collect()
}

#[tokio::test]
async fn an_allowed_call_is_recorded_before_and_after_it_executes() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()), 10, "");
    let connector = Counting::default();
    let done = engine.execute(call("r1", "c1", Some("k1")), &connector).await.unwrap();
    assert_eq!(done.decided.verdict.decision, Decision::Allow);
    let effect = done.effect.unwrap();
    assert_eq!(effect.state, EffectState::Succeeded);
    assert!(!done.replayed);

    let log = records(engine.store()).await;
    let kinds: Vec<_> = log.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RecordKind::Decision, RecordKind::Outcome]);
    assert_eq!(log[1].effect_id.as_deref(), Some(effect.id.as_str()));
    assert_eq!(log[1].rollback_token, Some(format!("undo:{}", effect.id)));
    // The connector's result is redacted in the audit log and in the ledger.
    let output = log[1].output.to_string();
    assert!(!output.contains("abcdefghijklmnopqrstuvwxyz012345"), "{output}");
    assert!(!effect.result.to_string().contains("abcdefghijklmnopqrstuvwxyz012345"));
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_outcome_and_never_executes_again() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()), 10, "");
    let connector = Counting::default();
    let first = engine.execute(call("r1", "c1", Some("k1")), &connector).await.unwrap();
    let retry = engine.execute(call("r1", "c2", Some("k1")), &connector).await.unwrap();
    assert!(retry.replayed);
    assert_eq!(retry.effect.unwrap().id, first.effect.unwrap().id);
    assert_eq!(connector.executed.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn max_tool_calls_per_run_holds_under_concurrency_and_failures_release_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()), 5, "");
    let engine = Arc::new(engine);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            engine.evaluate(call("r1", &format!("c{i}"), None)).await.unwrap()
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap().verdict.decision == Decision::Allow);
    }
    assert_eq!(allowed, 5);
    assert_eq!(records(engine.store()).await.len(), 20);
}

#[tokio::test]
async fn a_budget_is_reserved_at_allow_and_released_when_the_execution_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(sqlite_store(dir.path()));
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    let engine =
        Engine::new(store, crate::support::budget_policy(100), clock, EngineConfig::default());
    let spend = |id: &str| {
        let mut call = call("r1", id, None);
        call.args = serde_json::json!({"id": id, "value": 60});
        call
    };
    let failing = Counting { fail: true, ..Counting::default() };
    let working = Counting::default();
    // 60 reserved, then released when the execution fails: the next 60 fits.
    assert_eq!(
        engine.execute(spend("c1"), &failing).await.unwrap().decided.verdict.decision,
        Decision::Allow
    );
    assert_eq!(
        engine.execute(spend("c2"), &working).await.unwrap().decided.verdict.decision,
        Decision::Allow
    );
    // 60 settled: another 60 would make 120 of 100.
    let over = engine.evaluate(spend("c3")).await.unwrap();
    assert_eq!(over.verdict.decision, Decision::Block);
    assert!(over.verdict.reasons.iter().any(|r| r.rule == "budget.max_amount_per_run"));
    // An allowed call that has not ended holds its reservation too.
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        Arc::new(sqlite_store(dir.path())),
        crate::support::budget_policy(100),
        Arc::new(ManualClock::new(Timestamp(1))),
        EngineConfig::default(),
    );
    assert_eq!(engine.evaluate(spend("c1")).await.unwrap().verdict.decision, Decision::Allow);
    assert_eq!(engine.evaluate(spend("c2")).await.unwrap().verdict.decision, Decision::Block);
}

#[tokio::test]
async fn a_failed_execution_is_recorded_and_not_retried_by_aecl() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()), 10, "");
    let connector = Counting { fail: true, ..Counting::default() };
    let done = engine.execute(call("r1", "c1", Some("k1")), &connector).await.unwrap();
    let effect = done.effect.unwrap();
    assert_eq!(effect.state, EffectState::Failed);
    assert_eq!(effect.error.as_deref(), Some("HTTP 503"));
    let log = records(engine.store()).await;
    assert_eq!(log[1].outcome, Some(aecl_audit::Outcome::Failed));
}

#[tokio::test]
async fn rate_and_concurrency_limits_from_policy_block_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) =
        new_engine(sqlite_store(dir.path()), 100, "rate = \"2/second\"\nburst = 2");
    let mut decisions = Vec::new();
    for i in 0..3 {
        decisions.push(engine.evaluate(call("r1", &format!("c{i}"), None)).await.unwrap());
    }
    assert_eq!(
        decisions.iter().map(|d| d.verdict.decision).collect::<Vec<_>>(),
        [Decision::Allow, Decision::Allow, Decision::Block]
    );
    let reason = decisions[2].verdict.reasons.iter().find(|r| r.rule == "limits.rate").unwrap();
    assert!(reason.message.contains("retry after"), "{}", reason.message);
    clock.advance_ms(500);
    assert_eq!(
        engine.evaluate(call("r1", "c3", None)).await.unwrap().verdict.decision,
        Decision::Allow
    );

    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()), 100, "concurrency = 1");
    assert_eq!(
        engine.evaluate(call("r1", "c1", None)).await.unwrap().verdict.decision,
        Decision::Allow
    );
    // c1 has not reported its result: a second call waits its turn.
    let second = engine.evaluate(call("r2", "c1", None)).await.unwrap();
    assert_eq!(second.verdict.decision, Decision::Block);
    assert!(second.verdict.reasons.iter().any(|r| r.rule == "limits.concurrency"));
    engine.record_result("r1", "worker", "c1", serde_json::json!({"ok": true})).await.unwrap();
    assert_eq!(
        engine.evaluate(call("r2", "c2", None)).await.unwrap().verdict.decision,
        Decision::Allow
    );
}

#[tokio::test]
async fn a_call_in_another_agents_run_is_refused_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()), 10, "");
    engine.evaluate(call("r1", "c1", None)).await.unwrap();
    let mut intruder = call("r1", "c2", None);
    intruder.agent = "someone_else".into();
    let error = engine.evaluate(intruder).await.unwrap_err();
    assert!(matches!(error, aecl_engine::EngineError::Identity(_)), "{error}");
    assert!(error.to_string().contains("belongs to agent `worker`"), "{error}");
    assert_eq!(engine.store().load_run("r1").await.unwrap().version, 1);
    assert_eq!(records(engine.store()).await.len(), 1);
}
