//! The store contract: every guarantee the engine relies on, checked the same way on
//! SQLite and on PostgreSQL. Each `contract!` line makes one test per store.

use std::collections::BTreeSet;
use std::sync::Arc;

use aecl_audit::verify_log;
use aecl_core::limits::RateLimit;
use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Timestamp};
use aecl_engine::{
    Admission, Approval, ApprovalStatus, Begun, CallEnd, CallIdCheck, Committed, EffectEnd,
    EffectState, Grant, GrantRefusal, GrantUse, NewEffect, RunCommit, RunEvent, StandingGrant,
    Store, StoreError,
};
use serde_json::json;

use crate::support::{record, verifier};

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = crate::support::sqlite_store(dir.path());
                    super::$name(&store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let store = crate::support::postgres_store().await;
                    super::$name(&store).await;
                }
            )*
        }
    };
}

contract!(
    run_events_append_only_at_the_version_decided_on,
    a_rate_limit_refusal_writes_nothing,
    concurrency_slots_are_held_released_and_expire,
    the_effect_ledger_moves_forward_only,
    an_idempotency_key_makes_one_effect,
    recovery_marks_what_was_in_flight,
    a_nonce_is_spent_once,
    a_grant_is_spent_once_by_the_exact_call,
    a_grant_is_spent_in_the_transaction_that_dispatches_its_call,
    approvals_resolve_once,
    approvals_are_listed_newest_first,
    concurrent_audit_appends_make_one_verifiable_log,
    standing_grants_count_uses_and_end,
    a_commits_audit_record_is_appended_only_with_its_event,
    a_runs_effects_are_listed_oldest_first,
    a_calls_end_is_written_whole_or_not_at_all,
    a_grant_is_spent_by_the_commit_that_records_its_call,
    an_executed_calls_id_refuses_a_commit_that_reuses_it,
);

fn user(text: &str) -> RunEvent {
    RunEvent::User { text: text.to_owned() }
}

fn commit(run: &str, expected: u64, admission: Vec<Admission>) -> RunCommit {
    RunCommit {
        run: run.to_owned(),
        agent: "finance".to_owned(),
        expected_version: expected,
        event: user(&format!("event at {expected}")),
        admission,
        effect: None,
        audit: None,
        grant: None,
        call_id: None,
    }
}

async fn run_events_append_only_at_the_version_decided_on<S: Store>(store: &S) {
    let empty = store.load_run("r1").await.unwrap();
    assert_eq!((empty.version, empty.events.len(), empty.agent), (0, 0, None));

    assert_eq!(
        store.commit_run_event(commit("r1", 0, vec![])).await.unwrap(),
        Committed::Done { version: 1, audit_seq: None }
    );
    // A writer that decided on version 0 lost the race.
    assert_eq!(store.commit_run_event(commit("r1", 0, vec![])).await.unwrap(), Committed::Conflict);
    assert_eq!(
        store.commit_run_event(commit("r1", 1, vec![])).await.unwrap(),
        Committed::Done { version: 2, audit_seq: None }
    );

    let run = store.load_run("r1").await.unwrap();
    assert_eq!(run.version, 2);
    assert_eq!(run.agent.as_deref(), Some("finance"));
    assert_eq!(run.events, vec![user("event at 0"), user("event at 1")]);
    // Other runs are untouched.
    assert_eq!(store.load_run("r2").await.unwrap().version, 0);
}

async fn a_rate_limit_refusal_writes_nothing<S: Store>(store: &S) {
    let limit = RateLimit { count: 1, per_ms: 1_000, burst: 1 };
    let rate =
        |now: u64| Admission::Rate { key: "agent:finance".into(), limit, now: Timestamp(now) };
    assert!(matches!(
        store.commit_run_event(commit("r1", 0, vec![rate(10_000)])).await.unwrap(),
        Committed::Done { .. }
    ));
    assert_eq!(
        store.commit_run_event(commit("r1", 1, vec![rate(10_400)])).await.unwrap(),
        Committed::Refused { index: 0, retry_after_ms: Some(600) }
    );
    assert_eq!(store.load_run("r1").await.unwrap().version, 1, "a refused call is not recorded");
    // A refusal of the second admission takes nothing from the first.
    let other = RateLimit { count: 100, per_ms: 1_000, burst: 100 };
    let both = vec![
        Admission::Rate { key: "action:x".into(), limit: other, now: Timestamp(10_500) },
        rate(10_500),
    ];
    assert!(matches!(
        store.commit_run_event(commit("r1", 1, both)).await.unwrap(),
        Committed::Refused { index: 1, .. }
    ));
    assert!(matches!(
        store.commit_run_event(commit("r1", 1, vec![rate(11_000)])).await.unwrap(),
        Committed::Done { .. }
    ));
}

