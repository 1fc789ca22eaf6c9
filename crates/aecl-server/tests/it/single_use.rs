//! Single use over HTTP: of ten concurrent `POST /v1/execute` retries of an approved call
//! (different call ids, the same arguments), exactly one is answered `allow` and
//! dispatched, with either executor; the others are `require_approval` naming the approval
//! that was used, and nobody is asked again. And a call id names one call: reused for other
//! arguments it is a 409 `call.id_conflict` (audited), for the same ones a replay.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use aecl_engine::identity::Role;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{Backend, Server, agent, call, start, token};

on_both!(
    concurrent_retries_through_the_connector_are_allowed_once,
    concurrent_retries_run_by_the_client_are_allowed_once,
    a_reused_call_id_is_a_conflict_or_a_replay,
);

fn transfer(amount: u64) -> Value {
    json!({"vendor": "V-100", "iban": "DE89370400440532013000", "amount": amount, "currency": "EUR"})
}

/// An execute of a transfer in run `r-AMOUNT` (a run per round: runs have a call budget).
async fn execute(server: &Server, token: &str, client: bool, id: &str, amount: u64) -> Value {
    let body = call(&format!("r-{amount}"), id, "transfer_funds", transfer(amount)).to_string();
    let headers: &[(&str, &str)] = if client { &[("aecl-executor", "client")] } else { &[] };
    let answer = server.send("POST", "/v1/execute", Some(token), headers, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body
}

/// 20 rounds of: ask, approve, then 10 concurrent retries.
async fn rounds(backend: Backend, client: bool) {
    let server = Arc::new(start(backend).await);
    let alice = token("alice", Role::Approver);
    for round in 0..20u64 {
        // A token per round: the API's own rate limit is not what is tested here.
        let agent = Arc::new(agent());
        let amount = 1_000 + round;
        let asked = execute(&server, &agent, client, &format!("ask-{round}"), amount).await;
        assert_eq!(asked["decision"], "require_approval", "{asked}");
        let id = asked["approval_id"].as_str().unwrap().to_owned();
        let path = format!("/v1/approvals/{id}/approve");
        let approved = server.post(&path, Some(&alice), &json!({})).await;
        assert_eq!(approved.status, 200, "{}", approved.text);

        let mut retries = tokio::task::JoinSet::new();
        for i in 0..10 {
            let (server, agent) = (server.clone(), agent.clone());
            retries.spawn(async move {
                execute(&server, &agent, client, &format!("retry-{round}-{i}"), amount).await
            });
        }
        let mut allowed = Vec::new();
        while let Some(answer) = retries.join_next().await {
            let answer = answer.unwrap();
            assert_eq!(answer["approval_id"], id.as_str(), "{answer}");
            match answer["decision"].as_str() {
                Some("allow") => allowed.push(answer),
                Some("require_approval") => {
                    assert!(answer.get("effect").is_none(), "{answer}");
                    let rules: Vec<&str> = answer["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|r| r["rule"].as_str())
                        .collect();
                    assert!(rules.contains(&"approval.grant_used"), "{answer}");
                }
                _ => panic!("round {round}: {answer}"),
            }
        }
        assert_eq!(allowed.len(), 1, "round {round}: {allowed:?}");
        assert_eq!(allowed[0]["effect"]["state"], "succeeded", "{}", allowed[0]);
        let pending = server.get("/v1/approvals", Some(&alice)).await;
        assert_eq!(pending.body, json!([]), "nobody is asked again: {}", pending.text);
        let dispatched = server.executed.0.load(Ordering::SeqCst);
        let expected = if client { 0 } else { usize::try_from(round + 1).unwrap() };
        assert_eq!(dispatched, expected, "round {round}");
    }
    // Every decision is on record: 20 asks and 200 retries, 20 of them allowed.
    let decisions: Vec<Value> =
        server.audit().await.into_iter().filter(|r| r["kind"] == "decision").collect();
    assert_eq!(decisions.len(), 220);
    assert_eq!(decisions.iter().filter(|r| r["decision"] == "allow").count(), 20);
}

async fn concurrent_retries_through_the_connector_are_allowed_once(backend: Backend) {
    rounds(backend, false).await;
}

async fn concurrent_retries_run_by_the_client_are_allowed_once(backend: Backend) {
    rounds(backend, true).await;
}

async fn a_reused_call_id_is_a_conflict_or_a_replay(backend: Backend) {
    let server = start(backend).await;
    let agent = agent();
    let read =
        |id: &str, invoice: &str| call("r2", id, "read_invoice", json!({"invoice_id": invoice}));
    let first = server.post("/v1/execute", Some(&agent), &read("c1", "INV-1")).await;
    assert_eq!((first.status, first.body["decision"].as_str()), (200, Some("allow")));
    let effect = first.body["effect"]["id"].clone();

    let reused = server.post("/v1/execute", Some(&agent), &read("c1", "INV-2")).await;
    assert_eq!(reused.status, 409, "{}", reused.text);
    assert_eq!(reused.body["error"]["code"], "call.id_conflict", "{}", reused.text);
    let evaluated = server.post("/v1/evaluate", Some(&agent), &read("c1", "INV-3")).await;
    assert_eq!(evaluated.status, 409, "{}", evaluated.text);

    let again = server.post("/v1/execute", Some(&agent), &read("c1", "INV-1")).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["replayed"], true, "{}", again.text);
    assert_eq!(again.body["effect"]["id"], effect, "{}", again.text);
    assert_eq!(server.executed.0.load(Ordering::SeqCst), 1, "executed once");

    // Both conflicts are on record as refusals of this agent, with their code.
    let refusals: Vec<Value> = server
        .audit()
        .await
        .into_iter()
        .filter(|r| r["kind"] == "refusal" && r["agent"] == "finance_agent")
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(refusals.iter().all(|r| r["input"]["status"] == 409), "{refusals:?}");
    let reason = refusals[0]["input"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("call.id_conflict:"), "{reason}");
    let metrics = server.get("/metrics", Some(&token("root", Role::Admin))).await;
    assert!(
        metrics
            .text
            .contains(r#"aecl_refused_requests_total{status="409",code="call.id_conflict"} 2"#),
        "{}",
        metrics.text
    );
}
