//! The contract on the audit log: records from concurrent producers and from every kind
//! of step numbered in one chain, group-committed under signed checkpoints, verifiable
//! and paged; the newest checkpoint read alone, and no write left queued once answered.

use std::collections::BTreeSet;
use std::sync::Arc;

use aecl_audit::{AuditRecord, parse_and_verify_checkpoint, verify_log};
use aecl_core::Timestamp;
use aecl_engine::{
    Committed, Durability, EffectState, NewEffect, Reconciliation, RunCommit, Store,
};

use super::{call_end, commit, end, new_effect, user};
use crate::audit::{record, verifier};

pub async fn concurrent_audit_appends_make_one_verifiable_log<S: Store + Clone>(store: &S) {
    const PRODUCERS: usize = 32;
    const EACH: usize = 40;
    let store = Arc::new(store.clone());
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                seqs.push(store.append_audit(record(p, i)).await.unwrap());
            }
            seqs
        }));
    }
    let mut seqs = BTreeSet::new();
    for task in tasks {
        for seq in task.await.unwrap() {
            assert!(seqs.insert(seq), "seq {seq} acknowledged twice");
        }
    }
    let total = (PRODUCERS * EACH) as u64;
    assert_eq!(seqs, (0..total).collect(), "acknowledged seqs are contiguous from 0");

    let records = store.audit_records(0, usize::MAX).await.unwrap();
    let checkpoints = store.audit_checkpoints().await.unwrap();
    assert!(checkpoints.len() < PRODUCERS * EACH, "records were group-committed, not one by one");
    let report = verify_log(records, &checkpoints, &verifier());
    assert_eq!(report.problem, None);
    assert_eq!(report.size, total);
    assert_eq!(report.latest.map(|c| c.size), Some(total));
    // Paging reads the same records.
    let page = store.audit_records(total - 5, 100).await.unwrap();
    assert_eq!(
        page.iter().map(|r| r.0).collect::<Vec<_>>(),
        (total - 5..total).collect::<Vec<_>>()
    );
}

/// Records appended by every kind of step (a bare append, a commit, a call's end, a
/// reconciliation) make one chain, numbered in order, which verifies and pages.
pub async fn every_writer_appends_to_one_verifiable_log<S: Store>(store: &S) {
    assert_eq!(store.append_audit(record(1, 0)).await.unwrap(), 0);
    let decided = RunCommit {
        effect: Some(NewEffect { dispatched: true, ..new_effect("e1", "c1", None, "n1") }),
        audit: Some(record(1, 1)),
        ..commit("r1", 0, vec![])
    };
    assert_eq!(
        store.commit_run_event(decided).await.unwrap(),
        Committed::Done { version: 1, audit_seq: Some(1) }
    );
    let ended = call_end(vec![user("outcome")], record(1, 2), Durability::Synced);
    assert_eq!(store.finish_call(ended).await.unwrap(), 2);
    store.begin_effect(new_effect("e2", "c2", None, "n2")).await.unwrap();
    store.dispatch_effect("e2").await.unwrap();
    store.recover_effects("n2", Timestamp(9_000)).await.unwrap();
    let reconciliation = Reconciliation {
        effect_id: "e2".into(),
        end: end(EffectState::Failed),
        audit: record(1, 3),
    };
    assert!(store.reconcile_effect(reconciliation).await.unwrap());

    let records = store.audit_records(0, 100).await.unwrap();
    assert_eq!(records.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 1, 2, 3]);
    for (i, (_, bytes, _)) in records.iter().enumerate() {
        let decoded = AuditRecord::from_canonical(bytes).unwrap();
        assert_eq!((decoded.seq, decoded.event_id), (i as u64, format!("ev-1-{i}")));
    }
    let checkpoints = store.audit_checkpoints().await.unwrap();
    let report = verify_log(records, &checkpoints, &verifier());
    assert_eq!((report.problem, report.size), (None, 4));
    assert_eq!(report.latest.map(|c| c.size), Some(4), "a checkpoint covers the whole log");
    let page = store.audit_records(1, 2).await.unwrap();
    assert_eq!(page.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
    assert!(store.audit_records(4, 10).await.unwrap().is_empty());
}

/// A store that can write says so.
pub async fn a_working_store_is_healthy<S: Store>(store: &S) {
    let health = store.health().await;
    assert!(health.is_healthy(), "{health:?}");
    store.append_audit(record(2, 0)).await.unwrap();
    let health = store.health().await;
    assert!(health.is_healthy(), "{health:?}");
}

/// The newest checkpoint is the last one listed and carries the time of the records it
/// added (the newest of them); there is none before the first record. A writer whose
/// producers all have their answers has nothing queued, however it batched them.
pub async fn the_newest_checkpoint_is_the_last_and_answered_writes_leave_no_queue<
    S: Store + Clone,
>(
    store: &S,
) {
    assert_eq!(store.newest_checkpoint().await.unwrap(), None, "no record, no checkpoint");
    assert_eq!(store.writer_queue_depth().await, 0, "a new store has nothing queued");

    store.append_audit(record(3, 0)).await.unwrap();
    let first = store.newest_checkpoint().await.unwrap().expect("a checkpoint covers record 0");
    let opened = parse_and_verify_checkpoint(&first, &verifier()).unwrap();
    assert_eq!((opened.size, opened.time), (1, Some(record(3, 0).time)));

    // Concurrent producers, so that the backends' writers batch them.
    let store = Arc::new(store.clone());
    let tasks: Vec<_> = (1..=16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.append_audit(record(3, i)).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.writer_queue_depth().await, 0, "answered writes are no longer queued");

    // Alone, so that its checkpoint adds this record only.
    store.append_audit(record(3, 17)).await.unwrap();
    let newest = store.newest_checkpoint().await.unwrap().expect("a checkpoint");
    let listed = store.audit_checkpoints().await.unwrap();
    assert_eq!(listed.last(), Some(&newest), "the newest is the last listed");
    assert_ne!(newest, first);
    let opened = parse_and_verify_checkpoint(&newest, &verifier()).unwrap();
    assert_eq!((opened.size, opened.time), (18, Some(record(3, 17).time)));
    assert_eq!(store.writer_queue_depth().await, 0);
}
