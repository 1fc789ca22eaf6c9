//! The contract on the effect ledger: `pending -> dispatched -> succeeded | failed |
//! outcome_unknown`, forward only; one effect per idempotency key and per call; recovery
//! after a restart; reconciliation of what recovery left unknown.

use std::collections::BTreeSet;

use aecl_audit::verify_log;
use aecl_core::Timestamp;
use aecl_engine::{Begun, Effect, EffectEnd, EffectState, Reconciliation, Store, StoreError};
use serde_json::json;

use super::{end, new_effect};
use crate::audit::{record, verifier};

pub async fn the_effect_ledger_moves_forward_only<S: Store>(store: &S) {
    assert_eq!(store.begin_effect(new_effect("e1", "c1", None, "n1")).await.unwrap(), Begun::New);
    assert_eq!(store.effect("e1").await.unwrap().unwrap().state, EffectState::Pending);
    store.dispatch_effect("e1").await.unwrap();
    assert!(matches!(store.dispatch_effect("e1").await, Err(StoreError::Transition { .. })));
    store.finish_effect("e1", end(EffectState::Succeeded)).await.unwrap();
    assert!(matches!(
        store.finish_effect("e1", end(EffectState::Failed)).await,
        Err(StoreError::Transition { .. })
    ));
    let effect = store.effect("e1").await.unwrap().unwrap();
    assert_eq!(effect.state, EffectState::Succeeded);
    assert_eq!(effect.result, json!({"status": 200}));
    assert_eq!(effect.rollback_token.as_deref(), Some("undo-1"));
    assert_eq!(effect.rollback_seal.as_deref(), Some("seal-1"), "the seal is kept with its token");
    assert_eq!(effect.updated, Timestamp(2_000));
    assert!(store.effect("nope").await.unwrap().is_none());
    assert!(matches!(store.dispatch_effect("nope").await, Err(StoreError::NoEffect(_))));
}

pub async fn an_idempotency_key_makes_one_effect<S: Store>(store: &S) {
    assert_eq!(
        store.begin_effect(new_effect("e1", "c1", Some("k"), "n1")).await.unwrap(),
        Begun::New
    );
    // A retry under another call id, from any instance, finds the first.
    let Begun::Existing(first) =
        store.begin_effect(new_effect("e2", "c2", Some("k"), "n2")).await.unwrap()
    else {
        panic!("a repeated idempotency key made a second effect");
    };
    assert_eq!(first.id, "e1");
    // The same call id is one effect too.
    assert!(
        matches!(store.begin_effect(new_effect("e3", "c1", None, "n1")).await.unwrap(), Begun::Existing(e) if e.id == "e1")
    );
    assert_eq!(store.effect_by_key("r1", "k").await.unwrap().unwrap().id, "e1");
    assert!(store.effect("e2").await.unwrap().is_none());
}

pub async fn recovery_marks_what_was_in_flight<S: Store>(store: &S) {
    for (id, call) in [("pending", "c1"), ("dispatched", "c2"), ("done", "c3")] {
        store.begin_effect(new_effect(id, call, None, "n1")).await.unwrap();
    }
    store.begin_effect(new_effect("other-node", "c4", None, "n2")).await.unwrap();
    store.dispatch_effect("other-node").await.unwrap();
    store.dispatch_effect("dispatched").await.unwrap();
    store.dispatch_effect("done").await.unwrap();
    store.finish_effect("done", end(EffectState::Succeeded)).await.unwrap();

    let recovered = store.recover_effects("n1", Timestamp(9_000)).await.unwrap();
    let states: BTreeSet<_> = recovered.iter().map(|e| (e.id.as_str(), e.state.as_str())).collect();
    assert_eq!(states, BTreeSet::from([("dispatched", "outcome_unknown"), ("pending", "failed")]));
    assert_eq!(
        store.effect("dispatched").await.unwrap().unwrap().state,
        EffectState::OutcomeUnknown
    );
    assert_eq!(store.effect("done").await.unwrap().unwrap().state, EffectState::Succeeded);
    assert_eq!(store.effect("other-node").await.unwrap().unwrap().state, EffectState::Dispatched);
    assert!(store.recover_effects("n1", Timestamp(9_001)).await.unwrap().is_empty());
}

pub async fn a_runs_effects_are_listed_oldest_first<S: Store>(store: &S) {
    let mut later = new_effect("e-later", "c1", None, "n1");
    later.created = Timestamp(5_000);
    store.begin_effect(later).await.unwrap();
    store.begin_effect(new_effect("e-first", "c2", Some("k"), "n1")).await.unwrap();
    store.begin_effect(new_effect("e-second", "c3", None, "n2")).await.unwrap();
    let mut other = new_effect("e-other-run", "c1", None, "n1");
    other.run = "r2".to_owned();
    store.begin_effect(other).await.unwrap();
    store.dispatch_effect("e-first").await.unwrap();
    store.finish_effect("e-first", end(EffectState::Succeeded)).await.unwrap();

    let effects = store.run_effects("r1").await.unwrap();
    let ids: Vec<&str> = effects.iter().map(|e| e.id.as_str()).collect();
    // Same creation time: by id.
    assert_eq!(ids, ["e-first", "e-second", "e-later"]);
    assert_eq!(effects[0].state, EffectState::Succeeded);
    assert_eq!(effects[0].rollback_token.as_deref(), Some("undo-1"));
    assert!(store.run_effects("nobody").await.unwrap().is_empty());
}

