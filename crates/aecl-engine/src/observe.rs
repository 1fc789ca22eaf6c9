//! What the engine tells operators as it works: one structured log line per recorded
//! decision (target `aecl::decision`) and per answer to an approval request (target
//! `aecl::approval`: approved, rejected or expired), and the [`Observer`] port through
//! which a front end counts them (the server's `/metrics`).
//!
//! A line names the call (run, call id, agent, action), the decision, the rules that
//! decided it and the latency; never an argument value. Arguments carry what agents and
//! tool outputs wrote, secrets included, and logs are kept and shipped with less care than
//! the audit log, which holds them redacted. No policy setting puts them in logs.
//!
//! Every front end (the HTTP API, the MCP gateway, an embedding program) goes through the
//! engine, so each gets these lines without doing anything.

use std::fmt::Debug;
use std::time::Duration;

use aecl_core::{Call, Verdict};

use crate::store::{Approval, ApprovalStatus};

/// The log target of decision lines.
pub const DECISION_TARGET: &str = "aecl::decision";

/// The log target of approval-answer lines.
pub const APPROVAL_TARGET: &str = "aecl::approval";

/// The `tracing` target of the pipeline's stage spans (`aecl.stage`, at `debug`).
pub const STAGE_TARGET: &str = "aecl::stage";

/// Told of what the engine records. Called after the record is committed, on the task
/// that recorded it: implementations must be quick and must not block (count, don't do
/// I/O).
pub trait Observer: Send + Sync + Debug {
    /// A call was decided and its decision recorded.
    fn decided(&self, _decision: &DecisionSeen<'_>) {}

    /// An approval request was answered (or expired) and the answer recorded.
    fn approval_answered(&self, _answer: &ApprovalAnswered<'_>) {}
}

/// A recorded decision, as observers see it.
#[derive(Debug, Clone, Copy)]
pub struct DecisionSeen<'a> {
    pub call: &'a Call,
    pub verdict: &'a Verdict,
    /// The approval request the call waits for, or whose grant let it through.
    pub approval_id: Option<&'a str>,
    /// From the call's arrival in the engine to its decision's commit.
    pub latency: Duration,
    /// True for `execute` (the call goes on to a connector when allowed).
    pub executing: bool,
}

/// A recorded answer to an approval request.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalAnswered<'a> {
    pub approval: &'a Approval,
    /// `Approved`, `Rejected` or `Expired`.
    pub status: ApprovalStatus,
    /// The approver (`aecl` for an expiry).
    pub by: &'a str,
    /// From the request to its answer, in milliseconds.
    pub waited_ms: u64,
}

/// The rules that made a verdict's decision: those whose own decision is the verdict's
/// (for an allow, the reasons that lifted or replayed it, often none), comma-separated,
/// each once, in the verdict's order.
pub fn deciding_rules(verdict: &Verdict) -> String {
    let mut rules: Vec<&str> = Vec::new();
    for reason in verdict.reasons.iter().filter(|r| r.decision == verdict.decision) {
        if !rules.contains(&reason.rule.as_ref()) {
            rules.push(reason.rule.as_ref());
        }
    }
    rules.join(",")
}

/// Writes the decision line and tells `observer`.
pub(crate) fn decided(observer: Option<&dyn Observer>, seen: &DecisionSeen<'_>) {
    let call = seen.call;
    let verdict = seen.verdict;
    let latency_ms = seen.latency.as_secs_f64() * 1000.0;
    tracing::info!(
        target: DECISION_TARGET,
        run = %call.run,
        call = %call.id,
        agent = %call.agent,
        action = %call.action,
        decision = verdict.decision.as_str(),
        enforced = verdict.enforced_decision().as_str(),
        mode = verdict.mode.as_str(),
        rules = %deciding_rules(verdict),
        risk = verdict.risk.score,
        latency_ms,
        approval_id = seen.approval_id.unwrap_or(""),
        replay = verdict.replay_of.is_some(),
        execute = seen.executing,
        policy_revision = %verdict.policy_revision,
        "decision"
    );
    if let Some(observer) = observer {
        observer.decided(seen);
    }
}

/// Writes the approval-answer line and tells `observer`.
pub(crate) fn approval_answered(observer: Option<&dyn Observer>, answer: &ApprovalAnswered<'_>) {
    let approval = answer.approval;
    tracing::info!(
        target: APPROVAL_TARGET,
        approval_id = %approval.id,
        run = %approval.run,
        call = %approval.call_id,
        agent = %approval.agent,
        action = %approval.action,
        outcome = answer.status.as_str(),
        by = %answer.by,
        waited_ms = answer.waited_ms,
        "approval answered"
    );
    if let Some(observer) = observer {
        observer.approval_answered(answer);
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use aecl_core::{Decision, Mode, Reason, Revision, RiskBreakdown, Stage};

    use super::*;

    fn reason(rule: &'static str, decision: Decision) -> Reason {
        Reason {
            stage: Stage::Manifest,
            rule: Cow::Borrowed(rule),
            decision,
            field: None,
            message: String::new(),
        }
    }

    fn verdict(decision: Decision, reasons: Vec<Reason>) -> Verdict {
        Verdict {
            decision,
            mode: Mode::Enforce,
            reasons,
            risk: RiskBreakdown::empty(0.0, None),
            policy_revision: Revision("r".to_owned()),
            approval_expires_in_secs: None,
            replay_of: None,
            sandbox: None,
            spans: Vec::new(),
        }
    }

    #[test]
    fn the_deciding_rules_are_those_at_the_verdicts_decision_once_each() {
        let v = verdict(
            Decision::Block,
            vec![
                reason("risk.score", Decision::RequireApproval),
                reason("arguments.path", Decision::Block),
                reason("manifest.blocked", Decision::Block),
                reason("arguments.path", Decision::Block),
            ],
        );
        assert_eq!(deciding_rules(&v), "arguments.path,manifest.blocked");
        let allow = verdict(Decision::Allow, vec![reason("risk.score", Decision::RequireApproval)]);
        assert_eq!(deciding_rules(&allow), "");
    }
}
