//! Standing grants' argument conditions parse what they check: an e-mail domain is
//! `email_domain` (exactly one address), and `ends_with` with an `@` is refused when the
//! grant is made, naming the field and the replacement (the red team's F3: `ends_with
//! "@example.com"` covered `eve@evil.test, bob@example.com` and the like).

use std::collections::BTreeMap;

use aecl_core::{Call, Decision};
use aecl_engine::{ArgCondition, EngineConfig, EngineError, NewStandingGrant, Store as _};
use serde_json::json;

use crate::{Scripted, engine_with, policy, signer};

fn send(id: &str, to: &str) -> Call {
    Call {
        id: id.into(),
        agent: "worker".into(),
        run: "r1".into(),
        action: "pay".into(),
        args: json!({ "to": to, "value": 1 }),
        ..Call::default()
    }
}

fn grant_for(condition: ArgCondition) -> NewStandingGrant {
    NewStandingGrant {
        agent: "worker".into(),
        action: "pay".into(),
        args: BTreeMap::from([("to".to_owned(), condition)]),
        max_uses: 20,
        ttl_seconds: 600,
        reason: "team mail".into(),
    }
}

#[tokio::test]
async fn an_email_domain_standing_grant_covers_one_address_of_its_domain_only_f3() {
    let config = EngineConfig { grant_key: Some(signer()), ..EngineConfig::default() };
    let (engine, _) = engine_with(policy(100, ""), config);
    let refused = engine
        .create_standing_grant(grant_for(ArgCondition::EndsWith("@example.com".into())), "alice")
        .await
        .unwrap_err();
    assert!(matches!(refused, EngineError::InvalidGrant(_)), "{refused}");
    let why = refused.to_string();
    assert!(why.contains("`args`: `to`") && why.contains("email_domain"), "{why}");

    let condition = ArgCondition::EmailDomain("example.com".into());
    engine.create_standing_grant(grant_for(condition), "alice").await.unwrap();
    let connector = Scripted::default();
    let lifted = engine.execute(send("c0", "bob@example.com"), &connector).await.unwrap();
    assert_eq!(lifted.decided.verdict.decision, Decision::Allow);
    for (i, to) in [
        "eve@evil.test, bob@example.com",
        "eve@evil.test;@example.com",
        "\"bob@example.com\" <eve@evil.test>, x@example.com",
        "eve@evil.test\n@example.com",
        "eve@evil.test?@example.com",
        "eve@evil.test#@example.com",
    ]
    .into_iter()
    .enumerate()
    {
        let asked = engine.execute(send(&format!("c{}", i + 1), to), &connector).await.unwrap();
        let verdict = &asked.decided.verdict;
        assert_eq!(verdict.decision, Decision::RequireApproval, "{to:?}: {verdict:?}");
    }
    assert_eq!(connector.executions(), 1);
}

#[tokio::test]
async fn a_standing_grant_given_after_a_rejection_does_not_lift_the_rejected_call() {
    // The red team's F2 (stop 50): Bob rejects a payment; Alice then grants payments to
    // the domain in general; the rejected call, retried within its cool-down, stays a
    // block naming Bob's rejection, while other calls the grant covers go ahead.
    let config = EngineConfig { grant_key: Some(signer()), ..EngineConfig::default() };
    let (engine, _) = engine_with(policy(100, ""), config);
    let connector = Scripted::default();
    let asked = engine.execute(send("c0", "bob@example.com"), &connector).await.unwrap();
    let request = asked.decided.approval_id.expect("a request");
    engine.reject(&request, "bob", "not this one").await.unwrap();

    let condition = ArgCondition::EmailDomain("example.com".into());
    engine.create_standing_grant(grant_for(condition), "alice").await.unwrap();
    for id in ["c0", "c1"] {
        let retried = engine.execute(send(id, "bob@example.com"), &connector).await.unwrap();
        let verdict = &retried.decided.verdict;
        assert_eq!(verdict.decision, Decision::Block, "{id}: {verdict:?}");
        assert!(verdict.reasons.iter().any(|r| r.rule == "approval.rejected"), "{verdict:?}");
        assert_eq!(retried.decided.approval_id.as_deref(), Some(request.as_str()));
    }
    let other = engine.execute(send("c2", "carol@example.com"), &connector).await.unwrap();
    assert_eq!(other.decided.verdict.decision, Decision::Allow, "the grant still covers others");
    assert_eq!(connector.executions(), 1);
}

#[tokio::test]
async fn a_standing_grant_ended_by_a_policy_change_stays_ended_when_the_policy_returns() {
    // Red team, 2026-11-30: a grant only passed over while the revision differed came
    // back when the old policy was put back (a reverted deploy).
    let config = EngineConfig { grant_key: Some(signer()), ..EngineConfig::default() };
    let (engine, _) = engine_with(policy(100, ""), config);
    let condition = ArgCondition::EmailDomain("example.com".into());
    engine.create_standing_grant(grant_for(condition), "alice").await.unwrap();
    let connector = Scripted::default();
    let first = engine.execute(send("c0", "bob@example.com"), &connector).await.unwrap();
    assert_eq!(first.decided.verdict.decision, Decision::Allow);

    let before = engine.policy();
    assert_eq!(engine.end_standing_grants_of_other_revisions().await.unwrap(), 0, "same policy");
    engine.set_policy(policy(200, ""));
    assert_eq!(engine.end_standing_grants_of_other_revisions().await.unwrap(), 1);
    engine.set_policy(before);
    let again = engine.execute(send("c1", "bob@example.com"), &connector).await.unwrap();
    let verdict = &again.decided.verdict;
    assert_eq!(verdict.decision, Decision::RequireApproval, "{verdict:?}");
    assert_eq!(connector.executions(), 1);
    let grants = engine.store().standing_grants(None, 10).await.unwrap();
    assert!(grants.iter().all(|g| g.revoked.is_some()), "{grants:?}");
}
