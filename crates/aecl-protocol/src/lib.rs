//! aecl's wire protocol: the types of the HTTP API's requests and answers, with serde and
//! JSON Schemas (`docs/schema/api/`, [`schema`]), and the hand conversions from the core's
//! types, which carry no serde for the wire themselves.
//!
//! The server (`aecl-server`) reads and writes these types and builds its OpenAPI
//! document from their schemas; `aecl replay` writes [`DecisionLine`]s; the engine keeps
//! a [`Verdict`] in an approval request's context. This crate depends on `aecl-core` and
//! `aecl-policy` (the trace's call event is the API's call body) only.

pub mod approval;
pub mod audit;
pub mod call;
pub mod effects;
pub mod error;
pub mod grant;
pub mod health;
pub mod hook;
pub mod run;
pub mod schema;
pub mod token;
pub mod verdict;

pub use approval::{
    Approval, ApprovalAnswer, ApprovalOutcome, ApprovalStatus, Approved, Redecided,
};
pub use audit::{AuditCheckpoint, AuditRecord, AuditRecords, RecordsQuery};
pub use call::{CallAnswer, CallRequest, DecisionLine, Effect, EffectState};
pub use effects::{
    ReconcileAnswer, ReconcileStatus, ReconcileView, RollbackAnswer, RollbackStatus, RollbackView,
};
pub use error::{ErrorAnswer, ErrorBody, ErrorCode};
pub use grant::{ArgCondition, NewGrant, StandingGrant};
pub use health::{AuditWriter, Health, HealthStatus, Jwk, Jwks};
pub use hook::{
    HookAnswer, HookInput, HookNotice, HookReply, HookSpecificOutput, PermissionDecision,
};
pub use run::{EventRecorded, EventRequest, RecordedKind, RunEvent, RunView};
pub use token::{RevokeRequest, Revoked};
pub use verdict::{
    Decision, Mode, Reason, RiskBreakdown, RiskContribution, SandboxTier, Stage, TierRequirement,
    ValueSpan, Verdict,
};
