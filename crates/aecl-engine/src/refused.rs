//! Refusals front ends make outside the policy, recorded so that the audit log shows
//! them: a call refused for a reason of the front end's own (the MCP gateway's pinned tool
//! definitions) is a decision like any policy block ([`Engine::record_block`]); a request
//! refused before any decision (`Engine::record_refusal`) is a `refusal` record, which
//! [`RefusalAudit`] rate-limits per caller for every front end (the HTTP API, the MCP
//! gateway), so a flood of bad requests cannot fill the log.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aecl_audit::RecordKind;
use aecl_core::limits::{RateLimit, gcra};
use aecl_core::{Call, Decision, Mode, Reason, Stage, Timestamp};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::Store;

impl<S: Store> Engine<S> {
    /// Appends a `block` decision record of `call` with one reason, `rule` saying
    /// `message`, in the manifest stage. Nothing is executed and the run's history is left
    /// as it is: the policy never decided the call. Returns the record's sequence number.
    pub async fn record_block(
        &self,
        call: &Call,
        rule: &str,
        message: &str,
    ) -> Result<u64, EngineError> {
        self.record_refused_call(call, Stage::Manifest, rule, message).await
    }

    /// [`Engine::record_block`] for a reason of `stage`: the engine's own refusals of a
    /// call before its decision (an idempotency key reused for another call).
    pub(crate) async fn record_refused_call(
        &self,
        call: &Call,
        stage: Stage,
        rule: &str,
        message: &str,
    ) -> Result<u64, EngineError> {
        let mut record = self.record(RecordKind::Decision, &call.agent, &call.run);
        record.call_id.clone_from(&call.id);
        record.action.clone_from(&call.action);
        record.call_digest = call.digest();
        record.input = call.args.clone();
        self.redact(&mut record.input);
        // Enforced whatever the manifest's mode: the front end did refuse the call, and a
        // monitor-mode block would read as "allowed, would have blocked".
        record.mode = Some(Mode::Enforce);
        record.decision = Some(Decision::Block);
        record.reasons = vec![Reason {
            stage,
            rule: rule.to_owned().into(),
            decision: Decision::Block,
            field: None,
            message: message.to_owned(),
        }];
        crate::engine::redact_reasons(&call.args, &record.input, &mut record.reasons);
        Ok(self.store().append_audit(record).await?)
    }
}

/// Audit records of refused requests per named caller (token subject) per minute.
pub const AGENT_REFUSAL_AUDIT_RATE: RateLimit = RateLimit { count: 60, per_ms: 60_000, burst: 20 };

/// Per-caller token buckets for refusal audit records, with the count of records each
/// bucket suppressed since it last admitted one.
#[derive(Debug)]
pub struct RefusalAudit {
    named: RateLimit,
    anonymous: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    tat: Option<u64>,
    suppressed: u64,
}

/// Above this many tracked callers, idle ones with nothing suppressed are forgotten.
const PRUNE_ABOVE: usize = 10_000;

impl RefusalAudit {
    /// `named` per token subject; `anonymous` shared by every request without a valid
    /// token.
    pub fn new(named: RateLimit, anonymous: RateLimit) -> RefusalAudit {
        RefusalAudit { named, anonymous, buckets: Mutex::new(HashMap::new()) }
    }

    /// Admits one refusal record of `subject` (empty: anonymous) at `now`: the number of
    /// records suppressed before it, or `None` when this one is suppressed too.
    pub fn admit(&self, subject: &str, now: Timestamp) -> Option<u64> {
        let limit = if subject.is_empty() { &self.anonymous } else { &self.named };
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| b.suppressed > 0 || b.tat.is_some_and(|tat| tat > now.0));
        }
        let bucket = buckets.entry(subject.to_owned()).or_default();
        match gcra(limit, bucket.tat, now.0) {
            Ok(tat) => {
                bucket.tat = Some(tat);
                Some(std::mem::take(&mut bucket.suppressed))
            }
            Err(_) => {
                bucket.suppressed = bucket.suppressed.saturating_add(1);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_caller_has_its_bucket_and_learns_how_many_were_suppressed() {
        let limit = RateLimit { count: 2, per_ms: 1000, burst: 2 };
        let audit = RefusalAudit::new(limit, limit);
        let now = Timestamp(1_000_000);
        assert_eq!(audit.admit("a", now), Some(0));
        assert_eq!(audit.admit("a", now), Some(0));
        assert_eq!(audit.admit("a", now), None);
        assert_eq!(audit.admit("a", now), None);
        assert_eq!(audit.admit("b", now), Some(0), "another caller is not held back");
        assert_eq!(audit.admit("", now), Some(0), "anonymous has its own bucket");
        assert_eq!(audit.admit("a", Timestamp(now.0 + 500)), Some(2), "two were suppressed");
        assert_eq!(audit.admit("a", Timestamp(now.0 + 1000)), Some(0));
    }
}
