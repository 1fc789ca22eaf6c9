//! The latest human answer about a call is the one that holds, and a call runs at most
//! once per approval: asking again for a call voids its older grants, an answer (approve
//! or reject) voids every older grant of the call, a grant found unusable is never usable
//! later, and a request asked again closes the older one still pending. Each void is in
//! the audit log with its reason. The red team's F6 (one approval, two runs across policy
//! revisions) and F5 (a rejection overridden by an older grant after a policy revert).

use std::sync::Arc;

use aecl_core::{Call, Decision, Policy};
use aecl_engine::store::MemoryStore;
use aecl_engine::{ApprovalStatus, Engine, ManualClock};
use serde_json::json;

use crate::{Scripted, engine, policy, records};

/// The irreversible payment `pay` of run `r1`, under call id `id`: the same arguments
/// whatever the id, so every retry is the same call (one digest).
fn pay(id: &str) -> Call {
    Call {
        id: id.into(),
        agent: "worker".into(),
        run: "r1".into(),
        action: "pay".into(),
        args: json!({"id": "invoice-7", "value": 1}),
        ..Call::default()
    }
}

/// Two revisions of one policy (they differ in a run budget): `pay` needs approval in both.
fn revisions() -> (Arc<Policy>, Arc<Policy>) {
    let (a, b) = (policy(10, ""), policy(11, ""));
    assert_ne!(a.revision, b.revision);
    (a, b)
}

/// `pay` made under call id `id`: its decision and approval request.
async fn ask(
    engine: &Engine<MemoryStore>,
    connector: &Scripted,
    id: &str,
) -> (Decision, Option<String>, Vec<String>) {
    let done = engine.execute(pay(id), connector).await.unwrap();
    let rules = done.decided.verdict.reasons.iter().map(|r| r.rule.to_string()).collect();
    (done.decided.verdict.decision, done.decided.approval_id, rules)
}

/// The grants voided, as the audit log tells: (grant id, why).
async fn voids(engine: &Engine<MemoryStore>) -> Vec<(String, String)> {
    records(engine.store())
        .await
        .into_iter()
        .filter_map(|r| {
            let void = r.input.get("grant_voided")?;
            Some((void["grant"].as_str()?.to_owned(), void["why"].as_str()?.to_owned()))
        })
        .collect()
}

/// Past the window in which a retry is taken for a concurrent duplicate of the call that
/// spent a grant.
fn past_duplicate_window(clock: &ManualClock) {
    clock.advance_ms(aecl_engine::DUPLICATE_WINDOW_MS + 1_000);
}

#[tokio::test]
async fn one_approval_asked_again_after_a_policy_change_runs_the_call_once_f6() {
    let (a, b) = revisions();
    let (engine, clock) = engine(a.clone());
    let connector = Scripted::default();
    let (decision, r1, _) = ask(&engine, &connector, "c1").await;
    assert_eq!(decision, Decision::RequireApproval);
    let g1 = engine.approve(&r1.clone().unwrap(), "alice", Some("ok")).await.unwrap();

    // The policy changes: the grant is unusable, the call is asked again.
    engine.set_policy(b);
    let (decision, r2, rules) = ask(&engine, &connector, "c2").await;
    assert_eq!(decision, Decision::RequireApproval);
    assert!(rules.iter().any(|r| r == "approval.grant_unusable"), "{rules:?}");
    assert_ne!(r2, r1, "a new request");
    engine.approve(&r2.unwrap(), "bob", Some("pay it once")).await.unwrap();
    let (decision, _, _) = ask(&engine, &connector, "c3").await;
    assert_eq!(decision, Decision::Allow);
    assert_eq!(connector.executions(), 1);

    // The policy returns: the first approval must not run the call a second time.
    past_duplicate_window(&clock);
    engine.set_policy(a);
    let (decision, _, rules) = ask(&engine, &connector, "c4").await;
    assert_eq!(decision, Decision::RequireApproval, "{rules:?}");
    assert!(!rules.iter().any(|r| r == "approval.granted"), "{rules:?}");
    assert_eq!(connector.executions(), 1, "one approval ran the call twice");
    let voided = voids(&engine).await;
    assert!(voided.iter().any(|(id, _)| *id == g1.id), "G1's void is audited: {voided:?}");
}

