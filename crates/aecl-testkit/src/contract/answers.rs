//! The contract on the latest answer about a call: filing a request for a call voids the
//! call's unspent grants and closes its request still pending under another policy
//! revision; a person's answer voids every other unspent grant of its call and writes its
//! own; a voided grant is never spent (nor taken for a spent one), and a void racing a
//! spend leaves the grant either spent or voided, never both, never neither.

use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Timestamp};
use aecl_engine::{
    Answer, ApprovalStatus, Committed, Grant, GrantRefusal, GrantUse, NewEffect, RunCommit, Store,
    Voiding,
};

use super::approvals::request;
use super::{commit, new_effect};

/// Grant `id` for the call with `digest` under `rev-1`, of request `a-{id}`.
fn grant(id: &str, digest: &CallDigest) -> Grant {
    Grant {
        id: id.into(),
        approval_id: Some(format!("a-{id}")),
        call_digest: digest.clone(),
        policy_revision: Revision("rev-1".into()),
        expires: Timestamp(10_000_000),
        signature: None,
    }
}

fn voiding(why: &str) -> Voiding {
    Voiding { at: Timestamp(5_000), why: why.to_owned() }
}

fn answer(status: ApprovalStatus, by: &str, grant: Option<Grant>) -> Answer {
    Answer {
        status,
        by: by.to_owned(),
        reason: Some(format!("{by} says so")),
        grant,
        voiding: voiding(&format!("{by} answered")),
    }
}

fn ids(grants: &[Grant]) -> Vec<&str> {
    grants.iter().map(|g| g.id.as_str()).collect()
}

pub async fn filing_a_request_voids_its_calls_grants_and_closes_the_older_question<S: Store>(
    store: &S,
) {
    let (digest, other) = (CallDigest("cd".repeat(32)), CallDigest("ab".repeat(32)));
    let (rev_1, rev_2) = (Revision("rev-1".into()), Revision("rev-2".into()));
    store.put_grant(grant("g1", &digest)).await.unwrap();
    store.put_grant(grant("g-other", &other)).await.unwrap();
    store.put_grant(grant("g-spent", &digest)).await.unwrap();
    store.consume_grant("g-spent", &digest, &rev_1, Timestamp(4_000)).await.unwrap().unwrap();
    // A rejection's cool-down row of the call (not a request): left as it is.
    let cooldown = aecl_engine::Approval {
        status: ApprovalStatus::Rejected,
        ..request("cooldown", &digest, 500)
    };
    store.put_approval(cooldown.clone()).await.unwrap();

    let filed = store.file_approval(request("a1", &digest, 1_000), voiding("asked")).await;
    let filed = filed.unwrap();
    assert_eq!(ids(&filed.grants), ["g1"], "the unspent grant of this call only");
    assert!(filed.requests.is_empty(), "nothing was pending");
    assert_eq!(store.approval("a1").await.unwrap().unwrap(), request("a1", &digest, 1_000));
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), None, "voided");
    assert_eq!(
        store.consume_grant("g1", &digest, &rev_1, Timestamp(6_000)).await.unwrap(),
        Err(GrantRefusal::Voided)
    );
    assert_eq!(store.grant_for_call(&other).await.unwrap(), Some(grant("g-other", &other)));
    let spent = store.spent_grant_for_call(&digest).await.unwrap();
    assert_eq!(spent, Some((grant("g-spent", &digest), Timestamp(4_000))), "spent, not voided");

    // Asked again under another revision: the older question is closed with the reason.
    let newer =
        aecl_engine::Approval { policy_revision: rev_2.clone(), ..request("a2", &digest, 2_000) };
    let filed = store.file_approval(newer.clone(), voiding("asked again")).await.unwrap();
    assert!(filed.grants.is_empty());
    let closed: Vec<&str> = filed.requests.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(closed, ["a1"]);
    let a1 = store.approval("a1").await.unwrap().unwrap();
    assert_eq!(
        (a1.status, a1.decided_by.as_deref(), a1.reason.as_deref()),
        (ApprovalStatus::Expired, Some("aecl"), Some("asked again"))
    );
    assert_eq!(filed.requests[0], a1, "returned as stored");
    let at = Timestamp(3_000);
    assert_eq!(
        store.pending_approval_for(&digest, &rev_2, at).await.unwrap().as_deref(),
        Some("a2")
    );
    // A duplicate under the same revision leaves the first pending.
    let twin =
        aecl_engine::Approval { policy_revision: rev_2.clone(), ..request("a3", &digest, 3_000) };
    assert!(store.file_approval(twin, voiding("again")).await.unwrap().requests.is_empty());
    assert_eq!(store.approval("a2").await.unwrap().unwrap().status, ApprovalStatus::Pending);
    assert_eq!(store.approval("cooldown").await.unwrap().unwrap(), cooldown);
    // An id filed twice is an error, and writes nothing.
    store.put_grant(grant("g2", &digest)).await.unwrap();
    assert!(store.file_approval(request("a1", &digest, 4_000), voiding("dup")).await.is_err());
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), Some(grant("g2", &digest)));
}

