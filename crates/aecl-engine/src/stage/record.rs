//! Stage 7, record (design.md §3 step 9): one durable commit per call. The call's run event
//! at the version it was decided on, its limits, its effect (recorded `dispatched`: the
//! connector is called right after), the use of its grant and its decision record commit
//! together or not at all. A conflicting commit (another instance moved the run on), a
//! refused limit, a grant spent first by a concurrent retry, or a call id already executed
//! leaves nothing written and the call is decided again. After the commit the run lock is
//! released, runs pushed past `[runs]` bounds are expired, and a new approval request is
//! filed: a request never exists without its decision.

use std::sync::Arc;
use std::time::Instant;

use aecl_audit::{AuditRecord, RecordKind};
use aecl_core::policy::Policy;
use aecl_core::{Call, CallDigest, Decision, Mode, SandboxTier, Verdict};
use serde_json::Value;
use tokio::sync::MutexGuard;
use tracing::Instrument;

use crate::engine::{Decided, Engine, elapsed_ms};
use crate::error::{EngineError, StoreError};
use crate::held::{Pending, Slot};
use crate::observe::DecisionSeen;
use crate::origin::Origin;
use crate::run_cache::CachedRun;
use crate::run_event::RunEvent;
use crate::stage::admit::limit_reason;
use crate::stage::grant::Granted;
use crate::stage::{Arrived, Attempt, span};
use crate::store::{
    Admission, CallIdCheck, Committed, Durability, GrantUse, NewEffect, RunCommit, Store,
};

/// What the record stage committed of a call (the call itself stays with the pipeline).
#[derive(Debug)]
pub(crate) struct Recorded {
    pub verdict: Verdict,
    /// The decision's audit record.
    pub audit_seq: u64,
    pub approval_id: Option<String>,
    /// The effect recorded with the decision, when the call is to be executed.
    pub effect: Option<NewEffect>,
    /// The sandbox tier the call runs in, when its connector runs it in one.
    pub tier: Option<SandboxTier>,
    /// The effect of the executed call whose id (and arguments) this call repeats.
    pub replay_effect: Option<String>,
    /// Not committed yet: a read commits its decision with its outcome (the finish stage).
    pub deferred: Option<Box<Deferred>>,
}

/// A read's decision, held to commit with its outcome (`held.rs`).
#[derive(Debug)]
pub(crate) struct Deferred {
    pub slot: Slot,
    /// What a second decision needs of the call's arrival when the decision is lost.
    pub arrival: aecl_core::Timestamp,
    pub nonce_reused: bool,
}

impl Recorded {
    /// The call as decided, and what dispatch needs of it.
    pub(crate) fn ready(self, arrived: Arrived) -> Ready {
        let decided = Decided {
            call: arrived.call,
            verdict: self.verdict,
            audit_seq: self.audit_seq,
            approval_id: self.approval_id,
        };
        Ready {
            decided,
            effect: self.effect,
            tier: self.tier,
            replay_effect: self.replay_effect,
            policy: arrived.policy,
            started: arrived.started,
            deferred: self.deferred,
        }
    }
}

/// A recorded call as dispatch takes it.
#[derive(Debug)]
pub(crate) struct Ready {
    pub decided: Decided,
    pub effect: Option<NewEffect>,
    pub tier: Option<SandboxTier>,
    pub replay_effect: Option<String>,
    /// The policy the call was decided under: its connector binding is that policy's.
    pub policy: Arc<Policy>,
    /// When the engine started on the call.
    pub started: Instant,
    /// The decision, when it commits with the outcome.
    pub deferred: Option<Box<Deferred>>,
}

/// How a commit attempt ended.
pub(crate) enum Recording<'g> {
    Done(Box<Recorded>),
    /// Nothing was written: decide again, still holding the run's lock.
    Again(MutexGuard<'g, ()>),
}

