//! The rollback engine (design.md §4 "Rollback engine"): undoing an effect is itself a
//! call. The catalog names each reversible action's compensation action; rolling back an
//! effect makes a call of that action, by the same agent in the same run, with the
//! arguments `{"effect": EFFECT_ID}` and the idempotency key `rollback:EFFECT_ID`. It goes
//! through [`Engine::execute`] like any call: decided by policy (it may need approval or
//! be blocked), recorded in the audit log before anything happens, executed once — a
//! second rollback of the same effect replays the first outcome and touches nothing. Only
//! an attempt that failed (nothing was undone: a conflict, an unreachable database) is
//! followed by a new one, `rollback:EFFECT_ID#2` and so on, when asked again.
//!
//! Compensation calls are aecl's own: a call or reported result of an agent whose id or
//! idempotency key starts with [`ROLLBACK_KEY_PREFIX`] is refused before anything is
//! recorded ([`EngineError::ReservedId`]), so no agent can take an undo's place or its
//! key, and an agent's call of an action that is some action's compensation is blocked
//! (`rollback.compensation_action`). A compensation is decided under the policy, but its
//! agent's run budget (`max_tool_calls_per_run`) and the agent's rate and concurrency
//! limits do not hold it back: a run that spent its budget is the run most likely to need
//! undoing. Its decision record names who asked for it (`input.requested_by`).
//!
//! What executes the compensation is the connector that executed the effect, through
//! [`Connector::compensate`] with the effect's rollback token. The connector checks that
//! the resource is still in the state the effect left it in before changing anything;
//! otherwise the answer is `undo_conflict` and nothing is touched.

use std::sync::Mutex;

use aecl_core::policy::Reversibility;
use aecl_core::{ActionSpec, Call, Decision, Scope};
use serde::Serialize;
use serde_json::json;

use crate::connector::{BoxFuture, Compensated, Connector, ConnectorOutcome, Invocation};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::{Effect, EffectState, Store};

pub use crate::origin::{Origin, ROLLBACK_KEY_PREFIX, Requester, reserved};

/// The prefix of a compensation's error when the resource changed since the effect.
pub const UNDO_CONFLICT: &str = "undo_conflict";

/// What rolling back one effect came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    /// The compensation ran: the resource is as it was before the effect.
    Restored,
    /// An earlier rollback of this effect already ran; nothing was done now.
    AlreadyRolledBack,
    /// The resource changed since the effect: nothing was touched.
    UndoConflict,
    /// The action has no compensation (or its connector cannot undo it).
    Irreversible,
    /// The effect did not succeed: there is nothing to undo.
    NothingToUndo,
    /// The effect is still being executed: roll back once it has ended.
    InFlight,
    /// Whether the effect happened is unknown: reconcile it first (`aecl effects`).
    OutcomeUnknown,
    /// The effect succeeded but aecl holds nothing to undo it with (the agent's client
    /// executed it, or its connector kept no rollback token).
    NotRecorded,
    /// The compensation call needs a human's approval first: approve it and roll back
    /// again.
    PendingApproval,
    /// The policy blocks the compensation call.
    Blocked,
    /// The compensation failed (or its outcome is unknown); see `detail`.
    Failed,
}

impl RollbackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackStatus::Restored => "restored",
            RollbackStatus::AlreadyRolledBack => "already_rolled_back",
            RollbackStatus::UndoConflict => "undo_conflict",
            RollbackStatus::Irreversible => "irreversible",
            RollbackStatus::NothingToUndo => "nothing_to_undo",
            RollbackStatus::InFlight => "in_flight",
            RollbackStatus::OutcomeUnknown => "outcome_unknown",
            RollbackStatus::NotRecorded => "not_recorded",
            RollbackStatus::PendingApproval => "pending_approval",
            RollbackStatus::Blocked => "blocked",
            RollbackStatus::Failed => "failed",
        }
    }

    /// Whether a run-level rollback goes on to the next (earlier) effect: past effects
    /// that are undone or that no undo will ever change; not past one that may still
    /// change or whose state is unknown.
    fn lets_run_continue(self) -> bool {
        matches!(
            self,
            RollbackStatus::Restored
                | RollbackStatus::AlreadyRolledBack
                | RollbackStatus::NothingToUndo
                | RollbackStatus::Irreversible
                | RollbackStatus::NotRecorded
        )
    }
}

