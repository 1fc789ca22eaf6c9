//! A decision's cost is bounded whatever the agent sends: an agent whose hook times out
//! may run the call unguarded (Codex, Gemini CLI), so a command that costs the analysis
//! seconds would be a way around it.

use crate::{repo, run_with_stdin, temp_dir};

fn hook(command: &str) -> crate::Outcome {
    let state = temp_dir();
    let input = serde_json::json!({
        "session_id": "limits",
        "cwd": "/tmp",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": { "command": command },
        "tool_use_id": "t1",
    });
    let policy = repo("crates/aecl-cli/tests/claude_code/policy");
    let state = state.path().to_str().unwrap().to_owned();
    run_with_stdin(
        [
            "hook",
            "claude-code",
            "--policy",
            policy.to_str().unwrap(),
            "--agent",
            "coder",
            "--state-dir",
            &state,
        ],
        &input.to_string(),
    )
}

/// `Bash`'s command has `max_length = 10000`: a longer one is blocked by that alone, and
/// the shell rules (whose parser is the costliest part of a decision) never read it.
#[test]
fn a_command_over_its_length_limit_is_blocked_without_being_analysed() {
    let out = hook(&"a;".repeat(60_000));
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stdout.contains("max_length"), "{out:#?}");
    assert!(!out.stdout.contains("arguments.shell"), "the shell rules read it: {out:#?}");
    // Under the limit, the same program is analysed (and allowed: `ls` is listed).
    let out = hook(&"ls;".repeat(10));
    assert_eq!(out.code, Some(0), "{out:#?}");
}
