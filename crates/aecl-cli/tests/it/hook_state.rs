//! The local hook's guard of aecl's own files and the agents' hook settings: the corpus
//! `test_data/hook_state/` (see its README), each case a call decided by `aecl hook AGENT
//! --policy` with the default state directory under a temporary `HOME`, the policy in
//! `$ROOT/policy`, real links in the layout, and a policy that allows everything else: a
//! write or delete of the state directory, the policy directory or a directory holding
//! either, or of an agent's hook settings, is denied by the hook and the session's history
//! stays.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::paths::{corpus, decision, make_layout};
use crate::{Outcome, run_with_stdin_env, write};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// `claude-code` (default), `codex` or `gemini`.
    agent: Option<String>,
    #[serde(default = "bash")]
    tool: String,
    command: Option<String>,
    /// Bytes of ` #AAA…` (a shell comment) appended to `command`.
    pad: Option<usize>,
    path: Option<String>,
    /// The whole `tool_input` as JSON, instead of `command` or `path`.
    input: Option<String>,
    #[serde(default)]
    layout: Vec<String>,
    cwd: Option<String>,
    /// Environment variables of the hook (`$ROOT` and `$HOME` substituted).
    #[serde(default)]
    env: BTreeMap<String, String>,
    expect: String,
    /// What a deny's reason must say (default: `hook state directory`).
    reason: Option<String>,
    /// Where the policy directory is, relative to `$ROOT` (default `policy`).
    policy_in: Option<String>,
    why: String,
}

fn bash() -> String {
    "Bash".to_owned()
}

/// Everything is allowed but what the hook's own guard refuses; the policy directory is
/// `dir/at`.
fn policy(dir: &Path, at: &str) -> String {
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

[actions.Edit]
description = "Edit a file."
effect = "write"
reversibility = "reversible"
compensation = "Edit"

[actions.MultiEdit]
description = "Edit a file in several places."
effect = "write"
reversibility = "reversible"
compensation = "MultiEdit"

[actions.Read]
description = "Read a file."
effect = "read"

[actions.Grep]
description = "Search the files under a directory."
effect = "read"

[actions.Glob]
description = "List the files under a directory that match a pattern."
effect = "read"

[actions.fs__delete_directory]
description = "Delete a directory."
effect = "delete"
reversibility = "reversible"
compensation = "fs__delete_directory"

# Gemini CLI's and Codex's shell tools, with no shell rules at all.
[actions.run_shell_command]
description = "A shell command (Gemini CLI)."
effect = "exec"
reversibility = "irreversible"
[actions.run_shell_command.approval]
waive_irreversible = "the test judges the hook's guard alone"

[actions.shell]
description = "A shell command (Codex)."
effect = "exec"
reversibility = "irreversible"
[actions.shell.approval]
waive_irreversible = "the test judges the hook's guard alone"

# Gemini CLI's reader of every file its globs match.
[actions.read_many_files]
description = "Read the files that match globs."
effect = "read"

# An MCP filesystem server's move, declared a write.
[actions.fs__move_file]
description = "Move a file or directory."
effect = "write"
reversibility = "irreversible"
[actions.fs__move_file.approval]
waive_irreversible = "the test judges the hook's guard alone"

# Codex's edit tool: a patch naming the files it writes.
[actions.apply_patch]
description = "A patch (Codex)."
effect = "write"
reversibility = "irreversible"
[actions.apply_patch.approval]
waive_irreversible = "the test judges the hook's guard alone"
"#;
    write(dir, &format!("{at}/catalog.toml"), catalog);
    write(dir, &format!("{at}/policy.toml"), "mode = \"enforce\"\n");
    let agent = "agent_id = \"dev\"\nallowed_actions = [\"Bash\", \"Write\", \"Edit\", \"MultiEdit\", \"Read\", \"Grep\", \"Glob\", \"fs__delete_directory\", \"run_shell_command\", \"shell\", \"apply_patch\", \"fs__move_file\", \"read_many_files\"]\n";
    write(dir, &format!("{at}/agents/dev.toml"), agent);
    dir.join(at).display().to_string()
}

