//! The stages of one call, in the order [`Engine::execute`](crate::Engine::execute) runs
//! them (design.md §3), each in its own module with a typed input and output:
//!
//! 1. [`identify`]: the call as the engine will judge it (its digest, arrival, the id its
//!    effect will have, paths resolved where its connector acts, its nonce spent, its run
//!    expired when due);
//! 2. [`load_run`]: the run's state, cached or read and rebuilt, owned by the call's agent;
//! 3. [`decide`]: the pure `aecl_core::decide`, tightened by what the engine found (a spent
//!    nonce, a refused limit, a repeated call id);
//! 4. [`admit`]: the rate and concurrency limits the call takes when it goes ahead;
//! 5. [`place`]: the sandbox tier its connector runs it in, or a block;
//! 6. [`grant`]: a human's grant or a standing grant lifting `require_approval`, or the
//!    approval request the call waits on;
//! 7. [`record`]: one durable commit of the run event, the limits, the effect (dispatched),
//!    the grant's use and the decision record; then the approval request is filed;
//! 8. [`dispatch`]: the connector, under the per-call timeout (or the earlier execution's
//!    effect, for a repeated key or call id);
//! 9. [`finish`]: the effect's end, the run's events and the outcome record.
//!
//! Stages 2 to 7 run again when the commit conflicts with another instance's or a limit
//! refuses it ([`Attempt`] carries what earlier attempts learned). Every stage runs in a
//! `tracing` span named `aecl.stage` with its `stage`, `run` and `call`.

pub(crate) mod admit;
pub(crate) mod decide;
pub(crate) mod dispatch;
pub(crate) mod finish;
pub(crate) mod grant;
pub(crate) mod identify;
pub(crate) mod load_run;
pub(crate) mod place;
pub(crate) mod record;

use std::time::{Duration, Instant};

use aecl_core::policy::Policy;
use aecl_core::{Call, CallDigest, Reason, Timestamp};
use std::sync::Arc;

use crate::origin::Origin;
use crate::run_cache::CachedRun;

/// A call as [`identify`] hands it on: what every later stage reads.
#[derive(Debug)]
pub(crate) struct Arrived {
    pub call: Call,
    /// Hashed once: the effect, the grant lookups and the records all name it.
    pub digest: CallDigest,
    /// The policy the call is decided under (and its connector bound by).
    pub policy: Arc<Policy>,
    /// When the call arrived, before it queued for its run: a grant of the same call spent
    /// at or after this moment was spent by a concurrent retry of it.
    pub arrival: Timestamp,
    /// When the engine started on it (the records' latency).
    pub started: Instant,
    /// The id its effect has when it goes ahead.
    pub effect_id: String,
    /// Its nonce was spent before (by any call of its agent).
    pub nonce_reused: bool,
    /// It is to be executed (through a connector), not only evaluated.
    pub executing: bool,
    /// An agent's call, or the engine's compensation call for a rollback.
    pub origin: Origin,
}

/// What earlier attempts to record a call learned (stages 2 to 7 run again when a commit
/// conflicts or is refused).
#[derive(Debug)]
pub(crate) struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// The run as the last attempt read it, when nothing was written since.
    pub cached: Option<CachedRun>,
    /// A limit refused the last commit: the call is blocked for it.
    pub refused: Option<Reason>,
    /// A standing grant's use, counted once however often the call is decided again.
    pub standing: Option<Reason>,
    /// The effect of the executed call whose id (and arguments) this call repeats.
    pub replay_effect: Option<String>,
    /// Whether the commit checks that the call id is not an executed call's (cleared once
    /// it was found to be, with the same arguments).
    pub check_call_id: bool,
    /// Whether a read may run before its decision is committed, to commit both together
    /// (off when such a commit failed and the call is decided again after running).
    pub defer_reads: bool,
}

/// The span of one stage of one call, at `debug` under [`crate::observe::STAGE_TARGET`]:
/// exported as traces (the OTLP export enables it), and in logs only when asked for
/// (`AECL_LOG=info,aecl::stage=debug`). At `info`, the log layer formatted the run and call
/// of seven spans per call, 7.5 % of the instructions of a decision by the API, for a
/// context that the decision line names anyway.
pub(crate) fn span(stage: &'static str, call: &Call) -> tracing::Span {
    tracing::debug_span!(
        target: crate::observe::STAGE_TARGET,
        "aecl.stage",
        stage = stage,
        run = %call.run,
        call = %call.id
    )
}

/// What the engine waits past a connector's own deadline: the connector's answer is on
/// its way.
const DEADLINE_GRACE: Duration = Duration::from_secs(2);

/// How long the engine waits for a call: its per-call timeout, or the connector's own
/// deadline and [`DEADLINE_GRACE`] when that is longer.
pub(crate) fn wait_limit(call_timeout: Duration, connector_deadline: Option<Duration>) -> Duration {
    connector_deadline
        .map_or(call_timeout, |own| call_timeout.max(own.saturating_add(DEADLINE_GRACE)))
}
