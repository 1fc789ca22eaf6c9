//! Stage 8, dispatch (design.md §3 step 11): the connector runs the call, in the sandbox
//! tier placed, under the per-call timeout, or the connector's own deadline when that is
//! longer ([`Connector::deadline`]); the effect is already `dispatched` in the
//! ledger (recorded with the decision), so a crash from here on leaves it for recovery and
//! reconciliation, never for a second execution. A call that repeats an executed call's id
//! or idempotency key runs nothing: it gets that execution's effect, waited for while it
//! is still running. Blocked, pending and dry-run calls run nothing either.
//!
//! The engine never stops waiting before the connector's own deadline: a connector that
//! enforces a longer one (a shell command's `timeout_secs`) ends the call itself and says
//! how (a sandbox's timeout, with the tree it killed and its report). When the engine
//! stops waiting all the same (a connector that does not answer by its deadline), the
//! connector's future is dropped before the timeout is recorded, which for a sandboxed
//! command kills its whole process tree: nothing goes on after the outcome is written.

use std::time::Instant;

use tracing::Instrument;

use crate::connector::{Connector, ConnectorOutcome, Invocation, Sandboxed};
use crate::engine::{Engine, Executed};
use crate::error::EngineError;
use crate::stage::record::Ready;
use crate::stage::{span, wait_limit};
use crate::store::{NewEffect, Store};

/// Where dispatch left a call.
#[derive(Debug)]
pub(crate) enum Dispatched {
    /// Nothing ran now: the answer as it stands (boxed like `Ran`: both are large, and
    /// the enum is moved between stages).
    Done(Box<Executed>),
    /// The connector ran it: its outcome, for the finish stage.
    Ran(Box<Ran>),
}

/// A call its connector ran.
#[derive(Debug)]
pub(crate) struct Ran {
    pub ready: Ready,
    /// The effect as recorded with the decision.
    pub effect: NewEffect,
    pub outcome: ConnectorOutcome,
    /// The tier the call ran in, as its connector reports it.
    pub ran_in: Option<aecl_core::SandboxTier>,
    /// The client runs the call itself and reports its output later.
    pub reports_result: bool,
    /// What the target answered with a failure, shown to the agent as it is
    /// ([`Connector::error_output`]).
    pub error_output: Option<serde_json::Value>,
    /// For an outcome other than success, the sandbox's structured report
    /// ([`Sandboxed::report`]).
    pub report: Option<serde_json::Value>,
    /// When dispatch began (the outcome record's latency).
    pub started: Instant,
}

/// How long a call waits for the checkpoint covering its decision to be published.
const PUBLISHED_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

impl<S: Store> Engine<S> {
    /// Waits until a checkpoint covering the record at `audit_seq` is published outside
    /// the store, when the engine publishes (`EngineConfig::publication`).
    pub(crate) async fn published(&self, audit_seq: u64) -> Result<(), String> {
        let Some(sink) = self.config().publication.clone() else { return Ok(()) };
        let size = audit_seq.saturating_add(1);
        tokio::task::spawn_blocking(move || sink.published(size, PUBLISHED_WITHIN))
            .await
            .map_err(|e| format!("waiting for the checkpoint failed: {e}"))?
    }

    /// Waits until a checkpoint covering every record the log holds now is published,
    /// when the engine publishes: what a person or an administrator did (an approval
    /// answered, a credential or a standing grant revoked) is acknowledged only then, as
    /// an effect is dispatched only then. A store cut back to what its destination holds
    /// could otherwise lose a rejection the approver was told of, and the same request
    /// be approved after it (red team round 25, tamper F3).
    pub(crate) async fn published_all(&self) -> Result<(), EngineError> {
        if self.config().publication.is_none() {
            return Ok(());
        }
        let newest = self.store().newest_checkpoint().await?;
        let size = newest.as_deref().and_then(aecl_audit::Checkpoint::read_unverified);
        let Some(size) = size.map(|c| c.size) else {
            return Err(EngineError::Unpublished("the log holds no checkpoint".to_owned()));
        };
        self.published(size.saturating_sub(1)).await.map_err(EngineError::Unpublished)
    }

