//! Which request an executed call that needs approval waits on: a pending one of the same
//! call, none when the same call was rejected within the policy's cool-down (the call is
//! answered `rejected` with the first rejection's reason, and nobody is asked again, so a
//! looping agent cannot flood approvers), or a new one. And the other side: requests made
//! moot when their call went ahead are closed, so no request stays pending for a call
//! that has run.
//!
//! A rejection's cool-down is kept as a row of the approvals table of its own (status
//! `rejected`, requested at the rejection, expiring when the cool-down ends, its body
//! naming the rejected request), because a request records when it was made but not when
//! it was answered. Lists never show these rows. It is found by the call's digest
//! ([`Store::rejections_for`]), never among the newest rows of every call: other requests,
//! however many and from whichever agent, cannot push a rejection out of sight. The digest
//! is the cool-down's own (`Call::cooldown_digest`): the agent, the action and the
//! arguments by value, in any run, so that a new run id or `5.0` for `5` is not a new call
//! to ask about.

use std::borrow::Cow;

use aecl_core::policy::DEFAULT_REJECTED_COOLDOWN_SECS;
use aecl_core::{CallDigest, Decision, Reason, Revision, Stage, Timestamp, Verdict};
use serde_json::json;

use crate::engine::{Engine, new_id};
use crate::error::EngineError;
use crate::store::{Approval, ApprovalStatus, Store};

/// The key of a cool-down row's body that names the rejected request.
const COOLDOWN_OF: &str = "cooldown_of";

/// Pending requests of one call closed at most when it went ahead (one per round): a
/// bound keeps a store that keeps answering from looping.
const MAX_CLOSED: usize = 500;

/// Whether `approval` is a cool-down row rather than a request.
pub(crate) fn is_cooldown(approval: &Approval) -> bool {
    approval.body.get(COOLDOWN_OF).is_some()
}

impl<S: Store> Engine<S> {
    /// The request a `require_approval` call with `digest` waits on, and whether it is
    /// new (to be written after the decision record): a pending one of the same call, or a
    /// new one. Asked after [`Engine::refuse_rejected`].
    pub(crate) async fn approval_for(
        &self,
        digest: &CallDigest,
        verdict: &Verdict,
        now: Timestamp,
    ) -> Result<(String, bool), EngineError> {
        let pending =
            self.store().pending_approval_for(digest, &verdict.policy_revision, now).await?;
        Ok(match pending {
            Some(id) => (id, false),
            None => (new_id(), true),
        })
    }

    /// A call with `digest` rejected within its cool-down becomes a block here, naming
    /// the rejected request (returned). Asked before any grant can lift the call: a
    /// standing grant given since does not undo a human's rejection of this exact call.
    pub(crate) async fn refuse_rejected(
        &self,
        digest: &CallDigest,
        action: &str,
        verdict: &mut Verdict,
        now: Timestamp,
    ) -> Result<Option<String>, EngineError> {
        let Some(row) = self.rejected_recently(digest, action, now).await? else {
            return Ok(None);
        };
        let rejected = row.body[COOLDOWN_OF].as_str().unwrap_or("-").to_owned();
        let minutes = now.0.saturating_sub(row.requested.0) / 60_000;
        let left = row.expires.0.saturating_sub(now.0).div_ceil(1000);
        verdict.decision = Decision::Block;
        verdict.reasons.push(Reason {
            stage: Stage::Approval,
            rule: Cow::Borrowed("approval.rejected"),
            decision: Decision::Block,
            field: None,
            message: format!(
                "{} rejected this exact call {minutes} min ago (request `{rejected}`): {}; \
                 it is refused without asking anyone for {left} s more (`rejected_cooldown`)",
                row.decided_by.as_deref().unwrap_or("an approver"),
                row.reason.as_deref().unwrap_or("no reason given"),
            ),
        });
        Ok(Some(rejected))
    }

