//! `[runs]` on a long-running engine: a run idle longer than `idle_expiry`, or the least
//! recently used one past `max_open_runs` or the `max_state_bytes` budget, is expired.
//!
//! Expiry means what it means to `aecl replay` (`aecl_core::run_bounds`): an `expired`
//! run event is committed to the run (with a `run` audit record saying `expired` and why),
//! and rebuilding the run from its events continues from `RunState::expire` at that point:
//! nothing of the old history carries over, control values it cannot trace are untrusted,
//! and only what restricts the run (agent, goal, scope, calls counted, money spent) stays.
//!
//! [`RunTracker`] is this instance's bookkeeping of the runs it wrote last: when (by the
//! engine's [`Clock`](crate::Clock)), at which version, and roughly how big. It is bounded
//! by `max_open_runs` itself. An expiry is committed at the version the tracker saw: a run
//! that another instance (or a call racing the sweep) moved on since is live, and is left
//! alone. Idle time counts from this instance's last sight of the run, so a restart starts
//! every run's idle clock again. Expiries are recorded lazily (before a run's next event
//! is decided or recorded, `Engine::expire_if_due`) and by a periodic sweep
//! (`Engine::sweep_runs`, run by the server), both in `engine/run_expiry.rs`, so that this
//! file, which the engine holds, names nothing of the engine.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use aecl_core::run_bounds::{ExpiryReason, RunLimits};

/// A run to expire, as the tracker last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Victim {
    pub run: String,
    pub agent: String,
    /// The run's version when this instance last wrote it: the expiry commits only there.
    pub version: u64,
    pub reason: ExpiryReason,
}

/// A run this instance wrote last.
#[derive(Debug)]
struct Open {
    agent: String,
    last_ms: u64,
    /// Touch order, so that runs touched in the same millisecond keep their order.
    seq: u64,
    version: u64,
    bytes: usize,
}

#[derive(Debug, Default)]
struct Tracked {
    limits: RunLimits,
    runs: HashMap<String, Open>,
    /// (last use, touch order, run): the first is the least recently used.
    order: BTreeSet<(u64, u64, String)>,
    bytes: usize,
    seq: u64,
    /// Runs taken out for expiry and not recorded yet, by run.
    due: HashMap<String, Victim>,
}

/// The open runs of this instance, least recently used first out.
#[derive(Debug, Default)]
pub(crate) struct RunTracker {
    tracked: Mutex<Tracked>,
    /// Expiries recorded, per reason: idle, max_open_runs, max_state_bytes.
    counts: [AtomicU64; 3],
}

fn index(reason: ExpiryReason) -> usize {
    match reason {
        ExpiryReason::Idle => 0,
        ExpiryReason::MaxOpenRuns => 1,
        ExpiryReason::MaxStateBytes => 2,
    }
}

const REASONS: [ExpiryReason; 3] =
    [ExpiryReason::Idle, ExpiryReason::MaxOpenRuns, ExpiryReason::MaxStateBytes];

impl RunTracker {
    pub fn new(limits: RunLimits) -> RunTracker {
        let tracker = RunTracker::default();
        tracker.lock().limits = limits;
        tracker
    }

    pub fn set_limits(&self, limits: RunLimits) {
        self.lock().limits = limits;
    }

    pub fn limits(&self) -> RunLimits {
        self.lock().limits
    }

    /// Notes that `run` was just committed at `version` by `agent` at `now_ms`, weighing
    /// `bytes` (`None`: unknown, keep the last estimate). Runs past the count or memory
    /// bound (never `run` itself, unless it alone is over the budget) become due.
    pub fn touch(&self, run: &str, agent: &str, now_ms: u64, version: u64, bytes: Option<usize>) {
        let mut t = self.lock();
        t.seq += 1;
        let seq = t.seq;
        // A run written again is live: an expiry planned for it no longer applies.
        t.due.remove(run);
        let old = t.runs.remove(run);
        if let Some(old) = &old {
            t.order.remove(&(old.last_ms, old.seq, run.to_owned()));
            t.bytes -= old.bytes;
        }
        let bytes = bytes.or(old.map(|o| o.bytes)).unwrap_or(0);
        t.bytes += bytes;
        t.order.insert((now_ms, seq, run.to_owned()));
        let open = Open { agent: agent.to_owned(), last_ms: now_ms, seq, version, bytes };
        t.runs.insert(run.to_owned(), open);
        while t.runs.len() > t.limits.max_open_runs.max(1) {
            if !t.evict_oldest(run, ExpiryReason::MaxOpenRuns) {
                break;
            }
        }
        while t.bytes > t.limits.max_state_bytes {
            if !t.evict_oldest(run, ExpiryReason::MaxStateBytes) {
                if t.runs.len() == 1 {
                    t.take(run, ExpiryReason::MaxStateBytes);
                }
                break;
            }
        }
    }

