//! What the signed log says happened, held against what the engine lets happen.
//!
//! The audit log's signatures and checkpoints prove its records were not changed; they
//! say nothing of the state beside it that the engine acts on: whether a single-use grant
//! is spent or voided, which approvers voted, how many uses a standing grant has left,
//! whether a call already ran. A database writer without the key who changes that state
//! makes the engine act, and every record it then writes is genuinely signed (red team
//! round 20, audit F1; round 21: a voided grant revived, a vote written in). The log still
//! tells: `aecl audit verify` reads it through a [`Story`], which finds
//!
//! - a call (run and call id) that two ledger entries executed: aecl runs a call once, and
//!   a retry under its id is answered from the first execution's effect;
//! - an approval request whose grant lifted two decisions (a grant is spent once), or one
//!   after the log voided it (a voided grant is never spent);
//! - an approval completing a quorum that names an approver the log holds no vote of;
//! - a standing grant used more times than its signed terms allow.
//!
//! Each is a fact of the log alone, true of every log the engine writes whatever the
//! interleaving of its replicas, so a finding is a change to the store (or a bug); one
//! exception: a process killed between storing a vote and recording it leaves a vote the
//! log does not hold. Records are read by their fields, never by searching their text
//! (round 21: an argument or an output spelling `"kind":"outcome"` hid a record). Pure:
//! records in, findings out.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, hash_map::Entry};

use aecl_audit::AuditRecord;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
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
    /// Approval requests whose grant the log says was voided, with that record.
    voided: HashMap<String, u64>,
    /// Per approval request: the people whose votes towards its quorum the log records.
    votes: HashMap<String, HashSet<String>>,
    /// Per approval request: the agent the decision that filed it names, and its record.
    asked_by: HashMap<String, (String, u64)>,
    /// Per approval request answered for good (approved, rejected, expired): how, and the
    /// record saying so.
    closed: HashMap<String, (String, u64)>,
    /// Per standing grant: its signed number of uses, once its creation is read.
    standing_max: HashMap<String, u32>,
    /// Per standing grant: the decisions it lifted.
    standing_used: HashMap<String, Vec<u64>>,
    findings: Vec<Finding>,
}

/// The fields of a record the checks read, borrowed from a decoded record or from its
/// canonical bytes.
struct Seen<'a> {
    seq: u64,
    kind: &'a str,
    agent: &'a str,
    run: &'a str,
    call_id: &'a str,
    effect_id: Option<&'a str>,
    outcome: Option<&'a str>,
    decision: Option<&'a str>,
    mode: Option<&'a str>,
    approval_id: Option<&'a str>,
    /// Each reason's rule and message.
    reasons: Vec<(&'a str, &'a str)>,
    /// `input`, for the kinds whose checks read it (approval records).
    input: Option<Cow<'a, Value>>,
}

/// A record's canonical bytes, read for [`Seen`] alone: the arguments and the output are
/// passed over unparsed (`input` kept raw), and no text inside them can pose as a field.
#[derive(Deserialize)]
struct Stored<'a> {
    seq: u64,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    agent: Cow<'a, str>,
    #[serde(borrow)]
    run: Cow<'a, str>,
    #[serde(borrow)]
    call_id: Cow<'a, str>,
    #[serde(borrow)]
    effect_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    outcome: Option<Cow<'a, str>>,
    #[serde(borrow)]
    decision: Option<Cow<'a, str>>,
    #[serde(borrow)]
    mode: Option<Cow<'a, str>>,
    #[serde(borrow)]
    approval_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reasons: Vec<StoredReason<'a>>,
    #[serde(borrow)]
    input: &'a RawValue,
}

#[derive(Deserialize)]
struct StoredReason<'a> {
    #[serde(borrow)]
    rule: Cow<'a, str>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

impl Story {
    pub fn new() -> Story {
        Story::default()
    }

    /// Takes in the next record of the log.
    pub fn read(&mut self, record: &AuditRecord) {
        let kind = record.kind.as_str();
        let seen = Seen {
            seq: record.seq,
            kind,
            agent: &record.agent,
            run: &record.run,
            call_id: &record.call_id,
            effect_id: record.effect_id.as_deref(),
            outcome: record.outcome.map(|o| o.as_str()),
            decision: record.decision.map(|d| d.as_str()),
            mode: record.mode.map(|m| m.as_str()),
            approval_id: record.approval_id.as_deref(),
            reasons: record.reasons.iter().map(|r| (r.rule.as_ref(), r.message.as_str())).collect(),
            input: (kind == "approval").then_some(Cow::Borrowed(&record.input)),
        };
        self.see(&seen);
    }

