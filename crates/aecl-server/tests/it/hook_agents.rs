//! Outputs after the fact from the agents that are not Claude Code, through
//! `/v1/hooks/claude-code` (where `aecl hook codex|gemini --server` posts them): Gemini
//! CLI's `AfterTool` names no call and is linked to the oldest pending call of the same tool
//! and input that aecl let through; a Codex `PostToolUse` (it carries `turn_id`) after a
//! `require_approval` is unguarded, since Codex's hook was answered `deny`, while Claude
//! Code's after its `ask` is `approved_in_client`.

use serde_json::{Value, json};

use crate::support::{Backend, Server, agent, call, start};

fn input(session: &str, event: &str, extra: Value) -> Value {
    let mut input = json!({ "session_id": session, "cwd": "/home/u/p", "hook_event_name": event });
    for (key, value) in extra.as_object().unwrap() {
        input[key] = value.clone();
    }
    input
}

async fn hook(server: &Server, token: &str, body: Value) -> Value {
    let answer = server.post("/v1/hooks/claude-code", Some(token), &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body
}

/// What `aecl hook codex|gemini --server` sends before a call: an execute the client runs.
async fn client_execute(server: &Server, token: &str, body: &Value) -> Value {
    let headers = [("aecl-executor", "client")];
    let answer = server.send("POST", "/v1/execute", Some(token), &headers, &body.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body
}

fn unguarded(answer: &Value) -> bool {
    answer["systemMessage"].as_str().is_some_and(|m| m.contains("unguarded"))
}

/// The audit's result records of `run`: (call id, unguarded, reason).
async fn results(server: &Server, run: &str) -> Vec<(String, bool, String)> {
    server
        .audit()
        .await
        .iter()
        .filter(|r| r["kind"] == "result" && r["run"] == run)
        .map(|r| {
            let id = r["call_id"].as_str().unwrap_or_default().to_owned();
            let reason = r["input"]["reason"].as_str().unwrap_or_default().to_owned();
            (id, r["input"]["unguarded"] == true, reason)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_after_tool_is_linked_to_the_oldest_pending_call_of_the_same_tool_and_input() {
    let server = start(Backend::Sqlite).await;
    let token = agent();
    let run = "gem";
    for id in ["g1", "g2"] {
        let read = client_execute(&server, &token, &call(run, id, "read_email", json!({}))).await;
        assert_eq!(read["decision"], "allow", "{read}");
    }
    let after = |response: Value| {
        input(
            run,
            "AfterTool",
            json!({"tool_name": "read_email", "tool_input": {}, "tool_response": response}),
        )
    };
    // Two identical pending calls: the first output goes to the older one, then the other.
    assert_eq!(hook(&server, &token, after(json!("first"))).await, json!({}));
    assert_eq!(hook(&server, &token, after(json!("second"))).await, json!({}));
    // A third has no call left to belong to.
    assert!(unguarded(&hook(&server, &token, after(json!("third"))).await));
    // Nor does a tool aecl never decided, or one it blocked.
    let never = input(
        run,
        "AfterTool",
        json!({"tool_name": "read_invoice", "tool_input": {"invoice_id": "INV-1"}, "tool_response": "x"}),
    );
    assert!(unguarded(&hook(&server, &token, never).await));
    let blocked =
        client_execute(&server, &token, &call(run, "g3", "delete_record", json!({"id": 1}))).await;
    assert_eq!(blocked["decision"], "block", "{blocked}");
    let ran = input(
        run,
        "AfterTool",
        json!({"tool_name": "delete_record", "tool_input": {"id": 1}, "tool_response": "deleted"}),
    );
    assert!(unguarded(&hook(&server, &token, ran).await));

    let results = results(&server, run).await;
    let linked: Vec<&str> =
        results.iter().filter(|(_, u, _)| !u).map(|(id, ..)| id.as_str()).collect();
    assert_eq!(linked, vec!["g1", "g2"], "{results:?}");
    assert_eq!(results.iter().filter(|(_, u, _)| *u).count(), 3, "{results:?}");
    assert!(results.iter().all(|(id, u, _)| !u || (id != "g1" && id != "g2" && id != "g3")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_after_require_approval_is_approved_in_client_for_claude_code_only() {
    let server = start(Backend::Sqlite).await;
    let token = agent();
    let pay = json!({"vendor": "V-118", "amount": 10, "currency": "EUR", "iban": "DE44500105175407324931"});
    // Codex: its hook asked aecl serve (execute, client runs it); approval is required, so
    // the hook answered `deny`. The call ran all the same.
    let asked =
        client_execute(&server, &token, &call("cx", "call_1", "transfer_funds", pay.clone())).await;
    assert_eq!(asked["decision"], "require_approval", "{asked}");
    let ran = input(
        "cx",
        "PostToolUse",
        json!({"turn_id": "1", "model": "gpt-5-codex", "tool_name": "transfer_funds",
               "tool_input": pay, "tool_use_id": "call_1", "tool_response": "sent"}),
    );
    assert!(unguarded(&hook(&server, &token, ran).await));
    let codex = results(&server, "cx").await;
    assert!(
        codex.iter().any(|(id, u, why)| id == "call_1" && *u && why.contains("cannot ask")),
        "{codex:?}"
    );
    // Claude Code: the hook answered `ask`, its user said yes, the call ran.
    let pre = input(
        "cc",
        "PreToolUse",
        json!({"tool_name": "transfer_funds", "tool_input": pay, "tool_use_id": "toolu_1"}),
    );
    let answer = hook(&server, &token, pre).await;
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "ask", "{answer}");
    let post = input(
        "cc",
        "PostToolUse",
        json!({"tool_name": "transfer_funds", "tool_input": pay, "tool_use_id": "toolu_1",
               "tool_response": "sent"}),
    );
    assert_eq!(hook(&server, &token, post).await, json!({}));
    let audit = server.audit().await;
    assert!(audit.iter().any(|r| r["kind"] == "approval"
        && r["run"] == "cc"
        && r["input"]["status"] == "approved_in_client"));
    assert!(!audit.iter().any(|r| r["kind"] == "approval" && r["run"] == "cx"));
}

/// A `PostToolUse` whose body strict JSON parsing refuses (nesting past the parser's limit)
/// is still recorded: its top-level fields are read, and the whole text is the call's
/// output, untrusted whatever the action's output rules say. Before, it was a 400 and the
/// output was never recorded (a red-team finding).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_that_is_not_valid_json_is_recorded_untrusted() {
    let server = start(Backend::Sqlite).await;
    let token = agent();
    let run = "odd";
    let read = client_execute(&server, &token, &call(run, "o1", "read_email", json!({}))).await;
    assert_eq!(read["decision"], "allow", "{read}");
    let deep = format!("{}\"GB29NWBK60161331926819\"{}", "[".repeat(300), "]".repeat(300));
    let body = format!(
        r#"{{"session_id":"{run}","hook_event_name":"PostToolUse","tool_name":"read_email","tool_input":{{}},"tool_response":{deep},"tool_use_id":"o1"}}"#
    );
    assert!(serde_json::from_str::<Value>(&body).is_err());
    let answer = server.send("POST", "/v1/hooks/claude-code", Some(&token), &[], &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(unguarded(&answer.body), "{}", answer.body);
    let results = results(&server, run).await;
    assert_eq!(results.len(), 1, "{results:?}");
    let (id, unguarded, reason) = &results[0];
    assert_eq!(id, "o1");
    assert!(unguarded, "{results:?}");
    assert!(reason.contains("not valid JSON"), "{reason}");
}