    /// Forgets `run` (it ended): nothing to expire.
    pub fn forget(&self, run: &str) {
        let mut t = self.lock();
        t.due.remove(run);
        t.untrack(run);
    }

    /// `run`, if it is due for expiry at `now_ms` (evicted, or idle too long). It stays due
    /// until [`RunTracker::claim`]ed.
    pub fn due_now(&self, run: &str, now_ms: u64) -> Option<Victim> {
        let mut t = self.lock();
        let idle = t.runs.get(run).is_some_and(|open| t.is_idle(open.last_ms, now_ms));
        if idle {
            t.take(run, ExpiryReason::Idle);
        }
        t.due.get(run).cloned()
    }

    /// Runs due at `now_ms` (evicted, or idle too long), up to `max`. They stay due until
    /// [`RunTracker::claim`]ed.
    pub fn all_due(&self, now_ms: u64, max: usize) -> Vec<Victim> {
        let mut t = self.lock();
        while t.due.len() < max {
            let Some((last_ms, _, run)) = t.order.first().cloned() else { break };
            if !t.is_idle(last_ms, now_ms) {
                break;
            }
            t.take(&run, ExpiryReason::Idle);
        }
        t.due.values().take(max).cloned().collect()
    }

    /// Takes `victim` out of the due runs to record its expiry, under its run's lock: false
    /// when another path recorded it first, or the run was written since (it is live).
    pub fn claim(&self, victim: &Victim) -> bool {
        let mut t = self.lock();
        match t.due.get(&victim.run) {
            Some(due) if due.version == victim.version => {
                t.due.remove(&victim.run);
                true
            }
            _ => false,
        }
    }

    /// Makes `victim` due again (its expiry could not be recorded), unless its run was
    /// written since.
    pub fn requeue(&self, victim: Victim) {
        let mut t = self.lock();
        if !t.runs.contains_key(&victim.run) {
            t.due.entry(victim.run.clone()).or_insert(victim);
        }
    }

    /// Counts an expiry that was recorded.
    pub fn count(&self, reason: ExpiryReason) {
        self.counts[index(reason)].fetch_add(1, Ordering::Relaxed);
    }

    /// Expiries recorded by this instance, per reason (every reason listed).
    pub fn counts(&self) -> Vec<(ExpiryReason, u64)> {
        REASONS.iter().map(|r| (*r, self.counts[index(*r)].load(Ordering::Relaxed))).collect()
    }

    /// How many runs are tracked as open, and their estimated bytes.
    #[cfg(test)]
    fn open(&self) -> (usize, usize) {
        let t = self.lock();
        (t.runs.len(), t.bytes)
    }

