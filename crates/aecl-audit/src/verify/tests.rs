//! Verification tests on logs built in memory: a good log at any thread count, starting
//! part-way, and each kind of problem named at the right place.

use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Decision, Timestamp};
use serde_json::{Value, json};

use super::*;
use crate::chain::{GENESIS, chain_hash};
use crate::checkpoint::sign_checkpoint;
use crate::note::SignerKey;
use crate::record::{AuditRecord, RecordKind};

const ORIGIN: &str = "audit.test/log";

fn key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, [1; 32]).unwrap()
}

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        seq: 0,
        kind: RecordKind::Decision,
        event_id: format!("ev-{i}"),
        time: Timestamp(1_764_000_000_000 + i),
        agent: "a".into(),
        run: format!("r{}", i / 10),
        call_id: format!("c{i}"),
        action: "read_file".into(),
        call_digest: CallDigest(format!("{i:064x}")),
        input: json!({"path": format!("/data/{i}.txt")}),
        policy_revision: Revision("rev".into()),
        mode: None,
        decision: Some(Decision::Allow),
        risk_score: 0.0,
        reasons: Vec::new(),
        outcome: None,
        output: Value::Null,
        latency_ms: i % 7,
        sandbox_id: None,
        approval_id: None,
        effect_id: None,
        rollback_token: None,
    }
}

/// A log of `n` records with a checkpoint after every `every` records (and at the end).
fn build(n: u64, every: u64) -> (Vec<StoredRecord>, Vec<String>) {
    let mut state = LogState::new();
    let mut records = Vec::new();
    let mut checkpoints = Vec::new();
    for i in 0..n {
        let appended = state.append(&mut record(i)).unwrap();
        records.push((appended.seq, appended.canonical, appended.chain_hash));
        if (i + 1) % every == 0 || i + 1 == n {
            let cp = state
                .checkpoint(ORIGIN, Some(Timestamp(i)))
                .following(checkpoints.last().map(String::as_str));
            checkpoints.push(sign_checkpoint(&cp, &key()).unwrap());
        }
    }
    (records, checkpoints)
}

fn verify(
    records: &[StoredRecord],
    checkpoints: &[String],
    options: &VerifyOptions<'_>,
) -> VerifyReport {
    verify_log_with(records.iter().cloned(), checkpoints, &key().verifier(), options)
}

#[test]
fn a_good_log_verifies_on_any_number_of_threads() {
    let (records, checkpoints) = build(10_000, 999);
    for threads in [1, 2, 3] {
        let options = VerifyOptions { threads, ..VerifyOptions::default() };
        let report = verify(&records, &checkpoints, &options);
        assert!(report.is_ok(), "{:?}", report.problem);
        assert_eq!(report.records, 10_000);
        assert_eq!(report.checkpoints_checked, checkpoints.len());
        assert_eq!(report.latest.as_ref().map(|c| c.size), Some(10_000));
        assert_eq!(report.head, records.last().unwrap().2);
    }
}

#[test]
fn an_empty_log_verifies_against_a_checkpoint_of_size_zero() {
    let empty = LogState::new().checkpoint(ORIGIN, None);
    let note = sign_checkpoint(&empty, &key()).unwrap();
    let report = verify(&[], &[note], &VerifyOptions::default());
    assert!(report.is_ok());
    assert_eq!((report.records, report.checkpoints_checked, report.head), (0, 1, GENESIS));
}

#[test]
fn the_first_problem_is_named_even_when_later_ones_exist() {
    let (mut records, checkpoints) = build(100, 10);
    records[40].1[5] ^= 1;
    records[70].1[5] ^= 1;
    for threads in [1, 2] {
        let options = VerifyOptions { threads, ..VerifyOptions::default() };
        let report = verify(&records, &checkpoints, &options);
        assert_eq!(report.problem.as_ref().and_then(Problem::first_bad_seq), Some(40));
        assert_eq!(report.records, 40);
        assert_eq!(report.checkpoints_checked, 4);
    }
}

