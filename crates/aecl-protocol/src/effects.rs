//! Effects over the API, for approvers and administrators: rolling back an effect or a
//! run (`/v1/effects/{id}/rollback`, `/v1/runs/{id}/rollback`) and reconciling effects
//! whose outcome is unknown (`/v1/effects/reconcile`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How undoing one effect ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    Restored,
    AlreadyRolledBack,
    UndoConflict,
    Irreversible,
    NothingToUndo,
    /// The effect is still being executed: roll back once it has ended.
    InFlight,
    /// Whether the effect happened is unknown: reconcile it first.
    OutcomeUnknown,
    /// The effect succeeded, and aecl holds nothing to undo it with (the agent's client
    /// executed it).
    NotRecorded,
    /// Approve the compensation's request, then roll back again.
    PendingApproval,
    Blocked,
    Failed,
}

/// What rolling back one effect came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RollbackView {
    pub effect_id: String,
    pub action: String,
    pub status: RollbackStatus,
    /// The catalog's compensation action of the effect's action.
    pub compensation: Option<String>,
    /// The ledger entry of the compensation itself.
    pub compensation_effect: Option<String>,
    pub approval_id: Option<String>,
    pub detail: String,
}

/// The effects rolled back, in the order they were handled (a run's newest first; a run's
/// rollback stops at the first effect that could not be undone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RollbackAnswer {
    pub effects: Vec<RollbackView>,
}

/// What reconciling found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileStatus {
    /// It landed: it can now be rolled back.
    Succeeded,
    /// It did not land.
    Failed,
    /// It stays `outcome_unknown`.
    Undecidable,
}

/// What reconciling one effect came to.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ReconcileView {
    pub effect_id: String,
    pub run: String,
    pub action: String,
    pub status: ReconcileStatus,
    /// What the connector found.
    pub evidence: Value,
    /// Whether this request changed the ledger and appended an audit record.
    pub recorded: bool,
}

/// The effects looked at, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ReconcileAnswer {
    pub effects: Vec<ReconcileView>,
}
