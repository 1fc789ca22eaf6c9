//! Tests of the hook mapping: tool names to catalog actions, inputs to call events.

use serde_json::json;

use super::*;

#[test]
fn mcp_tools_map_to_qualified_catalog_actions() {
    assert_eq!(action_of("Bash"), "Bash");
    assert_eq!(action_of("mcp__bank__transfer_funds"), "bank__transfer_funds");
    assert_eq!(action_of("mcp__fs__read__file"), "fs__read__file");
}

#[test]
fn the_input_accepts_unknown_fields() {
    let text = json!({
        "session_id": "s1", "transcript_path": "/t.jsonl", "cwd": "/w",
        "permission_mode": "default", "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_1",
        "some_future_field": {"x": 1}
    })
    .to_string();
    let input = HookInput::parse(&text, "PreToolUse").unwrap();
    assert_eq!(input.tool_use_id.as_deref(), Some("toolu_1"));
    let event = input.into_call_event(|| unreachable!("the call has an id"));
    assert_eq!(
        (event.run.as_str(), event.id.as_str(), event.action.as_str()),
        ("s1", "toolu_1", "Bash")
    );
    assert_eq!(event.args, json!({"command": "ls"}));
}

#[test]
fn another_event_or_an_empty_session_is_refused() {
    let input = |event: &str, session: &str| {
        json!({"session_id": session, "hook_event_name": event, "tool_name": "Bash"}).to_string()
    };
    let error = HookInput::parse(&input("PostToolUse", "s1"), "PreToolUse").unwrap_err();
    assert!(error.to_string().contains("`PostToolUse`"), "{error}");
    let error = HookInput::parse(&input("BeforeTool", ""), "BeforeTool").unwrap_err();
    assert!(error.to_string().contains("`session_id` is empty"), "{error}");
    let error = HookInput::parse("{\"session_id\": 1}", "BeforeTool").unwrap_err();
    assert!(error.to_string().starts_with("hook input: invalid type"), "{error}");
}

#[test]
fn a_gemini_mcp_tool_is_named_by_its_mcp_context_and_gets_a_fresh_id() {
    let text = json!({
        "session_id": "g1", "hook_event_name": "BeforeTool", "timestamp": "2026-11-23T10:00:00Z",
        "tool_name": "write_file", "tool_input": {"path": "/workspace/a"},
        "mcp_context": {"server_name": "filesystem", "tool_name": "write_file", "command": "npx"}
    })
    .to_string();
    let input = HookInput::parse(&text, "BeforeTool").unwrap();
    assert_eq!(input.qualified_tool_name(), "mcp__filesystem__write_file");
    let event = input.into_call_event(|| "fresh".to_owned());
    assert_eq!((event.id.as_str(), event.action.as_str()), ("fresh", "filesystem__write_file"));
}

#[test]
fn missing_tool_input_is_an_empty_object() {
    let text = json!({"session_id": "s", "hook_event_name": "PreToolUse", "tool_name": "x", "tool_use_id": ""}).to_string();
    let event = HookInput::parse(&text, "PreToolUse").unwrap().into_call_event(|| "id".to_owned());
    assert_eq!((event.id.as_str(), event.args.clone()), ("id", json!({})));
}
