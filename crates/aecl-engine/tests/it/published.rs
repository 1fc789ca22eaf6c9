//! Publication before effect: with a checkpoint destination (`EngineConfig::publication`),
//! an effect is dispatched, and an allow answered to a caller that executes it itself,
//! only once a published checkpoint covers the decision's record. A destination that
//! refuses (a witness down) fails the effect, not dispatched, with the reason recorded.
//! A person's answer (an approval, a rejection) and an administrator's revocation are
//! acknowledged only once a published checkpoint covers every record they made.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aecl_audit::{AddCheckpoint, CheckpointSink, Outcome};
use aecl_core::Decision;
use aecl_engine::{ApprovalStatus, EffectState, EngineConfig, EngineError};

use crate::{Scripted, call, call_of, engine_with, policy, records};

/// A destination that publishes when `up`, and remembers the sizes calls waited for.
#[derive(Debug, Default)]
struct Witness {
    up: AtomicBool,
    asked: Mutex<Vec<u64>>,
}

impl CheckpointSink for Witness {
    fn publish(&self, _request: AddCheckpoint) {}

    fn published(&self, size: u64, _within: Duration) -> Result<(), String> {
        self.asked.lock().unwrap().push(size);
        if self.up.load(Ordering::SeqCst) { Ok(()) } else { Err("witness down".to_owned()) }
    }
}

fn engine(witness: &Arc<Witness>) -> aecl_engine::Engine<aecl_engine::store::MemoryStore> {
    let sink: Arc<dyn CheckpointSink> = witness.clone();
    let config = EngineConfig { publication: Some(sink), ..EngineConfig::default() };
    engine_with(policy(10, ""), config).0
}

#[tokio::test]
async fn an_effect_waits_for_the_checkpoint_covering_its_decision() {
    let witness = Arc::new(Witness::default());
    witness.up.store(true, Ordering::SeqCst);
    let engine = engine(&witness);
    let connector = Scripted::default();
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    assert_eq!(done.effect.unwrap().state, EffectState::Succeeded);
    assert_eq!(connector.executions(), 1);
    // The decision's record is the log's first: a checkpoint of one record covers it.
    assert_eq!(*witness.asked.lock().unwrap(), [done.decided.audit_seq + 1]);
}

#[tokio::test]
async fn an_unpublished_decision_dispatches_nothing_and_says_why() {
    let witness = Arc::new(Witness::default());
    let engine = engine(&witness);
    let connector = Scripted::default();
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    assert_eq!(done.decided.verdict.decision, Decision::Allow);
    let effect = done.effect.expect("the effect is recorded");
    assert_eq!(effect.state, EffectState::Failed);
    assert_eq!(effect.error.as_deref(), Some("not dispatched: witness down"));
    assert_eq!(connector.executions(), 0, "the connector was never called");
    let log = records(engine.store()).await;
    assert_eq!(log.last().and_then(|r| r.outcome), Some(Outcome::Failed));

    // A caller that executes the call itself is not told it may.
    let refused = engine.evaluate(call("r1", "c2", None)).await.unwrap_err();
    assert!(matches!(&refused, EngineError::Unpublished(why) if why == "witness down"));
    // Once the destination is back, calls go ahead again.
    witness.up.store(true, Ordering::SeqCst);
    let allowed = engine.evaluate(call("r1", "c3", None)).await.unwrap();
    assert_eq!(allowed.verdict.decision, Decision::Allow);
    let done = engine.execute(call("r1", "c4", None), &connector).await.unwrap();
    assert_eq!(done.effect.unwrap().state, EffectState::Succeeded);
}

/// Red team round 25, tamper F3: a rejection was answered 200 while the witness did not
/// answer; a store cut back to the published checkpoints then lost it unseen, and the same
/// request was approved and ran.
#[tokio::test]
async fn an_answer_is_acknowledged_once_a_published_checkpoint_covers_it() {
    let witness = Arc::new(Witness::default());
    witness.up.store(true, Ordering::SeqCst);
    let engine = engine(&witness);
    let connector = Scripted::default();
    let mut requests = Vec::new();
    for id in ["p1", "p2", "p3"] {
        let asked = engine.execute(call_of("pay", "r1", id, None), &connector).await.unwrap();
        assert_eq!(asked.decided.verdict.decision, Decision::RequireApproval);
        requests.push(asked.decided.approval_id.expect("a request"));
    }

    // The destination down: the rejection is recorded (it holds in the store), but the
    // approver is not told it is done.
    witness.up.store(false, Ordering::SeqCst);
    witness.asked.lock().unwrap().clear();
    let refused = engine.reject(&requests[0], "alice", "fraud").await.unwrap_err();
    assert!(matches!(&refused, EngineError::Unpublished(why) if why == "witness down"));
    let request = engine.approval(&requests[0]).await.unwrap().unwrap();
    assert_eq!(request.status, ApprovalStatus::Rejected);
    let refused = engine.approve(&requests[1], "alice", None).await.unwrap_err();
    assert!(matches!(refused, EngineError::Unpublished(_)), "{refused:?}");
    let refused = engine.revoke_credential("token:t1", "admin").await.unwrap_err();
    assert!(matches!(refused, EngineError::Unpublished(_)), "{refused:?}");

    // Up again: an answer waits for a checkpoint covering the whole log as it stands,
    // its own records (the answer, the voids it made) included.
    witness.up.store(true, Ordering::SeqCst);
    witness.asked.lock().unwrap().clear();
    engine.reject(&requests[2], "bob", "no").await.unwrap();
    let log = records(engine.store()).await;
    let asked = witness.asked.lock().unwrap().clone();
    assert_eq!(asked, [log.len() as u64], "the answer waited for the whole log");
    assert!(log.last().is_some_and(|r| r.approval_id.as_deref() == Some(requests[2].as_str())));
    assert!(engine.revoke_credential("token:t2", "admin").await.unwrap());
}
