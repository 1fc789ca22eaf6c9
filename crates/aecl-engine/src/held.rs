//! Reads whose decision is held to commit with their outcome (ARCHITECTURE.md, "One durable
//! commit per call"). While such a read runs, its decision's commit waits here, one per
//! run. Whoever takes the run's lock next ([`Engine::lock_run`]) commits it first, as the
//! record stage would have: so every call is still decided on top of every call decided
//! before it in this instance, a read never races the run's next call (no read runs that
//! its run's budget would refuse), and nobody waits for a read to finish. A read that
//! finds its decision still held commits it with its end; one whose decision was
//! committed for it ends as any read does. The engine's side is `engine/held_reads.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aecl_core::policy::Policy;

use crate::run_cache::CachedRun;
use crate::store::RunCommit;

/// A read's decision, not yet committed.
#[derive(Debug)]
pub(crate) struct Pending {
    /// As the record stage built it, at the version the call was decided on.
    pub commit: RunCommit,
    /// The run it was decided on, cached again once the commit is in.
    pub run: CachedRun,
    /// The policy it was decided under (the run cache is per revision).
    pub policy: Arc<Policy>,
}

/// Where a held decision is.
#[derive(Debug)]
pub(crate) enum Held {
    /// Still held: the read commits it with its end.
    Waiting(Box<Pending>),
    /// Committed for the read (unsynced, as the record stage commits a read), with its
    /// record's sequence number (which a store always gives): the read's end follows,
    /// synced.
    Committed(Option<u64>),
    /// Taken and not committed (another instance moved the run on, or the store failed):
    /// the read is decided again.
    Lost,
}

/// One held decision, shared by the read and whoever commits it for the read.
pub(crate) type Slot = Arc<Mutex<Held>>;

/// The held decisions of this instance, by run.
#[derive(Debug, Default)]
pub(crate) struct HeldReads(Mutex<HashMap<String, Slot>>);

impl HeldReads {
    /// Holds `pending` for its run (whose lock the caller holds, so the run has none held).
    pub(crate) fn hold(&self, pending: Pending) -> Slot {
        let run = pending.commit.run.clone();
        let slot = Arc::new(Mutex::new(Held::Waiting(Box::new(pending))));
        lock(&self.0).insert(run, Arc::clone(&slot));
        slot
    }

    /// `run`'s held decision, taken out of this map.
    pub(crate) fn take(&self, run: &str) -> Option<Slot> {
        lock(&self.0).remove(run)
    }

    /// Takes `slot`'s state for its read (under the run's lock) and forgets the slot.
    pub(crate) fn settle(&self, run: &str, slot: &Slot) -> Held {
        {
            let mut held = lock(&self.0);
            if held.get(run).is_some_and(|found| Arc::ptr_eq(found, slot)) {
                held.remove(run);
            }
        }
        std::mem::replace(&mut *lock(slot), Held::Lost)
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these: a poisoned lock still holds whole values.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
