//! The verdict: what `decide` answers for one call, with every reason and the risk breakdown.

use std::borrow::Cow;

use serde::Serialize;

pub use crate::decision::{Decision, Mode};
use crate::policy::Revision;

/// The pipeline stage that produced a reason, in pipeline order (design.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Manifest,
    Arguments,
    Scope,
    DataFlow,
    Budget,
    Replay,
    Risk,
    Rules,
    /// A human's answer to an approval request (design.md §3 step 10), applied by the
    /// engine after `decide`: a grant for exactly this call is the one finding that turns
    /// `require_approval` into `allow`. `decide` itself never produces it.
    Approval,
    /// The call's connector cannot run it in the sandbox tier the policy requires on this
    /// host (applied by the engine after `decide`): always Block.
    Sandbox,
    /// An internal error while deciding: always Block.
    Internal,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Manifest => "manifest",
            Stage::Arguments => "arguments",
            Stage::Scope => "scope",
            Stage::DataFlow => "data_flow",
            Stage::Budget => "budget",
            Stage::Replay => "replay",
            Stage::Risk => "risk",
            Stage::Rules => "rules",
            Stage::Approval => "approval",
            Stage::Sandbox => "sandbox",
            Stage::Internal => "internal",
        }
    }
}

/// One finding of one stage. A verdict's decision is the strictest decision of its reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub stage: Stage,
    /// A stable rule name, such as `manifest.blocked_actions` or `data_flow.untrusted_control_argument`.
    /// Borrowed for the built-in rules, so the decision path does not allocate their names.
    pub rule: Cow<'static, str>,
    pub decision: Decision,
    /// The argument the finding is about, as a dotted path, when there is one.
    pub field: Option<String>,
    pub message: String,
}

/// A value that `scan` found inside a free-text argument and that only untrusted content
/// shows (rule `data_flow.untrusted_value_in_text`): where it is, so that a person sees it
/// marked in the argument (the approvals page) and a client can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSpan {
    /// The argument, as a dotted path (the reason's `field`).
    pub field: String,
    /// The value's kind: `url`, `email`, `iban`, `phone`, `amount`, `date`, or a custom
    /// kind's name.
    pub kind: String,
    /// Where the value starts in the argument's text, in bytes, and how many bytes long.
    pub offset: usize,
    pub length: usize,
    /// The untrusted content it appears in (`c3 read_email.body`), and the call whose output
    /// that is, when it is a tool's output.
    pub source: String,
    pub source_call: Option<String>,
}

/// One contribution to the risk score.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskContribution {
    /// The factor's name: built-in factors are borrowed, catalog factors owned.
    pub factor: Cow<'static, str>,
    pub weight: f64,
    pub detail: String,
}

/// The risk score with every contribution and the thresholds that routed it.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskBreakdown {
    /// The sum of the contributions, capped at 1.0.
    pub score: f64,
    pub contributions: Vec<RiskContribution>,
    /// A score strictly above this requires approval.
    pub approval_threshold: f64,
    /// A score strictly above this is blocked, when set.
    pub block_threshold: Option<f64>,
}

impl RiskBreakdown {
    pub fn empty(approval_threshold: f64, block_threshold: Option<f64>) -> RiskBreakdown {
        RiskBreakdown { score: 0.0, contributions: Vec::new(), approval_threshold, block_threshold }
    }
}

/// The answer of `decide` for one call. No serde: its wire form is
/// `aecl_protocol::Verdict`, filled from it by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub decision: Decision,
    pub mode: Mode,
    pub reasons: Vec<Reason>,
    pub risk: RiskBreakdown,
    pub policy_revision: Revision,
    /// How long an approval request for this call stays open, when the decision is
    /// `require_approval`.
    pub approval_expires_in_secs: Option<u64>,
    /// Set when the call repeats an idempotency key already executed in this run: the id of
    /// the first call, whose recorded outcome is returned instead of executing again.
    pub replay_of: Option<String>,
    /// The sandbox tier the call must run in, when the policy names one. The engine blocks
    /// the call when its connector cannot run it there (stage `sandbox`).
    pub sandbox: Option<crate::tier::TierRequirement>,
    /// Values found inside free-text arguments that only untrusted content shows, with
    /// their positions (the data-flow stage's `scan`).
    pub spans: Vec<ValueSpan>,
}

impl Verdict {
    /// A call's verdict as a run's history keeps it: its decision, mode and replayed call,
    /// which is all `RunState::record_call` reads. Rebuilding a run from its recorded
    /// verdicts never decides its past again, so a policy change never rewrites it.
    pub fn recorded(decision: Decision, mode: Mode, replay_of: Option<String>) -> Verdict {
        Verdict {
            decision,
            mode,
            reasons: Vec::new(),
            risk: RiskBreakdown::empty(0.0, None),
            policy_revision: Revision(String::new()),
            approval_expires_in_secs: None,
            replay_of,
            sandbox: None,
            spans: Vec::new(),
        }
    }

    /// [`Verdict::recorded`] from the names it is stored under (`allow`, `enforce`, …);
    /// `None` when either is not a decision or mode aecl knows.
    pub fn parse_recorded(
        decision: &str,
        mode: &str,
        replay_of: Option<String>,
    ) -> Option<Verdict> {
        Some(Verdict::recorded(Decision::parse(decision)?, Mode::parse(mode)?, replay_of))
    }

    /// What the front ends act on: in `monitor` mode every call goes through (the decision
    /// is still recorded); otherwise the decision itself.
    pub fn enforced_decision(&self) -> Decision {
        match self.mode {
            Mode::Monitor => Decision::Allow,
            Mode::Enforce | Mode::DryRun => self.decision,
        }
    }

    /// The reasons that set the decision (those as strict as the verdict).
    pub fn deciding_reasons(&self) -> impl Iterator<Item = &Reason> {
        self.reasons.iter().filter(move |r| r.decision == self.decision)
    }
}
