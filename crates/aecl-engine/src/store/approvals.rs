//! The rows of the approval gate as the store port carries them: single-use grants (and
//! why one cannot be used, or was voided), approval requests and their answers, and
//! standing grants. The store keeps them; only the engine reads a request's body or a
//! standing grant's terms.

use aecl_core::{CallDigest, Revision, Timestamp};
use serde_json::Value;

/// A single-use authorisation bound to one exact call (design.md §2 "Grant").
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub id: String,
    pub approval_id: Option<String>,
    pub call_digest: CallDigest,
    pub policy_revision: Revision,
    pub expires: Timestamp,
    /// The engine's grant key's signature over the other fields (`approval::seal`), so
    /// that a grant written into the store by hand permits nothing; `None` when the
    /// engine that made it had no key.
    pub signature: Option<String>,
}

/// Why a grant cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantRefusal {
    Unknown,
    AlreadyUsed,
    Expired,
    /// The call is not the one approved: an argument (or the agent, run or action) changed.
    OtherCall,
    /// The policy changed since the approval.
    OtherRevision,
    /// A later answer about the same call (or the grant found unusable) voided it.
    Voided,
}

impl GrantRefusal {
    pub fn message(self) -> &'static str {
        match self {
            GrantRefusal::Unknown => "unknown grant",
            GrantRefusal::AlreadyUsed => "the grant was already used",
            GrantRefusal::Expired => "the grant expired",
            GrantRefusal::OtherCall => "the grant is for another call (an argument changed)",
            GrantRefusal::OtherRevision => "the grant was given under another policy revision",
            GrantRefusal::Voided => "a later answer about this call voided the grant",
        }
    }
}

/// When and why grants of a call are voided: kept with every grant it voids. A voided
/// grant is never spent (design: the latest human answer about a call is the one that
/// holds, and a call runs at most once per approval).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voiding {
    pub at: Timestamp,
    pub why: String,
}

/// A person's answer that closes a pending request ([`Store::answer_approval`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// `approved` or `rejected`; `expired` when a re-decision under a changed policy
    /// closes the request the person answered.
    pub status: ApprovalStatus,
    pub by: String,
    pub reason: Option<String>,
    /// The grant an approval writes.
    pub grant: Option<Grant>,
    /// Every other unspent grant of the request's call is voided with this.
    pub voiding: Voiding,
}

/// What filing a request replaced ([`Store::file_approval`]), for the audit log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Superseded {
    /// The call's unspent grants, now voided.
    pub grants: Vec<Grant>,
    /// The call's requests that were pending under another policy revision, now closed
    /// (`expired`, by `aecl`, the voiding's reason as theirs).
    pub requests: Vec<Approval>,
}

/// The state of an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        Some(match s {
            "pending" => ApprovalStatus::Pending,
            "approved" => ApprovalStatus::Approved,
            "rejected" => ApprovalStatus::Rejected,
            "expired" => ApprovalStatus::Expired,
            _ => return None,
        })
    }
}

/// A durable approval request. `body` holds what the approver sees (the call, the risk
/// breakdown, the untrusted content, the run's history); the store does not read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub id: String,
    pub run: String,
    pub call_id: String,
    pub agent: String,
    pub action: String,
    pub call_digest: CallDigest,
    pub policy_revision: Revision,
    pub status: ApprovalStatus,
    pub requested: Timestamp,
    pub expires: Timestamp,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub body: Value,
}

/// A standing grant (design.md §4 "Approval gate"): an approver's permission for an agent
/// to make calls of one action whose arguments meet conditions, a counted number of times
/// until it expires. What it permits is `terms`, the canonical JSON the engine signed;
/// the other fields are the store's index and counters. The store never reads `terms`.
#[derive(Debug, Clone, PartialEq)]
pub struct StandingGrant {
    pub id: String,
    pub agent: String,
    pub action: String,
    pub created: Timestamp,
    pub expires: Timestamp,
    pub max_uses: u32,
    pub used: u32,
    pub revoked: Option<Timestamp>,
    pub terms: String,
    /// Base64 Ed25519 signature over a domain line and `terms`.
    pub signature: String,
}
