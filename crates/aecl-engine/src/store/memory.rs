//! The in-memory store: the whole [`Store`] port over plain maps behind one lock, with the
//! same semantics as the SQLite and PostgreSQL stores of `aecl-store` (the contract suite
//! of `aecl-testkit` runs on all three). It is the reference implementation of the port
//! and what the engine's own tests run on. Nothing is durable: it lives as long as the
//! process.
//!
//! Every method is one critical section over the whole state, so each is atomic the way a
//! database transaction is: a commit either writes all of its parts or none. The audit log
//! is kept as the databases keep it (hash chain, Merkle range, signed checkpoints), with
//! checkpoint signing group-committed (`log.rs`).

mod log;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};

use aecl_audit::{AuditRecord, SignerKey, StoredRecord};
use aecl_core::{CallDigest, Revision, Timestamp};

use super::{
    Admission, Answer, Approval, ApprovalStatus, Begun, CallEnd, Committed, Effect, EffectEnd,
    EffectState, Grant, GrantRefusal, NewEffect, Reconciliation, RunCommit, RunSnapshot,
    StandingGrant, Store, StoreHealth, Superseded, Voiding,
};
use crate::error::StoreError;
use log::Sealer;
use state::{State, StoredGrant, count, grant_refusal, newest, recovered};

/// The in-memory implementation of the store port. Clones share one store.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    sealer: Sealer,
}

impl MemoryStore {
    /// An empty store whose audit checkpoints carry `origin` and are signed with `signer`.
    pub fn new(origin: &str, signer: SignerKey) -> MemoryStore {
        MemoryStore {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                sealer: Sealer {
                    origin: origin.to_owned(),
                    signer,
                    turn: tokio::sync::Mutex::new(()),
                },
            }),
        }
    }

    /// The state, or an error when a panic left it half-written (poisoned): the store then
    /// refuses everything rather than answer from a state no transaction produced.
    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.inner.state.lock().map_err(|_| poisoned())
    }

    /// Returns once a signed checkpoint covers record `seq` (with `None`, every record).
    /// One producer signs at a time, over everything appended so far: those queued behind
    /// it usually find their records covered already (group commit).
    async fn seal(&self, seq: Option<u64>) -> Result<(), StoreError> {
        let sealer = &self.inner.sealer;
        let _turn = sealer.turn.lock().await;
        let checkpoint = {
            let mut state = self.state()?;
            if state.log.is_sealed(seq) {
                return Ok(());
            }
            state.log.cut(&sealer.origin)
        };
        let note = sealer.sign(&checkpoint)?;
        self.state()?.log.sealed_at(checkpoint.size, note);
        Ok(())
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend("the in-memory store was poisoned by a panic".to_owned())
}

impl Store for MemoryStore {
    async fn load_run(&self, run: &str) -> Result<RunSnapshot, StoreError> {
        let state = self.state()?;
        Ok(match state.runs.get(run) {
            Some(stored) => RunSnapshot {
                agent: Some(stored.agent.clone()),
                version: count(stored.events.len()),
                events: stored.events.clone(),
            },
            None => RunSnapshot::default(),
        })
    }

