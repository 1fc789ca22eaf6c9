//! Bounds on the run states kept open: idle expiry, how many runs, and how much memory.
//!
//! An agent that never closes its runs (no `end` event, no `SessionEnd`) must not grow a
//! replay or a server without bound. A run past a bound is *expired*: its state is dropped
//! and, should the run go on, it continues from [`RunState::after_expiry`], which keeps
//! nothing of the old history and fails closed on what it no longer knows. [`OpenRuns`] is
//! the pure bookkeeping: the caller supplies the ticks (an event counter, or seconds).

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

use serde::{Deserialize, Serialize};

use crate::hash::HashMap;
use crate::run::RunState;

/// Policy `[runs]`: when a run's state is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLimits {
    /// A run with no event for this many seconds is expired (live traffic; a replayed
    /// trace has no clock).
    pub idle_expiry_secs: Option<u64>,
    /// Open runs at most; past it the least recently used one is expired.
    pub max_open_runs: usize,
    /// Estimated bytes of all open run states at most ([`RunState::approx_bytes`]); past it
    /// the least recently used runs are expired.
    pub max_state_bytes: usize,
}

impl Default for RunLimits {
    fn default() -> RunLimits {
        RunLimits {
            idle_expiry_secs: Some(30 * 60),
            max_open_runs: 10_000,
            max_state_bytes: 256 << 20,
        }
    }
}

/// Why a run was expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExpiryReason {
    Idle,
    MaxOpenRuns,
    MaxStateBytes,
}

impl ExpiryReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryReason::Idle => "idle",
            ExpiryReason::MaxOpenRuns => "max_open_runs",
            ExpiryReason::MaxStateBytes => "max_state_bytes",
        }
    }

    /// Why, in words, for the label of what the run lost.
    pub fn describe(self) -> &'static str {
        match self {
            ExpiryReason::Idle => "idle longer than [runs] idle_expiry",
            ExpiryReason::MaxOpenRuns => "over [runs] max_open_runs",
            ExpiryReason::MaxStateBytes => "over [runs] max_state_bytes",
        }
    }

    pub fn parse(text: &str) -> Option<ExpiryReason> {
        Some(match text {
            "idle" => ExpiryReason::Idle,
            "max_open_runs" => ExpiryReason::MaxOpenRuns,
            "max_state_bytes" => ExpiryReason::MaxStateBytes,
            _ => return None,
        })
    }
}

/// Parses `90`, `90s`, `30m`, `2h`, `1d` into seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(unit)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Slot {
    state: RunState,
    /// Last use, for the LRU order and idle expiry.
    tick: u64,
    bytes: usize,
}

/// The open runs, least recently used first out. Serialised whole (see [`RunState`]).
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenRuns {
    limits: RunLimits,
    runs: HashMap<String, Slot>,
    /// (tick, run) of every open run: the first is the least recently used.
    #[serde(with = "crate::saved::pairs")]
    order: BTreeMap<(u64, String), ()>,
    bytes: usize,
    /// Runs expired so far and not seen again, so a later event reopens them as expired.
    /// The states expired runs continue from ([`RunState::expire`]: small, no history).
    expired: HashMap<String, RunState>,
    #[serde(with = "crate::saved::pairs")]
    counts: HashMap<ExpiryReason, u64>,
}

impl OpenRuns {
    pub fn new(limits: RunLimits) -> OpenRuns {
        OpenRuns { limits, ..OpenRuns::default() }
    }

