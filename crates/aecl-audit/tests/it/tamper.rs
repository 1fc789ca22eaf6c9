//! Tamper tests on a log written to files: each way of tampering is detected and the first
//! bad record (or checkpoint) is named.

use std::fs;

use aecl_audit::{
    AuditError, AuditRecord, Checkpoint, CheckpointId, Problem, SignerKey, chain_hash,
    sign_checkpoint,
};
use tempfile::TempDir;

use crate::support::{
    self, Log, ORIGIN, build, checkpoint_path, lines, verify_dir, write, write_lines,
};

const N: u64 = 200;
const EVERY: u64 = 25;

fn setup() -> (TempDir, Log) {
    let dir = tempfile::tempdir().unwrap();
    let log = build(N, EVERY);
    write(dir.path(), &log);
    (dir, log)
}

fn problem(dir: &TempDir) -> Problem {
    verify_dir(dir.path(), None).problem.expect("tampering must be detected")
}

/// Splits a line into its seq, hash and JSON.
fn fields(line: &str) -> (u64, String, String) {
    let mut parts = line.splitn(3, ' ');
    let seq = parts.next().unwrap().parse().unwrap();
    let hash = parts.next().unwrap().to_owned();
    (seq, hash, parts.next().unwrap().to_owned())
}

/// Rewrites lines `from..` so that their chain hashes are consistent again (what an
/// attacker with write access to the store, but not the signing key, can do).
fn rechain(lines: &mut [String], from: usize) {
    let mut previous = hash_of(&lines[from - 1]);
    for line in &mut lines[from..] {
        let (seq, _, json) = fields(line);
        let hash = chain_hash(&previous, json.as_bytes());
        *line = format!("{seq} {} {json}", support::hex(&hash));
        previous = hash;
    }
}

