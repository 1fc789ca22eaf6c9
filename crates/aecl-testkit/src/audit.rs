//! What the store tests share about the audit log: the origin and key that sign
//! checkpoints, and sample records.

use aecl_audit::{AuditRecord, RecordKind, SignerKey, VerifierKey};
use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Decision, Mode, Timestamp};
use serde_json::json;

pub const ORIGIN: &str = "aecl.test/store";

pub fn signer() -> SignerKey {
    SignerKey::from_seed(ORIGIN, [0x42; 32]).unwrap()
}

pub fn verifier() -> VerifierKey {
    signer().verifier()
}

/// A decision record of producer `p`, number `i`.
pub fn record(p: usize, i: usize) -> AuditRecord {
    AuditRecord {
        seq: 0,
        kind: RecordKind::Decision,
        event_id: format!("ev-{p}-{i}"),
        time: Timestamp(1_764_000_000_000 + i as u64),
        agent: "finance".into(),
        run: format!("run-{p}"),
        call_id: format!("c{i}"),
        action: "transfer_funds".into(),
        call_digest: CallDigest(format!("{:064x}", p * 100_000 + i)),
        input: json!({"amount": i, "recipient": "GB33BUKB20201555555555"}),
        policy_revision: Revision("9f2c".into()),
        mode: Some(Mode::Enforce),
        decision: Some(Decision::Allow),
        risk_score: 0.25,
        reasons: Vec::new(),
        outcome: None,
        output: serde_json::Value::Null,
        latency_ms: 0,
        sandbox_id: None,
        approval_id: None,
        effect_id: None,
        rollback_token: None,
    }
}
