//! The engine's side of held reads (`held.rs`): the run lock that commits a read's held
//! decision before anyone else writes to its run.

use crate::engine::Engine;
use crate::held::{Held, Pending, Slot, lock};
use crate::store::{Committed, Durability, Store};

impl<S: Store> Engine<S> {
    /// Takes `run`'s lock, once the decision of a read of it that is still running is
    /// committed.
    pub(crate) async fn lock_run(&self, run: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let guard = self.run_lock(run).lock().await;
        if let Some(slot) = self.held_reads().take(run) {
            self.commit_held(&slot).await;
        }
        guard
    }

    /// Commits a held decision as the record stage commits a read's: unsynced, since the
    /// read's answer waits for its end's synced commit.
    async fn commit_held(&self, slot: &Slot) {
        let taken = std::mem::replace(&mut *lock(slot), Held::Lost);
        let Held::Waiting(pending) = taken else {
            *lock(slot) = taken;
            return;
        };
        let Pending { mut commit, run, policy } = *pending;
        commit.durability = Durability::Ordered;
        let (run_id, agent, event) =
            (commit.run.clone(), commit.agent.clone(), commit.event.clone());
        let held = match self.store().commit_run_event(commit).await {
            Ok(Committed::Done { audit_seq, .. }) => {
                self.keep_run(&policy, &run_id, &agent, run, [event].into_iter());
                Held::Committed(audit_seq)
            }
            Ok(_) => Held::Lost,
            Err(error) => {
                tracing::warn!(run = run_id, %error, "a read's held decision did not commit");
                Held::Lost
            }
        };
        *lock(slot) = held;
    }
}
