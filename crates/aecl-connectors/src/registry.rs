//! [`Connectors`]: the registry of configured connectors, and the engine's connector port.
//!
//! For each call it looks up the action in the policy in force (through [`PolicySource`],
//! so a reloaded policy takes effect at once), finds the connector the catalog names, and
//! hands it the call with its action and the agent's manifest. Anything missing fails
//! closed: an action without a connector, or naming one that is not configured, is
//! `Failed { error: "not_configured: ..." }` and nothing runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use aecl_core::policy::{AgentManifest, Policy, Reversibility};
use aecl_core::{ActionSpec, Call, SandboxTier};
use aecl_engine::{
    BoxFuture, Compensated, Connector, ConnectorOutcome, Effect, Reconciled, Sandboxed,
};

use crate::config::{ConnectorConfig, ConnectorsFile};
use crate::error::ConnectorError;
use crate::secrets::Secrets;

/// Gives the policy in force (e.g. `move || engine.policy()`).
pub type PolicySource = Arc<dyn Fn() -> Arc<Policy> + Send + Sync>;

/// One call as a connector instance receives it.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub call: &'a Call,
    /// The effect's id: unique per execution, stable across retries of one idempotency key.
    pub effect_id: &'a str,
    /// The catalog entry of the call's action.
    pub action: &'a ActionSpec,
    /// The manifest of the calling agent (its `credential_scope`, for instance).
    pub agent: Option<&'a AgentManifest>,
}

impl Invocation<'_> {
    /// Whether the action is reversible: its connector must then be able to undo it, and
    /// refuses (fails closed) what it could not undo.
    pub fn reversible(&self) -> bool {
        matches!(self.action.reversibility, Reversibility::Reversible { .. })
    }

    /// The key a target deduplicates on: the call's idempotency key, else the effect id.
    pub fn idempotency_key(&self) -> &str {
        self.call.idempotency_key.as_deref().unwrap_or(self.effect_id)
    }
}

/// A configured connector instance (`sql`, `fs`, ..., and `shell` from the sandbox).
pub trait ActionConnector: Send + Sync {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome>;

    /// Whether `action`, as the catalog declares it, is something this connector can do
    /// exactly (its operation, its effect); checked with the policy at start-up and at
    /// every reload. The default: anything.
    fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        let _ = action;
        Ok(())
    }

    /// The sandbox tier, at least `required`, that this connector would run a call in on
    /// this host, or why it cannot (see [`Connector::placement`]). The default: this kind
    /// runs calls in aecl's own process, in no sandbox.
    fn placement(&self, required: SandboxTier) -> BoxFuture<'_, Result<SandboxTier, String>> {
        let _ = required;
        Box::pin(async { Err("it runs calls in aecl's own process, in no sandbox".to_owned()) })
    }

    /// Where `action`'s relative paths start, when this connector acts on a filesystem
    /// aecl's own process sees (see [`Connector::local_fs_cwd`]). The default: it does not.
    fn local_fs_cwd(&self, action: &ActionSpec) -> Option<PathBuf> {
        let _ = action;
        None
    }

    /// Executes in `tier`, which [`ActionConnector::placement`] chose; never in a weaker one.
    fn execute_in<'a>(
        &'a self,
        invocation: Invocation<'a>,
        tier: SandboxTier,
    ) -> BoxFuture<'a, Sandboxed> {
        let _ = invocation;
        Box::pin(async move {
            Sandboxed {
                outcome: ConnectorOutcome::Failed {
                    error: format!("this connector cannot run calls in the `{tier}` tier"),
                },
                ran_in: None,
            }
        })
    }

    /// Finds out whether the effect of `invocation` (left `outcome_unknown`) landed, without
    /// executing anything (see [`Connector::reconcile`]). The default: it cannot tell.
    fn reconcile<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, Reconciled> {
        let _ = invocation;
        Box::pin(async {
            crate::reconcile::undecidable("this kind of connector keeps no trace to tell from")
        })
    }

    /// Undoes `effect` (see [`Connector::compensate`]: check first, touch nothing on
    /// conflict). The default: this kind of connector cannot undo anything.
    fn compensate<'a>(
        &'a self,
        effect: &'a Effect,
        rollback_token: &'a str,
    ) -> BoxFuture<'a, Compensated> {
        let _ = (effect, rollback_token);
        Box::pin(async { Compensated::Irreversible })
    }
}

/// The registry: connector name → instance, and the policy that binds actions to names.
pub struct Connectors {
    policy: PolicySource,
    instances: BTreeMap<String, Arc<dyn ActionConnector>>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors").field("names", &self.instances.keys()).finish_non_exhaustive()
    }
}

impl Connectors {
    /// An empty registry over the policy `policy` gives.
    pub fn new(policy: PolicySource) -> Connectors {
        Connectors { policy, instances: BTreeMap::new() }
    }

    /// The registry of every connector `file` defines.
    pub fn from_config(
        file: &ConnectorsFile,
        policy: PolicySource,
    ) -> Result<Connectors, ConnectorError> {
        let secrets = match &file.secrets {
            Some(secrets) => Arc::new(Secrets::load(&file.resolve(&secrets.file))?),
            None => Arc::new(Secrets::default()),
        };
        let mut registry = Connectors::new(policy);
        for (name, config) in &file.connectors {
            let instance: Arc<dyn ActionConnector> = match config {
                ConnectorConfig::Sql(c) => Arc::new(crate::sql::SqlConnector::new(file, name, c)?),
                ConnectorConfig::Fs(c) => Arc::new(crate::fs::FsConnector::new(file, name, c)?),
                ConnectorConfig::Http(c) => {
                    Arc::new(crate::http::HttpConnector::new(file, name, c, secrets.clone())?)
                }
                ConnectorConfig::Webhook(c) => {
                    Arc::new(crate::webhook::WebhookConnector::new(file, name, c)?)
                }
                ConnectorConfig::Shell(c) => {
                    Arc::new(crate::shell::ShellConnector::new(file, name, c)?)
                }
            };
            registry.insert(name, instance);
        }
        Ok(registry)
    }

