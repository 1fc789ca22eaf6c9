//! The connector port: what executes an allowed call. Real connectors (shell, http, fs,
//! sql, webhook) and their registry live in `aecl-connectors`, the MCP gateway's forwarder
//! in `aecl-mcp`; all implement this one trait and receive an [`Invocation`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use aecl_audit::Outcome;
use aecl_core::policy::{AgentManifest, Policy, Reversibility};
use aecl_core::{ActionSpec, Call, SandboxTier};
use serde_json::Value;

use crate::store::{Effect, EffectState};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a connector reports of one execution. The variant is the cause: the engine maps
/// it to the ledger's state and the audit outcome ([`ConnectorOutcome::ledger`]) and never
/// reads the error text to tell causes apart.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorOutcome {
    /// It happened: the result, and how to undo it when the action is reversible.
    Succeeded { result: Value, rollback_token: Option<String> },
    /// It did not happen (refused by the target, bad request, connection refused before
    /// sending): the call's budget reservation is released.
    Failed { error: String },
    /// It ran to its end and failed by its own account (a command's non-zero exit): its
    /// outcome is known, so the ledger and the audit log say `failed`; but unlike
    /// [`ConnectorOutcome::Failed`] it ran, and may have changed things before failing,
    /// so its budget reservation is kept.
    RanAndFailed { error: String },
    /// It may have happened (the connection broke after sending): recorded as
    /// `outcome_unknown`, never retried by aecl.
    Unknown { error: String },
    /// A time limit ended it (the engine's per-call timeout, a sandbox's call or run
    /// limit) after it started: it may have happened, like [`ConnectorOutcome::Unknown`],
    /// and the audit log says `timed_out`.
    TimedOut { error: String },
}

impl ConnectorOutcome {
    /// The effect ledger's state and the audit outcome of this outcome.
    pub fn ledger(&self) -> (EffectState, Outcome) {
        match self {
            ConnectorOutcome::Succeeded { .. } => (EffectState::Succeeded, Outcome::Succeeded),
            ConnectorOutcome::Failed { .. } | ConnectorOutcome::RanAndFailed { .. } => {
                (EffectState::Failed, Outcome::Failed)
            }
            ConnectorOutcome::Unknown { .. } => {
                (EffectState::OutcomeUnknown, Outcome::OutcomeUnknown)
            }
            ConnectorOutcome::TimedOut { .. } => (EffectState::OutcomeUnknown, Outcome::TimedOut),
        }
    }

    /// The error, for every outcome but success.
    pub fn error(&self) -> Option<&str> {
        match self {
            ConnectorOutcome::Succeeded { .. } => None,
            ConnectorOutcome::Failed { error }
            | ConnectorOutcome::RanAndFailed { error }
            | ConnectorOutcome::Unknown { error }
            | ConnectorOutcome::TimedOut { error } => Some(error),
        }
    }

    /// Whether it ran, or may have: every outcome but [`ConnectorOutcome::Failed`]. A
    /// call that ran keeps the budget it reserved.
    pub fn ran(&self) -> bool {
        !matches!(self, ConnectorOutcome::Failed { .. })
    }
}

/// What a sandboxed execution reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Sandboxed {
    pub outcome: ConnectorOutcome,
    /// The tier the command ran in; `None` when nothing started.
    pub ran_in: Option<SandboxTier>,
    /// For an outcome other than success, the sandbox's own structured report of how the
    /// command ended (its exit code or signal, the outcome, the tier, the layers, the
    /// egress attempts, its output as data), in the shape of a success's result. The
    /// engine records it as the effect's result and beside the error in the audit record,
    /// never inside the error: the error is aecl's own words, and nothing the command
    /// printed can pass for them. `None` when nothing started.
    pub report: Option<Value>,
}

impl Sandboxed {
    /// An outcome with nothing started, so nothing to report.
    pub fn unstarted(outcome: ConnectorOutcome) -> Sandboxed {
        Sandboxed { outcome, ran_in: None, report: None }
    }
}

