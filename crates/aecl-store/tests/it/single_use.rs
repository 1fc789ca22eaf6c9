//! A human's approval is used once, however many retries of the approved call race for it
//! (on one engine, or on two engines sharing PostgreSQL): its grant is spent by the commit
//! that records the one `allow`, every other retry stays `require_approval`
//! (`approval.grant_used`) and files no new request. And a call id names one call: reused
//! for other arguments it is a conflict, reused for the same ones a replay.

use std::sync::Arc;

use aecl_core::Decision;
use aecl_engine::{
    ApprovalStatus, EffectState, Engine, EngineConfig, EngineError, ManualClock, Store,
};
use tokio::task::JoinSet;

use crate::support::{Counting, clock, policy, policy_with, postgres_store, sqlite_store, write};

const ROUNDS: i64 = 20;
const RETRIES: usize = 10;

fn gated() -> Arc<aecl_core::Policy> {
    policy_with(10_000, "", "[context_rules]\nput_record = \"requires_human_approval\"\n")
}

fn engine<S: Store>(
    store: S,
    node: &str,
    policy: Arc<aecl_core::Policy>,
    clock: &Arc<ManualClock>,
) -> Arc<Engine<S>> {
    let clock = clock.clone();
    let config = EngineConfig { node: node.to_owned(), ..EngineConfig::default() };
    Arc::new(Engine::new(Arc::new(store), policy, clock, config))
}

