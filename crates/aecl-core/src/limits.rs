//! Rate and concurrency limits: what a policy says, and the arithmetic of the generic cell
//! rate algorithm (GCRA) that the stores apply atomically.
//!
//! These limits span runs (every run of an agent, every call of an action), so `decide`
//! cannot judge them from one run's state: the engine asks the store to admit an allowed
//! call, and the store applies [`gcra`] to the state it keeps for each key inside the
//! transaction that records the call. Keeping the arithmetic here keeps SQLite and
//! PostgreSQL exact copies of one another.

/// A rate limit: `count` calls per `per_ms` milliseconds, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per_ms: u64,
    /// How many calls may come at once after a quiet spell (at least 1).
    pub burst: u32,
}

impl RateLimit {
    /// The steady spacing between calls, in milliseconds (at least 1).
    pub fn interval_ms(&self) -> u64 {
        self.per_ms.div_ceil(u64::from(self.count.max(1))).max(1)
    }

    /// How far ahead of `now` the theoretical arrival time may run.
    fn tolerance_ms(&self) -> u64 {
        self.interval_ms().saturating_mul(u64::from(self.burst.max(1) - 1))
    }
}

/// The limits of an agent (over all its runs) or of an action (over all agents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub rate: Option<RateLimit>,
    /// Calls that may execute at the same time.
    pub concurrency: Option<u32>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.rate.is_none() && self.concurrency.is_none()
    }
}

/// One step of GCRA. `tat` is the stored theoretical arrival time of the key (`None` for a
/// key never seen), `now` the current time, both in milliseconds. Admits the call with the
/// new theoretical arrival time to store, or refuses it with the milliseconds to wait.
pub fn gcra(limit: &RateLimit, tat: Option<u64>, now: u64) -> Result<u64, u64> {
    let tat = tat.unwrap_or(now).max(now);
    let allow_at = tat.saturating_sub(limit.tolerance_ms());
    if allow_at > now {
        return Err(allow_at - now);
    }
    Ok(tat.saturating_add(limit.interval_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(limit: &RateLimit, times: &[u64]) -> Vec<bool> {
        let mut tat = None;
        times
            .iter()
            .map(|&now| match gcra(limit, tat, now) {
                Ok(next) => {
                    tat = Some(next);
                    true
                }
                Err(_) => false,
            })
            .collect()
    }

    #[test]
    fn a_burst_then_the_steady_rate() {
        let limit = RateLimit { count: 10, per_ms: 60_000, burst: 3 };
        assert_eq!(limit.interval_ms(), 6_000);
        // Three at once, the fourth refused; one more every six seconds.
        assert_eq!(admitted(&limit, &[0, 0, 0, 0]), [true, true, true, false]);
        assert_eq!(
            admitted(&limit, &[0, 0, 0, 5_999, 6_000, 6_001, 12_000]),
            [true, true, true, false, true, false, true]
        );
    }

    #[test]
    fn refusal_says_how_long_to_wait_and_changes_nothing() {
        let limit = RateLimit { count: 1, per_ms: 1_000, burst: 1 };
        let tat = gcra(&limit, None, 5_000).unwrap();
        assert_eq!(gcra(&limit, Some(tat), 5_400), Err(600));
        assert_eq!(gcra(&limit, Some(tat), 6_000), Ok(7_000));
    }

    #[test]
    fn a_quiet_spell_does_not_bank_more_than_the_burst() {
        let limit = RateLimit { count: 2, per_ms: 1_000, burst: 2 };
        let mut tat = None;
        for now in [0, 0] {
            tat = Some(gcra(&limit, tat, now).unwrap());
        }
        let later = 1_000_000;
        let a = gcra(&limit, tat, later).unwrap();
        let b = gcra(&limit, Some(a), later).unwrap();
        assert!(gcra(&limit, Some(b), later).is_err());
    }
}
