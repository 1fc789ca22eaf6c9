//! Codex's unified exec tools through the hook: `exec_command`'s other ways of naming
//! what runs (`kind`, `script_body`, `program` and `args`, `shell`) are judged as `cmd`
//! is (red team round 27, hooks K3), and `write_stdin` types into a program
//! `exec_command` started: what it types is judged as a command line under the shell
//! rules of the shell tool, so that an allowed `git log` cannot be followed by a pager's
//! `!cmd` (red team round 26, hooks M4).

use std::path::Path;

use serde_json::{Value, json};

use crate::{Outcome, run_with_stdin, temp_dir};

const CATALOG: &str = r#"
[actions.exec_command]
description = "Codex's unified exec: starts a program."
effect = "exec"
reversibility = "none"

[actions.exec_command.args.cmd]
control = true

[actions.exec_command.args.cmd.shell]
allow_programs = ["git", "ls", "cat"]
unlisted = "block"
write_paths = ["/tmp/aecl-keystrokes-project"]

[actions.write_stdin]
description = "Codex's unified exec: types into a program exec_command started."
effect = "exec"
reversibility = "none"

"#;

fn policy(dir: &Path) {
    std::fs::create_dir_all(dir.join("agents")).unwrap();
    std::fs::write(dir.join("catalog.toml"), CATALOG).unwrap();
    std::fs::write(dir.join("policy.toml"), "mode = \"enforce\"\n").unwrap();
    std::fs::write(
        dir.join("agents/codex.toml"),
        "agent_id = \"codex_agent\"\nallowed_actions = [\"exec_command\", \"write_stdin\"]\n",
    )
    .unwrap();
}

fn hook(root: &Path, tool: &str, input: Value, id: &str) -> Outcome {
    let policy = root.join("policy").display().to_string();
    let state = root.join("state").display().to_string();
    let event = json!({
        "session_id": "k1", "turn_id": "1", "cwd": root.display().to_string(),
        "hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": input,
        "tool_use_id": id,
    });
    let args = ["hook", "codex", "--policy", &policy, "--agent", "codex_agent"];
    let args = args.into_iter().chain(["--state-dir", &state]);
    run_with_stdin(args, &event.to_string())
}

#[test]
fn keystrokes_into_a_started_program_are_judged_as_command_lines() {
    let root = temp_dir();
    policy(&root.path().join("policy"));
    let started = hook(root.path(), "exec_command", json!({"cmd": "git log", "tty": true}), "c1");
    assert_eq!(started.code, Some(0), "{started:#?}");
    assert!(started.stdout.trim().is_empty(), "allowed: {started:#?}");

    // A pager's `!cmd`, and a redirection typed into a shell.
    for (i, chars) in
        ["!touch /etc/pwned\n", "echo {} > .claude/settings.local.json\n"].into_iter().enumerate()
    {
        let typed = hook(
            root.path(),
            "write_stdin",
            json!({"session_id": 1, "chars": chars}),
            &format!("w{i}"),
        );
        assert_eq!(typed.code, Some(2), "{chars:?} is denied: {typed:#?}");
        assert!(
            typed.stderr.contains("`write_stdin` block: arguments.shell"),
            "the reason is the shell rule's: {typed:#?}"
        );
    }
    // Polling for output types nothing; a line the shell rules allow may be typed.
    for (i, chars) in ["", "git status\n"].into_iter().enumerate() {
        let typed = hook(
            root.path(),
            "write_stdin",
            json!({"session_id": 1, "chars": chars}),
            &format!("p{i}"),
        );
        assert_eq!(typed.code, Some(0), "{chars:?} is allowed: {typed:#?}");
    }
}

#[test]
fn every_field_that_names_what_exec_command_runs_is_judged() {
    let root = temp_dir();
    policy(&root.path().join("policy"));
    let denied = [
        json!({"kind": "script", "script_body": "touch /etc/pwned"}),
        json!({"cmd": "git status", "script_body": "touch /etc/pwned"}),
        json!({"kind": "argv", "program": "touch", "args": ["/etc/pwned"]}),
        json!({"kind": "argv", "program": "git", "args": ["-c", "core.pager=touch /x", "log"]}),
        json!({"cmd": "git status", "kind": "argv", "program": "touch", "args": ["/x"]}),
        json!({"cmd": "import os; os.system('id')", "shell": "python3"}),
        json!({"cmd": "git status", "shell": "/tmp/evil/bash"}),
        json!({"kind": "powershell_script", "script_body": "Remove-Item -Recurse ~"}),
    ];
    for (i, input) in denied.into_iter().enumerate() {
        let out = hook(root.path(), "exec_command", input.clone(), &format!("d{i}"));
        assert_eq!(out.code, Some(2), "{input} is denied: {out:#?}");
        assert!(out.stderr.contains("exec_command"), "{out:#?}");
    }
    let allowed = [
        json!({"kind": "script", "script_body": "git status"}),
        json!({"kind": "argv", "program": "ls", "args": ["-la", "src"]}),
        json!({"cmd": "git log --oneline", "shell": "/bin/bash", "login": true, "tty": false}),
    ];
    for (i, input) in allowed.into_iter().enumerate() {
        let out = hook(root.path(), "exec_command", input.clone(), &format!("a{i}"));
        assert_eq!(out.code, Some(0), "{input} is allowed: {out:#?}");
        assert!(out.stdout.trim().is_empty(), "{input} is allowed: {out:#?}");
    }
}
