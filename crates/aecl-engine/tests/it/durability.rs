//! One durable commit per call (ARCHITECTURE.md): what the engine asks of the store for
//! each kind of call, seen through a store that notes the durability of every decision
//! commit and every call's end. A read that takes no limit runs first and commits its
//! decision and end together, synced, before its answer; a read that takes a limit may run
//! before its decision is synced because its answer waits for its end's sync; a write's
//! decision is synced before it runs and its end is not waited for; whatever runs nothing
//! is synced before it is answered. A read whose commit fails (another writer moved its run
//! on while it ran) is decided again, never run again.

use std::sync::{Arc, Mutex};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aecl_audit::RecordKind;
use aecl_core::{Call, Decision, Policy, Timestamp};
use aecl_engine::store::MemoryStore;
use aecl_engine::{
    BoxFuture, Committed, Connector, ConnectorOutcome, Durability, Engine, EngineConfig,
    Invocation, ManualClock, RunCommit, RunEvent, Store,
};
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
        let write = if commit.end.is_some() { "decision and end" } else { "decision" };
        $self.note(write, commit.durability);
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

/// The engine's settings with reads committed with their outcome (`aecl serve` and
/// `aecl mcp` over SQLite set it).
fn joint() -> EngineConfig {
    EngineConfig { joint_read_commits: true, ..EngineConfig::default() }
}

fn engine() -> (Engine<Watching>, Arc<Watching>) {
    let store =
        Arc::new(Watching { inner: MemoryStore::new(ORIGIN, signer()), seen: Mutex::default() });
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    (Engine::new(store.clone(), policy(), clock, joint()), store)
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
async fn a_reads_decision_and_end_commit_together_synced_before_the_answer() {
    let (engine, store) = engine();
    let executed = engine.execute(call("get_record", "c1"), &Scripted::default()).await.unwrap();
    assert_eq!(executed.decided.verdict.decision, Decision::Allow);
    assert_eq!(store.take(), [("decision and end", Durability::Synced)]);
    let records = crate::records(&store.inner).await;
    let kinds: Vec<_> = records.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RecordKind::Decision, RecordKind::Outcome]);
    assert_eq!(records[0].seq, executed.decided.audit_seq, "the answer names the decision");
    let effect = executed.effect.expect("an effect");
    assert_eq!(store.inner.effect(&effect.id).await.unwrap().unwrap().state, effect.state);
    // The run holds the call and its end: the next call is decided after them.
    assert_eq!(store.inner.load_run("r1").await.unwrap().version, 3);
    engine.execute(call("get_record", "c2"), &Scripted::default()).await.unwrap();
    assert_eq!(store.take(), [("decision and end", Durability::Synced)]);
    assert_eq!(store.inner.load_run("r1").await.unwrap().version, 6);
}

#[tokio::test]
async fn a_read_that_takes_a_limit_is_ordered_and_its_end_synced_before_the_answer() {
    // A limit is taken by the decision's commit, before the call runs, so that
    // concurrent calls cannot all pass it.
    let catalog = aecl_testkit::policy::READ_AND_WRITE.replace(
        "output = { trust = \"trusted\", data_class = \"public\" }\n\n[actions.put_record]",
        "output = { trust = \"trusted\", data_class = \"public\" }\n\
         limits = { concurrency = 2 }\n\n[actions.put_record]",
    );
    assert_ne!(catalog, aecl_testkit::policy::READ_AND_WRITE);
    let policy = aecl_testkit::policy::load(
        "agent_id = \"worker\"\nallowed_actions = [\"get_record\"]\n",
        &catalog,
    );
    let store =
        Arc::new(Watching { inner: MemoryStore::new(ORIGIN, signer()), seen: Mutex::default() });
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    let engine = Engine::new(store.clone(), policy, clock, joint());
    let executed = engine.execute(call("get_record", "c1"), &Scripted::default()).await.unwrap();
    assert_eq!(executed.decided.verdict.decision, Decision::Allow);
    assert_eq!(store.take(), [("decision", Durability::Ordered), ("end", Durability::Synced)]);
}

/// A connector that, while the call runs, appends `event` to run `r1` as another instance
/// would, then succeeds.
struct Meddling {
    store: Arc<Watching>,
    event: RunEvent,
    executions: AtomicUsize,
}