    /// Starts the cool-down of the call of `approval`, just rejected by `by`.
    pub(crate) async fn start_cooldown(
        &self,
        approval: &Approval,
        by: &str,
        reason: &str,
    ) -> Result<(), EngineError> {
        let secs = self.cooldown_secs(&approval.action);
        if secs == 0 {
            return Ok(());
        }
        let now = self.now();
        // Kept for the agent, action and arguments in any run (`Call::cooldown_digest`);
        // a request filed before that key existed keeps its call's digest.
        let key = approval.body.get("cooldown_key").and_then(|k| k.as_str());
        let row = Approval {
            id: new_id(),
            run: approval.run.clone(),
            call_id: approval.call_id.clone(),
            agent: approval.agent.clone(),
            action: approval.action.clone(),
            call_digest: key
                .map_or_else(|| approval.call_digest.clone(), |k| CallDigest(k.to_owned())),
            policy_revision: approval.policy_revision.clone(),
            status: ApprovalStatus::Rejected,
            requested: now,
            expires: Timestamp(now.0.saturating_add(secs.saturating_mul(1000))),
            decided_by: Some(by.to_owned()),
            reason: Some(reason.to_owned()),
            body: json!({ COOLDOWN_OF: approval.id }),
        };
        self.store().put_approval(row).await?;
        Ok(())
    }

    /// The cool-down row in force for the call with `digest`, if any. The cool-down is
    /// the shorter of the one given at the rejection and the policy's now.
    async fn rejected_recently(
        &self,
        digest: &CallDigest,
        action: &str,
        now: Timestamp,
    ) -> Result<Option<Approval>, EngineError> {
        let secs = self.cooldown_secs(action);
        if secs == 0 {
            return Ok(None);
        }
        let window_ms = secs.saturating_mul(1000);
        // Made within the policy's cool-down: `now < requested + window`, that is
        // `requested >= now + 1 - window`.
        let since = Timestamp(now.0.saturating_add(1).saturating_sub(window_ms));
        let rows = self.store().rejections_for(digest, since, now).await?;
        // The store's conditions checked again, and the one it cannot check: only the
        // engine reads a row's body, which tells a cool-down row from a rejected request.
        Ok(rows.into_iter().find(|row| {
            is_cooldown(row)
                && row.call_digest == *digest
                && row.status == ApprovalStatus::Rejected
                && now < row.expires
                && now.0 < row.requested.0.saturating_add(window_ms)
        }))
    }

    /// The policy's cool-down of `action`, in seconds (0: none).
    fn cooldown_secs(&self, action: &str) -> u64 {
        self.policy()
            .actions
            .get(action)
            .map_or(DEFAULT_REJECTED_COOLDOWN_SECS, |a| a.approval.rejected_cooldown_secs)
    }

    /// Closes every request still pending for the call with `digest` under `revision`
    /// but `except`: the call went ahead (approved through `except`, or lifted by a
    /// standing grant), so nobody needs to answer them.
    pub(crate) async fn close_superseded(
        &self,
        digest: &CallDigest,
        revision: &Revision,
        except: Option<&str>,
    ) -> Result<(), EngineError> {
        let why = match except {
            Some(id) => format!("closed: this call was approved through request `{id}`"),
            None => "closed: this call went ahead without it".to_owned(),
        };
        // Each round closes one; a bound keeps a store that keeps answering from looping.
        for _ in 0..MAX_CLOSED {
            let now = self.now();
            let Some(id) = self.store().pending_approval_for(digest, revision, now).await? else {
                return Ok(());
            };
            if Some(id.as_str()) == except {
                return Ok(());
            }
            let Some(approval) = self.store().approval(&id).await? else { return Ok(()) };
            if self
                .store()
                .resolve_approval(&id, ApprovalStatus::Expired, "aecl", Some(&why))
                .await?
            {
                self.record_resolution(&approval, ApprovalStatus::Expired, "aecl", Some(&why))
                    .await?;
            }
        }
        Ok(())
    }

    /// After a call was decided: when a grant or standing grant let it through, requests
    /// still pending for the same call are closed.
    pub(crate) async fn after_lifted(
        &self,
        verdict: &Verdict,
        digest: &CallDigest,
        approval_id: Option<&str>,
    ) -> Result<(), EngineError> {
        let lifted = verdict.decision == Decision::Allow
            && verdict
                .reasons
                .iter()
                .any(|r| r.rule == "approval.granted" || r.rule == "approval.standing_grant");
        if lifted {
            self.close_superseded(digest, &verdict.policy_revision, approval_id).await?;
        }
        Ok(())
    }
}
