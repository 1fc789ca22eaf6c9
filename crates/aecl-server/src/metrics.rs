//! `GET /metrics`: Prometheus text of decisions by outcome, agent and action, the decide
//! latency, refused requests, unguarded calls, and the approval requests waiting for a human. Admin tokens only: labels name agents and actions, which
//! are not for every caller (a scraper gets a long-lived admin token of its own).
//!
//! Label values are bounded: agents come from verified tokens, and an action that is not in
//! the catalog is counted as `unknown`, so a caller cannot grow the series without bound.

use std::sync::Arc;

use aecl_core::Decision;
use aecl_engine::Store;
use aecl_engine::identity::Role;
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
struct RefusalLabels {
    status: u16,
    code: String,
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
        Metrics {
            registry,
            unguarded,
            decisions,
            latency,
            refusals,
            refusal_audit_suppressed,
            pending_approvals,
        }
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
    // From the store, not a local count: requests are answered and expire on any replica.
    let pending = match state.engine.approvals(true, MAX_PENDING_COUNTED).await {
        Ok(pending) => i64::try_from(pending.len()).unwrap_or(i64::MAX),
        Err(error) => {
            tracing::error!(%error, "could not count the pending approvals");
            -1
        }
    };
    state.metrics.pending_approvals.set(pending);
    let body = state.metrics.encode();
    Ok(([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
        .into_response())
}