async fn concurrency_slots_are_held_released_and_expire<S: Store>(store: &S) {
    let slot = |holder: &str, now: u64| Admission::Slot {
        key: "action:deploy".into(),
        limit: 1,
        holder: holder.into(),
        now: Timestamp(now),
        expires: Timestamp(now + 60_000),
    };
    assert!(matches!(
        store.commit_run_event(commit("a", 0, vec![slot("a/c1", 0)])).await.unwrap(),
        Committed::Done { .. }
    ));
    assert_eq!(
        store.commit_run_event(commit("b", 0, vec![slot("b/c1", 1)])).await.unwrap(),
        Committed::Refused { index: 0, retry_after_ms: None }
    );
    store.release_slots("a/c1").await.unwrap();
    assert!(matches!(
        store.commit_run_event(commit("b", 0, vec![slot("b/c1", 2)])).await.unwrap(),
        Committed::Done { .. }
    ));
    // b/c1 never releases: after its lease the slot is free again.
    assert!(matches!(
        store.commit_run_event(commit("c", 0, vec![slot("c/c1", 30_000)])).await.unwrap(),
        Committed::Refused { .. }
    ));
    assert!(matches!(
        store.commit_run_event(commit("c", 0, vec![slot("c/c1", 60_003)])).await.unwrap(),
        Committed::Done { .. }
    ));
}

fn new_effect(id: &str, call_id: &str, key: Option<&str>, node: &str) -> NewEffect {
    NewEffect {
        id: id.to_owned(),
        run: "r1".to_owned(),
        call_id: call_id.to_owned(),
        agent: "finance".to_owned(),
        action: "send_webhook".to_owned(),
        idempotency_key: key.map(str::to_owned),
        call_digest: CallDigest("ab".repeat(32)),
        node: node.to_owned(),
        created: Timestamp(1_000),
        dispatched: false,
    }
}

fn end(state: EffectState) -> EffectEnd {
    EffectEnd {
        state,
        result: json!({"status": 200}),
        error: None,
        rollback_token: Some("undo-1".into()),
        at: Timestamp(2_000),
    }
}

async fn the_effect_ledger_moves_forward_only<S: Store>(store: &S) {
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
    assert_eq!(effect.updated, Timestamp(2_000));
    assert!(store.effect("nope").await.unwrap().is_none());
    assert!(matches!(store.dispatch_effect("nope").await, Err(StoreError::NoEffect(_))));
}

