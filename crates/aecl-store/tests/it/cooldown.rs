//! A rejected call stays refused for its whole cool-down, however many other approval
//! requests are made meanwhile: the cool-down is found by the call, not among the newest
//! requests of every call, so a busy server (or an agent filing requests on purpose)
//! cannot push it out of sight.

use std::sync::Arc;

use aecl_core::{Call, Decision, Timestamp};
use aecl_engine::{Engine, EngineConfig, ManualClock, Store};
use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{Counting, policy_with, sqlite_store};

/// Other requests made after the rejection: more than any window of newest rows that a
/// scan could have looked through (the red team's was 500).
const OTHERS: i64 = 520;

/// Runs the other requests are spread over, so that they are made concurrently.
const OTHER_RUNS: i64 = 8;

fn put(run: &str, id: &str, value: i64) -> Call {
    Call {
        id: id.into(),
        agent: "worker".into(),
        run: run.into(),
        action: "put_record".into(),
        args: json!({"id": "rec-1", "value": value}),
        ..Call::default()
    }
}

async fn cooldown_holds<S: Store>(store: S) {
    let clock = Arc::new(ManualClock::new(Timestamp(1_764_000_000_000)));
    let policy =
        policy_with(10_000, "", "[context_rules]\nput_record = \"requires_human_approval\"\n");
    let engine =
        Arc::new(Engine::new(Arc::new(store), policy, clock.clone(), EngineConfig::default()));
    let connector = Arc::new(Counting::default());

    let asked = engine.execute(put("r1", "c1", 5), &*connector).await.unwrap();
    let rejected = asked.decided.approval_id.unwrap();
    engine.reject(&rejected, "alice", "not this record").await.unwrap();

    // Later, other calls in other runs each make a request of their own.
    clock.advance_ms(1_000);
    let mut others = JoinSet::new();
    for run in 0..OTHER_RUNS {
        let (engine, connector) = (engine.clone(), connector.clone());
        others.spawn(async move {
            for i in (run..OTHERS).step_by(OTHER_RUNS as usize) {
                // Other values: the same arguments in another run are the rejected call.
                let call = put(&format!("other-{run}"), &format!("o{i}"), 1_000 + i);
                let asked = engine.execute(call, &*connector).await.unwrap();
                assert_eq!(asked.decided.verdict.decision, Decision::RequireApproval);
            }
        });
    }
    while let Some(done) = others.join_next().await {
        done.unwrap();
    }
    let pending = engine.approvals(true, 10_000).await.unwrap();
    assert_eq!(pending.len(), OTHERS as usize, "every other call asked");

    // Still within the cool-down (600 s by default), the rejected call is refused, naming
    // the rejection, and nobody is asked again.
    clock.advance_ms(60_000);
    let again = engine.execute(put("r1", "c2", 5), &*connector).await.unwrap();
    let verdict = &again.decided.verdict;
    assert_eq!(verdict.decision, Decision::Block, "{verdict:?}");
    let reason = verdict.reasons.iter().find(|r| r.rule == "approval.rejected");
    assert!(reason.is_some_and(|r| r.message.contains("not this record")), "{verdict:?}");
    assert_eq!(again.decided.approval_id.as_deref(), Some(rejected.as_str()));
    assert_eq!(engine.approvals(true, 10_000).await.unwrap().len(), OTHERS as usize);
    assert!(connector.executed.lock().unwrap().is_empty());
    // Nor in another run, nor with the amount spelled `5.0` (red team, 2026-11-30: each
    // filed a new request at once).
    let mut respelled = put("r1", "c4", 5);
    respelled.args = json!({"value": 5.0, "id": "rec-1"});
    let mut noted = put("r1", "c5", 5);
    noted.args = json!({"id": "rec-1", "value": 5, "note": null});
    for call in [put("r-new", "c1", 5), respelled, noted] {
        let again = engine.execute(call, &*connector).await.unwrap();
        let verdict = &again.decided.verdict;
        assert_eq!(verdict.decision, Decision::Block, "{verdict:?}");
        assert!(verdict.reasons.iter().any(|r| r.rule == "approval.rejected"), "{verdict:?}");
    }
    assert_eq!(engine.approvals(true, 10_000).await.unwrap().len(), OTHERS as usize);

    // Once the cool-down is over, the same call asks again.
    clock.advance_ms(600_000);
    let later = engine.execute(put("r1", "c3", 5), &*connector).await.unwrap();
    assert_eq!(later.decided.verdict.decision, Decision::RequireApproval);
    assert_ne!(later.decided.approval_id.as_deref(), Some(rejected.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejection_cools_down_past_hundreds_of_other_requests_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    cooldown_holds(sqlite_store(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejection_cools_down_past_hundreds_of_other_requests_on_postgres() {
    cooldown_holds(crate::support::postgres_store().await).await;
}
