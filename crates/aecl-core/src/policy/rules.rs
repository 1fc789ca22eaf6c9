//! The port for rules the manifest form cannot say (Cedar policies in `aecl-policy`).
//!
//! The core stays free of the Cedar crate: a policy carries an `Arc<dyn RuleSet>` and
//! `decide` asks it for findings after the built-in stages. Implementations must be pure
//! (no I/O, clock or environment), like the rest of the core.

use std::fmt;

use super::ActionSpec;
use crate::call::Call;
use crate::decision::Decision;
use crate::run::RunState;

/// What a rule set sees of one call: the call, its action, the run so far, and what the
/// built-in stages computed.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    pub call: &'a Call,
    pub action: &'a ActionSpec,
    pub run: &'a RunState,
    /// The risk score of the built-in factors.
    pub risk_score: f64,
    /// The decision of the built-in stages before the rules.
    pub decision_so_far: Decision,
    /// Argument paths whose value was found only in untrusted content.
    pub untrusted_args: &'a [String],
}

/// One rule that matched, or failed to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFinding {
    /// The rule's id (for Cedar, the policy id and file position).
    pub rule: String,
    /// `Block` for a matching forbid and for any evaluation error.
    pub decision: Decision,
    pub message: String,
}

/// Extra rules evaluated on every call. Findings may only tighten the verdict.
pub trait RuleSet: Send + Sync + fmt::Debug {
    /// The findings for this call. An error while evaluating any rule must come back as a
    /// `Block` finding naming the rule: skipping a failing rule would fail open.
    fn evaluate(&self, input: &RuleInput<'_>) -> Vec<RuleFinding>;
}
