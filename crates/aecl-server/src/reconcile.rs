//! `POST /v1/effects/reconcile`: reconciliation over the API, for approvers and
//! administrators (an agent token is refused and the refusal recorded). Every effect left
//! `outcome_unknown` is put to the connector that executes calls, which says from the
//! target whether it landed (see `aecl_engine::reconcile`); nothing is executed again, and
//! every change of the ledger is audited. Running it twice changes nothing the second time.

use std::sync::Arc;

use aecl_engine::identity::Role;
use aecl_engine::{ReconcileReport, Store};
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::{AppState, Caller};

/// What reconciling one effect came to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconcileView {
    pub effect_id: String,
    pub run: String,
    pub action: String,
    /// `succeeded` (it landed: it can now be rolled back), `failed` (it did not land) or
    /// `undecidable` (it stays `outcome_unknown`).
    pub status: &'static str,
    /// What the connector found.
    #[schema(value_type = Object)]
    pub evidence: Value,
    /// Whether this request changed the ledger and appended an audit record.
    pub recorded: bool,
}

impl From<ReconcileReport> for ReconcileView {
    fn from(report: ReconcileReport) -> ReconcileView {
        ReconcileView {
            status: report.status.as_str(),
            effect_id: report.effect_id,
            run: report.run,
            action: report.action,
            evidence: report.evidence,
            recorded: report.recorded,
        }
    }
}

/// The effects looked at, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReconcileAnswer {
    pub effects: Vec<ReconcileView>,
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
    Ok(Json(ReconcileAnswer { effects: reports.into_iter().map(Into::into).collect() }))
}
