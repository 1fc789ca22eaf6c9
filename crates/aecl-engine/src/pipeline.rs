//! The pipeline (design.md §3): [`Engine::execute`] and [`Engine::evaluate`] run one call
//! through the stages of `stage.rs`, in order, each named where it runs. Every error is
//! returned, never turned into an allow: front ends answer an error with a block.

use aecl_core::{Call, Decision, Mode};

use crate::connector::Connector;
use crate::engine::{Decided, Engine, Executed, MAX_ATTEMPTS};
use crate::error::EngineError;
use crate::origin::Origin;
use crate::stage::dispatch::Dispatched;
use crate::stage::record::{Recorded, Recording, no_effect};
use crate::stage::{Arrived, Attempt};
use crate::store::Store;

impl<S: Store> Engine<S> {
    /// Decides, records, and when the call is allowed executes it through `connector`
    /// with the effect ledger around the dispatch. A repeated idempotency key returns the
    /// first execution's effect and executes nothing.
    pub async fn execute(
        &self,
        call: Call,
        connector: &dyn Connector,
    ) -> Result<Executed, EngineError> {
        self.execute_as(call, connector, Origin::Agent).await
    }

    /// [`Engine::execute`] of a call from `origin`. Only an agent's reads are committed with
    /// their outcome (the finish stage decides those again, as an agent's, when that
    /// commit fails).
    pub(crate) async fn execute_as(
        &self,
        call: Call,
        connector: &dyn Connector,
        origin: Origin,
    ) -> Result<Executed, EngineError> {
        let defer_reads = origin == Origin::Agent;
        let arrived = self.identify(call, Some(connector), origin).await?;
        let recorded = self.decide_and_record(&arrived, Some(connector), defer_reads).await?;
        let ready = recorded.ready(arrived);
        match self.dispatch(ready, connector).await? {
            Dispatched::Done(executed) => Ok(*executed),
            Dispatched::Ran(ran) => self.finish(*ran, connector).await,
        }
    }

    /// Decides a call and records it (run history, limits, audit log). Executes nothing:
    /// the caller does, so an allow of an action that is not a read is answered only once
    /// a published checkpoint covers its record (when the engine publishes).
    pub async fn evaluate(&self, call: Call) -> Result<Decided, EngineError> {
        let arrived = self.identify(call, None, Origin::Agent).await?;
        let recorded = self.decide_and_record(&arrived, None, false).await?;
        let ready = recorded.ready(arrived);
        let decided = ready.decided;
        // In monitor mode the caller runs the call whatever the decision says.
        let runs =
            decided.verdict.decision == Decision::Allow || decided.verdict.mode == Mode::Monitor;
        if runs && !no_effect(&ready.policy, &decided.call) {
            self.published(decided.audit_seq).await.map_err(EngineError::Unpublished)?;
        }
        Ok(decided)
    }

    /// Load run, decide, admit, place, grant and record, under the run's lock; again from
    /// the run's state when the commit conflicts or is refused. With `defer_reads`, a read
    /// that goes ahead is recorded by the finish stage, with its outcome.
    pub(crate) async fn decide_and_record(
        &self,
        arrived: &Arrived,
        connector: Option<&dyn Connector>,
        defer_reads: bool,
    ) -> Result<Recorded, EngineError> {
        let call = &arrived.call;
        let mut guard = self.lock_run(&call.run).await;
        let cached = self.run_cache().take(&call.run, &arrived.policy.revision);
        let mut attempt = Attempt {
            number: 0,
            cached,
            refused: None,
            standing: None,
            replay_effect: None,
            check_call_id: true,
            defer_reads: defer_reads && self.config().joint_read_commits,
        };
        loop {
            attempt.number += 1;
            if attempt.number > MAX_ATTEMPTS {
                return Err(EngineError::Contention(call.run.clone()));
            }
            if attempt.number > 1 {
                backoff(attempt.number, call).await;
            }
            let run = self.load_run(arrived, &mut attempt).await?;
            let judged = self.decide(arrived, &run, &attempt);
            let admission = self.admit(arrived, &judged, connector);
            let placed = self.place(arrived, judged, connector).await;
            let granted = self.grant(arrived, placed, &mut attempt).await?;
            match self
                .record_decision(arrived, granted, admission, run, guard, &mut attempt)
                .await?
            {
                Recording::Done(recorded) => return Ok(*recorded),
                Recording::Again(held) => guard = held,
            }
        }
    }
}

/// Waits before deciding again after losing a race for a run to another instance: a
/// growing, jittered pause so that instances stop colliding.
async fn backoff(attempt: u32, call: &Call) {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let ceiling = 1u64 << attempt.min(6); // up to 64 ms
    let jitter = BuildHasherDefault::<DefaultHasher>::default().hash_one((
        &call.id,
        attempt,
        std::time::Instant::now(),
    ));
    tokio::time::sleep(std::time::Duration::from_micros(jitter % (ceiling * 1000))).await;
}
