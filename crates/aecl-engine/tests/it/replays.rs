//! What a repeated call is answered. A call id repeated after its call ran gets that
//! call's effect, answered as what happened (`allow`, replayed), never as the decision the
//! repeat alone would get now. An idempotency key names one call in its run: the same key
//! with other arguments is refused as a conflict, whatever became of the first call (run,
//! waiting for approval), and nothing of the second is recorded but its refusal (a
//! `block` decision record; the run's history is left as it is).

use aecl_core::{Call, Decision};
use aecl_engine::EffectState;
use serde_json::json;

use crate::{Scripted, call, engine, policy, records};

/// The irreversible payment `pay` of run `r1` (approval first), with `args`.
fn pay(id: &str, args: serde_json::Value, key: Option<&str>) -> Call {
    Call {
        id: id.into(),
        agent: "worker".into(),
        run: "r1".into(),
        action: "pay".into(),
        args,
        idempotency_key: key.map(str::to_owned),
        ..Call::default()
    }
}

#[tokio::test]
async fn a_call_id_repeated_after_its_approved_call_ran_answers_allow_and_replayed() {
    let (engine, _) = engine(policy(10, ""));
    let connector = Scripted::default();
    let args = json!({"id": "invoice-7", "value": 1});
    let asked = engine.execute(pay("c0", args.clone(), None), &connector).await.unwrap();
    let id = asked.decided.approval_id.expect("a request");
    engine.approve(&id, "alice", None).await.unwrap();
    let ran = engine.execute(pay("c0", args.clone(), None), &connector).await.unwrap();
    assert_eq!(ran.decided.verdict.decision, Decision::Allow);
    assert_eq!(connector.executions(), 1);

    let again = engine.execute(pay("c0", args, None), &connector).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.effect.as_ref().map(|e| e.state), Some(EffectState::Succeeded));
    assert_eq!(
        again.decided.verdict.decision,
        Decision::Allow,
        "a replay of a call that ran says it ran: {:?}",
        again.decided.verdict.reasons
    );
    assert!(again.decided.verdict.reasons.iter().any(|r| r.rule == "replay.call_id"));
    assert_eq!(connector.executions(), 1);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_other_arguments_is_a_conflict() {
    // The first call with the key waits for approval.
    let (first, _) = engine(policy(10, ""));
    let connector = Scripted::default();
    let a = json!({"id": "invoice-7", "value": 1});
    let b = json!({"id": "invoice-8", "value": 1});
    let asked = first.execute(pay("c1", a.clone(), Some("K")), &connector).await.unwrap();
    assert_eq!(asked.decided.verdict.decision, Decision::RequireApproval);
    let before = records(first.store()).await.len();
    let error = first.execute(pay("c2", b, Some("K")), &connector).await.unwrap_err();
    assert!(error.to_string().contains("idempotency key `K`"), "{error}");
    let after = records(first.store()).await;
    assert_eq!(after.len(), before + 1, "the refusal alone is recorded");
    let refusal = after.last().expect("a record");
    assert_eq!(refusal.decision, Some(Decision::Block));
    assert_eq!(refusal.call_id, "c2");
    assert!(refusal.reasons.iter().any(|r| r.rule == "replay.idempotency_key_reused"));
    let pending = first.approvals(true, 10).await.unwrap();
    assert_eq!(pending.len(), 1, "no second request: {pending:?}");
    // The same key with the same arguments is the same call: it waits on its request.
    let again = first.execute(pay("c3", a, Some("K")), &connector).await.unwrap();
    assert_eq!(again.decided.approval_id, asked.decided.approval_id);

    // The first call with the key ran.
    let (second, _) = engine(policy(10, ""));
    second.execute(call("r1", "c1", Some("K")), &connector).await.unwrap();
    let mut other = call("r1", "c2", Some("K"));
    other.args = json!({"id": "K", "value": 2});
    let error = second.execute(other, &connector).await.unwrap_err();
    assert!(error.to_string().contains("idempotency key `K`"), "{error}");
    assert_eq!(connector.executions(), 1);
}

#[tokio::test]
async fn an_idempotency_key_repeated_after_its_approved_call_ran_is_a_replay() {
    // The approved call runs under its own id, or under a new id with the same key; either
    // way a later repeat of the key gets its effect, here and after a restart, and asks
    // nobody again.
    for first_run_id in ["c1", "c2"] {
        let (engine, clock) = engine(policy(10, ""));
        let connector = Scripted::default();
        let args = json!({"id": "invoice-7", "value": 1});
        let asked = engine.execute(pay("c1", args.clone(), Some("K")), &connector).await.unwrap();
        let id = asked.decided.approval_id.expect("a request");
        engine.approve(&id, "alice", None).await.unwrap();
        let ran =
            engine.execute(pay(first_run_id, args.clone(), Some("K")), &connector).await.unwrap();
        assert_eq!(ran.decided.verdict.decision, Decision::Allow);
        assert_eq!(connector.executions(), 1);

        let restarted = aecl_engine::Engine::new(
            engine.store().clone(),
            policy(10, ""),
            clock,
            aecl_engine::EngineConfig::default(),
        );
        for (who, engine) in [("the same engine", &engine), ("a restarted one", &restarted)] {
            let again =
                engine.execute(pay("c3", args.clone(), Some("K")), &connector).await.unwrap();
            assert!(again.replayed, "{who}: {:?}", again.decided.verdict);
            assert_eq!(again.decided.verdict.decision, Decision::Allow, "{who}");
            assert_eq!(again.decided.verdict.replay_of.as_deref(), Some(first_run_id), "{who}");
            assert_eq!(again.effect.as_ref().map(|e| e.state), Some(EffectState::Succeeded));
            assert!(engine.approvals(true, 10).await.unwrap().is_empty(), "{who}: nobody asked");
        }
        assert_eq!(connector.executions(), 1);
    }
}

#[tokio::test]
async fn a_call_id_waiting_for_approval_is_not_reused_for_other_arguments() {
    // The red team's F7 (stop 50): while `c1` waited for approval, `c1` with other
    // arguments made a second request under the same id.
    let (engine, _) = engine(policy(10, ""));
    let connector = Scripted::default();
    let a = json!({"id": "invoice-7", "value": 1});
    let b = json!({"id": "invoice-8", "value": 1});
    let asked = engine.execute(pay("c1", a.clone(), None), &connector).await.unwrap();
    assert_eq!(asked.decided.verdict.decision, Decision::RequireApproval);
    let error = engine.execute(pay("c1", b, None), &connector).await.unwrap_err();
    assert!(error.to_string().contains("call id `c1`"), "{error}");
    assert_eq!(engine.approvals(true, 10).await.unwrap().len(), 1, "no second request");
    // The same call again waits on its own request; a blocked call leaves its id free.
    let again = engine.execute(pay("c1", a, None), &connector).await.unwrap();
    assert_eq!(again.decided.approval_id, asked.decided.approval_id);
    let mut refused = pay("c2", json!({"id": "invoice-9"}), None);
    refused.action = "nope".into();
    let blocked = engine.execute(refused, &connector).await.unwrap();
    assert_eq!(blocked.decided.verdict.decision, Decision::Block);
    let reused =
        engine.execute(pay("c2", json!({"id": "invoice-9", "value": 1}), None), &connector);
    assert_eq!(reused.await.unwrap().decided.verdict.decision, Decision::RequireApproval);
    assert_eq!(connector.executions(), 0);
}
