//! The rollback engine over a real store: a compensation is a call of the catalog's
//! compensation action, decided by policy, audited, executed once; a run is undone newest
//! first and stops at a conflict. The connector here is a recording double of the port:
//! what is under test is the engine (the real connectors are tested in
//! `aecl-connectors` and end to end in `aecl-cli/tests/it/rollback.rs`).

use std::sync::{Arc, Mutex};

use aecl_audit::RecordKind;
use aecl_core::{Decision, Timestamp};
use aecl_engine::{
    BoxFuture, Compensated, Connector, ConnectorOutcome, Effect, Engine, EngineConfig, EngineError,
    Invocation, ManualClock, RollbackStatus,
};
use aecl_store::SqliteStore;
use serde_json::json;

use crate::engine::records;
use crate::support::{call, sqlite_store};

/// Executes every call with a rollback token; records which effects it was asked to undo,
/// and answers a conflict for `conflict_on`.
#[derive(Debug, Default)]
struct Undoable {
    executed: Mutex<Vec<String>>,
    compensated: Mutex<Vec<String>>,
    conflict_on: Mutex<Option<String>>,
}

impl Connector for Undoable {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        let call = invocation.call;
        let effect_id = invocation.effect_id;
        self.executed.lock().unwrap().push(call.action.clone());
        let token = (call.action == "put_record").then(|| format!("undo:{effect_id}"));
        Box::pin(
            async move { ConnectorOutcome::Succeeded { result: json!({}), rollback_token: token } },
        )
    }

    fn compensate<'a>(
        &'a self,
        effect: &'a Effect,
        _: &'a aecl_core::ActionSpec,
        token: &'a str,
    ) -> BoxFuture<'a, Compensated> {
        assert_eq!(token, format!("undo:{}", effect.id));
        self.compensated.lock().unwrap().push(effect.id.clone());
        let conflict = self.conflict_on.lock().unwrap().as_deref() == Some(effect.id.as_str());
        Box::pin(async move {
            if conflict {
                Compensated::Conflict { detail: "row 7 changed".into() }
            } else {
                Compensated::Restored { result: json!({ "rows_restored": 1 }) }
            }
        })
    }
}

/// `put_record` (reversible, undone by `undo_record`) and `undo_record`, whose approval
/// settings are `undo_approval`; `allowed` lists the agent's actions.
fn engine(dir: &std::path::Path, allowed: &str, undo_approval: &str) -> Engine<SqliteStore> {
    engine_with(dir, allowed, undo_approval, "")
}

/// [`engine`], the agent's manifest ending in `manifest`.
fn engine_with(
    dir: &std::path::Path,
    allowed: &str,
    undo_approval: &str,
    manifest: &str,
) -> Engine<SqliteStore> {
    let manifest = format!("agent_id = \"worker\"\nallowed_actions = [{allowed}]\n{manifest}");
    let catalog = format!(
        r#"
[actions.put_record]
effect = "write"
reversibility = "reversible"
compensation = "undo_record"

[actions.undo_record]
effect = "write"
reversibility = "irreversible"

[actions.undo_record.approval]
{undo_approval}
"#
    );
    let files = [
        aecl_policy::SourceFile { path: "agents/worker.toml".into(), text: manifest },
        aecl_policy::SourceFile { path: "catalog.toml".into(), text: catalog },
    ];
    let policy = Arc::new(aecl_policy::load(&files).unwrap().policy);
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    Engine::new(Arc::new(sqlite_store(dir)), policy, clock, EngineConfig::default())
}

const WAIVED: &str = "waive_irreversible = \"an undo\"";

/// Executes three calls of run `r1`; their effects' ids, oldest first.
async fn three_effects(engine: &Engine<SqliteStore>, connector: &Undoable) -> Vec<String> {
    let mut effects = Vec::new();
    for i in 1..=3 {
        let done = engine.execute(call("r1", &format!("c{i}"), None), connector).await.unwrap();
        effects.push(done.effect.unwrap().id);
    }
    effects
}

