//! The read endpoints: `GET /healthz` (enforcement state), `GET /v1/runs/{id}` (a run's
//! events and verdicts) and the audit log (`/v1/audit/records`, `/v1/audit/checkpoint`,
//! admin only).

use std::sync::Arc;

use aecl_engine::identity::Role;
use aecl_engine::{Engine, Store};
use aecl_protocol::{
    AuditCheckpoint, AuditRecord, AuditRecords, AuditWriter, Health, HealthStatus, RecordsQuery,
    RunEvent, RunView,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::{AppState, Caller};

/// The most audit records one request returns.
pub const MAX_RECORDS: usize = 1000;

/// How long the store's write probe may take before its writer counts as stuck: a probe
/// queues behind the calls' commits, so a writer that takes this long to commit one row
/// is not keeping up with enforcement.
pub const PROBE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

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
        AuditWriter::Failed
    } else if stuck {
        AuditWriter::Stuck
    } else if store.last_commit_error.is_some() {
        AuditWriter::LastCommitFailed
    } else {
        AuditWriter::Running
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
    let mut warnings: Vec<String> = policy_reload_error
        .iter()
        .map(|error| {
            format!(
                "the last policy reload was refused, so revision {} stays in force: {error}",
                policy.revision
            )
        })
        .collect();
    // Degraded, not unhealthy: decisions are still recorded and signed, but until the
    // checkpoints reach their destination a rollback of the store goes unnoticed there.
    warnings.extend(state.config.publication.as_ref().and_then(|sink| sink.failure()));
    let status = match (healthy, warnings.is_empty()) {
        (false, _) => HealthStatus::Unhealthy,
        (true, false) => HealthStatus::Degraded,
        (true, true) => HealthStatus::Ok,
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
            audit_writer = ?audit_writer,
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
    let engine = &state.engine;
    let events = snapshot.events.into_iter().map(|event| run_event_view(engine, event)).collect();
    Ok(Json(RunView { run: id, agent: snapshot.agent, version: snapshot.version, events })
        .into_response())
}

/// A run's event as the API shows it: arguments, outputs and texts redacted as the audit
/// log redacts them (the store keeps them whole, to execute a call once it is approved).
fn run_event_view<S: Store>(engine: &Engine<S>, event: aecl_engine::RunEvent) -> RunEvent {
    use aecl_engine::RunEvent as Stored;
    let redacted = |mut value: Value| {
        engine.redact(&mut value);
        value
    };
    match event {
        Stored::Run { agent, goal, scope } => {
            RunEvent::Run { agent, goal: goal.map(|g| engine.redact_text(g)), scope }
        }
        Stored::User { text } => RunEvent::User { text: engine.redact_text(text) },
        Stored::Call { mut call, decision, mode, replay_of } => {
            call.args = redacted(std::mem::take(&mut call.args));
            // Keyed by every argument string as written: not shown.
            call.resolved_paths = None;
            RunEvent::Call { call, decision, mode, replay_of }
        }
        Stored::Result { id, output, untrusted } => {
            RunEvent::Result { id, output: redacted(output), untrusted }
        }
        Stored::Untrusted { source, content, read } => {
            RunEvent::Untrusted { source, content: redacted(content), read }
        }
        Stored::Outcome { id, executed } => RunEvent::Outcome { id, executed },
        Stored::Expired { reason } => RunEvent::Expired { reason },
    }
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
    let records = records
        .into_iter()
        .map(|(seq, bytes, hash)| {
            // Stored bytes are canonical JSON; anything else is shown as text so that the
            // reader sees it (verification names it).
            let record = serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            AuditRecord { seq, record, chain_hash: aecl_core::call::hex(&hash) }
        })
        .collect();
    Ok(Json(AuditRecords { records }).into_response())
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
    Ok(Json(AuditCheckpoint { checkpoint: latest }).into_response())
}
