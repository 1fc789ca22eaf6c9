//! Standing grants over the API: an approver gives one ("`send_email` to `@example.com`
//! for 30 minutes, at most 5"), lists them with their use counts, and revokes one. Agents
//! never see or give them; an approver cannot give one to their own identity.

use std::collections::BTreeMap;
use std::sync::Arc;

use aecl_engine::identity::Role;
use aecl_engine::{
    ArgCondition, EngineError, NewStandingGrant, StandingGrant, StandingTerms, Store,
};
use aecl_protocol::{ArgCondition as WireCondition, NewGrant, StandingGrant as StandingGrantView};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::auth::refuse;
use crate::error::ApiError;
use crate::{AppState, Caller};

/// A standing grant as the API shows it.
fn grant_view(
    terms: StandingTerms,
    used: u32,
    revoked_ms: Option<u64>,
    signature_valid: bool,
) -> StandingGrantView {
    StandingGrantView {
        id: terms.id,
        agent: terms.agent,
        action: terms.action,
        args: terms.args.into_iter().map(|(path, c)| (path, wire_condition(c))).collect(),
        max_uses: terms.max_uses,
        used,
        expires_ms: terms.expires_ms,
        revoked_ms,
        created_by: terms.created_by,
        reason: terms.reason,
        policy_revision: terms.policy_revision,
        signature_valid,
    }
}

/// A stored grant; one whose signature does not verify shows its index only.
fn stored_view(grant: StandingGrant, terms: Option<StandingTerms>) -> StandingGrantView {
    let revoked = grant.revoked.map(|t| t.0);
    match terms {
        Some(terms) => grant_view(terms, grant.used, revoked, true),
        None => {
            let unverified = StandingTerms {
                id: grant.id,
                agent: grant.agent,
                action: grant.action,
                args: BTreeMap::new(),
                max_uses: grant.max_uses,
                policy_revision: String::new(),
                created_ms: grant.created.0,
                expires_ms: grant.expires.0,
                created_by: String::new(),
                reason: String::new(),
            };
            grant_view(unverified, grant.used, revoked, false)
        }
    }
}

fn wire_condition(condition: ArgCondition) -> WireCondition {
    match condition {
        ArgCondition::Equals(value) => WireCondition::Equals(value),
        ArgCondition::OneOf(values) => WireCondition::OneOf(values),
        ArgCondition::EndsWith(suffix) => WireCondition::EndsWith(suffix),
        ArgCondition::EmailDomain(domain) => WireCondition::EmailDomain(domain),
        ArgCondition::AtMost(limit) => WireCondition::AtMost(limit),
    }
}

fn engine_condition(condition: WireCondition) -> ArgCondition {
    match condition {
        WireCondition::Equals(value) => ArgCondition::Equals(value),
        WireCondition::OneOf(values) => ArgCondition::OneOf(values),
        WireCondition::EndsWith(suffix) => ArgCondition::EndsWith(suffix),
        WireCondition::EmailDomain(domain) => ArgCondition::EmailDomain(domain),
        WireCondition::AtMost(limit) => ArgCondition::AtMost(limit),
    }
}

/// `POST /v1/standing-grants`: approvers only.
pub async fn create<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    body: Result<Json<NewGrant>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<StandingGrantView>), ApiError> {
    caller.require(&state, &[Role::Approver], "giving a standing grant").await?;
    let Json(new) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let new = NewStandingGrant {
        agent: new.agent,
        action: new.action,
        args: new.args.into_iter().map(|(path, c)| (path, engine_condition(c))).collect(),
        max_uses: new.max_uses,
        ttl_seconds: new.ttl_seconds,
        reason: new.reason,
    };
    match state.engine.create_standing_grant(new, caller.subject()).await {
        Ok(terms) => {
            tracing::info!(grant = %terms.id, by = caller.subject(), "standing grant given");
            Ok((StatusCode::CREATED, Json(grant_view(terms, 0, None, true))))
        }
        Err(EngineError::InvalidGrant(message)) => Err(ApiError::BadRequest(message)),
        Err(error @ EngineError::SelfApproval { .. }) => {
            Err(refuse(&state, Some(&caller.0), ApiError::Forbidden(error.to_string())).await)
        }
        Err(error) => Err(ApiError::Unavailable(format!("the grant store failed: {error}"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<usize>,
}

/// `GET /v1/standing-grants`: approvers and admins.
pub async fn list<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<StandingGrantView>>, ApiError> {
    caller.require(&state, &[Role::Approver, Role::Admin], "listing standing grants").await?;
    let limit = query.limit.unwrap_or(100).min(crate::approvals::MAX_LISTED);
    match state.engine.standing_grants(limit).await {
        Ok(grants) => Ok(Json(grants.into_iter().map(|(g, t)| stored_view(g, t)).collect())),
        Err(EngineError::InvalidGrant(message)) => Err(ApiError::BadRequest(message)),
        Err(error) => Err(ApiError::Unavailable(format!("the grant store failed: {error}"))),
    }
}

/// `POST /v1/standing-grants/{id}/revoke`: approvers only.
pub async fn revoke<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(&state, &[Role::Approver], "revoking a standing grant").await?;
    match state.engine.revoke_standing_grant(&id, caller.subject()).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::NotFound(format!("no standing grant `{id}` in force"))),
        Err(EngineError::InvalidGrant(message)) => Err(ApiError::BadRequest(message)),
        Err(error) => Err(ApiError::Unavailable(format!("the grant store failed: {error}"))),
    }
}
