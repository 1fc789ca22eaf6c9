//! What the signed log says happened, held against what the engine lets happen.
//!
//! The audit log's signatures and checkpoints prove its records were not changed; they
//! say nothing of the state beside it that the engine acts on: whether a single-use grant
//! is spent, how many uses a standing grant has left, whether a call already ran. A
//! database writer without the key who resets that state makes the engine act twice, and
//! every record it then writes is genuinely signed (red team round 21, audit F1: a
//! one-use standing grant used three times, a spent approval used again, a call executed
//! again after its ledger rows were deleted). The log still tells: `aecl audit verify`
//! reads it through a [`Story`], which finds
//!
//! - a call (run and call id) that two ledger entries executed: aecl runs a call once, and
//!   a retry under its id is answered from the first execution's effect;
//! - an approval request whose grant lifted two decisions: a grant is spent once;
//! - a standing grant used more times than its signed terms allow.
//!
//! Each is a fact of the log alone, true of every log the engine writes whatever the
//! interleaving of its replicas, so a finding is tampering (or a bug), never load.
//! Pure: records in, findings out.

use std::collections::{HashMap, hash_map::Entry};

use aecl_audit::{AuditRecord, Outcome, RecordKind};
use aecl_core::{Decision, Mode};
use sha2::{Digest as _, Sha256};

/// A fact of the log that the engine never writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The record that made the story impossible.
    pub seq: u64,
    pub message: String,
}

/// Reads a log's records in order and keeps what the checks need: 16 bytes of digest per
/// executed call, and one entry per approval request and standing grant used.
#[derive(Debug, Default)]
pub struct Story {
    /// Per (run, call id): the ledger entry that executed it, and the record saying so.
    executed: HashMap<[u8; 16], ([u8; 16], u64)>,
    /// Per approval request whose grant lifted a decision: that decision's record.
    granted: HashMap<String, u64>,
    /// Per standing grant: its signed number of uses, once its creation is read.
    standing_max: HashMap<String, u32>,
    /// Per standing grant: the decisions it lifted.
    standing_used: HashMap<String, Vec<u64>>,
    findings: Vec<Finding>,
}

impl Story {
    pub fn new() -> Story {
        Story::default()
    }

    /// Takes in the next record of the log.
    pub fn read(&mut self, record: &AuditRecord) {
        match record.kind {
            RecordKind::Outcome => self.outcome(record),
            RecordKind::Decision => self.decision(record),
            RecordKind::Approval => self.standing_created(record),
            _ => {}
        }
    }