async fn an_idempotency_key_makes_one_effect<S: Store>(store: &S) {
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

async fn recovery_marks_what_was_in_flight<S: Store>(store: &S) {
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

async fn a_nonce_is_spent_once<S: Store>(store: &S) {
    assert!(store.use_nonce("finance", "n-1", Timestamp(1)).await.unwrap());
    assert!(!store.use_nonce("finance", "n-1", Timestamp(2)).await.unwrap());
    assert!(store.use_nonce("support", "n-1", Timestamp(3)).await.unwrap());
}

async fn a_grant_is_spent_once_by_the_exact_call<S: Store>(store: &S) {
    let digest = CallDigest("cd".repeat(32));
    let revision = Revision("rev-1".into());
    store
        .put_grant(Grant {
            id: "g1".into(),
            approval_id: Some("a1".into()),
            call_digest: digest.clone(),
            policy_revision: revision.clone(),
            expires: Timestamp(10_000),
        })
        .await
        .unwrap();
    let at = Timestamp(5_000);
    let other = CallDigest("ef".repeat(32));
    assert_eq!(
        store.consume_grant("g0", &digest, &revision, at).await.unwrap(),
        Err(GrantRefusal::Unknown)
    );
    assert_eq!(
        store.consume_grant("g1", &other, &revision, at).await.unwrap(),
        Err(GrantRefusal::OtherCall)
    );
    assert_eq!(
        store.consume_grant("g1", &digest, &Revision("rev-2".into()), at).await.unwrap(),
        Err(GrantRefusal::OtherRevision)
    );
    assert_eq!(
        store.consume_grant("g1", &digest, &revision, Timestamp(10_000)).await.unwrap(),
        Err(GrantRefusal::Expired)
    );
    let grant = store.consume_grant("g1", &digest, &revision, at).await.unwrap().unwrap();
    assert_eq!(grant.approval_id.as_deref(), Some("a1"));
    assert_eq!(
        store.consume_grant("g1", &digest, &revision, at).await.unwrap(),
        Err(GrantRefusal::AlreadyUsed)
    );
}

async fn a_grant_is_spent_in_the_transaction_that_dispatches_its_call<S: Store>(store: &S) {
    let digest = CallDigest("ab".repeat(32));
    let revision = Revision("rev-1".into());
    let grant = |id: &str| Grant {
        id: id.into(),
        approval_id: Some("a1".into()),
        call_digest: digest.clone(),
        policy_revision: revision.clone(),
        expires: Timestamp(10_000),
    };
    store.put_grant(grant("g1")).await.unwrap();
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), Some(grant("g1")));
    assert_eq!(store.grant_for_call(&CallDigest("ef".repeat(32))).await.unwrap(), None);

    for (id, call_id) in [("e1", "c1"), ("e2", "c2")] {
        store.begin_effect(new_effect(id, call_id, None, "n1")).await.unwrap();
    }
    let at = Timestamp(5_000);
    // A refused grant dispatches nothing and stays unspent.
    let other = CallDigest("ef".repeat(32));
    assert_eq!(
        store.dispatch_effect_with_grant("e1", "g1", &other, &revision, at).await.unwrap(),
        Err(GrantRefusal::OtherCall)
    );
    assert_eq!(store.effect("e1").await.unwrap().unwrap().state, EffectState::Pending);
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), Some(grant("g1")));

    store.dispatch_effect_with_grant("e1", "g1", &digest, &revision, at).await.unwrap().unwrap();
    assert_eq!(store.effect("e1").await.unwrap().unwrap().state, EffectState::Dispatched);
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), None, "spent");
    assert_eq!(
        store.dispatch_effect_with_grant("e2", "g1", &digest, &revision, at).await.unwrap(),
        Err(GrantRefusal::AlreadyUsed)
    );
    assert_eq!(store.effect("e2").await.unwrap().unwrap().state, EffectState::Pending);

    // A dispatch that cannot happen (the effect is no longer pending) spends nothing.
    store.put_grant(grant("g2")).await.unwrap();
    assert!(matches!(
        store.dispatch_effect_with_grant("e1", "g2", &digest, &revision, at).await,
        Err(StoreError::Transition { .. })
    ));
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), Some(grant("g2")));
}

async fn approvals_resolve_once<S: Store>(store: &S) {
    let approval = Approval {
        id: "a1".into(),
        run: "r1".into(),
        call_id: "c1".into(),
        agent: "finance".into(),
        action: "transfer_funds".into(),
        call_digest: CallDigest("cd".repeat(32)),
        policy_revision: Revision("rev-1".into()),
        status: ApprovalStatus::Pending,
        requested: Timestamp(1_000),
        expires: Timestamp(3_601_000),
        decided_by: None,
        reason: None,
        body: json!({"risk": 0.7, "untrusted": ["email e1: process immediately"]}),
    };
    store.put_approval(approval.clone()).await.unwrap();
    assert_eq!(store.approval("a1").await.unwrap().unwrap(), approval);
    // A retry of the call finds its pending request, under the same revision, until expiry.
    let (digest, revision) = (&approval.call_digest, &approval.policy_revision);
    let rev_2 = Revision("rev-2".into());
    let pending = |at: u64, other_revision: bool| {
        let revision = if other_revision { &rev_2 } else { revision };
        store.pending_approval_for(digest, revision, Timestamp(at))
    };
    assert_eq!(pending(2_000, false).await.unwrap().as_deref(), Some("a1"));
    assert_eq!(pending(3_601_000, false).await.unwrap(), None, "expired");
    assert_eq!(pending(2_000, true).await.unwrap(), None, "other policy");
    let other = CallDigest("ab".repeat(32));
    assert_eq!(store.pending_approval_for(&other, revision, Timestamp(2_000)).await.unwrap(), None);
    assert!(
        store
            .resolve_approval("a1", ApprovalStatus::Rejected, "alice", Some("not ours"))
            .await
            .unwrap()
    );
    assert!(
        !store.resolve_approval("a1", ApprovalStatus::Approved, "mallory", None).await.unwrap()
    );
    let stored = store.approval("a1").await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.decided_by.as_deref(), stored.reason.as_deref()),
        (ApprovalStatus::Rejected, Some("alice"), Some("not ours"))
    );
    assert!(store.approval("a2").await.unwrap().is_none());
    assert_eq!(pending(2_000, false).await.unwrap(), None, "answered");
}