/// What undoing one effect came to (the rollback engine, `rollback.rs`).
#[derive(Debug, Clone, PartialEq)]
pub enum Compensated {
    /// The resource is back in the state it had before the effect.
    Restored { result: Value },
    /// The resource is no longer in the state the effect left it in (someone changed it
    /// since): nothing was touched.
    Conflict { detail: String },
    /// This connector cannot undo the effect.
    Irreversible,
    /// The undo could not be done; nothing was changed.
    Failed { error: String },
}

/// What a connector can tell, after a crash, of an effect left `outcome_unknown`
/// (`reconcile.rs`). Finding out never executes the call again.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconciled {
    /// The change is in the target: the result and rollback token the execution would
    /// have reported, and what shows it.
    Landed { result: Value, rollback_token: Option<String>, evidence: Value },
    /// The change is not in the target, and the connector made sure it never will be
    /// (for instance a fence row that the statement's own transaction would collide with).
    NotLanded { evidence: Value },
    /// The connector cannot tell; the effect stays `outcome_unknown`.
    Undecidable { evidence: Value },
}

/// One call as a connector receives it: the call, the catalog entry of its action and the
/// calling agent's manifest under the policy that decided it, and the effect's id.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub call: &'a Call,
    /// The effect's id: unique per execution, stable across retries of one idempotency
    /// key. Before dispatch (placement, path resolution) it is the id the effect will have.
    pub effect_id: &'a str,
    /// The catalog entry of the call's action; `None` when the catalog has no such action
    /// (a monitor-mode call goes ahead anyway: connectors that need the entry fail it).
    pub action: Option<&'a ActionSpec>,
    /// The manifest of the calling agent (its `credential_scope`, for instance).
    pub agent: Option<&'a AgentManifest>,
}

impl<'a> Invocation<'a> {
    /// `call` under `policy`, as effect `effect_id`.
    pub fn new(policy: &'a Policy, call: &'a Call, effect_id: &'a str) -> Invocation<'a> {
        Invocation {
            call,
            effect_id,
            action: policy.actions.get(&call.action).map(|a| &**a),
            agent: policy.agents.get(&call.agent).map(|a| &**a),
        }
    }

    /// The catalog entry of the action, or the `not_configured` error that fails the call
    /// closed when there is none.
    pub fn spec(&self) -> Result<&'a ActionSpec, String> {
        self.action.ok_or_else(|| {
            format!("not_configured: action `{}` is not in the catalog", self.call.action)
        })
    }

    /// Whether the action is reversible: its connector must then be able to undo it, and
    /// refuses (fails closed) what it could not undo.
    pub fn reversible(&self) -> bool {
        self.action.is_some_and(|a| matches!(a.reversibility, Reversibility::Reversible { .. }))
    }

    /// The key a target deduplicates on: the call's idempotency key scoped to its agent
    /// and run (`Call::forwarded_key`), else the effect id.
    pub fn idempotency_key(&self) -> String {
        self.call.forwarded_key().unwrap_or_else(|| self.effect_id.to_owned())
    }
}

/// Executes calls of the actions bound to it: the engine's one connector port. A connector
/// forwards the effect id (or the call's idempotency key) to targets that deduplicate.
pub trait Connector: Send + Sync {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome>;

