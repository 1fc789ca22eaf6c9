//! Reconciliation (design.md §3 step 11): an effect left `outcome_unknown` — aecl stopped
//! between dispatch and outcome, or the call timed out — is resolved where its connector
//! can tell from the target whether the change landed (the `sql` connector's undo record,
//! written in the statement's own transaction; the `fs` connector's intent record and the
//! file's content). A landed effect becomes `succeeded` with the rollback token the
//! execution would have returned, so `aecl rollback` undoes it; one that did not land
//! becomes `failed`; one the connector cannot judge stays `outcome_unknown` with the
//! evidence. Every change of the ledger is audited (an `outcome` record with
//! `"reconciled"` in its output), written with the ledger change in one store step.
//!
//! INVARIANT: reconciliation executes nothing of the call: connectors only read the
//! target (and may write a fence that keeps a change still in flight from landing later).
//! It is idempotent: a reconciled effect is no longer `outcome_unknown`, so it is never
//! listed again, and an undecidable one is recorded again only when its evidence changes.

use std::time::Duration;

use aecl_audit::Outcome;
use aecl_core::Call;
use serde::Serialize;
use serde_json::{Value, json};

use crate::connector::{Connector, Invocation, Reconciled};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::origin::ROLLBACK_KEY_PREFIX;
use crate::run_event::RunEvent;
use crate::store::{Effect, EffectEnd, EffectState, Reconciliation, Store};

/// Effects read from the store at a time.
const PAGE: usize = 200;

/// What reconciling one effect came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileStatus {
    /// The change landed: the effect is now `succeeded` (and can be rolled back).
    Succeeded,
    /// The change did not land: the effect is now `failed`.
    Failed,
    /// The connector cannot tell: the effect stays `outcome_unknown`.
    Undecidable,
}

impl ReconcileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileStatus::Succeeded => "succeeded",
            ReconcileStatus::Failed => "failed",
            ReconcileStatus::Undecidable => "undecidable",
        }
    }
}

/// The report of reconciling one effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconcileReport {
    pub effect_id: String,
    pub run: String,
    pub action: String,
    pub status: ReconcileStatus,
    /// What the connector found.
    pub evidence: Value,
    /// Whether this pass changed the ledger and appended an audit record (false: the same
    /// evidence was recorded before, or another reconciler resolved the effect first).
    pub recorded: bool,
}

impl<S: Store> Engine<S> {
    /// Reconciles every effect left `outcome_unknown` through `connector` (the one that
    /// executes calls). Returns one report per effect looked at.
    pub async fn reconcile(
        &self,
        connector: &dyn Connector,
    ) -> Result<Vec<ReconcileReport>, EngineError> {
        let mut reports = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store().unresolved_effects(after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            let full = page.len() == PAGE;
            for effect in page {
                reports.push(self.reconcile_one(effect, connector).await?);
            }
            if !full {
                break;
            }
        }
        Ok(reports)
    }

    async fn reconcile_one(
        &self,
        effect: Effect,
        connector: &dyn Connector,
    ) -> Result<ReconcileReport, EngineError> {
        let found = self.ask_connector(&effect, connector).await?;
        let (status, state, outcome, result, error, token, evidence) = match found {
            Reconciled::Landed { result, rollback_token, evidence } => (
                ReconcileStatus::Succeeded,
                EffectState::Succeeded,
                Outcome::Succeeded,
                json!({ "reconciled": true, "evidence": evidence.clone(), "result": result }),
                None,
                rollback_token,
                evidence,
            ),
            Reconciled::NotLanded { evidence } => (
                ReconcileStatus::Failed,
                EffectState::Failed,
                Outcome::Failed,
                json!({ "reconciled": true, "evidence": evidence.clone() }),
                Some(format!(
                    "reconciled: did not land (was: {})",
                    effect.error.as_deref().unwrap_or("outcome_unknown")
                )),
                None,
                evidence,
            ),
            Reconciled::Undecidable { evidence } => (
                ReconcileStatus::Undecidable,
                EffectState::OutcomeUnknown,
                Outcome::OutcomeUnknown,
                json!({ "reconciled": false, "evidence": evidence.clone() }),
                effect.error.clone(),
                None,
                evidence,
            ),
        };
        let mut result = result;
        self.redact(&mut result);
        let mut report = ReconcileReport {
            effect_id: effect.id.clone(),
            run: effect.run.clone(),
            action: effect.action.clone(),
            status,
            evidence,
            recorded: false,
        };
        // Idempotent: the same evidence of an undecidable effect is recorded once.
        if state == EffectState::OutcomeUnknown && effect.result == result {
            return Ok(report);
        }
        let mut record = self.effect_outcome_record(&effect, outcome);
        record.rollback_token = token.clone().map(|token| self.redact_text(token));
        let error = error.map(|error| self.redact_text(error));
        record.output = match &error {
            Some(error) => json!({ "reconciled": result["reconciled"], "error": error,
                                   "evidence": result["evidence"] }),
            None => result.clone(),
        };
        let ended = Effect { state, ..effect.clone() };
        let rollback_seal = self.seal_undo((&ended).into(), token.as_deref());
        let end = EffectEnd {
            state,
            result,
            error,
            rollback_token: token,
            rollback_seal,
            at: self.now(),
        };
        report.recorded = self
            .store()
            .reconcile_effect(Reconciliation { effect_id: effect.id.clone(), end, audit: record })
            .await?;
        if report.recorded {
            tracing::info!(effect = %effect.id, status = status.as_str(), "effect reconciled");
        }
        Ok(report)
    }

    /// What the connector finds, bounded by the call timeout; never an error of the
    /// connector's (those are evidence), only of the store.
    async fn ask_connector(
        &self,
        effect: &Effect,
        connector: &dyn Connector,
    ) -> Result<Reconciled, EngineError> {
        let undecidable =
            |reason: String| Reconciled::Undecidable { evidence: json!({ "reason": reason }) };
        let is_compensation = effect
            .idempotency_key
            .as_deref()
            .is_some_and(|key| key.starts_with(ROLLBACK_KEY_PREFIX));
        if is_compensation {
            // Its connector is the rollback engine's wrapper, not one that can be asked;
            // rolling back again makes a new attempt once this one is resolved.
            return Ok(undecidable("a compensation call: its undo cannot be reconciled".into()));
        }
        let call = match self.recorded_call(effect).await? {
            Ok(call) => call,
            Err(why) => return Ok(undecidable(why)),
        };
        let limit = self.config().call_timeout.max(Duration::from_secs(1));
        // The action's binding as the policy in force says (the call may predate it).
        let policy = self.policy();
        let invocation = Invocation::new(&policy, &call, &effect.id);
        match tokio::time::timeout(limit, connector.reconcile(invocation)).await {
            Ok(found) => Ok(found),
            Err(_) => Ok(undecidable(format!("the connector did not answer within {limit:?}"))),
        }
    }

    /// The call of `effect` as its run recorded it, checked against the effect's digest
    /// (so that a connector never judges an effect by another call's arguments).
    async fn recorded_call(&self, effect: &Effect) -> Result<Result<Call, String>, EngineError> {
        let snapshot = self.store().load_run(&effect.run).await?;
        let found = snapshot.events.iter().rev().find_map(|event| match event {
            RunEvent::Call { call, .. } if call.id == effect.call_id => {
                let call = call.to_call(&effect.agent);
                (call.digest() == effect.call_digest).then_some(call)
            }
            _ => None,
        });
        Ok(found.ok_or_else(|| {
            format!(
                "run `{}` records no call `{}` with the effect's digest",
                effect.run, effect.call_id
            )
        }))
    }
}
