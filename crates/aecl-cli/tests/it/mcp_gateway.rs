//! `aecl mcp --config gateway.toml`: several MCP servers behind one gateway, their tools
//! named `SERVER__TOOL`. The acceptance test runs a server from npm and one from PyPI
//! behind one authenticated `--listen` gateway, driven by the Python and TypeScript SDK
//! clients; the others check each session's own processes (started lazily, ended at
//! `DELETE`, when idle and at shutdown, never left a zombie), names that could pass for
//! another server's tool, secrets kept from the servers that do not name them, and errors
//! in the file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mcp::{Running, Setup, client_report, npm_bin, python, spawn_listening, tool_names};
use crate::mcp_auth::{INITIALIZE, children, exchange};
use crate::mcp_servers::ts_client_command;
use crate::repo;

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}"#;

/// `aecl mcp` over the setup's policy and store with the gateway file `config`, and
/// `extra` options.
fn gateway(setup: &Setup, run_id: &str, config: &Path, extra: &[String]) -> Command {
    let path = |p: &str| setup.path().join(p).display().to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_aecl"));
    command
        .args(["mcp", "--policy", &path("policy"), "--db", &path("aecl.db")])
        .args(["--key", &path("audit/audit.key"), "--run", run_id, "--config"])
        .arg(config)
        .args(extra);
    command
}

/// The gateway listening on a free port, with the setup's token key.
fn listening(setup: &Setup, run_id: &str, config: &Path, extra: &[&str]) -> (Running, String) {
    let mut extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    extra.extend(setup.listen_args());
    spawn_listening(gateway(setup, run_id, config, &extra))
}

/// Writes the gateway file `text` into the setup's directory.
fn write_config(setup: &Setup, text: &str) -> PathBuf {
    let path = setup.path().join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The filesystem server from npm and the time server from PyPI.
fn two_registries(setup: &Setup) -> String {
    format!(
        "[servers.fs]\ncommand = {:?}\nargs = [{:?}]\n\n[servers.time]\ncommand = {:?}\nargs = [\"--local-timezone\", \"UTC\"]\n",
        npm_bin("mcp-server-filesystem"),
        setup.root().display().to_string(),
        repo("crates/aecl-mcp/tests/.venv/bin/mcp-server-time").display().to_string(),
    )
}

/// The gateway's child processes' pids.
fn child_pids(gateway: &Running) -> BTreeSet<String> {
    children(gateway.0.id()).into_iter().map(|(pid, _)| pid).collect()
}

/// Whether process `pid` exists at all (a zombie does).
fn exists(pid: &str) -> bool {
    Path::new("/proc").join(pid).exists()
}

/// Waits up to `limit` for `done`.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// Opens a session with `token` and lists its tools: the session's id and the list's body.
fn open_and_list(url: &str, token: &str) -> (String, String) {
    let (status, head, _) = exchange(url, "POST", Some(token), None, INITIALIZE);
    assert_eq!(status, 200, "{head}");
    let session = head
        .lines()
        .find_map(|l| l.strip_prefix("mcp-session-id:"))
        .map(|s| s.trim().to_owned())
        .expect("a session id");
    let (status, head, _) = exchange(url, "POST", Some(token), Some(&session), INITIALIZED);
    assert_eq!(status, 202, "{head}");
    let (status, head, body) = exchange(url, "POST", Some(token), Some(&session), LIST);
    assert_eq!(status, 200, "{head}");
    (session, body)
}

/// What an SDK client wrote to standard error that a user would read as a problem.
fn complaints(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| {
            let line = line.to_ascii_lowercase();
            ["warn", "error", "fail", "traceback"].iter().any(|word| line.contains(word))
        })
        .collect()
}

