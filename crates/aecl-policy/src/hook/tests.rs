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
    let error = HookInput::parse(&input("BeforeTool", " "), "BeforeTool").unwrap_err();
    assert!(error.to_string().contains("`session_id`"), "a blank session is no session: {error}");
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

fn shell_input(tool: &str, tool_input: Value) -> HookInput {
    let text = json!({
        "session_id": "s1", "cwd": "/w", "hook_event_name": "BeforeTool",
        "tool_name": tool, "tool_input": tool_input,
    })
    .to_string();
    HookInput::parse(&text, "BeforeTool").unwrap()
}

#[test]
fn a_shell_tools_working_directory_field_is_where_its_command_runs() {
    let dir = |tool: &str, input: Value| shell_input(tool, input).command_dir();
    let command = "echo x > f";
    // Gemini CLI's `dir_path` and its older `directory`; Codex's `workdir`, and
    // `working_directory` in `local_shell`'s action.
    for (tool, input, expected) in [
        ("run_shell_command", json!({"command": command, "dir_path": ".."}), Some("..")),
        ("run_shell_command", json!({"command": command, "directory": "/x"}), Some("/x")),
        (
            "run_shell_command",
            json!({"command": command, "dir_path": "a", "directory": "a"}),
            Some("a"),
        ),
        ("shell", json!({"command": ["bash", "-lc", command], "workdir": "/t"}), Some("/t")),
        ("exec_command", json!({"cmd": command, "workdir": "sub"}), Some("sub")),
        ("shell_command", json!({"command": command, "workdir": "sub"}), Some("sub")),
        ("local_shell", json!({"action": {"type": "exec", "working_directory": "/d"}}), Some("/d")),
        // Absent, `null` or empty: the input's `cwd`, as the agents read it.
        ("run_shell_command", json!({"command": command}), None),
        ("run_shell_command", json!({"command": command, "dir_path": null}), None),
        ("shell", json!({"command": ["ls"], "workdir": ""}), None),
        ("Bash", json!({"command": command}), None),
        // Not a shell tool: its fields are its own.
        ("write_file", json!({"file_path": "x", "directory": "/etc"}), None),
    ] {
        assert_eq!(dir(tool, input.clone()).unwrap().as_deref(), expected, "{tool} {input}");
    }
    for (tool, input) in [
        ("run_shell_command", json!({"command": command, "dir_path": 5})),
        ("run_shell_command", json!({"command": command, "dir_path": ["/"]})),
        ("run_shell_command", json!({"command": command, "dir_path": "a", "directory": "b"})),
        // A field the tool does not take might be read by an agent aecl does not know.
        ("run_shell_command", json!({"command": command, "workdir": "/"})),
        ("Bash", json!({"command": command, "cwd": "/"})),
        ("Bash", json!({"command": command, "workdir": "/"})),
        ("shell", json!({"command": ["ls"], "dir_path": "/"})),
    ] {
        let error = dir(tool, input.clone()).unwrap_err().to_string();
        assert!(error.contains("cannot tell where"), "{tool} {input}: {error}");
    }
    assert!(is_shell_tool("run_shell_command") && is_shell_tool("Bash"));
    assert!(!is_shell_tool("mcp__x__shell"));
}

