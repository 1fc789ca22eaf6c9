//! The read endpoints: `GET /healthz` (enforcement state), `GET /v1/runs/{id}` (a run's
//! events and verdicts) and the audit log (`/v1/audit/records`, `/v1/audit/checkpoint`,
//! admin only).

use std::sync::Arc;

use aecl_engine::Store;
use aecl_engine::identity::Role;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::{AppState, Caller};

/// The most audit records one request returns.
pub const MAX_RECORDS: usize = 1000;

/// How long the store's write probe may take before its writer counts as stuck: a probe
/// queues behind the calls' commits, so a writer that takes this long to commit one row
/// is not keeping up with enforcement.
pub const PROBE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

/// The enforcement state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`; `degraded` (status 200): enforcement works but needs an operator (the last
    /// policy reload was refused, so an older policy is in force), see `warnings`; or
    /// `unhealthy` (status 503): enforcement is impaired (the store cannot commit, its
    /// writer is stuck or failed, no agent manifest is loaded, no signing key), see
    /// `error`.
    pub status: &'static str,
    /// The policy in force.
    pub policy_revision: String,
    /// Why the last policy reload was refused (the policy above stayed in force), until a
    /// reload succeeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_reload_error: Option<String>,
    /// A real write was just committed through the store (probed at most once a second).
    pub store_reachable: bool,
    /// `ok`, or why the write probe failed.
    pub write_probe: String,
    /// The store's writer of run events and audit records: `running`, `last_commit_failed`
    /// (the last commit failed: a full disk, an I/O error), `stuck` (the write probe did
    /// not commit within [`PROBE_DEADLINE`]) or `failed` (its database file was deleted,
    /// replaced or made unwritable, or the writer ended: every call is blocked until aecl
    /// is restarted).
    pub audit_writer: &'static str,
    pub signing_key_loaded: bool,
    /// Agent manifests in the policy in force (0: every call is blocked, unhealthy).
    pub agents: usize,
    /// Why the server is unhealthy, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the server is degraded, when it is (sentences; empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Unauthenticated on purpose: load balancers and orchestrators probe it without
/// credentials. It reveals only the policy revision (a hash), a policy reload error and
/// whether the store and key are working, nothing about agents, runs or calls.
pub async fn health<S: Store>(State(state): State<Arc<AppState<S>>>) -> Response {
    // A real write through the same store the decision path uses (rate-limited there),
    // bounded: a writer that cannot commit one row in time is stuck.
    let probed = tokio::time::timeout(PROBE_DEADLINE, state.engine.store().health()).await;
    let stuck = probed.is_err();
    let store = match probed {
        Ok(store) => store,
        Err(_) => aecl_engine::StoreHealth {
            failed: None,
            last_commit_error: None,
            write_probe: Err(format!(
                "the store's writer did not commit the write probe within {} s (stuck or \
                 overloaded)",
                PROBE_DEADLINE.as_secs()
            )),
        },
    };
    let signing_key_loaded = !state.config.audit_key.is_empty();
    let policy = state.engine.policy();
    let agents = policy.agents.len();
    let healthy = store.is_healthy() && signing_key_loaded && agents > 0;
    let audit_writer = if store.failed.is_some() {
        "failed"
    } else if stuck {
        "stuck"
    } else if store.last_commit_error.is_some() {
        "last_commit_failed"
    } else {
        "running"
    };
    let error = store
        .failed
        .clone()
        .or_else(|| store.last_commit_error.clone().map(|e| format!("the last commit failed: {e}")))
        .or_else(|| store.write_probe.clone().err())
        .or_else(|| (!signing_key_loaded).then(|| "no audit signing key is loaded".to_owned()))
        .or_else(|| {
            (agents == 0).then(|| {
                "no policy: the policy in force has no agent manifest, so every call is blocked"
                    .to_owned()
            })
        });
    let policy_reload_error = state.engine.policy_error();
    let warnings: Vec<String> = policy_reload_error
        .iter()
        .map(|error| {
            format!(
                "the last policy reload was refused, so revision {} stays in force: {error}",
                policy.revision
            )
        })
        .collect();
    let status = match (healthy, warnings.is_empty()) {
        (false, _) => "unhealthy",
        (true, false) => "degraded",
        (true, true) => "ok",
    };
    let health = Health {
        status,
        policy_revision: policy.revision.0.clone(),
        policy_reload_error,
        store_reachable: store.write_probe.is_ok(),
        write_probe: match &store.write_probe {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.clone(),
        },
        audit_writer,
        signing_key_loaded,
        agents,
        error,
        warnings,
    };
    if !healthy {
        tracing::warn!(
            audit_writer,
            signing_key_loaded,
            error = health.error.as_deref().unwrap_or(""),
            "unhealthy: calls are blocked"
        );
    }
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(health)).into_response()
}

/// `GET /v1/runs/{id}`: the run's agent, version and events (calls carry their verdicts).
/// An agent sees only its own runs; another agent's run is "not found", so that run ids
/// do not leak. Approvers and admins see every run.
pub async fn run<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let snapshot = state
        .engine
        .store()
        .load_run(&id)
        .await
        .map_err(|e| ApiError::Unavailable(format!("cannot read run `{id}`: {e}")))?;
    let visible = match caller.role() {
        Role::Agent => snapshot.agent.as_deref() == Some(caller.subject()),
        Role::Approver | Role::Admin => snapshot.version > 0,
    };
    if !visible {
        return Err(ApiError::NotFound(format!("no run `{id}`")));
    }
    Ok(Json(json!({
        "run": id,
        "agent": snapshot.agent,
        "version": snapshot.version,
        "events": snapshot.events,
    }))
    .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RecordsQuery {
    /// The first sequence number to return (default 0).
    #[serde(default)]
    pub since: u64,
    /// How many records at most (default and maximum 1000).
    pub limit: Option<usize>,
}

/// `GET /v1/audit/records?since=SEQ&limit=N`: stored records with their chain hashes.
pub async fn audit_records<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    query: Result<Query<RecordsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(&state, &[Role::Admin], "/v1/audit/records").await?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = query.limit.unwrap_or(MAX_RECORDS).min(MAX_RECORDS);
    let records = state
        .engine
        .store()
        .audit_records(query.since, limit)
        .await
        .map_err(|e| ApiError::Unavailable(format!("cannot read the audit log: {e}")))?;
    let records: Vec<Value> = records
        .into_iter()
        .map(|(seq, bytes, hash)| {
            // Stored bytes are canonical JSON; anything else is shown as text so that the
            // reader sees it (verification names it).
            let record = serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            json!({ "seq": seq, "record": record, "chain_hash": aecl_core::call::hex(&hash) })
        })
        .collect();
    Ok(Json(json!({ "records": records })).into_response())
}

/// `GET /v1/audit/checkpoint`: the latest signed checkpoint (a signed note), to keep
/// outside the store and check with `aecl audit verify --checkpoint`.
pub async fn audit_checkpoint<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(&state, &[Role::Admin], "/v1/audit/checkpoint").await?;
    let newest = state
        .engine
        .store()
        .newest_checkpoint()
        .await
        .map_err(|e| ApiError::Unavailable(format!("cannot read the audit log: {e}")))?;
    let Some(latest) = newest else {
        return Err(ApiError::NotFound("no checkpoint yet: the audit log is empty".to_owned()));
    };
    Ok(Json(json!({ "checkpoint": latest })).into_response())
}
