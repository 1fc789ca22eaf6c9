//! Real answers of every endpoint, validated against the server's own `/openapi.json`: the
//! status must be documented for the operation, and a JSON body must match the schema the
//! document gives it (the wire types' schemas). The document leaves answers open to new
//! fields, as clients should read them; here every object with listed properties is closed
//! (`unevaluatedProperties: false`), so a field renamed, retyped, added or left out fails.

use std::sync::atomic::Ordering;

use aecl_engine::identity::Role;
use serde_json::{Value, json};

use crate::support::{Answer, Backend, Server, agent, call, start, token};

/// The document, and the operations validated so far.
struct Spec {
    doc: Value,
    seen: Vec<(String, String, u16)>,
}

/// Closes every object schema that lists its properties.
fn close(schema: &mut Value) {
    match schema {
        Value::Object(fields) => {
            if fields.contains_key("properties") && !fields.contains_key("unevaluatedProperties") {
                fields.insert("unevaluatedProperties".to_owned(), Value::Bool(false));
            }
            fields.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

impl Spec {
    fn new(mut doc: Value) -> Spec {
        close(&mut doc["components"]);
        Spec { doc, seen: Vec::new() }
    }

    /// The errors of `body` against the schema of `method path`'s answer `status`.
    fn errors(&self, method: &str, path: &str, status: u16, body: &Value) -> Option<Vec<String>> {
        let response = &self.doc["paths"][path][method]["responses"][status.to_string()];
        let content = response["content"].get("application/json")?;
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"].clone(),
            "allOf": [content["schema"].clone()],
        });
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: bad schema: {e}"));
        Some(
            validator
                .iter_errors(body)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect(),
        )
    }

    /// Validates `answer` as the answer of `method path` (`path` as the document spells
    /// it, with `{id}`).
    fn check(&mut self, method: &str, path: &str, answer: &Answer) {
        let operation = &self.doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not in the document");
        let status = answer.status.to_string();
        let response = &operation["responses"][&status];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which the document does not list: {}",
            answer.text
        );
        match self.errors(method, path, answer.status, &answer.body) {
            Some(errors) => {
                assert!(
                    errors.is_empty(),
                    "{method} {path} {status}: the answer does not match the document: {errors:#?}\n{}",
                    answer.text
                );
            }
            None if response["content"].is_object() => {
                assert!(!answer.text.is_empty(), "{method} {path} {status}: empty body");
            }
            None => assert!(answer.text.is_empty(), "{method} {path} {status}: unexpected body"),
        }
        self.seen.push((method.to_owned(), path.to_owned(), answer.status));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_match_the_openapi_document() {
    let server = start(Backend::Sqlite).await;
    let doc = server.get("/openapi.json", None).await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    let mut spec = Spec::new(doc.body.clone());
    spec.check("get", "/openapi.json", &doc);
    drift_fails(&server, &spec).await;
    reads(&server, &mut spec).await;
    calls(&server, &mut spec).await;
    approvals(&server, &mut spec).await;
    admin(&server, &mut spec).await;
    outage(&server, &mut spec).await;

    // Every operation of the document was reached at least once.
    let paths = spec.doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            assert!(
                spec.seen.iter().any(|(m, p, _)| m == method && p == path),
                "no answer of {method} {path} was validated"
            );
        }
    }
}

/// The check catches drift: a real answer with a field renamed, added, retyped or an enum
/// value misspelt no longer matches.
async fn drift_fails(server: &Server, spec: &Spec) {
    let read = call("r0", "c0", "read_invoice", json!({"invoice_id": "INV-7781"}));
    let answer = server.post("/v1/evaluate", Some(&agent()), &read).await;
    assert_eq!(spec.errors("post", "/v1/evaluate", 200, &answer.body), Some(Vec::new()));
    let drifts: [fn(&mut Value); 5] = [
        |a| a["decision_name"] = a.as_object_mut().unwrap().remove("decision").unwrap(),
        |a| a["surprise"] = json!(1),
        |a| a["risk"]["score"] = json!("high"),
        |a| a["decision"] = json!("permit"),
        |a| a["reasons"] = json!([{"stage": "manifest", "rule": "r", "decision": "allow"}]),
    ];
    for drift in drifts {
        let mut drifted = answer.body.clone();
        drift(&mut drifted);
        let errors = spec.errors("post", "/v1/evaluate", 200, &drifted).unwrap();
        assert!(!errors.is_empty(), "a drifted answer passed: {drifted}");
    }
    let health = server.get("/healthz", None).await;
    let mut drifted = health.body.clone();
    drifted["audit_writer"] = json!("sleeping");
    assert!(!spec.errors("get", "/healthz", health.status, &drifted).unwrap().is_empty());
}

