//! The human approval gate (design.md §3 step 10).
//!
//! An `execute` whose verdict is `require_approval` (in `enforce` mode) leaves a durable
//! approval request with everything an approver needs to judge it: the call, the verdict
//! with its risk breakdown, the argument values that came only from untrusted content, and
//! the run's history. An approver (never the agent that asked) approves or rejects it;
//! approval writes a grant bound to the digest of that exact call (agent, run, action,
//! canonical arguments), the policy revision and an expiry.
//!
//! The agent then retries the same call. `decide` still answers `require_approval` (the
//! policy has not changed); the engine finds the call's grant by its digest and, when the
//! grant is usable, lets the call through with an `approval.granted` reason. The grant is
//! spent in the same transaction that records the allow decision (and the effect as
//! dispatched), so it is used once even when retries race for it, on one instance or
//! several: of N concurrent retries one is allowed, and the others, which found the grant
//! on arrival and lost it, stay `require_approval` (`approval.grant_used`) without a new
//! request. Changed arguments make another digest and find no grant; a
//! grant under another policy revision or past its expiry is named in the verdict, voided
//! (it is never usable later, whatever the policy becomes), and a new request is made.
//! The latest answer about a call is the one that holds (`voids.rs`). Retrying needs
//! nothing but the same arguments, which is what an MCP client can do.

use std::borrow::Cow;

use aecl_audit::RecordKind;
use aecl_core::{Call, CallDigest, Decision, Mode, Reason, Stage, Timestamp, Verdict};
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::run_event::RunEvent;
use crate::store::{Answer, Approval, ApprovalStatus, Grant, GrantRefusal, Store};

mod answer;
mod cooldown;
pub(crate) mod seal;
mod voids;

use voids::VoidedFor;

pub use answer::{Approved, Redecision, approvals_required, approvers_so_far, person, same_person};

/// What [`Engine::apply_grant`] found for a call.
#[derive(Debug)]
pub(crate) enum GrantFound {
    /// No grant applies: the call is decided as it stands.
    None,
    /// This grant lifts the call to `allow`; the commit that records it spends it.
    Usable(Grant),
    /// The grant the call arrived with was spent by a concurrent retry of the same call
    /// (the approval request's id): the call stays `require_approval` and asks nobody.
    Used(Option<String>),
}

/// How long after a grant was spent a retry of the same call is still taken as a
/// concurrent duplicate of the call that spent it (answered `require_approval` without a
/// new request), rather than as a new call asking again. Retries sent together reach the
/// server spread over milliseconds (new connections, a cold pool), some after the winner
/// committed; comparing arrival times alone would file a request for each of those.
pub const DUPLICATE_WINDOW_MS: u64 = 2_000;

/// History entries an approval request carries at most (the most recent ones).
const HISTORY_LIMIT: usize = 50;

/// Characters of one tool output an approval request carries at most.
const OUTPUT_LIMIT: usize = 4_000;

impl<S: Store> Engine<S> {
    /// Approves request `id` as `approver`: the grant for its call, valid until the request
    /// would have expired. Refuses an approver who is the agent that asked, a request that
    /// is no longer pending, and one that has expired (which becomes `expired`).
    ///
    /// The grant only: an approval that is counted towards a quorum, or that a changed
    /// policy made moot, is an error here ([`Engine::approve_request`] tells them apart).
    pub async fn approve(
        &self,
        id: &str,
        approver: &str,
        reason: Option<&str>,
    ) -> Result<Grant, EngineError> {
        match self.approve_request(id, approver, reason).await? {
            Approved::Granted { grant, .. } => Ok(grant),
            Approved::Counted { approvers, required } => Err(EngineError::NotGranted {
                id: id.to_owned(),
                why: format!("{} of {required} approvals so far", approvers.len()),
            }),
            Approved::NotNeeded { .. } => Err(EngineError::NotGranted {
                id: id.to_owned(),
                why: "the policy in force allows the call without approval".to_owned(),
            }),
            Approved::Blocked { redecided } => Err(EngineError::NotGranted {
                id: id.to_owned(),
                why: format!(
                    "the policy in force blocks the call: {}",
                    redecided.reasons.join("; ")
                ),
            }),
        }
    }

    /// `approval` sealed with the grant key (when the engine has one), as every request
    /// must be to be answered: for a request filed outside the call path (the gateway's
    /// tool definition changes).
    pub fn sealed(&self, approval: Approval) -> Approval {
        match &self.config().grant_key {
            Some(key) => seal::seal_request(key, approval),
            None => approval,
        }
    }

