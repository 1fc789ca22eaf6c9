//! The runs this instance wrote last, with their rebuilt state, so that deciding a call
//! does not read and replay the run's whole history from the store every time.
//!
//! Only an optimisation, never a source of truth: every commit is still conditional on
//! the run's version in the store, so a cached run that another instance has moved on
//! makes the commit conflict, the entry is dropped and the run is read again. An entry is
//! taken out while its run is being decided (under the engine's per-run lock) and put back
//! only after a commit succeeded, so a failed or interrupted decision leaves nothing stale
//! behind. Entries are bound to the policy revision they were rebuilt under, since
//! rebuilding reads the catalog (output trust, control arguments).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use aecl_core::policy::Policy;
use aecl_core::{Revision, RunState};

use crate::run_event::{RunEvent, apply};
use crate::store::RunSnapshot;

/// Runs cached at most; past it the cache is emptied and refills with the live runs.
const MAX_RUNS: usize = 10_000;

/// Runs with more events than this are not kept (they are read from the store).
const MAX_EVENTS: usize = 10_000;

/// A run as last committed by this instance.
#[derive(Debug)]
pub(crate) struct CachedRun {
    pub revision: Revision,
    pub snapshot: RunSnapshot,
    pub state: RunState,
}

impl CachedRun {
    /// Records `event`, just committed by `agent` at the next version.
    pub fn push(&mut self, policy: &Policy, agent: &str, event: RunEvent) -> Result<(), String> {
        apply(policy, &mut self.state, self.snapshot.events.len(), &event)?;
        self.snapshot.events.push(event);
        self.snapshot.version += 1;
        self.snapshot.agent.get_or_insert_with(|| agent.to_owned());
        Ok(())
    }
}

#[derive(Debug, Default)]
pub(crate) struct RunCache {
    runs: Mutex<HashMap<String, CachedRun>>,
}

impl RunCache {
    /// Takes `run` out of the cache if it was rebuilt under `revision`.
    pub fn take(&self, run: &str, revision: &Revision) -> Option<CachedRun> {
        self.lock().remove(run).filter(|cached| cached.revision == *revision)
    }

    /// Puts `run` back after a successful commit.
    pub fn put(&self, run: &str, cached: CachedRun) {
        if cached.snapshot.events.len() > MAX_EVENTS {
            return;
        }
        let mut runs = self.lock();
        if runs.len() >= MAX_RUNS {
            runs.clear();
        }
        runs.insert(run.to_owned(), cached);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, CachedRun>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
