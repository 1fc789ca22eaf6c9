//! The contract on single-use values: nonces, grants (spent once, by the exact call,
//! under the policy revision they were given for, in the step that dispatches or records
//! their call) and standing grants (counted, expiring, revocable).

use aecl_core::policy::Revision;
use aecl_core::{CallDigest, Timestamp};
use aecl_engine::{
    Committed, EffectState, Grant, GrantRefusal, GrantUse, NewEffect, RunCommit, StandingGrant,
    Store, StoreError,
};

use super::{commit, new_effect};

pub async fn a_nonce_is_spent_once<S: Store>(store: &S) {
    assert!(store.use_nonce("finance", "n-1", Timestamp(1)).await.unwrap());
    assert!(!store.use_nonce("finance", "n-1", Timestamp(2)).await.unwrap());
    assert!(store.use_nonce("support", "n-1", Timestamp(3)).await.unwrap());
}

pub async fn a_grant_is_spent_once_by_the_exact_call<S: Store>(store: &S) {
    let digest = CallDigest("cd".repeat(32));
    let revision = Revision("rev-1".into());
    store
        .put_grant(Grant {
            id: "g1".into(),
            approval_id: Some("a1".into()),
            call_digest: digest.clone(),
            policy_revision: revision.clone(),
            expires: Timestamp(10_000),
            signature: Some("c2lnbmVk".into()),
        })
        .await
        .unwrap();
    // The store keeps the engine's signature with the grant (the engine checks it).
    let found = store.grant_for_call(&digest).await.unwrap().unwrap();
    assert_eq!(found.signature.as_deref(), Some("c2lnbmVk"));
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
    assert_eq!(grant.signature.as_deref(), Some("c2lnbmVk"));
    let (spent, _) = store.spent_grant_for_call(&digest).await.unwrap().unwrap();
    assert_eq!(spent.signature.as_deref(), Some("c2lnbmVk"));
    assert_eq!(
        store.consume_grant("g1", &digest, &revision, at).await.unwrap(),
        Err(GrantRefusal::AlreadyUsed)
    );
}

pub async fn a_grant_is_spent_in_the_transaction_that_dispatches_its_call<S: Store>(store: &S) {
    let digest = CallDigest("ab".repeat(32));
    let revision = Revision("rev-1".into());
    let grant = |id: &str| Grant {
        id: id.into(),
        approval_id: Some("a1".into()),
        call_digest: digest.clone(),
        policy_revision: revision.clone(),
        expires: Timestamp(10_000),
        signature: None,
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

/// The grant of an approved call is spent by the commit that records its `allow`, or that
/// commit writes nothing: two commits carrying one grant cannot both succeed.
pub async fn a_grant_is_spent_by_the_commit_that_records_its_call<S: Store>(store: &S) {
    let digest = CallDigest("ab".repeat(32));
    let revision = Revision("rev-1".into());
    store
        .put_grant(Grant {
            id: "g1".into(),
            approval_id: Some("a1".into()),
            call_digest: digest.clone(),
            policy_revision: revision.clone(),
            expires: Timestamp(10_000),
            signature: None,
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

pub async fn standing_grants_count_uses_and_end<S: Store>(store: &S) {
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

/// The most recently spent grant of a call is found with when it was spent (a retry that
/// arrived before then raced the call that spent it).
pub async fn the_last_spent_grant_is_found_with_its_time<S: Store>(store: &S) {
    let digest = CallDigest("cd".repeat(32));
    let revision = Revision("rev-1".into());
    let grant = |id: &str, expires: u64| Grant {
        id: id.into(),
        approval_id: Some(format!("a-{id}")),
        call_digest: digest.clone(),
        policy_revision: revision.clone(),
        expires: Timestamp(expires),
        signature: None,
    };
    store.put_grant(grant("g1", 10_000)).await.unwrap();
    store.put_grant(grant("g2", 20_000)).await.unwrap();
    assert_eq!(store.spent_grant_for_call(&digest).await.unwrap(), None, "none spent yet");
    store.consume_grant("g1", &digest, &revision, Timestamp(5_000)).await.unwrap().unwrap();
    assert_eq!(
        store.spent_grant_for_call(&digest).await.unwrap(),
        Some((grant("g1", 10_000), Timestamp(5_000)))
    );
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), Some(grant("g2", 20_000)));
    store.consume_grant("g2", &digest, &revision, Timestamp(6_000)).await.unwrap().unwrap();
    assert_eq!(
        store.spent_grant_for_call(&digest).await.unwrap(),
        Some((grant("g2", 20_000), Timestamp(6_000)))
    );
    assert_eq!(store.grant_for_call(&digest).await.unwrap(), None);
    let other = CallDigest("ef".repeat(32));
    assert_eq!(store.spent_grant_for_call(&other).await.unwrap(), None);
}

/// A standing grant is stored unused and unrevoked, whatever counters it was handed with
/// (only `use_standing_grant` and `revoke_standing_grant` move them), and an id is stored
/// once.
pub async fn a_standing_grant_is_stored_unused<S: Store>(store: &S) {
    let handed = StandingGrant {
        used: 2,
        revoked: Some(Timestamp(4)),
        ..standing("g1", "send_email", 1, 3)
    };
    store.put_standing_grant(handed).await.unwrap();
    let stored = store.standing_grants(None, 10).await.unwrap();
    assert_eq!(stored, [standing("g1", "send_email", 1, 3)]);
    assert!(store.put_standing_grant(standing("g1", "delete_user", 2, 1)).await.is_err());
    assert_eq!(store.standing_grants(None, 10).await.unwrap()[0].action, "send_email");
    for _ in 0..3 {
        assert!(store.use_standing_grant("g1", Timestamp(5)).await.unwrap());
    }
    assert!(!store.use_standing_grant("g1", Timestamp(5)).await.unwrap(), "3 uses only");
}