pub async fn an_answer_voids_its_calls_other_grants_and_writes_its_own<S: Store>(store: &S) {
    let (digest, other) = (CallDigest("cd".repeat(32)), CallDigest("ab".repeat(32)));
    store.put_grant(grant("g1", &digest)).await.unwrap();
    store.put_grant(grant("g-other", &other)).await.unwrap();
    store.put_approval(request("a1", &digest, 1_000)).await.unwrap();
    let approved = answer(ApprovalStatus::Approved, "bob", Some(grant("g2", &digest)));
    let voided = store.answer_approval("a1", approved).await.unwrap().expect("pending");
    assert_eq!(ids(&voided), ["g1"]);
    let a1 = store.approval("a1").await.unwrap().unwrap();
    assert_eq!(
        (a1.status, a1.decided_by.as_deref(), a1.reason.as_deref()),
        (ApprovalStatus::Approved, Some("bob"), Some("bob says so"))
    );
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), Some(grant("g2", &digest)));
    let rev_1 = Revision("rev-1".into());
    assert_eq!(
        store.consume_grant("g1", &digest, &rev_1, Timestamp(6_000)).await.unwrap(),
        Err(GrantRefusal::Voided)
    );
    // A second answer finds it answered, and writes nothing (not its grant, no void).
    let late = answer(ApprovalStatus::Rejected, "carol", Some(grant("g3", &digest)));
    assert_eq!(store.answer_approval("a1", late).await.unwrap(), None);
    assert_eq!(store.approval("a1").await.unwrap().unwrap(), a1);
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), Some(grant("g2", &digest)));
    assert_eq!(
        store.consume_grant("g3", &digest, &rev_1, Timestamp(6_000)).await.unwrap(),
        Err(GrantRefusal::Unknown)
    );
    let unknown = answer(ApprovalStatus::Approved, "bob", None);
    assert_eq!(store.answer_approval("nope", unknown).await.unwrap(), None);

    // A rejection of the call voids the approval before it.
    store.put_approval(request("a2", &digest, 2_000)).await.unwrap();
    let rejected = answer(ApprovalStatus::Rejected, "carol", None);
    let voided = store.answer_approval("a2", rejected).await.unwrap().expect("pending");
    assert_eq!(ids(&voided), ["g2"]);
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), None);
    assert_eq!(store.grant_for_call(&other).await.unwrap(), Some(grant("g-other", &other)));
    // A grant id that exists already is an error, and the request stays pending.
    store.put_approval(request("a3", &digest, 3_000)).await.unwrap();
    let clash = answer(ApprovalStatus::Approved, "bob", Some(grant("g-other", &other)));
    assert!(store.answer_approval("a3", clash).await.is_err());
    assert_eq!(store.approval("a3").await.unwrap().unwrap().status, ApprovalStatus::Pending);
}

pub async fn a_voided_grant_is_never_spent<S: Store>(store: &S) {
    let digest = CallDigest("ab".repeat(32));
    let rev_1 = Revision("rev-1".into());
    store.put_grant(grant("g1", &digest)).await.unwrap();
    let voided = store.void_grants(&digest, voiding("found unusable")).await.unwrap();
    assert_eq!(ids(&voided), ["g1"]);
    assert!(store.void_grants(&digest, voiding("again")).await.unwrap().is_empty(), "once");
    let with_grant = RunCommit {
        effect: Some(NewEffect { dispatched: true, ..new_effect("e1", "c1", None, "n1") }),
        grant: Some(GrantUse {
            id: "g1".into(),
            digest: digest.clone(),
            revision: rev_1.clone(),
            at: Timestamp(6_000),
        }),
        ..commit("r1", 0, vec![])
    };
    assert_eq!(
        store.commit_run_event(with_grant).await.unwrap(),
        Committed::GrantRefused(GrantRefusal::Voided)
    );
    assert_eq!(store.load_run("r1").await.unwrap().version, 0, "nothing written");
    store.begin_effect(new_effect("e2", "c2", None, "n1")).await.unwrap();
    assert_eq!(
        store
            .dispatch_effect_with_grant("e2", "g1", &digest, &rev_1, Timestamp(6_000))
            .await
            .unwrap(),
        Err(GrantRefusal::Voided)
    );
    assert_eq!(store.spent_grant_for_call(&digest).await.unwrap(), None, "never spent");

    // A void racing a spend: the grant ends spent or voided, exactly one of the two.
    for round in 0..20 {
        let id = format!("race-{round}");
        store.put_grant(grant(&id, &digest)).await.unwrap();
        let spend = store.consume_grant(&id, &digest, &rev_1, Timestamp(7_000 + round));
        let void = store.void_grants(&digest, voiding("race"));
        let (spent, voided) = tokio::join!(spend, void);
        let (spent, voided) = (spent.unwrap(), voided.unwrap());
        match spent {
            Ok(_) => assert!(voided.is_empty(), "spent and voided: {voided:?}"),
            Err(refusal) => {
                assert_eq!(refusal, GrantRefusal::Voided);
                assert_eq!(ids(&voided), [id.as_str()]);
            }
        }
    }
}