/// The issue's acceptance: one gateway runs the filesystem server (npm) and the time
/// server (PyPI); the Python SDK client and the TypeScript SDK client (a session, and a
/// sessionless 2026-07-28 client) list the tools of both, only those the agent may call,
/// named `SERVER__TOOL`, and call one of each; an unauthenticated client is refused; the
/// sessions close with no warning, their processes gone; at shutdown nothing is left.
#[test]
fn one_gateway_serves_an_npm_and_a_pypi_server_to_both_sdks() {
    let setup = Setup::new();
    let config = write_config(&setup, &two_registries(&setup));
    let policy = setup.path().join("policy");
    let token = setup.token("notes_agent", &policy);
    let (mut gateway, url) = listening(&setup, "run-two", &config, &[]);
    // Lazily: nothing runs before a session asks.
    assert!(child_pids(&gateway).is_empty(), "{:?}", children(gateway.0.id()));

    // Unauthenticated: refused before anything starts.
    let (status, head, _) = exchange(&url, "POST", None, None, INITIALIZE);
    assert_eq!(status, 401, "{head}");
    assert!(head.contains("www-authenticate: bearer "), "{head}");
    assert!(child_pids(&gateway).is_empty());

    let notes = setup.root().join("notes.txt");
    let plan = json!([
        {"tool": "fs__read_text_file", "arguments": {"path": notes}},
        {"tool": "time__get_current_time", "arguments": {"timezone": "Europe/Paris"}},
        {"tool": "time__convert_time", "arguments": {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}},
        {"tool": "fs__write_file", "arguments": {"path": setup.root().join("x"), "content": "x"}},
    ]);
    let check = |client: &str, report: &Value| {
        let mut listed = tool_names(report);
        listed.sort_unstable();
        assert_eq!(
            listed,
            [
                "fs__create_directory",
                "fs__list_directory",
                "fs__read_text_file",
                "time__get_current_time"
            ],
            "{client}: {report}"
        );
        let calls = &report["calls"];
        assert_eq!(calls[0]["isError"], false, "{client}: {report}");
        assert!(calls[0]["text"].as_str().unwrap().contains("ship on friday"), "{report}");
        assert_eq!(calls[1]["isError"], false, "{client}: {report}");
        assert!(calls[1]["text"].as_str().unwrap().contains("Europe/Paris"), "{report}");
        assert_eq!(calls[2]["isError"], true, "{client}: {report}");
        let refusal = calls[2]["text"].as_str().unwrap();
        assert!(refusal.contains("aecl blocked `time__convert_time`"), "{refusal}");
        assert!(
            calls[3]["text"].as_str().unwrap().contains("manifest.blocked_actions"),
            "{report}"
        );
    };

    // The Python SDK: without its token refused, with it served; closes without a warning.
    let script = repo("crates/aecl-mcp/tests/clients/python_client.py");
    let python_client = |token: Option<&str>| {
        let mut command = Command::new(python());
        command.arg(&script).arg("legacy").arg(plan.to_string()).arg(&url);
        command.env_remove("AECL_MCP_TOKEN");
        if let Some(token) = token {
            command.env("AECL_MCP_TOKEN", token);
        }
        command.output().unwrap()
    };
    let out = python_client(None);
    assert!(!out.status.success(), "served: {}", String::from_utf8_lossy(&out.stdout));
    let before = child_pids(&gateway);
    let out = python_client(Some(&token));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = client_report(Ok(out));
    check("python", &report);
    assert!(complaints(&stderr).is_empty(), "the Python SDK complained: {stderr}");
    // Its session's two servers ended with it: no child left, not even a zombie.
    assert_eq!(child_pids(&gateway), before, "{:?}", children(gateway.0.id()));

    // The TypeScript SDK: a session (2025-11-25), then a sessionless 2026-07-28 client.
    for (mode, protocol) in [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")] {
        let mut client = ts_client_command(mode, &plan, std::slice::from_ref(&url));
        let out = client.env("AECL_MCP_TOKEN", &token).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let report = client_report(Ok(out));
        assert_eq!(report["protocol"], protocol, "{report}");
        check(mode, &report);
        assert!(complaints(&stderr).is_empty(), "the TypeScript SDK complained: {stderr}");
        let mut refused = ts_client_command(mode, &json!([]), std::slice::from_ref(&url));
        assert!(!refused.env_remove("AECL_MCP_TOKEN").output().unwrap().status.success());
    }
    // The sessionless client's servers are its agent's, kept for its next request.
    let kept = child_pids(&gateway);
    assert_eq!(kept.len(), 2, "{:?}", children(gateway.0.id()));

    // Shutdown (SIGTERM) ends them too.
    let pid = gateway.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exited = eventually(Duration::from_secs(20), || gateway.0.try_wait().unwrap().is_some());
    assert!(exited, "the gateway did not stop at SIGTERM");
    let left: Vec<&String> = kept.iter().filter(|pid| exists(pid)).collect();
    assert!(left.is_empty(), "server processes outlived the gateway: {left:?}");
    drop(gateway);
    // Every call was the agent's run, decided and recorded under its catalog action.
    let history = setup.history("run-two:notes_agent");
    assert_eq!(history.iter().filter(|e| e["type"] == "result").count(), 6, "{history:#?}");
}

