//! The in-memory store's state: plain maps keyed as the databases' unique constraints,
//! and the checks and writes each port method is made of. Every function here runs under
//! the store's one lock and either refuses before writing or cannot fail.

use std::collections::{HashMap, HashSet};

use aecl_core::limits::gcra;
use aecl_core::{CallDigest, Revision, Timestamp};

use super::log::Log;
use crate::error::StoreError;
use crate::run_event::RunEvent;
use crate::store::{
    Admission, Answer, Approval, ApprovalStatus, Committed, Effect, EffectEnd, EffectState, Grant,
    GrantRefusal, NewEffect, RunCommit, StandingGrant, Superseded, Voiding,
};

/// Everything the store holds. Keys mirror the databases' unique constraints.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) runs: HashMap<String, Run>,
    /// GCRA theoretical arrival time per key.
    pub(super) rates: HashMap<String, u64>,
    /// Concurrency slots: (key, holder) -> lease end.
    pub(super) slots: HashMap<(String, String), Timestamp>,
    pub(super) effects: HashMap<String, Effect>,
    /// (run, call id) -> effect id: one effect per call of a run.
    pub(super) effect_of_call: HashMap<(String, String), String>,
    /// (run, idempotency key) -> effect id: one effect per key of a run.
    pub(super) effect_of_key: HashMap<(String, String), String>,
    pub(super) nonces: HashSet<(String, String)>,
    pub(super) grants: HashMap<String, StoredGrant>,
    pub(super) approvals: HashMap<String, Approval>,
    pub(super) standing: HashMap<String, StandingGrant>,
    /// Revoked credential ids -> (when, by whom).
    pub(super) revoked: HashMap<String, (Timestamp, String)>,
    pub(super) log: Log,
}

#[derive(Debug)]
pub(super) struct Run {
    /// The agent of the run's first commit (later commits do not change it).
    pub(super) agent: String,
    pub(super) events: Vec<RunEvent>,
}

#[derive(Debug, Clone)]
pub(super) struct StoredGrant {
    pub(super) grant: Grant,
    pub(super) consumed: Option<Timestamp>,
    pub(super) voided: Option<Voiding>,
}

impl StoredGrant {
    pub(super) fn new(grant: Grant) -> StoredGrant {
        StoredGrant { grant, consumed: None, voided: None }
    }

    /// Neither spent nor voided.
    pub(super) fn is_live(&self) -> bool {
        self.consumed.is_none() && self.voided.is_none()
    }
}