async fn reads(server: &Server, spec: &mut Spec) {
    let admin = token("root", Role::Admin);
    spec.check("get", "/healthz", &server.get("/healthz", None).await);
    spec.check("get", "/.well-known/jwks.json", &server.get("/.well-known/jwks.json", None).await);
    spec.check("get", "/metrics", &server.get("/metrics", Some(&admin)).await);
    spec.check("get", "/metrics", &server.get("/metrics", Some(&agent())).await);
    spec.check("get", "/metrics", &server.get("/metrics", None).await);
    let empty = server.get("/v1/audit/checkpoint", Some(&admin)).await;
    spec.check("get", "/v1/audit/checkpoint", &empty);
}

async fn calls(server: &Server, spec: &mut Spec) {
    let agent = agent();
    let read = call("r1", "c1", "read_invoice", json!({"invoice_id": "INV-7781"}));
    spec.check("post", "/v1/evaluate", &server.post("/v1/evaluate", Some(&agent), &read).await);
    let executed =
        server.post("/v1/execute", Some(&agent), &call("r1", "c2", "read_email", json!({}))).await;
    assert!(executed.body["effect"].is_object(), "{}", executed.text);
    spec.check("post", "/v1/execute", &executed);
    let by_client = server
        .send(
            "POST",
            "/v1/execute",
            Some(&agent),
            &[("aecl-executor", "client")],
            &read_invoice("c3"),
        )
        .await;
    spec.check("post", "/v1/execute", &by_client);
    let unknown = call("r1", "c4", "wire_everything", json!({}));
    let blocked = server.post("/v1/execute", Some(&agent), &unknown).await;
    assert_eq!(blocked.body["decision"], "block", "{}", blocked.text);
    spec.check("post", "/v1/execute", &blocked);
    spec.check(
        "post",
        "/v1/evaluate",
        &server.send("POST", "/v1/evaluate", Some(&agent), &[], "{").await,
    );
    spec.check("post", "/v1/evaluate", &server.post("/v1/evaluate", None, &read).await);
    let approver = token("alice", Role::Approver);
    spec.check("post", "/v1/evaluate", &server.post("/v1/evaluate", Some(&approver), &read).await);
    let changed = call("r1", "c2", "read_invoice", json!({"invoice_id": "INV-1"}));
    spec.check("post", "/v1/execute", &server.post("/v1/execute", Some(&agent), &changed).await);

    spec.check("get", "/v1/runs/{id}", &server.get("/v1/runs/r1", Some(&agent)).await);
    spec.check("get", "/v1/runs/{id}", &server.get("/v1/runs/nope", Some(&agent)).await);
    let user = json!({"type": "user", "text": "pay the invoice"});
    spec.check(
        "post",
        "/v1/runs/{id}/events",
        &server.post("/v1/runs/r1/events", Some(&agent), &user).await,
    );
    let result = json!({"type": "result", "id": "c3", "output": {"amount": 12}});
    spec.check(
        "post",
        "/v1/runs/{id}/events",
        &server.post("/v1/runs/r1/events", Some(&agent), &result).await,
    );
    spec.check(
        "post",
        "/v1/runs/{id}/events",
        &server.post("/v1/runs/r1/events", Some(&agent), &result).await,
    );
    let stray = json!({"type": "result", "id": "nope", "output": 1});
    spec.check(
        "post",
        "/v1/runs/{id}/events",
        &server.post("/v1/runs/r1/events", Some(&agent), &stray).await,
    );

    let hook = json!({
        "session_id": "s1", "hook_event_name": "PreToolUse", "tool_name": "read_invoice",
        "tool_input": {"invoice_id": "INV-7781"}, "tool_use_id": "toolu_1", "cwd": "/tmp",
    });
    let path = "/v1/hooks/claude-code";
    spec.check("post", path, &server.post(path, Some(&agent), &hook).await);
    spec.check("post", path, &server.post(path, None, &hook).await);
    let prompt = json!({"session_id": "s1", "hook_event_name": "UserPromptSubmit", "prompt": "hi"});
    let answer = server.post(path, Some(&agent), &prompt).await;
    assert_eq!(answer.body, json!({}), "{}", answer.text);
    spec.check("post", path, &answer);
    let output = json!({
        "session_id": "s1", "hook_event_name": "PostToolUse", "tool_name": "read_invoice",
        "tool_input": {}, "tool_use_id": "toolu_never", "tool_response": "text",
    });
    spec.check("post", path, &server.post(path, Some(&agent), &output).await);
}