    /// Whether `action`, as the catalog declares it, is something this connector can do
    /// exactly (its operation, its effect); checked with the policy at start-up and at
    /// every reload. The default: anything.
    fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        let _ = action;
        Ok(())
    }

    /// The sandbox tier this connector would run the call in when the policy requires at
    /// least `required`: a tier at least as strong, or why it cannot on this host (the
    /// engine then blocks the call). The default: the connector runs calls in aecl's own
    /// process, in no sandbox at all.
    fn placement<'a>(
        &'a self,
        invocation: Invocation<'a>,
        required: SandboxTier,
    ) -> BoxFuture<'a, Result<SandboxTier, String>> {
        let _ = invocation;
        Box::pin(async move {
            Err(format!(
                "its connector runs calls in aecl's own process, in no sandbox, and the policy \
                 requires the `{required}` tier"
            ))
        })
    }

    /// The working directory from which the call's relative paths are taken, when this
    /// connector acts on a filesystem aecl's own process sees (the fs and shell
    /// connectors): the engine then resolves every path argument of the call there before
    /// deciding (`fs_paths.rs`), replacing any resolutions the client sent. The default,
    /// `None`: the call acts on no local filesystem (or on the client's), and the call's
    /// paths are decided as the client sent them.
    fn local_fs_cwd(&self, invocation: Invocation<'_>) -> Option<PathBuf> {
        let _ = invocation;
        None
    }

    /// The longest this connector takes, by its own limits, to end the call `invocation`
    /// in `tier` (the placed tier; `None`: no sandbox) and say how it ended: a sandbox's
    /// deadline and the time it takes to kill what is left. The engine waits at least
    /// this long (and at least its own per-call timeout) before it stops waiting, so that
    /// the outcome it records is the connector's own: a timeout the connector enforced
    /// and reported, not an engine that gave up on a call still running. The default,
    /// `None`: no limit of its own; the engine's per-call timeout holds.
    fn deadline(&self, invocation: Invocation<'_>, tier: Option<SandboxTier>) -> Option<Duration> {
        let _ = (invocation, tier);
        None
    }

    /// The name of the connector this one runs `action` with, when it is a registry of
    /// configured connectors and the catalog binds the action to one of them (`aecl
    /// serve --connectors`). A front end whose client would run such a call itself (an
    /// `Aecl-Executor: client` execute, a hook) refuses it: what the connector keeps to
    /// undo the effect, and its sandbox, would be skipped. The default: none.
    fn configured_for(&self, action: &ActionSpec) -> Option<String> {
        let _ = action;
        None
    }

    /// True when the client runs the call itself and reports its output afterwards
    /// (`Engine::report_result`): the engine then records no output for it. The default:
    /// the connector's outcome is the call's output.
    fn reports_result(&self) -> bool {
        false
    }

    /// What the target answered with the failure this connector just reported, when the
    /// agent is shown that answer as it is (an MCP tool's error result): the engine
    /// records it as the call's output, untrusted whatever the catalog says of the
    /// action's output (`RunEvent::Result` with `untrusted`), and in the outcome record
    /// beside the error. Asked once the call has run, of the connector that ran it, so only
    /// a connector made for one call can answer. The default: none (a connector's error is
    /// its own text, not an output the agent reads).
    fn error_output(&self) -> Option<Value> {
        None
    }

    /// Executes the call in `tier`, which [`Connector::placement`] chose. INVARIANT: never
    /// in a weaker tier; a tier that stopped working fails the call, and the outcome says
    /// which tier ran it.
    fn execute_in<'a>(
        &'a self,
        invocation: Invocation<'a>,
        tier: SandboxTier,
    ) -> BoxFuture<'a, Sandboxed> {
        let _ = invocation;
        Box::pin(async move {
            Sandboxed::unstarted(ConnectorOutcome::Failed {
                error: format!("this connector cannot run calls in the `{tier}` tier"),
            })
        })
    }

    /// Finds out whether the effect `invocation.effect_id`, left `outcome_unknown` by a
    /// crash or a timeout, landed. `invocation.call` is the call as recorded in its run
    /// (its digest is the effect's). INVARIANT: executes nothing of the call; it only reads
    /// the target, and may write a marker that keeps a change still in flight from landing
    /// later. The default: it cannot tell.
    fn reconcile<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, Reconciled> {
        let _ = invocation;
        Box::pin(async {
            Reconciled::Undecidable {
                evidence: serde_json::json!({ "reason": "this connector cannot tell whether the effect landed" }),
            }
        })
    }

    /// Undoes `effect` of `action`, which this connector executed and which returned
    /// `rollback_token`.
    ///
    /// INVARIANT: before changing anything, the connector checks that the resource is
    /// still in the state the effect left it in; if not, it answers `Conflict` and touches
    /// nothing. The default answer is `Irreversible`.
    fn compensate<'a>(
        &'a self,
        effect: &'a Effect,
        action: &'a ActionSpec,
        rollback_token: &'a str,
    ) -> BoxFuture<'a, Compensated> {
        let _ = (effect, action, rollback_token);
        Box::pin(async { Compensated::Irreversible })
    }
}
