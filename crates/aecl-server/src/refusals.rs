//! Every refused request is visible: counted in `/metrics` by status and code, logged, and
//! (rate-limited) audited.
//!
//! Refusals are recorded in one of two ways. Handlers that know the caller's claims call
//! [`crate::auth::refuse`], which records at once. Everything else that answers 400, 401,
//! 403, 409, 413 or 429 (a body too large or malformed, a bad header, a conflict) is
//! recorded by the [`record_refusals`] layer around the router, which reads the error that
//! [`ApiError`] leaves in the response and the caller from the bearer token (through the
//! token cache). A task-local flag set by `refuse` keeps a refusal from being recorded
//! twice.
//!
//! Audit records are rate-limited per caller (token bucket on the subject; one shared
//! bucket for requests without a valid token), so a flood of bad requests cannot fill the
//! disk; the number suppressed since a caller's last refusal record is written in its next
//! one (`suppressed`), and counted in `/metrics` at once.

use std::cell::Cell;
use std::sync::Arc;

use aecl_engine::Store;
use aecl_engine::identity::Claims;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::error::ApiError;

/// The buckets and the per-caller rate live in the engine: the MCP gateway rate-limits its
/// refusal records the same way.
pub use aecl_engine::refused::{AGENT_REFUSAL_AUDIT_RATE, RefusalAudit};

tokio::task_local! {
    /// Set while a request is handled; true once its refusal has been recorded.
    static RECORDED: Cell<bool>;
}

/// The statuses that are refusals (a 404 is an answer, a 5xx a failure, both logged
/// elsewhere).
pub fn is_refusal(status: StatusCode) -> bool {
    matches!(status.as_u16(), 400 | 401 | 403 | 409 | 413 | 429)
}

/// Whether this request's refusal has already been recorded.
pub fn recorded() -> bool {
    RECORDED.try_with(Cell::get).unwrap_or(false)
}

/// Logs, counts and (rate-limited) audits a refused request, once per request. `claims`
/// are those of a valid token; `None` when no valid token was shown.
pub async fn record<S: Store>(state: &AppState<S>, claims: Option<&Claims>, error: &ApiError) {
    if RECORDED.try_with(|flag| flag.replace(true)).unwrap_or(false) {
        return;
    }
    let (subject, role, token_id) = match claims {
        Some(c) => (c.sub.as_str(), c.role.as_str(), c.jti.as_str()),
        None => ("", "", ""),
    };
    let status = error.status().as_u16();
    tracing::warn!(status, code = error.code(), subject, role, token_id, reason = %error, "request refused");
    state.metrics.refused(status, error.code());
    let Some(suppressed) = state.refusal_audit.admit(subject, state.clock.now()) else {
        // Logged and counted above; the audit log is not a sink for anyone's traffic.
        state.metrics.refusal_audit_suppressed();
        return;
    };
    let message = format!("{}: {error}", error.code());
    if let Err(e) =
        state.engine.record_refusal(subject, role, token_id, &message, status, suppressed).await
    {
        // The refusal stands whether or not it could be recorded.
        tracing::error!(error = %e, "could not record a refused request in the audit log");
    }
}

/// The layer that records refusals the handlers did not (see the module documentation).
pub async fn record_refusals<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let authorization = request.headers().get(AUTHORIZATION).cloned();
    RECORDED
        .scope(Cell::new(false), async move {
            let response = next.run(request).await;
            if !is_refusal(response.status()) || recorded() {
                return response;
            }
            let error = response.extensions().get::<ApiError>().cloned().unwrap_or_else(|| {
                // An extractor's own rejection: named by its status.
                let reason = response.status().canonical_reason().unwrap_or("refused");
                match response.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: 0 },
                    StatusCode::UNAUTHORIZED => ApiError::Unauthenticated(reason.to_owned()),
                    StatusCode::FORBIDDEN => ApiError::Forbidden(reason.to_owned()),
                    StatusCode::CONFLICT => ApiError::Conflict(reason.to_owned()),
                    StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited { retry_after_secs: 0 },
                    _ => ApiError::BadRequest(reason.to_owned()),
                }
            });
            // The caller, when the request carried a valid token (cached: no second
            // signature check for a token that verified).
            let claims = authorization
                .as_ref()
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .and_then(|(_, token)| {
                    state.tokens.verify(&state.token_key, token.trim(), state.clock.now()).ok()
                });
            record(&state, claims.as_ref(), &error).await;
            response
        })
        .await
}