fn read_invoice(id: &str) -> String {
    call("r1", id, "read_invoice", json!({"invoice_id": "INV-7781"})).to_string()
}

async fn approvals(server: &Server, spec: &mut Spec) {
    let agent = agent();
    let alice = token("alice", Role::Approver);
    let transfer = |id: &str, amount: u64| {
        let args = json!({"vendor": "V-100", "iban": "DE89370400440532013000", "amount": amount, "currency": "EUR"});
        call("r2", id, "transfer_funds", args)
    };
    let asked = server.post("/v1/execute", Some(&agent), &transfer("t1", 1200)).await;
    assert_eq!(asked.body["decision"], "require_approval", "{}", asked.text);
    spec.check("post", "/v1/execute", &asked);
    let first = asked.body["approval_id"].as_str().unwrap().to_owned();
    let other = server.post("/v1/execute", Some(&agent), &transfer("t2", 1300)).await;
    spec.check("post", "/v1/execute", &other);
    let second = other.body["approval_id"].as_str().unwrap().to_owned();

    spec.check("get", "/v1/approvals", &server.get("/v1/approvals?status=all", Some(&alice)).await);
    spec.check(
        "get",
        "/v1/approvals",
        &server.get("/v1/approvals?status=some", Some(&alice)).await,
    );
    let path = format!("/v1/approvals/{first}");
    spec.check("get", "/v1/approvals/{id}", &server.get(&path, Some(&alice)).await);
    spec.check(
        "get",
        "/v1/approvals/{id}",
        &server.get(&format!("{path}?wait=0s"), Some(&agent)).await,
    );
    spec.check("get", "/v1/approvals/{id}", &server.get("/v1/approvals/nope", Some(&alice)).await);
    let approve = format!("{path}/approve");
    let approved = server.post(&approve, Some(&alice), &json!({"reason": "known vendor"})).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    spec.check("post", "/v1/approvals/{id}/approve", &approved);
    spec.check(
        "post",
        "/v1/approvals/{id}/approve",
        &server.post(&approve, Some(&alice), &json!({})).await,
    );
    spec.check(
        "post",
        "/v1/approvals/{id}/approve",
        &server.post(&approve, Some(&agent), &json!({})).await,
    );
    let spent = server.post("/v1/execute", Some(&agent), &transfer("t1", 1200)).await;
    spec.check("post", "/v1/execute", &spent);
    let reject = format!("/v1/approvals/{second}/reject");
    spec.check(
        "post",
        "/v1/approvals/{id}/reject",
        &server.post(&reject, Some(&alice), &json!({})).await,
    );
    let rejected = server.post(&reject, Some(&alice), &json!({"reason": "unknown IBAN"})).await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    spec.check("post", "/v1/approvals/{id}/reject", &rejected);

    let grant = json!({
        "agent": "finance_agent", "action": "transfer_funds",
        "args": {"iban": {"equals": "DE89370400440532013000"}, "amount": {"at_most": 500}},
        "max_uses": 2, "ttl_seconds": 600, "reason": "small payments this week",
    });
    let given = server.post("/v1/standing-grants", Some(&alice), &grant).await;
    assert_eq!(given.status, 201, "{}", given.text);
    spec.check("post", "/v1/standing-grants", &given);
    spec.check(
        "post",
        "/v1/standing-grants",
        &server.post("/v1/standing-grants", Some(&alice), &json!({})).await,
    );
    spec.check(
        "get",
        "/v1/standing-grants",
        &server.get("/v1/standing-grants", Some(&alice)).await,
    );
    let revoke = format!("/v1/standing-grants/{}/revoke", given.body["id"].as_str().unwrap());
    spec.check(
        "post",
        "/v1/standing-grants/{id}/revoke",
        &server.post(&revoke, Some(&alice), &json!({})).await,
    );
    spec.check(
        "post",
        "/v1/standing-grants/{id}/revoke",
        &server.post(&revoke, Some(&alice), &json!({})).await,
    );
}