#[test]
fn each_record_problem_is_told_apart() {
    let (records, checkpoints) = build(20, 5);
    let options = VerifyOptions::default();
    let check =
        |records: Vec<StoredRecord>| verify(&records, &checkpoints, &options).problem.unwrap();

    let mut edited = records.clone();
    let text = String::from_utf8(edited[3].1.clone()).unwrap().replace("read_file", "read_fila");
    edited[3].1 = text.into_bytes();
    assert_eq!(check(edited), Problem::Chain { seq: 3 });

    let mut deleted = records.clone();
    deleted.remove(3);
    assert_eq!(check(deleted), Problem::Sequence { expected: 3, found: 4 });

    let mut renumbered = records.clone();
    renumbered.remove(3);
    for (i, r) in renumbered.iter_mut().enumerate() {
        r.0 = i as u64;
    }
    assert_eq!(check(renumbered), Problem::SeqField { seq: 3, found: 4 });

    let mut broken = records.clone();
    broken[6].1.truncate(10);
    assert!(matches!(check(broken), Problem::Malformed { seq: 6, .. }));

    let mut spaced = records.clone();
    let text = String::from_utf8(spaced[8].1.clone()).unwrap().replacen(':', ": ", 1);
    spaced[8].2 = chain_hash(&spaced[7].2, text.as_bytes());
    spaced[8].1 = text.into_bytes();
    assert!(matches!(check(spaced), Problem::NotCanonical { seq: 8, .. }));

    let mut hash = records;
    hash[11].2[0] ^= 0x80;
    assert_eq!(check(hash), Problem::Chain { seq: 11 });
}

/// An attacker who edits a record and recomputes every later chain hash is caught by the
/// next checkpoint, which names the range the edit is in.
#[test]
fn a_rewritten_chain_is_caught_by_the_next_checkpoint() {
    let (mut records, checkpoints) = build(30, 10);
    let text = String::from_utf8(records[14].1.clone()).unwrap().replace("/data/14", "/data/99");
    records[14].1 = text.into_bytes();
    let mut previous = records[13].2;
    for r in records.iter_mut().skip(14) {
        r.2 = chain_hash(&previous, &r.1);
        previous = r.2;
    }
    let report = verify(&records, &checkpoints, &VerifyOptions::default());
    assert_eq!(
        report.problem,
        Some(Problem::Root { checkpoint: CheckpointId::Stored(1), size: 20, from: 10 })
    );
}

#[test]
fn checkpoints_must_be_signed_by_the_pinned_key_and_name_the_origin() {
    let (records, mut checkpoints) = build(30, 10);
    let other = SignerKey::from_seed(ORIGIN, [2; 32]).unwrap();
    let body = Checkpoint::parse_body(
        checkpoints[1].split("\n\n").next().map(|b| format!("{b}\n")).as_deref().unwrap(),
    )
    .unwrap();
    checkpoints[1] = sign_checkpoint(&body, &other).unwrap();
    let report = verify(&records, &checkpoints, &VerifyOptions::default());
    let problem = report.problem.unwrap();
    assert!(
        matches!(
            &problem,
            Problem::Checkpoint {
                checkpoint: CheckpointId::Stored(1),
                error: AuditError::NotSignedByKey { .. }
            }
        ),
        "{problem:?}"
    );
    // Placed at its size: records before it were checked.
    assert_eq!(report.records, 20);

    let (records, checkpoints) = build(5, 5);
    let options = VerifyOptions { origin: Some("another/log"), ..VerifyOptions::default() };
    let problem = verify(&records, &checkpoints, &options).problem.unwrap();
    assert_eq!(
        problem,
        Problem::Origin { checkpoint: CheckpointId::Stored(0), found: ORIGIN.into() }
    );
    let options = VerifyOptions { origin: Some(ORIGIN), ..VerifyOptions::default() };
    assert!(verify(&records, &checkpoints, &options).is_ok());

    let garbage = vec![b"\xff\xfe".to_vec()];
    let report = verify_log(records.iter().cloned(), &garbage, &key().verifier());
    assert!(matches!(
        report.problem,
        Some(Problem::Checkpoint { checkpoint: CheckpointId::Stored(0), .. })
    ));
    assert_eq!(report.records, 0);
}