    /// Whether `approval` is as it was filed (its seal verifies), when the engine has a
    /// grant key; without one the store is trusted.
    pub fn request_verifies(&self, approval: &Approval) -> bool {
        self.config().grant_key.as_ref().is_none_or(|key| seal::request_is_sealed(key, approval))
    }

    /// Whether a person approved `approval` (closed `approved`): a grant the engine sealed
    /// names it, when the engine has a grant key. The status alone is the store's, which a
    /// writer may set by hand.
    pub async fn approved_by_a_person(&self, approval: &Approval) -> Result<bool, EngineError> {
        if approval.status != ApprovalStatus::Approved || !self.request_verifies(approval) {
            return Ok(false);
        }
        let Some(key) = &self.config().grant_key else { return Ok(true) };
        let grant = self.store().grant_for_call(&approval.call_digest).await?;
        Ok(grant.is_some_and(|grant| {
            grant.approval_id.as_deref() == Some(approval.id.as_str())
                && seal::is_sealed(key, &grant)
        }))
    }

    /// Rejects request `id` as `approver`, with the reason the agent will be given. Answers
    /// once a published checkpoint covers the rejection, as [`Engine::approve_request`].
    pub async fn reject(
        &self,
        id: &str,
        approver: &str,
        reason: &str,
    ) -> Result<Approval, EngineError> {
        let approval = self.open_approval(id, approver).await?;
        // INVARIANT: a rejection voids every unspent grant of its call, in the transaction
        // that records it: no older approval lets the rejected call run.
        let why = format!("{approver} rejected this call (request `{id}`)");
        let answer = Answer {
            status: ApprovalStatus::Rejected,
            by: approver.to_owned(),
            reason: Some(reason.to_owned()),
            grant: None,
            voiding: self.voiding(why.clone()),
        };
        let Some(voided) = self.store().answer_approval(id, answer).await? else {
            return Err(self.closed(id).await);
        };
        self.record_resolution(&approval, ApprovalStatus::Rejected, approver, Some(reason)).await?;
        self.record_voids(&voided, &VoidedFor::approval(&approval), &why).await?;
        self.start_cooldown(&approval, approver, reason).await?;
        self.published_all().await?;
        self.approval(id).await?.ok_or_else(|| EngineError::ApprovalNotFound(id.to_owned()))
    }

    /// Withdraws request `id` if it is still pending: the call that waits on it will not be
    /// made (its client cancelled it), so no answer may make it executable. It is closed as
    /// requests made moot are, `expired` by `aecl`, the approver shown `withdrawn: {why}`;
    /// approving it afterwards fails. False when it was no longer pending (an approver
    /// answered first: a grant then stays bound to the exact call, and is used only by a
    /// call the client makes again).
    pub async fn withdraw_approval(&self, id: &str, why: &str) -> Result<bool, EngineError> {
        let Some(approval) = self.store().approval(id).await? else { return Ok(false) };
        if approval.status != ApprovalStatus::Pending || cooldown::is_cooldown(&approval) {
            return Ok(false);
        }
        let reason = format!("withdrawn: {why}");
        let closed = self
            .store()
            .resolve_approval(id, ApprovalStatus::Expired, "aecl", Some(&reason))
            .await?;
        if closed {
            self.record_resolution(&approval, ApprovalStatus::Expired, "aecl", Some(&reason))
                .await?;
            self.published_all().await?;
        }
        Ok(closed)
    }

    /// Request `id` as it stands. A pending request past its expiry is expired here (an
    /// expired request is a rejection), so every reader sees the same answer.
    pub async fn approval(&self, id: &str) -> Result<Option<Approval>, EngineError> {
        let Some(mut approval) = self.store().approval(id).await? else { return Ok(None) };
        if cooldown::is_cooldown(&approval) {
            return Ok(None);
        }
        if approval.status == ApprovalStatus::Pending && self.now() >= approval.expires {
            self.expire(&approval).await?;
            approval = self.store().approval(id).await?.unwrap_or(approval);
        }
        Ok(Some(approval))
    }

    /// Requests newest first (only the pending ones, or all), each as [`Engine::approval`]
    /// would answer it.
    pub async fn approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<Approval>, EngineError> {
        let mut listed = Vec::new();
        for approval in self.store().approvals(pending_only, limit).await? {
            if cooldown::is_cooldown(&approval) {
                continue;
            }
            if approval.status == ApprovalStatus::Pending && self.now() >= approval.expires {
                self.expire(&approval).await?;
                if pending_only {
                    continue;
                }
                if let Some(expired) = self.store().approval(&approval.id).await? {
                    listed.push(expired);
                }
            } else {
                listed.push(approval);
            }
        }
        Ok(listed)
    }