async fn admin(server: &Server, spec: &mut Spec) {
    let admin = token("root", Role::Admin);
    let alice = token("alice", Role::Approver);
    spec.check(
        "get",
        "/v1/audit/records",
        &server.get("/v1/audit/records?since=0&limit=50", Some(&admin)).await,
    );
    spec.check(
        "get",
        "/v1/audit/records",
        &server.get("/v1/audit/records?since=x", Some(&admin)).await,
    );
    spec.check("get", "/v1/audit/records", &server.get("/v1/audit/records", Some(&alice)).await);
    spec.check(
        "get",
        "/v1/audit/checkpoint",
        &server.get("/v1/audit/checkpoint", Some(&admin)).await,
    );

    let effect = server.get("/v1/runs/r1", Some(&admin)).await;
    assert_eq!(effect.status, 200, "{}", effect.text);
    let executed = server
        .post(
            "/v1/execute",
            Some(&agent()),
            &call("r3", "e1", "read_invoice", json!({"invoice_id": "INV-2"})),
        )
        .await;
    let id = executed.body["effect"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/effects/{id}/rollback");
    spec.check(
        "post",
        "/v1/effects/{id}/rollback",
        &server.post(&path, Some(&alice), &json!({})).await,
    );
    spec.check(
        "post",
        "/v1/effects/{id}/rollback",
        &server.post("/v1/effects/nope/rollback", Some(&alice), &json!({})).await,
    );
    spec.check(
        "post",
        "/v1/effects/{id}/rollback",
        &server.post(&path, Some(&agent()), &json!({})).await,
    );
    spec.check(
        "post",
        "/v1/runs/{id}/rollback",
        &server.post("/v1/runs/r3/rollback", Some(&admin), &json!({})).await,
    );
    spec.check(
        "post",
        "/v1/effects/reconcile",
        &server.post("/v1/effects/reconcile", Some(&alice), &json!({})).await,
    );

    let revoke = json!({"token": "0123456789abcdef0123456789abcdef"});
    spec.check(
        "post",
        "/v1/tokens/revoke",
        &server.post("/v1/tokens/revoke", Some(&admin), &revoke).await,
    );
    spec.check(
        "post",
        "/v1/tokens/revoke",
        &server.post("/v1/tokens/revoke", Some(&admin), &json!({})).await,
    );
}

/// With the store down: blocks with `error`, an unhealthy report, 503 errors.
async fn outage(server: &Server, spec: &mut Spec) {
    server.down.store(true, Ordering::SeqCst);
    let agent = agent();
    let read = call("r9", "c1", "read_invoice", json!({"invoice_id": "INV-7781"}));
    let blocked = server.post("/v1/evaluate", Some(&agent), &read).await;
    assert_eq!(
        (blocked.status, &blocked.body["decision"]),
        (503, &json!("block")),
        "{}",
        blocked.text
    );
    spec.check("post", "/v1/evaluate", &blocked);
    spec.check("post", "/v1/execute", &server.post("/v1/execute", Some(&agent), &read).await);
    spec.check("get", "/healthz", &server.get("/healthz", None).await);
    spec.check("get", "/v1/runs/{id}", &server.get("/v1/runs/r1", Some(&agent)).await);
    let hook = json!({
        "session_id": "s9", "hook_event_name": "PreToolUse", "tool_name": "read_invoice",
        "tool_input": {"invoice_id": "INV-7781"}, "tool_use_id": "toolu_9",
    });
    spec.check(
        "post",
        "/v1/hooks/claude-code",
        &server.post("/v1/hooks/claude-code", Some(&agent), &hook).await,
    );
    server.down.store(false, Ordering::SeqCst);
}
