//! The contract on runs: events appended at the version they were decided on, with the
//! admissions (rate limits, concurrency slots), call-id check, grant, effect and audit
//! record of a commit taken in the same step, whole or not at all.

use aecl_audit::verify_log;
use aecl_core::limits::RateLimit;
use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Timestamp};
use aecl_engine::{
    Admission, CallIdCheck, Committed, Durability, EffectState, Grant, GrantUse, NewEffect,
    RunCommit, Store, StoreError,
};
use serde_json::json;

use super::{call_end, commit, new_effect, user};
use crate::audit::{record, verifier};

pub async fn run_events_append_only_at_the_version_decided_on<S: Store>(store: &S) {
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

pub async fn a_rate_limit_refusal_writes_nothing<S: Store>(store: &S) {
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

pub async fn concurrency_slots_are_held_released_and_expire<S: Store>(store: &S) {
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

pub async fn a_commits_audit_record_is_appended_only_with_its_event<S: Store>(store: &S) {
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

pub async fn a_calls_end_is_written_whole_or_not_at_all<S: Store>(store: &S) {
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
    let ended = |i: usize| {
        call_end(vec![user("outcome"), user("output")], record(8, i), Durability::Synced)
    };
    assert_eq!(store.finish_call(ended(0)).await.unwrap(), 4);
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
    assert!(matches!(store.finish_call(ended(1)).await, Err(StoreError::Transition { .. })));
    assert_eq!(store.load_run("r1").await.unwrap().version, 4);
    assert_eq!(store.audit_records(0, 10).await.unwrap().len(), 1);
}

/// A read that already ran commits its decision and its end in one commit: the run gets
/// the call's event and then the end's, the effect is recorded ended, and the decision
/// record is followed by the outcome record. At a version the run has left, neither is
/// written.
pub async fn a_reads_decision_and_end_commit_together_or_not_at_all<S: Store>(store: &S) {
    let read = |expected: u64, i: usize| RunCommit {
        effect: Some(NewEffect { dispatched: true, ..new_effect("e1", "c1", None, "n1") }),
        audit: Some(record(7, i)),
        end: Some(std::sync::Arc::new(call_end(
            vec![user("outcome"), user("output")],
            record(8, i),
            Durability::Synced,
        ))),
        ..commit("r1", expected, vec![])
    };
    // Another writer moved the run on: nothing of the read is written.
    assert!(matches!(
        store.commit_run_event(commit("r1", 0, vec![])).await.unwrap(),
        Committed::Done { version: 1, .. }
    ));
    assert_eq!(store.commit_run_event(read(0, 0)).await.unwrap(), Committed::Conflict);
    assert_eq!(store.effect("e1").await.unwrap(), None);
    assert!(store.audit_records(0, 10).await.unwrap().is_empty());
    assert_eq!(store.load_run("r1").await.unwrap().version, 1);
    // At the run's version: both, in order.
    let Committed::Done { version: 4, audit_seq: Some(decision) } =
        store.commit_run_event(read(1, 1)).await.unwrap()
    else {
        panic!("the read commits with its end");
    };
    let effect = store.effect("e1").await.unwrap().unwrap();
    assert_eq!((effect.state, effect.result), (EffectState::Succeeded, json!({"status": 200})));
    let run = store.load_run("r1").await.unwrap();
    assert_eq!(run.events[2..], [user("outcome"), user("output")]);
    let stored = store.audit_records(0, 10).await.unwrap();
    let seqs: Vec<u64> = stored.iter().map(|r| r.0).collect();
    assert_eq!(seqs, [decision, decision + 1], "the decision record, then the outcome's");
}

/// A commit recording a call whose id an executed call of the run already has is refused
/// (writing nothing), and names that call's effect and digest.
pub async fn an_executed_calls_id_refuses_a_commit_that_reuses_it<S: Store>(store: &S) {
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

/// A run's first commit refused for its call's id (an effect begun before the run had any
/// event) leaves no run behind: the next first commit makes it, as its own agent's.
pub async fn a_refused_first_commit_leaves_no_run<S: Store>(store: &S) {
    store.begin_effect(new_effect("e1", "c1", None, "n1")).await.unwrap();
    let digest = CallDigest("ab".repeat(32));
    let reusing = RunCommit {
        call_id: Some(CallIdCheck { call_id: "c1".into(), digest: digest.clone() }),
        ..commit("r1", 0, vec![])
    };
    assert_eq!(
        store.commit_run_event(reusing).await.unwrap(),
        Committed::CallIdTaken { effect_id: "e1".into(), digest }
    );
    let run = store.load_run("r1").await.unwrap();
    assert_eq!((run.version, run.agent), (0, None), "nothing written");
    let other = RunCommit { agent: "payroll".into(), ..commit("r1", 0, vec![]) };
    assert!(matches!(
        store.commit_run_event(other).await.unwrap(),
        Committed::Done { version: 1, .. }
    ));
    assert_eq!(store.load_run("r1").await.unwrap().agent.as_deref(), Some("payroll"));
}

/// A run belongs to the agent of its first commit: a later commit naming another agent is
/// appended (the engine checks agents) but does not change whose run it is.
pub async fn a_runs_agent_is_its_first_commits<S: Store>(store: &S) {
    store.commit_run_event(commit("r1", 0, vec![])).await.unwrap();
    let other = RunCommit { agent: "intruder".into(), ..commit("r1", 1, vec![]) };
    assert!(matches!(
        store.commit_run_event(other).await.unwrap(),
        Committed::Done { version: 2, .. }
    ));
    assert_eq!(store.load_run("r1").await.unwrap().agent.as_deref(), Some("finance"));
}

/// A commit whose effect collides with a stored one (the same call id in the run, with no
/// call-id check asked for) fails and writes nothing of itself: not its event, its rate
/// step, its slot, its grant, its effect or its audit record.
pub async fn a_commit_whose_effect_collides_writes_nothing<S: Store>(store: &S) {
    store.begin_effect(new_effect("e1", "c1", None, "n1")).await.unwrap();
    let (digest, revision) = (CallDigest("ab".repeat(32)), Revision("rev-1".into()));
    store
        .put_grant(Grant {
            id: "g1".into(),
            approval_id: None,
            call_digest: digest.clone(),
            policy_revision: revision.clone(),
            expires: Timestamp(100_000),
            signature: None,
        })
        .await
        .unwrap();
    let limit = RateLimit { count: 1, per_ms: 1_000, burst: 1 };
    let admission = |holder: &str| {
        vec![
            Admission::Rate { key: "agent:finance".into(), limit, now: Timestamp(10_000) },
            Admission::Slot {
                key: "action:deploy".into(),
                limit: 1,
                holder: holder.into(),
                now: Timestamp(10_000),
                expires: Timestamp(70_000),
            },
        ]
    };
    let colliding = RunCommit {
        effect: Some(NewEffect { dispatched: true, ..new_effect("e2", "c1", None, "n1") }),
        grant: Some(GrantUse {
            id: "g1".into(),
            digest: digest.clone(),
            revision,
            at: Timestamp(10_000),
        }),
        audit: Some(record(9, 0)),
        ..commit("r1", 0, admission("r1/c1"))
    };
    assert!(store.commit_run_event(colliding).await.is_err(), "a second effect for call c1");
    assert_eq!(store.load_run("r1").await.unwrap().version, 0);
    assert!(store.effect("e2").await.unwrap().is_none());
    assert_eq!(store.effect("e1").await.unwrap().unwrap().state, EffectState::Pending);
    assert!(store.grant_for_call(&digest).await.unwrap().is_some(), "the grant is unspent");
    assert!(store.audit_records(0, 10).await.unwrap().is_empty());
    // Neither the rate step nor the slot was taken: another holder gets both at once.
    assert!(matches!(
        store.commit_run_event(commit("r1", 0, admission("r1/c2"))).await.unwrap(),
        Committed::Done { version: 1, .. }
    ));
}

/// Releasing a holder's slots frees those and no other holder's.
pub async fn slots_are_released_by_their_holder_only<S: Store>(store: &S) {
    let slot = |holder: &str| Admission::Slot {
        key: "action:deploy".into(),
        limit: 2,
        holder: holder.into(),
        now: Timestamp(1),
        expires: Timestamp(60_000),
    };
    for (run, holder) in [("a", "a/c1"), ("b", "b/c1")] {
        assert!(matches!(
            store.commit_run_event(commit(run, 0, vec![slot(holder)])).await.unwrap(),
            Committed::Done { .. }
        ));
    }
    let refused = Committed::Refused { index: 0, retry_after_ms: None };
    assert_eq!(store.commit_run_event(commit("c", 0, vec![slot("c/c1")])).await.unwrap(), refused);
    store.release_slots("nobody").await.unwrap();
    assert_eq!(store.commit_run_event(commit("c", 0, vec![slot("c/c1")])).await.unwrap(), refused);
    store.release_slots("a/c1").await.unwrap();
    assert!(matches!(
        store.commit_run_event(commit("c", 0, vec![slot("c/c1")])).await.unwrap(),
        Committed::Done { .. }
    ));
    // b/c1 still holds its slot, and c/c1 now holds the other.
    assert_eq!(store.commit_run_event(commit("d", 0, vec![slot("d/c1")])).await.unwrap(), refused);
    // A holder asking again is not counted against itself.
    assert!(matches!(
        store.commit_run_event(commit("b", 1, vec![slot("b/c1")])).await.unwrap(),
        Committed::Done { .. }
    ));
}

/// An ordered write (`Durability::Ordered`: committed, perhaps not yet synced) is a commit
/// like any other for everyone who reads or writes after its answer: the same client reads
/// its own write (an effect's state right after `execute` answers), the run's next commit
/// is checked against it, and a synced write after it keeps both.
pub async fn an_ordered_write_is_seen_at_once_by_reads_and_later_writes<S: Store>(store: &S) {
    let decided = RunCommit {
        effect: Some(NewEffect { dispatched: true, ..new_effect("e1", "c1", None, "n1") }),
        audit: Some(record(7, 0)),
        durability: Durability::Ordered,
        end: None,
        ..commit("r1", 0, vec![])
    };
    let Committed::Done { version: 1, audit_seq: Some(decision) } =
        store.commit_run_event(decided).await.unwrap()
    else {
        panic!("an ordered commit is a commit");
    };
    assert_eq!(store.effect("e1").await.unwrap().unwrap().state, EffectState::Dispatched);
    assert_eq!(store.load_run("r1").await.unwrap().version, 1);
    // Ended ordered too: read back at once, and the run's next commit sees its events.
    let ordered = call_end(vec![user("outcome")], record(8, 1), Durability::Ordered);
    assert_eq!(store.finish_call(ordered).await.unwrap(), 2);
    assert_eq!(store.effect("e1").await.unwrap().unwrap().state, EffectState::Succeeded);
    assert!(matches!(
        store.commit_run_event(commit("r1", 1, vec![])).await.unwrap(),
        Committed::Conflict
    ));
    assert!(matches!(
        store.commit_run_event(commit("r1", 2, vec![])).await.unwrap(),
        Committed::Done { version: 3, .. }
    ));
    let stored = store.audit_records(0, 10).await.unwrap();
    assert_eq!(stored.len(), 2, "the decision and outcome records");
    assert_eq!(stored[0].0, decision);
}

/// Commits racing at one version of a run, from many tasks at once (on PostgreSQL, on as
/// many connections): exactly one appends and the others are told of the conflict, whether
/// the winner is a plain event or a call recording its effect; a later commit reusing the
/// winning call's id is refused. Nothing a loser carried is written.
pub async fn commits_racing_at_one_version_append_once<S: Store + Clone>(store: &S) {
    const RACERS: usize = 12;
    let digest = CallDigest("ab".repeat(32));
    let store = std::sync::Arc::new(store.clone());
    // Each round races at `expected` (the first makes the run) and then commits once more
    // (the reuse below).
    for (round, expected) in [0, 2, 4, 6].into_iter().enumerate() {
        let mut tasks = tokio::task::JoinSet::new();
        for racer in 0..RACERS {
            let store = store.clone();
            let call = format!("c{round}-{racer}");
            // Half the racers record an executed call (its effect and id), half a plain event.
            let effect = (racer % 2 == 0).then(|| NewEffect {
                dispatched: true,
                ..new_effect(&format!("e{round}-{racer}"), &call, None, "n1")
            });
            let racing = RunCommit {
                event: user(&format!("racer {racer} at {expected}")),
                effect,
                call_id: Some(CallIdCheck { call_id: call, digest: digest.clone() }),
                ..commit("r1", expected, vec![])
            };
            tasks.spawn(async move { (racer, store.commit_run_event(racing).await.unwrap()) });
        }
        let outcomes = tasks.join_all().await;
        let winners: Vec<usize> = outcomes
            .iter()
            .filter(
                |(_, o)| matches!(o, Committed::Done { version, .. } if *version == expected + 1),
            )
            .map(|(racer, _)| *racer)
            .collect();
        let [winner] = winners[..] else {
            panic!("round {round}: one commit appends at version {expected}, got {outcomes:?}");
        };
        assert!(
            outcomes.iter().all(|(r, o)| *r == winner || *o == Committed::Conflict),
            "round {round}: every other racer conflicts: {outcomes:?}"
        );
        let run = store.load_run("r1").await.unwrap();
        assert_eq!(run.version, expected + 1);
        assert_eq!(run.events.last(), Some(&user(&format!("racer {winner} at {expected}"))));
        for racer in (0..RACERS).filter(|r| r % 2 == 0 && *r != winner) {
            let lost = format!("e{round}-{racer}");
            assert_eq!(store.effect(&lost).await.unwrap(), None, "a loser's effect `{lost}`");
        }
        // The winner's call id, reused: refused when it recorded an executed call.
        let reuse = RunCommit {
            call_id: Some(CallIdCheck {
                call_id: format!("c{round}-{winner}"),
                digest: digest.clone(),
            }),
            ..commit("r1", expected + 1, vec![])
        };
        let answer = store.commit_run_event(reuse.clone()).await.unwrap();
        if winner % 2 == 0 {
            let effect_id = format!("e{round}-{winner}");
            assert_eq!(answer, Committed::CallIdTaken { effect_id, digest: digest.clone() });
            // Move the run on for the next round as the plain event would have.
            let next = RunCommit { call_id: None, ..reuse };
            assert!(matches!(store.commit_run_event(next).await.unwrap(), Committed::Done { .. }));
        } else {
            assert!(matches!(answer, Committed::Done { .. }), "{answer:?}");
        }
    }
}

/// Commits to many runs at once (a backend may take them in one statement, as PostgreSQL's
/// batches do) each get their own answer: a new run made, a run moved on, a stale version
/// refused, an executed call's id refused (its new run left unmade), two commits at one
/// version of one run of which exactly one appends; and what each wrote is exactly its own.
pub async fn commits_of_many_runs_at_once_each_get_their_own_answer<S: Store + Clone>(store: &S) {
    const RUNS: usize = 24;
    let digest = CallDigest("ab".repeat(32));
    let checked = |run: &str, expected: u64, call: &str| RunCommit {
        event: user(&format!("{run} {call} at {expected}")),
        call_id: Some(CallIdCheck { call_id: call.to_owned(), digest: digest.clone() }),
        durability: Durability::Ordered,
        ..commit(run, expected, vec![])
    };
    // Runs `old-i` hold one event, from an executed call `done-i`; effects `pre-i` were
    // begun for the runs `new-i` before they had any event.
    for i in 0..RUNS {
        let run = format!("old-{i}");
        let executed = NewEffect {
            run: run.clone(),
            dispatched: true,
            ..new_effect(&format!("e-{i}"), &format!("done-{i}"), None, "n1")
        };
        let first = RunCommit { effect: Some(executed), ..checked(&run, 0, &format!("done-{i}")) };
        assert!(matches!(store.commit_run_event(first).await.unwrap(), Committed::Done { .. }));
        let begun = NewEffect {
            run: format!("new-{i}"),
            ..new_effect(&format!("pre-{i}"), &format!("pre-{i}"), None, "n1")
        };
        store.begin_effect(begun).await.unwrap();
    }
    // What each commit of the round is, and the answer it must get.
    let mut round: Vec<(RunCommit, Committed)> = Vec::new();
    for i in 0..RUNS {
        let (old, new) = (format!("old-{i}"), format!("new-{i}"));
        let done = || Committed::Done { version: 1, audit_seq: None };
        let (commit_old, answer_old) = match i % 3 {
            0 => (
                checked(&old, 1, &format!("c-{i}")),
                Committed::Done { version: 2, audit_seq: None },
            ),
            1 => (checked(&old, 0, &format!("c-{i}")), Committed::Conflict),
            _ => (
                checked(&old, 1, &format!("done-{i}")),
                Committed::CallIdTaken { effect_id: format!("e-{i}"), digest: digest.clone() },
            ),
        };
        round.push((commit_old, answer_old));
        let (commit_new, answer_new) = if i % 2 == 0 {
            (checked(&new, 0, &format!("c-{i}")), done())
        } else {
            (
                checked(&new, 0, &format!("pre-{i}")),
                Committed::CallIdTaken { effect_id: format!("pre-{i}"), digest: digest.clone() },
            )
        };
        round.push((commit_new, answer_new));
    }
    // And two commits at version 0 of one new run, of which one appends.
    let twins = [checked("twin", 0, "a"), checked("twin", 0, "b")];
    let mut tasks = tokio::task::JoinSet::new();
    for (index, commit) in
        round.iter().map(|(c, _)| c.clone()).chain(twins.iter().cloned()).enumerate()
    {
        let store = store.clone();
        tasks.spawn(async move { (index, store.commit_run_event(commit).await.unwrap()) });
    }
    let mut answers = tasks.join_all().await;
    answers.sort_by_key(|(index, _)| *index);
    for ((commit, expected), (_, answer)) in round.iter().zip(&answers) {
        assert_eq!(
            answer, expected,
            "the commit to `{}` at {}",
            commit.run, commit.expected_version
        );
    }
    let twin_answers: Vec<&Committed> = answers[round.len()..].iter().map(|(_, a)| a).collect();
    assert!(
        matches!(
            twin_answers[..],
            [Committed::Done { version: 1, .. }, Committed::Conflict]
                | [Committed::Conflict, Committed::Done { version: 1, .. }]
        ),
        "one of two commits at one version appends: {twin_answers:?}"
    );
    // Each run holds exactly what its own commits wrote.
    for (commit, expected) in &round {
        let run = store.load_run(&commit.run).await.unwrap();
        match expected {
            Committed::Done { version, .. } => {
                assert_eq!(run.version, *version, "`{}`", commit.run);
                assert_eq!(run.events.last(), Some(&commit.event), "`{}`", commit.run);
                assert_eq!(run.agent.as_deref(), Some("finance"));
            }
            _ if commit.run.starts_with("new-") => {
                assert_eq!((run.version, run.agent), (0, None), "`{}`: no run made", commit.run);
            }
            _ => assert_eq!(run.version, 1, "`{}`: nothing written", commit.run),
        }
    }
    assert_eq!(store.load_run("twin").await.unwrap().version, 1);
}
