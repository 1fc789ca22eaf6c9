//! `GET /metrics`: Prometheus text of decisions by outcome, agent and action, the decide
//! latency, refused requests, unguarded calls, the approval requests waiting for a human,
//! approvals answered by outcome and how long they waited, executions by the state their
//! effect ended in, policy reloads and their failures, the store's health, its writer's
//! queue and the age of the newest signed audit checkpoint. Admin tokens only: labels name
//! agents and actions, which are not for every caller (a scraper gets a long-lived admin
//! token of its own).
//!
//! Label values are bounded: agents come from verified tokens, and an action that is not in
//! the catalog is counted as `unknown`, so a caller cannot grow the series without bound.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use aecl_audit::Checkpoint;
use aecl_core::{Decision, Timestamp};
use aecl_engine::identity::Role;
use aecl_engine::{ApprovalAnswered, EffectState, Observer, Store};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::ApiError;
use crate::{AppState, Caller};

/// The gauge of pending approvals counts up to this many.
const MAX_PENDING_COUNTED: usize = 10_000;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: String,
    agent: String,
    action: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UnguardedLabels {
    agent: String,
    action: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExpiryLabels {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    status: u16,
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// How a policy reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadResult {
    /// A new revision is in force.
    Applied,
    /// The files changed but the revision did not (formatting, comments).
    Unchanged,
    /// Refused (a file that does not load, a failing example, a connector not
    /// configured): the old policy stays in force.
    Refused,
}

impl ReloadResult {
    fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Applied => "applied",
            ReloadResult::Unchanged => "unchanged",
            ReloadResult::Refused => "refused",
        }
    }
}

/// A histogram of approval waits: 1 s to about 36 h.
fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 18))
}

/// The API's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    latency: Histogram,
    refusals: Family<RefusalLabels, Counter>,
    refusal_audit_suppressed: Counter,
    pending_approvals: Gauge,
    unguarded: Family<UnguardedLabels, Counter>,
    approvals: ApprovalMetrics,
    effects: Family<StateLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    reload_failing: Gauge,
    store_healthy: Gauge,
    writer_queue_depth: Gauge,
    checkpoint_age: Gauge<f64, AtomicU64>,
    runs_expired: Family<ExpiryLabels, Counter>,
    /// Serialises bringing `runs_expired` up to the engine's counts at a scrape.
    runs_expired_sync: std::sync::Mutex<()>,
}

/// The approval series, shared with the engine as its [`Observer`]: answers (and
/// expiries) are counted where the engine records them, whichever front end answered.
#[derive(Debug, Clone)]
pub struct ApprovalMetrics {
    answered: Family<OutcomeLabels, Counter>,
    wait: Family<OutcomeLabels, Histogram, fn() -> Histogram>,
}

