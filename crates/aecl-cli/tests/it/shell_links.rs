//! Shell write targets through symbolic links (issue #19): the corpus
//! `test_data/shell_links/*.toml` (see its README), each case a `Bash` call with real links
//! in a temporary directory, decided by `aecl hook claude-code --policy`, which resolves the
//! command's write targets from the hook input's `cwd`. Also the end-to-end case: with
//! `ws/out -> outside`, `echo x > out/f` really lands outside when run by a plain shell,
//! and aecl refuses it through the hook and through the shell connector of `aecl serve`,
//! and nothing is written.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::paths::{corpus, decision, expand, make_layout};
use crate::{run_with_stdin, write};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    layout: Vec<String>,
    cwd: Option<String>,
    command: String,
    expect: String,
    why: String,
}

/// `Bash` may write under `$ROOT/ws` only; served, it runs through the `sandbox` shell
/// connector (whose relative paths start at the first write path).
fn write_policy(dir: &Path, root: &Path) -> String {
    let catalog = format!(
        r#"[actions.Bash]
description = "A shell command."
effect = "exec"
reversibility = "irreversible"
connector = "sandbox"

[actions.Bash.approval]
waive_irreversible = "the shell rules judge what programs can do"

[actions.Bash.schema]
type = "object"
required = ["command"]
properties = {{ command = {{ type = "string" }} }}

[actions.Bash.args.command]
control = true

[actions.Bash.args.command.shell]
write_paths = ["{ws}"]
"#,
        ws = root.join("ws").display()
    );
    write(dir, "policy/catalog.toml", &catalog);
    write(dir, "policy/policy.toml", "mode = \"enforce\"\n");
    write(dir, "policy/agents/dev.toml", "agent_id = \"dev\"\nallowed_actions = [\"Bash\"]\n");
    write(dir, "connectors.toml", "[connectors.sandbox]\nkind = \"shell\"\ntimeout_secs = 10\n");
    dir.join("policy").display().to_string()
}

fn hook_input(command: &str, cwd: &str) -> String {
    json!({
        "session_id": "shell-links",
        "cwd": cwd,
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command},
        "tool_use_id": "toolu_links",
    })
    .to_string()
}

fn through_hook(policy: &str, command: &str, cwd: &str) -> (String, String) {
    let out = run_with_stdin(
        ["hook", "claude-code", "--policy", policy, "--agent", "dev"],
        &hook_input(command, cwd),
    );
    let (got, reason) = decision(&out.stdout);
    (got, format!("{reason} {}", out.stderr))
}

fn cases() -> Vec<(String, Case)> {
    corpus("test_data/shell_links")
}

#[test]
fn shell_link_corpus_is_decided_where_the_writes_land() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} shell link cases", cases.len());
    let denied = cases.iter().filter(|(_, c)| c.expect == "deny").count();
    assert!(denied >= 40, "only {denied} cases that must be denied");
    let mut failures = Vec::new();
    for (file, case) in &cases {
        assert!(
            ["allow", "ask", "deny"].contains(&case.expect.as_str()) && !case.why.is_empty(),
            "{file}: {}: expect must be allow, ask or deny, with a why",
            case.name
        );
        let temp = tempfile::tempdir().unwrap();
        // Canonical: the temporary directory itself must not sit behind a link.
        let root = temp.path().canonicalize().unwrap();
        make_layout(&root, &case.layout);
        let policy = write_policy(&root.join("policy"), &root);
        let cwd = expand(case.cwd.as_deref().unwrap_or("$ROOT/ws"), &root);
        let (got, reason) = through_hook(&policy, &expand(&case.command, &root), &cwd);
        if got != case.expect {
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

#[test]
fn a_redirection_through_a_link_lands_outside_unguarded_and_aecl_refuses_it() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().canonicalize().unwrap();
    make_layout(&root, &["link ws/out -> $ROOT/outside".to_owned()]);
    let policy = write_policy(&root.join("policy"), &root);
    let ws = root.join("ws");
    let landed = root.join("outside/f");

    // Unguarded, the write lands outside the workspace.
    let status = Command::new("sh")
        .args(["-c", "echo x > out/f"])
        .current_dir(&ws)
        .status()
        .expect("running sh");
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&landed).unwrap(), "x\n", "the link was followed");
    std::fs::remove_file(&landed).unwrap();

    let cwd = ws.display().to_string();
    for command in ["echo x > out/f", "cd out && echo x > f", "echo x | tee out/f"] {
        let (got, reason) = through_hook(&policy, command, &cwd);
        assert_eq!(got, "deny", "`{command}`: {reason}");
        assert!(reason.contains("symbolic link"), "`{command}`: {reason}");
    }
    let (got, reason) = through_hook(&policy, "echo x > in.txt", &cwd);
    assert_eq!(got, "allow", "a write inside: {reason}");
    assert!(!landed.exists(), "nothing was written outside");

    // Through the shell connector of `aecl serve`: the engine resolves the targets from the
    // connector's working directory (the first write path) before deciding.
    use crate::serve::{issue, keys, serve};
    let dir = root.join("server");
    std::fs::create_dir_all(&dir).unwrap();
    keys(&dir);
    let agent = issue(&dir, &["--agent", "dev", "--policy", &policy]);
    let connectors = root.join("policy/connectors.toml").display().to_string();
    let (_server, address) = serve(&dir, &policy, &["--connectors", &connectors]);
    for (id, command) in [
        ("links-1", format!("echo x > {}/out/f", ws.display())),
        ("links-2", "echo x > out/f".to_owned()),
        ("links-3", format!("cd {} && cd out && echo x > f", ws.display())),
    ] {
        let call =
            json!({"run": "links", "id": id, "action": "Bash", "args": {"command": command}});
        let (status, answer) = crate::rollback::http(&address, "/v1/execute", &agent, &[], &call);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["decision"], "block", "`{command}`: {answer}");
        let reasons = answer["reasons"].to_string();
        assert!(reasons.contains("symbolic link"), "`{command}`: {reasons}");
        assert!(answer.get("effect").is_none_or(Value::is_null), "nothing ran: {answer}");
    }
    assert!(!landed.exists(), "nothing was written outside");
}
