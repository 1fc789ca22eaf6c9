//! Stage 9, finish (design.md §3 step 12): the connector's outcome becomes the effect's end
//! in the ledger (its state from the outcome's cause, [`ConnectorOutcome::ledger`]), the
//! run's outcome event and, for aecl's own executions, the output that feeds provenance,
//! the concurrency slot released and the outcome record: one more write
//! (`Store::finish_call`), appended after the run's last event.
//!
//! An effectful call's decision and ledger entry were durable before dispatch; its end is
//! committed unsynced (`Durability::Ordered`), so the agent does not wait for a second
//! fsync. An OS crash before the next sync leaves the effect `dispatched`, which recovery
//! and reconciliation resolve from the target.
//!
//! A read (no effect) that took no limit and no grant was not recorded yet: its decision
//! was held (`held.rs`), and commits here with its end in one synced transaction, at the
//! version it was decided on, before its output is answered. When the run's next call in
//! this instance came first, it committed the decision (unsynced), and the end follows
//! alone, synced. When the decision could not be committed at its version (another
//! instance moved the run on), the call is decided again on the run as it now is: allowed,
//! it is recorded and ended with the outcome it already has (it never runs twice);
//! otherwise its output is withheld and a record says that it ran. Any other read's end
//! is committed synced after its decision's unsynced commit.

use std::sync::Arc;
use std::time::Instant;

use aecl_core::Timestamp;
use aecl_core::policy::Policy;

use serde_json::{Value, json};
use tracing::Instrument;

use aecl_audit::RecordKind;

use crate::connector::{Connector, ConnectorOutcome};
use crate::engine::{Decided, Engine, Executed, elapsed_ms, slot_holder};
use crate::error::{EngineError, StoreError};
use crate::held::{Held, Pending};
use crate::observe::DecisionSeen;
use crate::run_event::RunEvent;
use crate::stage::dispatch::{Dispatched, Ran};
use crate::stage::record::{Deferred, Ready, no_effect};
use crate::stage::{Arrived, span};
use crate::store::{CallEnd, Committed, Durability, Effect, EffectEnd, EffectState, Store};

impl<S: Store> Engine<S> {
    /// Records how `ran`'s call ended, and answers with its effect.
    pub(crate) async fn finish(
        &self,
        ran: Ran,
        connector: &dyn Connector,
    ) -> Result<Executed, EngineError> {
        let span = span("finish", &ran.ready.decided.call);
        self.finish_ran(ran, connector).instrument(span).await
    }

    async fn finish_ran(
        &self,
        ran: Ran,
        connector: &dyn Connector,
    ) -> Result<Executed, EngineError> {
        let (mut ready, end, effect) = self.call_end(ran);
        match ready.deferred.take() {
            None => {
                let effect = match self.finish_call(end).await {
                    Ok(()) => effect,
                    // The call ran: whatever the store says now, the answer must not be a
                    // block (the agent would think nothing happened and may try another
                    // way). Its end is not recorded, so it is answered as unknown; the
                    // ledger keeps it `dispatched`, which recovery reconciles.
                    Err(error) => {
                        tracing::error!(
                            effect = %effect.id,
                            %error,
                            "a call ran but its outcome could not be recorded"
                        );
                        Effect {
                            state: EffectState::OutcomeUnknown,
                            result: Value::Null,
                            error: Some(format!(
                                "the call ran, but its outcome could not be recorded \
                                 ({error}): it stays `dispatched` until recovery reconciles it"
                            )),
                            rollback_token: None,
                            rollback_seal: None,
                            ..effect
                        }
                    }
                };
                Ok(Executed {
                    decided: ready.decided,
                    effect: Some(effect),
                    replayed: false,
                    rolled_back_by: None,
                })
            }
            Some(deferred) => self.commit_read(ready, *deferred, end, effect, connector).await,
        }
    }

