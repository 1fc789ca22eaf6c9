//! Waiting for what another party finishes: a human's answer to an approval request
//! ([`Engine::await_approval`], shared by the MCP gateway and the HTTP API's long poll),
//! and the end of an effect that an earlier call (here or on another instance) is still
//! executing (a repeated idempotency key, a repeated call id).
//!
//! Every wait reads the store, the only place where another instance's answer shows, and
//! is bounded: it returns what stands when its time is up, never an error for waiting.

use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::{Approval, ApprovalStatus, Effect, Store};

/// How often a wait reads the store again.
const APPROVAL_POLL: Duration = Duration::from_millis(200);

/// How often a wait for an effect's end reads the store again.
const EFFECT_POLL: Duration = Duration::from_millis(10);

impl<S: Store> Engine<S> {
    /// Approval request `id` once it is answered (approved, rejected, or expired: a pending
    /// request past its expiry reads as expired), or as it stands after `wait`. `None`
    /// when there is no such request. A zero `wait` reads it once.
    pub async fn await_approval(
        &self,
        id: &str,
        wait: Duration,
    ) -> Result<Option<Approval>, EngineError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let approval = self.approval(id).await?;
            let now = tokio::time::Instant::now();
            match approval {
                Some(a) if a.status == ApprovalStatus::Pending && now < deadline => {
                    tokio::time::sleep(APPROVAL_POLL.min(deadline - now)).await;
                }
                answered_or_missing => return Ok(answered_or_missing),
            }
        }
    }

    /// The effect of the first call with idempotency key `key` in `run`. When that call is
    /// still executing (here or on another instance), waits up to the call timeout for its
    /// outcome, and otherwise returns it as it stands (`pending` or `dispatched`).
    pub(crate) async fn first_outcome(
        &self,
        run: &str,
        key: &str,
    ) -> Result<Option<Effect>, EngineError> {
        let deadline = Instant::now() + self.config().call_timeout;
        loop {
            let effect = self.store().effect_by_key(run, key).await?;
            match &effect {
                Some(e) if !e.state.is_final() && Instant::now() < deadline => {
                    tokio::time::sleep(EFFECT_POLL).await;
                }
                _ => return Ok(effect),
            }
        }
    }

    /// Effect `id` once it has ended (waiting up to the call timeout while it runs, here
    /// or on another instance), or as it stands then.
    pub(crate) async fn settled_effect(&self, id: &str) -> Result<Option<Effect>, EngineError> {
        let deadline = Instant::now() + self.config().call_timeout;
        loop {
            let effect = self.store().effect(id).await?;
            match &effect {
                Some(e) if !e.state.is_final() && Instant::now() < deadline => {
                    tokio::time::sleep(EFFECT_POLL).await;
                }
                _ => return Ok(effect),
            }
        }
    }
}