/// The report of rolling back one effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport {
    pub effect_id: String,
    pub action: String,
    pub status: RollbackStatus,
    /// The compensation action, when the catalog names one.
    pub compensation: Option<String>,
    /// The compensation's own effect (the ledger entry of the undo).
    pub compensation_effect: Option<String>,
    /// The approval request the compensation waits for.
    pub approval_id: Option<String>,
    /// Why, in words (the conflict found, the block's reasons, the failure).
    pub detail: String,
}

impl<S: Store> Engine<S> {
    /// Rolls back effect `effect_id` through `connector` (the one that executed it), as
    /// `requester` asked.
    pub async fn rollback(
        &self,
        effect_id: &str,
        connector: &dyn Connector,
        requester: &Requester,
    ) -> Result<RollbackReport, EngineError> {
        let effect = self
            .store()
            .effect(effect_id)
            .await?
            .ok_or_else(|| EngineError::EffectNotFound(effect_id.to_owned()))?;
        self.rollback_effect(effect, connector, requester).await
    }

    /// Rolls back the run's effects, newest first, as `requester` asked. Compensations
    /// themselves are not rolled back. Stops at the first effect that could not be undone
    /// and may still change (a conflict, a block, an approval still to give, a failure, an
    /// effect still executing or of unknown outcome): undoing earlier effects under a later
    /// one that stays could leave a state that never existed. Goes on past effects no undo
    /// will ever change (irreversible, or not recorded). The reports say how far it went.
    pub async fn rollback_run(
        &self,
        run: &str,
        connector: &dyn Connector,
        requester: &Requester,
    ) -> Result<Vec<RollbackReport>, EngineError> {
        let effects = self.store().run_effects(run).await?;
        let mut reports = Vec::new();
        for effect in effects.into_iter().rev() {
            // An undo keeps nothing to undo it with: an effect under such a key that holds
            // a token or its seal is not one, and is judged (its seal covers the key).
            let is_compensation = effect
                .idempotency_key
                .as_deref()
                .is_some_and(|key| key.starts_with(ROLLBACK_KEY_PREFIX))
                && effect.rollback_token.is_none()
                && effect.rollback_seal.is_none();
            if is_compensation {
                continue;
            }
            let report = self.rollback_effect(effect, connector, requester).await?;
            let go_on = report.status.lets_run_continue();
            reports.push(report);
            if !go_on {
                break;
            }
        }
        Ok(reports)
    }