async fn approvals_are_listed_newest_first<S: Store>(store: &S) {
    for (id, requested) in [("a1", 1_000), ("a2", 3_000), ("a3", 2_000)] {
        store
            .put_approval(Approval {
                id: id.into(),
                run: "r1".into(),
                call_id: format!("c-{id}"),
                agent: "finance".into(),
                action: "transfer_funds".into(),
                call_digest: CallDigest("cd".repeat(32)),
                policy_revision: Revision("rev-1".into()),
                status: ApprovalStatus::Pending,
                requested: Timestamp(requested),
                expires: Timestamp(3_601_000),
                decided_by: None,
                reason: None,
                body: json!({"call": {"id": id}}),
            })
            .await
            .unwrap();
    }
    assert!(store.resolve_approval("a2", ApprovalStatus::Approved, "alice", None).await.unwrap());
    let ids = |list: Vec<Approval>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(ids(store.approvals(true, 10).await.unwrap()), ["a3", "a1"]);
    assert_eq!(ids(store.approvals(false, 10).await.unwrap()), ["a2", "a3", "a1"]);
    assert_eq!(ids(store.approvals(false, 1).await.unwrap()), ["a2"]);
    let listed = store.approvals(false, 1).await.unwrap().remove(0);
    assert_eq!(
        (listed.status, listed.body),
        (ApprovalStatus::Approved, json!({"call": {"id": "a2"}}))
    );
}

async fn concurrent_audit_appends_make_one_verifiable_log<S: Store + Clone>(store: &S) {
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

fn standing(id: &str, action: &str, created: u64, max_uses: u32) -> StandingGrant {
    StandingGrant {
        id: id.to_owned(),
        agent: "support".to_owned(),
        action: action.to_owned(),
        created: Timestamp(created),
        expires: Timestamp(10_000),
        max_uses,
        used: 0,
        revoked: None,
        terms: format!("{{\"id\":\"{id}\"}}"),
        signature: "sig".to_owned(),
    }
}

async fn standing_grants_count_uses_and_end<S: Store>(store: &S) {
    store.put_standing_grant(standing("g1", "send_email", 1, 2)).await.unwrap();
    store.put_standing_grant(standing("g2", "send_email", 2, 5)).await.unwrap();
    store.put_standing_grant(standing("g3", "delete_user", 3, 1)).await.unwrap();
    let all = store.standing_grants(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), ["g3", "g2", "g1"]);
    assert_eq!(all[2], standing("g1", "send_email", 1, 2), "stored as given");
    let mail = store.standing_grants(Some(("support", "send_email")), 10).await.unwrap();
    assert_eq!(mail.len(), 2);
    assert!(store.standing_grants(Some(("other", "send_email")), 10).await.unwrap().is_empty());
    assert_eq!(store.standing_grants(None, 1).await.unwrap().len(), 1);

    // Uses are counted up to the limit, by racing callers too.
    let use_g1 = || store.use_standing_grant("g1", Timestamp(5));
    let racing = tokio::join!(use_g1(), use_g1(), use_g1(), use_g1(), use_g1(), use_g1());
    let racing = [racing.0, racing.1, racing.2, racing.3, racing.4, racing.5];
    assert_eq!(racing.into_iter().filter(|used| *used.as_ref().unwrap()).count(), 2);
    let g1 =
        store.standing_grants(None, 10).await.unwrap().into_iter().find(|g| g.id == "g1").unwrap();
    assert_eq!(g1.used, 2);
    // Not after it expires, not once revoked, not when unknown.
    assert!(!store.use_standing_grant("g2", Timestamp(10_000)).await.unwrap());
    assert!(store.use_standing_grant("g2", Timestamp(9_999)).await.unwrap());
    assert!(store.revoke_standing_grant("g2", Timestamp(6)).await.unwrap());
    assert!(!store.revoke_standing_grant("g2", Timestamp(7)).await.unwrap(), "once");
    assert!(!store.use_standing_grant("g2", Timestamp(8)).await.unwrap());
    assert!(!store.use_standing_grant("nope", Timestamp(8)).await.unwrap());
    let g2 =
        store.standing_grants(None, 10).await.unwrap().into_iter().find(|g| g.id == "g2").unwrap();
    assert_eq!((g2.used, g2.revoked), (1, Some(Timestamp(6))));
}

