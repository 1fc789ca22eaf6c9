//! `Engine::await_approval`, the one wait for a human's answer that the MCP gateway and
//! the HTTP API's long poll share: it returns as soon as the request is answered, returns
//! it still pending when the wait ends, and reads an expired request as expired.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aecl_core::Decision;
use aecl_engine::ApprovalStatus;

use crate::{Scripted, call_of, engine, policy};

/// An engine with one pending approval request (an irreversible payment), and its id.
async fn pending() -> (
    Arc<aecl_engine::Engine<aecl_engine::store::MemoryStore>>,
    String,
    Arc<aecl_engine::ManualClock>,
) {
    let (engine, clock) = engine(policy(10, ""));
    let connector = Scripted::default();
    let asked = engine.execute(call_of("pay", "r1", "c1", None), &connector).await.unwrap();
    assert_eq!(asked.decided.verdict.decision, Decision::RequireApproval);
    assert_eq!(connector.executions(), 0);
    let id = asked.decided.approval_id.expect("an approval request");
    (Arc::new(engine), id, clock)
}

#[tokio::test]
async fn a_wait_returns_the_request_still_pending_when_nobody_answers() {
    let (engine, id, _) = pending().await;
    let now = engine.await_approval(&id, Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(now.status, ApprovalStatus::Pending);
    let started = Instant::now();
    let later = engine.await_approval(&id, Duration::from_millis(300)).await.unwrap().unwrap();
    assert_eq!(later.status, ApprovalStatus::Pending);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    assert!(engine.await_approval("no-such-request", Duration::ZERO).await.unwrap().is_none());
}

#[tokio::test]
async fn a_wait_ends_when_an_approver_answers_and_the_retry_runs_once() {
    let (engine, id, _) = pending().await;
    let approver = {
        let (engine, id) = (engine.clone(), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            engine.approve(&id, "alice", Some("looks right")).await.unwrap()
        })
    };
    let started = Instant::now();
    let answered = engine.await_approval(&id, Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!(answered.status, ApprovalStatus::Approved);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    approver.await.unwrap();
    // The same call again (same arguments, a new id): the grant lets it through, once.
    let connector = Scripted::default();
    let mut again = call_of("pay", "r1", "c1", None);
    again.id = "c2".into();
    let retry = engine.execute(again, &connector).await.unwrap();
    assert_eq!(retry.decided.verdict.decision, Decision::Allow, "{:?}", retry.decided.verdict);
    assert_eq!(connector.executions(), 1);
}

#[tokio::test]
async fn a_rejection_and_an_expiry_end_the_wait() {
    let (engine, id, _) = pending().await;
    engine.reject(&id, "alice", "not this vendor").await.unwrap();
    let answered = engine.await_approval(&id, Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!(answered.status, ApprovalStatus::Rejected);

    let (engine, id, clock) = pending().await;
    clock.advance_ms(24 * 3_600_000);
    let started = Instant::now();
    let expired = engine.await_approval(&id, Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!(expired.status, ApprovalStatus::Expired);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A request whose call will not be made (its MCP client cancelled it) is withdrawn: the
/// wait ends, approving it fails and grants nothing, and the same call made again asks
/// anew. A request already answered is not withdrawn.
#[tokio::test]
async fn a_withdrawn_request_cannot_be_approved() {
    let (engine, id, _) = pending().await;
    assert!(engine.withdraw_approval(&id, "the agent's client cancelled the call").await.unwrap());
    let closed = engine.await_approval(&id, Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!(closed.status, ApprovalStatus::Expired);
    assert!(closed.reason.as_deref().unwrap_or_default().starts_with("withdrawn: "), "{closed:?}");
    assert!(engine.approve(&id, "alice", None).await.is_err(), "a withdrawn request granted");
    let connector = Scripted::default();
    let mut again = call_of("pay", "r1", "c1", None);
    again.id = "c2".into();
    let retry = engine.execute(again, &connector).await.unwrap();
    assert_eq!(retry.decided.verdict.decision, Decision::RequireApproval);
    assert_ne!(retry.decided.approval_id.as_deref(), Some(id.as_str()), "a new request");
    assert_eq!(connector.executions(), 0);

    let (engine, id, _) = pending().await;
    engine.approve(&id, "alice", None).await.unwrap();
    assert!(!engine.withdraw_approval(&id, "too late").await.unwrap());
    let answered = engine.await_approval(&id, Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(answered.status, ApprovalStatus::Approved);
}

/// Red team round 21 (audit F1a): a database writer without the key sets a pending
/// request to `approved` and writes a grant for its call beside it. The grant is not
/// signed: the agent's retry still needs approval (naming the unsigned grant), nothing
/// runs, and a real approval afterwards lets the call run once.
#[tokio::test]
async fn a_grant_written_into_the_store_by_hand_permits_nothing() {
    use aecl_engine::{Answer, Clock as _, EngineConfig, Grant, Store as _, Voiding};

    // One payment, retried under new call ids with the same arguments.
    let pay = one_payment;
    let config = EngineConfig { grant_key: Some(crate::signer()), ..EngineConfig::default() };
    let (engine, clock) = crate::engine_with(policy(10, ""), config);
    let connector = Scripted::default();
    let asked = engine.execute(pay("c1"), &connector).await.unwrap();
    let request = asked.decided.approval_id.expect("an approval request");
    let approval = engine.store().approval(&request).await.unwrap().unwrap();
    let grant = |id: &str, signature: Option<&str>| Grant {
        id: id.to_owned(),
        approval_id: Some(request.clone()),
        call_digest: approval.call_digest.clone(),
        policy_revision: approval.policy_revision.clone(),
        expires: approval.expires,
        signature: signature.map(str::to_owned),
    };
    let forged = Answer {
        status: ApprovalStatus::Approved,
        by: "alice".to_owned(),
        reason: None,
        grant: Some(grant("forged-1", None)),
        voiding: Voiding { at: clock.now(), why: "forged".to_owned() },
    };
    engine.store().answer_approval(&request, forged).await.unwrap().expect("was pending");
    // Unsigned, then with a signature copied from nowhere (another grant's would not
    // cover this id either).
    let retried = engine.execute(pay("c2"), &connector).await.unwrap();
    let verdict = &retried.decided.verdict;
    assert_eq!(verdict.decision, Decision::RequireApproval, "{verdict:?}");
    assert!(verdict.reasons.iter().any(|r| r.rule == "approval.grant_unsigned"), "{verdict:?}");
    engine.store().put_grant(grant("forged-2", Some(&"A".repeat(88)))).await.unwrap();
    let again = engine.execute(pay("c3"), &connector).await.unwrap();
    assert_eq!(again.decided.verdict.decision, Decision::RequireApproval);
    assert_eq!(connector.executions(), 0, "a hand-written grant ran the call");

    // A person's approval of the request the retry filed lets the call run, once.
    let asking = again.decided.approval_id.expect("a new request");
    assert_ne!(asking, request, "the forged `approved` request is not waited on");
    let granted = engine.approve(&asking, "alice", None).await.unwrap();
    assert!(granted.signature.is_some());
    let ran = engine.execute(pay("c4"), &connector).await.unwrap();
    assert_eq!(ran.decided.verdict.decision, Decision::Allow, "{:?}", ran.decided.verdict);
    assert_eq!(connector.executions(), 1);
}

/// A call of `pay` under id `id`: the same payment whatever the id.
fn one_payment(id: &str) -> aecl_core::Call {
    aecl_core::Call {
        id: id.into(),
        agent: "worker".into(),
        run: "r1".into(),
        action: "pay".into(),
        args: serde_json::json!({ "id": "p1", "value": 1 }),
        ..aecl_core::Call::default()
    }
}

/// A store whose approval requests read with their agent renamed, as a database writer
/// would leave them.
struct Renaming {
    inner: aecl_engine::store::MemoryStore,
}

macro_rules! renamed {
    ($self:ident, approval($id:expr)) => {{
        let found = $self.inner.approval($id).await;
        found.map(|a| a.map(|a| aecl_engine::Approval { agent: "someone_else".to_owned(), ..a }))
    }};
    ($self:ident, $method:ident($($arg:expr),*)) => {
        $self.inner.$method($($arg),*).await
    };
}

aecl_engine::impl_store_by!({ impl aecl_engine::Store for Renaming } via renamed);

/// Red team round 23, audit F2: a request's agent renamed in the store let an approver
/// named like the agent approve its own call, and the signed answer named another agent.
/// A request is sealed when filed: one changed since cannot be answered, by anyone.
#[tokio::test]
async fn a_request_changed_in_the_store_cannot_be_answered() {
    use aecl_engine::{Engine, EngineConfig, EngineError, ManualClock, Store as _};

    let pay = one_payment("c1");
    let config = EngineConfig { grant_key: Some(crate::signer()), ..EngineConfig::default() };
    let (engine, _) = crate::engine_with(policy(10, ""), config.clone());
    let asked = engine.execute(pay.clone(), &Scripted::default()).await.unwrap();
    let request = asked.decided.approval_id.expect("an approval request");
    // As filed, the agent cannot answer it.
    let refused = engine.approve_request(&request, "worker", None).await.unwrap_err();
    assert!(matches!(refused, EngineError::SelfApproval { .. }), "{refused:?}");

    let store = Arc::new(Renaming {
        inner: aecl_engine::store::MemoryStore::new(crate::ORIGIN, crate::signer()),
    });
    let clock = Arc::new(ManualClock::new(aecl_core::Timestamp(1_764_000_000_000)));
    let engine = Engine::new(store.clone(), policy(10, ""), clock, config);
    let asked = engine.execute(pay, &Scripted::default()).await.unwrap();
    let request = asked.decided.approval_id.expect("an approval request");
    for approver in ["worker", "alice"] {
        let refused = engine.approve_request(&request, approver, None).await.unwrap_err();
        assert!(matches!(&refused, EngineError::ApprovalUnsigned(id) if *id == request));
    }
    let refused = engine.reject(&request, "alice", "no").await.unwrap_err();
    assert!(matches!(refused, EngineError::ApprovalUnsigned(_)), "{refused:?}");
    let found = store.inner.approval(&request).await.unwrap().unwrap();
    assert_eq!(found.status, ApprovalStatus::Pending, "nothing answered it");
}

/// Red team round 31, tamper F1: a risk factor's detail quotes the value it weighed
/// (`first_seen`: "`iban` = `DE89…` was not used earlier", `not_one_of`, `greater_than`),
/// and the approval request kept it in clear beside arguments shown `[REDACTED]`. Every
/// free text of the verdict an approver reads is cleaned as the reasons are.
#[tokio::test]
async fn a_redacted_value_stays_out_of_the_risk_details_an_approver_reads() {
    let factors = "\n[[actions.pay.risk]]\nname = \"new_payee\"\narg = \"iban\"\nfirst_seen = true\n\
                   weight = 0.1\n\
                   [[actions.pay.risk]]\nname = \"odd_reference\"\narg = \"reference\"\n\
                   not_one_of = [\"invoice\"]\nweight = 0.1\n\
                   [[actions.pay.risk]]\nname = \"large\"\narg = \"value\"\ngreater_than = 1\n\
                   weight = 0.1\n";
    let config = aecl_engine::EngineConfig {
        redact: ["iban", "reference", "value"].iter().map(|p| p.parse().unwrap()).collect(),
        ..aecl_engine::EngineConfig::default()
    };
    let (engine, _) = crate::engine_with(policy(10, factors), config);
    let mut pay = one_payment("c1");
    pay.args = serde_json::json!({
        "id": "p1", "value": 4321.5, "iban": "DE89370400440532013000",
        "reference": "PIN-4411-SECRET",
    });
    let asked = engine.execute(pay, &Scripted::default()).await.unwrap();
    let id = asked.decided.approval_id.expect("an approval request");
    let request = engine.approval(&id).await.unwrap().expect("the request");
    let details = &request.body["verdict"]["risk"]["contributions"];
    let text = request.body.to_string();
    assert!(text.contains("new_payee") && text.contains("odd_reference"), "{details}");
    for secret in ["DE89370400440532013000", "PIN-4411-SECRET", "4321.5"] {
        assert!(!text.contains(secret), "{secret} in the request: {details}");
    }
}