    async fn commit_run_event(&self, mut commit: RunCommit) -> Result<Committed, StoreError> {
        // Encoded before the lock, as the databases encode on the producer's thread.
        let audit = commit.audit.as_ref().map(AuditRecord::to_unsequenced).transpose()?;
        let audit_time = commit.audit.as_ref().map(|r| r.time);
        let end = match commit.end.take() {
            Some(end) => Some((end.audit.to_unsequenced()?, end)),
            None => None,
        };
        let seq = {
            let mut state = self.state()?;
            if state.version(&commit.run) != commit.expected_version {
                return Ok(Committed::Conflict);
            }
            let rate_updates = match state.admit(&commit) {
                Ok(updates) => updates,
                Err(refused) => return Ok(refused),
            };
            // The one check that is an error rather than an answer, made before anything
            // is written so that nothing of the commit remains.
            if let Some(effect) = &commit.effect
                && state.conflicting(effect)?.is_some()
            {
                return Err(StoreError::Backend(format!(
                    "effect `{}` conflicts with a stored effect of run `{}`",
                    effect.id, effect.run
                )));
            }
            if let Some((_, end)) = &end
                && commit.effect.as_ref().is_none_or(|effect| effect.id != end.effect_id)
            {
                return Err(StoreError::Backend(format!(
                    "the end of effect `{}` comes without that effect",
                    end.effect_id
                )));
            }
            // INVARIANT: from here on nothing can fail, so the commit is whole.
            if let Some(grant) = &commit.grant
                && let Err(refusal) =
                    state.spend_grant(&grant.id, &grant.digest, &grant.revision, grant.at)
            {
                // `admit` saw it spendable under this same lock.
                return Ok(Committed::GrantRefused(refusal));
            }
            state.rates.extend(rate_updates);
            for admission in &commit.admission {
                if let Admission::Slot { key, holder, now, expires, .. } = admission {
                    state.slots.retain(|(k, _), until| k != key || *until > *now);
                    state.slots.insert((key.clone(), holder.clone()), *expires);
                }
            }
            let mut version = state.append_events(&commit.run, &commit.agent, vec![commit.event]);
            if let Some(effect) = &commit.effect {
                state.insert_effect(effect);
            }
            let seq = match (audit, audit_time) {
                (Some(unsequenced), Some(time)) => Some(state.log.append(&unsequenced, time)),
                _ => None,
            };
            let mut last = seq;
            if let Some((unsequenced, end)) = end {
                // The effect was inserted just now, dispatched: it ends without fail.
                state.finish(&end.effect_id, &end.end)?;
                state.release_slots(&end.slot_holder);
                version = state.append_events(&end.run, &end.agent, end.events.clone());
                last = Some(state.log.append(&unsequenced, end.audit.time));
            }
            (version, seq, last)
        };
        let (version, audit_seq, last) = seq;
        if last.is_some() {
            self.seal(last).await?;
        }
        Ok(Committed::Done { version, audit_seq })
    }

    async fn finish_call(&self, end: CallEnd) -> Result<u64, StoreError> {
        let unsequenced = end.audit.to_unsequenced()?;
        let (version, seq) = {
            let mut state = self.state()?;
            state.finish(&end.effect_id, &end.end)?;
            state.release_slots(&end.slot_holder);
            let version = state.append_events(&end.run, &end.agent, end.events);
            (version, state.log.append(&unsequenced, end.audit.time))
        };
        self.seal(Some(seq)).await?;
        Ok(version)
    }