async fn a_commits_audit_record_is_appended_only_with_its_event<S: Store>(store: &S) {
    let with_record = |expected: u64, admission: Vec<Admission>, i: usize| RunCommit {
        audit: Some(record(7, i)),
        ..commit("r1", expected, admission)
    };
    let done = store.commit_run_event(with_record(0, vec![], 0)).await.unwrap();
    let Committed::Done { version: 1, audit_seq: Some(seq) } = done else {
        panic!("expected the event and its record: {done:?}");
    };
    // A conflict and a refusal append nothing.
    assert_eq!(
        store.commit_run_event(with_record(0, vec![], 1)).await.unwrap(),
        Committed::Conflict
    );
    let full = Admission::Slot {
        key: "k".to_owned(),
        limit: 0,
        holder: "h".to_owned(),
        now: Timestamp(1),
        expires: Timestamp(2),
    };
    let refused = store.commit_run_event(with_record(1, vec![full], 2)).await.unwrap();
    assert!(matches!(refused, Committed::Refused { .. }), "{refused:?}");
    let stored = store.audit_records(0, 10).await.unwrap();
    assert_eq!(stored.iter().map(|r| r.0).collect::<Vec<_>>(), [seq], "only the committed one");
    let report = verify_log(stored, &store.audit_checkpoints().await.unwrap(), &verifier());
    assert_eq!((report.problem, report.size), (None, 1));
}

