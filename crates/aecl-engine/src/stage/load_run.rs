//! Stage 2, load run: the run's state as the call is decided on it, from this instance's
//! cache when nothing was written since, else read from the store and rebuilt under the
//! policy. INVARIANT: a run holds the calls of one agent only: the agent that opened it,
//! which a run named `…:AGENT` after an agent of the policy can only be. And an
//! idempotency key names one call of its run: an execution that brings a key an earlier
//! call of the run used with other arguments is refused here (a conflict, recorded as a
//! `block` decision), before anything of it is written. So is a call id an earlier call
//! (allowed, or waiting for approval) had with other arguments.

use aecl_core::policy::Policy;
use aecl_core::{Call, CallDigest, Decision, Stage};
use tracing::Instrument;

use crate::engine::Engine;
use crate::error::{EngineError, StoreError};
use crate::run_cache::CachedRun;
use crate::run_event::{RunEvent, rebuild};
use crate::stage::{Arrived, Attempt, span};
use crate::store::Store;

impl<S: Store> Engine<S> {
    /// The run of `arrived`'s call, for this attempt.
    pub(crate) async fn load_run(
        &self,
        arrived: &Arrived,
        attempt: &mut Attempt,
    ) -> Result<CachedRun, EngineError> {
        let call = &arrived.call;
        async move {
            let run = match attempt.cached.take() {
                Some(run) => run,
                None => self.read_run(&arrived.policy, &call.run).await?,
            };
            // Checked on the snapshot whose version the commit requires, so a run that
            // another agent opens meanwhile makes the commit conflict and this check run
            // again.
            let opened_by = run.snapshot.agent.as_deref();
            if let Some(owner) =
                arrived.policy.other_owner_of_run(&call.run, opened_by, &call.agent)
            {
                return Err(EngineError::foreign_run(&call.run, owner, &call.agent));
            }
            // Checked on the same snapshot, for the same reason: a call that takes the key
            // on another instance meanwhile makes the commit conflict and this run again.
            // For an execution only: an evaluation runs nothing, and is decided as `aecl
            // replay` decides it (`replay.idempotency_key_reused` after an allowed call).
            // A call id names one call too: one that ran is found in the effect ledger
            // when the decision commits; one that waits for approval (or was allowed) only
            // here.
            if arrived.executing && id_taken(&run, call, &arrived.digest) {
                return Err(EngineError::CallIdConflict {
                    run: call.run.clone(),
                    call_id: call.id.clone(),
                });
            }
            if arrived.executing
                && let Some(first) = key_taken_by(&run, call, &arrived.digest)
            {
                let error = EngineError::IdempotencyKeyConflict {
                    run: call.run.clone(),
                    key: call.idempotency_key.clone().unwrap_or_default(),
                    first,
                };
                self.record_refused_call(
                    call,
                    Stage::Replay,
                    "replay.idempotency_key_reused",
                    &error.to_string(),
                )
                .await?;
                return Err(error);
            }
            Ok(run)
        }
        .instrument(span("load_run", call))
        .await
    }

    /// Reads `run` from the store and rebuilds its state under `policy`.
    pub(crate) async fn read_run(
        &self,
        policy: &Policy,
        run: &str,
    ) -> Result<CachedRun, EngineError> {
        let snapshot = self.store().load_run(run).await?;
        let state = rebuild(policy, run, &snapshot.events).map_err(StoreError::Corrupt)?;
        Ok(CachedRun { revision: policy.revision.clone(), snapshot, state })
    }
}

/// Whether an earlier call of `run` with `call`'s id, that was not blocked, had other
/// arguments or another action (another digest). A blocked call did nothing and leaves its
/// id free, as it leaves its key.
fn id_taken(run: &CachedRun, call: &Call, digest: &CallDigest) -> bool {
    run.snapshot.events.iter().any(|event| match event {
        RunEvent::Call { call: earlier, decision, replay_of: None, .. } => {
            earlier.id == call.id
                && Decision::parse(decision) != Some(Decision::Block)
                && earlier.to_call(&call.agent).digest() != *digest
        }
        _ => false,
    })
}

/// The id of the earlier call of `run` that took `call`'s idempotency key with other
/// arguments (another digest), if one did. A key is taken by the first call that brought
/// it and was not blocked (it ran, or waits for approval, or was only evaluated): a
/// blocked call did nothing and leaves its key free. Repeats of the first call (replays)
/// have its digest.
fn key_taken_by(run: &CachedRun, call: &Call, digest: &CallDigest) -> Option<String> {
    let key = call.idempotency_key.as_deref()?;
    run.snapshot.events.iter().find_map(|event| match event {
        RunEvent::Call { call: earlier, decision, replay_of: None, .. }
            if earlier.idempotency_key.as_deref() == Some(key)
                && Decision::parse(decision) != Some(Decision::Block) =>
        {
            let first = earlier.to_call(&call.agent);
            Some((first.digest() != *digest).then_some(first.id))
        }
        _ => None,
    })?
}
