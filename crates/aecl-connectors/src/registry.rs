//! [`Connectors`]: the registry of configured connectors, itself the engine's connector
//! port.
//!
//! Each configured instance (`sql`, `fs`, `http`, `webhook`, `shell`) implements the
//! engine's [`Connector`] too; the registry hands a call to the instance its action names
//! in the catalog of the policy that decided it (the [`Invocation`]'s action). Anything
//! missing fails closed: an action not in the catalog, without a connector, or naming one
//! that is not configured, is `Failed { error: "not_configured: ..." }` and nothing runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aecl_core::policy::Policy;
use aecl_core::{ActionSpec, SandboxTier};
use aecl_engine::{
    BoxFuture, Compensated, Connector, ConnectorOutcome, Effect, Invocation, Reconciled, Sandboxed,
};

use crate::config::{ConnectorConfig, ConnectorsFile};
use crate::error::ConnectorError;
use crate::secrets::Secrets;

/// The registry: connector name → instance.
#[derive(Default)]
pub struct Connectors {
    instances: BTreeMap<String, Arc<dyn Connector>>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors").field("names", &self.instances.keys()).finish_non_exhaustive()
    }
}

impl Connectors {
    /// An empty registry.
    pub fn new() -> Connectors {
        Connectors::default()
    }

    /// The registry of every connector `file` defines.
    pub fn from_config(file: &ConnectorsFile) -> Result<Connectors, ConnectorError> {
        let secrets = match &file.secrets {
            Some(secrets) => Arc::new(Secrets::load(&file.resolve(&secrets.file))?),
            None => Arc::new(Secrets::default()),
        };
        let mut registry = Connectors::new();
        for (name, config) in &file.connectors {
            let instance: Arc<dyn Connector> = match config {
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
        let secrets = file.secrets.as_ref().map(|s| ("the secrets file", file.resolve(&s.file)));
        crate::private_places::refuse_reaching(file, secrets.as_slice())?;
        Ok(registry)
    }

    /// Adds (or replaces) the connector called `name`.
    pub fn insert(&mut self, name: &str, connector: Arc<dyn Connector>) {
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

    /// The instance that `action`'s catalog entry names, and that name, or why there is
    /// none.
    fn bound<'s>(
        &'s self,
        action: Option<&ActionSpec>,
        name_of_action: &str,
    ) -> Result<(&'s dyn Connector, &'s str), String> {
        let spec = action.ok_or_else(|| {
            format!("not_configured: action `{name_of_action}` is not in the catalog")
        })?;
        let name = spec.connector.as_deref().ok_or_else(|| {
            format!("not_configured: action `{name_of_action}` names no connector in the catalog")
        })?;
        let (name, instance) = self.instances.get_key_value(name).ok_or_else(|| {
            format!(
                "not_configured: connector `{name}` of action `{name_of_action}` is not configured"
            )
        })?;
        Ok((&**instance, name))
    }

    /// The instance bound to the invocation's action.
    fn instance(&self, invocation: &Invocation<'_>) -> Result<&dyn Connector, String> {
        self.bound(invocation.action, &invocation.call.action).map(|(instance, _)| instance)
    }
}

impl Connector for Connectors {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        match self.instance(&invocation) {
            Ok(instance) => instance.execute(invocation),
            Err(error) => Box::pin(async move { ConnectorOutcome::Failed { error } }),
        }
    }

    /// The bound instance's check; an action without a connector passes (it fails to run).
    fn configured_for(&self, action: &ActionSpec) -> Option<String> {
        self.bound(Some(action), &action.name).ok().map(|(_, name)| name.to_owned())
    }

    fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        match self.bound(Some(action), &action.name) {
            Ok((instance, _)) => instance.check_action(action),
            Err(_) => Ok(()),
        }
    }

    fn placement<'a>(
        &'a self,
        invocation: Invocation<'a>,
        required: SandboxTier,
    ) -> BoxFuture<'a, Result<SandboxTier, String>> {
        Box::pin(async move {
            let (instance, name) = self.bound(invocation.action, &invocation.call.action)?;
            instance
                .placement(invocation, required)
                .await
                .map_err(|why| format!("connector `{name}`: {why}"))
        })
    }

    /// The bound instance's own deadline; none when the action has no connector (it fails
    /// at once).
    fn deadline(&self, invocation: Invocation<'_>, tier: Option<SandboxTier>) -> Option<Duration> {
        self.instance(&invocation).ok()?.deadline(invocation, tier)
    }

    /// The bound instance's; none when the action has no connector (it fails to run).
    fn local_fs_cwd(&self, invocation: Invocation<'_>) -> Option<PathBuf> {
        self.instance(&invocation).ok()?.local_fs_cwd(invocation)
    }

    fn execute_in<'a>(
        &'a self,
        invocation: Invocation<'a>,
        tier: SandboxTier,
    ) -> BoxFuture<'a, Sandboxed> {
        match self.instance(&invocation) {
            Ok(instance) => instance.execute_in(invocation, tier),
            Err(error) => {
                Box::pin(async move { Sandboxed::unstarted(ConnectorOutcome::Failed { error }) })
            }
        }
    }

    fn reconcile<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, Reconciled> {
        match self.instance(&invocation) {
            Ok(instance) => instance.reconcile(invocation),
            Err(error) => Box::pin(async move { crate::reconcile::undecidable(&error) }),
        }
    }

    fn compensate<'a>(
        &'a self,
        effect: &'a Effect,
        action: &'a ActionSpec,
        rollback_token: &'a str,
    ) -> BoxFuture<'a, Compensated> {
        match self.bound(Some(action), &effect.action) {
            Ok((instance, _)) => instance.compensate(effect, action, rollback_token),
            Err(error) => Box::pin(async move { Compensated::Failed { error } }),
        }
    }
}
