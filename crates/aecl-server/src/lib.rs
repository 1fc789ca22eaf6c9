//! aecl's HTTP API (`aecl serve`): the engine behind axum, with token authentication on
//! every endpoint except `/healthz`, and the approvals web page under `/ui` (an approver's
//! token held in a session cookie).
//!
//! The library takes an [`Engine`] over any [`Store`], the public key that verifies
//! tokens, and a [`Connector`], and returns a [`Router`]; `aecl-cli` chooses the concrete
//! store and connector. Every failure on the decision path answers with a block (or a 5xx
//! error), never an allow: store and engine errors become a `block` verdict with status
//! 503, and a panic in a handler becomes a 500.

mod approvals;
mod auth;
mod calls;
mod error;
mod events;
mod hook;
mod metrics;
mod notify;
mod openapi;
mod read;
mod reconcile;
mod refusals;
mod rollback;
mod runs;
mod standing;
mod tokens;
mod trace_context;
mod ui;

use std::future::IntoFuture as _;
use std::sync::Arc;

use aecl_audit::VerifierKey;
use aecl_core::limits::RateLimit;
use aecl_engine::{Clock, Connector, Engine, Store};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

pub use auth::{
    Caller, Idp, IdpError, JwksSource, Limiter, TokenCache, revocation_id_of_agent_key,
    revocation_id_of_token,
};
pub use calls::NotConfigured;
pub use error::ApiError;
pub use metrics::{Metrics, ReloadResult};
pub use notify::{Webhook, WebhookConfig, WebhookError, slack_body};
pub use refusals::{AGENT_REFUSAL_AUDIT_RATE, RefusalAudit};

/// Audit records of refused anonymous requests (no valid token) per minute, all callers
/// together.
pub const ANONYMOUS_AUDIT_RATE: RateLimit = RateLimit { count: 600, per_ms: 60_000, burst: 100 };

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Requests per token (`None`: unlimited).
    pub rate_limit: Option<RateLimit>,
    /// The name of the key that signs audit checkpoints (empty when none is loaded: the
    /// server is then unhealthy).
    pub audit_key: String,
    /// Where committed checkpoints are published (`--checkpoint-dir`), asked by `/healthz`
    /// whether publication is failing or behind.
    pub publication: Option<Arc<dyn aecl_audit::CheckpointSink>>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            body_limit: 1024 * 1024,
            rate_limit: Some(RateLimit { count: 600, per_ms: 60_000, burst: 100 }),
            audit_key: String::new(),
            publication: None,
        }
    }
}

/// What every handler shares.
pub struct AppState<S> {
    pub engine: Arc<Engine<S>>,
    /// Verifies bearer tokens (`aecl token issue` signs them with the secret half).
    pub token_key: VerifierKey,
    pub clock: Arc<dyn Clock>,
    /// Executes allowed calls of `/v1/execute`.
    pub connector: Arc<dyn Connector>,
    pub metrics: Metrics,
    pub limiter: Limiter,
    /// Tokens whose signature verified.
    pub tokens: TokenCache,
    /// The company's IdP, whose tokens people may sign in with (`--oidc-*`).
    pub idp: Option<Arc<Idp>>,
    /// Caps the audit records of refused requests per caller (and for all requests
    /// without a valid token together), so that a flood of refusals cannot fill the audit
    /// log; past it they are logged and counted, and the next record says how many.
    pub refusal_audit: RefusalAudit,
    pub config: ServerConfig,
}

impl<S> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("token_key", &self.token_key.name())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Store> AppState<S> {
    pub fn new(
        engine: Arc<Engine<S>>,
        token_key: VerifierKey,
        clock: Arc<dyn Clock>,
        connector: Arc<dyn Connector>,
        config: ServerConfig,
    ) -> AppState<S> {
        AppState {
            engine,
            token_key,
            clock,
            connector,
            metrics: Metrics::new(),
            limiter: Limiter::new(config.rate_limit),
            tokens: TokenCache::default(),
            idp: None,
            refusal_audit: RefusalAudit::new(AGENT_REFUSAL_AUDIT_RATE, ANONYMOUS_AUDIT_RATE),
            config,
        }
    }

