//! The approvals web page, served by the same binary under `/ui`: sign in with an approver
//! token, the pending list, a request's full context (arguments, risk factors, the values
//! that came from untrusted content highlighted where they appear, the run's history), and
//! one-click approve or reject with a reason.
//!
//! Everything goes through the same engine calls as the API (`Engine::approve`,
//! `Engine::reject`), so the page enforces exactly what the API does: only approvers
//! answer, never for their own calls, and every refusal is recorded. Every answer carries a
//! CSP that allows only the page's own stylesheet, forbids framing (a one-click approve
//! must not be clickjacked) and is never cached.

mod pages;
mod session;

use std::sync::Arc;

use aecl_engine::identity::Role;
use aecl_engine::{EngineError, Store};
use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::Markup;
use serde::Deserialize;

use crate::AppState;
use crate::auth::refuse;
use crate::error::ApiError;
pub use session::Session;

/// The page's stylesheet, compiled in: nothing is fetched from elsewhere.
const STYLE: &str = include_str!("style.css");

/// Requests the list shows at most.
const LISTED: usize = 200;

const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The page's routes, to be merged into the API's router.
pub fn routes<S: Store>() -> Router<Arc<AppState<S>>> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/approvals") }))
        .route("/ui/style.css", get(style))
        .route("/ui/login", get(login_page).post(login::<S>))
        .route("/ui/logout", post(logout))
        .route("/ui/approvals", get(list::<S>))
        .route("/ui/approvals/{id}", get(detail::<S>))
        .route("/ui/approvals/{id}/approve", post(approve::<S>))
        .route("/ui/approvals/{id}/reject", post(reject::<S>))
        .layer(axum::middleware::map_response(protect))
}

/// The headers every page answer carries.
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: under it a browser sends `Origin: null` with form posts, and the
    // origin check would refuse the page's own forms. `same-origin` still keeps request ids
    // out of other sites' logs.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An HTML answer with `status`.
fn page(status: StatusCode, markup: Markup) -> Response {
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

async fn style() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    expired: Option<String>,
}

async fn login_page(Query(query): Query<LoginQuery>) -> Response {
    let note = query.expired.is_some().then_some("Your session ended: sign in again.");
    page(StatusCode::OK, pages::login(note))
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(message) = session::check_origin(&headers) {
        let error = refuse(&state, None, ApiError::Forbidden(message)).await;
        return page(error.status(), pages::login(Some(&error.to_string())));
    }
    let token = form.token.trim();
    let claims = match session::verify(&state, token).await {
        Ok(claims) => claims,
        Err(error) => return page(error.status(), pages::login(Some(&error.to_string()))),
    };
    let max_age = claims.exp_ms.saturating_sub(state.clock.now().0) / 1000;
    tracing::info!(subject = %claims.sub, token_id = %claims.jti, "signed in to the approvals page");
    let mut response = Redirect::to("/ui/approvals").into_response();
    response.headers_mut().insert(SET_COOKIE, session::start_cookie(token, max_age));
    response
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    // The token is not verified: an expired session must be able to end too.
    let expected = session::cookie_token(&headers).map(session::csrf_value).unwrap_or_default();
    if let Err(message) = session::check_post(&headers, &expected, &form.csrf) {
        return page(StatusCode::FORBIDDEN, pages::login(Some(&message)));
    }
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(SET_COOKIE, session::end_cookie());
    response
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn list<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Response {
    let all = query.status.as_deref() == Some("all");
    match state.engine.approvals(!all, LISTED).await {
        Ok(approvals) => page(StatusCode::OK, pages::list(&session, &approvals, all)),
        Err(error) => unavailable(&error),
    }
}

async fn detail<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    show(&state, &session, &id, StatusCode::OK, None).await
}

/// The detail page of request `id`, with a message above it.
async fn show<S: Store>(
    state: &AppState<S>,
    session: &Session,
    id: &str,
    status: StatusCode,
    flash: pages::Flash<'_>,
) -> Response {
    match state.engine.approval(id).await {
        Ok(Some(approval)) => page(status, pages::detail(session, &approval, flash)),
        Ok(None) => ApiError::NotFound(format!("no approval request `{id}`")).into_response(),
        Err(error) => unavailable(&error),
    }
}

#[derive(Debug, Deserialize)]
struct AnswerForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn approve<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<AnswerForm>,
) -> Response {
    if let Err(refused) = may_answer(&state, &session, &headers, &form.csrf).await {
        return refused;
    }
    let reason = Some(form.reason.trim()).filter(|r| !r.is_empty());
    match state.engine.approve(&id, &session.claims.sub, reason).await {
        Ok(_) => {
            tracing::info!(approval = %id, by = %session.claims.sub, "approved on the page");
            show(
                &state,
                &session,
                &id,
                StatusCode::OK,
                Some(("ok", "Approved: the agent's call may run once.")),
            )
            .await
        }
        Err(error) => answer_refused(&state, &session, &id, error).await,
    }
}

async fn reject<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<AnswerForm>,
) -> Response {
    if let Err(refused) = may_answer(&state, &session, &headers, &form.csrf).await {
        return refused;
    }
    let reason = form.reason.trim();
    if reason.is_empty() {
        let flash = Some(("error", "Rejecting needs a reason: the agent is told why."));
        return show(&state, &session, &id, StatusCode::BAD_REQUEST, flash).await;
    }
    match state.engine.reject(&id, &session.claims.sub, reason).await {
        Ok(_) => show(&state, &session, &id, StatusCode::OK, Some(("ok", "Rejected."))).await,
        Err(error) => answer_refused(&state, &session, &id, error).await,
    }
}

/// Refuses (recorded) a post without this session's CSRF value or from another origin,
/// and an answer from an administrator, who may read but not decide.
async fn may_answer<S: Store>(
    state: &AppState<S>,
    session: &Session,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<(), Response> {
    let refusal = if let Err(message) = session::check_post(headers, &session.csrf, csrf) {
        ApiError::Forbidden(message)
    } else if session.claims.role != Role::Approver {
        ApiError::Forbidden(format!(
            "answering needs an approver token, not `{}`",
            session.claims.role.as_str()
        ))
    } else {
        return Ok(());
    };
    let error = refuse(state, Some(&session.claims), refusal).await;
    Err(page(error.status(), pages::refused(session, &error.to_string())))
}

/// The detail page with why the answer was refused.
async fn answer_refused<S: Store>(
    state: &AppState<S>,
    session: &Session,
    id: &str,
    error: EngineError,
) -> Response {
    let (status, message) = match &error {
        EngineError::ApprovalNotFound(_) => {
            return ApiError::NotFound(format!("no approval request `{id}`")).into_response();
        }
        EngineError::ApprovalClosed { .. } => (StatusCode::CONFLICT, error.to_string()),
        EngineError::SelfApproval { .. } => {
            let refused =
                refuse(state, Some(&session.claims), ApiError::Forbidden(error.to_string())).await;
            (refused.status(), refused.to_string())
        }
        _ => return unavailable(&error),
    };
    show(state, session, id, status, Some(("error", &message))).await
}

fn unavailable(error: &EngineError) -> Response {
    tracing::error!(%error, "the approvals page could not reach the store");
    ApiError::Unavailable(format!("the approval store failed: {error}")).into_response()
}
