//! The contract on revoked credentials: a revocation is recorded once and never lifted,
//! and a request naming any revoked credential finds it.

use aecl_core::Timestamp;
use aecl_engine::Store;

/// A credential is revoked once (a second revocation changes nothing), and a lookup of
/// several ids finds a revoked one among them, or none when none is.
pub async fn a_revoked_credential_is_found_among_a_requests_ids<S: Store>(store: &S) {
    let ids = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let token = ids(&["jti:t-1", "agent_key:finance/k1"]);
    assert_eq!(store.revoked_credential(&token).await.unwrap(), None);
    assert_eq!(store.revoked_credential(&[]).await.unwrap(), None);

    assert!(store.revoke_credential("agent_key:finance/k1", Timestamp(5), "alice").await.unwrap());
    assert!(
        !store.revoke_credential("agent_key:finance/k1", Timestamp(6), "bob").await.unwrap(),
        "revoked once"
    );
    assert_eq!(
        store.revoked_credential(&token).await.unwrap().as_deref(),
        Some("agent_key:finance/k1"),
        "the key of a token that is itself not revoked"
    );
    assert_eq!(store.revoked_credential(&ids(&["jti:t-2"])).await.unwrap(), None);
    // Ids are compared exactly: no prefix, no case folding.
    let near = ids(&["agent_key:finance/k", "AGENT_KEY:finance/k1", "agent_key:finance/k1 "]);
    assert_eq!(store.revoked_credential(&near).await.unwrap(), None);

    assert!(store.revoke_credential("jti:t-1", Timestamp(7), "alice").await.unwrap());
    let found = store.revoked_credential(&token).await.unwrap();
    assert!(found.as_ref().is_some_and(|id| token.contains(id)), "{found:?}");
}

/// Checks made at once (a backend may answer them with one statement, as PostgreSQL's
/// batches do) each find the first of their own ids that is revoked, never another's.
pub async fn checks_made_at_once_each_find_their_own_revoked_credential<S: Store + Clone>(
    store: &S,
) {
    let revoked = |n: usize| n.is_multiple_of(3) && n < 30;
    for i in (0..30).filter(|i| revoked(*i)) {
        let id = format!("jti:t-{i}");
        assert!(store.revoke_credential(&id, Timestamp(1), "alice").await.unwrap());
    }
    // Request i names tokens i + 1 and i, then its key (never revoked).
    let asked = |i: usize| [format!("jti:t-{}", i + 1), format!("jti:t-{i}"), format!("key:{i}")];
    let expected =
        |i: usize| [i + 1, i].into_iter().find(|n| revoked(*n)).map(|n| format!("jti:t-{n}"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let store = store.clone();
        tasks.spawn(async move { (i, store.revoked_credential(&asked(i)).await.unwrap()) });
    }
    for (i, found) in tasks.join_all().await {
        assert_eq!(found, expected(i), "request {i}");
    }
}