    /// The state of `run` at `tick`, opened if needed: fresh, or [`RunState::after_expiry`]
    /// if the run was expired before. Call [`OpenRuns::settle`] after changing it.
    pub fn get(&mut self, run: &str, tick: u64) -> &mut RunState {
        if let Some(slot) = self.runs.get(run) {
            self.order.remove(&(slot.tick, run.to_owned()));
        }
        self.order.insert((tick, run.to_owned()), ());
        let slot = match self.runs.entry(run.to_owned()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let state = self.expired.remove(run).unwrap_or_else(|| RunState::new(run));
                let bytes = state.approx_bytes();
                self.bytes += bytes;
                entry.insert(Slot { state, tick, bytes })
            }
        };
        slot.tick = tick;
        &mut slot.state
    }

    /// Re-weighs `run` after a change and expires the least recently used runs past the
    /// bounds (never `run` itself unless it alone is over the memory budget).
    pub fn settle(&mut self, run: &str) {
        if let Some(slot) = self.runs.get_mut(run) {
            let bytes = slot.state.approx_bytes();
            self.bytes = self.bytes - slot.bytes + bytes;
            slot.bytes = bytes;
        }
        while self.runs.len() > self.limits.max_open_runs.max(1) {
            if !self.expire_oldest(run, ExpiryReason::MaxOpenRuns) {
                break;
            }
        }
        while self.bytes > self.limits.max_state_bytes {
            if !self.expire_oldest(run, ExpiryReason::MaxStateBytes) {
                let alone_too_big = self.runs.len() == 1 && self.runs.contains_key(run);
                if alone_too_big {
                    self.expire(run, ExpiryReason::MaxStateBytes);
                }
                break;
            }
        }
    }

    /// Expires every run idle since before `tick - idle`; returns them.
    pub fn expire_idle(&mut self, now: u64) -> Vec<String> {
        let Some(idle) = self.limits.idle_expiry_secs else { return Vec::new() };
        let mut out = Vec::new();
        while let Some(((tick, run), ())) = self.order.first_key_value() {
            if now.saturating_sub(*tick) <= idle {
                break;
            }
            let run = run.clone();
            self.expire(&run, ExpiryReason::Idle);
            out.push(run);
        }
        out
    }

    fn expire_oldest(&mut self, keep: &str, reason: ExpiryReason) -> bool {
        let victim = self.order.keys().map(|(_, r)| r).find(|r| r.as_str() != keep).cloned();
        match victim {
            Some(run) => {
                self.expire(&run, reason);
                true
            }
            None => false,
        }
    }

    /// Drops `run`'s state, remembering that it expired.
    pub fn expire(&mut self, run: &str, reason: ExpiryReason) {
        if let Some(slot) = self.runs.remove(run) {
            self.order.remove(&(slot.tick, run.to_owned()));
            self.bytes -= slot.bytes;
            self.expired.insert(run.to_owned(), slot.state.expire(reason.describe()));
            *self.counts.entry(reason).or_default() += 1;
        }
    }

    /// Closes `run` for good (an `end` event): nothing is remembered.
    pub fn close(&mut self, run: &str) {
        if let Some(slot) = self.runs.remove(run) {
            self.order.remove(&(slot.tick, run.to_owned()));
            self.bytes -= slot.bytes;
        }
        self.expired.remove(run);
    }

    /// Replaces `run`'s state by an expired one (a recorded `expired` event).
    pub fn reset_expired(&mut self, run: &str, why: &str, tick: u64) {
        let state = match self.runs.get(run) {
            Some(slot) => slot.state.expire(why),
            None => self.expired.remove(run).unwrap_or_else(|| RunState::new(run)).expire(why),
        };
        self.close(run);
        let bytes = state.approx_bytes();
        self.bytes += bytes;
        self.order.insert((tick, run.to_owned()), ());
        self.runs.insert(run.to_owned(), Slot { state, tick, bytes });
    }

    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// The bounds the runs are kept under.
    pub fn limits(&self) -> RunLimits {
        self.limits
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Estimated bytes of all open states.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many runs were expired, per reason.
    pub fn expired_counts(&self) -> Vec<(ExpiryReason, u64)> {
        let mut counts: Vec<_> = self.counts.iter().map(|(r, n)| (*r, *n)).collect();
        counts.sort_by_key(|(r, _)| r.as_str());
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(runs: usize, bytes: usize) -> RunLimits {
        RunLimits { idle_expiry_secs: Some(10), max_open_runs: runs, max_state_bytes: bytes }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        for bad in ["", "m", "5x", "-1m", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn least_recently_used_runs_expire_past_the_count_and_come_back_failing_closed() {
        let mut open = OpenRuns::new(limits(2, usize::MAX));
        for (tick, run) in ["a", "b", "a", "c"].into_iter().enumerate() {
            open.get(run, tick as u64).record_user("hello");
            open.settle(run);
        }
        assert_eq!(open.len(), 2);
        assert_eq!(open.expired_counts(), vec![(ExpiryReason::MaxOpenRuns, 1)]);
        // `b` was least recently used; it comes back expired, with no trusted history.
        let b = open.get("b", 9);
        assert!(b.expired.is_some());
        assert!(b.read_untrusted.is_some() && b.read_private.is_some());
        assert!(matches!(b.provenance_of("hello"), crate::provenance::Provenance::Unseen));
        // What only restricts the run survives expiry.
        let mut open = OpenRuns::new(limits(1, usize::MAX));
        let first = open.get("x", 0);
        first.agent = Some("a1".to_owned());
        first.calls_allowed = 7;
        first.scope.tenant = Some("acme".to_owned());
        open.settle("x");
        open.get("y", 1);
        open.settle("y");
        let back = open.get("x", 2);
        assert!(back.expired.is_some());
        assert_eq!((back.agent.as_deref(), back.calls_allowed), (Some("a1"), 7));
        assert_eq!(back.scope.tenant.as_deref(), Some("acme"));
        // A closed run is forgotten: it reopens fresh.
        open.close("a");
        assert!(open.get("a", 10).expired.is_none());
    }

    #[test]
    fn memory_budget_expires_old_runs_and_a_run_alone_over_it() {
        let mut open = OpenRuns::new(limits(100, 200_000));
        open.get("small", 0).record_user("hi");
        open.settle("small");
        let big = "x".repeat(10_000); // ~400 KB estimated: over the budget alone
        open.get("big", 1).record_user(&big);
        open.settle("big");
        assert!(open.bytes() <= 200_000, "{}", open.bytes());
        assert!(open.is_empty(), "both expired");
        assert!(open.get("big", 2).expired.is_some());
    }

    #[test]
    fn idle_runs_expire() {
        let mut open = OpenRuns::new(limits(100, usize::MAX));
        open.get("old", 0);
        open.get("new", 15);
        assert_eq!(open.expire_idle(20), vec!["old".to_owned()]);
        assert_eq!(open.len(), 1);
        assert_eq!(open.expired_counts(), vec![(ExpiryReason::Idle, 1)]);
    }
}
