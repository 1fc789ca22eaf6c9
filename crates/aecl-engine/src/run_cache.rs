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

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use lru::LruCache;

use aecl_core::policy::Policy;
use aecl_core::{Revision, RunState};

use crate::run_event::{RunEvent, apply};
use crate::store::RunSnapshot;

/// Runs cached at most; past it the least recently used one is evicted. A rebuilt run with
/// its provenance index weighs tens of kilobytes (about 50 KB for the finance benchmark's
/// runs of 20 calls), so this bounds the cache to a few hundred megabytes at most.
const MAX_RUNS: NonZeroUsize = NonZeroUsize::new(4096).unwrap();

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

/// The cache: run id → run, least recently used evicted first (finished runs go before
/// live ones; an arbitrary victim evicted live runs and halved throughput under load).
#[derive(Debug)]
pub(crate) struct RunCache {
    runs: Mutex<LruCache<String, CachedRun>>,
}

impl Default for RunCache {
    fn default() -> RunCache {
        RunCache { runs: Mutex::new(LruCache::new(MAX_RUNS)) }
    }
}

impl RunCache {
    /// Takes `run` out of the cache if it was rebuilt under `revision`.
    pub fn take(&self, run: &str, revision: &Revision) -> Option<CachedRun> {
        self.lock().pop(run).filter(|cached| cached.revision == *revision)
    }

    /// Puts `run` back after a successful commit.
    pub fn put(&self, run: &str, cached: CachedRun) {
        if cached.snapshot.events.len() > MAX_EVENTS {
            return;
        }
        // A full cache hands back the entry it evicts: freed outside the lock.
        let evicted = self.lock().push(run.to_owned(), cached);
        drop(evicted);
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<String, CachedRun>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, revision: &str) -> CachedRun {
        CachedRun {
            revision: Revision(revision.to_owned()),
            snapshot: RunSnapshot { agent: None, version: 1, events: Vec::new() },
            state: RunState::new(name),
        }
    }

    #[test]
    fn entries_are_taken_out_bound_to_their_revision_and_bounded_in_number() {
        let cache = RunCache::default();
        cache.put("r1", run("r1", "p1"));
        assert!(cache.take("r1", &Revision("p2".to_owned())).is_none(), "another policy");
        assert!(cache.take("r1", &Revision("p1".to_owned())).is_none(), "dropped with it");
        cache.put("r1", run("r1", "p1"));
        assert!(cache.take("r1", &Revision("p1".to_owned())).is_some());
        assert!(cache.take("r1", &Revision("p1".to_owned())).is_none(), "taken out");
        for i in 0..MAX_RUNS.get() + 10 {
            cache.put(&format!("r{i}"), run(&format!("r{i}"), "p1"));
        }
        assert_eq!(cache.lock().len(), MAX_RUNS.get());
        let p1 = Revision("p1".to_owned());
        assert!(cache.take("r9", &p1).is_none(), "the oldest went first");
        let last = format!("r{}", MAX_RUNS.get() + 9);
        assert!(cache.take(&last, &p1).is_some(), "the newest is kept");
    }
}
