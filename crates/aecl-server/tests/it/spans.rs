//! Values `scan` finds inside free text carry their position as data, not only in the
//! reason's words: `/v1/evaluate` answers them in `spans`, and an approval request keeps
//! them in its verdict, where the approvals page marks them in the argument.

use std::path::Path;
use std::sync::Arc;

use aecl_engine::identity::Role;
use serde_json::{Value, json};

use crate::support::{Backend, call, start_with_policy, token};

/// The typed-value corpus's policy (`send_email.body` scans for links and addresses).
fn values_policy() -> Arc<aecl_core::Policy> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data/values/policy");
    let mut files = Vec::new();
    for sub in ["", "agents"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push(aecl_policy::SourceFile { path: path.display().to_string(), text });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Arc::new(aecl_policy::load(&files).unwrap().policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_from_an_email_inside_a_body_is_answered_with_its_position() {
    let server = start_with_policy(Backend::Sqlite, values_policy()).await;
    let agent = token("assistant", Role::Agent);
    let events = "/v1/runs/sp/events";
    let user = json!({"type": "user", "text": "reply to alice@corp.test about the invoice"});
    assert_eq!(server.post(events, Some(&agent), &user).await.status, 200);
    let read =
        server.post("/v1/evaluate", Some(&agent), &call("sp", "c1", "read_email", json!({}))).await;
    assert_eq!(read.body["decision"], "allow", "{}", read.text);
    let output = json!({"type": "result", "id": "c1", "output": "Details at www.collect.test"});
    assert_eq!(server.post(events, Some(&agent), &output).await.status, 200);

    let body = "Hi, see www.collect.test";
    let send = call("sp", "c2", "send_email", json!({"to": "alice@corp.test", "body": body}));
    let answer = server.post("/v1/evaluate", Some(&agent), &send).await;
    assert_eq!(answer.body["decision"], "require_approval", "{}", answer.text);
    let expected = json!([{
        "field": "body", "kind": "url", "offset": 8, "length": 16,
        "source": "c1 read_email", "source_call": "c1",
    }]);
    assert_eq!(answer.body["spans"], expected, "{}", answer.text);
    assert_eq!(&body[8..24], "www.collect.test");

    // Executed, it waits for a person; the request's verdict keeps the spans.
    let headers = [("aecl-executor", "client")];
    let send = call("sp", "c3", "send_email", json!({"to": "alice@corp.test", "body": body}));
    let executed =
        server.send("POST", "/v1/execute", Some(&agent), &headers, &send.to_string()).await;
    let id = executed.body["approval_id"].as_str().expect("an approval request").to_owned();
    let approver = token("approver-1", Role::Approver);
    let request = server.get(&format!("/v1/approvals/{id}"), Some(&approver)).await;
    assert_eq!(request.status, 200, "{}", request.text);
    let spans = find(&request.body, "spans").expect("spans in the request");
    assert_eq!(spans[0]["offset"], 8, "{spans}");
    assert_eq!(spans[0]["source_call"], "c1", "{spans}");
}

/// The first value under `key` anywhere in `value`.
fn find<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(key).or_else(|| map.values().find_map(|v| find(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find(v, key)),
        _ => None,
    }
}
