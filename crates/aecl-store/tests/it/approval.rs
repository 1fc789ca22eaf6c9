//! The approval gate over a real store: a call that needs a human waits with a durable
//! request, an approver's grant lets exactly that call through once, and everything else
//! (self-approval, a changed argument, a second use, expiry, a changed policy) is refused.

use std::sync::Arc;

use aecl_audit::RecordKind;
use aecl_core::{Decision, Policy, Stage, Timestamp};
use aecl_engine::{ApprovalStatus, EffectState, Engine, EngineConfig, EngineError, ManualClock};
use aecl_store::SqliteStore;
use serde_json::json;

use crate::engine::records;
use crate::support::{Counting, policy_with, sqlite_store, write};

/// `put_record` needs a human's approval for `worker`.
fn gated_policy(max_calls: u32) -> Arc<Policy> {
    policy_with(max_calls, "", "[context_rules]\nput_record = \"requires_human_approval\"\n")
}

fn new_engine(store: SqliteStore) -> (Engine<SqliteStore>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    let engine =
        Engine::new(Arc::new(store), gated_policy(10), clock.clone(), EngineConfig::default());
    (engine, clock)
}

#[tokio::test]
async fn a_risky_call_waits_for_an_approver_and_then_executes_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = new_engine(sqlite_store(dir.path()));
    let connector = Counting::default();

    let asked = engine.execute(write("c1", 5), &connector).await.unwrap();
    assert_eq!(asked.decided.verdict.decision, Decision::RequireApproval);
    assert!(asked.effect.is_none());
    let approval_id = asked.decided.approval_id.clone().expect("an approval request");
    let pending = engine.approval(&approval_id).await.unwrap().unwrap();
    assert_eq!(pending.status, ApprovalStatus::Pending);
    assert_eq!(pending.body["call"]["args"], json!({"id": "rec-1", "value": 5}));
    assert_eq!(pending.body["verdict"]["decision"], "require_approval");
    let listed = engine.approvals(true, 10).await.unwrap();
    assert_eq!(listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), [approval_id.as_str()]);
    assert!(connector.executed.lock().unwrap().is_empty(), "nothing runs before approval");

    let grant = engine.approve(&approval_id, "alice", Some("expected payment")).await.unwrap();
    assert_eq!(grant.approval_id.as_deref(), Some(approval_id.as_str()));
    assert!(engine.approvals(true, 10).await.unwrap().is_empty());

    // The agent retries the same call (a new call id, the same arguments).
    let done = engine.execute(write("c2", 5), &connector).await.unwrap();
    assert_eq!(done.decided.verdict.decision, Decision::Allow);
    assert_eq!(done.decided.approval_id.as_deref(), Some(approval_id.as_str()));
    assert!(done.decided.verdict.reasons.iter().any(|r| r.rule == "approval.granted"));
    assert_eq!(done.effect.unwrap().state, EffectState::Succeeded);
    assert_eq!(connector.executed.lock().unwrap().len(), 1);

    // The grant is spent: the same call again, later, is a new request, and nothing runs.
    // (A retry within the duplicate window is a duplicate of the call that spent it:
    // `single_use.rs`.)
    clock.advance_ms(aecl_engine::DUPLICATE_WINDOW_MS + 1);
    let again = engine.execute(write("c3", 5), &connector).await.unwrap();
    assert_eq!(again.decided.verdict.decision, Decision::RequireApproval);
    assert!(again.effect.is_none());
    assert_ne!(again.decided.approval_id, Some(approval_id.clone()));
    assert_eq!(connector.executed.lock().unwrap().len(), 1);

    let log = records(engine.store()).await;
    let answers: Vec<_> = log.iter().filter(|r| r.kind == RecordKind::Approval).collect();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].approval_id.as_deref(), Some(approval_id.as_str()));
    assert_eq!(answers[0].input["by"], "alice");
    let decisions: Vec<_> = log.iter().filter(|r| r.kind == RecordKind::Decision).collect();
    assert_eq!(decisions[0].approval_id.as_deref(), Some(approval_id.as_str()));
}

#[tokio::test]
async fn a_changed_argument_finds_no_grant() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()));
    let connector = Counting::default();
    let asked = engine.execute(write("c1", 5), &connector).await.unwrap();
    engine.approve(asked.decided.approval_id.as_deref().unwrap(), "alice", None).await.unwrap();

    let changed = engine.execute(write("c2", 500), &connector).await.unwrap();
    assert_eq!(changed.decided.verdict.decision, Decision::RequireApproval);
    assert!(changed.effect.is_none());
    assert!(connector.executed.lock().unwrap().is_empty());
    // The approved call itself still goes through.
    let approved = engine.execute(write("c3", 5), &connector).await.unwrap();
    assert_eq!(approved.decided.verdict.decision, Decision::Allow);
}

