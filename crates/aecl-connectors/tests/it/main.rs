//! The connectors against real targets: SQLite files and a private PostgreSQL, a temporary
//! directory, and an HTTP server on 127.0.0.1 — through the registry, as the engine calls
//! them.

mod bindings;
mod fs;
mod fs_hard_links;
mod fs_permissions;
mod fs_race;
mod http;
mod operations;
mod pg;
mod postgres;
mod postgres_guards;
mod reconcile;
mod registry;
mod shell;
mod sql_bounds;
mod sqlite;
mod sqlite_guards;

use std::sync::Arc;

use aecl_connectors::Connectors;
use aecl_core::policy::Policy;
use aecl_core::{Call, CallDigest, Timestamp};
use aecl_engine::{
    Compensated, Connector, ConnectorOutcome, Effect, EffectState, Invocation, Reconciled,
};
use aecl_policy::{SourceFile, load};
use serde_json::Value;

/// Actions bound to the connector names the tests register.
pub const CATALOG: &str = r#"
[actions.sql_write]
effect = "write"
reversibility = "reversible"
compensation = "undo"
connector = "db"

[actions.sql_irreversible]
effect = "write"
reversibility = "irreversible"
connector = "db"

[actions.undo]
effect = "write"
reversibility = "irreversible"

[actions.file]
effect = "write"
reversibility = "reversible"
compensation = "undo"
connector = "files"

[actions.file_read]
effect = "read"
connector = "files"

[actions.file_delete]
effect = "delete"
reversibility = "reversible"
compensation = "undo"
connector = "files"

[actions.file_move]
effect = "write"
operation = "move"
reversibility = "reversible"
compensation = "undo"
connector = "files"

[actions.sql_read]
effect = "read"
connector = "db"

[actions.api_read]
effect = "read"
connector = "api"

[actions.hook_read]
effect = "read"
connector = "hook"

[actions.hook]
effect = "send"
reversibility = "irreversible"
connector = "hook"

[actions.api]
effect = "send"
reversibility = "irreversible"
connector = "api"

[actions.unbound]
effect = "read"

[actions.dangling]
effect = "read"
connector = "nowhere"
"#;

const MANIFEST: &str = r#"
agent_id = "ops"
allowed_actions = ["sql_write", "sql_irreversible", "sql_read", "undo", "file", "file_read", "file_delete", "file_move", "hook", "hook_read", "api", "api_read", "unbound", "dangling"]
credential_scope = "crm"
"#;

pub fn policy() -> Arc<Policy> {
    let files = [
        SourceFile { path: "policy.toml".into(), text: "mode = \"enforce\"\n".into() },
        SourceFile { path: "agents/ops.toml".into(), text: MANIFEST.into() },
        SourceFile { path: "catalog.toml".into(), text: CATALOG.into() },
    ];
    match load(&files) {
        Ok(loaded) => Arc::new(loaded.policy),
        Err(e) => panic!("the test policy does not load: {e:?}"),
    }
}

/// A registry and the policy whose catalog binds actions to its connectors: the engine
/// hands the registry each call with its action's catalog entry, as this does.
#[derive(Debug)]
pub struct Registry {
    pub connectors: Connectors,
    pub policy: Arc<Policy>,
}

impl Registry {
    pub async fn execute(&self, call: &Call, effect_id: &str) -> ConnectorOutcome {
        self.connectors.execute(Invocation::new(&self.policy, call, effect_id)).await
    }

    pub async fn reconcile(&self, effect: &Effect, call: &Call) -> Reconciled {
        self.connectors.reconcile(Invocation::new(&self.policy, call, &effect.id)).await
    }

    pub async fn compensate(&self, effect: &Effect, token: &str) -> Compensated {
        let action = self.policy.actions.get(&effect.action).expect("the action is in the catalog");
        self.connectors.compensate(effect, action, token).await
    }

    pub fn check_policy(
        &self,
        policy: &Policy,
        origin: &str,
    ) -> Result<(), aecl_connectors::ConnectorError> {
        self.connectors.check_policy(policy, origin)
    }
}

/// A registry over the test policy with `connectors`.
pub fn registry(connectors: Vec<(&str, Arc<dyn Connector>)>) -> Registry {
    let mut registry = Connectors::new();
    for (name, connector) in connectors {
        registry.insert(name, connector);
    }
    Registry { connectors: registry, policy: policy() }
}

pub fn call(action: &str, args: Value) -> Call {
    Call {
        id: uuid::Uuid::now_v7().to_string(),
        agent: "ops".into(),
        run: "r1".into(),
        action: action.into(),
        args,
        idempotency_key: None,
        nonce: None,
        scope: Default::default(),
        provenance: Default::default(),
        paths: Default::default(),
    }
}

/// Executes a call of `action` through the registry: the outcome and the effect it would
/// be recorded as.
pub async fn execute(registry: &Registry, action: &str, args: Value) -> (ConnectorOutcome, Effect) {
    execute_call(registry, call(action, args)).await
}

/// Executes `call` through the registry, as [`execute`].
pub async fn execute_call(registry: &Registry, call: Call) -> (ConnectorOutcome, Effect) {
    let effect_id = uuid::Uuid::now_v7().to_string();
    let outcome = registry.execute(&call, &effect_id).await;
    let (state, token) = match &outcome {
        ConnectorOutcome::Succeeded { rollback_token, .. } => {
            (EffectState::Succeeded, rollback_token.clone())
        }
        // As the engine records it: a failure, or an outcome unknown.
        other => (other.ledger().0, None),
    };
    let effect = Effect {
        id: effect_id,
        run: call.run.clone(),
        call_id: call.id.clone(),
        agent: call.agent.clone(),
        action: call.action.clone(),
        idempotency_key: None,
        call_digest: CallDigest(String::new()),
        node: "test".into(),
        state,
        result: Value::Null,
        error: None,
        rollback_token: token,
        rollback_seal: None,
        created: Timestamp(0),
        updated: Timestamp(0),
    };
    (outcome, effect)
}

/// Undoes `effect` through the registry.
pub async fn undo(registry: &Registry, effect: &Effect) -> Compensated {
    let token = effect.rollback_token.clone().expect("the effect left a rollback token");
    registry.compensate(effect, &token).await
}

/// The result of a success, else a panic naming the outcome.
pub fn succeeded(outcome: &ConnectorOutcome) -> &Value {
    match outcome {
        ConnectorOutcome::Succeeded { result, .. } => result,
        other => panic!("expected success, got {other:?}"),
    }
}

/// The error of a failure, else a panic naming the outcome.
pub fn failed(outcome: &ConnectorOutcome) -> &str {
    match outcome {
        ConnectorOutcome::Failed { error } => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}
