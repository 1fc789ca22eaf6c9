//! The periodic `[runs]` sweep of `aecl serve`: runs idle past `idle_expiry`, or pushed
//! past `max_open_runs` / `max_state_bytes`, get their `expired` event and audit record
//! even when nothing touches them again (the engine also expires a run lazily, before its
//! next event is decided; see `aecl_engine`'s `expiry.rs`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use aecl_engine::{Engine, Store};

/// How often the sweep looks for runs to expire. Looking is a lock and a glance at the
/// least recently used run, so this can be frequent; idle expiry is then late by at most
/// this much.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Expiries recorded per sweep at most, so that one sweep after a long pause cannot hold
/// the store's writer for long; the rest wait for the next.
const SWEEP_BATCH: usize = 256;

/// Sweeps `engine`'s runs every `every` until the engine is dropped.
pub async fn sweep<S: Store>(engine: Weak<Engine<S>>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else { return };
        sweep_once(&engine).await;
    }
}

/// One sweep; a failure is logged and the runs stay due for the next.
pub async fn sweep_once<S: Store>(engine: &Arc<Engine<S>>) {
    match engine.sweep_runs(SWEEP_BATCH).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(expired = n, "runs expired"),
        Err(error) => tracing::warn!(%error, "expiring runs failed; retried at the next sweep"),
    }
}