#[tokio::test]
async fn nobody_answers_a_request_made_with_their_own_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()));
    let asked = engine.execute(write("c1", 5), &Counting::default()).await.unwrap();
    let id = asked.decided.approval_id.unwrap();
    let refused = engine.approve(&id, "worker", None).await.unwrap_err();
    assert!(matches!(refused, EngineError::SelfApproval { .. }), "{refused}");
    let refused = engine.reject(&id, "worker", "no").await.unwrap_err();
    assert!(matches!(refused, EngineError::SelfApproval { .. }), "{refused}");
    assert_eq!(engine.approval(&id).await.unwrap().unwrap().status, ApprovalStatus::Pending);
}

#[tokio::test]
async fn a_rejected_or_resolved_request_cannot_be_answered_again() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()));
    let connector = Counting::default();
    let asked = engine.execute(write("c1", 5), &connector).await.unwrap();
    let id = asked.decided.approval_id.unwrap();
    let rejected = engine.reject(&id, "bob", "not this vendor").await.unwrap();
    assert_eq!(rejected.status, ApprovalStatus::Rejected);
    assert_eq!(rejected.reason.as_deref(), Some("not this vendor"));
    let late = engine.approve(&id, "alice", None).await.unwrap_err();
    assert!(matches!(late, EngineError::ApprovalClosed { status: "rejected", .. }), "{late}");
    // No grant was made, and within the rejection's cool-down (600 s by default) the same
    // call is answered `rejected` with the first reason, asking nobody again: nothing runs.
    let retry = engine.execute(write("c2", 5), &connector).await.unwrap();
    assert_eq!(retry.decided.verdict.decision, Decision::Block);
    let reason = retry.decided.verdict.reasons.iter().find(|r| r.rule == "approval.rejected");
    assert!(
        reason.is_some_and(|r| r.message.contains("not this vendor")),
        "{:?}",
        retry.decided.verdict.reasons
    );
    assert!(engine.approvals(true, 10).await.unwrap().is_empty(), "nobody is asked again");
    assert!(connector.executed.lock().unwrap().is_empty());
    assert!(matches!(
        engine.approve("no-such-request", "alice", None).await,
        Err(EngineError::ApprovalNotFound(_))
    ));
}

#[tokio::test]
async fn an_unanswered_request_expires_and_an_expired_grant_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = new_engine(sqlite_store(dir.path()));
    let connector = Counting::default();
    let asked = engine.execute(write("c1", 5), &connector).await.unwrap();
    let id = asked.decided.approval_id.unwrap();
    clock.advance_ms(3_601_000);
    assert_eq!(engine.approval(&id).await.unwrap().unwrap().status, ApprovalStatus::Expired);
    let late = engine.approve(&id, "alice", None).await.unwrap_err();
    assert!(matches!(late, EngineError::ApprovalClosed { status: "expired", .. }), "{late}");

    // A grant used after its expiry is named and not used.
    let asked = engine.execute(write("c2", 5), &connector).await.unwrap();
    engine.approve(asked.decided.approval_id.as_deref().unwrap(), "alice", None).await.unwrap();
    clock.advance_ms(3_601_000);
    let retry = engine.execute(write("c3", 5), &connector).await.unwrap();
    assert_eq!(retry.decided.verdict.decision, Decision::RequireApproval);
    let unusable = retry.decided.verdict.reasons.iter().find(|r| r.stage == Stage::Approval);
    assert!(unusable.unwrap().message.contains("expired"), "{unusable:?}");
    assert!(connector.executed.lock().unwrap().is_empty());
    let log = records(engine.store()).await;
    let expired = log.iter().find(|r| r.kind == RecordKind::Approval).unwrap();
    assert_eq!(expired.input["status"], "expired");
}

#[tokio::test]
async fn a_grant_given_under_another_policy_revision_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()));
    let connector = Counting::default();
    let asked = engine.execute(write("c1", 5), &connector).await.unwrap();
    engine.approve(asked.decided.approval_id.as_deref().unwrap(), "alice", None).await.unwrap();
    let changed = gated_policy(11);
    assert_ne!(changed.revision, engine.policy().revision);
    engine.set_policy(changed);

    let retry = engine.execute(write("c2", 5), &connector).await.unwrap();
    assert_eq!(retry.decided.verdict.decision, Decision::RequireApproval);
    let unusable = retry.decided.verdict.reasons.iter().find(|r| r.stage == Stage::Approval);
    assert!(unusable.unwrap().message.contains("another policy revision"), "{unusable:?}");
    assert!(connector.executed.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_grant_lets_through_only_its_one_call_when_retries_race() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = new_engine(sqlite_store(dir.path()));
    let engine = Arc::new(engine);
    let connector = Arc::new(Counting::default());
    let asked = engine.execute(write("c1", 5), connector.as_ref()).await.unwrap();
    engine.approve(asked.decided.approval_id.as_deref().unwrap(), "alice", None).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (engine, connector) = (engine.clone(), connector.clone());
        tasks.push(tokio::spawn(async move {
            engine.execute(write(&format!("r{i}"), 5), connector.as_ref()).await.unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(connector.executed.lock().unwrap().len(), 1);
}
