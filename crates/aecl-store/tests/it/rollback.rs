//! The rollback engine over a real store: a compensation is a call of the catalog's
//! compensation action, decided by policy, audited, executed once; a run is undone newest
//! first and stops at a conflict. The connector here is a recording double of the port:
//! what is under test is the engine (the real connectors are tested in
//! `aecl-connectors` and end to end in `aecl-cli/tests/it/rollback.rs`).

use std::sync::{Arc, Mutex};

use aecl_audit::RecordKind;
use aecl_core::Timestamp;
use aecl_engine::{
    BoxFuture, Compensated, Connector, ConnectorOutcome, Effect, Engine, EngineConfig, Invocation,
    ManualClock, RollbackStatus,
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
    let manifest = format!("agent_id = \"worker\"\nallowed_actions = [{allowed}]\n");
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

    let reports = engine.rollback_run("r1", &connector).await.unwrap();
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
    assert_eq!(undo_records[0].input, json!({ "effect": effects[2] }));
    assert_eq!(undo_records[1].kind, RecordKind::Outcome);

    // Again: nothing is undone twice, and the compensations themselves are not undone.
    let again = engine.rollback_run("r1", &connector).await.unwrap();
    assert!(again.iter().all(|r| r.status == RollbackStatus::AlreadyRolledBack), "{again:?}");
    assert_eq!(again.len(), 3);
    assert_eq!(connector.compensated.lock().unwrap().len(), 3);
    let single = engine.rollback(&effects[0], &connector).await.unwrap();
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
    let reports = engine.rollback_run("r1", &connector).await.unwrap();
    let statuses: Vec<_> = reports.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RollbackStatus::Restored, RollbackStatus::UndoConflict]);
    assert!(reports[1].detail.contains("row 7 changed"), "{reports:?}");
    assert_eq!(connector.compensated.lock().unwrap().len(), 2, "the oldest was not touched");
    // Once the conflict is resolved, rolling back again undoes it (a new attempt after a
    // failed one), and the effect already restored is not undone twice.
    *connector.conflict_on.lock().unwrap() = None;
    let reports = engine.rollback_run("r1", &connector).await.unwrap();
    let statuses: Vec<_> = reports.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [RollbackStatus::AlreadyRolledBack, RollbackStatus::Restored, RollbackStatus::Restored]
    );
    assert_eq!(
        *connector.compensated.lock().unwrap(),
        [effects[2].clone(), effects[1].clone(), effects[1].clone(), effects[0].clone()]
    );
    let again = engine.rollback(&effects[1], &connector).await.unwrap();
    assert_eq!(again.status, RollbackStatus::AlreadyRolledBack);
    assert!(matches!(
        engine.rollback("no-such-effect", &connector).await,
        Err(aecl_engine::EngineError::EffectNotFound(_))
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
    let report = engine.rollback(&effect, &connector).await.unwrap();
    assert_eq!(report.status, RollbackStatus::PendingApproval, "{report:?}");
    let approval = report.approval_id.clone().expect("an approval request");
    assert!(connector.compensated.lock().unwrap().is_empty());
    // Approved, the next rollback runs it.
    engine.approve(&approval, "alice", Some("restore it")).await.unwrap();
    let report = engine.rollback(&effect, &connector).await.unwrap();
    assert_eq!(report.status, RollbackStatus::Restored, "{report:?}");
    assert_eq!(report.approval_id.as_deref(), Some(approval.as_str()));

    // An agent not allowed the compensation cannot have its effects undone by it.
    let dir = tempfile::tempdir().unwrap();
    let engine = self::engine(dir.path(), "\"put_record\"", WAIVED);
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    let report = engine.rollback(&done.effect.unwrap().id, &connector).await.unwrap();
    assert_eq!(report.status, RollbackStatus::Blocked, "{report:?}");
    assert_eq!(connector.compensated.lock().unwrap().len(), 1);
}
