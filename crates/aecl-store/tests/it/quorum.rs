//! A quorum counts every vote it reports counted: approvers voting on one request at the
//! same moment (on one engine, or on two engines sharing PostgreSQL) are each told
//! "counted" exactly when their name is in the request's stored list, one person counts
//! once however they spell their name, and the request is approved only by as many
//! distinct people as it needs, with one grant.

use std::collections::BTreeSet;
use std::sync::Arc;

use aecl_audit::{AuditRecord, RecordKind};
use aecl_core::Decision;
use aecl_engine::{
    ApprovalStatus, Approved, Engine, EngineConfig, EngineError, ManualClock, Store, person,
};
use tokio::task::JoinSet;

use crate::support::{Counting, clock, policy_with, sqlite_store, write};

/// The most `approvals_required` the policy allows: four votes at once all stay short of
/// it, so each of them must be counted.
const QUORUM: usize = 5;

/// Voters at once before the quorum: every distinct person of the quorum but the last,
/// and one of them a second time under another spelling (one of the two counts).
const VOTERS: [&str; QUORUM] = ["alice", "bob", "carol", "dave", " Dave"];

/// The last votes, at once: one of them completes the quorum.
const LAST: [&str; 3] = ["erin", "frank", "grace"];

/// `put_record` needs `QUORUM` approvers for `worker`.
fn quorum_policy() -> Arc<aecl_core::Policy> {
    // `policy_with` puts its second argument in the action's `limits` table; a table
    // header after it starts the action's `approval` table.
    let approval = format!("\n[actions.put_record.approval]\napprovals_required = {QUORUM}\n");
    policy_with(10_000, &approval, "[context_rules]\nput_record = \"requires_human_approval\"\n")
}

fn engine<S: Store>(store: S, node: &str, clock: &Arc<ManualClock>) -> Arc<Engine<S>> {
    let config = EngineConfig { node: node.to_owned(), ..EngineConfig::default() };
    Arc::new(Engine::new(Arc::new(store), quorum_policy(), clock.clone(), config))
}

/// Every approver of `names` approves request `id` at once, on `engines` in turn.
async fn vote_at_once<S: Store>(
    engines: &[Arc<Engine<S>>],
    id: &str,
    names: &[&str],
) -> Vec<(String, Result<Approved, EngineError>)> {
    let mut voters = JoinSet::new();
    for (i, name) in names.iter().enumerate() {
        let (engine, id, name) = (engines[i % engines.len()].clone(), id.to_owned(), *name);
        let name = name.to_owned();
        voters.spawn(async move {
            let answer = engine.approve_request(&id, &name, None).await;
            (name, answer)
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = voters.join_next().await {
        answers.push(done.unwrap());
    }
    answers
}

/// The names in request `id`'s stored list of votes so far.
async fn stored_votes<S: Store>(engine: &Engine<S>, id: &str) -> Vec<String> {
    let approval = engine.store().approval(id).await.unwrap().unwrap();
    assert_eq!(approval.status, ApprovalStatus::Pending);
    serde_json::from_str(approval.decided_by.as_deref().unwrap_or("[]")).unwrap()
}

/// The approval vote records of request `id` in the audit log (each one a counted vote).
async fn vote_records<S: Store>(engine: &Engine<S>, id: &str) -> Vec<AuditRecord> {
    let stored = engine.store().audit_records(0, usize::MAX).await.unwrap();
    stored
        .iter()
        .map(|(_, bytes, _)| AuditRecord::from_canonical(bytes).unwrap())
        .filter(|r| r.kind == RecordKind::Approval && r.approval_id.as_deref() == Some(id))
        .filter(|r| r.input["status"] == "pending")
        .collect()
}

async fn votes<S: Store>(engines: &[Arc<Engine<S>>]) {
    let connector = Counting::default();
    let first = &engines[0];
    for round in 0..4 {
        let asked = first.execute(write(&format!("ask-{round}"), round), &connector).await.unwrap();
        assert_eq!(asked.decided.verdict.decision, Decision::RequireApproval);
        let id = asked.decided.approval_id.clone().unwrap();

        let answers = vote_at_once(engines, &id, &VOTERS).await;
        let stored = stored_votes(first, &id).await;
        let people: BTreeSet<String> = stored.iter().map(|name| person(name)).collect();
        assert_eq!(people.len(), stored.len(), "round {round}: one person once: {stored:?}");
        let mut counted = 0;
        for (name, answer) in &answers {
            match answer {
                // Counted exactly when the name is in the stored list.
                Ok(Approved::Counted { approvers, required }) => {
                    counted += 1;
                    assert!(stored.contains(name), "round {round}: {name:?} counted, not stored");
                    assert_eq!(*required, QUORUM as u32);
                    assert!(approvers.iter().all(|a| stored.contains(a)), "{approvers:?}");
                }
                Err(EngineError::AlreadyApproved { .. }) => {
                    assert!(!stored.contains(name), "round {round}: {name:?} refused, stored");
                    assert!(people.contains(&person(name)), "round {round}: {name:?} lost");
                }
                other => panic!("round {round}: {name:?}: {other:?}"),
            }
        }
        assert_eq!(counted, stored.len(), "round {round}: {answers:?}");
        assert_eq!(stored.len(), QUORUM - 1, "round {round}: every person's vote is in");
        assert_eq!(vote_records(first, &id).await.len(), counted, "one record per vote");

        // Short of the quorum, the call does not run and nobody else is asked.
        let again = first.execute(write(&format!("early-{round}"), round), &connector).await;
        let again = again.unwrap();
        assert_eq!(again.decided.verdict.decision, Decision::RequireApproval);
        assert_eq!(again.decided.approval_id.as_deref(), Some(id.as_str()));

        // The last votes at once: one completes the quorum, with that many people.
        let answers = vote_at_once(engines, &id, &LAST).await;
        let mut granted = 0;
        for (name, answer) in &answers {
            match answer {
                Ok(Approved::Granted { approvers, .. }) => {
                    granted += 1;
                    let people: BTreeSet<String> = approvers.iter().map(|a| person(a)).collect();
                    assert_eq!((approvers.len(), people.len()), (QUORUM, QUORUM), "{approvers:?}");
                    assert!(approvers.iter().take(QUORUM - 1).all(|a| stored.contains(a)));
                    assert_eq!(approvers.last(), Some(name));
                }
                Err(EngineError::ApprovalClosed { status: "approved", .. }) => {}
                other => panic!("round {round}: {name:?}: {other:?}"),
            }
        }
        assert_eq!(granted, 1, "round {round}: {answers:?}");
        let ran = connector.executed.lock().unwrap().len();
        let retry = first.execute(write(&format!("retry-{round}"), round), &connector).await;
        assert_eq!(retry.unwrap().decided.verdict.decision, Decision::Allow);
        assert_eq!(connector.executed.lock().unwrap().len(), ran + 1, "the grant runs it once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approvers_voting_at_once_are_each_counted_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    votes(&[engine(sqlite_store(dir.path()), "a", &clock())]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approvers_voting_at_once_are_each_counted_on_postgres() {
    votes(&[engine(crate::support::postgres_store().await, "a", &clock())]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approvers_voting_at_once_on_two_replicas_are_each_counted() {
    let url = crate::pg::postgres_url().await;
    let open = || aecl_store::PostgresStore::open(&url, crate::support::audit_config());
    let (a, b) = (open().await.unwrap(), open().await.unwrap());
    let clock = clock();
    votes(&[engine(a, "a", &clock), engine(b, "b", &clock)]).await;
}
