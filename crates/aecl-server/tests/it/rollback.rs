//! The rollback endpoints: approver and admin tokens only (an agent's is refused and the
//! refusal audited), an unknown effect is 404, and an effect of an action without a
//! compensation answers `irreversible` without calling anything. (Undo itself is tested
//! end to end with the real connectors in `aecl-cli/tests/it/rollback.rs`.)

use aecl_engine::identity::Role;
use serde_json::json;

use crate::on_both;
use crate::support::{Backend, agent, call, start, token};

on_both!(rollback_needs_an_approver_and_reports_per_effect);

async fn rollback_needs_an_approver_and_reports_per_effect(backend: Backend) {
    let server = start(backend).await;
    let read = call("r1", "c1", "read_invoice", json!({ "invoice_id": "INV-7781" }));
    let done = server.post("/v1/execute", Some(&agent()), &read).await;
    assert_eq!(done.body["effect"]["state"], "succeeded", "{}", done.text);
    let effect = done.body["effect"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/effects/{effect}/rollback");

    let refused = server.post(&path, Some(&agent()), &json!({})).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let records =
        server.get("/v1/audit/records?from=1&limit=100", Some(&token("root", Role::Admin))).await;
    assert!(records.text.contains("rolling back needs a token of role"), "{}", records.text);

    let alice = token("alice", Role::Approver);
    let answer = server.post(&path, Some(&alice), &json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let report = &answer.body["effects"][0];
    assert_eq!(report["status"], "irreversible", "{}", answer.text);
    assert_eq!(report["effect_id"], effect.as_str());
    assert_eq!(server.executed.0.load(std::sync::atomic::Ordering::SeqCst), 1, "nothing ran");

    let missing = server.post("/v1/effects/nope/rollback", Some(&alice), &json!({})).await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    let run =
        server.post("/v1/runs/r1/rollback", Some(&token("root", Role::Admin)), &json!({})).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.body["effects"][0]["status"], "irreversible", "{}", run.text);
}
