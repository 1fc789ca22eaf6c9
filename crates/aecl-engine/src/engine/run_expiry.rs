//! `[runs]` expiry as the engine records it: a run the [`RunTracker`](crate::expiry) finds
//! due is expired before its next call is decided (`expire_if_due`), after a commit made
//! others due (`sweep_after_commit`), and by the server's periodic sweep (`sweep_runs`).
//! The tracker itself is `expiry.rs`.

use aecl_audit::RecordKind;
use aecl_core::run_bounds::RunLimits;
use serde_json::json;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::expiry::Victim;
use crate::run_event::RunEvent;
use crate::store::{Committed, Durability, RunCommit, Store};

impl<S: Store> Engine<S> {
    /// Records the expiry of `run` first if it is due (evicted by the bounds, or idle past
    /// `idle_expiry` by the engine's clock), so that what follows is decided on the run as
    /// `[runs]` left it. Call before taking the run's lock.
    pub(crate) async fn expire_if_due(&self, run: &str) -> Result<(), EngineError> {
        let now = self.now().0;
        if let Some(victim) = self.expiry().due_now(run, now) {
            self.record_expiry(victim).await?;
        }
        Ok(())
    }

    /// After a commit: records the expiries it made due (a few at most). A failure is
    /// logged, and the runs stay due for the next access or sweep.
    pub(crate) async fn sweep_after_commit(&self) {
        if let Err(error) = self.sweep_runs(16).await {
            tracing::warn!(%error, "recording run expiries failed; retried at the next sweep");
        }
    }

    /// Records the expiry of every run due now (up to `max`): the periodic sweep of a
    /// server, and after a call whose commit pushed other runs past the bounds. Returns how
    /// many expiries were recorded.
    pub async fn sweep_runs(&self, max: usize) -> Result<usize, EngineError> {
        let now = self.now().0;
        let mut recorded = 0;
        for victim in self.expiry().all_due(now, max) {
            if self.record_expiry(victim).await? {
                recorded += 1;
            }
        }
        Ok(recorded)
    }

    /// Expiries this instance recorded, per reason (`idle`, `max_open_runs`,
    /// `max_state_bytes`), for `/metrics`.
    pub fn runs_expired(&self) -> Vec<(&'static str, u64)> {
        self.expiry().counts().into_iter().map(|(r, n)| (r.as_str(), n)).collect()
    }

    /// The `[runs]` bounds this engine applies; replaced with the policy at a reload.
    pub fn set_run_limits(&self, limits: RunLimits) {
        self.expiry().set_limits(limits);
    }

    pub fn run_limits(&self) -> RunLimits {
        self.expiry().limits()
    }

    /// Commits `victim`'s `expired` event and its audit record, at the version the tracker
    /// saw. False when the run moved on since (it is live), or another path recorded it,
    /// and nothing was recorded. On an error the run stays due.
    async fn record_expiry(&self, victim: Victim) -> Result<bool, EngineError> {
        let _run_guard = self.lock_run(&victim.run).await;
        // INVARIANT: claimed under the run's lock, which every commit of the run holds: a
        // call that raced the sweep either finds the expiry recorded, or wrote first and
        // made the run live (the claim then fails).
        if !self.expiry().claim(&victim) {
            return Ok(false);
        }
        let committed = self.commit_expiry(&victim).await;
        if committed.is_err() {
            self.expiry().requeue(victim);
        }
        committed
    }

    async fn commit_expiry(&self, victim: &Victim) -> Result<bool, EngineError> {
        let run = victim.run.as_str();
        let policy = self.policy();
        // The cached state is dropped either way: after an expiry the run is rebuilt from
        // the store (with the expiry), and a run that moved on elsewhere must be read again.
        let cached = self.run_cache().take(run, &policy.revision);
        let version = match &cached {
            Some(known) => known.snapshot.version,
            None => self.store().load_run(run).await?.version,
        };
        if version != victim.version {
            return Ok(false);
        }
        let reason = victim.reason.as_str();
        let mut record = self.record(RecordKind::Run, &victim.agent, run);
        record.input = json!({ "expired": true, "reason": reason });
        let commit = RunCommit {
            run: run.to_owned(),
            agent: victim.agent.clone(),
            expected_version: version,
            event: RunEvent::Expired { reason: reason.to_owned() },
            admission: Vec::new(),
            effect: None,
            audit: Some(record),
            grant: None,
            call_id: None,
            durability: Durability::Synced,
            end: None,
        };
        match self.store().commit_run_event(commit).await? {
            Committed::Done { .. } => {
                self.expiry().count(victim.reason);
                tracing::info!(run, agent = %victim.agent, reason, "run expired");
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