fn hash_of(line: &str) -> [u8; 32] {
    let (_, hash, _) = fields(line);
    let mut out = [0; 32];
    for i in 0..32 {
        out[i] = u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn an_untouched_log_verifies() {
    let (dir, log) = setup();
    let report = verify_dir(dir.path(), None);
    assert!(report.is_ok(), "{:?}", report.problem);
    assert_eq!(report.records, N);
    assert_eq!(report.checkpoints_checked, log.checkpoints.len());
    assert_eq!(report.latest.unwrap().size, N);
    let exported = fs::read(checkpoint_path(dir.path(), log.checkpoints.len() - 1)).unwrap();
    assert!(verify_dir(dir.path(), Some(&exported)).is_ok());
}

#[test]
fn an_edited_record_is_named() {
    let (dir, _) = setup();
    let mut l = lines(dir.path());
    assert!(l[57].contains("http_post"));
    l[57] = l[57].replace("http_post", "http_get_");
    write_lines(dir.path(), &l);
    let p = problem(&dir);
    assert_eq!(p, Problem::Chain { seq: 57 });
    assert_eq!(p.first_bad_seq(), Some(57));
}

#[test]
fn an_edited_record_with_a_recomputed_chain_is_caught_by_its_checkpoint() {
    let (dir, _) = setup();
    let mut l = lines(dir.path());
    l[57] = l[57].replace("\"latency_ms\":5", "\"latency_ms\":0");
    rechain(&mut l, 57);
    write_lines(dir.path(), &l);
    // The chain is intact; the checkpoint of size 75 is not, and says where to look.
    assert_eq!(
        problem(&dir),
        Problem::Root { checkpoint: CheckpointId::Stored(2), size: 75, from: 50 }
    );
}

#[test]
fn a_deleted_record_is_named() {
    let (dir, _) = setup();
    let mut l = lines(dir.path());
    l.remove(57);
    write_lines(dir.path(), &l);
    let p = problem(&dir);
    assert_eq!(p, Problem::Sequence { expected: 57, found: 58 });
    assert_eq!(p.first_bad_seq(), Some(57));

    // Renumbering the rest does not help: record 58 now sits where 57 should be.
    let mut l = lines(dir.path());
    for (i, line) in l.iter_mut().enumerate().skip(57) {
        let (_, hash, json) = fields(line);
        *line = format!("{i} {hash} {json}");
    }
    write_lines(dir.path(), &l);
    assert_eq!(problem(&dir), Problem::SeqField { seq: 57, found: 58 });
}

#[test]
fn swapped_records_are_named() {
    let (dir, _) = setup();
    let mut l = lines(dir.path());
    l.swap(57, 58);
    write_lines(dir.path(), &l);
    assert_eq!(problem(&dir), Problem::Sequence { expected: 57, found: 58 });

    // Swapping the contents but keeping the stored numbers in order.
    let (dir, _) = setup();
    let mut l = lines(dir.path());
    let (a, b) = (fields(&l[57]), fields(&l[58]));
    l[57] = format!("57 {} {}", b.1, b.2);
    l[58] = format!("58 {} {}", a.1, a.2);
    write_lines(dir.path(), &l);
    assert_eq!(problem(&dir), Problem::SeqField { seq: 57, found: 58 });
}

#[test]
fn an_inserted_record_is_named() {
    // A copy of an earlier record slipped in.
    let (dir, _) = setup();
    let mut l = lines(dir.path());
    let copy = l[30].clone();
    l.insert(57, copy);
    write_lines(dir.path(), &l);
    let p = problem(&dir);
    assert_eq!(p, Problem::Sequence { expected: 57, found: 30 });
    assert_eq!(p.first_bad_seq(), Some(57));

    // A forged record with the right number and a valid chain link, and every later record
    // renumbered and re-chained: only the signed checkpoint can tell, and it does.
    let (dir, _) = setup();
    let mut l = lines(dir.path());
    let mut forged = AuditRecord::from_canonical(fields(&l[56]).2.as_bytes()).unwrap();
    forged.seq = 57;
    forged.event_id = "ev-forged".into();
    let json = String::from_utf8(forged.to_canonical().unwrap()).unwrap();
    l.insert(57, format!("57 {} {json}", support::hex(&[0; 32])));
    for (i, line) in l.iter_mut().enumerate().skip(58) {
        let (_, _, json) = fields(line);
        let mut record = AuditRecord::from_canonical(json.as_bytes()).unwrap();
        record.seq = i as u64;
        let json = String::from_utf8(record.to_canonical().unwrap()).unwrap();
        *line = format!("{i} {} {json}", support::hex(&[0; 32]));
    }
    rechain(&mut l, 57);
    write_lines(dir.path(), &l);
    assert_eq!(
        problem(&dir),
        Problem::Root { checkpoint: CheckpointId::Stored(2), size: 75, from: 50 }
    );
}

#[test]
fn a_truncated_tail_is_caught_with_an_exported_checkpoint() {
    let (dir, log) = setup();
    let last = log.checkpoints.len() - 1;
    // The checkpoint exported earlier, kept somewhere the attacker cannot reach.
    let exported = fs::read(checkpoint_path(dir.path(), last)).unwrap();
    let mut l = lines(dir.path());
    l.truncate(175);
    write_lines(dir.path(), &l);
    fs::remove_file(checkpoint_path(dir.path(), last)).unwrap();

    // Cut at a checkpoint, without the exported checkpoint the shorter log is
    // self-consistent...
    assert!(verify_dir(dir.path(), None).is_ok());
    // ...with it, the missing records are named.
    let p = verify_dir(dir.path(), Some(&exported)).problem.unwrap();
    assert_eq!(
        p,
        Problem::Truncated { checkpoint: CheckpointId::Exported, size: N, log_size: 175 }
    );
    assert_eq!(p.first_bad_seq(), Some(175));

    // Cut between checkpoints, the records after the last one left are named on their own.
    let mut l = lines(dir.path());
    l.truncate(170);
    write_lines(dir.path(), &l);
    fs::remove_file(checkpoint_path(dir.path(), last - 1)).unwrap();
    assert_eq!(problem(&dir), Problem::Uncovered { from: 150, size: 170 });

    // A tail cut while the stored checkpoint stays is caught by that checkpoint alone.
    let (dir, log) = setup();
    let mut l = lines(dir.path());
    l.truncate(190);
    write_lines(dir.path(), &l);
    assert_eq!(
        problem(&dir),
        Problem::Truncated {
            checkpoint: CheckpointId::Stored(log.checkpoints.len() - 1),
            size: N,
            log_size: 190
        }
    );
}

#[test]
fn a_checkpoint_resigned_with_another_key_is_named() {
    let (dir, _) = setup();
    let path = checkpoint_path(dir.path(), 3);
    let note = fs::read_to_string(&path).unwrap();
    let body =
        Checkpoint::parse_body(&format!("{}\n", note.split("\n\n").next().unwrap())).unwrap();
    let impostor = SignerKey::from_seed(ORIGIN, [0x66; 32]).unwrap();
    fs::write(&path, sign_checkpoint(&body, &impostor).unwrap()).unwrap();
    let report = verify_dir(dir.path(), None);
    let p = report.problem.unwrap();
    assert!(
        matches!(
            p,
            Problem::Checkpoint {
                checkpoint: CheckpointId::Stored(3),
                error: AuditError::NotSignedByKey { .. }
            }
        ),
        "{p:?}"
    );
    // Every record before it was fine.
    assert_eq!(report.records, 100);
}

#[test]
fn an_edited_checkpoint_is_named() {
    for (from, to) in [("\n100\n", "\n101\n"), ("time 17640000000", "time 17640000001")] {
        let (dir, _) = setup();
        let path = checkpoint_path(dir.path(), 3);
        let note = fs::read_to_string(&path).unwrap();
        assert!(note.contains(from), "{note}");
        fs::write(&path, note.replacen(from, to, 1)).unwrap();
        let p = problem(&dir);
        assert!(
            matches!(
                p,
                Problem::Checkpoint {
                    checkpoint: CheckpointId::Stored(3),
                    error: AuditError::BadSignature(_)
                }
            ),
            "{p:?}"
        );
    }
    // A checkpoint whose signature line is damaged no longer carries our signature.
    let (dir, _) = setup();
    let path = checkpoint_path(dir.path(), 5);
    let note = fs::read_to_string(&path).unwrap();
    let damaged = note.replacen(&format!("— {ORIGIN} "), &format!("— {ORIGIN}x "), 1);
    fs::write(&path, damaged).unwrap();
    assert!(matches!(
        problem(&dir),
        Problem::Checkpoint { checkpoint: CheckpointId::Stored(5), .. }
    ));
}