/// Each session gets its own process of a `per-session` server, started at its first
/// list, and ended (reaped) before its `DELETE` is answered 204 or once it has been idle
/// too long; a `shared` server is one process for every session, ended at shutdown.
#[test]
fn sessions_own_their_processes_until_delete_idle_or_shutdown() {
    let setup = Setup::new();
    let fs = npm_bin("mcp-server-filesystem");
    let root = setup.root().display().to_string();
    let config = write_config(
        &setup,
        &format!(
            "[servers.fs]\ncommand = {fs:?}\nargs = [{root:?}]\n\n\
             [servers.shared]\ncommand = {fs:?}\nargs = [{root:?}]\nprefix = \"fs2__\"\nsessions = \"shared\"\n"
        ),
    );
    let token = setup.token("notes_agent", &setup.path().join("policy"));
    let (gateway, url) = listening(&setup, "run-life", &config, &["--session-idle-timeout", "6"]);
    let (first, listed) = open_and_list(&url, &token);
    assert!(listed.contains("fs__read_text_file"), "{listed}");
    let after_first = child_pids(&gateway);
    assert_eq!(after_first.len(), 2, "its own and the shared one: {after_first:?}");
    let (second, _) = open_and_list(&url, &token);
    let after_second = child_pids(&gateway);
    assert_eq!(after_second.len(), 3, "a second own one, the same shared one: {after_second:?}");
    let seconds: Vec<&String> = after_second.difference(&after_first).collect();

    // DELETE: its own process is gone (not a zombie) when 204 is answered.
    let (status, head, _) = exchange(&url, "DELETE", Some(&token), Some(&first), "");
    assert_eq!(status, 204, "{head}");
    let now = child_pids(&gateway);
    assert_eq!(now.len(), 2, "{:?}", children(gateway.0.id()));
    assert!(after_first.iter().filter(|pid| !now.contains(*pid)).all(|pid| !exists(pid)));
    let (status, _, _) = exchange(&url, "DELETE", Some(&token), Some(&first), "");
    assert_eq!(status, 404, "closed twice");

    // Idle: the second session is closed, and its own process ended.
    let idle = eventually(Duration::from_secs(15), || seconds.iter().all(|pid| !exists(pid)));
    assert!(idle, "the idle session's process is still there: {:?}", children(gateway.0.id()));
    let (status, head, _) = exchange(&url, "POST", Some(&token), Some(&second), LIST);
    assert_eq!(status, 404, "an idle-closed session is not open: {head}");
    let shared = child_pids(&gateway);
    assert_eq!(shared.len(), 1, "the shared one stays: {:?}", children(gateway.0.id()));

    // Shutdown (SIGINT) ends the shared one.
    let mut gateway = gateway;
    let pid = gateway.0.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    assert!(eventually(Duration::from_secs(20), || gateway.0.try_wait().unwrap().is_some()));
    assert!(shared.iter().all(|pid| !exists(pid)), "{shared:?} outlived the gateway");
}