#[tokio::test]
async fn a_rejection_is_not_overridden_by_an_older_grant_after_a_policy_revert_f5() {
    let (a, b) = revisions();
    let (engine, _) = engine(a.clone());
    let connector = Scripted::default();
    let (_, r1, _) = ask(&engine, &connector, "c1").await;
    let g1 = engine.approve(&r1.unwrap(), "alice", Some("ok")).await.unwrap();

    engine.set_policy(b);
    let (_, r2, _) = ask(&engine, &connector, "c2").await;
    engine.reject(&r2.unwrap(), "bob", "NO: do not pay").await.unwrap();
    let (decision, _, rules) = ask(&engine, &connector, "c3").await;
    assert_eq!(decision, Decision::Block, "{rules:?}");

    engine.set_policy(a);
    let (decision, _, rules) = ask(&engine, &connector, "c4").await;
    assert_eq!(decision, Decision::Block, "the rejection holds: {rules:?}");
    assert!(rules.iter().any(|r| r == "approval.rejected"), "{rules:?}");
    assert_eq!(connector.executions(), 0, "a rejected call ran on an older approval");
    let voided = voids(&engine).await;
    assert!(voided.iter().any(|(id, _)| *id == g1.id), "{voided:?}");
}

/// Asking again for a call closes its older request still pending: the approval of a
/// superseded question never makes a grant beside the answer to the newer one.
#[tokio::test]
async fn asking_again_closes_the_older_pending_request_of_the_call() {
    let (a, b) = revisions();
    let (engine, _) = engine(a);
    let connector = Scripted::default();
    let (_, r1, _) = ask(&engine, &connector, "c1").await;
    engine.set_policy(b);
    let (_, r2, _) = ask(&engine, &connector, "c2").await;
    assert_ne!(r1, r2);
    let closed = engine.approval(r1.as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!(closed.status, ApprovalStatus::Expired, "{closed:?}");
    assert!(closed.reason.as_deref().unwrap_or_default().contains(r2.as_deref().unwrap()));
    assert!(engine.approve(r1.as_deref().unwrap(), "alice", None).await.is_err());
    engine.reject(r2.as_deref().unwrap(), "bob", "no").await.unwrap();
    let (decision, _, rules) = ask(&engine, &connector, "c3").await;
    assert_eq!(decision, Decision::Block, "{rules:?}");
    assert_eq!(connector.executions(), 0);
}

#[tokio::test]
async fn a_grant_found_unusable_is_never_usable_later() {
    let (a, b) = revisions();
    let (engine, _) = engine(a.clone());
    let connector = Scripted::default();
    let (_, r1, _) = ask(&engine, &connector, "c1").await;
    let g1 = engine.approve(&r1.unwrap(), "alice", None).await.unwrap();
    engine.set_policy(b);
    let (_, r2, rules) = ask(&engine, &connector, "c2").await;
    assert!(rules.iter().any(|r| r == "approval.grant_unusable"), "{rules:?}");
    // Nobody answers the new request; it is withdrawn. The policy returns.
    assert!(engine.withdraw_approval(&r2.unwrap(), "cancelled").await.unwrap());
    engine.set_policy(a);
    let (decision, _, rules) = ask(&engine, &connector, "c3").await;
    assert_eq!(decision, Decision::RequireApproval, "{rules:?}");
    assert_eq!(connector.executions(), 0);
    let voided = voids(&engine).await;
    let why = voided.iter().find(|(id, _)| *id == g1.id).map(|(_, why)| why.as_str());
    assert!(why.is_some_and(|w| w.contains("policy revision")), "{voided:?}");
}
