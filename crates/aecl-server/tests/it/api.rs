//! The decision endpoints end to end: allow, block with reasons, require_approval, an
//! idempotent execute that executes once, a store outage that blocks, the Claude Code hook,
//! runs, metrics (the audit writer's queue and checkpoint age among them) and the OpenAPI
//! document.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use aecl_engine::identity::Role;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{Backend, agent, call, start, token};

on_both!(
    decisions_answer_like_replay_lines,
    execute_is_idempotent,
    an_outage_blocks_calls,
    claude_code_hook,
    runs_metrics_and_openapi,
    metrics_show_the_writer_queue_and_the_checkpoint_age,
    a_body_naming_a_member_twice_is_refused
);

/// The fields of an `aecl replay` line, plus `approval_id`.
const KEYS: [&str; 9] = [
    "id",
    "run",
    "action",
    "decision",
    "mode",
    "reasons",
    "risk",
    "policy_revision",
    "approval_id",
];

fn keys(value: &Value) -> BTreeSet<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

async fn decisions_answer_like_replay_lines(backend: Backend) {
    let server = start(backend).await;
    let token = agent();
    let answer = server
        .post(
            "/v1/evaluate",
            Some(&token),
            &call("r1", "c1", "read_invoice", json!({"invoice_id": "INV-7781"})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(keys(&answer.body), KEYS.into_iter().collect(), "{}", answer.text);
    assert_eq!(answer.body["decision"], "allow");
    assert_eq!(answer.body["approval_id"], Value::Null);

    let answer = server
        .post("/v1/evaluate", Some(&token), &call("r1", "c2", "delete_record", json!({"id": 1})))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["decision"], "block");
    let rules: Vec<&str> = answer.body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert!(rules.iter().any(|r| r.starts_with("manifest.")), "{rules:?}");

    let transfer = json!({"vendor": "V-100", "iban": "DE89370400440532013000", "amount": 1200, "currency": "EUR"});
    let answer = server
        .post("/v1/evaluate", Some(&token), &call("r1", "c3", "transfer_funds", transfer))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["decision"], "require_approval", "{}", answer.text);
    assert!(answer.body.as_object().unwrap().contains_key("approval_id"));

    // Every decision is in the audit log, in order.
    let decisions: Vec<String> = server
        .audit()
        .await
        .iter()
        .filter(|r| r["kind"] == "decision")
        .map(|r| r["decision"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(decisions, ["allow", "block", "require_approval"]);
}

async fn execute_is_idempotent(backend: Backend) {
    let server = start(backend).await;
    let token = agent();
    let body = call("r2", "c1", "read_invoice", json!({"invoice_id": "INV-1"}));
    let first = server
        .send("POST", "/v1/execute", Some(&token), &[("idempotency-key", "k-1")], &body.to_string())
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["decision"], "allow");
    assert_eq!(first.body["effect"]["state"], "succeeded", "{}", first.text);
    assert_eq!(first.body["replayed"], false);
    // The retry (a new call id, the same key) returns the first effect.
    let retry = call("r2", "c2", "read_invoice", json!({"invoice_id": "INV-1"}));
    let second = server
        .send(
            "POST",
            "/v1/execute",
            Some(&token),
            &[("idempotency-key", "k-1")],
            &retry.to_string(),
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["replayed"], true, "{}", second.text);
    assert_eq!(second.body["effect"]["id"], first.body["effect"]["id"]);
    assert_eq!(server.executed.0.load(Ordering::SeqCst), 1, "executed once");

    // A blocked call executes nothing and has no effect.
    let blocked = server
        .post("/v1/execute", Some(&token), &call("r2", "c3", "delete_record", json!({})))
        .await;
    assert_eq!(blocked.status, 200, "{}", blocked.text);
    assert_eq!(blocked.body["decision"], "block");
    assert!(blocked.body.get("effect").is_none());
    assert_eq!(server.executed.0.load(Ordering::SeqCst), 1);

    // The header and the body must agree on the key.
    let mut conflicting = call("r2", "c4", "read_invoice", json!({"invoice_id": "INV-2"}));
    conflicting["idempotency_key"] = json!("k-2");
    let answer = server
        .send(
            "POST",
            "/v1/execute",
            Some(&token),
            &[("idempotency-key", "k-3")],
            &conflicting.to_string(),
        )
        .await;
    assert_eq!((answer.status, answer.body["error"]["code"].as_str()), (400, Some("bad_request")));
}

async fn an_outage_blocks_calls(backend: Backend) {
    let server = start(backend).await;
    let token = agent();
    let health = server.get("/healthz", None).await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["signing_key_loaded"], true);
    assert!(health.body["policy_revision"].as_str().is_some_and(|r| !r.is_empty()));

    server.down.store(true, Ordering::SeqCst);
    let health = server.get("/healthz", None).await;
    assert_eq!(health.status, 503, "{}", health.text);
    assert_eq!(
        (health.body["status"].as_str(), health.body["store_reachable"].as_bool()),
        (Some("unhealthy"), Some(false))
    );
    // A call that the policy allows is blocked while the store is down.
    let body = call("r3", "c1", "read_invoice", json!({"invoice_id": "INV-7781"}));
    for path in ["/v1/evaluate", "/v1/execute"] {
        let answer = server.post(path, Some(&token), &body).await;
        assert_eq!(answer.status, 503, "{path}: {}", answer.text);
        assert_eq!(answer.body["decision"], "block", "{path}: {}", answer.text);
        assert_eq!(answer.body["error"]["code"], "unavailable");
        assert_eq!(answer.body["reasons"][0]["rule"], "engine.unavailable");
    }
    let hook = server
        .post(
            "/v1/hooks/claude-code",
            Some(&token),
            &pre_tool_use("s-down", "read_invoice", json!({"invoice_id": "INV-7781"})),
        )
        .await;
    assert_eq!(hook.status, 200, "{}", hook.text);
    assert_eq!(hook.body["hookSpecificOutput"]["permissionDecision"], "deny");
    assert_eq!(server.executed.0.load(Ordering::SeqCst), 0);

    server.down.store(false, Ordering::SeqCst);
    assert_eq!(server.get("/healthz", None).await.status, 200);
    let answer = server.post("/v1/evaluate", Some(&token), &body).await;
    assert_eq!(answer.body["decision"], "allow", "{}", answer.text);
}

