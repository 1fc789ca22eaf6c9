//! The approval endpoints: the pending list and a request's full context for approvers,
//! a long-poll for the agent that waits on its request, and approve or reject.
//!
//! Only approver tokens answer requests, and never one whose subject is the agent that
//! asked (the engine refuses it too). An agent may read only its own requests; another
//! agent's is "not found", so request ids do not leak.

use std::sync::Arc;
use std::time::Duration;

use aecl_engine::identity::Role;
use aecl_engine::{Approval, ApprovalStatus, Approved as Answered, EngineError, Store};
use aecl_protocol::{ApprovalAnswer, ApprovalOutcome, Approved, Redecided};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::refuse;
use crate::error::ApiError;
use crate::{AppState, Caller};

/// The most requests one list returns.
pub const MAX_LISTED: usize = 500;

/// The longest long-poll.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// An approval request as the API shows it; its context only when `with_context`.
pub(crate) fn approval_view(
    approval: Approval,
    with_context: bool,
    policy: &aecl_core::policy::Policy,
) -> aecl_protocol::Approval {
    let approvals = aecl_engine::approvers_so_far(&approval);
    let pending = approval.status == ApprovalStatus::Pending;
    let status = match approval.status {
        ApprovalStatus::Pending => aecl_protocol::ApprovalStatus::Pending,
        ApprovalStatus::Approved => aecl_protocol::ApprovalStatus::Approved,
        ApprovalStatus::Rejected => aecl_protocol::ApprovalStatus::Rejected,
        ApprovalStatus::Expired => aecl_protocol::ApprovalStatus::Expired,
    };
    aecl_protocol::Approval {
        approvals_required: aecl_engine::approvals_required(&approval, policy),
        approvals,
        summary: approval.body.get("summary").cloned().unwrap_or(Value::Array(Vec::new())),
        status,
        call_digest: approval.call_digest.0,
        policy_revision: approval.policy_revision.0,
        requested_ms: approval.requested.0,
        expires_ms: approval.expires.0,
        context: with_context.then_some(approval.body),
        id: approval.id,
        run: approval.run,
        call_id: approval.call_id,
        agent: approval.agent,
        action: approval.action,
        decided_by: approval.decided_by.filter(|_| !pending),
        reason: approval.reason,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending` (the default) or `all`.
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/approvals`: approvers and admins.
pub async fn list<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<aecl_protocol::Approval>>, ApiError> {
    caller.require(&state, &[Role::Approver, Role::Admin], "listing approvals").await?;
    let pending_only = match query.status.as_deref() {
        None | Some("pending") => true,
        Some("all") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`status` must be `pending` or `all`, not `{other}`"
            )));
        }
    };
    let limit = query.limit.unwrap_or(100).min(MAX_LISTED);
    let approvals = state.engine.approvals(pending_only, limit).await.map_err(unavailable)?;
    let policy = state.engine.policy();
    Ok(Json(approvals.into_iter().map(|a| approval_view(a, false, &policy)).collect()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowQuery {
    /// Wait while the request is pending, up to this long: `30s`, `500ms` or seconds.
    wait: Option<String>,
}

/// `GET /v1/approvals/{id}[?wait=30s]`: the request with its context. The agent that asked
/// may read (and wait on) its own requests; approvers and admins read every one.
pub async fn show<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Json<aecl_protocol::Approval>, ApiError> {
    let wait = query.wait.as_deref().map(parse_wait).transpose()?.unwrap_or(Duration::ZERO);
    // Who may see the request is checked first; its agent never changes while it waits.
    let approval = visible(&state, &caller, &id).await?;
    if approval.status != ApprovalStatus::Pending || wait.is_zero() {
        return Ok(Json(approval_view(approval, true, &state.engine.policy())));
    }
    match state.engine.await_approval(&id, wait).await.map_err(unavailable)? {
        Some(approval) => Ok(Json(approval_view(approval, true, &state.engine.policy()))),
        None => Err(ApiError::NotFound(format!("no approval request `{id}`"))),
    }
}

/// The wire form of a re-decision.
pub(crate) fn redecided(redecision: &aecl_engine::Redecision) -> Redecided {
    Redecided {
        from: redecision.from.0.clone(),
        to: redecision.to.0.clone(),
        decision: redecision.decision.into(),
        reasons: redecision.reasons.clone(),
    }
}

/// `POST /v1/approvals/{id}/approve`: approvers only.
pub async fn approve<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<Json<ApprovalAnswer>>,
) -> Result<Json<Approved>, ApiError> {
    caller.require(&state, &[Role::Approver], "approving").await?;
    let answer = body.map(|Json(a)| a).unwrap_or_default();
    let answered =
        match state.engine.approve_request(&id, caller.subject(), answer.reason.as_deref()).await {
            Ok(answered) => answered,
            Err(error) => return Err(answer_error(&state, &caller, error).await),
        };
    let approval = visible(&state, &caller, &id).await?;
    let approval = approval_view(approval, false, &state.engine.policy());
    let (outcome, grant, redecided) = match &answered {
        Answered::Granted { grant, redecided, .. } => {
            (ApprovalOutcome::Granted, Some(grant), redecided.as_ref())
        }
        Answered::Counted { .. } => (ApprovalOutcome::Counted, None, None),
        Answered::NotNeeded { redecided, .. } => {
            (ApprovalOutcome::NotNeeded, None, Some(redecided))
        }
        Answered::Blocked { redecided } => (ApprovalOutcome::Blocked, None, Some(redecided)),
    };
    Ok(Json(Approved {
        approval,
        outcome,
        grant_id: grant.map(|g| g.id.clone()),
        grant_expires_ms: grant.map(|g| g.expires.0),
        redecided: redecided.map(self::redecided),
    }))
}

/// `POST /v1/approvals/{id}/reject` with a `reason`: approvers only.
pub async fn reject<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(answer): Json<ApprovalAnswer>,
) -> Result<Json<aecl_protocol::Approval>, ApiError> {
    caller.require(&state, &[Role::Approver], "rejecting").await?;
    let Some(reason) = answer.reason.filter(|r| !r.trim().is_empty()) else {
        return Err(ApiError::BadRequest("rejecting needs a `reason`".to_owned()));
    };
    match state.engine.reject(&id, caller.subject(), &reason).await {
        Ok(approval) => Ok(Json(approval_view(approval, false, &state.engine.policy()))),
        Err(error) => Err(answer_error(&state, &caller, error).await),
    }
}

