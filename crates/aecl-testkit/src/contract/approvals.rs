//! The contract on approval requests: stored as given, found by a retry of their call
//! while pending, their votes written by a compare-and-set, resolved once, their call's
//! rejections found by its digest however many other requests there are, listed newest
//! first.

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

/// A pending request of run `r1` for the call with `digest`, made at `requested`.
pub(crate) fn request(id: &str, digest: &CallDigest, requested: u64) -> Approval {
    Approval {
        id: id.into(),
        run: "r1".into(),
        call_id: format!("c-{id}"),
        agent: "finance".into(),
        action: "transfer_funds".into(),
        call_digest: digest.clone(),
        policy_revision: Revision("rev-1".into()),
        status: ApprovalStatus::Pending,
        requested: Timestamp(requested),
        expires: Timestamp(requested + 3_600_000),
        decided_by: None,
        reason: None,
        body: json!({"call": {"id": id}}),
    }
}

pub async fn a_vote_is_written_over_the_votes_it_was_counted_with<S: Store>(store: &S) {
    let digest = CallDigest("cd".repeat(32));
    store.put_approval(request("a1", &digest, 1_000)).await.unwrap();
    let votes = |id| async move { store.approval(id).await.unwrap().unwrap().decided_by };
    // Over no votes yet, then over exactly the votes read; never over stale ones.
    assert!(store.record_vote("a1", None, r#"["alice"]"#).await.unwrap());
    assert!(!store.record_vote("a1", None, r#"["bob"]"#).await.unwrap(), "stale: none");
    assert!(!store.record_vote("a1", Some("[]"), r#"["bob"]"#).await.unwrap(), "stale");
    assert_eq!(votes("a1").await.as_deref(), Some(r#"["alice"]"#));
    assert!(store.record_vote("a1", Some(r#"["alice"]"#), r#"["alice","bob"]"#).await.unwrap());
    let stored = store.approval("a1").await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.decided_by.as_deref(), stored.reason),
        (ApprovalStatus::Pending, Some(r#"["alice","bob"]"#), None),
        "a vote leaves the request pending"
    );
    assert!(!store.record_vote("nope", None, r#"["alice"]"#).await.unwrap(), "unknown");

    // Voters racing, each counting again after a lost write: every vote lands, once.
    store.put_approval(request("a2", &digest, 2_000)).await.unwrap();
    let vote = |name: &'static str| async move {
        loop {
            let before = votes("a2").await;
            let mut list: Vec<String> =
                before.as_deref().map_or_else(Vec::new, |t| serde_json::from_str(t).unwrap());
            list.push(name.to_owned());
            let after = serde_json::to_string(&list).unwrap();
            if store.record_vote("a2", before.as_deref(), &after).await.unwrap() {
                return;
            }
        }
    };
    tokio::join!(vote("v1"), vote("v2"), vote("v3"), vote("v4"), vote("v5"), vote("v6"));
    let mut list: Vec<String> = serde_json::from_str(&votes("a2").await.unwrap()).unwrap();
    list.sort();
    assert_eq!(list, ["v1", "v2", "v3", "v4", "v5", "v6"]);

    // Not on a request that is no longer pending.
    let resolved = store.resolve_approval("a1", ApprovalStatus::Rejected, "carol", None);
    assert!(resolved.await.unwrap());
    assert!(!store.record_vote("a1", Some("carol"), r#"["dave"]"#).await.unwrap(), "closed");
    assert_eq!(votes("a1").await.as_deref(), Some("carol"));
}

pub async fn rejections_are_found_by_their_call<S: Store>(store: &S) {
    let (digest, other) = (CallDigest("cd".repeat(32)), CallDigest("ab".repeat(32)));
    // A rejected request, and the cool-down row its rejection wrote (`cooldown.rs`).
    store.put_approval(request("asked", &digest, 1_000)).await.unwrap();
    assert!(
        store
            .resolve_approval("asked", ApprovalStatus::Rejected, "alice", Some("no"))
            .await
            .unwrap()
    );
    let cooldown = Approval {
        status: ApprovalStatus::Rejected,
        expires: Timestamp(602_000),
        decided_by: Some("alice".into()),
        reason: Some("no".into()),
        body: json!({"cooldown_of": "asked"}),
        ..request("cooldown", &digest, 2_000)
    };
    store.put_approval(cooldown.clone()).await.unwrap();
    // Many newer rows of other calls, and of this one not rejected or long expired.
    for i in 0..40 {
        let mut row = request(&format!("other-{i}"), &other, 3_000 + i);
        row.status = ApprovalStatus::Rejected;
        store.put_approval(row).await.unwrap();
    }
    store.put_approval(request("pending", &digest, 4_000)).await.unwrap();
    let expired = Approval {
        status: ApprovalStatus::Rejected,
        expires: Timestamp(500),
        ..request("expired", &digest, 100)
    };
    store.put_approval(expired).await.unwrap();
    assert_eq!(store.approvals(false, 10).await.unwrap().len(), 10, "many newer rows");

    let ids = |list: Vec<Approval>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let found =
        |since: u64, at: u64| store.rejections_for(&digest, Timestamp(since), Timestamp(at));
    assert_eq!(ids(found(0, 3_000).await.unwrap()), ["cooldown", "asked"], "newest first");
    assert_eq!(found(0, 3_000).await.unwrap()[0], cooldown, "as stored");
    assert_eq!(ids(found(1_001, 3_000).await.unwrap()), ["cooldown"], "made since");
    assert_eq!(ids(found(2_000, 3_000).await.unwrap()), ["cooldown"], "at `since` too");
    assert_eq!(ids(found(2_001, 3_000).await.unwrap()), Vec::<String>::new());
    assert_eq!(ids(found(0, 602_000).await.unwrap()), ["asked"], "unexpired at `at`");
    let unknown = CallDigest("ef".repeat(32));
    assert!(store.rejections_for(&unknown, Timestamp(0), Timestamp(0)).await.unwrap().is_empty());
}
