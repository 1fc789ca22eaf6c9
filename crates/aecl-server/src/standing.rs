//! Standing grants over the API: an approver gives one ("`send_email` to `@example.com`
//! for 30 minutes, at most 5"), lists them with their use counts, and revokes one. Agents
//! never see or give them; an approver cannot give one to their own identity.

use std::collections::BTreeMap;
use std::sync::Arc;

use aecl_engine::identity::Role;
use aecl_engine::{
    ArgCondition, EngineError, NewStandingGrant, StandingGrant, StandingTerms, Store,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::refuse;
use crate::error::ApiError;
use crate::{AppState, Caller};

/// A standing grant as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StandingGrantView {
    pub id: String,
    pub agent: String,
    pub action: String,
    /// Argument path → `{"equals": v}`, `{"one_of": [..]}` or `{"ends_with": "..."}`.
    #[schema(value_type = Object)]
    pub args: BTreeMap<String, ArgCondition>,
    pub max_uses: u32,
    pub used: u32,
    pub expires_ms: u64,
    pub revoked_ms: Option<u64>,
    pub created_by: String,
    pub reason: String,
    pub policy_revision: String,
    /// False when the signature does not verify: the grant permits nothing.
    pub signature_valid: bool,
}

impl StandingGrantView {
    fn new(
        terms: StandingTerms,
        used: u32,
        revoked_ms: Option<u64>,
        signature_valid: bool,
    ) -> Self {
        StandingGrantView {
            id: terms.id,
            agent: terms.agent,
            action: terms.action,
            args: terms.args,
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
    fn stored(grant: StandingGrant, terms: Option<StandingTerms>) -> Self {
        let revoked = grant.revoked.map(|t| t.0);
        match terms {
            Some(terms) => StandingGrantView::new(terms, grant.used, revoked, true),
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
                StandingGrantView::new(unverified, grant.used, revoked, false)
            }
        }
    }
}

/// The body of `POST /v1/standing-grants`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    pub agent: String,
    pub action: String,
    #[schema(value_type = Object)]
    pub args: BTreeMap<String, ArgCondition>,
    pub max_uses: u32,
    pub ttl_seconds: u64,
    pub reason: String,
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
        args: new.args,
        max_uses: new.max_uses,
        ttl_seconds: new.ttl_seconds,
        reason: new.reason,
    };
    match state.engine.create_standing_grant(new, caller.subject()).await {
        Ok(terms) => {
            tracing::info!(grant = %terms.id, by = caller.subject(), "standing grant given");
            Ok((StatusCode::CREATED, Json(StandingGrantView::new(terms, 0, None, true))))
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
        Ok(grants) => {
            Ok(Json(grants.into_iter().map(|(g, t)| StandingGrantView::stored(g, t)).collect()))
        }
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
