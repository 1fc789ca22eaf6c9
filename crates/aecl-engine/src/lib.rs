//! aecl's engine: the decide-record-execute flow over ports.
//!
//! The engine owns the order of the pipeline's stateful steps (design.md §3 steps 1, 6, 7,
//! 9, 11, 12) and the traits its adapters implement: [`Store`] (SQLite and PostgreSQL in
//! `aecl-store`), [`Connector`] (`aecl-connectors`) and [`Clock`]. The decision itself is
//! `aecl_core::decide`, pure; everything here is about recording it and acting on it so
//! that a crash, a retry or a second instance never executes a call twice or loses a
//! record that was acknowledged.

mod approval;
pub mod clock;
pub mod connector;
pub mod credentials;
mod engine;
mod error;
mod expiry;
mod first_sight;
pub mod fs_paths;
mod held;
pub mod hook_link;
pub mod identity;
pub mod notify;
pub mod observe;
pub mod origin;
mod pipeline;
pub mod reconcile;
pub mod refused;
mod revocations;
pub mod rollback;
mod run_cache;
pub mod run_event;
mod stage;
pub mod standing;
pub mod store;
pub mod story;
mod undo_seal;

pub use approval::{
    Approved, DUPLICATE_WINDOW_MS, Redecision, approvals_required, approvers_so_far, person,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use connector::{
    BoxFuture, Compensated, Connector, ConnectorOutcome, Invocation, Reconciled, Sandboxed,
};
pub use engine::reported::{ReportRefused, Reported, Reporter, client_hand_over};
pub use engine::{Decided, Engine, EngineConfig, Executed, new_id};
pub use error::{EngineError, StoreError};
pub use identity::{Claims, Role, TokenError};
pub use notify::Notifier;
pub use observe::{ApprovalAnswered, DecisionSeen, Observer};
pub use origin::{Origin, Requester};
pub use reconcile::{ReconcileReport, ReconcileStatus};
pub use refused::RefusalAudit;
pub use rollback::{RollbackReport, RollbackStatus};
pub use run_event::RunEvent;
pub use standing::{ArgCondition, NewStandingGrant, StandingTerms};
pub use store::{
    Admission, Answer, Approval, ApprovalStatus, Begun, CallEnd, CallIdCheck, Committed,
    Durability, Effect, EffectEnd, EffectState, Grant, GrantRefusal, GrantUse, NewEffect,
    Reconciliation, RunCommit, RunSnapshot, StandingGrant, Store, StoreHealth, Superseded, Voiding,
};