    /// The end of `ran`'s call as the store writes it, and its effect as it then reads.
    fn call_end(&self, ran: Ran) -> (Ready, CallEnd, Effect) {
        let Ran {
            ready,
            effect: new_effect,
            outcome,
            ran_in,
            reports_result,
            error_output,
            report,
            started,
        } = ran;
        let call = &ready.decided.call;
        let (state, audit_outcome) = outcome.ledger();
        let executed = outcome.ran();
        // A call that did not succeed keeps the sandbox's report as its result, apart
        // from the error, which is aecl's own text.
        let (result, error, rollback_token) = match outcome {
            ConnectorOutcome::Succeeded { result, rollback_token } => {
                (result, None, rollback_token)
            }
            ConnectorOutcome::Failed { error }
            | ConnectorOutcome::RanAndFailed { error }
            | ConnectorOutcome::Unknown { error }
            | ConnectorOutcome::TimedOut { error } => {
                (report.unwrap_or(Value::Null), Some(self.redact_text(error)), None)
            }
        };
        // The run's history keeps outputs as the log does: redacted (`Engine::redact`).
        let mut redacted = result;
        self.redact(&mut redacted);
        let shown = error_output.map(|mut shown| {
            self.redact(&mut shown);
            shown
        });
        let undone = crate::undo_seal::Undone::ending(&new_effect, state);
        let rollback_seal = self.seal_undo(undone, rollback_token.as_deref());
        let end = EffectEnd {
            state,
            result: redacted.clone(),
            error: error.clone(),
            rollback_token: rollback_token.clone(),
            rollback_seal,
            at: self.now(),
        };
        let mut events = vec![RunEvent::Outcome { id: call.id.clone(), executed }];
        if state == EffectState::Succeeded && !reports_result {
            // The output feeds provenance like any tool result. A client that runs the
            // call itself reports its output later (`report_result`).
            let output = redacted.clone();
            events.push(RunEvent::Result { id: call.id.clone(), output, untrusted: false });
        } else if let Some(output) = shown.clone() {
            // An error answer the agent is shown is output it reads, however the outcome
            // is classified: untrusted, since it is not what the catalog describes.
            events.push(RunEvent::Result { id: call.id.clone(), output, untrusted: true });
        } else if error.is_some() && !redacted.is_null() {
            // So is the report of a sandboxed call that did not succeed (the command's
            // output among it): the agent reads it.
            let output = redacted.clone();
            events.push(RunEvent::Result { id: call.id.clone(), output, untrusted: true });
        }
        let mut record = self.record(RecordKind::Outcome, &call.agent, &call.run);
        record.call_id.clone_from(&call.id);
        record.action.clone_from(&call.action);
        record.call_digest = new_effect.call_digest.clone();
        record.policy_revision = ready.decided.verdict.policy_revision.clone();
        record.outcome = Some(audit_outcome);
        record.output = match (&error, shown) {
            (Some(error), shown) => {
                let mut output = json!({ "error": error });
                if let Some(shown) = shown {
                    output["output"] = shown;
                }
                // The report beside aecl's error, as data: never spliced into it.
                if !redacted.is_null() {
                    output["result"] = redacted.clone();
                }
                output
            }
            (None, _) => redacted,
        };
        record.effect_id = Some(new_effect.id.clone());
        // Outcome records name the tier the call actually ran in.
        record.sandbox_id = ran_in.map(|t| t.as_str().to_owned());
        // The ledger keeps the token as the connector gave it (the undo needs it); the
        // audit log, which is kept forever and exported, only its redacted form.
        record.rollback_token = rollback_token.map(|token| self.redact_text(token));
        record.latency_ms = elapsed_ms(started);
        // INVARIANT (ARCHITECTURE.md, "One durable commit per call"): a read's answer waits
        // for this sync, which makes its decision durable too.
        let durability =
            if no_effect(&ready.policy, call) { Durability::Synced } else { Durability::Ordered };
        let end = CallEnd {
            durability,
            run: call.run.clone(),
            agent: call.agent.clone(),
            events,
            effect_id: new_effect.id.clone(),
            end,
            slot_holder: slot_holder(&call.run, &call.id),
            audit: record,
        };
        // The ledger's entry as just written: no read back.
        let effect = Effect {
            id: new_effect.id,
            run: new_effect.run,
            call_id: new_effect.call_id,
            agent: new_effect.agent,
            action: new_effect.action,
            idempotency_key: new_effect.idempotency_key,
            call_digest: new_effect.call_digest,
            node: new_effect.node,
            state: end.end.state,
            result: end.end.result.clone(),
            error: end.end.error.clone(),
            rollback_token: end.end.rollback_token.clone(),
            rollback_seal: end.end.rollback_seal.clone(),
            created: new_effect.created,
            updated: end.end.at,
        };
        (ready, end, effect)
    }