    fn lock(&self) -> MutexGuard<'_, Tracked> {
        self.tracked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Tracked {
    fn is_idle(&self, last_ms: u64, now_ms: u64) -> bool {
        self.limits
            .idle_expiry_secs
            .is_some_and(|secs| now_ms.saturating_sub(last_ms) > secs.saturating_mul(1000))
    }

    /// Makes the least recently used run other than `keep` due; false when there is none.
    fn evict_oldest(&mut self, keep: &str, reason: ExpiryReason) -> bool {
        let victim = self.order.iter().map(|(_, _, r)| r).find(|r| r.as_str() != keep).cloned();
        match victim {
            Some(run) => {
                self.take(&run, reason);
                true
            }
            None => false,
        }
    }

    /// Stops tracking `run` and makes it due for `reason`.
    fn take(&mut self, run: &str, reason: ExpiryReason) {
        if let Some(open) = self.untrack(run) {
            let victim =
                Victim { run: run.to_owned(), agent: open.agent, version: open.version, reason };
            self.due.insert(run.to_owned(), victim);
        }
    }

    fn untrack(&mut self, run: &str) -> Option<Open> {
        let open = self.runs.remove(run)?;
        self.order.remove(&(open.last_ms, open.seq, run.to_owned()));
        self.bytes -= open.bytes;
        Some(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(runs: usize, bytes: usize) -> RunLimits {
        RunLimits { idle_expiry_secs: Some(10), max_open_runs: runs, max_state_bytes: bytes }
    }

    fn reasons(victims: &[Victim]) -> Vec<(&str, ExpiryReason)> {
        victims.iter().map(|v| (v.run.as_str(), v.reason)).collect()
    }

    #[test]
    fn least_recently_used_runs_past_the_count_become_due_at_the_version_seen() {
        let tracker = RunTracker::new(limits(2, usize::MAX));
        // Same millisecond: the touch order decides.
        for (version, run) in ["a", "b", "a", "c"].into_iter().enumerate() {
            tracker.touch(run, "agent", 5, version as u64 + 1, Some(100));
        }
        assert_eq!(tracker.open(), (2, 200));
        let due = tracker.all_due(5, 100);
        assert_eq!(reasons(&due), vec![("b", ExpiryReason::MaxOpenRuns)]);
        assert_eq!(due[0].version, 2);
        assert_eq!(tracker.all_due(5, 100), due, "due until claimed");
        assert!(tracker.claim(&due[0]));
        assert!(!tracker.claim(&due[0]), "claimed once");
        assert!(tracker.all_due(5, 100).is_empty());
    }

    #[test]
    fn a_run_written_again_before_its_expiry_is_recorded_stays_open() {
        let tracker = RunTracker::new(limits(1, usize::MAX));
        tracker.touch("a", "agent", 0, 1, None);
        tracker.touch("b", "agent", 1, 1, None);
        let a = tracker.due_now("a", 1).expect("evicted by `b`");
        tracker.touch("a", "agent", 2, 2, None);
        // `a` was evicted by `b`, then written again: it is live; `b` is now the victim.
        assert!(!tracker.claim(&a), "a sweep holding the old victim records nothing");
        assert_eq!(reasons(&tracker.all_due(2, 100)), vec![("b", ExpiryReason::MaxOpenRuns)]);
    }

    #[test]
    fn the_memory_budget_evicts_old_runs_and_a_run_alone_over_it() {
        let tracker = RunTracker::new(limits(100, 10_000));
        tracker.touch("small", "agent", 0, 1, Some(4_000));
        tracker.touch("big", "agent", 1, 1, Some(8_000));
        let due = tracker.all_due(1, 100);
        assert_eq!(reasons(&due), vec![("small", ExpiryReason::MaxStateBytes)]);
        assert!(tracker.claim(&due[0]));
        tracker.touch("big", "agent", 2, 2, Some(20_000));
        assert_eq!(reasons(&tracker.all_due(2, 100)), vec![("big", ExpiryReason::MaxStateBytes)]);
        assert_eq!(tracker.open(), (0, 0));
    }

    #[test]
    fn idle_runs_are_due_strictly_after_idle_expiry_lazily_or_by_the_sweep() {
        let tracker = RunTracker::new(limits(100, usize::MAX));
        tracker.touch("old", "agent", 0, 3, None);
        tracker.touch("new", "agent", 5_000, 1, None);
        assert_eq!(tracker.due_now("old", 10_000), None, "exactly 10 s idle is not longer");
        let victim = tracker.due_now("old", 10_001).expect("due");
        assert_eq!((victim.reason, victim.version), (ExpiryReason::Idle, 3));
        assert!(tracker.claim(&victim));
        assert!(tracker.all_due(15_000, 100).is_empty());
        let due = tracker.all_due(15_001, 100);
        assert_eq!(reasons(&due), vec![("new", ExpiryReason::Idle)]);
        assert!(tracker.claim(&due[0]));
        // `off`: never idle.
        tracker.set_limits(RunLimits { idle_expiry_secs: None, ..limits(100, usize::MAX) });
        tracker.touch("kept", "agent", 0, 1, None);
        assert!(tracker.all_due(u64::MAX, 100).is_empty());
        // An ended run is forgotten.
        tracker.touch("ended", "agent", 0, 1, None);
        tracker.forget("ended");
        assert_eq!(tracker.open(), (1, 0));
    }

    #[test]
    fn the_sweep_takes_at_most_what_it_is_asked_for() {
        let tracker = RunTracker::new(limits(100, usize::MAX));
        for i in 0..10 {
            tracker.touch(&format!("r{i}"), "agent", i, 1, None);
        }
        let first = tracker.all_due(1_000_000, 4);
        assert_eq!(first.len(), 4);
        assert!(first.iter().all(|victim| tracker.claim(victim)));
        assert_eq!(tracker.all_due(1_000_000, 100).len(), 6);
        // A victim whose expiry failed to commit is due again.
        let victim = first[0].clone();
        tracker.requeue(victim.clone());
        assert!(tracker.all_due(1_000_000, 100).contains(&victim));
    }
}