    /// Accepts people's tokens from `idp` too (`--oidc-*`).
    #[must_use]
    pub fn with_idp(mut self, idp: Option<Idp>) -> Self {
        self.idp = idp.map(Arc::new);
        self
    }

    /// Uses `metrics` (made before the engine, whose observer it gave) instead of new ones.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }
}

/// The API's routes over `state`.
pub fn router<S: Store>(state: Arc<AppState<S>>) -> Router {
    let body_limit = state.config.body_limit;
    Router::new()
        .route("/healthz", get(read::health::<S>))
        .route("/.well-known/jwks.json", get(auth::jwks::<S>))
        .route("/metrics", get(metrics::metrics::<S>))
        .route("/openapi.json", get(openapi::openapi::<S>))
        .route("/v1/evaluate", post(calls::evaluate::<S>))
        .route("/v1/execute", post(calls::execute::<S>))
        .route("/v1/runs/{id}", get(read::run::<S>))
        .route("/v1/runs/{id}/events", post(events::record::<S>))
        .route("/v1/audit/records", get(read::audit_records::<S>))
        .route("/v1/audit/checkpoint", get(read::audit_checkpoint::<S>))
        .route("/v1/hooks/claude-code", post(hook::claude_code::<S>))
        .route("/v1/approvals", get(approvals::list::<S>))
        .route("/v1/approvals/{id}", get(approvals::show::<S>))
        .route("/v1/approvals/{id}/approve", post(approvals::approve::<S>))
        .route("/v1/approvals/{id}/reject", post(approvals::reject::<S>))
        .route("/v1/standing-grants", post(standing::create::<S>).get(standing::list::<S>))
        .route("/v1/standing-grants/{id}/revoke", post(standing::revoke::<S>))
        .route("/v1/tokens/revoke", post(tokens::revoke::<S>))
        .route("/v1/effects/reconcile", post(reconcile::all::<S>))
        .route("/v1/effects/{id}/rollback", post(rollback::effect::<S>))
        .route("/v1/runs/{id}/rollback", post(rollback::run::<S>))
        .merge(ui::routes())
        // After routing, so the span is named by the route's pattern, never by its ids.
        .route_layer(axum::middleware::from_fn(trace_context::request_span))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), refusals::record_refusals::<S>))
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves; requests in flight then finish.
pub async fn serve<S: Store>(
    listener: tokio::net::TcpListener,
    state: Arc<AppState<S>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // `[runs]` expiry of runs nothing touches again; ends with the engine.
    tokio::spawn(runs::sweep(Arc::downgrade(&state.engine), runs::SWEEP_INTERVAL));
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = stopping.send(());
    };
    let served = axum::serve(listener, router(state)).with_graceful_shutdown(signal);
    // A client that never finishes its request (a body sent a byte a second) must not
    // keep a stopping server from exiting, and from publishing what it committed.
    let grace = async {
        match stopped.await {
            Ok(()) => tokio::time::sleep(STOP_GRACE).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = served.into_future() => result,
        () = grace => {
            tracing::warn!(
                grace_seconds = STOP_GRACE.as_secs(),
                "requests still open after the stop's grace period were dropped"
            );
            Ok(())
        }
    }
}

/// How long open requests may take to finish once the server is asked to stop. With the
/// publishing of checkpoints after it (`aecl serve`), a stop fits the ten seconds a
/// container runtime or systemd commonly allows before SIGKILL.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint (see /openapi.json)".to_owned())
}

/// A panic in a handler: a 500, never an answer that could read as an allow.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::Internal("internal error: the request was not completed".to_owned()).into_response()
}