/// `$ROOT`, `$HOME` and `$AECL` (the program under test) substituted in `text`.
fn expand(text: &str, root: &Path) -> String {
    text.replace("$ROOT", &root.display().to_string())
        .replace("$HOME", &root.join("home").display().to_string())
        .replace("$AECL", env!("CARGO_BIN_EXE_aecl"))
}

fn input(case: &Case, root: &Path, cwd: &str) -> String {
    let expand = |text: &str| expand(text, root);
    let tool_input = match (&case.input, case.tool.as_str()) {
        (Some(input), _) => serde_json::from_str(&expand(input)).expect("`input` is JSON"),
        (None, "Bash" | "run_shell_command") => {
            let mut command = expand(case.command.as_deref().unwrap_or_default());
            if let Some(pad) = case.pad {
                command.push_str(" #");
                command.push_str(&"A".repeat(pad));
            }
            json!({ "command": command })
        }
        (None, "Write" | "Read") => {
            json!({ "file_path": expand(case.path.as_deref().unwrap_or_default()), "content": "x\n" })
        }
        _ => json!({ "path": expand(case.path.as_deref().unwrap_or_default()) }),
    };
    let gemini = case.agent.as_deref() == Some("gemini");
    let mut input = json!({
        "session_id": "hook-state",
        "cwd": cwd,
        "hook_event_name": if gemini { "BeforeTool" } else { "PreToolUse" },
        "tool_name": case.tool,
        "tool_input": tool_input,
        "tool_use_id": "toolu_state",
    });
    if case.agent.as_deref() == Some("codex") {
        input["turn_id"] = json!("1");
    }
    input.to_string()
}

/// The decision and reason in an answer of `agent`'s hook.
fn answer(agent: &str, out: &Outcome) -> (String, String) {
    match agent {
        "gemini" | "codex" if out.stdout.trim().is_empty() => ("allow".to_owned(), String::new()),
        "gemini" => {
            let answer: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            let text = |name: &str| answer[name].as_str().unwrap_or_default().to_owned();
            (text("decision"), text("reason"))
        }
        _ => decision(&out.stdout),
    }
}

#[test]
fn writes_reaching_the_hook_state_directory_or_a_parent_are_denied_and_reads_are_not() {
    let cases: Vec<(String, Case)> = corpus("test_data/hook_state");
    assert!(cases.len() >= 120, "only {} cases", cases.len());
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
        let policy = policy(&root, case.policy_in.as_deref().unwrap_or("policy"));
        let cwd = case
            .cwd
            .as_deref()
            .unwrap_or("$ROOT/home/work")
            .replace("$ROOT", &root.display().to_string());
        let home_text = home.display().to_string();
        let extra: Vec<(String, String)> =
            case.env.iter().map(|(k, v)| (k.clone(), expand(v, &root))).collect();
        let mut env = vec![
            ("HOME", Some(home_text.as_str())),
            ("AECL_STATE_DIR", None),
            ("XDG_STATE_HOME", None),
            ("SOMEWHERE", None),
            ("X", None),
            ("CDPATH", None),
            ("CLAUDE_CONFIG_DIR", None),
            ("CODEX_HOME", None),
            ("CLAUDE_PROJECT_DIR", None),
        ];
        env.retain(|(name, _)| !case.env.contains_key(*name));
        env.extend(extra.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))));
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
        let agent = case.agent.as_deref().unwrap_or("claude-code");
        let args = ["hook", agent, "--policy", &policy, "--agent", "dev"];
        let out = run_with_stdin_env(args, &input(case, &root, &cwd), &env);
        let (got, reason) = answer(agent, &out);
        let by_guard = reason.contains(case.reason.as_deref().unwrap_or("hook state directory"));
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

