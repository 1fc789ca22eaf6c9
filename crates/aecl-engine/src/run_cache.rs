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

/// Events cached in all, over every run: past it the least recently used runs are
/// evicted. A bound on the total rather than per run, so that one long run (a gateway
/// session of thousands of calls) stays cached instead of being read and replayed from the
/// store at every call once it grows past a per-run limit; a run bigger than the whole
/// budget is not kept. At about 800 bytes an event with its share of the provenance index
/// (the finance benchmark's runs), this is some 200 MB at most.
const MAX_EVENTS: usize = 250_000;

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
    runs: Mutex<Cached>,
}

/// The cached runs and how many events they hold together.
#[derive(Debug)]
struct Cached {
    runs: LruCache<String, CachedRun>,
    events: usize,
}

impl Default for RunCache {
    fn default() -> RunCache {
        RunCache { runs: Mutex::new(Cached { runs: LruCache::new(MAX_RUNS), events: 0 }) }
    }
}

impl RunCache {
    /// Takes `run` out of the cache if it was rebuilt under `revision`.
    pub fn take(&self, run: &str, revision: &Revision) -> Option<CachedRun> {
        let mut cache = self.lock();
        let taken = cache.runs.pop(run)?;
        cache.events -= taken.snapshot.events.len();
        drop(cache);
        Some(taken).filter(|cached| cached.revision == *revision)
    }

    /// Puts `run` back after a successful commit.
    pub fn put(&self, run: &str, cached: CachedRun) {
        let size = cached.snapshot.events.len();
        if size > MAX_EVENTS {
            return;
        }
        // What is evicted is freed outside the lock.
        let mut evicted = Vec::new();
        let mut cache = self.lock();
        while cache.events + size > MAX_EVENTS {
            let Some((_, old)) = cache.runs.pop_lru() else { break };
            cache.events -= old.snapshot.events.len();
            evicted.push(old);
        }
        cache.events += size;
        if let Some((_, old)) = cache.runs.push(run.to_owned(), cached) {
            cache.events -= old.snapshot.events.len();
            evicted.push(old);
        }
        drop(cache);
        drop(evicted);
    }

    fn lock(&self) -> MutexGuard<'_, Cached> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, revision: &str) -> CachedRun {
        sized(name, revision, 0)
    }

    fn sized(name: &str, revision: &str, events: usize) -> CachedRun {
        let event = RunEvent::User { text: String::new() };
        CachedRun {
            revision: Revision(revision.to_owned()),
            snapshot: RunSnapshot { agent: None, version: 1, events: vec![event; events] },
            state: RunState::new(name),
        }
    }

    #[test]
    fn long_runs_are_kept_within_a_budget_of_events_in_all() {
        let cache = RunCache::default();
        let p1 = Revision("p1".to_owned());
        let half = MAX_EVENTS / 2;
        cache.put("long", sized("long", "p1", half));
        cache.put("longer", sized("longer", "p1", half));
        assert_eq!(cache.lock().events, MAX_EVENTS);
        // Over the budget: the least recently used run goes.
        cache.put("one-more", sized("one-more", "p1", 1));
        assert!(cache.take("long", &p1).is_none());
        assert_eq!(cache.lock().events, half + 1);
        // Taken out and put back bigger, as a commit does, the count follows.
        let mut longer = cache.take("longer", &p1).expect("cached");
        longer.snapshot.events.push(RunEvent::User { text: String::new() });
        cache.put("longer", longer);
        assert_eq!(cache.lock().events, half + 2);
        // A run bigger than the whole budget is never kept.
        cache.put("huge", sized("huge", "p1", MAX_EVENTS + 1));
        assert!(cache.take("huge", &p1).is_none());
        assert_eq!(cache.lock().events, half + 2);
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
        assert_eq!(cache.lock().runs.len(), MAX_RUNS.get());
        let p1 = Revision("p1".to_owned());
        assert!(cache.take("r9", &p1).is_none(), "the oldest went first");
        let last = format!("r{}", MAX_RUNS.get() + 9);
        assert!(cache.take(&last, &p1).is_some(), "the newest is kept");
    }
}
