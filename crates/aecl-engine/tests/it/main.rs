//! The engine's own behaviour tests, over the in-memory store (`MemoryStore`, the port's
//! reference implementation): the call path's stages in order, the connector port, outcome
//! causes, approvals waited on, and the execute flow (decision before dispatch, the effect
//! ledger, idempotent retries, budgets, limits, run ownership). Backend-specific behaviour
//! (SQL transactions, crashes, replicas) is tested in `aecl-store`.

mod answers;
mod approvals;
mod causes;
mod durability;
mod flow;
mod published;
mod replays;
mod sandboxed;
mod stages;
mod standing;

use std::sync::{Arc, Mutex};

use aecl_audit::{AuditRecord, SignerKey, verify_log};
use aecl_core::{ActionSpec, AgentManifest, Call, Policy, Timestamp};
use aecl_engine::store::MemoryStore;
use aecl_engine::{
    BoxFuture, Connector, ConnectorOutcome, Engine, EngineConfig, Invocation, ManualClock, Store,
};
use serde_json::json;

pub const ORIGIN: &str = "aecl.test/engine";

pub fn signer() -> SignerKey {
    SignerKey::from_seed(ORIGIN, [0x42; 32]).expect("a fixed seed makes a key")
}

/// A policy of one agent, `worker`, and two actions: `put_record` (a reversible write that
/// needs no approval, carrying an amount in `value`) and `pay` (irreversible: approval).
/// `manifest_extra` and `limits` (a TOML table body for `put_record`) add to it.
pub fn policy_with(max_calls: u32, limits: &str, manifest_extra: &str) -> Arc<Policy> {
    let manifest = format!(
        "agent_id = \"worker\"\nallowed_actions = [\"put_record\", \"pay\"]\n\
         max_tool_calls_per_run = {max_calls}\n{manifest_extra}"
    );
    let catalog = format!(
        r#"
[actions.put_record]
effect = "write"
reversibility = "reversible"
compensation = "put_record"
connector = "test"
amount_arg = "value"

[actions.put_record.output]
trust = "trusted"
data_class = "public"

[actions.put_record.limits]
{limits}

[actions.pay]
effect = "payment"
reversibility = "irreversible"
connector = "test"
"#
    );
    aecl_testkit::policy::load(&manifest, &catalog)
}

pub fn policy(max_calls: u32, limits: &str) -> Arc<Policy> {
    policy_with(max_calls, limits, "")
}

/// An engine over a fresh in-memory store, with its clock.
pub fn engine(policy: Arc<Policy>) -> (Engine<MemoryStore>, Arc<ManualClock>) {
    engine_with(policy, EngineConfig::default())
}

pub fn engine_with(
    policy: Arc<Policy>,
    config: EngineConfig,
) -> (Engine<MemoryStore>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    let store = Arc::new(MemoryStore::new(ORIGIN, signer()));
    (Engine::new(store, policy, clock.clone(), config), clock)
}

/// Every audit record, after checking the whole log verifies and tells a story the engine
/// can write (`aecl_engine::story`: no call executed twice, no grant spent twice).
pub async fn records(store: &MemoryStore) -> Vec<AuditRecord> {
    let stored = store.audit_records(0, usize::MAX).await.expect("records");
    let checkpoints = store.audit_checkpoints().await.expect("checkpoints");
    let report = verify_log(stored.clone(), &checkpoints, &signer().verifier());
    assert_eq!(report.problem, None, "the log verifies");
    let records: Vec<AuditRecord> = stored
        .iter()
        .map(|(_, bytes, _)| AuditRecord::from_canonical(bytes).expect("canonical record"))
        .collect();
    let mut story = aecl_engine::story::Story::new();
    records.iter().for_each(|record| story.read(record));
    assert_eq!(story.finish(), Vec::new(), "the log's story");
    records
}

/// A call of `action` in `run`.
pub fn call_of(action: &str, run: &str, id: &str, key: Option<&str>) -> Call {
    Call {
        id: id.into(),
        agent: "worker".into(),
        run: run.into(),
        action: action.into(),
        // A retry under a new call id repeats the same arguments.
        args: json!({"id": key.unwrap_or(id), "value": 1}),
        idempotency_key: key.map(str::to_owned),
        ..Call::default()
    }
}

/// A call of `put_record` in `run`.
pub fn call(run: &str, id: &str, key: Option<&str>) -> Call {
    call_of("put_record", run, id, key)
}

/// What a connector was handed: the call's id and action, its catalog entry's name and
/// the agent's id, and the effect id.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub call_id: String,
    pub action: Option<String>,
    pub agent: Option<String>,
    pub effect_id: String,
}

impl Seen {
    fn of(invocation: &Invocation<'_>) -> Seen {
        Seen {
            call_id: invocation.call.id.clone(),
            action: invocation.action.map(|a: &ActionSpec| a.name.clone()),
            agent: invocation.agent.map(|a: &AgentManifest| a.id.clone()),
            effect_id: invocation.effect_id.to_owned(),
        }
    }
}

/// A connector that answers `outcome` (a success with a rollback token and a secret in
/// its output when `None`), after `delay`, and remembers what it was handed.
#[derive(Debug, Default)]
pub struct Scripted {
    pub seen: Mutex<Vec<Seen>>,
    pub outcome: Option<ConnectorOutcome>,
    pub delay: Option<std::time::Duration>,
}

impl Scripted {
    pub fn answering(outcome: ConnectorOutcome) -> Scripted {
        Scripted { outcome: Some(outcome), ..Scripted::default() }
    }

    pub fn executions(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(usize::MAX)
    }
}

impl Connector for Scripted {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(Seen::of(&invocation));
        }
        let effect_id = invocation.effect_id.to_owned();
        let args = invocation.call.args.clone();
        Box::pin(async move {
            if let Some(delay) = self.delay {
                tokio::time::sleep(delay).await;
            }
            match &self.outcome {
                Some(outcome) => outcome.clone(),
                None => ConnectorOutcome::Succeeded {
                    result: json!({
                        "stored": args,
                        "effect": effect_id,
                        "token": "Bearer abcdefghijklmnopqrstuvwxyz012345",
                    }),
                    rollback_token: Some(format!("undo:{effect_id}")),
                },
            }
        })
    }
}