    async fn release_slots(&self, holder: &str) -> Result<(), StoreError> {
        self.state()?.release_slots(holder);
        Ok(())
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<u64, StoreError> {
        let unsequenced = record.to_unsequenced()?;
        let seq = self.state()?.log.append(&unsequenced, record.time);
        self.seal(Some(seq)).await?;
        Ok(seq)
    }

    async fn begin_effect(&self, effect: NewEffect) -> Result<Begun, StoreError> {
        let mut state = self.state()?;
        if let Some(existing) = state.conflicting(&effect)? {
            return Ok(Begun::Existing(Box::new(existing.clone())));
        }
        state.insert_effect(&effect);
        Ok(Begun::New)
    }

    async fn dispatch_effect(&self, id: &str) -> Result<(), StoreError> {
        self.state()?.dispatch(id)
    }

    async fn finish_effect(&self, id: &str, end: EffectEnd) -> Result<(), StoreError> {
        self.state()?.finish(id, &end)
    }

    async fn effect(&self, id: &str) -> Result<Option<Effect>, StoreError> {
        Ok(self.state()?.effects.get(id).cloned())
    }

    async fn effect_by_key(&self, run: &str, key: &str) -> Result<Option<Effect>, StoreError> {
        let state = self.state()?;
        let id = state.effect_of_key.get(&(run.to_owned(), key.to_owned()));
        Ok(id.and_then(|id| state.effects.get(id)).cloned())
    }

    async fn run_effects(&self, run: &str) -> Result<Vec<Effect>, StoreError> {
        let state = self.state()?;
        let mut effects: Vec<Effect> =
            state.effects.values().filter(|e| e.run == run).cloned().collect();
        effects.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(effects)
    }

    async fn recover_effects(&self, node: &str, at: Timestamp) -> Result<Vec<Effect>, StoreError> {
        let mut state = self.state()?;
        let mut recovered_effects = Vec::new();
        for effect in state.effects.values_mut() {
            if effect.node == node && !effect.state.is_final() {
                let (new_state, error) = recovered(effect.state);
                effect.state = new_state;
                effect.error = Some(error.to_owned());
                effect.updated = at;
                recovered_effects.push(effect.clone());
            }
        }
        recovered_effects.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(recovered_effects)
    }

    async fn unresolved_effects(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Effect>, StoreError> {
        let after = after.unwrap_or_default();
        let state = self.state()?;
        let mut effects: Vec<Effect> = state
            .effects
            .values()
            .filter(|e| e.state == EffectState::OutcomeUnknown && e.id.as_str() > after)
            .cloned()
            .collect();
        effects.sort_by(|a, b| a.id.cmp(&b.id));
        effects.truncate(limit);
        Ok(effects)
    }

    async fn reconcile_effect(&self, r: Reconciliation) -> Result<bool, StoreError> {
        let unsequenced = r.audit.to_unsequenced()?;
        let seq = {
            let mut state = self.state()?;
            let Some(effect) = state.effects.get_mut(&r.effect_id) else { return Ok(false) };
            if effect.state != EffectState::OutcomeUnknown {
                return Ok(false);
            }
            effect.state = r.end.state;
            effect.result = r.end.result;
            effect.error = r.end.error;
            effect.rollback_token = r.end.rollback_token;
            effect.rollback_seal = r.end.rollback_seal;
            effect.updated = r.end.at;
            // In the same critical section as the ledger's change.
            state.log.append(&unsequenced, r.audit.time)
        };
        self.seal(Some(seq)).await?;
        Ok(true)
    }

    async fn use_nonce(&self, scope: &str, nonce: &str, at: Timestamp) -> Result<bool, StoreError> {
        let _ = at;
        Ok(self.state()?.nonces.insert((scope.to_owned(), nonce.to_owned())))
    }

    async fn put_grant(&self, grant: Grant) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.grants.contains_key(&grant.id) {
            return Err(StoreError::Backend(format!("grant `{}` already exists", grant.id)));
        }
        state.grants.insert(grant.id.clone(), StoredGrant::new(grant));
        Ok(())
    }

    async fn consume_grant(
        &self,
        id: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<Grant, GrantRefusal>, StoreError> {
        Ok(self.state()?.spend_grant(id, digest, revision, at))
    }

    async fn grant_for_call(&self, digest: &CallDigest) -> Result<Option<Grant>, StoreError> {
        let state = self.state()?;
        let unspent = state
            .grants
            .values()
            .filter(|g| g.is_live() && &g.grant.call_digest == digest)
            .max_by(|a, b| (a.grant.expires, &a.grant.id).cmp(&(b.grant.expires, &b.grant.id)));
        Ok(unspent.map(|g| g.grant.clone()))
    }

    async fn spent_grant_for_call(
        &self,
        digest: &CallDigest,
    ) -> Result<Option<(Grant, Timestamp)>, StoreError> {
        let state = self.state()?;
        let spent = state
            .grants
            .values()
            .filter_map(|g| g.consumed.filter(|_| &g.grant.call_digest == digest).map(|at| (g, at)))
            .max_by(|(a, at_a), (b, at_b)| (at_a, &a.grant.id).cmp(&(at_b, &b.grant.id)));
        Ok(spent.map(|(g, at)| (g.grant.clone(), at)))
    }

    async fn dispatch_effect_with_grant(
        &self,
        id: &str,
        grant: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<(), GrantRefusal>, StoreError> {
        let mut state = self.state()?;
        // INVARIANT: both or neither: the grant is checked, then the effect, then both
        // change under the one lock.
        let refusal = match state.grants.get(grant) {
            None => Some(GrantRefusal::Unknown),
            Some(stored) => grant_refusal(stored, digest, revision, at),
        };
        if let Some(refusal) = refusal {
            return Ok(Err(refusal));
        }
        match state.effects.get(id) {
            Some(e) if e.state == EffectState::Pending => {}
            _ => return Err(state.transition_error(id, "pending")),
        }
        if let Err(refusal) = state.spend_grant(grant, digest, revision, at) {
            return Ok(Err(refusal));
        }
        state.dispatch(id).map(Ok)
    }

    async fn void_grants(
        &self,
        digest: &CallDigest,
        voiding: Voiding,
    ) -> Result<Vec<Grant>, StoreError> {
        Ok(self.state()?.void_grants(digest, &voiding))
    }

    async fn file_approval(
        &self,
        approval: Approval,
        voiding: Voiding,
    ) -> Result<Superseded, StoreError> {
        self.state()?.file_approval(approval, &voiding)
    }

    async fn answer_approval(
        &self,
        id: &str,
        answer: Answer,
    ) -> Result<Option<Vec<Grant>>, StoreError> {
        self.state()?.answer_approval(id, answer)
    }

    async fn put_approval(&self, approval: Approval) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.approvals.contains_key(&approval.id) {
            return Err(StoreError::Backend(format!("approval `{}` already exists", approval.id)));
        }
        state.approvals.insert(approval.id.clone(), approval);
        Ok(())
    }

    async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        Ok(self.state()?.approvals.get(id).cloned())
    }

    async fn approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<Approval>, StoreError> {
        let state = self.state()?;
        let listed = state
            .approvals
            .values()
            .filter(|a| !pending_only || a.status == ApprovalStatus::Pending)
            .cloned();
        Ok(newest(listed, |a| (a.requested, a.id.clone()), limit))
    }

    async fn resolve_approval(
        &self,
        id: &str,
        status: ApprovalStatus,
        by: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        match state.approvals.get_mut(id) {
            Some(approval) if approval.status == ApprovalStatus::Pending => {
                approval.status = status;
                approval.decided_by = Some(by.to_owned());
                approval.reason = reason.map(str::to_owned);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn record_vote(
        &self,
        id: &str,
        expected: Option<&str>,
        votes: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        match state.approvals.get_mut(id) {
            Some(approval)
                if approval.status == ApprovalStatus::Pending
                    && approval.decided_by.as_deref() == expected =>
            {
                approval.decided_by = Some(votes.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn rejections_for(
        &self,
        digest: &CallDigest,
        since: Timestamp,
        at: Timestamp,
    ) -> Result<Vec<Approval>, StoreError> {
        let state = self.state()?;
        let rejected = state.approvals.values().filter(|a| {
            a.status == ApprovalStatus::Rejected
                && &a.call_digest == digest
                && a.requested >= since
                && a.expires > at
        });
        Ok(newest(rejected.cloned(), |a| (a.requested, a.id.clone()), usize::MAX))
    }

    async fn audit_records(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        // A record appended by a step whose caller went away before it was covered is
        // covered now, as a database commits a job whose producer left.
        self.seal(None).await?;
        Ok(self.state()?.log.records(from, limit))
    }

    async fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        self.seal(None).await?;
        Ok(self.state()?.log.checkpoints())
    }

    async fn newest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        // Covering what is appended first, as `audit_checkpoints` does, so both agree.
        self.seal(None).await?;
        Ok(self.state()?.log.newest_checkpoint())
    }

    async fn pending_approval_for(
        &self,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let state = self.state()?;
        let waiting = state.approvals.values().filter(|a| {
            a.status == ApprovalStatus::Pending
                && &a.call_digest == digest
                && &a.policy_revision == revision
                && a.expires > at
        });
        Ok(newest(waiting, |a| (a.requested, a.id.clone()), 1).pop().map(|a| a.id.clone()))
    }

    async fn put_standing_grant(&self, grant: StandingGrant) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.standing.contains_key(&grant.id) {
            return Err(StoreError::Backend(format!("standing grant `{}` exists", grant.id)));
        }
        if grant.max_uses == 0 {
            // The databases' `CHECK (max_uses > 0)`.
            return Err(StoreError::Backend("a standing grant needs max_uses > 0".to_owned()));
        }
        let stored = StandingGrant { used: 0, revoked: None, ..grant };
        state.standing.insert(stored.id.clone(), stored);
        Ok(())
    }

    async fn standing_grants(
        &self,
        agent_action: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<StandingGrant>, StoreError> {
        let state = self.state()?;
        let listed = state
            .standing
            .values()
            .filter(|g| {
                agent_action.is_none_or(|(agent, action)| g.agent == agent && g.action == action)
            })
            .cloned();
        Ok(newest(listed, |g| (g.created, g.id.clone()), limit))
    }

    async fn use_standing_grant(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        match state.standing.get_mut(id) {
            Some(g) if g.used < g.max_uses && g.expires > at && g.revoked.is_none() => {
                g.used += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_standing_grant(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        match state.standing.get_mut(id) {
            Some(g) if g.revoked.is_none() => {
                g.revoked = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_credential(
        &self,
        id: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        if state.revoked.contains_key(id) {
            return Ok(false);
        }
        state.revoked.insert(id.to_owned(), (at, by.to_owned()));
        Ok(true)
    }

    async fn revoked_credential(&self, ids: &[String]) -> Result<Option<String>, StoreError> {
        let state = self.state()?;
        Ok(ids.iter().find(|id| state.revoked.contains_key(id.as_str())).cloned())
    }

    async fn health(&self) -> StoreHealth {
        // Nothing to probe but the lock: a poisoned store refuses every write.
        let failed = self.state().err().map(|e| e.to_string());
        let write_probe = match &failed {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        };
        StoreHealth { failed, last_commit_error: None, write_probe }
    }

    async fn writer_queue_depth(&self) -> u64 {
        // Every write is made inside its own call, under the store's lock: nothing is ever
        // queued for a writer.
        0
    }
}