/// Request `id` if `caller` may see it; otherwise "not found".
async fn visible<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    id: &str,
) -> Result<Approval, ApiError> {
    let approval = state.engine.approval(id).await.map_err(unavailable)?;
    match approval {
        Some(a) if caller.role() != Role::Agent || a.agent == caller.subject() => Ok(a),
        _ => Err(ApiError::NotFound(format!("no approval request `{id}`"))),
    }
}

/// The API error of a refused answer; a self-approval is also recorded as a refusal.
async fn answer_error<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    error: EngineError,
) -> ApiError {
    match error {
        EngineError::ApprovalNotFound(id) => {
            ApiError::NotFound(format!("no approval request `{id}`"))
        }
        EngineError::ApprovalClosed { .. }
        | EngineError::AlreadyApproved { .. }
        | EngineError::VoteContention { .. } => ApiError::Conflict(error.to_string()),
        EngineError::SelfApproval { .. } => {
            refuse(state, Some(&caller.0), ApiError::Forbidden(error.to_string())).await
        }
        // A request changed in the store: nobody may answer it (409, recorded).
        EngineError::ApprovalUnsigned(_) => {
            refuse(state, Some(&caller.0), ApiError::Conflict(error.to_string())).await
        }
        // Recorded, but no published checkpoint covers it yet (a witness down): not
        // acknowledged, as an effect is not dispatched then.
        EngineError::Unpublished(_) => ApiError::Unavailable(unpublished(&error)),
        other => unavailable(other),
    }
}

/// What an approver is told of an answer recorded but not yet published.
pub(crate) fn unpublished(error: &EngineError) -> String {
    tracing::error!(%error, "an answer was recorded but not published");
    format!(
        "the answer is recorded, but not acknowledged: {error}; it holds once a checkpoint \
         covering it is published (`aecl witness`)"
    )
}

fn unavailable(error: EngineError) -> ApiError {
    tracing::error!(%error, "approval request failed");
    ApiError::Unavailable(format!("the approval store failed: {error}"))
}

/// `30s`, `500ms` or a number of seconds, at most [`MAX_WAIT`].
fn parse_wait(text: &str) -> Result<Duration, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!("`wait` must look like `30s`, `500ms` or `30`, not `{text}`"))
    };
    let (number, unit_ms) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1000)
    } else {
        (text, 1000)
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    Ok(Duration::from_millis(n.saturating_mul(unit_ms)).min(MAX_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_read_in_seconds_or_milliseconds_and_capped() {
        assert_eq!(parse_wait("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_wait("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_wait("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_wait("3600s").unwrap(), MAX_WAIT);
        assert!(parse_wait("soon").is_err());
        assert!(parse_wait("-1s").is_err());
    }
}