fn pre_tool_use(session: &str, tool: &str, input: Value) -> Value {
    json!({
        "session_id": session,
        "transcript_path": "/home/u/.claude/projects/p/s.jsonl",
        "cwd": "/home/u/p",
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": input,
        "tool_use_id": format!("toolu_{tool}"),
        "a_field_claude_code_adds_later": true
    })
}

async fn claude_code_hook(backend: Backend) {
    let server = start(backend).await;
    let token = agent();
    let decide = |tool: &'static str, input: Value| {
        let server = &server;
        let token = token.clone();
        async move {
            let answer = server
                .post("/v1/hooks/claude-code", Some(&token), &pre_tool_use("s-1", tool, input))
                .await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            let output = answer.body["hookSpecificOutput"].clone();
            assert_eq!(output["hookEventName"], "PreToolUse");
            assert!(
                output["permissionDecisionReason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("aecl: "))
            );
            (
                output["permissionDecision"].as_str().unwrap().to_owned(),
                output["permissionDecisionReason"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (decision, _) = decide("read_invoice", json!({"invoice_id": "INV-7781"})).await;
    assert_eq!(decision, "allow");
    let transfer = json!({"vendor": "V-100", "iban": "DE89370400440532013000", "amount": 1200, "currency": "EUR"});
    let (decision, reason) = decide("transfer_funds", transfer).await;
    assert_eq!(decision, "ask", "{reason}");
    // `mcp__erp__delete_record` is the catalog action `erp__delete_record`: not in the
    // catalog, so denied; the bare `delete_record` is not what it maps to.
    let (decision, reason) = decide("mcp__erp__delete_record", json!({})).await;
    assert_eq!(decision, "deny", "{reason}");
    assert!(reason.contains("erp__delete_record"), "{reason}");
    let (decision, _) = decide("Bash", json!({"command": "rm -rf /"})).await;
    assert_eq!(decision, "deny");

    // The session is the run.
    let run = server.get("/v1/runs/s-1", Some(&token)).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.body["version"], 4);

    // Refusals are a 200 `deny`: Claude Code runs the tool after any other status.
    let refused = |answer: crate::support::Answer, code: &str| {
        assert_eq!(answer.status, 200, "{}", answer.text);
        let output = &answer.body["hookSpecificOutput"];
        assert_eq!(output["permissionDecision"], "deny", "{}", answer.text);
        let reason = output["permissionDecisionReason"].as_str().unwrap();
        assert!(reason.contains(code), "{reason}");
    };
    let body = json!({"hook_event_name": "Notification", "session_id": "s", "tool_name": "x"});
    refused(server.post("/v1/hooks/claude-code", Some(&token), &body).await, "bad_request");
    let body = pre_tool_use("s-2", "read_invoice", json!({"invoice_id": "INV-7781"}));
    refused(server.post("/v1/hooks/claude-code", None, &body).await, "unauthenticated");
    let admin = crate::support::token("root", Role::Admin);
    refused(server.post("/v1/hooks/claude-code", Some(&admin), &body).await, "forbidden");
    refused(
        server.send("POST", "/v1/hooks/claude-code", Some(&token), &[], "{").await,
        "bad_request",
    );
}

async fn runs_metrics_and_openapi(backend: Backend) {
    let server = start(backend).await;
    let finance = agent();
    let other = token("finance_agent_v2", Role::Agent);
    let admin = token("root", Role::Admin);
    server
        .post(
            "/v1/evaluate",
            Some(&finance),
            &call("r4", "c1", "read_invoice", json!({"invoice_id": "INV-1"})),
        )
        .await;

    let run = server.get("/v1/runs/r4", Some(&finance)).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.body["agent"], "finance_agent");
    assert_eq!(run.body["events"].as_array().unwrap().len(), 1);
    // Another agent neither sees the run nor may add calls to it.
    assert_eq!(server.get("/v1/runs/r4", Some(&other)).await.status, 404);
    let answer = server
        .post(
            "/v1/evaluate",
            Some(&other),
            &call("r4", "c2", "read_invoice", json!({"invoice_id": "INV-1"})),
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    assert_eq!(server.get("/v1/runs/r4", Some(&admin)).await.status, 200);
    assert_eq!(server.get("/v1/runs/nope", Some(&admin)).await.status, 404);

    let metrics = server.get("/metrics", Some(&admin)).await;
    assert_eq!(metrics.status, 200, "{}", metrics.text);
    assert!(metrics.text.contains(r#"aecl_decisions_total{decision="allow",agent="finance_agent",action="read_invoice"} 1"#), "{}", metrics.text);
    // Two: the other agent's call reached the engine, whose check of the run refused it.
    assert!(metrics.text.contains("aecl_decide_latency_seconds_count 2"), "{}", metrics.text);
    assert!(
        metrics.text.contains(r#"aecl_refused_requests_total{status="403",code="forbidden"} 1"#),
        "{}",
        metrics.text
    );
    assert_eq!(server.get("/metrics", Some(&finance)).await.status, 403);

    // A run named after an agent (the MCP gateway's `RUN:AGENT`) is that agent's before it
    // exists: another agent who knows `RUN` cannot open it first, by a call or an event,
    // and so shut the agent out of its own run.
    let squatted = call("gw-1:finance_agent", "c1", "read_invoice", json!({"invoice_id": "INV-1"}));
    let answer = server.post("/v1/evaluate", Some(&other), &squatted).await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    let said = json!({"type": "user", "text": "pay the new vendor"});
    let path = "/v1/runs/gw-1:finance_agent/events";
    assert_eq!(server.post(path, Some(&other), &said).await.status, 403);
    assert_eq!(server.get("/v1/runs/gw-1:finance_agent", Some(&admin)).await.status, 404);
    let answer = server.post("/v1/evaluate", Some(&finance), &squatted).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["decision"], "allow", "{}", answer.text);

    let openapi = server.get("/openapi.json", None).await;
    assert_eq!(openapi.status, 200);
    assert!(openapi.body["paths"]["/v1/evaluate"]["post"].is_object(), "{}", openapi.text);
    assert_eq!(server.get("/v1/nothing", Some(&admin)).await.body["error"]["code"], "not_found");

    // A run's arguments and texts are shown redacted, as the audit log keeps them (the
    // red team's F4: the run view showed the credentials every other view hides).
    let secret = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let said = json!({"type": "user", "text": format!("use my token {secret}")});
    let recorded = server.post("/v1/runs/r4/events", Some(&finance), &said).await;
    assert_eq!(recorded.status, 200, "{}", recorded.text);
    let args = json!({"invoice_id": format!("INV-2 {secret}")});
    server.post("/v1/evaluate", Some(&finance), &call("r4", "c3", "read_invoice", args)).await;
    for who in [&finance, &admin] {
        let run = server.get("/v1/runs/r4", Some(who)).await;
        assert_eq!(run.status, 200, "{}", run.text);
        assert!(!run.text.contains(secret), "{}", run.text);
        assert!(run.text.contains("[REDACTED]"), "{}", run.text);
    }
}

/// A real outage: PostgreSQL stops accepting connections to the database and drops the
/// ones the server holds. Health turns unhealthy and an allowed call is blocked; when
/// the database is back, health recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_blocks_calls() {
    use sqlx::Connection;
    let server = start(Backend::Postgres).await;
    let token = agent();
    let body = call("r5", "c1", "read_invoice", json!({"invoice_id": "INV-7781"}));
    assert_eq!(server.post("/v1/evaluate", Some(&token), &body).await.body["decision"], "allow");

    let url = server.pg_url.clone().unwrap();
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    // From another database: PostgreSQL does not let a session lock out its own.
    let admin_url = url.replacen(&format!("/{database}"), "/postgres", 1);
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1",
    )
    .bind(&database)
    .execute(&mut admin)
    .await
    .unwrap();

    let health = server.get("/healthz", None).await;
    assert_eq!(health.status, 503, "{}", health.text);
    assert_eq!(health.body["store_reachable"], false);
    let mut body = body;
    body["id"] = json!("c2");
    let answer = server.post("/v1/evaluate", Some(&token), &body).await;
    assert_eq!(
        (answer.status, answer.body["decision"].as_str()),
        (503, Some("block")),
        "{}",
        answer.text
    );

    sqlx::query(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    let health = server.get("/healthz", None).await;
    assert_eq!(health.status, 200, "{}", health.text);
}

/// A bug in a handler's path (here the connector panics) answers 500, never an allow, and
/// the server goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_500_and_the_server_survives() {
    let server = start(Backend::Sqlite).await;
    let token = agent();
    server.executed.1.store(true, Ordering::SeqCst);
    let body = call("r6", "c1", "read_invoice", json!({"invoice_id": "INV-1"}));
    let answer = server.post("/v1/execute", Some(&token), &body).await;
    assert_eq!(
        (answer.status, answer.body["error"]["code"].as_str()),
        (500, Some("internal")),
        "{}",
        answer.text
    );
    assert!(answer.body.get("decision").is_none());
    server.executed.1.store(false, Ordering::SeqCst);
    let answer = server
        .post(
            "/v1/evaluate",
            Some(&token),
            &call("r6", "c2", "read_invoice", json!({"invoice_id": "INV-1"})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

/// Requests without a valid token are all refused, but only up to a rate are written to
/// the audit log: anonymous traffic cannot flood it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_refusals_cannot_flood_the_audit_log() {
    let server = start(Backend::Sqlite).await;
    let body = call("r7", "c1", "read_invoice", json!({"invoice_id": "INV-1"}));
    let rate = aecl_server::ANONYMOUS_AUDIT_RATE;
    let burst = rate.burst as usize;
    let sent = burst + 100;
    let started = std::time::Instant::now();
    for _ in 0..sent {
        assert_eq!(server.post("/v1/evaluate", None, &body).await.status, 401);
    }
    // The limiter refills while the requests are sent (`count` per `per_ms`): a loaded
    // machine sends them slowly, so the bound is the burst plus what refilled meanwhile.
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let refilled = usize::try_from(elapsed_ms.saturating_mul(u64::from(rate.count)) / rate.per_ms)
        .unwrap_or(usize::MAX);
    let refusals = server.audit().await.iter().filter(|r| r["kind"] == "refusal").count();
    assert!(
        refusals >= burst && refusals <= burst + refilled + 2 && refusals < sent,
        "{refusals} of {sent} refusals audited in {elapsed_ms} ms"
    );
}

/// Without a loaded signing key the server is unhealthy and blocks every call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_signing_key_means_unhealthy_and_blocked() {
    let config = aecl_server::ServerConfig { audit_key: String::new(), ..Default::default() };
    let server = crate::support::start_with(Backend::Sqlite, config).await;
    let health = server.get("/healthz", None).await;
    assert_eq!((health.status, health.body["signing_key_loaded"].as_bool()), (503, Some(false)));
    let body = call("r8", "c1", "read_invoice", json!({"invoice_id": "INV-1"}));
    let answer = server.post("/v1/evaluate", Some(&agent()), &body).await;
    assert_eq!(
        (answer.status, answer.body["decision"].as_str()),
        (503, Some("block")),
        "{}",
        answer.text
    );
}

/// The value of the unlabelled series `name` in a Prometheus text.
fn gauge(text: &str, name: &str) -> f64 {
    let line = text.lines().find(|l| l.split(' ').next() == Some(name));
    let line = line.unwrap_or_else(|| panic!("no `{name}` in:\n{text}"));
    line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}

async fn metrics_show_the_writer_queue_and_the_checkpoint_age(backend: Backend) {
    let server = start(backend).await;
    let admin = token("root", Role::Admin);

    // A new store: nothing recorded, so no checkpoint yet, and an idle writer.
    let before = server.get("/metrics", Some(&admin)).await.text;
    assert_eq!(gauge(&before, "aecl_audit_checkpoint_age_seconds"), -1.0, "{before}");
    assert_eq!(gauge(&before, "aecl_audit_writer_queue_depth"), 0.0, "{before}");

    // A decision is recorded, under a signed checkpoint.
    let answer = server
        .post(
            "/v1/evaluate",
            Some(&agent()),
            &call("r5", "c1", "read_invoice", json!({"invoice_id": "INV-1"})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let after = server.get("/metrics", Some(&admin)).await.text;
    let age = gauge(&after, "aecl_audit_checkpoint_age_seconds");
    assert!(age >= 0.0, "a checkpoint exists, so its age is known: {after}");
    // Plausibility, not timing: a misread time (taken as 0, say) would be decades old.
    assert!(age < 3600.0, "the checkpoint was made during this test: {after}");
    assert_eq!(gauge(&after, "aecl_audit_writer_queue_depth"), 0.0, "{after}");
}

/// A red-team finding: `{"currency":"RUB","currency":"EUR"}` was decided as EUR (serde_json
/// keeps the last copy), while a client executing the call with a first-copy reader pays
/// in RUB. A body naming a member twice, at any depth, is refused before anything is
/// decided or recorded.
async fn a_body_naming_a_member_twice_is_refused(backend: Backend) {
    let server = start(backend).await;
    let token = agent();
    let bodies = [
        r#"{"run":"r1","id":"c1","action":"read_invoice","args":{"invoice_id":"INV-1","invoice_id":"INV-2"}}"#,
        r#"{"run":"r1","id":"c2","action":"transfer_funds","args":{"vendor":"V-100","iban":"DE89370400440532013000","amount":5,"currency":"RUB","currency":"EUR"}}"#,
    ];
    for (path, body) in [("/v1/evaluate", bodies[0]), ("/v1/execute", bodies[1])] {
        let answer = server.send("POST", path, Some(&token), &[], body).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text);
        assert!(answer.text.contains("names a member twice"), "{}", answer.text);
    }
    assert_eq!(server.executed.0.load(Ordering::SeqCst), 0);
    let run = server.get("/v1/runs/r1", Some(&token)).await;
    assert_eq!(run.status, 404, "nothing recorded: {}", run.text);
}
