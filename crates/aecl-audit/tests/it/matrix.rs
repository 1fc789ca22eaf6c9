//! The tamper matrix on a log kept in memory (`aecl_testkit::tamper`): every case, without
//! and with the checkpoints published outside the store, names what verification must name.

use crate::support::{ORIGIN, build, key};
use aecl_testkit::tamper::{Keys, Log, cases, publish_all, run_matrix, state_of, verify};

/// 120 records checkpointed every 10, as a writer would leave them.
fn original() -> Log {
    let built = build(120, 10);
    Log {
        head: state_of(&built.records),
        published: publish_all(&built.records, &built.checkpoints),
        records: built.records,
        checkpoints: built.checkpoints,
    }
}

#[test]
fn every_tampering_is_named_without_and_with_published_checkpoints() {
    let keys = Keys { real: key() };
    let verifier = keys.real.verifier();
    assert_eq!(verifier.name(), ORIGIN);
    let ran = run_matrix(&original(), &keys, |_| true, |log, with| verify(log, &verifier, with));
    assert!(ran >= 30, "only {ran} cases");
    assert_eq!(ran, cases().len());
}

/// What only the published checkpoints reveal: a store put back to an older state of
/// itself (a rollback, or a cut at a checkpoint with the head recomputed), and a history
/// that carried on from there. README and ARCHITECTURE say so; this keeps them honest.
#[test]
fn only_rollbacks_and_forks_need_the_published_checkpoints() {
    let keys = Keys { real: key() };
    let log = original();
    let shape = aecl_testkit::tamper::Shape::of(&log);
    let mut undetected: Vec<&str> = cases()
        .iter()
        .filter(|case| (case.without)(&shape, &keys).is_none())
        .map(|case| case.class)
        .collect();
    undetected.dedup();
    assert_eq!(undetected, ["truncate", "rollback", "fork"]);
}
