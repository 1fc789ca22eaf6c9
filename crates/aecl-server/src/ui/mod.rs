//! The approvals web page, served by the same binary under `/ui`: sign in with an approver
//! token, the pending list, a request's full context (arguments, risk factors, the values
//! that came from untrusted content highlighted where they appear, the run's history), and
//! one-click approve or reject with a reason, or "approve and allow similar for N
//! minutes" (a standing grant pre-filled from the call). Every answered post is followed by
//! a redirect to the request's page (post/redirect/get): a reload never answers twice.
//!
//! Everything goes through the same engine calls as the API (`Engine::approve`,
//! `Engine::reject`), so the page enforces exactly what the API does: only approvers
//! answer, never for their own calls, and every refusal is recorded. Every answer carries a
//! CSP that allows only the page's own stylesheet, forbids framing (a one-click approve
//! must not be clickjacked) and is never cached.

mod pages;
mod session;
mod similar;

use std::sync::Arc;

use std::collections::HashMap;

use aecl_engine::identity::Role;
use aecl_engine::{Approved, EngineError, Store};
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
        .route("/ui/approvals/{id}/approve-similar", post(approve_similar::<S>))
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
        Ok(approvals) => {
            let (policy, now) = (state.engine.policy(), state.clock.now().0);
            page(StatusCode::OK, pages::list(&session, &approvals, all, &policy, now))
        }
        Err(error) => unavailable(&error),
    }
}

#[derive(Debug, Deserialize)]
struct DetailQuery {
    /// What the post before the redirect did (a fixed code: no text is reflected).
    done: Option<String>,
    /// Why it was refused (a fixed code).
    error: Option<String>,
}

async fn detail<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Response {
    let flash = match (query.done.as_deref(), query.error.as_deref()) {
        (_, Some(code)) => error_message(code).map(|text| ("error", text)),
        (Some(code), None) => done_message(code).map(|text| ("ok", text)),
        (None, None) => None,
    };
    match state.engine.approval(&id).await {
        Ok(Some(approval)) => {
            let (policy, now) = (state.engine.policy(), state.clock.now().0);
            page(StatusCode::OK, pages::detail(&session, &approval, flash, &policy, now))
        }
        Ok(None) => ApiError::NotFound(format!("no approval request `{id}`")).into_response(),
        Err(error) => unavailable(&error),
    }
}

/// The message of a `done` code.
fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "approved" => "Approved: the agent's retry of this call will run once.",
        "redecided" => {
            "The policy changed since this request; decided again under the policy in force, \
             the call still needs approval, and is approved: the agent's retry will run once."
        }
        "counted" => "Your approval is counted: the request needs another approver.",
        "not_needed" => {
            "The policy changed since this request and now allows the call without approval: \
             nothing needed granting."
        }
        "blocked" => {
            "The policy changed since this request and now blocks the call: the request is \
             closed, and the call will not run."
        }
        "similar" => {
            "Approved: the agent's retry will run once, and similar calls are allowed for the \
             time you set."
        }
        "rejected" => "Rejected: the agent is told why.",
        _ => return None,
    })
}

/// The message of an `error` code.
fn error_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "reason" => "Rejecting needs a reason: the agent is told why.",
        "closed" => "This request is no longer pending: it was answered or expired.",
        "self" => "This call was made with your identity: someone else must answer it.",
        "again" => "You approved this request already: it needs another approver.",
        "contention" => {
            "Other approvers were voting at the same moment: your vote was not \
             counted. Send it again."
        }
        "similar" => "Those terms for similar calls cannot be given: nothing was approved.",
        "similar_refused" => {
            "Approved, but the grant for similar calls was refused (a quorum action, or the \
             policy changed): only this call will run."
        }
        _ => return None,
    })
}

/// The redirect after a post on request `id`.
fn after(id: &str, query: &str) -> Response {
    let id: String = url_safe(id);
    Redirect::to(&format!("/ui/approvals/{id}?{query}")).into_response()
}

