//! Where a shell tool's command runs, for the policy's shell rules: Gemini CLI's
//! `run_shell_command` runs in `dir_path` (formerly `directory`), resolved from the hook
//! input's `cwd`, so its relative write targets are checked against `write_paths` from
//! there, not from `cwd`.

use std::path::Path;

use serde_json::{Value, json};

use crate::{Outcome, run_with_stdin, temp_dir, write};

/// `run_shell_command` may write under `ROOT/ws` only.
fn policy(root: &Path) -> String {
    let catalog = format!(
        r#"[actions.run_shell_command]
description = "A shell command (Gemini CLI)."
effect = "exec"
reversibility = "irreversible"
[actions.run_shell_command.approval]
waive_irreversible = "the shell rules judge writes"
[actions.run_shell_command.args.command.shell]
unknown = "allow"
write_paths = ["{}/ws"]
"#,
        root.display()
    );
    write(root, "policy/catalog.toml", &catalog);
    write(root, "policy/policy.toml", "mode = \"enforce\"\n");
    write(
        root,
        "policy/agents/dev.toml",
        "agent_id = \"dev\"\nallowed_actions = [\"run_shell_command\"]\n",
    );
    root.join("policy").display().to_string()
}

fn gemini(root: &Path, tool_input: Value) -> (Outcome, String, String) {
    gemini_in(root, &root.join("ws").display().to_string(), tool_input)
}

fn gemini_in(root: &Path, cwd: &str, tool_input: Value) -> (Outcome, String, String) {
    let policy = policy(root);
    let state = root.join("state").display().to_string();
    let input = json!({
        "session_id": "wd", "cwd": cwd,
        "hook_event_name": "BeforeTool", "tool_name": "run_shell_command",
        "tool_input": tool_input,
    });
    let args = ["hook", "gemini", "--policy", &policy, "--agent", "dev", "--state-dir", &state];
    let out = run_with_stdin(args, &input.to_string());
    let answer: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    let text = |name: &str| answer[name].as_str().unwrap_or_default().to_owned();
    let (decision, reason) = (text("decision"), text("reason"));
    (out, decision, reason)
}

#[test]
fn a_relative_write_is_checked_from_the_directory_the_command_runs_in() {
    let temp = temp_dir();
    let root = temp.path().canonicalize().unwrap();
    for dir in ["ws/src", "outside"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let outside = root.join("outside").display().to_string();
    let command = "echo hi > f.txt";
    for (tool_input, expected) in [
        (json!({"command": command}), "allow"),
        (json!({"command": command, "dir_path": "src"}), "allow"),
        (json!({"command": command, "dir_path": outside}), "deny"),
        (json!({"command": command, "dir_path": ".."}), "deny"),
        (json!({"command": command, "directory": "../outside"}), "deny"),
        (json!({"command": command, "dir_path": "src/../../outside"}), "deny"),
    ] {
        let (out, decision, reason) = gemini(&root, tool_input.clone());
        assert_eq!(decision, expected, "{tool_input}: {out:?}");
        if expected == "deny" {
            assert!(reason.contains("outside the write paths"), "{tool_input}: {reason}");
            assert_eq!(out.code, Some(2));
        }
    }
}

/// A `cwd` that is not absolute cannot say where the call acts: it is refused, naming the
/// field, rather than read from the hook process's own directory.
#[test]
fn a_relative_or_empty_cwd_is_refused() {
    let temp = temp_dir();
    let root = temp.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("ws")).unwrap();
    for cwd in ["ws", "", "./ws", "../ws"] {
        let (out, decision, reason) = gemini_in(&root, cwd, json!({"command": "echo hi > f.txt"}));
        assert_eq!(decision, "deny", "`{cwd}`: {out:?}");
        assert!(reason.contains("`cwd` must be an absolute path"), "`{cwd}`: {reason}");
        assert_eq!(out.code, Some(2));
    }
}
