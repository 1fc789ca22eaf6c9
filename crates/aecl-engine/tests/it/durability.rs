//! One durable commit per call (ARCHITECTURE.md): what the engine asks of the store for
//! each kind of call, seen through a store that notes the durability of every decision
//! commit and every call's end. A read may run before its decision is synced because its
//! answer waits for its end's sync; a write's decision is synced before it runs and its end
//! is not waited for; whatever runs nothing is synced before it is answered.

use std::sync::{Arc, Mutex};

use aecl_core::{Call, Decision, Policy, Timestamp};
use aecl_engine::store::MemoryStore;
use aecl_engine::{Durability, Engine, EngineConfig, ManualClock, Store};
use serde_json::json;

use crate::{ORIGIN, Scripted, signer};

/// The inner store, and the durability of each write of a call's path, in order.
struct Watching {
    inner: MemoryStore,
    seen: Mutex<Vec<(&'static str, Durability)>>,
}

impl Watching {
    fn note(&self, write: &'static str, durability: Durability) {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((write, durability));
    }

    fn take(&self) -> Vec<(&'static str, Durability)> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// Notes the two writes of a call's path; hands every call to the inner store.
macro_rules! watched {
    ($self:ident, commit_run_event($commit:expr)) => {{
        let commit = $commit;
        $self.note("decision", commit.durability);
        $self.inner.commit_run_event(commit).await
    }};
    ($self:ident, finish_call($end:expr)) => {{
        let end = $end;
        $self.note("end", end.durability);
        $self.inner.finish_call(end).await
    }};
    ($self:ident, $method:ident($($arg:expr),*)) => {
        $self.inner.$method($($arg),*).await
    };
}

aecl_engine::impl_store_by!({ impl Store for Watching } via watched);

/// `get_record` (a read: no effect), `put_record` (a write) and `pay` (approval first).
fn policy() -> Arc<Policy> {
    let manifest = "agent_id = \"worker\"\n\
                    allowed_actions = [\"get_record\", \"put_record\", \"pay\"]\n";
    let pay = "[actions.pay]\neffect = \"payment\"\nreversibility = \"irreversible\"\n\
               connector = \"test\"\n";
    aecl_testkit::policy::load(manifest, &format!("{}{pay}", aecl_testkit::policy::READ_AND_WRITE))
}

fn engine() -> (Engine<Watching>, Arc<Watching>) {
    let store =
        Arc::new(Watching { inner: MemoryStore::new(ORIGIN, signer()), seen: Mutex::default() });
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    (Engine::new(store.clone(), policy(), clock, EngineConfig::default()), store)
}

fn call(action: &str, id: &str) -> Call {
    Call {
        id: id.into(),
        agent: "worker".into(),
        run: "r1".into(),
        action: action.into(),
        args: json!({"id": "k1", "amount": 5}),
        ..Call::default()
    }
}

#[tokio::test]
async fn a_reads_decision_is_ordered_and_its_end_synced_before_the_answer() {
    let (engine, store) = engine();
    let executed = engine.execute(call("get_record", "c1"), &Scripted::default()).await.unwrap();
    assert_eq!(executed.decided.verdict.decision, Decision::Allow);
    assert_eq!(store.take(), [("decision", Durability::Ordered), ("end", Durability::Synced)]);
}

#[tokio::test]
async fn a_writes_decision_is_synced_before_it_runs_and_its_end_is_ordered() {
    let (engine, store) = engine();
    let executed = engine.execute(call("put_record", "c1"), &Scripted::default()).await.unwrap();
    assert_eq!(executed.decided.verdict.decision, Decision::Allow);
    assert_eq!(store.take(), [("decision", Durability::Synced), ("end", Durability::Ordered)]);
}

#[tokio::test]
async fn what_runs_nothing_is_synced_before_its_answer() {
    let (engine, store) = engine();
    // Evaluated only: nothing will commit after it.
    engine.evaluate(call("get_record", "c1")).await.unwrap();
    assert_eq!(store.take(), [("decision", Durability::Synced)]);
    // Waiting for approval: nothing runs.
    let connector = Scripted::default();
    let executed = engine.execute(call("pay", "c2"), &connector).await.unwrap();
    assert_eq!(executed.decided.verdict.decision, Decision::RequireApproval);
    assert!(connector.seen.lock().unwrap().is_empty());
    assert_eq!(store.take(), [("decision", Durability::Synced)]);
}