    /// Commits a read's decision and end together, or its end alone when the decision was
    /// committed for it (see the module's header).
    async fn commit_read(
        &self,
        ready: Ready,
        deferred: Deferred,
        end: CallEnd,
        effect: Effect,
        connector: &dyn Connector,
    ) -> Result<Executed, EngineError> {
        let Deferred { slot, arrival, nonce_reused } = deferred;
        let again = (arrival, nonce_reused);
        let Ready { mut decided, policy, started, .. } = ready;
        let run_guard = self.run_lock(&end.run).lock().await;
        let audit_seq = match self.held_reads().settle(&end.run, &slot) {
            Held::Waiting(pending) => {
                let Pending { mut commit, run, policy } = *pending;
                // The events the run is cached with once they are in.
                let mut events = Vec::with_capacity(1 + end.events.len());
                events.push(commit.event.clone());
                events.extend(end.events.iter().cloned());
                let end = Arc::new(end);
                commit.end = Some(Arc::clone(&end));
                commit.durability = Durability::Synced;
                let (run_id, agent) = (commit.run.clone(), commit.agent.clone());
                match self.store().commit_run_event(commit).await? {
                    Committed::Done { audit_seq, .. } => {
                        self.keep_run(&policy, &run_id, &agent, run, events.into_iter());
                        drop(run_guard);
                        audit_seq
                    }
                    // Another instance moved the run on: nothing was written.
                    _ => {
                        drop(run_guard);
                        let arrived = arrived_again(decided, &effect, policy, again, started);
                        let end = Arc::unwrap_or_clone(end);
                        return self.read_again(arrived, end, effect, connector).await;
                    }
                }
            }
            // The run's next call committed the decision first: the end follows alone.
            Held::Committed(audit_seq) => {
                drop(run_guard);
                self.finish_call(end).await?;
                audit_seq
            }
            Held::Lost => {
                drop(run_guard);
                let arrived = arrived_again(decided, &effect, policy, again, started);
                return self.read_again(arrived, end, effect, connector).await;
            }
        };
        decided.audit_seq = audit_seq.ok_or_else(|| {
            StoreError::Corrupt("the store did not append the decision record".into())
        })?;
        self.sweep_after_commit().await;
        crate::observe::decided(
            self.observer(),
            &DecisionSeen {
                call: &decided.call,
                verdict: &decided.verdict,
                approval_id: decided.approval_id.as_deref(),
                latency: started.elapsed(),
                executing: true,
            },
        );
        Ok(Executed { decided, effect: Some(effect), replayed: false, rolled_back_by: None })
    }

    /// Decides again a read that ran but whose commit with its decision failed, and records
    /// it as that decision says (see the module's header).
    async fn read_again(
        &self,
        arrived: Arrived,
        mut end: CallEnd,
        effect: Effect,
        connector: &dyn Connector,
    ) -> Result<Executed, EngineError> {
        let recorded = self.decide_and_record(&arrived, Some(connector), false).await?;
        let ready = recorded.ready(arrived);
        let goes_ahead = ready.replay_effect.is_none()
            && ready.decided.verdict.replay_of.is_none()
            && ready.effect.as_ref().is_some_and(|again| again.id == effect.id);
        end.audit.policy_revision = ready.decided.verdict.policy_revision.clone();
        if goes_ahead {
            self.finish_call(end).await?;
            return Ok(Executed {
                decided: ready.decided,
                effect: Some(effect),
                replayed: false,
                rolled_back_by: None,
            });
        }
        // It ran, and the agent does not get what it read: the log says both.
        let mut record = end.audit;
        record.effect_id = None;
        record.rollback_token = None;
        record.output = json!({
            "withheld": format!(
                "the read ran while another call of the run was committed; decided again: {}",
                ready.decided.verdict.decision.as_str()
            ),
        });
        self.store().append_audit(record).await?;
        match self.dispatch(ready, connector).await? {
            Dispatched::Done(executed) => Ok(*executed),
            // Not reached: a call that does not go ahead has no effect to dispatch.
            Dispatched::Ran(_) => {
                Err(StoreError::Corrupt("a withheld read ran again".into()).into())
            }
        }
    }

    /// Writes the end of an executed call after the run's last event.
    async fn finish_call(&self, end: CallEnd) -> Result<(), EngineError> {
        let _run_guard = self.lock_run(&end.run).await;
        let policy = self.policy();
        let cached = self.run_cache().take(&end.run, &policy.revision);
        let (run, agent, events) = (end.run.clone(), end.agent.clone(), end.events.clone());
        let version = self.store().finish_call(end).await?;
        self.expiry().touch(&run, &agent, self.now().0, version, None);
        // Kept only if nothing else was appended meanwhile (by another instance):
        // otherwise the next call reads the run again.
        let count = u64::try_from(events.len()).unwrap_or(u64::MAX);
        if let Some(mut known) = cached
            && known.snapshot.version.saturating_add(count) == version
        {
            match events.into_iter().try_for_each(|event| known.push(&policy, &agent, event)) {
                Ok(()) => self.run_cache().put(&run, known),
                Err(error) => tracing::warn!(run, %error, "run not cached"),
            }
        }
        Ok(())
    }
}

/// The call of `decided` as it arrived (`again`: its arrival, and whether its nonce was
/// spent before), to be decided again.
fn arrived_again(
    decided: Decided,
    effect: &Effect,
    policy: Arc<Policy>,
    again: (Timestamp, bool),
    started: Instant,
) -> Arrived {
    Arrived {
        call: decided.call,
        digest: effect.call_digest.clone(),
        policy,
        arrival: again.0,
        started,
        effect_id: effect.id.clone(),
        nonce_reused: again.1,
        executing: true,
        // Only an agent's reads are deferred (`Engine::execute_as`).
        origin: crate::origin::Origin::Agent,
    }
}