/// A server that advertises `other__delete` does not get it shown or called as server
/// `other`'s tool, nor under its own prefix; nor a name with a look-alike letter or a
/// space. The real `other__delete` is server `other`'s, and the run records only it.
#[test]
fn a_tool_named_like_another_servers_is_never_listed_or_called() {
    let setup = Setup::new();
    let policy = setup.path().join("policy");
    std::fs::write(
        policy.join("naming.toml"),
        r#"[actions.echo__echo]
description = "Echo."
effect = "read"
[actions."echo__other__delete"]
description = "Allowed here, so that only the naming stops it."
effect = "read"
[actions.other__delete]
description = "Server other's tool."
effect = "read"
"#,
    )
    .unwrap();
    std::fs::write(
        policy.join("agents/naming.toml"),
        "agent_id = \"naming_agent\"\nallowed_actions = [\"echo__echo\", \"echo__other__delete\", \"other__delete\"]\n",
    )
    .unwrap();
    let script = repo("crates/aecl-mcp/tests/servers/echo_server.py").display().to_string();
    let config = write_config(
        &setup,
        &format!(
            "[servers.echo]\ncommand = {:?}\nargs = [{script:?}, \"echoes\", \"other__delete\", \"rеad\", \"bad name\"]\n\n\
             [servers.other]\ncommand = {:?}\nargs = [{script:?}, \"deletes\", \"delete\"]\n",
            python(),
            python()
        ),
    );
    let plan = json!([
        {"tool": "echo__other__delete", "arguments": {"text": "as echo"}},
        {"tool": "other__delete", "arguments": {"text": "as other"}},
        {"tool": "echo__rеad", "arguments": {"text": "look-alike"}},
        {"tool": "echo__echo", "arguments": {"text": "plain"}},
    ]);
    let mut line =
        gateway(&setup, "run-names", &config, &["--agent".into(), "naming_agent".into()]);
    let program = line.get_program().to_owned();
    let args: Vec<String> = line.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    line = Command::new(python());
    line.arg(repo("crates/aecl-mcp/tests/clients/python_client.py"))
        .args(["legacy", &plan.to_string(), "--"])
        .arg(program)
        .args(args);
    let report = client_report(line.output());
    let mut listed = tool_names(&report);
    listed.sort_unstable();
    assert_eq!(listed, ["echo__echo", "other__delete"], "{report}");
    let calls = &report["calls"];
    for (index, name) in [(0, "echo__other__delete"), (2, "echo__rеad")] {
        assert_eq!(calls[index]["isError"], true, "{report}");
        let text = calls[index]["text"].as_str().unwrap();
        assert!(
            text.contains(&format!("no MCP server behind this gateway has a tool `{name}`")),
            "{text}"
        );
    }
    assert_eq!(calls[1]["isError"], false, "{report}");
    assert!(calls[1]["text"].as_str().unwrap().contains("as other"), "{report}");
    assert_eq!(calls[3]["isError"], false, "{report}");
    let history = setup.history("run-names");
    let actions: Vec<&str> = history
        .iter()
        .filter(|e| e["type"] == "call")
        .filter_map(|e| e["call"]["action"].as_str())
        .collect();
    assert_eq!(actions, ["other__delete", "echo__echo"], "{history:#?}");
}