#[tokio::test]
async fn a_run_is_undone_newest_first_through_decided_audited_calls_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), "\"put_record\", \"undo_record\"", WAIVED);
    let connector = Undoable::default();
    let effects = three_effects(&engine, &connector).await;

    let reports = engine.rollback_run("r1", &connector, &ops()).await.unwrap();
    let statuses: Vec<_> = reports.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RollbackStatus::Restored; 3]);
    let newest_first: Vec<String> = effects.iter().rev().cloned().collect();
    assert_eq!(*connector.compensated.lock().unwrap(), newest_first);
    assert_eq!(reports[0].compensation.as_deref(), Some("undo_record"));

    // Each undo was a call of `undo_record`, decided and recorded before it ran.
    let log = records(engine.store()).await;
    let undo_records: Vec<_> = log.iter().filter(|r| r.action == "undo_record").collect();
    assert_eq!(undo_records.len(), 6);
    assert_eq!(undo_records[0].kind, RecordKind::Decision);
    assert_eq!(undo_records[0].call_id, format!("rollback:{}", effects[2]));
    // Its record names who asked for it.
    assert_eq!(
        undo_records[0].input,
        json!({ "effect": effects[2], "requested_by": { "subject": "ops", "role": "admin" } })
    );
    assert_eq!(undo_records[1].kind, RecordKind::Outcome);

    // Again: nothing is undone twice, and the compensations themselves are not undone.
    let again = engine.rollback_run("r1", &connector, &ops()).await.unwrap();
    assert!(again.iter().all(|r| r.status == RollbackStatus::AlreadyRolledBack), "{again:?}");
    assert_eq!(again.len(), 3);
    assert_eq!(connector.compensated.lock().unwrap().len(), 3);
    let single = engine.rollback(&effects[0], &connector, &ops()).await.unwrap();
    assert_eq!(single.status, RollbackStatus::AlreadyRolledBack);
    assert_eq!(connector.compensated.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_conflict_stops_a_runs_rollback_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), "\"put_record\", \"undo_record\"", WAIVED);
    let connector = Undoable::default();
    let effects = three_effects(&engine, &connector).await;
    *connector.conflict_on.lock().unwrap() = Some(effects[1].clone());
    let reports = engine.rollback_run("r1", &connector, &ops()).await.unwrap();
    let statuses: Vec<_> = reports.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RollbackStatus::Restored, RollbackStatus::UndoConflict]);
    assert!(reports[1].detail.contains("row 7 changed"), "{reports:?}");
    assert_eq!(connector.compensated.lock().unwrap().len(), 2, "the oldest was not touched");
    // Once the conflict is resolved, rolling back again undoes it (a new attempt after a
    // failed one), and the effect already restored is not undone twice.
    *connector.conflict_on.lock().unwrap() = None;
    let reports = engine.rollback_run("r1", &connector, &ops()).await.unwrap();
    let statuses: Vec<_> = reports.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [RollbackStatus::AlreadyRolledBack, RollbackStatus::Restored, RollbackStatus::Restored]
    );
    assert_eq!(
        *connector.compensated.lock().unwrap(),
        [effects[2].clone(), effects[1].clone(), effects[1].clone(), effects[0].clone()]
    );
    let again = engine.rollback(&effects[1], &connector, &ops()).await.unwrap();
    assert_eq!(again.status, RollbackStatus::AlreadyRolledBack);
    assert!(matches!(
        engine.rollback("no-such-effect", &connector, &ops()).await,
        Err(EngineError::EffectNotFound(_))
    ));
}

#[tokio::test]
async fn the_policy_decides_each_compensation() {
    // An undo that needs a human waits for one; nothing is undone meanwhile.
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), "\"put_record\", \"undo_record\"", "always = true");
    let connector = Undoable::default();
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    let effect = done.effect.unwrap().id;
    let report = engine.rollback(&effect, &connector, &ops()).await.unwrap();
    assert_eq!(report.status, RollbackStatus::PendingApproval, "{report:?}");
    let approval = report.approval_id.clone().expect("an approval request");
    assert!(connector.compensated.lock().unwrap().is_empty());
    // Approved, the next rollback runs it.
    engine.approve(&approval, "alice", Some("restore it")).await.unwrap();
    let report = engine.rollback(&effect, &connector, &ops()).await.unwrap();
    assert_eq!(report.status, RollbackStatus::Restored, "{report:?}");
    assert_eq!(report.approval_id.as_deref(), Some(approval.as_str()));

    // An agent not allowed the compensation cannot have its effects undone by it.
    let dir = tempfile::tempdir().unwrap();
    let engine = self::engine(dir.path(), "\"put_record\"", WAIVED);
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    let report = engine.rollback(&done.effect.unwrap().id, &connector, &ops()).await.unwrap();
    assert_eq!(report.status, RollbackStatus::Blocked, "{report:?}");
    assert_eq!(connector.compensated.lock().unwrap().len(), 1);
}

