//! A small on-disk log for the tests: what a store would keep, written with `std::fs`.
//!
//! `records.log` holds one line per record, `<seq> <hex chain hash> <canonical JSON>`
//! (canonical JSON has no raw newline); `checkpoints/<n>.note` holds one signed checkpoint
//! each. Reading is total: a line that does not split into three parts, or whose fields do
//! not parse, is passed on with an impossible sequence number so that verification, not the
//! reader, reports it.

use std::fs;
use std::path::{Path, PathBuf};

use aecl_audit::{
    AuditRecord, LogState, Outcome, RecordKind, SignerKey, StoredRecord, VerifyOptions,
    VerifyReport, redact, sign_checkpoint, verify_log_with,
};
use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Decision, Mode, Reason, Stage, Timestamp};
use serde_json::json;

pub const ORIGIN: &str = "audit.example/it";

pub fn key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, [0x5a; 32]).unwrap()
}

/// Record `i` of a realistic log: decisions and the outcomes of the allowed ones.
pub fn record(i: u64) -> AuditRecord {
    let mut input = json!({
        "url": format!("https://api.example.com/v1/items/{i}"),
        "headers": {"Authorization": "Bearer sk-live-0123456789abcdef"},
        "body": {"amount": i as f64 * 1.25, "note": format!("payment {i}\nline two \"quoted\" é")},
    });
    redact(&mut input, &[]);
    let decision = i.is_multiple_of(2);
    AuditRecord {
        seq: 0,
        kind: if decision { RecordKind::Decision } else { RecordKind::Outcome },
        event_id: format!("ev-{i:06}"),
        time: Timestamp(1_764_000_000_000 + i * 17),
        agent: "finance".into(),
        run: format!("run-{}", i / 8),
        call_id: format!("c{}", i / 2),
        action: "http_post".into(),
        call_digest: CallDigest(format!("{:064x}", i / 2)),
        input,
        policy_revision: Revision("9f2c".into()),
        mode: decision.then_some(Mode::Enforce),
        decision: decision.then_some(if i.is_multiple_of(6) {
            Decision::RequireApproval
        } else {
            Decision::Allow
        }),
        risk_score: (i % 10) as f64 / 10.0,
        reasons: if decision {
            vec![Reason {
                stage: Stage::Risk,
                rule: "risk.approval_threshold".into(),
                decision: Decision::RequireApproval,
                field: None,
                message: format!("risk {} above 0.5", (i % 10) as f64 / 10.0),
            }]
        } else {
            Vec::new()
        },
        outcome: (!decision).then_some(Outcome::Succeeded),
        output: if decision { serde_json::Value::Null } else { json!({"status": 201, "id": i}) },
        latency_ms: i % 13,
        sandbox_id: (!decision).then(|| format!("sb-{i}")),
        approval_id: None,
        effect_id: (!decision).then(|| format!("ef-{i}")),
        rollback_token: (!decision).then(|| format!("undo-{i}")),
    }
}

/// The log as stored.
#[derive(Debug, Clone)]
pub struct Log {
    pub records: Vec<StoredRecord>,
    pub checkpoints: Vec<String>,
}

/// Builds a log of `n` records with a signed checkpoint after every `every` records and
/// one at the end.
pub fn build(n: u64, every: u64) -> Log {
    let key = key();
    let mut state = LogState::new();
    let mut log = Log { records: Vec::new(), checkpoints: Vec::new() };
    for i in 0..n {
        let appended = state.append(&mut record(i)).unwrap();
        log.records.push((appended.seq, appended.canonical, appended.chain_hash));
        if (i + 1) % every == 0 || i + 1 == n {
            let checkpoint = state
                .checkpoint(ORIGIN, Some(Timestamp(1_764_000_000_000 + i)))
                .following(log.checkpoints.last().map(String::as_str));
            log.checkpoints.push(sign_checkpoint(&checkpoint, &key).unwrap());
        }
    }
    log
}

pub fn records_path(dir: &Path) -> PathBuf {
    dir.join("records.log")
}

pub fn checkpoint_path(dir: &Path, n: usize) -> PathBuf {
    dir.join("checkpoints").join(format!("{n:04}.note"))
}

pub fn write(dir: &Path, log: &Log) {
    let mut text = Vec::new();
    for (seq, bytes, hash) in &log.records {
        text.extend_from_slice(format!("{seq} {} ", hex(hash)).as_bytes());
        text.extend_from_slice(bytes);
        text.push(b'\n');
    }
    fs::write(records_path(dir), text).unwrap();
    fs::create_dir_all(dir.join("checkpoints")).unwrap();
    for (n, note) in log.checkpoints.iter().enumerate() {
        fs::write(checkpoint_path(dir, n), note).unwrap();
    }
}

/// Reads the log back: the records in file order, the checkpoints in name order.
pub fn read(dir: &Path) -> (Vec<StoredRecord>, Vec<Vec<u8>>) {
    let text = fs::read(records_path(dir)).unwrap();
    let records =
        text.split(|&b| b == b'\n').filter(|line| !line.is_empty()).map(parse_line).collect();
    let mut names: Vec<PathBuf> =
        fs::read_dir(dir.join("checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let checkpoints = names.iter().map(|p| fs::read(p).unwrap()).collect();
    (records, checkpoints)
}

fn parse_line(line: &[u8]) -> StoredRecord {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let seq = parts.next().and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.parse().ok());
    let hash = parts.next().and_then(unhex);
    let bytes = parts.next().unwrap_or_default().to_vec();
    match (seq, hash) {
        (Some(seq), Some(hash)) => (seq, bytes, hash),
        _ => (u64::MAX, bytes, [0; 32]),
    }
}

pub fn verify_dir(dir: &Path, exported: Option<&[u8]>) -> VerifyReport {
    let (records, checkpoints) = read(dir);
    let options =
        VerifyOptions { exported, origin: Some(ORIGIN), threads: 2, ..VerifyOptions::default() };
    verify_log_with(records, &checkpoints, &key().verifier(), &options)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (i, pair) in text.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        if !s.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
            return None;
        }
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// The lines of the records file, for editing.
pub fn lines(dir: &Path) -> Vec<String> {
    fs::read_to_string(records_path(dir)).unwrap().lines().map(str::to_owned).collect()
}

pub fn write_lines(dir: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(records_path(dir), text).unwrap();
}