impl Connector for Meddling {
    fn execute<'a>(&'a self, _: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        Box::pin(async move {
            self.executions.fetch_add(1, Ordering::SeqCst);
            let version = self.store.inner.load_run("r1").await.unwrap().version;
            let commit = RunCommit {
                run: "r1".into(),
                agent: "worker".into(),
                expected_version: version,
                event: self.event.clone(),
                admission: Vec::new(),
                effect: None,
                audit: None,
                grant: None,
                call_id: None,
                durability: Durability::Synced,
                end: None,
            };
            let committed = self.store.inner.commit_run_event(commit).await.unwrap();
            assert!(matches!(committed, Committed::Done { .. }));
            ConnectorOutcome::Succeeded {
                result: json!({"record": "k1", "value": 42}),
                rollback_token: None,
            }
        })
    }
}

/// An engine whose manifest allows `max_calls` calls per run, and a connector appending
/// `event` to the run while it runs a call.
fn meddled(max_calls: u32, event: RunEvent) -> (Engine<Watching>, Arc<Watching>, Meddling) {
    let manifest = format!(
        "agent_id = \"worker\"\nallowed_actions = [\"get_record\"]\n\
         max_tool_calls_per_run = {max_calls}\n"
    );
    let policy = aecl_testkit::policy::load(&manifest, aecl_testkit::policy::READ_AND_WRITE);
    let store =
        Arc::new(Watching { inner: MemoryStore::new(ORIGIN, signer()), seen: Mutex::default() });
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    let engine = Engine::new(store.clone(), policy, clock, joint());
    let connector = Meddling { store: store.clone(), event, executions: AtomicUsize::new(0) };
    (engine, store, connector)
}

#[tokio::test]
async fn a_read_whose_run_moved_on_while_it_ran_is_decided_again_not_run_again() {
    let (engine, store, connector) =
        meddled(10, RunEvent::User { text: "meanwhile, on another instance".into() });
    let executed = engine.execute(call("get_record", "c1"), &connector).await.unwrap();
    assert_eq!(executed.decided.verdict.decision, Decision::Allow);
    assert_eq!(connector.executions.load(Ordering::SeqCst), 1, "it ran once");
    // The joint commit found the run moved on and wrote nothing; the call was decided
    // again on top of the other writer's event and recorded with the end it had.
    assert_eq!(
        store.take(),
        [
            ("decision and end", Durability::Synced),
            ("decision", Durability::Ordered),
            ("end", Durability::Synced),
        ]
    );
    let effect = executed.effect.expect("the read's effect");
    assert_eq!(effect.result, json!({"record": "k1", "value": 42}));
    let records = crate::records(&store.inner).await;
    let kinds: Vec<_> = records.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RecordKind::Decision, RecordKind::Outcome]);
    assert_eq!(records[1].effect_id.as_deref(), Some(effect.id.as_str()));
    // The call, its outcome and its output after the other writer's event.
    assert_eq!(store.inner.load_run("r1").await.unwrap().version, 4);
}

#[tokio::test]
async fn a_read_decided_again_as_a_block_has_its_output_withheld_and_recorded() {
    // Another instance's call fills the run's one-call budget while the read runs.
    let other = Call { id: "elsewhere".into(), ..call("get_record", "elsewhere") };
    let event = RunEvent::Call {
        call: Box::new(aecl_engine::run_event::call_event(&other)),
        decision: "allow".into(),
        mode: "enforce".into(),
        replay_of: None,
    };
    let (engine, store, connector) = meddled(1, event);
    let executed = engine.execute(call("get_record", "c1"), &connector).await.unwrap();
    assert_eq!(connector.executions.load(Ordering::SeqCst), 1);
    assert_eq!(executed.decided.verdict.decision, Decision::Block);
    assert!(executed.effect.is_none(), "the agent gets nothing of what was read");
    let records = crate::records(&store.inner).await;
    let kinds: Vec<_> = records.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RecordKind::Decision, RecordKind::Outcome]);
    assert_eq!(records[0].decision, Some(Decision::Block));
    let withheld = records[1].output["withheld"].as_str().expect("why it was withheld");
    assert!(withheld.contains("decided again: block"), "{withheld}");
    assert!(!records[1].output.to_string().contains("42"), "the output is not logged");
    assert_eq!(records[1].effect_id, None);
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