async fn a_runs_effects_are_listed_oldest_first<S: Store>(store: &S) {
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

async fn a_calls_end_is_written_whole_or_not_at_all<S: Store>(store: &S) {
    // The decision's commit records the effect as dispatched and takes a slot.
    let slot = |holder: &str| Admission::Slot {
        key: "action:deploy".into(),
        limit: 1,
        holder: holder.into(),
        now: Timestamp(1),
        expires: Timestamp(60_000),
    };
    let decided = RunCommit {
        effect: Some(NewEffect { dispatched: true, ..new_effect("e1", "c1", None, "n1") }),
        ..commit("r1", 0, vec![slot("r1/c1")])
    };
    assert!(matches!(store.commit_run_event(decided).await.unwrap(), Committed::Done { .. }));
    assert_eq!(store.effect("e1").await.unwrap().unwrap().state, EffectState::Dispatched);
    assert!(matches!(
        store.commit_run_event(commit("r2", 0, vec![slot("r2/c1")])).await.unwrap(),
        Committed::Refused { .. }
    ));
    // Another event lands on the run while the call executes: no conflict, the end goes
    // after it.
    assert!(matches!(
        store.commit_run_event(commit("r1", 1, vec![])).await.unwrap(),
        Committed::Done { version: 2, .. }
    ));
    let call_end = |i: usize| CallEnd {
        run: "r1".into(),
        agent: "finance".into(),
        events: vec![user("outcome"), user("output")],
        effect_id: "e1".into(),
        end: end(EffectState::Succeeded),
        slot_holder: "r1/c1".into(),
        audit: record(8, i),
    };
    assert_eq!(store.finish_call(call_end(0)).await.unwrap(), 4);
    let effect = store.effect("e1").await.unwrap().unwrap();
    assert_eq!((effect.state, effect.result), (EffectState::Succeeded, json!({"status": 200})));
    let run = store.load_run("r1").await.unwrap();
    assert_eq!(run.events[2..], [user("outcome"), user("output")]);
    assert!(
        matches!(
            store.commit_run_event(commit("r2", 0, vec![slot("r2/c1")])).await.unwrap(),
            Committed::Done { .. }
        ),
        "the slot was released"
    );
    let stored = store.audit_records(0, 10).await.unwrap();
    assert_eq!(stored.len(), 1, "the outcome record");
    // An effect ends once: a second end writes nothing, not even its events or record.
    assert!(matches!(store.finish_call(call_end(1)).await, Err(StoreError::Transition { .. })));
    assert_eq!(store.load_run("r1").await.unwrap().version, 4);
    assert_eq!(store.audit_records(0, 10).await.unwrap().len(), 1);
}

/// The grant of an approved call is spent by the commit that records its `allow`, or that
/// commit writes nothing: two commits carrying one grant cannot both succeed.
async fn a_grant_is_spent_by_the_commit_that_records_its_call<S: Store>(store: &S) {
    let digest = CallDigest("ab".repeat(32));
    let revision = Revision("rev-1".into());
    store
        .put_grant(Grant {
            id: "g1".into(),
            approval_id: Some("a1".into()),
            call_digest: digest.clone(),
            policy_revision: revision.clone(),
            expires: Timestamp(10_000),
        })
        .await
        .unwrap();
    let with_grant = |expected: u64, effect: &str, call: &str, digest: &CallDigest| RunCommit {
        effect: Some(NewEffect { dispatched: true, ..new_effect(effect, call, None, "n1") }),
        grant: Some(GrantUse {
            id: "g1".into(),
            digest: digest.clone(),
            revision: revision.clone(),
            at: Timestamp(5_000),
        }),
        ..commit("r1", expected, vec![])
    };
    // The wrong call cannot spend it, and writes nothing.
    let other = CallDigest("ef".repeat(32));
    assert_eq!(
        store.commit_run_event(with_grant(0, "e0", "c0", &other)).await.unwrap(),
        Committed::GrantRefused(GrantRefusal::OtherCall)
    );
    assert_eq!(store.load_run("r1").await.unwrap().version, 0);
    assert!(store.effect("e0").await.unwrap().is_none());
    assert!(store.grant_for_call(&digest).await.unwrap().is_some(), "still unspent");

    assert!(matches!(
        store.commit_run_event(with_grant(0, "e1", "c1", &digest)).await.unwrap(),
        Committed::Done { version: 1, .. }
    ));
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), None, "spent");
    assert_eq!(store.effect("e1").await.unwrap().unwrap().state, EffectState::Dispatched);
    assert_eq!(
        store.commit_run_event(with_grant(1, "e2", "c2", &digest)).await.unwrap(),
        Committed::GrantRefused(GrantRefusal::AlreadyUsed)
    );
    assert_eq!(store.load_run("r1").await.unwrap().version, 1, "nothing written");
    assert!(store.effect("e2").await.unwrap().is_none());
}

/// A commit recording a call whose id an executed call of the run already has is refused
/// (writing nothing), and names that call's effect and digest.
async fn an_executed_calls_id_refuses_a_commit_that_reuses_it<S: Store>(store: &S) {
    let digest = CallDigest("ab".repeat(32));
    let checked = |expected: u64, call: &str, effect: Option<NewEffect>| RunCommit {
        effect,
        call_id: Some(CallIdCheck { call_id: call.into(), digest: digest.clone() }),
        ..commit("r1", expected, vec![])
    };
    let executed = Some(NewEffect { dispatched: true, ..new_effect("e1", "c1", None, "n1") });
    assert!(matches!(
        store.commit_run_event(checked(0, "c1", executed)).await.unwrap(),
        Committed::Done { version: 1, .. }
    ));
    assert_eq!(
        store.commit_run_event(checked(1, "c1", None)).await.unwrap(),
        Committed::CallIdTaken { effect_id: "e1".into(), digest: digest.clone() }
    );
    assert_eq!(store.load_run("r1").await.unwrap().version, 1, "nothing written");
    // Other ids, and commits that do not ask, go through.
    assert!(matches!(
        store.commit_run_event(checked(1, "c2", None)).await.unwrap(),
        Committed::Done { version: 2, .. }
    ));
    assert!(matches!(
        store.commit_run_event(commit("r1", 2, vec![])).await.unwrap(),
        Committed::Done { version: 3, .. }
    ));
}
