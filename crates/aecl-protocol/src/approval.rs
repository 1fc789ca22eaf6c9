//! Approval requests as the API shows them (`/v1/approvals`), and the bodies and answers
//! of approving and rejecting one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::verdict::Decision;

/// Where a request stands; an expired request is a rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

/// An approval request.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Approval {
    pub id: String,
    pub status: ApprovalStatus,
    pub run: String,
    pub call_id: String,
    /// The agent that asked.
    pub agent: String,
    pub action: String,
    pub call_digest: String,
    pub policy_revision: String,
    /// Milliseconds since the Unix epoch.
    pub requested_ms: u64,
    pub expires_ms: u64,
    /// Who answered (`alice, bob` when a quorum approved); `null` while pending.
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    /// Who approved a pending request so far, towards `approvals_required`.
    pub approvals: Vec<String>,
    /// Distinct approvers the request needs.
    pub approvals_required: u32,
    /// The arguments that matter (the catalog's `summary`, else the control arguments):
    /// `[{"arg": "amount", "values": [1200]}]`.
    #[schemars(with = "Vec<Map<String, Value>>")]
    pub summary: Value,
    /// The context as recorded with the request: `call` (redacted arguments), `verdict`
    /// (a `Verdict`, with its risk breakdown), `suspicious` (argument values that came
    /// only from untrusted content), `history` (the run's last events), `summary` and
    /// `approvals_required`. Absent in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Map<String, Value>>")]
    pub context: Option<Value>,
}

/// The body of approve (optional) and reject (`reason` required).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalAnswer {
    /// Why: shown to the agent, kept in the audit log. Required to reject.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What approving came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalOutcome {
    /// The agent's retry of the same call runs once.
    Granted,
    /// More approvers are needed.
    Counted,
    /// The policy changed and now allows the call.
    NotNeeded,
    /// The policy changed and now blocks the call: the request is closed.
    Blocked,
}

/// The call decided again under the policy in force, when the policy changed since the
/// request was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Redecided {
    /// The revision the request was made under.
    pub from: String,
    /// The revision in force.
    pub to: String,
    pub decision: Decision,
    /// The deciding reasons' messages.
    pub reasons: Vec<String>,
}

/// What approving returns: the request, what the approval did, and the grant its call
/// will spend when it gave one.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Approved {
    pub approval: Approval,
    pub outcome: ApprovalOutcome,
    pub grant_id: Option<String>,
    /// The grant is good until then (milliseconds since the Unix epoch).
    pub grant_expires_ms: Option<u64>,
    pub redecided: Option<Redecided>,
}
