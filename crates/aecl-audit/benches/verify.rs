//! Verification speed: records per second through `verify_log_with` (decode, canonical
//! check, chain link, Merkle leaf, checkpoints), on one thread and on every core, beside
//! the baseline of merely hashing the same bytes with SHA-256 once in the same run.
//!
//! `cargo bench -p aecl-audit --bench verify` verifies 500,000 records; under
//! `cargo test --benches` it verifies 2,000 so the suite only checks that it works.

use std::hint::black_box;
use std::time::Instant;

use aecl_audit::{
    AuditRecord, LogState, RecordKind, SignerKey, StoredRecord, VerifyOptions, sign_checkpoint,
    verify_log_with,
};
use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Decision, Mode, Reason, Stage, Timestamp};
use serde_json::json;
use sha2::{Digest, Sha256};

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        seq: 0,
        kind: RecordKind::Decision,
        event_id: format!("0193a8c2-7f1e-7c3a-9d4b-{i:012x}"),
        time: Timestamp(1_764_000_000_000 + i),
        agent: "finance_agent".into(),
        run: format!("r-{}", i / 50),
        call_id: format!("c{i}"),
        action: "transfer_funds".into(),
        call_digest: CallDigest(format!("{i:064x}")),
        input: json!({"recipient": "GB33BUKB20201555555555", "amount": i % 5000, "memo": "invoice INV-7781"}),
        policy_revision: Revision("5d9c1e0a7b3f".into()),
        mode: Some(Mode::Enforce),
        decision: Some(Decision::RequireApproval),
        risk_score: 0.55,
        reasons: vec![Reason {
            stage: Stage::DataFlow,
            rule: "data_flow.untrusted_control_argument".into(),
            decision: Decision::RequireApproval,
            field: Some("recipient".into()),
            message: "`recipient` appears only in untrusted content (c3 read_email.body)".into(),
        }],
        outcome: None,
        output: serde_json::Value::Null,
        latency_ms: 0,
        sandbox_id: None,
        approval_id: None,
        effect_id: None,
        rollback_token: None,
    }
}

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: u64 = if full { 500_000 } else { 2_000 };
    let key = SignerKey::from_seed("bench.aecl/audit", [9; 32]).unwrap();
    let mut log = LogState::new();
    let mut records: Vec<StoredRecord> = Vec::with_capacity(n as usize);
    let mut checkpoints = Vec::new();
    for i in 0..n {
        let appended = log.append(&mut record(i)).unwrap();
        records.push((appended.seq, appended.canonical, appended.chain_hash));
        // A checkpoint per 256 records, as a busy group commit would write.
        if (i + 1) % 256 == 0 || i + 1 == n {
            checkpoints
                .push(sign_checkpoint(&log.checkpoint("bench.aecl/audit", None), &key).unwrap());
        }
    }
    let bytes: usize = records.iter().map(|r| r.1.len()).sum();
    let verifier = key.verifier();

    let started = Instant::now();
    for r in &records {
        black_box(Sha256::digest(&r.1));
    }
    let baseline = n as f64 / started.elapsed().as_secs_f64();

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "{n} records, {:.0} bytes each on average, {} checkpoints",
        bytes as f64 / n as f64,
        checkpoints.len()
    );
    println!("{:<34} {:>14} {:>12}", "case", "records/s", "vs sha256");
    println!("{:<34} {:>14.0} {:>12.2}", "baseline: sha256 of each record", baseline, 1.0);
    for threads in [1, cores] {
        let options = VerifyOptions { threads, ..VerifyOptions::default() };
        // The records arrive owned, as a store's reader hands them over.
        let owned = records.clone();
        let started = Instant::now();
        let report = verify_log_with(owned, &checkpoints, &verifier, &options);
        let rate = n as f64 / started.elapsed().as_secs_f64();
        assert_eq!(report.problem, None);
        println!(
            "{:<34} {:>14.0} {:>12.2}",
            format!("verify_log, {threads} thread(s)"),
            rate,
            rate / baseline
        );
    }
}
