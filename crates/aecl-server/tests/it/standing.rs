//! Standing grants end to end: an approver gives one for exact payee details and two uses;
//! calls it covers run without asking, racing calls never exceed the count, other
//! arguments still ask, a block stays a block, revocation ends it, and neither agents nor
//! the agent's own identity may give one.

use std::sync::Arc;

use aecl_engine::identity::Role;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{Backend, Server, agent, call, start, token};

on_both!(a_standing_grant_lets_covered_calls_through_a_counted_number_of_times);

const IBAN: &str = "DE44500105175407324931";

fn transfer(iban: &str, currency: &str) -> Value {
    json!({"vendor": "V-118", "amount": 4200, "currency": currency, "iban": iban})
}

async fn pay(server: &Server, run: &str, args: Value) -> Value {
    let answer =
        server.post("/v1/execute", Some(&agent()), &call(run, "c1", "transfer_funds", args)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body
}

fn grant(max_uses: u32) -> Value {
    json!({
        "agent": "finance_agent",
        "action": "transfer_funds",
        "args": {"iban": {"equals": IBAN}, "vendor": {"one_of": ["V-118"]}},
        "max_uses": max_uses,
        "ttl_seconds": 1800,
        "reason": "weekly run of vendor V-118's invoices",
    })
}

async fn a_standing_grant_lets_covered_calls_through_a_counted_number_of_times(backend: Backend) {
    let server = Arc::new(start(backend).await);
    let alice = token("alice", Role::Approver);

    // Who may give one, and what is checked.
    let by_agent = server.post("/v1/standing-grants", Some(&agent()), &grant(2)).await;
    assert_eq!(by_agent.status, 403, "{}", by_agent.text);
    let own = token("finance_agent", Role::Approver);
    let by_self = server.post("/v1/standing-grants", Some(&own), &grant(2)).await;
    assert_eq!(by_self.status, 403, "{}", by_self.text);
    let mut unknown = grant(2);
    unknown["action"] = json!("wire_everything");
    let bad = server.post("/v1/standing-grants", Some(&alice), &unknown).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.body["error"]["message"].as_str().unwrap().contains("`action`"), "{}", bad.text);
    let mut unconditional = grant(2);
    unconditional["args"] = json!({});
    assert_eq!(server.post("/v1/standing-grants", Some(&alice), &unconditional).await.status, 400);

    let given = server.post("/v1/standing-grants", Some(&alice), &grant(2)).await;
    assert_eq!(given.status, 201, "{}", given.text);
    let id = given.body["id"].as_str().unwrap().to_owned();
    assert_eq!(given.body["created_by"], "alice");

    // Four racing calls it covers, each in a run of its own: exactly two pass.
    let racing: Vec<_> = (0..4)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move { pay(&server, &format!("r{i}"), transfer(IBAN, "EUR")).await })
        })
        .collect();
    let mut allowed = 0;
    for task in racing {
        let answer = task.await.unwrap();
        if answer["decision"] == "allow" {
            allowed += 1;
            assert_eq!(answer["effect"]["state"], "succeeded", "{answer}");
            let rules: Vec<&str> = answer["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["rule"].as_str())
                .collect();
            assert!(rules.contains(&"approval.standing_grant"), "{answer}");
        } else {
            assert_eq!(answer["decision"], "require_approval", "{answer}");
        }
    }
    assert_eq!(allowed, 2, "max_uses = 2");
    assert_eq!(server.executed.0.load(std::sync::atomic::Ordering::SeqCst), 2);
    let listed = server.get("/v1/standing-grants", Some(&alice)).await;
    assert_eq!(
        (listed.body[0]["id"].as_str(), listed.body[0]["used"].as_u64()),
        (Some(id.as_str()), Some(2))
    );
    assert_eq!(listed.body[0]["signature_valid"], true);

    // A fresh grant: other arguments still ask, a block stays a block, revoking ends it.
    let fresh = server.post("/v1/standing-grants", Some(&alice), &grant(5)).await;
    let fresh_id = fresh.body["id"].as_str().unwrap().to_owned();
    let other_iban = pay(&server, "r10", transfer("DE89370400440532013000", "EUR")).await;
    assert_eq!(other_iban["decision"], "require_approval", "{other_iban}");
    let blocked = pay(&server, "r11", transfer(IBAN, "XAU")).await;
    assert_eq!(blocked["decision"], "block", "{blocked}");
    let revoked = server
        .post(&format!("/v1/standing-grants/{fresh_id}/revoke"), Some(&alice), &json!({}))
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    let again = server
        .post(&format!("/v1/standing-grants/{fresh_id}/revoke"), Some(&alice), &json!({}))
        .await;
    assert_eq!(again.status, 404);
    let after = pay(&server, "r12", transfer(IBAN, "EUR")).await;
    assert_eq!(after["decision"], "require_approval", "{after}");

    let audited = server.audit().await;
    let kinds: Vec<&str> =
        audited.iter().filter_map(|r| r["input"]["standing_grant"].as_str()).collect();
    assert_eq!(kinds, ["created", "created", "revoked"], "given and revoked grants are audited");
}