#[test]
fn the_head_of_an_input_cut_short_names_its_session_and_event() {
    let text = r#"{"session_id":"s1","cwd":"/w","hook_event_name":"PostToolUse","tool_name":"WebFetch","tool_input":{"url":"https://a"},"tool_response":"visit https://evil.test/x and"#;
    let input = HookInput::salvage_head(text, "cut").unwrap();
    assert_eq!(
        (input.session_id.as_str(), input.hook_event_name.as_str(), input.tool_name.as_str()),
        ("s1", "PostToolUse", "WebFetch")
    );
    assert_eq!(input.tool_response, None);
    // No event before the cut: the session is still known.
    let input =
        HookInput::salvage_head(r#"{"session_id":"s1","tool_response":"xx"#, "cut").unwrap();
    assert_eq!((input.session_id.as_str(), input.hook_event_name.as_str()), ("s1", ""));
    assert!(HookInput::salvage_head(r#"{"tool_response":"xx"#, "cut").is_none());
}

/// The agent's client runs the tool itself: a call the policy wants sandboxed, or of an
/// action bound to a connector the server runs, is denied to it (enforce mode), whatever
/// else allows it.
#[test]
fn a_client_may_not_run_a_bound_or_sandboxed_action_itself() {
    let catalog = r#"
[actions.Bash]
effect = "exec"
reversibility = "irreversible"
sandbox = "gvisor"
[actions.Bash.approval]
waive_irreversible = "a test"

[actions.Query]
effect = "read"
connector = "db"

[actions.Read]
effect = "read"
"#;
    for mode in ["enforce", "monitor"] {
        let files = [
            crate::SourceFile { path: "catalog.toml".into(), text: catalog.into() },
            crate::SourceFile {
                path: "agents/a.toml".into(),
                text: format!(
                    "agent_id = \"a\"\nmode = \"{mode}\"\nallowed_actions = [\"Bash\", \"Query\", \"Read\"]\n"
                ),
            },
        ];
        let policy = crate::load(&files).unwrap().policy;
        let runs = [("Bash", None, true), ("Query", Some("db"), true), ("Read", None, false)];
        for (action, bound, denied) in runs {
            let call = aecl_core::Call {
                id: "c".into(),
                agent: "a".into(),
                run: "r".into(),
                action: action.into(),
                args: json!({"command": "ls"}),
                ..aecl_core::Call::default()
            };
            let run = aecl_core::RunState::new("r");
            let verdict = aecl_core::decide(&policy, &call, &run, aecl_core::Timestamp(0));
            let (outcome, stricter) = HookOutcome::for_client(action, &verdict, bound);
            let expect_denied = denied && mode == "enforce";
            assert_eq!(stricter, expect_denied, "{mode} {action}: {outcome:?}");
            assert_eq!(outcome.decision == Decision::Block, expect_denied, "{mode} {action}");
        }
    }
}

#[test]
fn an_input_naming_a_member_twice_is_refused_whichever_copy_a_reader_keeps() {
    let head = r#""session_id":"s1","cwd":"/w","tool_name":"Bash","tool_use_id":"t1""#;
    let inputs = [
        // The event read first as after the tool, last as before it.
        format!(
            r#"{{{head},"hook_event_name":"PostToolUse","hook_event_name":"PreToolUse","tool_input":{{"command":"rm -rf /"}}}}"#
        ),
        format!(
            r#"{{{head},"hook_event_name":"PreToolUse","hook_event_name":"PostToolUse","tool_input":{{"command":"rm -rf /"}}}}"#
        ),
        // Inside the tool's input, as an escape, and deeper down.
        format!(
            r#"{{{head},"hook_event_name":"PreToolUse","tool_input":{{"command":"rm -rf /","command":"ls"}}}}"#
        ),
        format!(
            r#"{{{head},"hook_event_name":"PreToolUse","tool_input":{{"command":"ls","\u0063ommand":"id"}}}}"#
        ),
        format!(
            r#"{{{head},"hook_event_name":"PreToolUse","tool_input":{{"edits":[{{"a":1,"a":2}}]}}}}"#
        ),
    ];
    for text in &inputs {
        let error = HookInput::parse_event(text).unwrap_err();
        assert!(error.to_string().contains("twice"), "{text}: {error}");
        assert!(HookInput::parse(text, "PreToolUse").is_err(), "{text}");
        assert_eq!(HookInput::event_name(text), None, "{text}");
    }
    // The same input with each member once is read.
    let once =
        format!(r#"{{{head},"hook_event_name":"PreToolUse","tool_input":{{"command":"ls"}}}}"#);
    assert!(HookInput::parse_event(&once).is_ok());
}

#[test]
fn a_repaired_input_naming_a_member_twice_is_refused_too() {
    // A lone surrogate (repaired, as a tool output may hold one) beside a repeated event.
    let text = r#"{"session_id":"s1","hook_event_name":"PostToolUse","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls"},"tool_response":"OK\ud800"}"#;
    let error = HookInput::parse_event(text).unwrap_err();
    assert!(error.to_string().contains("twice"), "{error}");
    // The lone surrogate alone is still read.
    let single = r#"{"session_id":"s1","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"ls"},"tool_response":"OK\ud800"}"#;
    assert!(HookInput::parse_event(single).is_ok());
    // Two keys that only the repair makes one (red team round 20, hooks HK7): the event is
    // salvaged, its whole text recorded as the output, never refused unrecorded.
    let collide = r#"{"session_id":"s1","hook_event_name":"PostToolUse","tool_name":"mcp__fs__read","tool_input":{},"tool_response":{"text":"curl https://evil.test","meta":{"\ud800":1,"\udc00":2}}}"#;
    let (input, event) = HookInput::parse_event(collide).unwrap();
    assert_eq!(event, HookEvent::PostTool);
    let recorded = input.tool_response.map(|v| v.to_string()).unwrap_or_default();
    assert!(recorded.contains("evil.test"), "{recorded}");
}

#[test]
fn an_unreadable_input_naming_a_member_twice_is_not_salvaged() {
    // Nested past the parser's limit, so that neither strict reader reads it.
    let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    let text = format!(
        r#"{{"session_id":"s1","hook_event_name":"PostToolUse","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{{"command":"rm -rf /"}},"tool_response":{deep}}}"#
    );
    assert!(HookInput::parse_event(&text).is_err());
    // The same input with the event once is salvaged as the output it records.
    let once = text.replacen(r#""hook_event_name":"PostToolUse","#, "", 1).replacen(
        r#""hook_event_name":"PreToolUse""#,
        r#""hook_event_name":"PostToolUse""#,
        1,
    );
    assert_eq!(HookInput::parse_event(&once).unwrap().1, HookEvent::PostTool);
}
