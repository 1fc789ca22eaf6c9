//! Every refused request is visible: counted in `/metrics` by status and code, and, when
//! it names an agent, audited, at most at the per-caller rate, with the number of
//! suppressed records carried by the next one.

use aecl_engine::identity::Role;
use serde_json::{Value, json};

use crate::support::{Backend, Server, call, start, start_with, token};

async fn metric(server: &Server, status: u16, code: &str) -> u64 {
    let metrics = server.get("/metrics", Some(&token("root", Role::Admin))).await;
    let prefix = format!(r#"aecl_refused_requests_total{{status="{status}",code="{code}"}} "#);
    metrics
        .text
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |n| n.trim().parse().unwrap())
}

async fn refusals_of(server: &Server, agent: &str) -> Vec<Value> {
    let records = server.audit().await;
    records.into_iter().filter(|r| r["kind"] == "refusal" && r["agent"] == agent).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_too_large_bodies_and_bad_headers_are_counted_and_audited() {
    let config = aecl_server::ServerConfig {
        audit_key: crate::support::AUDIT_ORIGIN.to_owned(),
        body_limit: 4096,
        ..Default::default()
    };
    let server = start_with(Backend::Sqlite, config).await;
    let agent = token("finance_agent", Role::Agent);

    let bad = server.send("POST", "/v1/evaluate", Some(&agent), &[], "{not json").await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let args = json!({"invoice_id": "x".repeat(8_000)});
    let big =
        server.post("/v1/evaluate", Some(&agent), &call("r1", "c1", "read_invoice", args)).await;
    assert_eq!(big.status, 413, "{}", big.text);
    let body = call("r1", "c2", "read_invoice", json!({"invoice_id": "INV-1"})).to_string();
    let header = [("aecl-executor", "somebody")];
    let bad_header = server.send("POST", "/v1/execute", Some(&agent), &header, &body).await;
    assert_eq!(bad_header.status, 400, "{}", bad_header.text);
    let wrong_role = server.get("/metrics", Some(&agent)).await;
    assert_eq!(wrong_role.status, 403, "{}", wrong_role.text);

    assert_eq!(metric(&server, 400, "bad_request").await, 2);
    assert_eq!(metric(&server, 413, "payload_too_large").await, 1);
    assert_eq!(metric(&server, 403, "forbidden").await, 1);
    let audited = refusals_of(&server, "finance_agent").await;
    let statuses: Vec<u64> =
        audited.iter().map(|r| r["input"]["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [400, 413, 400, 403], "{audited:?}");
    assert!(audited[0]["input"]["reason"].as_str().unwrap().starts_with("bad_request:"));
    assert!(audited.iter().all(|r| r["input"]["token_id"].as_str().is_some_and(|t| !t.is_empty())));
    // Tokens never reach the audit log.
    assert!(!server.audit().await.iter().any(|r| r.to_string().contains(&agent)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refusals_is_rate_limited_in_the_audit_log_and_counted() {
    let server = start(Backend::Sqlite).await;
    let agent = token("finance_agent", Role::Agent);
    let burst = aecl_server::AGENT_REFUSAL_AUDIT_RATE.burst as usize;
    let flood = burst + 30;
    for _ in 0..flood {
        let bad = server.send("POST", "/v1/evaluate", Some(&agent), &[], "[]").await;
        assert_eq!(bad.status, 400, "{}", bad.text);
    }
    assert_eq!(metric(&server, 400, "bad_request").await, flood as u64, "every one counted");
    let audited = refusals_of(&server, "finance_agent").await;
    assert!((burst..burst + 3).contains(&audited.len()), "{} audited", audited.len());
    // Another agent is not held back by this one's flood.
    let other = token("ops_agent", Role::Agent);
    assert_eq!(server.send("POST", "/v1/evaluate", Some(&other), &[], "[]").await.status, 400);
    assert_eq!(refusals_of(&server, "ops_agent").await.len(), 1);
    let metrics = server.get("/metrics", Some(&token("root", Role::Admin))).await;
    let suppressed = metrics
        .text
        .lines()
        .find_map(|l| l.strip_prefix("aecl_refusal_audit_suppressed_total "))
        .map(|n| n.trim().parse::<usize>().unwrap());
    assert_eq!(suppressed, Some(flood - audited.len()), "{}", metrics.text);
    // Once the bucket refills, the next record says how many were left out.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(server.send("POST", "/v1/evaluate", Some(&agent), &[], "[]").await.status, 400);
    let audited = refusals_of(&server, "finance_agent").await;
    let last = audited.last().unwrap();
    assert_eq!(last["input"]["suppressed"], (flood - (audited.len() - 1)) as u64, "{last}");
}
