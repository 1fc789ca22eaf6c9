//! The latest answer about a call holds on a real store (the red team's F6 and F5): a call
//! asked again after a policy change and approved again runs once, and a rejection of the
//! newer request holds after the policy returns to the revision of an older approval. On
//! SQLite and on PostgreSQL, with the voids in the audit log.

use std::sync::Arc;

use aecl_audit::AuditRecord;
use aecl_core::{Call, Decision, Policy, Timestamp};
use aecl_engine::{Engine, EngineConfig, ManualClock, Store};
use serde_json::json;

use crate::support::{Counting, policy_with, sqlite_store, verifier};

/// `put_record` needs a human's approval; revisions differ in the run budget only.
fn gated(max_calls: u32) -> Arc<Policy> {
    policy_with(max_calls, "", "[context_rules]\nput_record = \"requires_human_approval\"\n")
}

/// The same call whatever its id.
fn put(id: &str) -> Call {
    Call {
        id: id.into(),
        agent: "worker".into(),
        run: "r1".into(),
        action: "put_record".into(),
        args: json!({"id": "rec-1", "value": 5}),
        ..Call::default()
    }
}

async fn voids<S: Store>(store: &S) -> Vec<String> {
    let stored = store.audit_records(0, usize::MAX).await.unwrap();
    let checkpoints = store.audit_checkpoints().await.unwrap();
    assert_eq!(aecl_audit::verify_log(stored.clone(), &checkpoints, &verifier()).problem, None);
    stored
        .iter()
        .map(|(_, bytes, _)| AuditRecord::from_canonical(bytes).unwrap())
        .filter_map(|r| Some(r.input.get("grant_voided")?["grant"].as_str()?.to_owned()))
        .collect()
}

async fn the_latest_answer_holds<S: Store>(store: S) {
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    let (a, b) = (gated(10), gated(11));
    let engine = Engine::new(Arc::new(store), a.clone(), clock.clone(), EngineConfig::default());
    let connector = Counting::default();
    let decision = |done: &aecl_engine::Executed| done.decided.verdict.decision;

    // F6: approved under A, asked again and approved under B, runs once; back under A,
    // the first approval does not run it again.
    let r1 = engine.execute(put("c1"), &connector).await.unwrap().decided.approval_id.unwrap();
    let g1 = engine.approve(&r1, "alice", None).await.unwrap();
    engine.set_policy(b.clone());
    let asked = engine.execute(put("c2"), &connector).await.unwrap();
    assert_eq!(decision(&asked), Decision::RequireApproval);
    engine.approve(&asked.decided.approval_id.unwrap(), "bob", None).await.unwrap();
    assert_eq!(decision(&engine.execute(put("c3"), &connector).await.unwrap()), Decision::Allow);
    clock.advance_ms(aecl_engine::DUPLICATE_WINDOW_MS + 1_000);
    engine.set_policy(a.clone());
    let again = engine.execute(put("c4"), &connector).await.unwrap();
    assert_eq!(decision(&again), Decision::RequireApproval, "{:?}", again.decided.verdict);
    assert_eq!(connector.executed.lock().unwrap().len(), 1, "one approval, one run");
    assert!(voids(engine.store().as_ref()).await.contains(&g1.id));

    // F5: the request of c4 approved under A; under B asked again and rejected; back
    // under A the rejection holds.
    let r4 = again.decided.approval_id.unwrap();
    let g4 = engine.approve(&r4, "alice", None).await.unwrap();
    engine.set_policy(b);
    let asked = engine.execute(put("c5"), &connector).await.unwrap();
    engine.reject(&asked.decided.approval_id.unwrap(), "bob", "do not").await.unwrap();
    engine.set_policy(a);
    let after = engine.execute(put("c6"), &connector).await.unwrap();
    assert_eq!(decision(&after), Decision::Block, "{:?}", after.decided.verdict);
    assert_eq!(connector.executed.lock().unwrap().len(), 1);
    assert!(voids(engine.store().as_ref()).await.contains(&g4.id));
}

#[tokio::test]
async fn the_latest_answer_about_a_call_holds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    the_latest_answer_holds(sqlite_store(dir.path())).await;
}

#[tokio::test]
async fn the_latest_answer_about_a_call_holds_on_postgres() {
    the_latest_answer_holds(crate::support::postgres_store().await).await;
}