    /// Takes in the next record of the log in its canonical bytes (as `aecl audit verify`
    /// reads them, without decoding the whole record). A record that does not read is the
    /// signature check's to report.
    pub fn read_canonical(&mut self, bytes: &[u8]) {
        let Ok(stored) = serde_json::from_slice::<Stored<'_>>(bytes) else { return };
        let input = (stored.kind == "approval")
            .then(|| serde_json::from_str::<Value>(stored.input.get()).ok().map(Cow::Owned))
            .flatten();
        let seen = Seen {
            seq: stored.seq,
            kind: &stored.kind,
            agent: &stored.agent,
            run: &stored.run,
            call_id: &stored.call_id,
            effect_id: stored.effect_id.as_deref(),
            outcome: stored.outcome.as_deref(),
            decision: stored.decision.as_deref(),
            mode: stored.mode.as_deref(),
            approval_id: stored.approval_id.as_deref(),
            reasons: stored.reasons.iter().map(|r| (r.rule.as_ref(), r.message.as_ref())).collect(),
            input,
        };
        self.see(&seen);
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

    fn see(&mut self, record: &Seen<'_>) {
        match record.kind {
            "outcome" => self.outcome(record),
            "decision" => self.decision(record),
            "approval" => self.approval(record),
            _ => {}
        }
    }

    fn outcome(&mut self, record: &Seen<'_>) {
        // A dry run's simulation runs nothing; an outcome with no ledger entry is a
        // withheld read's, whose call ran under its decision's entry.
        let Some(effect) = record.effect_id else { return };
        if record.outcome == Some("simulated") {
            return;
        }
        let call = short_digest(&[record.run, record.call_id]);
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

    fn decision(&mut self, record: &Seen<'_>) {
        if record.decision == Some("require_approval")
            && let Some(approval) = record.approval_id
        {
            self.asked_by
                .entry(approval.to_owned())
                .or_insert_with(|| (record.agent.to_owned(), record.seq));
        }
        if record.decision != Some("allow") || record.mode != Some("enforce") {
            return;
        }
        for &(rule, message) in &record.reasons {
            match rule {
                "approval.granted" => {
                    let Some(approval) = record.approval_id else { continue };
                    if let Some(&voided) = self.voided.get(approval) {
                        self.findings.push(Finding {
                            seq: record.seq,
                            message: format!(
                                "the grant of approval request `{approval}` lifted a decision \
                                 after the log voided it (record {voided}): its voiding was \
                                 undone in the store"
                            ),
                        });
                    }
                    if let Some(first) = self.granted.insert(approval.to_owned(), record.seq) {
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
                    if let Some(id) = crate::standing::grant_named(message) {
                        self.standing_used.entry(id.to_owned()).or_default().push(record.seq);
                    }
                }
                _ => {}
            }
        }
    }

    /// Approval records: a standing grant's creation, a grant voided, a vote towards a
    /// quorum, and the answer that completes one.
    fn approval(&mut self, record: &Seen<'_>) {
        let Some(input) = record.input.as_deref() else { return };
        let text =
            |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        if text(input, "standing_grant").as_deref() == Some("created") {
            let terms = input.get("terms").unwrap_or(&Value::Null);
            let max = terms.get("max_uses").and_then(Value::as_u64);
            if let (Some(id), Some(max)) = (text(terms, "id"), max) {
                self.standing_max.insert(id, u32::try_from(max).unwrap_or(u32::MAX));
            }
            return;
        }
        if let Some(voided) = input.get("grant_voided")
            && let Some(approval) = text(voided, "approval")
        {
            self.voided.entry(approval).or_insert(record.seq);
            return;
        }
        let Some(approval) = record.approval_id else { return };
        // The answer is about the call that asked: its agent is the deciding record's, and
        // nobody who answers is that agent (red team round 23, audit F2: a request's agent
        // changed in the store let an approver named like the agent approve its call, and
        // the signed answer named another agent).
        if let Some((agent, asked)) = self.asked_by.get(approval) {
            if record.agent != agent {
                self.findings.push(Finding {
                    seq: record.seq,
                    message: format!(
                        "an answer to approval request `{approval}` names agent `{}`, but the \
                         decision that filed it (record {asked}) names `{agent}`: the request \
                         was changed in the store",
                        record.agent
                    ),
                });
            }
            let answered_by: Vec<String> = match text(input, "status").as_deref() {
                Some("pending") => text(input, "by").into_iter().collect(),
                Some("approved") => input
                    .get("approvers")
                    .and_then(Value::as_array)
                    .map(|names| {
                        names.iter().filter_map(Value::as_str).map(str::to_owned).collect()
                    })
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            if let Some(name) =
                answered_by.iter().find(|name| crate::approval::same_person(name, agent))
            {
                self.findings.push(Finding {
                    seq: record.seq,
                    message: format!(
                        "approval request `{approval}` was approved by `{name}`, the agent that \
                         asked (record {asked}): aecl refuses that, so the request was changed \
                         in the store"
                    ),
                });
            }
        }
        let status = text(input, "status");
        // Nothing answers a request after it was closed: a rejected request set back to
        // pending in the store and approved then (red team round 23, second pass, N2).
        if let (Some(status), Some((closed, at))) = (status.as_deref(), self.closed.get(approval))
            && matches!(status, "pending" | "approved" | "rejected")
        {
            self.findings.push(Finding {
                seq: record.seq,
                message: format!(
                    "approval request `{approval}` was answered `{status}` after the log \
                     recorded it {closed} (record {at}): its status was reset in the store"
                ),
            });
        }
        if let Some(status) =
            status.as_deref().filter(|s| matches!(*s, "approved" | "rejected" | "expired"))
        {
            self.closed.entry(approval.to_owned()).or_insert((status.to_owned(), record.seq));
        }
        match status.as_deref() {
            Some("pending") => {
                if let Some(by) = text(input, "by") {
                    self.votes.entry(approval.to_owned()).or_default().insert(by);
                }
            }
            Some("approved") => {
                let Some(approvers) = input.get("approvers").and_then(Value::as_array) else {
                    return;
                };
                let names: Vec<&str> = approvers.iter().filter_map(Value::as_str).collect();
                // One person twice in a quorum (a stored list written `["bob","bob"]`).
                for (i, name) in names.iter().enumerate() {
                    let before = names.get(..i).unwrap_or_default();
                    if let Some(same) =
                        before.iter().find(|b| crate::approval::same_person(b, name))
                    {
                        self.findings.push(Finding {
                            seq: record.seq,
                            message: format!(
                                "approval request `{approval}` counts `{same}` and `{name}`, \
                                 one person, twice towards its quorum: the request's votes \
                                 were written into the store"
                            ),
                        });
                    }
                }
                let voted = self.votes.get(approval);
                // The last approver's answer is this record; each before voted.
                let earlier =
                    approvers.get(..approvers.len().saturating_sub(1)).unwrap_or_default();
                for name in earlier.iter().filter_map(Value::as_str) {
                    if voted.is_none_or(|v| !v.contains(name)) {
                        self.findings.push(Finding {
                            seq: record.seq,
                            message: format!(
                                "approval request `{approval}` counts `{name}` towards its \
                                 quorum, but the log holds no vote of theirs: the request's \
                                 votes were written into the store"
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// The first 16 bytes of the SHA-256 of `parts`, each after its length: ids may hold any
/// character, a NUL too (round 21, audit N2: `("a\0b", "c")` and `("a", "b\0c")` were one).
fn short_digest(parts: &[&str]) -> [u8; 16] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let full = hasher.finalize();
    let mut short = [0; 16];
    short.copy_from_slice(&full[..16]);
    short
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use aecl_audit::{Outcome, RecordKind};
    use aecl_core::{CallDigest, Decision, Mode, Reason, Revision, Stage, Timestamp};
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

    /// Round 21: text inside a record's arguments or output that spells a field hid the
    /// record from a reader that searched the bytes.
    #[test]
    fn text_inside_arguments_or_outputs_hides_nothing() {
        let mut spoofing = outcome(1, "c1", "e1", Outcome::Succeeded);
        spoofing.output = json!({ "answer": { "effect_id": null, "kind": "decision" } });
        let mut again = outcome(2, "c1", "e2", Outcome::Succeeded);
        again.output = json!("\"effect_id\":null");
        let mut lifted_twice = lifted(4, "c3", "approval.granted", Some("a1"), "approved");
        lifted_twice.input = json!({ "note": { "kind": "outcome" } });
        let found = story(&[
            spoofing,
            again,
            lifted(3, "c2", "approval.granted", Some("a1"), "approved"),
            lifted_twice,
        ]);
        let seqs: Vec<u64> = found.iter().map(|f| f.seq).collect();
        assert_eq!(seqs, [2, 4], "{found:#?}");
    }

    /// Round 21: a voided grant revived in the store, and a vote written into a request's
    /// stored votes, are told by the log.
    #[test]
    fn a_revived_grant_and_a_vote_the_log_never_saw_are_found() {
        let mut voided = record(1, RecordKind::Approval, "c1");
        voided.approval_id = Some("a1".into());
        voided.input = json!({ "grant_voided": { "grant": "g1", "approval": "a1", "why": "x" } });
        let approved = |seq: u64, approval: &str, approvers: &[&str]| {
            let mut r = record(seq, RecordKind::Approval, "c2");
            r.approval_id = Some(approval.into());
            r.input =
                json!({ "status": "approved", "by": approvers.join(", "), "approvers": approvers });
            r
        };
        let vote = |seq: u64, approval: &str, by: &str| {
            let mut r = record(seq, RecordKind::Approval, "c2");
            r.approval_id = Some(approval.into());
            r.input =
                json!({ "status": "pending", "by": by, "approvals": 1, "approvals_required": 2 });
            r
        };
        let found = story(&[
            voided,
            lifted(2, "c1", "approval.granted", Some("a1"), "approved"),
            // A real quorum: alice voted, bob's answer completed it.
            vote(3, "a2", "alice"),
            approved(4, "a2", &["alice", "bob"]),
            // bob's vote was written into the store: no record of it.
            approved(5, "a3", &["bob", "alice"]),
        ]);
        let seqs: Vec<u64> = found.iter().map(|f| f.seq).collect();
        assert_eq!(seqs, [2, 5], "{found:#?}");
        assert!(found[0].message.contains("after the log voided it (record 1)"));
        assert!(found[1].message.contains("counts `bob`"));
    }

    /// Round 21, second pass: a name twice in a quorum, and ids that differ only where a
    /// separator would stand.
    #[test]
    fn a_person_twice_in_a_quorum_is_found_and_ids_are_kept_apart() {
        let mut twice = record(3, RecordKind::Approval, "c1");
        twice.approval_id = Some("a1".into());
        twice.input = json!({ "status": "approved", "by": "bob, Bob, alice",
                              "approvers": ["bob", "Bob", "alice"] });
        let mut vote = record(2, RecordKind::Approval, "c1");
        vote.approval_id = Some("a1".into());
        vote.input = json!({ "status": "pending", "by": "bob" });
        let mut one = outcome(4, "a\0b", "e1", Outcome::Succeeded);
        one.run = "r".into();
        let mut other = outcome(5, "b", "e2", Outcome::Succeeded);
        other.run = "r\0a".into();
        let found = story(&[vote, twice, one, other]);
        let seqs: Vec<u64> = found.iter().map(|f| f.seq).collect();
        // `Bob` is bob: counted twice, and no vote of `Bob` is recorded either.
        assert_eq!(seqs, [3, 3], "{found:#?}");
        assert!(found.iter().any(|f| f.message.contains("one person, twice")), "{found:#?}");
    }

    /// Round 23, second pass N2: a rejected request set back to pending and approved.
    #[test]
    fn an_answer_after_the_request_was_closed_is_found() {
        let answer = |seq: u64, status: &str, by: &str| {
            let mut r = record(seq, RecordKind::Approval, "c1");
            r.approval_id = Some("a1".into());
            r.input = json!({ "status": status, "by": by });
            r
        };
        assert_eq!(story(&[answer(1, "rejected", "alice")]), Vec::new());
        let found = story(&[answer(1, "rejected", "alice"), answer(2, "approved", "bob")]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].message.contains("after the log recorded it rejected (record 1)"));
        // Expired, then approved: the same.
        assert_eq!(story(&[answer(1, "expired", "aecl"), answer(2, "approved", "bob")]).len(), 1);
    }

    /// Round 23, audit F2: a request's agent renamed in the store, then approved by a
    /// person named like the agent that asked.
    #[test]
    fn an_answer_naming_another_agent_or_given_by_the_agent_that_asked_is_found() {
        let mut asked = record(0, RecordKind::Decision, "c1");
        asked.decision = Some(Decision::RequireApproval);
        asked.approval_id = Some("a1".into());
        let answer = |seq: u64, agent: &str, approvers: &[&str]| {
            let mut r = record(seq, RecordKind::Approval, "c1");
            r.agent = agent.into();
            r.approval_id = Some("a1".into());
            r.input = json!({ "status": "approved", "approvers": approvers });
            r
        };
        let fine = story(&[asked.clone(), answer(1, "worker", &["bob"])]);
        assert_eq!(fine, Vec::new());
        let found = story(&[asked.clone(), answer(1, "someone_else", &["Worker"])]);
        let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(messages[0].contains("names agent `someone_else`"), "{messages:?}");
        assert!(messages[0].contains("names `worker`"), "{messages:?}");
        assert!(messages[1].contains("approved by `Worker`, the agent that asked"), "{messages:?}");
        // Read from the canonical bytes, as `aecl audit verify` reads them.
        let mut from_bytes = Story::new();
        for r in [asked, answer(1, "someone_else", &["bob"])] {
            from_bytes.read_canonical(&r.to_canonical().unwrap());
        }
        assert_eq!(from_bytes.finish().len(), 1);
    }
}
