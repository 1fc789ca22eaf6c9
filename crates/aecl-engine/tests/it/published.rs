//! Publication before effect: with a checkpoint destination (`EngineConfig::publication`),
//! an effect is dispatched, and an allow answered to a caller that executes it itself,
//! only once a published checkpoint covers the decision's record. A destination that
//! refuses (a witness down) fails the effect, not dispatched, with the reason recorded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aecl_audit::{AddCheckpoint, CheckpointSink, Outcome};
use aecl_core::Decision;
use aecl_engine::{EffectState, EngineConfig, EngineError};

use crate::{Scripted, call, engine_with, policy, records};

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
