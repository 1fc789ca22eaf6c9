//! Authentication and request hygiene end to end: missing, forged, expired and wrong-role
//! tokens, an agent speaking for another, body limits, bad JSON named by line and column,
//! and the per-token rate limit. Refusals land in the audit log without the token.

use std::sync::Arc;

use aecl_core::Timestamp;
use aecl_core::limits::RateLimit;
use aecl_engine::identity::{self, Claims, Role};
use aecl_server::ServerConfig;
use serde_json::json;

use crate::on_both;
use crate::support::{
    AUDIT_ORIGIN, Backend, agent, call, finance_policy, now, rate, start, start_with,
    start_with_policy_and, token, token_at,
};

on_both!(
    tokens_are_checked_and_refusals_recorded,
    bodies_are_limited_and_errors_named,
    each_agent_is_rate_limited_over_its_tokens
);

async fn tokens_are_checked_and_refusals_recorded(backend: Backend) {
    let server = start(backend).await;
    let body = call("r1", "c1", "read_invoice", json!({"invoice_id": "INV-1"}));
    let code = |answer: &crate::support::Answer| {
        (answer.status, answer.body["error"]["code"].as_str().map(str::to_owned))
    };

    let none = server.post("/v1/evaluate", None, &body).await;
    assert_eq!(code(&none), (401, Some("unauthenticated".into())), "{}", none.text);
    assert_eq!(none.headers.get("www-authenticate").unwrap(), "Bearer");

    // Signed by another key, with the same issuer name.
    let other = aecl_audit::SignerKey::from_seed(crate::support::TOKEN_ORIGIN, [0x99; 32]).unwrap();
    let forged = identity::issue(
        &other,
        &Claims::new(&other, "finance_agent", Role::Agent, now(), 900, "x".into()),
    );
    let answer = server.post("/v1/evaluate", Some(&forged), &body).await;
    assert_eq!(code(&answer), (401, Some("unauthenticated".into())), "{}", answer.text);
    assert!(answer.text.contains("signature"), "{}", answer.text);

    let expired = token_at("finance_agent", Role::Agent, Timestamp(now().0 - 3_600_000), 60);
    let answer = server.post("/v1/evaluate", Some(&expired), &body).await;
    assert_eq!(code(&answer), (401, Some("unauthenticated".into())), "{}", answer.text);
    assert!(answer.text.contains("expired"), "{}", answer.text);

    let garbage = server.post("/v1/evaluate", Some("not-a-token"), &body).await;
    assert_eq!(garbage.status, 401);

    // Approvers and admins do not propose calls; agents do not read the audit log.
    let approver = token("alice", Role::Approver);
    let answer = server.post("/v1/evaluate", Some(&approver), &body).await;
    assert_eq!(code(&answer), (403, Some("forbidden".into())), "{}", answer.text);
    let answer = server.get("/v1/audit/records", Some(&agent())).await;
    assert_eq!(code(&answer), (403, Some("forbidden".into())), "{}", answer.text);
    let answer = server.get("/v1/audit/checkpoint", Some(&agent())).await;
    assert_eq!(answer.status, 403);

    // The agent is the token's: a body naming another agent is refused.
    let mut impersonating = body.clone();
    impersonating["agent"] = json!("finance_agent_v2");
    let answer = server.post("/v1/evaluate", Some(&agent()), &impersonating).await;
    assert_eq!(code(&answer), (403, Some("forbidden".into())), "{}", answer.text);
    let mut own = body.clone();
    own["agent"] = json!("finance_agent");
    assert_eq!(server.post("/v1/evaluate", Some(&agent()), &own).await.status, 200);

    // Every refusal is in the audit log; no token text is.
    let records = server.audit().await;
    let refusals: Vec<&serde_json::Value> =
        records.iter().filter(|r| r["kind"] == "refusal").collect();
    assert_eq!(refusals.len(), 8, "{refusals:#?}");
    assert!(refusals.iter().any(|r| r["agent"] == "alice" && r["input"]["role"] == "approver"));
    assert!(
        refusals
            .iter()
            .any(|r| r["input"]["reason"].as_str().unwrap().contains("finance_agent_v2"))
    );
    let log = serde_json::to_string(&records).unwrap();
    for secret in [&forged, &expired, &approver] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "a token leaked into the audit log");
    }
    let checkpoint = server.get("/v1/audit/checkpoint", Some(&token("root", Role::Admin))).await;
    assert_eq!(checkpoint.status, 200, "{}", checkpoint.text);
    assert!(checkpoint.body["checkpoint"].as_str().unwrap().starts_with(AUDIT_ORIGIN));
}

async fn bodies_are_limited_and_errors_named(backend: Backend) {
    let config = ServerConfig {
        body_limit: 4096,
        audit_key: AUDIT_ORIGIN.to_owned(),
        ..ServerConfig::default()
    };
    let server = start_with(backend, config).await;
    let token = agent();
    let big = call("r1", "c1", "read_invoice", json!({"invoice_id": "x".repeat(5000)}));
    let answer = server.post("/v1/evaluate", Some(&token), &big).await;
    assert_eq!(
        (answer.status, answer.body["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{}",
        answer.text
    );

    let broken = "{\n  \"run\": \"r1\",\n  \"id\": \"c1\",\n  \"action\": oops\n}";
    let answer = server.send("POST", "/v1/evaluate", Some(&token), &[], broken).await;
    assert_eq!(
        (answer.status, answer.body["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{}",
        answer.text
    );
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 4 column"), "{message}");

    let unknown = json!({"run": "r1", "id": "c1", "action": "read_invoice", "argz": {}});
    let answer = server.post("/v1/evaluate", Some(&token), &unknown).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body["error"]["message"].as_str().unwrap().contains("unknown field `argz`"),
        "{}",
        answer.text
    );
}

async fn each_agent_is_rate_limited_over_its_tokens(backend: Backend) {
    // An agent's budget is its manifest's `rate_limit`, over all its tokens; people's is
    // `--rate-limit`, per person.
    let mut policy = (*finance_policy()).clone();
    let manifest = policy.agents.get_mut("finance_agent").unwrap();
    Arc::make_mut(manifest).request_rate = RateLimit { count: 3, per_ms: 60_000, burst: 3 };
    let config = ServerConfig {
        rate_limit: rate(2),
        audit_key: AUDIT_ORIGIN.to_owned(),
        ..ServerConfig::default()
    };
    let server = start_with_policy_and(backend, Arc::new(policy), config).await;
    let token = agent();
    let body = call("r1", "c1", "read_invoice", json!({"invoice_id": "INV-1"}));
    for i in 0..3 {
        let mut body = body.clone();
        body["id"] = json!(format!("c{i}"));
        assert_eq!(server.post("/v1/evaluate", Some(&token), &body).await.status, 200);
    }
    let answer = server.post("/v1/evaluate", Some(&token), &body).await;
    assert_eq!(
        (answer.status, answer.body["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{}",
        answer.text
    );
    let retry_after: u64 =
        answer.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    // A fresh token of the same agent shares its budget: minting tokens buys no requests.
    assert_eq!(server.get("/v1/runs/r1", Some(&agent())).await.status, 429);
    // A person has a budget of their own, from `--rate-limit`.
    let approver = crate::support::token("alice", Role::Approver);
    for _ in 0..2 {
        assert_eq!(server.get("/v1/approvals", Some(&approver)).await.status, 200);
    }
    assert_eq!(server.get("/v1/approvals", Some(&approver)).await.status, 429);
}