    /// Applies the grant of `call` (with `digest`), if it has one, to a `require_approval`
    /// verdict: a usable grant makes the verdict `allow` and is returned, to be spent by the
    /// commit that records the decision; an unusable one is named in the verdict, which
    /// stays `require_approval`, and voided. When the call has no unspent grant but one was
    /// spent after the call's `arrival`, or at most [`DUPLICATE_WINDOW_MS`] before it, a
    /// concurrent retry of the same call used it, and this call is its duplicate
    /// (`approval.grant_used`, no new request).
    pub(crate) async fn apply_grant(
        &self,
        verdict: &mut Verdict,
        call: &Call,
        digest: &CallDigest,
        arrival: Timestamp,
        now: Timestamp,
    ) -> Result<GrantFound, EngineError> {
        if verdict.decision != Decision::RequireApproval || verdict.mode != Mode::Enforce {
            return Ok(GrantFound::None);
        }
        let Some(grant) = self.store().grant_for_call(digest).await? else {
            let spent = self.store().spent_grant_for_call(digest).await?;
            let window = DUPLICATE_WINDOW_MS;
            let Some((used, _)) = spent.filter(|(_, at)| at.0.saturating_add(window) >= arrival.0)
            else {
                return Ok(GrantFound::None);
            };
            let approval = used.approval_id.as_deref().unwrap_or("-");
            verdict.reasons.push(Reason {
                stage: Stage::Approval,
                rule: Cow::Borrowed("approval.grant_used"),
                decision: Decision::RequireApproval,
                field: None,
                message: format!(
                    "the approval `{approval}` of this exact call was used by a concurrent \
                     retry of it (an approval is single-use): this call is not executed and \
                     nobody is asked again; the same call made more than {window} ms after \
                     that use asks for another approval"
                ),
            });
            return Ok(GrantFound::Used(used.approval_id));
        };
        // INVARIANT: with a grant key, only a grant the engine signed lifts a call: a row
        // written into the store by hand (and a request set to `approved` beside it)
        // permits nothing. The call asks for an approval as if there were no grant.
        if let Some(key) = &self.config().grant_key
            && !seal::is_sealed(key, &grant)
        {
            tracing::error!(grant = %grant.id, "a grant's signature does not verify: ignored");
            verdict.reasons.push(Reason {
                stage: Stage::Approval,
                rule: Cow::Borrowed("approval.grant_unsigned"),
                decision: Decision::RequireApproval,
                field: None,
                message: format!(
                    "the store holds a grant `{}` for this exact call that aecl did not sign \
                     (written by hand, or before grants were signed): it permits nothing",
                    grant.id
                ),
            });
            return Ok(GrantFound::None);
        }
        let refusal = if now >= grant.expires {
            Some(GrantRefusal::Expired)
        } else if grant.policy_revision != verdict.policy_revision {
            Some(GrantRefusal::OtherRevision)
        } else {
            None
        };
        let approval = grant.approval_id.as_deref().unwrap_or("-");
        // INVARIANT: a grant lifts a call only once its request reads `approved`: it is
        // written just before, and stays unused when another approver rejected meanwhile.
        let answered = match &grant.approval_id {
            Some(id) => self.store().approval(id).await?.map(|a| a.status),
            None => None,
        };
        if answered != Some(ApprovalStatus::Approved) {
            return Ok(GrantFound::None);
        }
        if let Some(refusal) = refusal {
            // INVARIANT: a grant found unusable is never usable later: were it left
            // unspent, a policy that returns to the grant's revision would let the call
            // run on it after a newer answer about the call (F5, F6).
            let why = format!(
                "found unusable by call `{}`: {} (revision in force `{}`)",
                call.id,
                refusal.message(),
                verdict.policy_revision.0
            );
            let voided = self.store().void_grants(digest, self.voiding(why.clone())).await?;
            self.record_voids(&voided, &VoidedFor::call(call), &why).await?;
            verdict.reasons.push(Reason {
                stage: Stage::Approval,
                rule: Cow::Borrowed("approval.grant_unusable"),
                decision: Decision::RequireApproval,
                field: None,
                message: format!(
                    "the approval `{approval}` of this call cannot be used: {}; it needs a new one",
                    refusal.message()
                ),
            });
            return Ok(GrantFound::None);
        }
        verdict.reasons.push(Reason {
            stage: Stage::Approval,
            rule: Cow::Borrowed("approval.granted"),
            decision: Decision::Allow,
            field: None,
            message: format!("a human approved this exact call (approval `{approval}`)"),
        });
        // INVARIANT: only a `require_approval` verdict is lifted; a block stays a block.
        verdict.decision = Decision::Allow;
        Ok(GrantFound::Usable(grant))
    }