#[test]
fn a_cut_tail_is_caught_by_an_exported_checkpoint() {
    let (records, checkpoints) = build(50, 10);
    let exported = checkpoints.last().unwrap().clone();
    // The attacker drops the last 10 records and the stored checkpoints beyond them.
    let kept = &records[..40];
    let stored: Vec<String> = checkpoints[..4].to_vec();
    assert!(verify(kept, &stored, &VerifyOptions::default()).is_ok());
    let options = VerifyOptions { exported: Some(exported.as_bytes()), ..VerifyOptions::default() };
    let report = verify(kept, &stored, &options);
    assert_eq!(
        report.problem,
        Some(Problem::Truncated { checkpoint: CheckpointId::Exported, size: 50, log_size: 40 })
    );
    assert_eq!(report.problem.unwrap().first_bad_seq(), Some(40));
    // Cut between two checkpoints, the records after the last one left are uncovered.
    let report = verify(&records[..43], &stored, &VerifyOptions::default());
    assert_eq!(report.problem, Some(Problem::Uncovered { from: 40, size: 43 }));
    // With the stored checkpoint left in place, it alone shows the truncation.
    let report = verify(kept, &checkpoints, &VerifyOptions::default());
    assert!(matches!(
        report.problem,
        Some(Problem::Truncated { checkpoint: CheckpointId::Stored(4), .. })
    ));
    // An exported checkpoint of a smaller, matching size is fine.
    let options =
        VerifyOptions { exported: Some(checkpoints[2].as_bytes()), ..VerifyOptions::default() };
    assert!(verify(kept, &stored, &options).is_ok());
}

#[test]
fn verification_can_start_part_way() {
    let (records, checkpoints) = build(40, 10);
    let mut state = LogState::new();
    for (_, bytes, _) in &records[..20] {
        state.append_canonical(bytes.clone());
    }
    let options = VerifyOptions { start: state, ..VerifyOptions::default() };
    let report = verify(&records[20..], &checkpoints, &options);
    assert!(report.is_ok(), "{:?}", report.problem);
    assert_eq!((report.records, report.size, report.checkpoints_checked), (20, 40, 3));
    // Starting from a wrong state fails at the first record after it.
    let mut wrong = LogState::new();
    wrong.append_canonical(records[0].1.clone());
    let options = VerifyOptions { start: wrong, ..VerifyOptions::default() };
    let report = verify(&records[20..], &checkpoints, &options);
    assert_eq!(report.problem, Some(Problem::Sequence { expected: 1, found: 20 }));
}

#[test]
fn problems_read_as_sentences() {
    let p = Problem::Truncated { checkpoint: CheckpointId::Exported, size: 50, log_size: 43 };
    assert_eq!(
        p.to_string(),
        "the exported checkpoint covers 50 records but the log has 43: records from 43 on are \
         missing (truncated)"
    );
    let p = Problem::RolledBack { checkpoint: CheckpointId::Published(2), size: 50, log_size: 43 };
    assert!(p.to_string().starts_with("published checkpoint #2 covers 50 records"), "{p}");
    assert!(p.to_string().contains("rolled back to an older copy"), "{p}");
    let p = Problem::Uncovered { from: 40, size: 43 };
    assert_eq!(p.first_bad_seq(), Some(40));
    assert!(p.to_string().starts_with("records 40..43 are not covered"), "{p}");
    assert_eq!(
        Problem::Chain { seq: 3 }.to_string(),
        "record 3 does not match its chain hash: it or its hash was edited"
    );
}