    async fn rollback_effect(
        &self,
        effect: Effect,
        connector: &dyn Connector,
        requester: &Requester,
    ) -> Result<RollbackReport, EngineError> {
        let policy = self.policy();
        let mut report = RollbackReport {
            effect_id: effect.id.clone(),
            action: effect.action.clone(),
            status: RollbackStatus::Irreversible,
            compensation: None,
            compensation_effect: None,
            approval_id: None,
            detail: String::new(),
        };
        let spec = policy.actions.get(&effect.action);
        let (spec, compensation) = match spec.map(|a| (a, &a.reversibility)) {
            Some((spec, Reversibility::Reversible { compensation })) => {
                (spec.clone(), compensation.clone())
            }
            Some(_) => {
                report.detail = format!("action `{}` has no compensation", effect.action);
                return Ok(report);
            }
            None => {
                report.detail = format!("action `{}` is not in the catalog", effect.action);
                return Ok(report);
            }
        };
        report.compensation = Some(compensation.clone());
        // INVARIANT: an undo acts only on what the engine recorded of the effect: a token,
        // action or run changed in the store since is refused before anything is asked
        // of the connector (red team round 25, tamper F1).
        if !self.undo_verifies(&effect) {
            tracing::error!(effect = %effect.id, "an effect's undo does not verify: refused");
            report.status = RollbackStatus::Failed;
            report.detail = "the effect's ledger entry is not as aecl recorded it (its undo's \
                             seal does not verify): nothing was touched"
                .to_owned();
            return Ok(report);
        }
        let token = match (&effect.state, &effect.rollback_token) {
            (EffectState::Succeeded, Some(token)) => token.clone(),
            (state, _) => {
                (report.status, report.detail) = match state {
                    EffectState::Pending | EffectState::Dispatched => (
                        RollbackStatus::InFlight,
                        format!(
                            "the effect is {}: it is still being executed; roll it back once \
                             it has ended",
                            state.as_str()
                        ),
                    ),
                    EffectState::OutcomeUnknown => (
                        RollbackStatus::OutcomeUnknown,
                        "whether the effect happened is unknown: reconcile it first (`aecl \
                         effects reconcile`)"
                            .to_owned(),
                    ),
                    EffectState::Succeeded => (
                        RollbackStatus::NotRecorded,
                        if crate::engine::reported::is_client_hand_over(&effect.result) {
                            "the agent's client executed it: aecl holds nothing to undo it with"
                                .to_owned()
                        } else {
                            "its connector kept no rollback token: aecl holds nothing to undo \
                             it with"
                                .to_owned()
                        },
                    ),
                    EffectState::Failed => (
                        RollbackStatus::NothingToUndo,
                        "the effect failed: nothing to undo".to_owned(),
                    ),
                };
                return Ok(report);
            }
        };
        let key = self.attempt_key(&effect).await?;
        let call = Call {
            id: key.clone(),
            agent: effect.agent.clone(),
            run: effect.run.clone(),
            action: compensation,
            args: json!({ "effect": effect.id }),
            idempotency_key: Some(key),
            nonce: None,
            scope: Scope::default(),
            provenance: Default::default(),
            paths: Default::default(),
        };
        let undo = Compensating {
            connector,
            effect: &effect,
            action: &spec,
            token: &token,
            answer: Mutex::new(None),
        };
        let origin = Origin::Rollback(requester.clone());
        let executed = self.execute_as(call, &undo, origin).await?;
        // What the connector answered, when this attempt ran (not when it was replayed).
        let answer = undo.answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        report.approval_id.clone_from(&executed.decided.approval_id);
        let verdict = &executed.decided.verdict;
        if let Some(done) = &executed.effect {
            report.compensation_effect = Some(done.id.clone());
            let error = done.error.clone().unwrap_or_default();
            (report.status, report.detail) = match done.state {
                EffectState::Succeeded if executed.replayed => {
                    (RollbackStatus::AlreadyRolledBack, "an earlier rollback restored it".into())
                }
                EffectState::Succeeded => (RollbackStatus::Restored, String::new()),
                EffectState::Failed if answer == Some(Answer::Conflict) => {
                    (RollbackStatus::UndoConflict, error)
                }
                EffectState::Failed if answer == Some(Answer::Irreversible) => {
                    (RollbackStatus::Irreversible, error)
                }
                _ => (RollbackStatus::Failed, format!("{}: {error}", done.state.as_str())),
            };
            return Ok(report);
        }
        let reasons = || {
            verdict
                .reasons
                .iter()
                .filter(|r| r.decision != Decision::Allow)
                .map(|r| format!("{}: {}", r.rule, r.message))
                .collect::<Vec<_>>()
                .join("; ")
        };
        (report.status, report.detail) = match verdict.enforced_decision() {
            Decision::Block => (RollbackStatus::Blocked, reasons()),
            Decision::RequireApproval => (RollbackStatus::PendingApproval, reasons()),
            // Allowed but nothing executed: a dry run, or a replay of a call that never
            // executed.
            Decision::Allow => (
                RollbackStatus::Failed,
                format!("the compensation was not executed ({} mode)", verdict.mode.as_str()),
            ),
        };
        Ok(report)
    }
}

