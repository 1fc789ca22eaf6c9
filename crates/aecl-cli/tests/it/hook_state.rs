//! The local hook's guard of its own state directory: the corpus `test_data/hook_state/`
//! (see its README), each case a call decided by `aecl hook claude-code --policy` with the
//! default state directory under a temporary `HOME`, real links in the layout, and a policy
//! that allows everything else: a write or delete of the state directory, inside it, or of
//! a directory holding it, is denied by the hook and the session's history stays.

use std::path::Path;

use serde::Deserialize;
use serde_json::json;

use crate::paths::{corpus, decision, make_layout};
use crate::{run_with_stdin_env, write};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default = "bash")]
    tool: String,
    command: Option<String>,
    path: Option<String>,
    #[serde(default)]
    layout: Vec<String>,
    cwd: Option<String>,
    expect: String,
    why: String,
}

fn bash() -> String {
    "Bash".to_owned()
}

/// Everything is allowed but what the hook's own guard refuses.
fn policy(dir: &Path) -> String {
    let catalog = r#"[actions.Bash]
description = "A shell command."
effect = "exec"
reversibility = "irreversible"
[actions.Bash.approval]
waive_irreversible = "the test judges the hook's guard alone"
[actions.Bash.args.command.shell]
unknown = "allow"
runs_code = "allow"
writes_outside = "allow"

[actions.Write]
description = "Write a file."
effect = "write"
reversibility = "reversible"
compensation = "Write"

[actions.Read]
description = "Read a file."
effect = "read"

[actions.fs__delete_directory]
description = "Delete a directory."
effect = "delete"
reversibility = "reversible"
compensation = "fs__delete_directory"
"#;
    write(dir, "policy/catalog.toml", catalog);
    write(dir, "policy/policy.toml", "mode = \"enforce\"\n");
    let agent = "agent_id = \"dev\"\nallowed_actions = [\"Bash\", \"Write\", \"Read\", \"fs__delete_directory\"]\n";
    write(dir, "policy/agents/dev.toml", agent);
    dir.join("policy").display().to_string()
}

fn input(case: &Case, root: &Path, cwd: &str) -> String {
    let expand = |text: &str| {
        text.replace("$ROOT", &root.display().to_string())
            .replace("$HOME", &root.join("home").display().to_string())
    };
    let tool_input = match case.tool.as_str() {
        "Bash" => json!({ "command": expand(case.command.as_deref().unwrap_or_default()) }),
        "Write" | "Read" => {
            json!({ "file_path": expand(case.path.as_deref().unwrap_or_default()), "content": "x\n" })
        }
        _ => json!({ "path": expand(case.path.as_deref().unwrap_or_default()) }),
    };
    json!({
        "session_id": "hook-state",
        "cwd": cwd,
        "hook_event_name": "PreToolUse",
        "tool_name": case.tool,
        "tool_input": tool_input,
        "tool_use_id": "toolu_state",
    })
    .to_string()
}

#[test]
fn writes_reaching_the_hook_state_directory_or_a_parent_are_denied_and_reads_are_not() {
    let cases: Vec<(String, Case)> = corpus("test_data/hook_state");
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (file, case) in &cases {
        assert!(
            ["allow", "deny"].contains(&case.expect.as_str()) && !case.why.is_empty(),
            "{file}: {}: expect must be allow or deny, with a why",
            case.name
        );
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().canonicalize().unwrap();
        let home = root.join("home");
        let state = home.join(".local/state/aecl/hooks");
        for dir in [home.join("work"), home.join(".cache"), state.clone()] {
            std::fs::create_dir_all(dir).unwrap();
        }
        make_layout(&root, &case.layout);
        let policy = policy(&root);
        let cwd = case
            .cwd
            .as_deref()
            .unwrap_or("$ROOT/home/work")
            .replace("$ROOT", &root.display().to_string());
        let home_text = home.display().to_string();
        let env = [
            ("HOME", Some(home_text.as_str())),
            ("AECL_STATE_DIR", None),
            ("XDG_STATE_HOME", None),
            ("SOMEWHERE", None),
            ("X", None),
        ];
        // A first call makes the session's file: the history the guard keeps.
        let args = ["hook", "claude-code", "--policy", &policy, "--agent", "dev"];
        let first = json!({
            "session_id": "hook-state", "cwd": cwd, "hook_event_name": "PreToolUse",
            "tool_name": "Read", "tool_input": {"file_path": "a.txt"}, "tool_use_id": "toolu_0",
        });
        let out = run_with_stdin_env(args, &first.to_string(), &env);
        assert_eq!(decision(&out.stdout).0, "allow", "{out:#?}");
        let names: Vec<String> = std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "the session's file and the policy cache: {names:?}");
        assert!(names.contains(&"policy-cache".to_owned()), "{names:?}");
        let out = run_with_stdin_env(args, &input(case, &root, &cwd), &env);
        let (got, reason) = decision(&out.stdout);
        let by_guard = reason.contains("hook state directory");
        let ok = match case.expect.as_str() {
            "deny" => got == "deny" && by_guard && out.code == Some(2),
            _ => got == "allow",
        };
        if !ok {
            failures.push(format!(
                "{file}: {}: expected {}, got {got} ({}): {reason}",
                case.name, case.expect, case.why
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