pub(super) fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Why a grant cannot be spent on this call now, if it cannot (the databases' order).
pub(super) fn grant_refusal(
    stored: &StoredGrant,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Option<GrantRefusal> {
    if stored.consumed.is_some() {
        Some(GrantRefusal::AlreadyUsed)
    } else if stored.voided.is_some() {
        Some(GrantRefusal::Voided)
    } else if at >= stored.grant.expires {
        Some(GrantRefusal::Expired)
    } else if &stored.grant.call_digest != digest {
        Some(GrantRefusal::OtherCall)
    } else if &stored.grant.policy_revision != revision {
        Some(GrantRefusal::OtherRevision)
    } else {
        None
    }
}

/// What an effect left in flight becomes after a restart, and why.
pub(super) fn recovered(state: EffectState) -> (EffectState, &'static str) {
    match state {
        EffectState::Pending => {
            (EffectState::Failed, "aecl stopped before dispatch: the call was not executed")
        }
        _ => (
            EffectState::OutcomeUnknown,
            "aecl stopped after dispatch: the call may or may not have happened, and is not retried",
        ),
    }
}

impl State {
    pub(super) fn version(&self, run: &str) -> u64 {
        self.runs.get(run).map_or(0, |r| count(r.events.len()))
    }

    /// Appends events to `run` (created for `agent` if new); returns the run's version.
    pub(super) fn append_events(&mut self, run: &str, agent: &str, events: Vec<RunEvent>) -> u64 {
        let stored = self
            .runs
            .entry(run.to_owned())
            .or_insert_with(|| Run { agent: agent.to_owned(), events: Vec::new() });
        stored.events.extend(events);
        count(stored.events.len())
    }

    pub(super) fn transition_error(&self, id: &str, expected: &'static str) -> StoreError {
        match self.effects.get(id) {
            Some(e) => StoreError::Transition {
                id: id.to_owned(),
                state: e.state.as_str().to_owned(),
                expected,
            },
            None => StoreError::NoEffect(id.to_owned()),
        }
    }

    /// The existing effect `effect` collides with, if any: by (run, idempotency key), then
    /// (run, call id), then id. `Err` for a bare id collision (which no caller makes on
    /// purpose: ids are fresh UUIDs).
    pub(super) fn conflicting(&self, effect: &NewEffect) -> Result<Option<&Effect>, StoreError> {
        let by_key = effect
            .idempotency_key
            .as_ref()
            .and_then(|key| self.effect_of_key.get(&(effect.run.clone(), key.clone())));
        let by_call = self.effect_of_call.get(&(effect.run.clone(), effect.call_id.clone()));
        match by_key.or(by_call) {
            Some(id) => self
                .effects
                .get(id)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("index names no effect `{id}`"))),
            None if self.effects.contains_key(&effect.id) => Err(StoreError::Backend(format!(
                "an effect with id `{}` already exists",
                effect.id
            ))),
            None => Ok(None),
        }
    }

    /// Records `effect`; the caller has checked it conflicts with nothing.
    pub(super) fn insert_effect(&mut self, effect: &NewEffect) {
        let state = if effect.dispatched { EffectState::Dispatched } else { EffectState::Pending };
        let stored = Effect {
            id: effect.id.clone(),
            run: effect.run.clone(),
            call_id: effect.call_id.clone(),
            agent: effect.agent.clone(),
            action: effect.action.clone(),
            idempotency_key: effect.idempotency_key.clone(),
            call_digest: effect.call_digest.clone(),
            node: effect.node.clone(),
            state,
            result: serde_json::Value::Null,
            error: None,
            rollback_token: None,
            rollback_seal: None,
            created: effect.created,
            updated: effect.created,
        };
        if let Some(key) = &effect.idempotency_key {
            self.effect_of_key.insert((effect.run.clone(), key.clone()), effect.id.clone());
        }
        self.effect_of_call.insert((effect.run.clone(), effect.call_id.clone()), effect.id.clone());
        self.effects.insert(effect.id.clone(), stored);
    }

    /// Ends effect `id` if it is pending or dispatched.
    pub(super) fn finish(&mut self, id: &str, end: &EffectEnd) -> Result<(), StoreError> {
        match self.effects.get_mut(id) {
            Some(e) if !e.state.is_final() => {
                e.state = end.state;
                e.result = end.result.clone();
                e.error = end.error.clone();
                e.rollback_token = end.rollback_token.clone();
                e.rollback_seal = end.rollback_seal.clone();
                e.updated = end.at;
                Ok(())
            }
            _ => Err(self.transition_error(id, "pending or dispatched")),
        }
    }

    pub(super) fn dispatch(&mut self, id: &str) -> Result<(), StoreError> {
        match self.effects.get_mut(id) {
            Some(e) if e.state == EffectState::Pending => {
                e.state = EffectState::Dispatched;
                Ok(())
            }
            _ => Err(self.transition_error(id, "pending")),
        }
    }

    /// Spends grant `id` for the call with `digest` under `revision`, once.
    pub(super) fn spend_grant(
        &mut self,
        id: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Grant, GrantRefusal> {
        let stored = self.grants.get_mut(id).ok_or(GrantRefusal::Unknown)?;
        if let Some(refusal) = grant_refusal(stored, digest, revision, at) {
            return Err(refusal);
        }
        stored.consumed = Some(at);
        Ok(stored.grant.clone())
    }

    /// Voids the live grants of the call with `digest`; returns them.
    pub(super) fn void_grants(&mut self, digest: &CallDigest, voiding: &Voiding) -> Vec<Grant> {
        let mut voided: Vec<Grant> = self
            .grants
            .values_mut()
            .filter(|g| g.is_live() && &g.grant.call_digest == digest)
            .map(|g| {
                g.voided = Some(voiding.clone());
                g.grant.clone()
            })
            .collect();
        voided.sort_by(|a, b| a.id.cmp(&b.id));
        voided
    }

    /// Files pending request `approval` (see [`crate::store::Store::file_approval`]).
    pub(super) fn file_approval(
        &mut self,
        approval: Approval,
        voiding: &Voiding,
    ) -> Result<Superseded, StoreError> {
        if self.approvals.contains_key(&approval.id) {
            return Err(StoreError::Backend(format!("approval `{}` already exists", approval.id)));
        }
        let mut requests: Vec<Approval> = self
            .approvals
            .values_mut()
            .filter(|a| {
                a.call_digest == approval.call_digest && a.status == ApprovalStatus::Pending
            })
            .filter(|a| a.policy_revision != approval.policy_revision)
            .map(|a| {
                a.status = ApprovalStatus::Expired;
                a.decided_by = Some("aecl".to_owned());
                a.reason = Some(voiding.why.clone());
                a.clone()
            })
            .collect();
        requests.sort_by(|a, b| a.id.cmp(&b.id));
        let grants = self.void_grants(&approval.call_digest, voiding);
        self.approvals.insert(approval.id.clone(), approval);
        Ok(Superseded { grants, requests })
    }

    /// Answers pending request `id` (see [`crate::store::Store::answer_approval`]).
    pub(super) fn answer_approval(
        &mut self,
        id: &str,
        answer: Answer,
    ) -> Result<Option<Vec<Grant>>, StoreError> {
        if let Some(grant) = &answer.grant
            && self.grants.contains_key(&grant.id)
        {
            return Err(StoreError::Backend(format!("grant `{}` already exists", grant.id)));
        }
        let digest = match self.approvals.get_mut(id) {
            Some(approval) if approval.status == ApprovalStatus::Pending => {
                approval.status = answer.status;
                approval.decided_by = Some(answer.by);
                approval.reason = answer.reason;
                approval.call_digest.clone()
            }
            _ => return Ok(None),
        };
        let voided = self.void_grants(&digest, &answer.voiding);
        if let Some(grant) = answer.grant {
            self.grants.insert(grant.id.clone(), StoredGrant::new(grant));
        }
        Ok(Some(voided))
    }

    pub(super) fn release_slots(&mut self, holder: &str) {
        self.slots.retain(|(_, h), _| h != holder);
    }

    /// Checks a commit against every rule, writing nothing: the refusal it meets, or the
    /// rate limits' new arrival times.
    pub(super) fn admit(&self, commit: &RunCommit) -> Result<Vec<(String, u64)>, Committed> {
        let mut rate_updates = Vec::new();
        for (index, admission) in commit.admission.iter().enumerate() {
            match admission {
                Admission::Rate { key, limit, now } => {
                    match gcra(limit, self.rates.get(key).copied(), now.0) {
                        Ok(next) => rate_updates.push((key.clone(), next)),
                        Err(wait) => {
                            return Err(Committed::Refused { index, retry_after_ms: Some(wait) });
                        }
                    }
                }
                Admission::Slot { key, limit, holder, now, .. } => {
                    let held = self
                        .slots
                        .iter()
                        .filter(|((k, h), expires)| k == key && h != holder && **expires > *now)
                        .count();
                    if count(held) >= u64::from(*limit) {
                        return Err(Committed::Refused { index, retry_after_ms: None });
                    }
                }
            }
        }
        if let Some(check) = &commit.call_id
            && let Some(id) = self.effect_of_call.get(&(commit.run.clone(), check.call_id.clone()))
            && let Some(executed) = self.effects.get(id)
        {
            return Err(Committed::CallIdTaken {
                effect_id: executed.id.clone(),
                digest: executed.call_digest.clone(),
            });
        }
        if let Some(grant) = &commit.grant {
            match self.grants.get(&grant.id) {
                None => return Err(Committed::GrantRefused(GrantRefusal::Unknown)),
                Some(stored) => {
                    if let Some(refusal) =
                        grant_refusal(stored, &grant.digest, &grant.revision, grant.at)
                    {
                        return Err(Committed::GrantRefused(refusal));
                    }
                }
            }
        }
        Ok(rate_updates)
    }
}

/// Newest first by `(time, id)`, at most `limit`.
pub(super) fn newest<T: Clone>(
    items: impl Iterator<Item = T>,
    key: impl Fn(&T) -> (Timestamp, String),
    limit: usize,
) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort_by_key(|item| std::cmp::Reverse(key(item)));
    items.truncate(limit);
    items
}