    /// Stores the approval request `id` for `call`, decided as `verdict` after `history`.
    pub(crate) async fn request_approval(
        &self,
        id: String,
        call: &Call,
        verdict: &Verdict,
        history: &[RunEvent],
    ) -> Result<(), EngineError> {
        let now = self.now();
        let expires_in = verdict.approval_expires_in_secs.unwrap_or(3600);
        let mut args = call.args.clone();
        self.redact(&mut args);
        let mut verdict = verdict.clone();
        crate::engine::redact_verdict(&call.args, &args, &mut verdict);
        let verdict = &verdict;
        let action = self.policy().actions.get(&call.action).cloned();
        let suspicious: Vec<Value> = verdict
            .reasons
            .iter()
            .filter(|r| r.stage == Stage::DataFlow)
            .filter_map(|r| r.field.as_deref().map(|field| (field, r)))
            .map(|(field, r)| {
                let value = aecl_core::path::FieldPath::parse(field)
                    .map(|path| path.values(&args).into_iter().cloned().collect::<Vec<_>>())
                    .unwrap_or_default();
                json!({ "field": field, "values": value, "why": r.message })
            })
            .collect();
        let body = json!({
            "call": {
                "id": call.id,
                "run": call.run,
                "agent": call.agent,
                "action": call.action,
                "args": args,
            },
            "verdict": aecl_protocol::Verdict::from(verdict),
            "suspicious": suspicious,
            "history": self.history_for_approver(history),
            "summary": summary(action.as_deref(), &args),
            // What a rejection's cool-down is kept for (`cooldown.rs`).
            "cooldown_key": call.cooldown_digest(),
            "approvals_required": action.as_ref().map_or(1, |a| a.approval.approvals_required),
        });
        let approval = Approval {
            id,
            run: call.run.clone(),
            call_id: call.id.clone(),
            agent: call.agent.clone(),
            action: call.action.clone(),
            call_digest: call.digest(),
            policy_revision: verdict.policy_revision.clone(),
            status: ApprovalStatus::Pending,
            requested: now,
            expires: Timestamp(now.0.saturating_add(expires_in.saturating_mul(1000))),
            decided_by: None,
            reason: None,
            body,
        };
        let approval = self.sealed(approval);
        // INVARIANT: asking again for a call voids its older unspent grants and closes its
        // request still pending under another revision, in the transaction that files the
        // new request: the answer to this question is the one that holds.
        let why = format!("this call was asked again (request `{}`)", approval.id);
        let superseded =
            self.store().file_approval(approval.clone(), self.voiding(why.clone())).await?;
        self.record_voids(&superseded.grants, &VoidedFor::approval(&approval), &why).await?;
        for closed in &superseded.requests {
            self.record_resolution(closed, ApprovalStatus::Expired, "aecl", Some(&why)).await?;
        }
        if let Some(notifier) = self.notifier() {
            notifier.approval_requested(&approval);
        }
        Ok(())
    }

    /// The last events of a run, redacted and with long outputs shortened.
    fn history_for_approver(&self, history: &[RunEvent]) -> Vec<Value> {
        let skip = history.len().saturating_sub(HISTORY_LIMIT);
        history
            .iter()
            .skip(skip)
            .map(|event| {
                let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
                self.redact(&mut value);
                // An output is a string, or a structure of strings (an MCP result, content
                // shown beside one): each long one is shortened.
                for key in ["output", "content"] {
                    if let Some(output) = value.get_mut(key) {
                        shorten(output);
                    }
                }
                value
            })
            .collect()
    }

