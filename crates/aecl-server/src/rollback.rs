//! `POST /v1/effects/{id}/rollback` and `POST /v1/runs/{id}/rollback`: the rollback
//! engine over the API, for approvers and administrators (an agent token is refused and
//! the refusal recorded). Each undo is itself a call of the catalog's compensation action,
//! decided by policy and audited (see `aecl_engine::rollback`); the answer lists, per
//! effect, `restored`, `already_rolled_back`, `undo_conflict`, `irreversible`,
//! `nothing_to_undo`, `pending_approval`, `blocked` or `failed`.

use std::sync::Arc;

use aecl_engine::identity::Role;
use aecl_engine::{EngineError, RollbackReport, Store};
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use crate::error::ApiError;
use crate::{AppState, Caller};

/// What rolling back one effect came to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RollbackView {
    pub effect_id: String,
    pub action: String,
    /// `restored`, `already_rolled_back`, `undo_conflict`, `irreversible`,
    /// `nothing_to_undo`, `pending_approval` (approve the compensation's request, then roll
    /// back again), `blocked` or `failed`.
    pub status: &'static str,
    /// The catalog's compensation action of the effect's action.
    pub compensation: Option<String>,
    /// The ledger entry of the compensation itself.
    pub compensation_effect: Option<String>,
    pub approval_id: Option<String>,
    pub detail: String,
}

impl From<RollbackReport> for RollbackView {
    fn from(report: RollbackReport) -> RollbackView {
        RollbackView {
            status: report.status.as_str(),
            effect_id: report.effect_id,
            action: report.action,
            compensation: report.compensation,
            compensation_effect: report.compensation_effect,
            approval_id: report.approval_id,
            detail: report.detail,
        }
    }
}

/// The effects rolled back, in the order they were handled (a run's newest first; a run's
/// rollback stops at the first effect that could not be undone).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RollbackAnswer {
    pub effects: Vec<RollbackView>,
}

/// `POST /v1/effects/{id}/rollback`.
pub async fn effect<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RollbackAnswer>, ApiError> {
    caller.require(&state, &[Role::Approver, Role::Admin], "rolling back").await?;
    tracing::info!(effect = %id, by = caller.subject(), "rollback of an effect requested");
    let report = state.engine.rollback(&id, state.connector.as_ref()).await.map_err(failed)?;
    Ok(Json(RollbackAnswer { effects: vec![report.into()] }))
}

/// `POST /v1/runs/{id}/rollback`.
pub async fn run<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RollbackAnswer>, ApiError> {
    caller.require(&state, &[Role::Approver, Role::Admin], "rolling back").await?;
    tracing::info!(run = %id, by = caller.subject(), "rollback of a run requested");
    let reports = state.engine.rollback_run(&id, state.connector.as_ref()).await.map_err(failed)?;
    Ok(Json(RollbackAnswer { effects: reports.into_iter().map(Into::into).collect() }))
}

fn failed(error: EngineError) -> ApiError {
    match error {
        EngineError::EffectNotFound(id) => ApiError::NotFound(format!("no effect `{id}`")),
        other => {
            tracing::error!(error = %other, "rollback failed");
            ApiError::Unavailable(format!("the rollback could not be completed: {other}"))
        }
    }
}