/// `id` as a path segment: request ids are UUIDs, anything else is percent-encoded.
fn url_safe(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
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
    match state.engine.approve_request(&id, &session.claims.sub, reason).await {
        Ok(answered) => {
            tracing::info!(approval = %id, by = %session.claims.sub, "approved on the page");
            after(&id, done_code(&answered))
        }
        Err(error) => answer_refused(&state, &session, &id, error).await,
    }
}

/// The `done` code of an approval.
fn done_code(answered: &Approved) -> &'static str {
    match answered {
        Approved::Granted { redecided: None, .. } => "done=approved",
        Approved::Granted { redecided: Some(_), .. } => "done=redecided",
        Approved::Counted { .. } => "done=counted",
        Approved::NotNeeded { .. } => "done=not_needed",
        Approved::Blocked { .. } => "done=blocked",
    }
}

/// "Approve and allow similar": the approval, then a standing grant built from the
/// request as stored (see `similar`). Terms that cannot be given approve nothing.
async fn approve_similar<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let csrf = form.get("csrf").map_or("", String::as_str);
    if let Err(refused) = may_answer(&state, &session, &headers, csrf).await {
        return refused;
    }
    let approval = match state.engine.approval(&id).await {
        Ok(Some(approval)) => approval,
        Ok(None) => {
            return ApiError::NotFound(format!("no approval request `{id}`")).into_response();
        }
        Err(error) => return unavailable(&error),
    };
    let new = match similar::grant(&approval, &form) {
        Ok(new) => new,
        Err(why) => {
            tracing::info!(approval = %id, why, "allow-similar terms refused");
            return after(&id, "error=similar");
        }
    };
    let reason = form.get("reason").map(|r| r.trim()).filter(|r| !r.is_empty());
    let answered = match state.engine.approve_request(&id, &session.claims.sub, reason).await {
        Ok(answered) => answered,
        Err(error) => return answer_refused(&state, &session, &id, error).await,
    };
    // Only a call that was granted as it stood gets company: a quorum not reached yet or
    // a changed policy gives no standing grant.
    if !matches!(answered, Approved::Granted { redecided: None, .. }) {
        return after(&id, done_code(&answered));
    }
    match state.engine.create_standing_grant(new, &session.claims.sub).await {
        Ok(terms) => {
            tracing::info!(approval = %id, grant = %terms.id, by = %session.claims.sub,
                "approved with a standing grant for similar calls");
            after(&id, "done=similar")
        }
        Err(error) => {
            tracing::warn!(approval = %id, %error, "the grant for similar calls was refused");
            after(&id, "error=similar_refused")
        }
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
        return after(&id, "error=reason");
    }
    match state.engine.reject(&id, &session.claims.sub, reason).await {
        Ok(_) => after(&id, "done=rejected"),
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

/// Where a refused answer leads: the request's page with why (a redirect, as after any
/// answer); a self-approval is also recorded as a refusal.
async fn answer_refused<S: Store>(
    state: &AppState<S>,
    session: &Session,
    id: &str,
    error: EngineError,
) -> Response {
    let code = match &error {
        EngineError::ApprovalNotFound(_) => {
            return ApiError::NotFound(format!("no approval request `{id}`")).into_response();
        }
        EngineError::ApprovalClosed { .. } => "error=closed",
        EngineError::AlreadyApproved { .. } => "error=again",
        EngineError::VoteContention { .. } => "error=contention",
        EngineError::SelfApproval { .. } => {
            refuse(state, Some(&session.claims), ApiError::Forbidden(error.to_string())).await;
            "error=self"
        }
        EngineError::Unpublished(_) => {
            let why = crate::approvals::unpublished(&error);
            return ApiError::Unavailable(why).into_response();
        }
        _ => return unavailable(&error),
    };
    after(id, code)
}

fn unavailable(error: &EngineError) -> Response {
    tracing::error!(%error, "the approvals page could not reach the store");
    ApiError::Unavailable(format!("the approval store failed: {error}")).into_response()
}
