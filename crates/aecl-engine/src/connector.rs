//! The connector port: what executes an allowed call. Real connectors (shell, http, fs,
//! sql, webhook) live in `aecl-connectors`; the engine only needs this trait.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use aecl_core::{Call, SandboxTier};
use serde_json::Value;

use crate::store::Effect;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a connector reports of one execution.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorOutcome {
    /// It happened: the result, and how to undo it when the action is reversible.
    Succeeded { result: Value, rollback_token: Option<String> },
    /// It did not happen (refused by the target, bad request, connection refused before
    /// sending): the call's budget reservation is released.
    Failed { error: String },
    /// It may have happened (the connection broke after sending): recorded as
    /// `outcome_unknown`, never retried by aecl.
    Unknown { error: String },
}

/// What a sandboxed execution reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Sandboxed {
    pub outcome: ConnectorOutcome,
    /// The tier the command ran in; `None` when nothing started.
    pub ran_in: Option<SandboxTier>,
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

/// Executes calls of the actions bound to it. `effect_id` is unique per execution and
/// stable across retries of the same idempotency key: connectors forward it (or the
/// call's idempotency key) to targets that deduplicate.
pub trait Connector: Send + Sync {
    fn execute<'a>(&'a self, call: &'a Call, effect_id: &'a str)
    -> BoxFuture<'a, ConnectorOutcome>;

    /// The sandbox tier this connector would run `call` in when the policy requires at
    /// least `required`: a tier at least as strong, or why it cannot on this host (the
    /// engine then blocks the call). The default: the connector runs calls in aecl's own
    /// process, in no sandbox at all.
    fn placement<'a>(
        &'a self,
        call: &'a Call,
        required: SandboxTier,
    ) -> BoxFuture<'a, Result<SandboxTier, String>> {
        let _ = call;
        Box::pin(async move {
            Err(format!(
                "its connector runs calls in aecl's own process, in no sandbox, and the policy \
                 requires the `{required}` tier"
            ))
        })
    }

    /// The working directory from which `call`'s relative paths are taken, when this
    /// connector acts on a filesystem aecl's own process sees (the fs and shell
    /// connectors): the engine then resolves every path argument of the call there before
    /// deciding (`fs_paths.rs`), replacing any resolutions the client sent. The default,
    /// `None`: the call acts on no local filesystem (or on the client's), and the call's
    /// paths are decided as the client sent them.
    fn local_fs_cwd(&self, call: &Call) -> Option<PathBuf> {
        let _ = call;
        None
    }

    /// True when the client runs the call itself and reports its output afterwards
    /// (`Engine::report_result`): the engine then records no output for it. The default:
    /// the connector's outcome is the call's output.
    fn reports_result(&self) -> bool {
        false
    }

    /// Executes `call` in `tier`, which [`Connector::placement`] chose. INVARIANT: never in
    /// a weaker tier; a tier that stopped working fails the call, and the outcome says
    /// which tier ran it.
    fn execute_in<'a>(
        &'a self,
        call: &'a Call,
        effect_id: &'a str,
        tier: SandboxTier,
    ) -> BoxFuture<'a, Sandboxed> {
        let _ = (call, effect_id);
        Box::pin(async move {
            Sandboxed {
                outcome: ConnectorOutcome::Failed {
                    error: format!("this connector cannot run calls in the `{tier}` tier"),
                },
                ran_in: None,
            }
        })
    }

    /// Finds out whether `effect`, left `outcome_unknown` by a crash or a timeout, landed.
    /// `call` is the call as recorded in its run (its digest is the effect's). INVARIANT:
    /// executes nothing of the call; it only reads the target, and may write a marker
    /// that keeps a change still in flight from landing later. The default: it cannot
    /// tell.
    fn reconcile<'a>(&'a self, effect: &'a Effect, call: &'a Call) -> BoxFuture<'a, Reconciled> {
        let _ = (effect, call);
        Box::pin(async {
            Reconciled::Undecidable {
                evidence: serde_json::json!({ "reason": "this connector cannot tell whether the effect landed" }),
            }
        })
    }

    /// Undoes `effect`, which this connector executed and which returned `rollback_token`.
    ///
    /// INVARIANT: before changing anything, the connector checks that the resource is
    /// still in the state the effect left it in; if not, it answers `Conflict` and touches
    /// nothing. The default answer is `Irreversible`.
    fn compensate<'a>(
        &'a self,
        effect: &'a Effect,
        rollback_token: &'a str,
    ) -> BoxFuture<'a, Compensated> {
        let _ = (effect, rollback_token);
        Box::pin(async { Compensated::Irreversible })
    }
}