impl Observer for ApprovalMetrics {
    fn approval_answered(&self, answer: &ApprovalAnswered<'_>) {
        let labels = OutcomeLabels { outcome: answer.status.as_str() };
        self.answered.get_or_create(&labels).inc();
        // Milliseconds to seconds; f64 holds every wait exactly enough for a histogram.
        #[expect(clippy::cast_precision_loss, reason = "a wait in ms fits f64's mantissa")]
        let seconds = answer.waited_ms as f64 / 1000.0;
        self.wait.get_or_create(&labels).observe(seconds);
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("aecl");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Decisions by outcome (block on an engine error), agent and action",
            decisions.clone(),
        );
        // 0.5 ms to about 8 s.
        let latency = Histogram::new(exponential_buckets(0.0005, 2.0, 15));
        registry.register(
            "decide_latency_seconds",
            "Time to decide and record a call (evaluate, execute before dispatch, hook)",
            latency.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "refused_requests",
            "Refused requests (400, 401, 403, 409, 413, 429), by status and error code",
            refusals.clone(),
        );
        let refusal_audit_suppressed = Counter::default();
        registry.register(
            "refusal_audit_suppressed",
            "Refused requests not written to the audit log (over a caller's rate; the next \
             record counts them)",
            refusal_audit_suppressed.clone(),
        );
        let pending_approvals = Gauge::default();
        registry.register(
            "pending_approvals",
            "Approval requests waiting for a human (read from the store at each scrape; \
             -1 when the store could not be read)",
            pending_approvals.clone(),
        );
        let unguarded = Family::<UnguardedLabels, Counter>::default();
        registry.register(
            "unguarded_calls",
            "Calls an agent's post-tool hook reported that ran without aecl's allow (never \
             decided, or refused), by agent and action",
            unguarded.clone(),
        );
        let approvals = ApprovalMetrics {
            answered: Family::default(),
            wait: Family::new_with_constructor(wait_histogram),
        };
        registry.register(
            "approvals_answered",
            "Approval requests answered, by outcome (approved, rejected, expired), whichever \
             replica or front end answered them through this process's engine",
            approvals.answered.clone(),
        );
        registry.register(
            "approval_wait_seconds",
            "Time from an approval request to its answer, by outcome",
            approvals.wait.clone(),
        );
        let effects = Family::<StateLabels, Counter>::default();
        registry.register(
            "executions",
            "Executions through /v1/execute by the state their effect ended in (succeeded, \
             failed, outcome_unknown, ...); replays of an earlier execution are not counted",
            effects.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "policy_reloads",
            "Policy reloads (SIGHUP or a change of the directory), by result: applied, \
             unchanged, refused (the old policy stayed in force)",
            reloads.clone(),
        );
        let reload_failing = Gauge::default();
        registry.register(
            "policy_reload_failing",
            "1 while the last policy reload was refused (the policy in force is older than \
             the directory), else 0",
            reload_failing.clone(),
        );
        let store_healthy = Gauge::default();
        registry.register(
            "store_healthy",
            "1 when the store's write probe committed and its writer is running (probed at \
             each scrape, at most once a second), else 0: calls are then blocked",
            store_healthy.clone(),
        );
        let writer_queue_depth = Gauge::default();
        registry.register(
            "audit_writer_queue_depth",
            "Writes queued for the store's writer and not yet committed, at the scrape \
             (SQLite: every write; PostgreSQL: this process's audit records; read without \
             waiting on the writer, so a writer that falls behind shows as a growing queue)",
            writer_queue_depth.clone(),
        );
        let checkpoint_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "audit_checkpoint_age_seconds",
            "Seconds from the newest signed audit checkpoint's time (that of the newest \
             record it added) to the scrape, by this process's clock; -1 when there is no \
             checkpoint yet or the store could not be read",
            checkpoint_age.clone(),
        );
        let runs_expired = Family::<ExpiryLabels, Counter>::default();
        registry.register(
            "runs_expired",
            "Runs whose state `[runs]` expired (an `expired` event recorded), by reason: \
             idle, max_open_runs, max_state_bytes (this process's engine)",
            runs_expired.clone(),
        );
        Metrics {
            registry,
            unguarded,
            runs_expired,
            runs_expired_sync: std::sync::Mutex::new(()),
            decisions,
            latency,
            refusals,
            refusal_audit_suppressed,
            pending_approvals,
            approvals,
            effects,
            reloads,
            reload_failing,
            store_healthy,
            writer_queue_depth,
            checkpoint_age,
        }
    }

    /// The engine's observer that counts approval answers into these metrics
    /// (`Engine::with_observer`).
    pub fn observer(&self) -> Arc<dyn Observer> {
        Arc::new(self.approvals.clone())
    }

    /// Counts one execution by its effect's state.
    pub fn executed(&self, state: EffectState) {
        self.effects.get_or_create(&StateLabels { state: state.as_str() }).inc();
    }

    /// Brings the expired-runs counters up to the engine's counts (which only grow).
    pub fn runs_expired(&self, counts: &[(&'static str, u64)]) {
        let _sync =
            self.runs_expired_sync.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (reason, total) in counts {
            let counter = self.runs_expired.get_or_create(&ExpiryLabels { reason });
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    /// Counts one policy reload.
    pub fn policy_reloaded(&self, result: ReloadResult) {
        self.reloads.get_or_create(&ReloadLabels { result: result.as_str() }).inc();
    }

    /// Counts one decision; `known_action` is false for actions not in the catalog.
    pub fn decided(&self, decision: Decision, agent: &str, action: &str, known_action: bool) {
        let labels = DecisionLabels {
            decision: decision.as_str().to_owned(),
            agent: agent.to_owned(),
            action: if known_action { action.to_owned() } else { "unknown".to_owned() },
        };
        self.decisions.get_or_create(&labels).inc();
    }

    /// Counts one unguarded call; `known_action` is false for actions not in the catalog.
    pub fn unguarded(&self, agent: &str, action: &str, known_action: bool) {
        let action = if known_action { action.to_owned() } else { "unknown".to_owned() };
        self.unguarded.get_or_create(&UnguardedLabels { agent: agent.to_owned(), action }).inc();
    }

    pub fn observe_latency(&self, seconds: f64) {
        self.latency.observe(seconds);
    }

    /// Counts one refused request (`code` is one of the API's stable error codes).
    pub fn refused(&self, status: u16, code: &str) {
        self.refusals.get_or_create(&RefusalLabels { status, code: code.to_owned() }).inc();
    }

    pub fn refusal_audit_suppressed(&self) {
        self.refusal_audit_suppressed.inc();
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

pub async fn metrics<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(&state, &[Role::Admin], "/metrics").await?;
    // First, before anything below waits on the writer (the health probe goes through it).
    let queued = state.engine.store().writer_queue_depth().await;
    state.metrics.writer_queue_depth.set(i64::try_from(queued).unwrap_or(i64::MAX));
    // From the store, not a local count: requests are answered and expire on any replica.
    let pending = match state.engine.approvals(true, MAX_PENDING_COUNTED).await {
        Ok(pending) => i64::try_from(pending.len()).unwrap_or(i64::MAX),
        Err(error) => {
            tracing::error!(%error, "could not count the pending approvals");
            -1
        }
    };
    state.metrics.pending_approvals.set(pending);
    state.metrics.runs_expired(&state.engine.runs_expired());
    state.metrics.reload_failing.set(i64::from(state.engine.policy_error().is_some()));
    // Bounded like `/healthz`: a writer that hangs makes the store unhealthy, not the
    // scrape hang (the queue depth read above then shows why).
    let probe = state.engine.store().health();
    let healthy = tokio::time::timeout(crate::read::PROBE_DEADLINE, probe)
        .await
        .is_ok_and(|store| store.is_healthy());
    state.metrics.store_healthy.set(i64::from(healthy));
    let age = match state.engine.store().newest_checkpoint().await {
        Ok(newest) => newest
            .as_deref()
            .and_then(checkpoint_time)
            .map_or(-1.0, |time| seconds_since(time, state.clock.now())),
        Err(error) => {
            tracing::error!(%error, "could not read the newest audit checkpoint");
            -1.0
        }
    };
    state.metrics.checkpoint_age.set(age);
    let body = state.metrics.encode();
    Ok(([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
        .into_response())
}

/// The time a stored checkpoint carries, if it carries one. The note is read without its
/// signature checked: it comes from aecl's own store, this server holds no verifying key,
/// and an age is no evidence (`aecl audit verify` checks the signatures).
fn checkpoint_time(note: &str) -> Option<Timestamp> {
    Checkpoint::read_unverified(note)?.time
}

/// Seconds from `time` to `now`. A time after `now` (another replica's clock ahead of
/// ours, or ours stepped back) is as fresh as can be: 0, never negative.
fn seconds_since(time: Timestamp, now: Timestamp) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "an age in ms fits f64's mantissa")]
    let ms = now.0.saturating_sub(time.0) as f64;
    ms / 1000.0
}
