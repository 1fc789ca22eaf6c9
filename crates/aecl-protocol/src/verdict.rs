//! The verdict as the API shows it: the decision, every reason, the risk breakdown, the
//! sandbox tier and the value spans. `aecl_core::Verdict` has no serde of its own; these
//! types borrow from it and are filled by hand (`From<&aecl_core::Verdict>`), so a change
//! of the core's types is a compile error here rather than a silent change of the wire.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The outcome of a decision, from the most permissive to the strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    RequireApproval,
    Block,
}

impl From<aecl_core::Decision> for Decision {
    fn from(decision: aecl_core::Decision) -> Decision {
        match decision {
            aecl_core::Decision::Allow => Decision::Allow,
            aecl_core::Decision::RequireApproval => Decision::RequireApproval,
            aecl_core::Decision::Block => Decision::Block,
        }
    }
}

/// How the policy is applied: `enforce`; `monitor` (recorded, but every call goes
/// through); `dry-run` (decided, nothing runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Enforce,
    Monitor,
    DryRun,
}

impl From<aecl_core::Mode> for Mode {
    fn from(mode: aecl_core::Mode) -> Mode {
        match mode {
            aecl_core::Mode::Enforce => Mode::Enforce,
            aecl_core::Mode::Monitor => Mode::Monitor,
            aecl_core::Mode::DryRun => Mode::DryRun,
        }
    }
}

/// The stage that produced a reason, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    Approval,
    Sandbox,
    Internal,
}

impl From<aecl_core::Stage> for Stage {
    fn from(stage: aecl_core::Stage) -> Stage {
        use aecl_core::Stage as Core;
        match stage {
            Core::Manifest => Stage::Manifest,
            Core::Arguments => Stage::Arguments,
            Core::Scope => Stage::Scope,
            Core::DataFlow => Stage::DataFlow,
            Core::Budget => Stage::Budget,
            Core::Replay => Stage::Replay,
            Core::Risk => Stage::Risk,
            Core::Rules => Stage::Rules,
            Core::Approval => Stage::Approval,
            Core::Sandbox => Stage::Sandbox,
            Core::Internal => Stage::Internal,
        }
    }
}

/// An isolation tier, from the weakest to the strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SandboxTier {
    Process,
    Gvisor,
    Microvm,
}

impl From<aecl_core::SandboxTier> for SandboxTier {
    fn from(tier: aecl_core::SandboxTier) -> SandboxTier {
        match tier {
            aecl_core::SandboxTier::Process => SandboxTier::Process,
            aecl_core::SandboxTier::Gvisor => SandboxTier::Gvisor,
            aecl_core::SandboxTier::Microvm => SandboxTier::Microvm,
        }
    }
}

/// One finding of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Reason<'a> {
    pub stage: Stage,
    /// A stable rule name, such as `manifest.blocked_actions`.
    pub rule: &'a str,
    pub decision: Decision,
    /// The argument the finding is about, as a dotted path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    pub message: &'a str,
}

impl<'a> From<&'a aecl_core::Reason> for Reason<'a> {
    fn from(reason: &'a aecl_core::Reason) -> Reason<'a> {
        Reason {
            stage: reason.stage.into(),
            rule: &reason.rule,
            decision: reason.decision.into(),
            field: reason.field.as_deref(),
            message: &reason.message,
        }
    }
}

/// One contribution to the risk score.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RiskContribution<'a> {
    pub factor: &'a str,
    pub weight: f64,
    pub detail: &'a str,
}

/// The risk score with every contribution and the thresholds that routed it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RiskBreakdown<'a> {
    /// The sum of the contributions, capped at 1.0.
    pub score: f64,
    pub contributions: Vec<RiskContribution<'a>>,
    /// A score strictly above this requires approval.
    pub approval_threshold: f64,
    /// A score strictly above this is blocked, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_threshold: Option<f64>,
}

impl<'a> From<&'a aecl_core::RiskBreakdown> for RiskBreakdown<'a> {
    fn from(risk: &'a aecl_core::RiskBreakdown) -> RiskBreakdown<'a> {
        RiskBreakdown {
            score: risk.score,
            contributions: risk
                .contributions
                .iter()
                .map(|c| RiskContribution {
                    factor: &c.factor,
                    weight: c.weight,
                    detail: &c.detail,
                })
                .collect(),
            approval_threshold: risk.approval_threshold,
            block_threshold: risk.block_threshold,
        }
    }
}

/// The sandbox tier the policy requires for a call, and the setting that asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TierRequirement<'a> {
    pub tier: SandboxTier,
    pub because: &'a str,
}

impl<'a> From<&'a aecl_core::TierRequirement> for TierRequirement<'a> {
    fn from(requirement: &'a aecl_core::TierRequirement) -> TierRequirement<'a> {
        TierRequirement { tier: requirement.tier.into(), because: &requirement.because }
    }
}

/// A value found inside a free-text argument that only untrusted content shows.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ValueSpan<'a> {
    /// The argument, as a dotted path (the reason's `field`).
    pub field: &'a str,
    /// `url`, `email`, `iban`, `phone`, `amount`, `date`, or a custom kind's name.
    pub kind: &'a str,
    /// Where the value starts in the argument's text, in bytes, and how many bytes long.
    pub offset: usize,
    pub length: usize,
    /// The untrusted content it appears in, and the call whose output that is.
    pub source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_call: Option<&'a str>,
}

impl<'a> From<&'a aecl_core::verdict::ValueSpan> for ValueSpan<'a> {
    fn from(span: &'a aecl_core::verdict::ValueSpan) -> ValueSpan<'a> {
        ValueSpan {
            field: &span.field,
            kind: &span.kind,
            offset: span.offset,
            length: span.length,
            source: &span.source,
            source_call: span.source_call.as_deref(),
        }
    }
}

/// A whole verdict: what an approval request's context shows.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Verdict<'a> {
    pub decision: Decision,
    pub mode: Mode,
    pub reasons: Vec<Reason<'a>>,
    pub risk: RiskBreakdown<'a>,
    pub policy_revision: &'a str,
    /// How long an approval request for this call stays open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_expires_in_secs: Option<u64>,
    /// The first call of a repeated idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<TierRequirement<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<ValueSpan<'a>>,
}

impl<'a> From<&'a aecl_core::Verdict> for Verdict<'a> {
    fn from(verdict: &'a aecl_core::Verdict) -> Verdict<'a> {
        Verdict {
            decision: verdict.decision.into(),
            mode: verdict.mode.into(),
            reasons: reasons(&verdict.reasons),
            risk: (&verdict.risk).into(),
            policy_revision: &verdict.policy_revision.0,
            approval_expires_in_secs: verdict.approval_expires_in_secs,
            replay_of: verdict.replay_of.as_deref(),
            sandbox: verdict.sandbox.as_ref().map(Into::into),
            spans: verdict.spans.iter().map(Into::into).collect(),
        }
    }
}

/// The wire form of `reasons`.
pub fn reasons(reasons: &[aecl_core::Reason]) -> Vec<Reason<'_>> {
    reasons.iter().map(Into::into).collect()
}
