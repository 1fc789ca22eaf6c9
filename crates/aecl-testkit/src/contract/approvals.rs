//! The contract on approval requests: stored as given, found by a retry of their call
//! while pending, resolved once, listed newest first.

use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Timestamp};
use aecl_engine::{Approval, ApprovalStatus, Store};
use serde_json::json;

pub async fn approvals_resolve_once<S: Store>(store: &S) {
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
            .resolve_approval("a1", ApprovalStatus::Rejected, "alice", Some("not ours"), None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .resolve_approval("a1", ApprovalStatus::Approved, "mallory", None, None)
            .await
            .unwrap()
    );
    let stored = store.approval("a1").await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.decided_by.as_deref(), stored.reason.as_deref()),
        (ApprovalStatus::Rejected, Some("alice"), Some("not ours"))
    );
    assert!(store.approval("a2").await.unwrap().is_none());
    assert_eq!(pending(2_000, false).await.unwrap(), None, "answered");
}

pub async fn approvals_are_listed_newest_first<S: Store>(store: &S) {
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
    assert!(
        store.resolve_approval("a2", ApprovalStatus::Approved, "alice", None, None).await.unwrap()
    );
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
