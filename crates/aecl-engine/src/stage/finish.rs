//! Stage 9, finish (design.md §3 step 12): the connector's outcome becomes the effect's end
//! in the ledger (its state from the outcome's cause, [`ConnectorOutcome::ledger`]), the
//! run's outcome event and, for aecl's own executions, the output that feeds provenance,
//! the concurrency slot released and the outcome record: one more write
//! (`Store::finish_call`), appended after the run's last event.
//!
//! The answer waits for that write's sync only for a call with no effect, whose decision
//! was committed unsynced and becomes durable with it (see `record.rs`). An effectful
//! call's decision and ledger entry were durable before dispatch; its end is committed
//! unsynced (`Durability::Ordered`), so the agent does not wait for a second fsync. An OS
//! crash before the next sync leaves the effect `dispatched`, which recovery and
//! reconciliation resolve from the target.

use serde_json::{Value, json};
use tracing::Instrument;

use aecl_audit::RecordKind;

use crate::connector::ConnectorOutcome;
use crate::engine::{Engine, Executed, elapsed_ms, slot_holder};
use crate::error::EngineError;
use crate::run_event::RunEvent;
use crate::stage::dispatch::Ran;
use crate::stage::record::no_effect;
use crate::stage::span;
use crate::store::{CallEnd, Durability, Effect, EffectEnd, EffectState, Store};

impl<S: Store> Engine<S> {
    /// Records how `ran`'s call ended, and answers with its effect.
    pub(crate) async fn finish(&self, ran: Ran) -> Result<Executed, EngineError> {
        let span = span("finish", &ran.ready.decided.call);
        self.finish_ran(ran).instrument(span).await
    }

    async fn finish_ran(&self, ran: Ran) -> Result<Executed, EngineError> {
        let Ran { ready, effect: new_effect, outcome, ran_in, reports_result, started } = ran;
        let decided = ready.decided;
        let call = &decided.call;
        let (state, audit_outcome) = outcome.ledger();
        let (result, error, rollback_token) = match outcome {
            ConnectorOutcome::Succeeded { result, rollback_token } => {
                (result, None, rollback_token)
            }
            ConnectorOutcome::Failed { error }
            | ConnectorOutcome::Unknown { error }
            | ConnectorOutcome::TimedOut { error } => (Value::Null, Some(error), None),
        };
        let mut redacted = result.clone();
        self.redact(&mut redacted);
        let end = EffectEnd {
            state,
            result: redacted.clone(),
            error: error.clone(),
            rollback_token: rollback_token.clone(),
            at: self.now(),
        };
        let executed = state != EffectState::Failed;
        let mut events = vec![RunEvent::Outcome { id: call.id.clone(), executed }];
        if state == EffectState::Succeeded && !reports_result {
            // The output feeds provenance like any tool result. A client that runs the
            // call itself reports its output later (`report_result`).
            events.push(RunEvent::Result { id: call.id.clone(), output: result });
        }
        let mut record = self.record(RecordKind::Outcome, &call.agent, &call.run);
        record.call_id.clone_from(&call.id);
        record.action.clone_from(&call.action);
        record.call_digest = new_effect.call_digest.clone();
        record.policy_revision = decided.verdict.policy_revision.clone();
        record.outcome = Some(audit_outcome);
        record.output = match &error {
            Some(error) => json!({ "error": error }),
            None => redacted,
        };
        record.effect_id = Some(new_effect.id.clone());
        // Outcome records name the tier the call actually ran in.
        record.sandbox_id = ran_in.map(|t| t.as_str().to_owned());
        record.rollback_token = rollback_token;
        record.latency_ms = elapsed_ms(started);
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
            created: new_effect.created,
            updated: end.end.at,
        };
        self.finish_call(end).await?;
        Ok(Executed { decided, effect: Some(effect), replayed: false })
    }

    /// Writes the end of an executed call after the run's last event.
    async fn finish_call(&self, end: CallEnd) -> Result<(), EngineError> {
        let _run_guard = self.run_lock(&end.run).lock().await;
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
