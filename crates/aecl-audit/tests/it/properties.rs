//! Changing any single byte of a stored record (its bytes, its chain hash or its sequence
//! number) or of a stored checkpoint makes verification fail.

use std::fs;
use std::sync::OnceLock;

use aecl_audit::{VerifyOptions, VerifyReport, verify_log_with};
use proptest::prelude::*;

use crate::support::{Log, ORIGIN, build, checkpoint_path, key, records_path, verify_dir, write};

fn log() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| build(40, 10))
}

fn verify(log: &Log) -> VerifyReport {
    let options = VerifyOptions { origin: Some(ORIGIN), ..VerifyOptions::default() };
    verify_log_with(log.records.iter().cloned(), &log.checkpoints, &key().verifier(), &options)
}

/// Where to change a byte.
#[derive(Debug, Clone)]
enum Target {
    Bytes(usize),
    Hash(usize),
    Seq(usize),
    Checkpoint(usize),
}

fn mutate(log: &Log, target: &Target, at: prop::sample::Index, byte: u8) -> Option<Log> {
    let mut log = log.clone();
    let slot: &mut u8 = match *target {
        Target::Bytes(r) => {
            let bytes = &mut log.records[r].1;
            let i = at.index(bytes.len());
            &mut bytes[i]
        }
        Target::Hash(r) => &mut log.records[r].2[at.index(32)],
        Target::Seq(r) => {
            let mut seq = log.records[r].0.to_be_bytes();
            let i = at.index(8);
            if seq[i] == byte {
                return None;
            }
            seq[i] = byte;
            log.records[r].0 = u64::from_be_bytes(seq);
            return Some(log);
        }
        Target::Checkpoint(c) => {
            let mut bytes = log.checkpoints[c].clone().into_bytes();
            let i = at.index(bytes.len());
            if bytes[i] == byte {
                return None;
            }
            bytes[i] = byte;
            // Not UTF-8 any more: as unreadable as any other damage, and rejected.
            log.checkpoints[c] = String::from_utf8(bytes).ok()?;
            return Some(log);
        }
    };
    if *slot == byte {
        return None;
    }
    *slot = byte;
    Some(log)
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        4 => (0..40usize).prop_map(Target::Bytes),
        1 => (0..40usize).prop_map(Target::Hash),
        1 => (0..40usize).prop_map(Target::Seq),
        2 => (0..4usize).prop_map(Target::Checkpoint),
    ]
}

#[test]
fn the_untouched_log_verifies() {
    assert!(verify(log()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_single_byte_change_fails_verification(
        target in target(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        if let Some(changed) = mutate(log(), &target, at, byte) {
            let report = verify(&changed);
            prop_assert!(!report.is_ok(), "undetected change of {:?}", target);
        }
    }
}

/// Every bit of one record and of one checkpoint, flipped in turn.
#[test]
fn every_bit_flip_of_a_record_or_a_checkpoint_fails_verification() {
    let base = log();
    for i in 0..base.records[17].1.len() {
        for bit in 0..8 {
            let mut changed = base.clone();
            changed.records[17].1[i] ^= 1 << bit;
            assert!(!verify(&changed).is_ok(), "record byte {i} bit {bit}");
        }
    }
    let note = base.checkpoints[2].as_bytes();
    for i in 0..note.len() {
        for bit in 0..8 {
            let mut bytes = note.to_vec();
            bytes[i] ^= 1 << bit;
            let Ok(text) = String::from_utf8(bytes) else { continue };
            let mut changed = base.clone();
            changed.checkpoints[2] = text;
            assert!(!verify(&changed).is_ok(), "checkpoint byte {i} bit {bit}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The same on the files: any one byte of the records file or of a checkpoint file.
    #[test]
    fn any_single_byte_change_of_the_files_fails_verification(
        in_checkpoint in any::<bool>(),
        which in 0..4usize,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), log());
        let path = if in_checkpoint { checkpoint_path(dir.path(), which) } else { records_path(dir.path()) };
        let mut bytes = fs::read(&path).unwrap();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        fs::write(&path, bytes).unwrap();
        prop_assert!(!verify_dir(dir.path(), None).is_ok());
    }
}

proptest! {
    /// A record encoded ahead of its sequence number, then numbered, is byte for byte the
    /// record encoded with its number, whatever its payload says (including text that looks
    /// like the `seq` and `time_ms` fields).
    #[test]
    fn numbering_an_unsequenced_record_is_encoding_it_numbered(
        i in 0u64..1_000,
        seq in any::<u64>(),
        time in any::<u64>(),
        note in prop_oneof![Just(",\"seq\":0,\"time_ms\":1}".to_owned()), ".*"],
    ) {
        let mut record = crate::support::record(i);
        record.time = aecl_core::Timestamp(time);
        record.input = serde_json::json!({"note": note, "seq": 0, "time_ms": 1});
        record.output = serde_json::json!({"seq": 0});
        let unsequenced = record.to_unsequenced().unwrap();
        record.seq = seq;
        prop_assert_eq!(unsequenced.with_seq(seq), record.to_canonical().unwrap());
    }
}
