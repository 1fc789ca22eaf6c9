//! `POST /v1/tokens/revoke` (administrators): withdraws a token by its `jti`, or an agent's
//! key by its id, for every replica at once (the revocation is in the store, which
//! `auth.rs` reads at every request), recorded in the audit log with who revoked it.

use std::sync::Arc;

use aecl_engine::Store;
use aecl_engine::identity::Role;
use aecl_protocol::{RevokeRequest, Revoked};
use axum::Json;
use axum::extract::State;

use crate::AppState;
use crate::auth::{Caller, revocation_id_of_agent_key, revocation_id_of_token};
use crate::error::ApiError;

/// The longest id accepted (token ids are 32 hex digits, key ids 8).
const MAX_ID_LEN: usize = 256;

pub async fn revoke<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    body: Result<Json<RevokeRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Revoked>, ApiError> {
    caller.require(&state, &[Role::Admin], "revoking a credential").await?;
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (id, what) = match (&body.token, &body.agent_key) {
        (Some(jti), None) => (revocation_id_of_token(jti.trim()), "token"),
        (None, Some(kid)) => (revocation_id_of_agent_key(kid.trim()), "agent_key"),
        _ => {
            return Err(ApiError::BadRequest(
                "name one of `token` (a token's id) or `agent_key` (an agent key's id)".to_owned(),
            ));
        }
    };
    let name = id.split_once(':').map_or("", |(_, name)| name);
    if name.is_empty() || id.len() > MAX_ID_LEN || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!("`{what}` must be a non-empty id")));
    }
    let new = state.engine.revoke_credential(&id, caller.subject()).await.map_err(|e| {
        // Stored or not: a revocation is never lifted, so sending it again is safe.
        ApiError::Unavailable(format!(
            "the revocation may not have been stored, or its audit record not written ({e}): \
             send it again"
        ))
    })?;
    tracing::warn!(revoked = %id, by = caller.subject(), new, "credential revoked");
    Ok(Json(Revoked { revoked: id, new }))
}
