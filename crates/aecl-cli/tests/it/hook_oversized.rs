//! The local hook on an input over its 64 MiB stdin limit: a tool's output is recorded as
//! far as it can be (its start, untrusted, marked as cut) and the session made to fail
//! closed (`expired`), so that a value only in the part not kept is never taken for the
//! model's own; a call is denied; an input whose event cannot be read is denied and fails
//! the session closed too.

use std::path::Path;

use serde_json::{Value, json};

use crate::{Outcome, output_with_stdin, temp_dir, write};

/// One byte over the hook's stdin limit.
const OVER_LIMIT: usize = 64 * 1024 * 1024 + 1;

/// `Bash` with a control `command` and no shell rules, and `WebFetch`, whose output is
/// untrusted.
pub(crate) fn policy(dir: &Path) -> String {
    let catalog = r#"[actions.Bash]
description = "A shell command."
effect = "exec"
reversibility = "irreversible"
[actions.Bash.approval]
waive_irreversible = "the test judges data flow alone"
[actions.Bash.args.command]
control = true

[actions.WebFetch]
description = "Fetch a page."
effect = "read"
"#;
    write(dir, "policy/catalog.toml", catalog);
    write(dir, "policy/policy.toml", "mode = \"enforce\"\n");
    write(
        dir,
        "policy/agents/dev.toml",
        "agent_id = \"dev\"\nallowed_actions = [\"Bash\", \"WebFetch\"]\n",
    );
    dir.join("policy").display().to_string()
}

fn hook(dir: &Path, stdin: impl AsRef<[u8]>) -> Outcome {
    let policy = dir.join("policy").display().to_string();
    let state = dir.join("state").display().to_string();
    let mut command = crate::aecl();
    command.args([
        "hook",
        "claude-code",
        "--policy",
        &policy,
        "--agent",
        "dev",
        "--state-dir",
        &state,
    ]);
    output_with_stdin(command, stdin)
}

pub(crate) fn pre(tool: &str, input: Value, id: &str) -> String {
    json!({
        "session_id": "big", "cwd": "/tmp", "hook_event_name": "PreToolUse",
        "tool_name": tool, "tool_input": input, "tool_use_id": id,
    })
    .to_string()
}

/// The `permissionDecision` of a `PreToolUse` answer.
pub(crate) fn decision(out: &Outcome) -> String {
    let answer: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    answer["hookSpecificOutput"]["permissionDecision"].as_str().unwrap_or_default().to_owned()
}

/// A `PostToolUse` of `WebFetch` whose output is over the limit, naming `early` within its
/// first kilobyte and `late` after its first mebibytes; `event_last` puts the event's name
/// after the output.
fn huge_output(early: &str, late: &str, event_last: bool) -> Vec<u8> {
    let event = r#""hook_event_name":"PostToolUse","#;
    let mut text = format!(
        r#"{{"session_id":"big","cwd":"/tmp",{}"tool_name":"WebFetch","tool_input":{{"url":"https://a.test"}},"tool_response":"see {early} "#,
        if event_last { "" } else { event }
    );
    let filler = OVER_LIMIT + 1024 - text.len();
    text.push_str(&"lorem ipsum ".repeat(filler / 12));
    text.push_str(&format!(
        r#" and {late}",{}"tool_use_id":"t1"}}"#,
        if event_last { event } else { "" }
    ));
    text.into_bytes()
}

fn session_file(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir.join("state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap()
}

#[test]
fn an_output_over_the_stdin_limit_is_recorded_cut_and_the_session_fails_closed() {
    let root = temp_dir();
    let dir = root.path();
    policy(dir);
    let fetch = pre("WebFetch", json!({"url": "https://a.test"}), "t1");
    assert_eq!(decision(&hook(dir, &fetch)), "allow");
    // Before the output, the model's own command is its own.
    let curl = |url: &str, id: &str| pre("Bash", json!({"command": format!("curl {url}")}), id);
    assert_eq!(decision(&hook(dir, curl("https://fine.test/y", "t0"))), "allow");
    let out = hook(dir, huge_output("https://early.test/x", "https://late.test/x", false));
    assert_eq!(out.code, Some(0), "an output is recorded, never denied: {out:?}");
    assert!(out.stdout.contains("could not be recorded whole"), "{}", out.stdout);
    // Recorded within bounds: the start, marked as cut, after an `expired` event.
    let file = session_file(dir);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size < 2 * 1024 * 1024, "{size} bytes");
    let text = std::fs::read_to_string(&file).unwrap();
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["call", "decided", "call", "decided", "expired", "result"], "{types:?}");
    let result = events.last().unwrap();
    assert!(result["id"].as_str().unwrap().starts_with("unguarded:"), "{result}");
    assert!(result["output"].as_str().unwrap().contains("[aecl: cut after"), "untrusted, marked");
    // A value in the part kept, one in the part lost, and one never seen: none passes as
    // the model's own any more.
    for (i, url) in ["https://early.test/x", "https://late.test/x", "https://other.test/z"]
        .into_iter()
        .enumerate()
    {
        let out = hook(dir, curl(url, &format!("t{}", i + 2)));
        assert_eq!(decision(&out), "ask", "{url}: {out:?}");
    }
}

#[test]
fn a_call_over_the_stdin_limit_is_denied() {
    let root = temp_dir();
    let dir = root.path();
    policy(dir);
    let mut text = pre("Bash", json!({"command": "true", "pad": ""}), "t1");
    text.insert_str(text.len() - 1, &format!(r#","x":"{}""#, "y".repeat(OVER_LIMIT)));
    let out = hook(dir, text);
    assert_eq!((out.code, decision(&out).as_str()), (Some(2), "deny"), "{out:?}");
    assert!(out.stderr.contains("larger than"), "{}", out.stderr);
}

#[test]
fn an_input_over_the_limit_whose_event_cannot_be_read_fails_the_session_closed() {
    let root = temp_dir();
    let dir = root.path();
    policy(dir);
    let fetch = pre("WebFetch", json!({"url": "https://a.test"}), "t1");
    assert_eq!(decision(&hook(dir, &fetch)), "allow");
    let out = hook(dir, huge_output("https://early.test/x", "https://late.test/x", true));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("lost history"), "{}", out.stderr);
    let curl = pre("Bash", json!({"command": "curl https://late.test/x"}), "t2");
    assert_eq!(decision(&hook(dir, curl)), "ask");
}
