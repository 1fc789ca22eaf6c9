//! `POST /v1/evaluate` and `POST /v1/execute`: the call a client sends (a trace `call`
//! event without `type`) and the answer, whose fields are those of an `aecl replay` line
//! (`DecisionLine`) plus `approval_id` and, for execute, the effect.

use aecl_core::{Call, Verdict};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ErrorBody;
use crate::verdict::{Decision, Mode, Reason, RiskBreakdown, TierRequirement, ValueSpan, reasons};

/// The body of `/v1/evaluate` and `/v1/execute`: a trace `call` event without `type`
/// (`docs/schema/trace-event.schema.json`). The agent is the token's subject; a body
/// naming another is refused.
pub use aecl_policy::trace::CallEvent as CallRequest;

/// One line of `aecl replay` output; the HTTP API answers with the same fields.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DecisionLine<'a> {
    /// The call's id.
    pub id: &'a str,
    pub run: &'a str,
    pub action: &'a str,
    pub decision: Decision,
    pub mode: Mode,
    pub reasons: Vec<Reason<'a>>,
    pub risk: RiskBreakdown<'a>,
    pub policy_revision: &'a str,
    /// The first call of a repeated idempotency key, whose outcome is returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<&'a str>,
    /// The sandbox tier the policy requires for the call, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<TierRequirement<'a>>,
    /// Values found inside free-text arguments that only untrusted content shows, with
    /// their byte offsets and lengths.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<ValueSpan<'a>>,
}

impl<'a> DecisionLine<'a> {
    /// The line of `call` decided as `verdict`.
    pub fn new(call: &'a Call, verdict: &'a Verdict) -> DecisionLine<'a> {
        DecisionLine {
            id: &call.id,
            run: &call.run,
            action: &call.action,
            decision: verdict.decision.into(),
            mode: verdict.mode.into(),
            reasons: reasons(&verdict.reasons),
            risk: (&verdict.risk).into(),
            policy_revision: &verdict.policy_revision.0,
            replay_of: verdict.replay_of.as_deref(),
            sandbox: verdict.sandbox.as_ref().map(Into::into),
            spans: verdict.spans.iter().map(Into::into).collect(),
        }
    }
}

impl<'a> From<&'a aecl_policy::replay::Decided> for DecisionLine<'a> {
    fn from(decided: &'a aecl_policy::replay::Decided) -> DecisionLine<'a> {
        DecisionLine::new(&decided.call, &decided.verdict)
    }
}

/// The answer to evaluate and execute.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CallAnswer<'a> {
    #[serde(flatten)]
    pub line: DecisionLine<'a>,
    /// The approval request a `require_approval` execute waits for (poll it, then retry
    /// the same call), or the one whose grant let the call through; null otherwise.
    pub approval_id: Option<String>,
    /// Execute only: what was executed (absent when nothing was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    /// Execute only: true when the effect is an earlier execution's (repeated
    /// idempotency key or call id), returned without executing again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
    /// Set with status 503 when the engine failed and the call was blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// The state of an effect in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EffectState {
    /// Recorded, not yet handed to a connector.
    Pending,
    /// Handed to a connector; its outcome is not recorded yet.
    Dispatched,
    Succeeded,
    Failed,
    /// The connector's answer was lost (a crash, a timeout): reconciliation asks the target.
    OutcomeUnknown,
}

/// An effect as the API shows it: what an execute dispatched, its ledger entry.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Effect {
    pub id: String,
    pub state: EffectState,
    /// What the connector returned (`{"executed_by": "client"}` for a call the client
    /// runs itself).
    pub result: Value,
    pub error: Option<String>,
    /// What undoes the effect, when its connector keeps one.
    pub rollback_token: Option<String>,
    /// A replayed effect that aecl has since rolled back: the compensation's effect id.
    /// `state` stays what the execution ended in; the effect is no longer in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_by: Option<String>,
}