/// An engine whose manifest allows `max_calls` calls per run, over a watched store.
fn budgeted(max_calls: u32) -> (Arc<Engine<Watching>>, Arc<Watching>) {
    let manifest = format!(
        "agent_id = \"worker\"\nallowed_actions = [\"get_record\", \"put_record\"]\n\
         max_tool_calls_per_run = {max_calls}\n"
    );
    let policy = aecl_testkit::policy::load(&manifest, aecl_testkit::policy::READ_AND_WRITE);
    let store =
        Arc::new(Watching { inner: MemoryStore::new(ORIGIN, signer()), seen: Mutex::default() });
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    (Arc::new(Engine::new(store.clone(), policy, clock, joint())), store)
}

#[tokio::test]
async fn the_runs_next_call_commits_a_running_reads_decision_first() {
    let (engine, store) = budgeted(10);
    let slow = Scripted { delay: Some(Duration::from_millis(200)), ..Scripted::default() };
    let read = engine.execute(call("get_record", "c1"), &slow);
    let write = async {
        // Arrives while the read runs, and does not wait for it.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        let written = engine.execute(call("put_record", "c2"), &Scripted::default()).await;
        (written, started.elapsed())
    };
    let (read, (write, waited)) = tokio::join!(read, write);
    let (read, write) = (read.unwrap(), write.unwrap());
    assert!(waited < Duration::from_millis(150), "the write did not wait for the read");
    assert_eq!(read.decided.verdict.decision, Decision::Allow);
    assert_eq!(write.decided.verdict.decision, Decision::Allow);
    assert_eq!(
        store.take(),
        [
            ("decision", Durability::Ordered),
            ("decision", Durability::Synced),
            ("end", Durability::Ordered),
            ("end", Durability::Synced),
        ],
        "the read's decision, committed by the write, before the write's"
    );
    assert!(read.decided.audit_seq < write.decided.audit_seq);
    let records = crate::records(&store.inner).await;
    assert_eq!(records.len(), 4);
    assert_eq!(records[0].call_id, "c1");
    assert_eq!(records[0].seq, read.decided.audit_seq);
}

#[tokio::test]
async fn concurrent_reads_of_a_run_never_run_past_its_budget() {
    let (engine, store) = budgeted(3);
    let slow = Arc::new(Scripted { delay: Some(Duration::from_millis(30)), ..Scripted::default() });
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (engine, slow) = (engine.clone(), slow.clone());
        tasks.push(tokio::spawn(async move {
            engine.execute(call("get_record", &format!("c{i}")), &*slow).await.unwrap()
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap().decided.verdict.decision == Decision::Allow);
    }
    assert_eq!(allowed, 3);
    assert_eq!(slow.executions(), 3, "no read ran that the budget refused");
    let records = crate::records(&store.inner).await;
    assert_eq!(records.len(), 12 + 3, "every decision, and the outcome of each read that ran");
    assert!(records.iter().all(|r| r.output.get("withheld").is_none()));
}

#[tokio::test]
async fn a_read_repeating_a_call_id_runs_nothing() {
    let (engine, store) = engine();
    let connector = Scripted::default();
    let first = engine.execute(call("get_record", "c1"), &connector).await.unwrap();
    // The same id and arguments: the first execution's effect, nothing run.
    let again = engine.execute(call("get_record", "c1"), &connector).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.effect.unwrap().id, first.effect.unwrap().id);
    // The same id, other arguments: refused before anything runs.
    let mut other = call("get_record", "c1");
    other.args = json!({"id": "k2"});
    let error = engine.execute(other, &connector).await.unwrap_err();
    assert!(matches!(error, aecl_engine::EngineError::CallIdConflict { .. }), "{error}");
    assert_eq!(connector.executions(), 1);
    // A known id is never held: the replay is recorded synced, and the conflict is found
    // in the run's history before any commit is tried.
    assert_eq!(
        store.take(),
        [
            ("decision and end", Durability::Synced),
            ("decision", Durability::Ordered),
            ("decision", Durability::Synced),
        ]
    );
    assert_eq!(crate::records(&store.inner).await.len(), 3, "two decisions and one outcome");
}