    /// Takes in the next record of the log in its canonical bytes, decoding only those a
    /// check reads (the bytes are canonical JSON, so each key and value has one spelling).
    /// A record that does not decode is the signature check's to report.
    pub fn read_canonical(&mut self, bytes: &[u8]) {
        let has = |needle: &str| memchr::memmem::find(bytes, needle.as_bytes()).is_some();
        let wanted = if has(r#""kind":"outcome""#) {
            !has(r#""effect_id":null"#)
        } else if has(r#""kind":"decision""#) {
            has(r#""rule":"approval.granted""#) || has(r#""rule":"approval.standing_grant""#)
        } else {
            has(r#""kind":"approval""#) && has(r#""standing_grant":"created""#)
        };
        if wanted && let Ok(record) = AuditRecord::from_canonical(bytes) {
            self.read(&record);
        }
    }

    /// The findings, once every record is read.
    pub fn finish(mut self) -> Vec<Finding> {
        for (id, uses) in &self.standing_used {
            let Some(&max) = self.standing_max.get(id) else { continue };
            if let Some(&seq) = uses.get(max as usize) {
                self.findings.push(Finding {
                    seq,
                    message: format!(
                        "standing grant `{id}` lifted {} decisions; its signed terms allow \
                         {max} use(s): its count of uses in the store was reset",
                        uses.len()
                    ),
                });
            }
        }
        self.findings.sort_by_key(|f| f.seq);
        self.findings
    }

    fn outcome(&mut self, record: &AuditRecord) {
        // A dry run's simulation runs nothing; an outcome with no ledger entry is a
        // withheld read's, whose call ran under its decision's entry.
        let Some(effect) = &record.effect_id else { return };
        if record.outcome == Some(Outcome::Simulated) {
            return;
        }
        let call = short_digest(&[&record.run, &record.call_id]);
        let effect = short_digest(&[effect]);
        match self.executed.entry(call) {
            Entry::Vacant(slot) => {
                slot.insert((effect, record.seq));
            }
            // The same entry's later outcomes (a recovery's `outcome_unknown`, then what
            // reconciliation found) are one execution.
            Entry::Occupied(first) if first.get().0 == effect => {}
            Entry::Occupied(first) => self.findings.push(Finding {
                seq: record.seq,
                message: format!(
                    "call `{}` of run `{}` executed a second time (first at record {}): aecl \
                     runs a call once, so its ledger entry or run history was removed from the \
                     store",
                    record.call_id,
                    record.run,
                    first.get().1
                ),
            }),
        }
    }

    fn decision(&mut self, record: &AuditRecord) {
        if record.decision != Some(Decision::Allow) || record.mode != Some(Mode::Enforce) {
            return;
        }
        for reason in &record.reasons {
            match reason.rule.as_ref() {
                "approval.granted" => {
                    let Some(approval) = &record.approval_id else { continue };
                    if let Some(first) = self.granted.insert(approval.clone(), record.seq) {
                        self.findings.push(Finding {
                            seq: record.seq,
                            message: format!(
                                "the grant of approval request `{approval}` lifted a second \
                                 decision (the first at record {first}): a grant is spent \
                                 once, so its spending was undone in the store"
                            ),
                        });
                    }
                }
                "approval.standing_grant" => {
                    if let Some(id) = crate::standing::grant_named(&reason.message) {
                        self.standing_used.entry(id.to_owned()).or_default().push(record.seq);
                    }
                }
                _ => {}
            }
        }
    }

    fn standing_created(&mut self, record: &AuditRecord) {
        let input = &record.input;
        if input.get("standing_grant").and_then(|v| v.as_str()) != Some("created") {
            return;
        }
        let terms = input.get("terms");
        let id = terms.and_then(|t| t.get("id")).and_then(|v| v.as_str());
        let max = terms.and_then(|t| t.get("max_uses")).and_then(|v| v.as_u64());
        if let (Some(id), Some(max)) = (id, max) {
            self.standing_max.insert(id.to_owned(), u32::try_from(max).unwrap_or(u32::MAX));
        }
    }
}

/// The first 16 bytes of the SHA-256 of `parts`, each ended by a NUL (no id holds one).
fn short_digest(parts: &[&str]) -> [u8; 16] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let full = hasher.finalize();
    let mut short = [0; 16];
    short.copy_from_slice(&full[..16]);
    short
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use aecl_core::{CallDigest, Reason, Revision, Stage, Timestamp};
    use serde_json::{Value, json};

    use super::*;

    fn record(seq: u64, kind: RecordKind, call_id: &str) -> AuditRecord {
        AuditRecord {
            seq,
            kind,
            event_id: format!("e{seq}"),
            time: Timestamp(seq),
            agent: "worker".into(),
            run: "r1".into(),
            call_id: call_id.into(),
            action: "pay".into(),
            call_digest: CallDigest("ab".repeat(32)),
            input: Value::Null,
            policy_revision: Revision("rev".into()),
            mode: None,
            decision: None,
            risk_score: 0.0,
            reasons: Vec::new(),
            outcome: None,
            output: Value::Null,
            latency_ms: 0,
            sandbox_id: None,
            approval_id: None,
            effect_id: None,
            rollback_token: None,
        }
    }

    fn outcome(seq: u64, call_id: &str, effect: &str, outcome: Outcome) -> AuditRecord {
        let mut r = record(seq, RecordKind::Outcome, call_id);
        r.effect_id = Some(effect.into());
        r.outcome = Some(outcome);
        r
    }

    fn lifted(
        seq: u64,
        call_id: &str,
        rule: &'static str,
        approval: Option<&str>,
        message: &str,
    ) -> AuditRecord {
        let mut r = record(seq, RecordKind::Decision, call_id);
        r.mode = Some(Mode::Enforce);
        r.decision = Some(Decision::Allow);
        r.approval_id = approval.map(str::to_owned);
        r.reasons.push(Reason {
            stage: Stage::Approval,
            rule: Cow::Borrowed(rule),
            decision: Decision::Allow,
            field: None,
            message: message.to_owned(),
        });
        r
    }

    fn story(records: &[AuditRecord]) -> Vec<Finding> {
        let mut story = Story::new();
        for r in records {
            // Both ways in: decoded, and from the canonical bytes as `aecl audit verify`
            // reads them, must tell the same.
            story.read(r);
        }
        let mut from_bytes = Story::new();
        for r in records {
            from_bytes.read_canonical(&r.to_canonical().unwrap());
        }
        let findings = story.finish();
        assert_eq!(findings, from_bytes.finish());
        findings
    }

    #[test]
    fn what_the_engine_writes_tells_nothing() {
        let standing = "standing grant `s1` by alice covers this call (use 1 of 2)";
        let mut created = record(0, RecordKind::Approval, "");
        created.input =
            json!({ "standing_grant": "created", "terms": { "id": "s1", "max_uses": 2 } });
        let mut withheld = record(4, RecordKind::Outcome, "c1");
        withheld.outcome = Some(Outcome::Succeeded);
        let mut replay = lifted(6, "c1", "replay.call_id", None, "already executed");
        replay.reasons[0].stage = Stage::Replay;
        let found = story(&[
            created,
            lifted(1, "c1", "approval.granted", Some("a1"), "a human approved"),
            // A recovery's `outcome_unknown`, then what reconciliation found: one effect.
            outcome(2, "c1", "e1", Outcome::OutcomeUnknown),
            outcome(3, "c1", "e1", Outcome::Succeeded),
            withheld,
            // A dry run simulates under the same id; another run has its own `c1`.
            outcome(5, "c1", "e2", Outcome::Simulated),
            replay,
            lifted(7, "c2", "approval.standing_grant", None, standing),
            lifted(8, "c3", "approval.standing_grant", None, standing),
            {
                let mut other = outcome(9, "c1", "e3", Outcome::Failed);
                other.run = "r2".into();
                other
            },
        ]);
        assert_eq!(found, Vec::new());
    }

    #[test]
    fn a_second_execution_a_second_use_of_a_grant_and_an_extra_standing_use_are_found() {
        let standing =
            |n: u32| format!("standing grant `s1` by alice covers this call (use {n} of 1)");
        let mut created = record(0, RecordKind::Approval, "");
        created.input =
            json!({ "standing_grant": "created", "terms": { "id": "s1", "max_uses": 1 } });
        let found = story(&[
            created,
            outcome(1, "c1", "e1", Outcome::Succeeded),
            outcome(2, "c1", "e2", Outcome::Failed),
            lifted(3, "c2", "approval.granted", Some("a1"), "a human approved"),
            lifted(4, "c3", "approval.granted", Some("a1"), "a human approved"),
            lifted(5, "c4", "approval.standing_grant", None, &standing(1)),
            // The reset count says "use 1 of 1" again.
            lifted(6, "c5", "approval.standing_grant", None, &standing(1)),
        ]);
        let seqs: Vec<u64> = found.iter().map(|f| f.seq).collect();
        assert_eq!(seqs, [2, 4, 6], "{found:#?}");
        assert!(found[0].message.contains("executed a second time (first at record 1)"));
        assert!(found[1].message.contains("`a1` lifted a second decision"));
        assert!(found[2].message.contains("lifted 2 decisions; its signed terms allow 1"));
    }
}
