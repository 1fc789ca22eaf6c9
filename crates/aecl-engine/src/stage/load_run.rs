//! Stage 2, load run: the run's state as the call is decided on it, from this instance's
//! cache when nothing was written since, else read from the store and rebuilt under the
//! policy. INVARIANT: a run holds the calls of the agent that opened it only.

use aecl_core::policy::Policy;
use tracing::Instrument;

use crate::engine::Engine;
use crate::error::{EngineError, StoreError};
use crate::run_cache::CachedRun;
use crate::run_event::rebuild;
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
            if let Some(owner) = run.snapshot.agent.as_deref().filter(|o| *o != call.agent) {
                return Err(EngineError::Identity(format!(
                    "run `{}` belongs to agent `{owner}`, not `{}`",
                    call.run, call.agent
                )));
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