    /// Adds (or replaces) the connector called `name`.
    pub fn insert(&mut self, name: &str, connector: Arc<dyn ActionConnector>) {
        self.instances.insert(name.to_owned(), connector);
    }

    /// The configured names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.instances.keys().map(String::as_str)
    }

    /// The first action of `policy` that names a connector this registry does not have, or
    /// that its connector cannot do as declared (an `fs` action without an operation, for
    /// instance); `origin` names the configuration in the error. `aecl serve` refuses to
    /// start with one, and a reload with one is refused the same way.
    pub fn check_policy(&self, policy: &Policy, origin: &str) -> Result<(), ConnectorError> {
        let mut actions: Vec<&ActionSpec> = policy.actions.values().map(|a| &**a).collect();
        actions.sort_by(|a, b| a.name.cmp(&b.name));
        for action in actions {
            let Some(name) = &action.connector else { continue };
            let Some(instance) = self.instances.get(name) else {
                return Err(ConnectorError::UnknownConnector {
                    action: action.name.clone(),
                    connector: name.clone(),
                    file: origin.to_owned(),
                });
            };
            instance.check_action(action).map_err(|message| ConnectorError::Binding {
                connector: name.clone(),
                file: origin.to_owned(),
                message,
            })?;
        }
        Ok(())
    }

    /// The instance bound to `action` in `policy` and the action's catalog entry, or why
    /// there is none.
    fn bound<'p>(
        &self,
        policy: &'p Policy,
        action: &str,
    ) -> Result<(Arc<dyn ActionConnector>, &'p ActionSpec), String> {
        let spec = policy
            .actions
            .get(action)
            .ok_or_else(|| format!("not_configured: action `{action}` is not in the catalog"))?;
        let name = spec.connector.as_deref().ok_or_else(|| {
            format!("not_configured: action `{action}` names no connector in the catalog")
        })?;
        let instance = self.instances.get(name).cloned().ok_or_else(|| {
            format!("not_configured: connector `{name}` of action `{action}` is not configured")
        })?;
        Ok((instance, spec))
    }

    /// The instance bound to `call`'s action, and the call as that instance receives it.
    fn invocation<'p>(
        &self,
        policy: &'p Policy,
        call: &'p Call,
        effect_id: &'p str,
    ) -> Result<(Arc<dyn ActionConnector>, Invocation<'p>), String> {
        let (instance, action) = self.bound(policy, &call.action)?;
        let agent = policy.agents.get(&call.agent).map(|a| &**a);
        Ok((instance, Invocation { call, effect_id, action, agent }))
    }
}

impl Connector for Connectors {
    fn execute<'a>(
        &'a self,
        call: &'a Call,
        effect_id: &'a str,
    ) -> BoxFuture<'a, ConnectorOutcome> {
        Box::pin(async move {
            let policy = (self.policy)();
            match self.invocation(&policy, call, effect_id) {
                Ok((instance, invocation)) => instance.execute(invocation).await,
                Err(error) => ConnectorOutcome::Failed { error },
            }
        })
    }

    fn placement<'a>(
        &'a self,
        call: &'a Call,
        required: SandboxTier,
    ) -> BoxFuture<'a, Result<SandboxTier, String>> {
        Box::pin(async move {
            let policy = (self.policy)();
            let (instance, action) = self.bound(&policy, &call.action)?;
            let name = action.connector.as_deref().unwrap_or_default();
            instance.placement(required).await.map_err(|why| format!("connector `{name}`: {why}"))
        })
    }

    /// The bound instance's; none when the action has no connector (it fails to run).
    fn local_fs_cwd(&self, call: &Call) -> Option<PathBuf> {
        let policy = (self.policy)();
        let (instance, action) = self.bound(&policy, &call.action).ok()?;
        instance.local_fs_cwd(action)
    }

    fn execute_in<'a>(
        &'a self,
        call: &'a Call,
        effect_id: &'a str,
        tier: SandboxTier,
    ) -> BoxFuture<'a, Sandboxed> {
        Box::pin(async move {
            let policy = (self.policy)();
            match self.invocation(&policy, call, effect_id) {
                Ok((instance, invocation)) => instance.execute_in(invocation, tier).await,
                Err(error) => {
                    Sandboxed { outcome: ConnectorOutcome::Failed { error }, ran_in: None }
                }
            }
        })
    }

    fn reconcile<'a>(&'a self, effect: &'a Effect, call: &'a Call) -> BoxFuture<'a, Reconciled> {
        Box::pin(async move {
            let policy = (self.policy)();
            match self.invocation(&policy, call, &effect.id) {
                Ok((instance, invocation)) => instance.reconcile(invocation).await,
                Err(error) => crate::reconcile::undecidable(&error),
            }
        })
    }

    fn compensate<'a>(
        &'a self,
        effect: &'a Effect,
        rollback_token: &'a str,
    ) -> BoxFuture<'a, Compensated> {
        Box::pin(async move {
            let policy = (self.policy)();
            match self.bound(&policy, &effect.action) {
                Ok((instance, _)) => instance.compensate(effect, rollback_token).await,
                Err(error) => Compensated::Failed { error },
            }
        })
    }
}
