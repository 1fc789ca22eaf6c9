//! `POST /v1/effects/reconcile`: reconciliation over the API, for approvers and
//! administrators (an agent token is refused and the refusal recorded). Every effect left
//! `outcome_unknown` is put to the connector that executes calls, which says from the
//! target whether it landed (see `aecl_engine::reconcile`); nothing is executed again, and
//! every change of the ledger is audited. Running it twice changes nothing the second time.

use std::sync::Arc;

use aecl_engine::identity::Role;
use aecl_engine::{ReconcileReport, ReconcileStatus, Store};
use aecl_protocol::{ReconcileAnswer, ReconcileView};
use axum::Json;
use axum::extract::State;

use crate::error::ApiError;
use crate::{AppState, Caller};

/// What reconciling one effect came to, as the API shows it.
fn reconcile_view(report: ReconcileReport) -> ReconcileView {
    let status = match report.status {
        ReconcileStatus::Succeeded => aecl_protocol::ReconcileStatus::Succeeded,
        ReconcileStatus::Failed => aecl_protocol::ReconcileStatus::Failed,
        ReconcileStatus::Undecidable => aecl_protocol::ReconcileStatus::Undecidable,
    };
    ReconcileView {
        status,
        effect_id: report.effect_id,
        run: report.run,
        action: report.action,
        evidence: report.evidence,
        recorded: report.recorded,
    }
}

/// `POST /v1/effects/reconcile`.
pub async fn all<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
) -> Result<Json<ReconcileAnswer>, ApiError> {
    caller.require(&state, &[Role::Approver, Role::Admin], "reconciling effects").await?;
    tracing::info!(by = caller.subject(), "reconciliation of effects requested");
    let reports = state.engine.reconcile(state.connector.as_ref()).await.map_err(|error| {
        tracing::error!(%error, "reconciliation failed");
        ApiError::Unavailable(format!("the reconciliation could not be completed: {error}"))
    })?;
    Ok(Json(ReconcileAnswer { effects: reports.into_iter().map(reconcile_view).collect() }))
}