/// Started by a bare name (settings that say `aecl hook ...`), the hook is whatever `aecl`
/// `PATH` finds first: a program of that name written into a directory before its own
/// (an activated `.venv/bin`) would be run as the hook next time (red team round 20, hooks
/// HK3). Other names there stay the agent's to write.
#[test]
fn a_program_named_like_the_hook_or_a_later_program_earlier_on_path_is_refused() {
    use std::os::unix::process::CommandExt;
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().canonicalize().unwrap();
    let home = root.join("home");
    let work = home.join("work");
    let venv = work.join(".venv/bin");
    std::fs::create_dir_all(&venv).unwrap();
    std::fs::create_dir_all(home.join(".local/state/aecl/hooks")).unwrap();
    let policy = policy(&root, "policy");
    let own = Path::new(env!("CARGO_BIN_EXE_aecl")).parent().unwrap();
    // `later` does not exist yet.
    let later = work.join("later");
    let path = format!("{}:{}:{}:/usr/bin:/bin", venv.display(), later.display(), own.display());
    let hook = |tool: &str, tool_input: Value| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_aecl"));
        command
            .arg0("aecl")
            .args(["hook", "claude-code", "--policy", &policy, "--agent", "dev"])
            .env("HOME", &home)
            .env("PATH", &path)
            .env_remove("AECL_STATE_DIR")
            .env_remove("XDG_STATE_HOME");
        let input = json!({
            "session_id": "shadow", "cwd": work, "hook_event_name": "PreToolUse",
            "tool_name": tool, "tool_input": tool_input, "tool_use_id": "toolu_1",
        });
        let out = crate::output_with_stdin(command, input.to_string());
        answer("claude-code", &out)
    };
    for (tool, input) in [
        ("Bash", json!({"command": "cp /bin/sh .venv/bin/aecl"})),
        ("Bash", json!({"command": "ln -s /bin/sh .venv/bin/aecl"})),
        ("Write", json!({"file_path": venv.join("aecl"), "content": "#!/bin/sh\n"})),
    ] {
        let (got, reason) = hook(tool, input.clone());
        assert_eq!(got, "deny", "{input}: {reason}");
        assert!(reason.contains(".venv/bin/aecl"), "{reason}");
    }
    // Any program a later PATH directory holds, likewise (second pass, N2: an allowed
    // `git` then ran the agent's file).
    for (tool, input) in [
        ("Bash", json!({"command": "cp /usr/bin/gunzip .venv/bin/git"})),
        ("Write", json!({"file_path": venv.join("git"), "content": "#!/bin/sh\n"})),
        ("Bash", json!({"command": "ln -s /tmp/x .venv/bin/ls"})),
    ] {
        let (got, reason) = hook(tool, input.clone());
        assert_eq!(got, "deny", "{input}: {reason}");
        assert!(reason.contains("PATH"), "{reason}");
    }
    // A PATH directory made or replaced whole holds whatever is moved there (second pass,
    // N3); the git the hook itself runs, and the system's places before it (N1).
    for (tool, input, named) in [
        ("Bash", json!({"command": "mv evil later"}), "PATH"),
        ("Bash", json!({"command": "ln -s /tmp/evil later"}), "PATH"),
        ("Bash", json!({"command": "cp -r evil later"}), "PATH"),
        (
            "Bash",
            json!({"command": "cp /bin/true /usr/local/sbin/git"}),
            "the git aecl's hook runs",
        ),
        ("Write", json!({"file_path": "/usr/local/bin/git", "content": "#!/bin/sh\n"}), "the git"),
    ] {
        let (got, reason) = hook(tool, input.clone());
        assert_eq!(got, "deny", "{input}: {reason}");
        assert!(reason.contains(named), "{input}: {reason}");
    }
    for (tool, input) in [
        ("Bash", json!({"command": "cp /bin/ls .venv/bin/my-ls"})),
        ("Write", json!({"file_path": venv.join("activate"), "content": "x\n"})),
        ("Bash", json!({"command": "rm -rf .venv/lib && mkdir -p .venv/lib"})),
    ] {
        let (got, reason) = hook(tool, input.clone());
        assert_eq!(got, "allow", "{input}: {reason}");
    }
}