    /// The request `id`, if an approver named `approver` may still decide it.
    async fn open_approval(&self, id: &str, approver: &str) -> Result<Approval, EngineError> {
        let approval =
            self.approval(id).await?.ok_or_else(|| EngineError::ApprovalNotFound(id.to_owned()))?;
        // INVARIANT: a request is answered only as it was filed: one whose terms (its
        // agent above all) were written into the store by hand is refused, so nobody
        // approves their own call by renaming its agent, and no signed answer names
        // another agent than the decision that asked (`seal.rs`).
        if let Some(key) = &self.config().grant_key
            && !seal::request_is_sealed(key, &approval)
        {
            return Err(EngineError::ApprovalUnsigned(id.to_owned()));
        }
        // INVARIANT: nobody approves a call made with their own identity, however spelt.
        if same_person(&approval.agent, approver) {
            return Err(EngineError::SelfApproval {
                id: id.to_owned(),
                approver: approver.to_owned(),
            });
        }
        if approval.status != ApprovalStatus::Pending {
            return Err(EngineError::ApprovalClosed {
                id: id.to_owned(),
                status: approval.status.as_str(),
            });
        }
        Ok(approval)
    }

    /// The error for a request another approver resolved first.
    async fn closed(&self, id: &str) -> EngineError {
        match self.store().approval(id).await {
            Ok(Some(approval)) => {
                EngineError::ApprovalClosed { id: id.to_owned(), status: approval.status.as_str() }
            }
            Ok(None) => EngineError::ApprovalNotFound(id.to_owned()),
            Err(error) => error.into(),
        }
    }

    async fn expire(&self, approval: &Approval) -> Result<(), EngineError> {
        let reason = Some("no approver answered before the request expired");
        if self
            .store()
            .resolve_approval(&approval.id, ApprovalStatus::Expired, "aecl", reason)
            .await?
        {
            self.record_resolution(approval, ApprovalStatus::Expired, "aecl", reason).await?;
        }
        Ok(())
    }

    /// The audit record of an answer to a request: who, what, and why.
    async fn record_resolution(
        &self,
        approval: &Approval,
        status: ApprovalStatus,
        by: &str,
        reason: Option<&str>,
    ) -> Result<(), EngineError> {
        self.record_resolution_by(approval, status, by, &[], reason).await
    }

    /// [`Engine::record_resolution`] naming each of a quorum's `approvers` in `input`, so
    /// that the log shows a vote for each but the last (`story.rs`).
    pub(crate) async fn record_resolution_by(
        &self,
        approval: &Approval,
        status: ApprovalStatus,
        by: &str,
        approvers: &[String],
        reason: Option<&str>,
    ) -> Result<(), EngineError> {
        let mut record = self.record(RecordKind::Approval, &approval.agent, &approval.run);
        record.call_id.clone_from(&approval.call_id);
        record.action.clone_from(&approval.action);
        record.call_digest = approval.call_digest.clone();
        record.policy_revision = approval.policy_revision.clone();
        record.approval_id = Some(approval.id.clone());
        record.input = json!({ "status": status.as_str(), "by": by, "reason": reason });
        if approvers.len() > 1 {
            record.input["approvers"] = json!(approvers);
        }
        self.store().append_audit(record).await?;
        let waited_ms = self.now().0.saturating_sub(approval.requested.0);
        crate::observe::approval_answered(
            self.observer(),
            &crate::observe::ApprovalAnswered { approval, status, by, waited_ms },
        );
        Ok(())
    }
}

/// Cuts every string in `value` longer than [`OUTPUT_LIMIT`] characters.
fn shorten(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Some((cut, _)) = text.char_indices().nth(OUTPUT_LIMIT) {
                text.truncate(cut);
                text.push_str(" [...]");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(shorten),
        Value::Object(fields) => fields.values_mut().for_each(shorten),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The arguments an approver sees in the list: the action's `summary` paths, else its
/// control arguments, and its money amount in any case, each with its values in the
/// (redacted) arguments. "Approve and allow similar" bounds every one of them, so the
/// amount is always among them: a grant made from a 100 EUR transfer to one IBAN allowed
/// 400,000 to the same IBAN (red team, 2026-11-28).
fn summary(action: Option<&aecl_core::policy::ActionSpec>, args: &Value) -> Vec<Value> {
    let Some(action) = action else { return Vec::new() };
    let mut paths: Vec<&aecl_core::path::FieldPath> = if action.approval.summary.is_empty() {
        action.args.iter().filter(|a| a.control).map(|a| &a.path).collect()
    } else {
        action.approval.summary.iter().collect()
    };
    // Only when the call gives one: an argument without values would keep the form from
    // being offered at all.
    if let Some(amount) = &action.amount_arg
        && !paths.contains(&amount)
        && !amount.values(args).is_empty()
    {
        paths.push(amount);
    }
    paths
        .into_iter()
        .map(|path| {
            let values: Vec<&Value> = path.values(args);
            json!({ "arg": path.to_string(), "values": values })
        })
        .collect()
}