/// The names of undo calls are aecl's: an agent's call, evaluation or reported result under
/// one is refused before anything is recorded, and its call of the compensation action is
/// blocked; the undo then runs as if nothing had been tried.
#[tokio::test]
async fn an_agent_cannot_take_the_place_or_the_name_of_an_undo() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), "\"put_record\", \"undo_record\"", WAIVED);
    let connector = Undoable::default();
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    let effect = done.effect.unwrap().id;
    let reserved = format!("rollback:{effect}");
    let undo = |id: &str, key: Option<&str>| aecl_core::Call {
        action: "undo_record".into(),
        args: json!({ "effect": effect }),
        idempotency_key: key.map(str::to_owned),
        ..call("r1", id, None)
    };
    let before = records(engine.store()).await.len();
    for attempt in [undo(&reserved, None), undo("c2", Some(&reserved)), call("r1", &reserved, None)]
    {
        let refused = engine.execute(attempt.clone(), &connector).await;
        assert!(matches!(refused, Err(EngineError::ReservedId(_))), "{attempt:?}: {refused:?}");
        let refused = engine.evaluate(attempt.clone()).await;
        assert!(matches!(refused, Err(EngineError::ReservedId(_))), "{attempt:?}: {refused:?}");
    }
    let output = json!({ "status": "restored" });
    let refused = engine.record_result("r1", "worker", &reserved, output.clone()).await;
    assert!(matches!(refused, Err(EngineError::ReservedId(_))), "{refused:?}");
    let refused = engine
        .report_result("r1", "worker", &reserved, output, aecl_engine::Reporter::Client, None)
        .await;
    assert!(matches!(refused, Err(EngineError::ReservedId(_))), "{refused:?}");
    assert_eq!(records(engine.store()).await.len(), before, "nothing of them was recorded");

    // Under a name of its own, the agent's call of the compensation is blocked.
    let direct = engine.execute(undo("c3", None), &connector).await.unwrap();
    assert_eq!(direct.decided.verdict.decision, Decision::Block);
    let rules: Vec<_> = direct.decided.verdict.reasons.iter().map(|r| r.rule.as_ref()).collect();
    assert!(rules.contains(&"rollback.compensation_action"), "{rules:?}");
    assert!(connector.compensated.lock().unwrap().is_empty());

    let report = engine.rollback(&effect, &connector, &ops()).await.unwrap();
    assert_eq!(report.status, RollbackStatus::Restored, "{report:?}");
    assert_eq!(*connector.compensated.lock().unwrap(), [effect]);
}

/// A run that spent its calls, and an agent at its rate limit, can still be undone: the
/// run most likely to need it is one that ran away.
#[tokio::test]
async fn a_run_that_spent_its_budget_and_its_rate_can_still_be_undone() {
    let dir = tempfile::tempdir().unwrap();
    let limits = "max_tool_calls_per_run = 3\n[limits]\nrate = \"3/hour\"\nconcurrency = 1\n";
    let engine = engine_with(dir.path(), "\"put_record\", \"undo_record\"", WAIVED, limits);
    let connector = Undoable::default();
    let effects = three_effects(&engine, &connector).await;
    let over = engine.execute(call("r1", "c4", None), &connector).await.unwrap();
    assert_eq!(over.decided.verdict.decision, Decision::Block, "the budget holds for the agent");
    let reports = engine.rollback_run("r1", &connector, &ops()).await.unwrap();
    let statuses: Vec<_> = reports.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RollbackStatus::Restored; 3], "{reports:?}");
    assert_eq!(connector.compensated.lock().unwrap().len(), effects.len());
}

/// An effect still executing, of unknown outcome, or that aecl holds no undo for is never
/// reported as having nothing to undo (`aecl rollback` exits 0 on that).
#[tokio::test]
async fn effects_that_may_have_happened_are_never_reported_as_nothing_to_undo() {
    /// Answers `outcome`, once `go` is notified (and says it started).
    struct Held {
        started: tokio::sync::Notify,
        go: tokio::sync::Notify,
        outcome: ConnectorOutcome,
    }
    impl Connector for Held {
        fn execute<'a>(&'a self, _: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
            Box::pin(async move {
                self.started.notify_one();
                self.go.notified().await;
                self.outcome.clone()
            })
        }
    }
    let held = |outcome| Held {
        started: tokio::sync::Notify::new(),
        go: tokio::sync::Notify::new(),
        outcome,
    };
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), "\"put_record\", \"undo_record\"", WAIVED);
    let token = Some("undo:x".to_owned());
    let connector = held(ConnectorOutcome::Succeeded { result: json!({}), rollback_token: token });
    let undo = Undoable::default();
    let (done, during) = tokio::join!(engine.execute(call("r1", "c1", None), &connector), async {
        connector.started.notified().await;
        let reports = engine.rollback_run("r1", &undo, &ops()).await.unwrap();
        connector.go.notify_one();
        reports
    });
    done.unwrap();
    assert_eq!(during.len(), 1, "{during:?}");
    assert_eq!(during[0].status, RollbackStatus::InFlight, "{during:?}");

    let connector = held(ConnectorOutcome::Unknown { error: "the peer hung up".into() });
    connector.go.notify_one();
    let done = engine.execute(call("r2", "c1", None), &connector).await.unwrap();
    let report = engine.rollback(&done.effect.unwrap().id, &undo, &ops()).await.unwrap();
    assert_eq!(report.status, RollbackStatus::OutcomeUnknown, "{report:?}");

    let client = aecl_engine::client_hand_over();
    let connector = held(ConnectorOutcome::Succeeded { result: client, rollback_token: None });
    connector.go.notify_one();
    let done = engine.execute(call("r3", "c1", None), &connector).await.unwrap();
    let report = engine.rollback(&done.effect.unwrap().id, &undo, &ops()).await.unwrap();
    assert_eq!(report.status, RollbackStatus::NotRecorded, "{report:?}");
    assert!(report.detail.contains("client"), "{report:?}");
    assert!(undo.compensated.lock().unwrap().is_empty(), "nothing was undone");
}

/// An administrator asking for rollbacks.
fn ops() -> aecl_engine::Requester {
    aecl_engine::Requester { subject: "ops".to_owned(), role: "admin".to_owned() }
}