    /// Runs `ready`'s call through `connector` when it goes ahead.
    pub(crate) async fn dispatch(
        &self,
        mut ready: Ready,
        connector: &dyn Connector,
    ) -> Result<Dispatched, EngineError> {
        let span = span("dispatch", &ready.decided.call);
        async move {
            if let Some(id) = &ready.replay_effect {
                let effect = self.settled_effect(id).await?;
                let rolled_back_by = self.undone_by(effect.as_ref()).await?;
                return Ok(Dispatched::Done(Box::new(Executed {
                    decided: ready.decided,
                    effect,
                    replayed: true,
                    rolled_back_by,
                })));
            }
            let call = &ready.decided.call;
            if let (Some(_), Some(key)) = (&ready.decided.verdict.replay_of, &call.idempotency_key)
            {
                let effect = self.first_outcome(&call.run, key).await?;
                let rolled_back_by = self.undone_by(effect.as_ref()).await?;
                return Ok(Dispatched::Done(Box::new(Executed {
                    decided: ready.decided,
                    effect,
                    replayed: true,
                    rolled_back_by,
                })));
            }
            let Some(effect) = ready.effect.take() else {
                // Blocked, pending approval, or a dry run: nothing to execute.
                return Ok(Dispatched::Done(Box::new(Executed {
                    decided: ready.decided,
                    effect: None,
                    replayed: false,
                    rolled_back_by: None,
                })));
            };
            let started = Instant::now();
            // INVARIANT: an effect happens only once a checkpoint covering its decision's
            // record is published outside the store (when one is published at all): a
            // store cut back to what its destination holds could otherwise lose the
            // record of an effect that happened (red team round 23, audit F1). Its effect
            // then fails, not dispatched, and the outcome says why.
            // A read changes nothing an undo or a cut would hide: it runs when the witness is
            // down (second pass, N8: a read carrying an idempotency key failed).
            let waits = self.config().publication.is_some()
                && !crate::stage::record::no_effect(&ready.policy, &ready.decided.call);
            if waits && let Err(why) = self.published(ready.decided.audit_seq).await {
                return Ok(Dispatched::Ran(Box::new(Ran {
                    ready,
                    effect,
                    outcome: ConnectorOutcome::Failed { error: format!("not dispatched: {why}") },
                    ran_in: None,
                    reports_result: false,
                    error_output: None,
                    report: None,
                    started,
                })));
            }
            let call = &ready.decided.call;
            let invocation = Invocation::new(&ready.policy, call, &effect.id);
            let timeout =
                wait_limit(self.config().call_timeout, connector.deadline(invocation, ready.tier));
            let run = async {
                match ready.tier {
                    Some(tier) => connector.execute_in(invocation, tier).await,
                    None => Sandboxed::unstarted(connector.execute(invocation).await),
                }
            };
            // INVARIANT: on the timeout, `run` is dropped before this match ends, and so
            // before the outcome is recorded: a sandboxed command's tree is killed first.
            let done = match tokio::time::timeout(timeout, run).await {
                Ok(done) => done,
                Err(_) => Sandboxed {
                    outcome: ConnectorOutcome::TimedOut {
                        error: format!(
                            "timed out after {timeout:?}: the engine stopped waiting and \
                             cancelled the call (a sandboxed command's process tree is killed)"
                        ),
                    },
                    // Where it was handed to run; what it did there is unknown.
                    ran_in: ready.tier,
                    report: None,
                },
            };
            let error_output = match done.outcome {
                ConnectorOutcome::Succeeded { .. } => None,
                _ => connector.error_output(),
            };
            Ok(Dispatched::Ran(Box::new(Ran {
                ready,
                effect,
                outcome: done.outcome,
                ran_in: done.ran_in,
                reports_result: connector.reports_result(),
                error_output,
                report: done.report,
                started,
            })))
        }
        .instrument(span)
        .await
    }
}
