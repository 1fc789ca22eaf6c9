//! Voided grants: the latest human answer about a call is the one that holds, and a call
//! runs at most once per approval.
//!
//! A grant is bound to one call (its digest) and spent once; but one call can be asked
//! about more than once: after a policy change its grant is unusable and the call asks
//! again, and an approver may answer the newer request either way. Were the older grant
//! left unspent, the policy returning to the older revision would let the call run on it:
//! a second run after the newer approval ran it (the red team's F6), or a run against the
//! newer rejection (F5). So every older unspent grant of the call is voided, durably and in
//! the same transaction, when a new request for the call is filed
//! ([`Store::file_approval`](crate::store::Store::file_approval)), when a request of the
//! call is answered ([`Store::answer_approval`](crate::store::Store::answer_approval)),
//! and when the grant is found unusable (past its expiry, or under another policy
//! revision): a grant that could not be used once is never usable later. Each void is an
//! audit record naming the grant, its request and why.

use aecl_audit::RecordKind;
use serde_json::json;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::{Approval, Grant, Store, Voiding};

/// Whose call a void concerns, for its audit records.
pub(crate) struct VoidedFor<'a> {
    pub agent: &'a str,
    pub run: &'a str,
    pub call_id: &'a str,
    pub action: &'a str,
}

impl<'a> VoidedFor<'a> {
    pub(crate) fn approval(approval: &'a Approval) -> VoidedFor<'a> {
        VoidedFor {
            agent: &approval.agent,
            run: &approval.run,
            call_id: &approval.call_id,
            action: &approval.action,
        }
    }

    pub(crate) fn call(call: &'a aecl_core::Call) -> VoidedFor<'a> {
        VoidedFor { agent: &call.agent, run: &call.run, call_id: &call.id, action: &call.action }
    }
}

impl<S: Store> Engine<S> {
    /// A voiding now, for `why`.
    pub(crate) fn voiding(&self, why: String) -> Voiding {
        Voiding { at: self.now(), why }
    }

    /// One audit record per grant in `voided`, voided for `why`.
    pub(crate) async fn record_voids(
        &self,
        voided: &[Grant],
        of: &VoidedFor<'_>,
        why: &str,
    ) -> Result<(), EngineError> {
        for grant in voided {
            let mut record = self.record(RecordKind::Approval, of.agent, of.run);
            record.call_id = of.call_id.to_owned();
            record.action = of.action.to_owned();
            record.call_digest = grant.call_digest.clone();
            record.policy_revision = grant.policy_revision.clone();
            record.approval_id.clone_from(&grant.approval_id);
            record.input = json!({
                "grant_voided": {
                    "grant": grant.id,
                    "approval": grant.approval_id,
                    "policy_revision": grant.policy_revision.0,
                    "why": why,
                }
            });
            self.store().append_audit(record).await?;
        }
        Ok(())
    }
}