/// An effect ends from `pending` too (a call refused or failed before dispatch); once
/// ended it neither dispatches nor ends again.
pub async fn an_effect_may_end_before_dispatch<S: Store>(store: &S) {
    store.begin_effect(new_effect("e1", "c1", None, "n1")).await.unwrap();
    store.finish_effect("e1", end(EffectState::Failed)).await.unwrap();
    assert_eq!(store.effect("e1").await.unwrap().unwrap().state, EffectState::Failed);
    assert!(matches!(store.dispatch_effect("e1").await, Err(StoreError::Transition { .. })));
    assert!(matches!(
        store.finish_effect("e1", end(EffectState::Succeeded)).await,
        Err(StoreError::Transition { .. })
    ));
    assert!(matches!(
        store.finish_effect("nope", end(EffectState::Succeeded)).await,
        Err(StoreError::NoEffect(_))
    ));
}

/// `unresolved_effects` lists `outcome_unknown` effects of every node in id order, a page
/// at a time.
pub async fn unresolved_effects_are_paged_by_id<S: Store>(store: &S) {
    for (id, call, node) in
        [("u2", "c1", "n1"), ("u1", "c2", "n1"), ("u3", "c3", "n2"), ("s", "c4", "n1")]
    {
        store.begin_effect(new_effect(id, call, None, node)).await.unwrap();
        store.dispatch_effect(id).await.unwrap();
    }
    store.finish_effect("s", end(EffectState::Succeeded)).await.unwrap();
    store.begin_effect(new_effect("pending", "c5", None, "n3")).await.unwrap();
    assert!(store.unresolved_effects(None, 10).await.unwrap().is_empty());
    store.recover_effects("n1", Timestamp(9_000)).await.unwrap();
    store.recover_effects("n2", Timestamp(9_000)).await.unwrap();

    let ids = |effects: Vec<Effect>| effects.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(store.unresolved_effects(None, 10).await.unwrap()), ["u1", "u2", "u3"]);
    assert_eq!(ids(store.unresolved_effects(None, 2).await.unwrap()), ["u1", "u2"]);
    assert_eq!(ids(store.unresolved_effects(Some("u2"), 2).await.unwrap()), ["u3"]);
    assert!(store.unresolved_effects(Some("u3"), 2).await.unwrap().is_empty());
}

/// A reconciliation moves an effect out of `outcome_unknown` once, with its record; two
/// reconcilers racing over one effect record it once, and nothing else is reconciled.
pub async fn a_reconciliation_is_written_once<S: Store>(store: &S) {
    for (id, call) in [("e1", "c1"), ("e2", "c2")] {
        store.begin_effect(new_effect(id, call, None, "n1")).await.unwrap();
        store.dispatch_effect(id).await.unwrap();
    }
    store.recover_effects("n1", Timestamp(9_000)).await.unwrap();
    store.begin_effect(new_effect("pending", "c3", None, "n2")).await.unwrap();
    let reconciliation = |id: &str, state: EffectState, i: usize| Reconciliation {
        effect_id: id.into(),
        end: EffectEnd { result: json!({"checked": i}), ..end(state) },
        audit: record(5, i),
    };

    let (a, b) = tokio::join!(
        store.reconcile_effect(reconciliation("e1", EffectState::Succeeded, 0)),
        store.reconcile_effect(reconciliation("e1", EffectState::Failed, 1)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one reconciler wins: {a} {b}");
    let effect = store.effect("e1").await.unwrap().unwrap();
    let expected = if a { EffectState::Succeeded } else { EffectState::Failed };
    assert_eq!((effect.state, effect.updated), (expected, Timestamp(2_000)));
    assert_eq!(store.audit_records(0, 10).await.unwrap().len(), 1, "one record");

    // Still unknown, with new evidence: it stays reconcilable.
    assert!(
        store.reconcile_effect(reconciliation("e2", EffectState::OutcomeUnknown, 2)).await.unwrap()
    );
    let e2 = store.effect("e2").await.unwrap().unwrap();
    assert_eq!((e2.state, e2.result), (EffectState::OutcomeUnknown, json!({"checked": 2})));
    assert!(store.reconcile_effect(reconciliation("e2", EffectState::Failed, 3)).await.unwrap());

    // Neither a pending effect nor an unknown one.
    assert!(
        !store.reconcile_effect(reconciliation("pending", EffectState::Failed, 4)).await.unwrap()
    );
    assert!(!store.reconcile_effect(reconciliation("nope", EffectState::Failed, 5)).await.unwrap());
    assert_eq!(store.effect("pending").await.unwrap().unwrap().state, EffectState::Pending);
    let records = store.audit_records(0, 10).await.unwrap();
    assert_eq!(records.len(), 3, "one record per reconciliation written");
    let report = verify_log(records, &store.audit_checkpoints().await.unwrap(), &verifier());
    assert_eq!(report.problem, None);
}