impl<S: Store> Engine<S> {
    /// Commits `granted` on top of `run` (read under `guard`, the run's lock).
    pub(crate) async fn record_decision<'g>(
        &self,
        arrived: &Arrived,
        granted: Granted,
        admission: Vec<Admission>,
        run: CachedRun,
        guard: MutexGuard<'g, ()>,
        attempt: &mut Attempt,
    ) -> Result<Recording<'g>, EngineError> {
        let span = span("record", &arrived.call);
        self.commit_and_announce(arrived, granted, admission, run, guard, attempt)
            .instrument(span)
            .await
    }

    async fn commit_and_announce<'g>(
        &self,
        arrived: &Arrived,
        granted: Granted,
        admission: Vec<Admission>,
        run: CachedRun,
        guard: MutexGuard<'g, ()>,
        attempt: &mut Attempt,
    ) -> Result<Recording<'g>, EngineError> {
        let (call, digest) = (&arrived.call, &arrived.digest);
        let Granted { placed, grant, approval_id, new_request } = granted;
        let (verdict, now, tier) = (placed.judged.verdict, placed.judged.now, placed.tier);
        let allowed = verdict.enforced_decision() == Decision::Allow && verdict.replay_of.is_none();
        let admission = if allowed { admission } else { Vec::new() };
        let goes_ahead = allowed && verdict.mode != Mode::DryRun;
        let effect = (arrived.executing && goes_ahead).then(|| NewEffect {
            id: arrived.effect_id.clone(),
            run: call.run.clone(),
            call_id: call.id.clone(),
            agent: call.agent.clone(),
            action: call.action.clone(),
            idempotency_key: call.idempotency_key.clone(),
            call_digest: digest.clone(),
            node: self.config().node.clone(),
            created: now,
            // INVARIANT: a grant is spent by this commit, with the allow decision; so
            // nothing is left to spend, and the call goes to its connector right after.
            dispatched: true,
        });
        // INVARIANT (ARCHITECTURE.md, "One durable commit per call"): a call with no effect
        // may run before its decision is synced, because its answer waits for its outcome's
        // synced commit, which makes this one durable too (the log is synced in order).
        // Every other decision is durable before anything runs or answers.
        let durability = match &effect {
            Some(_) if attempt.replay_effect.is_none() && no_effect(&arrived.policy, call) => {
                Durability::Ordered
            }
            _ => Durability::Synced,
        };
        let mut record =
            self.decision_record(call, digest, &verdict, approval_id.as_deref(), arrived.started);
        // A compensation's record names who asked for it; its call's arguments (and so
        // its digest and idempotency) are the same whoever asks.
        if let (Origin::Rollback(requester), Value::Object(input)) =
            (&arrived.origin, &mut record.input)
        {
            input.insert("requested_by".to_owned(), serde_json::json!(requester));
        }
        // Decision records name the tier the call is to run in.
        record.sandbox_id = tier.map(|t| t.as_str().to_owned());
        let event = RunEvent::call(call, &verdict);
        let commit = RunCommit {
            run: call.run.clone(),
            agent: call.agent.clone(),
            expected_version: run.snapshot.version,
            event: event.clone(),
            admission: admission.clone(),
            effect: effect.clone(),
            audit: Some(record),
            grant: grant.as_ref().map(|grant| GrantUse {
                id: grant.id.clone(),
                digest: digest.clone(),
                revision: verdict.policy_revision.clone(),
                at: now,
            }),
            call_id: attempt
                .check_call_id
                .then(|| CallIdCheck { call_id: call.id.clone(), digest: digest.clone() }),
            durability,
            end: None,
        };
        // A read that takes no limit and no grant runs first, and its decision commits
        // with its outcome: one commit instead of two. Until then it is held for the run's
        // next call to commit first (`held.rs`). Not a call with an idempotency key: its
        // caller asks for one execution across instances, which only a decision committed
        // before it runs can promise.
        if attempt.defer_reads
            && durability == Durability::Ordered
            && commit.admission.is_empty()
            && commit.grant.is_none()
            && approval_id.is_none()
            && attempt.standing.is_none()
            && is_new_call(&run, &call.id)
            && call.idempotency_key.is_none()
        {
            let slot =
                self.held_reads().hold(Pending { commit, run, policy: arrived.policy.clone() });
            drop(guard);
            return Ok(Recording::Done(Box::new(Recorded {
                verdict,
                // Set by the finish stage's commit.
                audit_seq: 0,
                approval_id,
                effect,
                tier,
                replay_effect: None,
                deferred: Some(Box::new(Deferred {
                    slot,
                    arrival: arrived.arrival,
                    nonce_reused: arrived.nonce_reused,
                })),
            })));
        }
        let audit_seq = match self.store().commit_run_event(commit).await? {
            Committed::Done { audit_seq, .. } => audit_seq.ok_or_else(|| {
                StoreError::Corrupt("the store did not append the decision record".into())
            })?,
            // Another instance moved the run on: read it again.
            Committed::Conflict => return Ok(Recording::Again(guard)),
            Committed::Refused { index, retry_after_ms } => {
                // Nothing was written: the run is as it was.
                attempt.refused = Some(limit_reason(admission.get(index), retry_after_ms));
                attempt.cached = Some(run);
                return Ok(Recording::Again(guard));
            }
            // Another call spent the grant first (nothing was written): decide again; the
            // grant was then spent after this call arrived.
            Committed::GrantRefused(_) => {
                attempt.cached = Some(run);
                return Ok(Recording::Again(guard));
            }
            Committed::CallIdTaken { effect_id, digest: taken } => {
                if taken != *digest {
                    return Err(EngineError::CallIdConflict {
                        run: call.run.clone(),
                        call_id: call.id.clone(),
                    });
                }
                if arrived.executing {
                    attempt.replay_effect = Some(effect_id);
                }
                attempt.check_call_id = false;
                attempt.cached = Some(run);
                return Ok(Recording::Again(guard));
            }
        };
        // The approval request shows the run as it was when the call came.
        let history = if new_request { run.snapshot.events.clone() } else { Vec::new() };
        self.keep_run(&arrived.policy, &call.run, &call.agent, run, [event].into_iter());
        drop(guard);
        // Runs this commit pushed past the `[runs]` bounds are expired now, not at the
        // next sweep; the call stands whatever becomes of that.
        self.sweep_after_commit().await;
        // After the decision record: a request never exists without its decision.
        if new_request && let Some(id) = &approval_id {
            self.request_approval(id.clone(), call, &verdict, &history).await?;
        }
        // No request stays pending for a call that a grant let through.
        self.after_lifted(&verdict, digest, approval_id.as_deref()).await?;
        crate::observe::decided(
            self.observer(),
            &DecisionSeen {
                call,
                verdict: &verdict,
                approval_id: approval_id.as_deref(),
                latency: arrived.started.elapsed(),
                executing: arrived.executing,
            },
        );
        Ok(Recording::Done(Box::new(Recorded {
            verdict,
            audit_seq,
            approval_id,
            effect,
            tier,
            replay_effect: attempt.replay_effect.take(),
            deferred: None,
        })))
    }

    /// The audit record of `call` decided as `verdict`; its latency is the time to decide.
    fn decision_record(
        &self,
        call: &Call,
        digest: &CallDigest,
        verdict: &Verdict,
        approval_id: Option<&str>,
        started: Instant,
    ) -> AuditRecord {
        let mut record = self.record(RecordKind::Decision, &call.agent, &call.run);
        record.approval_id = approval_id.map(str::to_owned);
        record.call_id.clone_from(&call.id);
        record.action.clone_from(&call.action);
        record.call_digest = digest.clone();
        record.input = call.args.clone();
        self.redact(&mut record.input);
        record.policy_revision = verdict.policy_revision.clone();
        record.mode = Some(verdict.mode);
        record.decision = Some(verdict.decision);
        record.risk_score = verdict.risk.score;
        record.reasons.clone_from(&verdict.reasons);
        crate::engine::redact_reasons(&call.args, &record.input, &mut record.reasons);
        record.latency_ms = elapsed_ms(started);
        record
    }
}

/// Whether `run`'s whole history is known and names no call `id`: then a call of that id
/// cannot repeat an executed one, and its commit needs no look-up before it runs (the
/// commit still checks, and finds the run moved on if another call came meanwhile).
fn is_new_call(run: &CachedRun, id: &str) -> bool {
    run.state.expired.is_none() && !run.state.has_call(id)
}

/// Whether `call`'s action changes nothing in the world (a read): its decision and outcome
/// may then reach the disk together. An action the policy does not know is taken to have
/// an effect.
pub(crate) fn no_effect(policy: &Policy, call: &Call) -> bool {
    policy
        .actions
        .get(&call.action)
        .is_some_and(|action| action.reversibility == aecl_core::policy::Reversibility::NoEffect)
}