/// `ROUNDS` rounds: a call is asked, approved, then retried `RETRIES` times at once,
/// alternating between `engines`. Exactly one retry per round is allowed and executed.
async fn race<S: Store>(engines: &[Arc<Engine<S>>], clock: &ManualClock) {
    let connector = Arc::new(Counting::default());
    for round in 0..ROUNDS {
        let first = &engines[0];
        let asked =
            first.execute(write(&format!("ask-{round}"), round), &*connector).await.unwrap();
        assert_eq!(asked.decided.verdict.decision, Decision::RequireApproval);
        let approval = asked.decided.approval_id.clone().unwrap();
        first.approve(&approval, "alice", None).await.unwrap();

        let mut retries = JoinSet::new();
        for i in 0..RETRIES {
            let (engine, connector) = (engines[i % engines.len()].clone(), connector.clone());
            retries.spawn(async move {
                engine.execute(write(&format!("retry-{round}-{i}"), round), &*connector).await
            });
        }
        let mut allowed = 0;
        while let Some(done) = retries.join_next().await {
            let executed = done.unwrap().unwrap();
            let verdict = &executed.decided.verdict;
            // Every answer names the one approval: nobody is asked again.
            assert_eq!(executed.decided.approval_id.as_deref(), Some(approval.as_str()));
            match verdict.decision {
                Decision::Allow => {
                    allowed += 1;
                    assert_eq!(executed.effect.unwrap().state, EffectState::Succeeded);
                }
                Decision::RequireApproval => {
                    assert!(executed.effect.is_none(), "{executed:?}");
                    assert!(
                        verdict.reasons.iter().any(|r| r.rule == "approval.grant_used"),
                        "{verdict:?}"
                    );
                }
                Decision::Block => panic!("blocked: {verdict:?}"),
            }
        }
        assert_eq!(allowed, 1, "round {round}");
        let ran = connector.executed.lock().unwrap().len();
        assert_eq!(ran, usize::try_from(round + 1).unwrap(), "one execution per round");
        let pending = first.approvals(true, 100).await.unwrap();
        assert!(pending.is_empty(), "no new request: {pending:?}");
        let answered = first.approval(&approval).await.unwrap().unwrap();
        assert_eq!(answered.status, ApprovalStatus::Approved);
    }
    // A retry that comes after the race, not during it, is a new call: it asks again.
    clock.advance_ms(aecl_engine::DUPLICATE_WINDOW_MS + 1);
    let later = engines[0].execute(write("later", 0), &*connector).await.unwrap();
    assert_eq!(later.decided.verdict.decision, Decision::RequireApproval);
    assert!(!later.decided.verdict.reasons.iter().any(|r| r.rule == "approval.grant_used"));
    assert_eq!(engines[0].approvals(true, 100).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_an_approved_call_run_it_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    race(&[engine(sqlite_store(dir.path()), "a", gated(), &clock)], &clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_an_approved_call_run_it_once_on_postgres() {
    let clock = clock();
    race(&[engine(postgres_store().await, "a", gated(), &clock)], &clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_on_two_replicas_run_an_approved_call_once() {
    let url = crate::pg::postgres_url().await;
    let open = || aecl_store::PostgresStore::open(&url, crate::support::audit_config());
    let (a, b) = (open().await.unwrap(), open().await.unwrap());
    let clock = clock();
    race(&[engine(a, "a", gated(), &clock), engine(b, "b", gated(), &clock)], &clock).await;
}

/// Approvers answering one request at the same moment (on `engines` in turn) make one
/// grant: one of them approves, the others find it answered, and the approved call then
/// runs once however often it is retried afterwards, each retry under a new call id.
async fn answers<S: Store>(engines: &[Arc<Engine<S>>], clock: &ManualClock) {
    let connector = Arc::new(Counting::default());
    for round in 0..5 {
        let first = &engines[0];
        let asked =
            first.execute(write(&format!("ask-{round}"), round), &*connector).await.unwrap();
        let approval = asked.decided.approval_id.clone().unwrap();
        let mut approvers = JoinSet::new();
        for i in 0..8 {
            let (engine, approval) = (engines[i % engines.len()].clone(), approval.clone());
            approvers.spawn(async move {
                engine.approve(&approval, &format!("approver-{i}"), None).await
            });
        }
        let mut approved = 0;
        while let Some(done) = approvers.join_next().await {
            approved += usize::from(done.unwrap().is_ok());
        }
        assert_eq!(approved, 1, "round {round}: one approver approves");
        let mut allowed = 0;
        for retry in 0..4 {
            // Apart in time: each retry is a new call, not a duplicate of the last one.
            clock.advance_ms(aecl_engine::DUPLICATE_WINDOW_MS + 1);
            let engine = &engines[retry % engines.len()];
            let again = write(&format!("retry-{round}-{retry}"), round);
            let executed = engine.execute(again, &*connector).await.unwrap();
            allowed += usize::from(executed.decided.verdict.decision == Decision::Allow);
        }
        assert_eq!(allowed, 1, "round {round}: the grant lets one call through");
        let ran = connector.executed.lock().unwrap().len();
        assert_eq!(ran, usize::try_from(round + 1).unwrap(), "one execution per approval");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approvers_answering_at_once_grant_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    answers(&[engine(sqlite_store(dir.path()), "a", gated(), &clock)], &clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approvers_answering_at_once_on_two_replicas_grant_once() {
    let url = crate::pg::postgres_url().await;
    let open = || aecl_store::PostgresStore::open(&url, crate::support::audit_config());
    let (a, b) = (open().await.unwrap(), open().await.unwrap());
    let clock = clock();
    answers(&[engine(a, "a", gated(), &clock), engine(b, "b", gated(), &clock)], &clock).await;
}

/// A call id reused for other arguments is refused (nothing runs, nothing is recorded for
/// it); reused for the same arguments it returns the first execution's effect.
async fn call_ids<S: Store>(store: S) {
    let engine = engine(store, "a", policy(100, ""), &clock());
    let connector = Counting::default();
    let first = engine.execute(write("c1", 5), &connector).await.unwrap();
    assert_eq!(first.decided.verdict.decision, Decision::Allow);
    let effect = first.effect.unwrap();

    let other = engine.execute(write("c1", 6), &connector).await.unwrap_err();
    assert!(matches!(other, EngineError::CallIdConflict { ref call_id, .. } if call_id == "c1"));
    let evaluated = engine.evaluate(write("c1", 7)).await.unwrap_err();
    assert!(matches!(evaluated, EngineError::CallIdConflict { .. }), "{evaluated}");

    let again = engine.execute(write("c1", 5), &connector).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.effect.as_ref().map(|e| &e.id), Some(&effect.id));
    assert!(again.decided.verdict.reasons.iter().any(|r| r.rule == "replay.call_id"));
    assert_eq!(connector.executed.lock().unwrap().len(), 1, "executed once");
    // Evaluating the same call again only records another decision.
    assert!(engine.evaluate(write("c1", 5)).await.is_ok());
}

#[tokio::test]
async fn a_reused_call_id_is_a_conflict_or_a_replay_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    call_ids(sqlite_store(dir.path())).await;
}

#[tokio::test]
async fn a_reused_call_id_is_a_conflict_or_a_replay_on_postgres() {
    call_ids(postgres_store().await).await;
}
