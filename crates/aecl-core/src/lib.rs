//! The pure decision kernel of aecl.
//!
//! `decide(&Policy, &Call, &RunState, now) -> Verdict` answers, for one proposed tool call,
//! whether it should happen. This crate does no I/O, reads no clock and no environment and
//! has no async: time and ids are passed in, so every verdict can be reproduced from its
//! inputs.

// The decision path must not panic on any input: cedar's panic-free set. (Set here rather
// than in Cargo.toml because a crate cannot extend `[workspace.lints]`.)
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

pub mod call;
pub mod canonical;
pub mod class;
pub mod condition;
pub mod constraint;
mod decide;
pub mod decision;
pub mod distinct;
pub mod email;
pub mod hash;
pub mod limits;
pub mod operation;
pub mod output;
pub mod patch;
pub mod path;
pub mod path_glob;
pub mod path_pattern;
pub mod policy;
pub mod provenance;
pub mod resolved;
pub mod risk;
pub mod run;
pub mod run_bounds;
pub mod saved;
pub mod shell;
pub mod sql;
pub mod text;
pub mod tier;
pub mod values;
pub mod verdict;
pub mod violation;
pub mod visible;

pub use call::{Call, CallDigest, DeclaredSource, Scope, Timestamp};
pub use decide::decide;
pub use decision::{Decision, Mode};
pub use limits::{Limits, RateLimit};
pub use policy::{ActionSpec, AgentManifest, Policy, Revision, rules};
pub use resolved::{PathView, Resolution};
pub use run::RunState;
pub use tier::{SandboxTier, TierRequirement};
pub use verdict::{Reason, RiskBreakdown, Stage, Verdict};
