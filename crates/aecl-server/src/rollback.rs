//! `POST /v1/effects/{id}/rollback` and `POST /v1/runs/{id}/rollback`: the rollback
//! engine over the API, for approvers and administrators (an agent token is refused and
//! the refusal recorded). Each undo is itself a call of the catalog's compensation action,
//! decided by policy and audited (see `aecl_engine::rollback`); the answer lists, per
//! effect, `restored`, `already_rolled_back`, `undo_conflict`, `irreversible`,
//! `nothing_to_undo`, `in_flight`, `outcome_unknown`, `not_recorded`, `pending_approval`,
//! `blocked` or `failed`. Each compensation's decision record names who asked for it.

use std::sync::Arc;

use aecl_engine::identity::Role;
use aecl_engine::{EngineError, Requester, RollbackReport, RollbackStatus as Status, Store};
use aecl_protocol::{RollbackAnswer, RollbackStatus as Wire, RollbackView};
use axum::Json;
use axum::extract::{Path, State};

use crate::error::ApiError;
use crate::{AppState, Caller};

/// What rolling back one effect came to, as the API shows it.
fn rollback_view(report: RollbackReport) -> RollbackView {
    let status = match report.status {
        Status::Restored => Wire::Restored,
        Status::AlreadyRolledBack => Wire::AlreadyRolledBack,
        Status::UndoConflict => Wire::UndoConflict,
        Status::Irreversible => Wire::Irreversible,
        Status::NothingToUndo => Wire::NothingToUndo,
        Status::InFlight => Wire::InFlight,
        Status::OutcomeUnknown => Wire::OutcomeUnknown,
        Status::NotRecorded => Wire::NotRecorded,
        Status::PendingApproval => Wire::PendingApproval,
        Status::Blocked => Wire::Blocked,
        Status::Failed => Wire::Failed,
    };
    RollbackView {
        status,
        effect_id: report.effect_id,
        action: report.action,
        compensation: report.compensation,
        compensation_effect: report.compensation_effect,
        approval_id: report.approval_id,
        detail: report.detail,
    }
}

/// `POST /v1/effects/{id}/rollback`.
pub async fn effect<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RollbackAnswer>, ApiError> {
    caller.require(&state, &[Role::Approver, Role::Admin], "rolling back").await?;
    tracing::info!(effect = %id, by = caller.subject(), "rollback of an effect requested");
    let requester = requester(&caller);
    let report =
        state.engine.rollback(&id, state.connector.as_ref(), &requester).await.map_err(failed)?;
    Ok(Json(RollbackAnswer { effects: vec![rollback_view(report)] }))
}

/// `POST /v1/runs/{id}/rollback`.
pub async fn run<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RollbackAnswer>, ApiError> {
    caller.require(&state, &[Role::Approver, Role::Admin], "rolling back").await?;
    tracing::info!(run = %id, by = caller.subject(), "rollback of a run requested");
    let requester = requester(&caller);
    let reports = state
        .engine
        .rollback_run(&id, state.connector.as_ref(), &requester)
        .await
        .map_err(failed)?;
    Ok(Json(RollbackAnswer { effects: reports.into_iter().map(rollback_view).collect() }))
}

/// Who asks: named in each compensation's decision record.
fn requester(caller: &Caller) -> Requester {
    Requester { subject: caller.subject().to_owned(), role: caller.role().as_str().to_owned() }
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