/// Published checkpoints of two histories (a key holder who signed both): their proof does
/// not connect them, whatever the store holds.
#[test]
fn published_checkpoints_of_two_histories_are_a_fork() {
    use crate::merkle::MerkleTree;
    use crate::witness::AddCheckpoint;
    let (records, checkpoints) = build(20, 10);
    let mut other = records.clone();
    other[3].1 =
        String::from_utf8(other[3].1.clone()).unwrap().replace("ev-3", "ev-X").into_bytes();
    let tree = |records: &[StoredRecord]| {
        MerkleTree::from_leaf_hashes(records.iter().map(|r| leaf_hash(&r.1)).collect())
    };
    let mut state = LogState::new();
    for (_, bytes, _) in &other {
        state.append_canonical(bytes.clone());
    }
    let forked = sign_checkpoint(&state.checkpoint(ORIGIN, None), &key()).unwrap();
    let published: Vec<Vec<u8>> = [
        AddCheckpoint { old_size: 0, proof: Vec::new(), checkpoint: checkpoints[0].clone() },
        AddCheckpoint {
            old_size: 10,
            proof: tree(&other).prove_consistency(10, 20).unwrap(),
            checkpoint: forked,
        },
    ]
    .iter()
    .map(|r| r.to_text().into_bytes())
    .collect();
    let options = VerifyOptions { published: &published, ..VerifyOptions::default() };
    let report = verify(&records, &checkpoints, &options);
    assert_eq!(
        report.problem,
        Some(Problem::PublishedFork { checkpoint: CheckpointId::Published(1), old_size: 10 })
    );
    let _ = tree(&records);
}

/// A head that disagrees with the records says how: a missing head, another size, or the
/// same size with another root (red team round 17: "size 3127 disagrees with size 3127").
#[test]
fn a_head_problem_says_what_differs() {
    let text = |stored_size, log_size| Problem::Head { stored_size, log_size }.to_string();
    assert!(text(0, 91).starts_with("the store has no head (or an empty one)"), "{}", text(0, 91));
    assert!(text(62, 91).contains("head (size 62) is behind its records (size 91)"));
    assert!(text(91, 91).contains("its root or chain hash differs"), "{}", text(91, 91));
    assert!(text(95, 91).contains("records from 91 on were removed"), "{}", text(95, 91));
    // Every record was covered by a signed checkpoint before the head was compared: only
    // a head beyond the records names a record (the first one missing).
    let first = |stored_size, log_size| Problem::Head { stored_size, log_size }.first_bad_seq();
    assert_eq!(
        (first(0, 91), first(62, 91), first(91, 91), first(95, 91)),
        (None, None, None, Some(91))
    );
}

/// Red team round 20 (audit I1): a line added to a stored checkpoint's signature block (a
/// planted "cosignature", the writer's own line again) is covered by no signature; a
/// stored checkpoint carries its writer's one line, so either is named. An exported or
/// published checkpoint may carry cosignatures.
#[test]
fn a_line_added_to_a_stored_checkpoints_signatures_is_named() {
    let (records, checkpoints) = build(30, 10);
    let own_line = checkpoints[1].rsplit_once("\n\n").unwrap().1.to_owned();
    let other = SignerKey::from_seed("witness.example.org/cosign", [3; 32]).unwrap();
    let cosigned = sign_checkpoint(
        &Checkpoint::parse_body(&format!("{}\n", checkpoints[1].split("\n\n").next().unwrap()))
            .unwrap(),
        &other,
    )
    .unwrap();
    let cosignature = cosigned.rsplit_once("\n\n").unwrap().1.to_owned();
    for added in [own_line.clone(), cosignature.clone()] {
        let mut tampered = checkpoints.clone();
        tampered[1].push_str(&added);
        let problem = verify(&records, &tampered, &VerifyOptions::default()).problem.unwrap();
        assert!(
            matches!(
                &problem,
                Problem::Checkpoint {
                    checkpoint: CheckpointId::Stored(1),
                    error: AuditError::MalformedNote(why)
                } if why.contains("one signature line, this one 2")
            ),
            "{problem:?}"
        );
    }
    // Exported with a cosignature: still the writer's checkpoint.
    let exported = format!("{}{cosignature}", checkpoints[2]);
    let options = VerifyOptions { exported: Some(exported.as_bytes()), ..VerifyOptions::default() };
    assert!(verify(&records, &checkpoints, &options).is_ok());
}