/// A server's environment: its own `env` (a secret from the gateway's environment under
/// the name it gives), the gateway's environment otherwise, but never a variable that
/// holds another server's secret.
#[test]
fn a_servers_secret_reaches_that_server_only() {
    let setup = Setup::new();
    let policy = setup.path().join("policy");
    std::fs::write(
        policy.join("everything.toml"),
        "[actions.ev__get-env]\ndescription = \"Env.\"\neffect = \"read\"\n\
         [actions.ev2__get-env]\ndescription = \"Env.\"\neffect = \"read\"\n",
    )
    .unwrap();
    std::fs::write(
        policy.join("agents/env.toml"),
        "agent_id = \"env_agent\"\nallowed_actions = [\"ev__get-env\", \"ev2__get-env\"]\n",
    )
    .unwrap();
    let everything = npm_bin("mcp-server-everything");
    let config = write_config(
        &setup,
        &format!(
            "[servers.ev]\ncommand = {everything:?}\nenv = {{ EV_CONFIG = {{ env = \"GW_EV_SECRET\" }}, EV_MODE = \"test\" }}\n\n\
             [servers.ev2]\ncommand = {everything:?}\n"
        ),
    );
    let plan = json!([
        {"tool": "ev__get-env", "arguments": {}},
        {"tool": "ev2__get-env", "arguments": {}},
    ]);
    let mut line = gateway(&setup, "run-env", &config, &["--agent".into(), "env_agent".into()]);
    let args: Vec<String> = line.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    // The SDK starts the gateway with a reduced environment: `env` gives it the variables.
    line = Command::new(python());
    line.arg(repo("crates/aecl-mcp/tests/clients/python_client.py"))
        .args(["legacy", &plan.to_string(), "--", "/usr/bin/env"])
        .args(["GW_EV_SECRET=ev-secret-81c2", "GW_PLAIN=plain-value", env!("CARGO_BIN_EXE_aecl")])
        .args(args);
    let report = client_report(line.output());
    let ev = report["calls"][0]["text"].as_str().unwrap_or_default();
    let ev2 = report["calls"][1]["text"].as_str().unwrap_or_default();
    assert!(ev.contains("EV_CONFIG") && ev.contains("ev-secret-81c2"), "{report}");
    assert!(ev.contains("EV_MODE") && ev.contains("plain-value"), "{report}");
    assert!(!ev.contains("GW_EV_SECRET"), "the secret's variable reached ev: {ev}");
    assert!(!ev2.contains("ev-secret-81c2") && !ev2.contains("EV_CONFIG"), "{ev2}");
    assert!(ev2.contains("GW_PLAIN"), "ev2 lost the gateway's environment: {ev2}");
}

/// Errors in the gateway file name the file, the line and the field; a secret that is
/// not set is named by its reference, and nothing starts.
#[test]
fn errors_in_the_gateway_file_name_the_file_line_and_field() {
    let setup = Setup::new();
    let cases = [
        (
            "[servers.fs]\ncommand = \"x\"\nsessions = \"pooled\"\n",
            ":3: servers.fs.sessions: `pooled`",
        ),
        (
            "[servers.fs]\ncommand = \"x\"\nenv = { GH_TOKEN = \"ghp_inline\" }\n",
            ":3: servers.fs.env.GH_TOKEN: looks like a secret",
        ),
        (
            "[servers.w]\nurl = \"https://a.example/mcp\"\nheaders = { Authorization = { env = \"AECL_TEST_UNSET_VAR\" } }\n",
            ":1: servers.w.headers.Authorization: the variable `AECL_TEST_UNSET_VAR` is not set",
        ),
        ("[servers.a__b]\ncommand = \"x\"\n", ":1: servers.a__b: a server's name"),
    ];
    for (text, expected) in cases {
        let config = write_config(&setup, text);
        let out = gateway(&setup, "run-bad", &config, &["--agent".into(), "notes_agent".into()])
            .env_remove("AECL_TEST_UNSET_VAR")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text}");
        let expected = format!("{}{expected}", config.display());
        assert!(stderr.contains(&expected), "`{stderr}` lacks `{expected}`");
        assert!(!stderr.contains("ghp_inline"), "{stderr}");
    }
    // The file replaces `--` and `--action-prefix`.
    let config = write_config(&setup, &two_registries(&setup));
    let out = gateway(&setup, "run-bad", &config, &["--action-prefix".into(), "x".into()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--action-prefix"), "{out:?}");
}
