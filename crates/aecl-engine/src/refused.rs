//! Calls a front end refuses for a reason of its own, found outside the policy (the MCP
//! gateway's pinned tool definitions): recorded as decisions like any policy block, so
//! the audit log shows every call that was refused and why.

use aecl_audit::RecordKind;
use aecl_core::{Call, Decision, Mode, Reason, Stage};

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
            stage: Stage::Manifest,
            rule: rule.to_owned().into(),
            decision: Decision::Block,
            field: None,
            message: message.to_owned(),
        }];
        Ok(self.store().append_audit(record).await?)
    }
}