const IRREVERSIBLE: &str = "irreversible";

/// The most undo attempts of one effect (each after the previous one failed).
const MAX_ATTEMPTS: u32 = 100;

impl<S: Store> Engine<S> {
    /// The idempotency key of this undo attempt: `rollback:ID` first; after an attempt that
    /// ended without undoing (a conflict someone has since resolved, a database that was
    /// down), the next one is `rollback:ID#2`, `#3`... An attempt that succeeded, or that
    /// may still be running or may have happened, keeps its key, so repeating the rollback
    /// replays it and undoes nothing twice.
    async fn attempt_key(&self, effect: &Effect) -> Result<String, EngineError> {
        let first = format!("{ROLLBACK_KEY_PREFIX}{}", effect.id);
        let mut key = first.clone();
        for attempt in 2..=MAX_ATTEMPTS {
            match self.store().effect_by_key(&effect.run, &key).await? {
                Some(done) if done.state == EffectState::Failed => {
                    key = format!("{first}#{attempt}");
                }
                _ => return Ok(key),
            }
        }
        Ok(key)
    }
}

impl<S: Store> Engine<S> {
    /// The compensation effect that undid `effect`, if aecl has rolled it back: its
    /// rollback calls are effects of its run under the keys `attempt_key` hands out in
    /// turn (`rollback:ID`, then `rollback:ID#2`, ... after each failed one). A replayed
    /// call's answer names it, so that the agent does not take the effect for in place.
    pub(crate) async fn undone_by(
        &self,
        effect: Option<&Effect>,
    ) -> Result<Option<String>, EngineError> {
        let Some(effect) = effect.filter(|e| e.state == EffectState::Succeeded) else {
            return Ok(None);
        };
        let first = format!("{ROLLBACK_KEY_PREFIX}{}", effect.id);
        let mut key = first.clone();
        for attempt in 2..=MAX_ATTEMPTS + 1 {
            match self.store().effect_by_key(&effect.run, &key).await? {
                Some(done) if done.state == EffectState::Succeeded => return Ok(Some(done.id)),
                Some(done) if done.state == EffectState::Failed => {
                    key = format!("{first}#{attempt}");
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }
}

/// What the connector answered to a compensation, kept beside the error text so that the
/// report's status never depends on reading that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Restored,
    Conflict,
    Irreversible,
    Failed,
}

/// The connector of a compensation call: it undoes `effect` through the connector that
/// executed it, whatever the compensation call's own arguments.
struct Compensating<'c> {
    connector: &'c dyn Connector,
    effect: &'c Effect,
    /// The catalog entry of the effect's action (whose connector undoes it).
    action: &'c ActionSpec,
    token: &'c str,
    /// Set when the compensation ran.
    answer: Mutex<Option<Answer>>,
}

impl Connector for Compensating<'_> {
    fn execute<'a>(&'a self, _: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        Box::pin(async move {
            let compensated = self.connector.compensate(self.effect, self.action, self.token).await;
            let answer = match &compensated {
                Compensated::Restored { .. } => Answer::Restored,
                Compensated::Conflict { .. } => Answer::Conflict,
                Compensated::Irreversible => Answer::Irreversible,
                Compensated::Failed { .. } => Answer::Failed,
            };
            *self.answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(answer);
            match compensated {
                Compensated::Restored { result } => ConnectorOutcome::Succeeded {
                    result: json!({ "status": "restored", "effect": self.effect.id, "undo": result }),
                    rollback_token: None,
                },
                Compensated::Conflict { detail } => {
                    ConnectorOutcome::Failed { error: format!("{UNDO_CONFLICT}: {detail}") }
                }
                Compensated::Irreversible => ConnectorOutcome::Failed {
                    error: format!("{IRREVERSIBLE}: the connector cannot undo this effect"),
                },
                Compensated::Failed { error } => {
                    ConnectorOutcome::Failed { error: format!("undo_failed: {error}") }
                }
            }
        })
    }
}
