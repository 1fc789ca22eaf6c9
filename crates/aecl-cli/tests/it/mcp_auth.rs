//! `aecl mcp --listen` in front of its clients: agent tokens in `Authorization: Bearer`
//! (the agent is the token's subject), 401 with the MCP authorization spec's challenge
//! otherwise, sessions bound to the agent that opened them, and session termination with
//! the spec's status codes (204, then 404), with no zombie left behind.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::mcp::{Setup, client_report, python, spawn_listening, tool_names};
use crate::repo;

/// One raw HTTP exchange with the gateway at `url`: the status, the head (lower-cased) and
/// the body.
pub(crate) fn exchange(
    url: &str,
    method: &str,
    token: Option<&str>,
    session: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut stream = TcpStream::connect(address).expect("connecting to the gateway");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let session = session.map(|s| format!("Mcp-Session-Id: {s}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} /mcp HTTP/1.1\r\nHost: {address}\r\n{auth}{session}Accept: application/json, text/event-stream\r\n\
         Content-Type: application/json\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    // A stream left open ends the read by its timeout: what came so far is the answer.
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// The gateway's refusal records (its store is `aecl.db` in the setup's directory).
fn refusals(setup: &Setup) -> Vec<serde_json::Value> {
    let db = setup.path().join("aecl.db").display().to_string();
    let out = crate::run(["audit", "tail", "--db", &db, "--json"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let records = out.stdout.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap());
    records.filter(|r| r["kind"] == "refusal").collect()
}

/// The session id a response head (lower-cased) opens.
fn session_of(head: &str) -> String {
    head.lines()
        .find_map(|l| l.strip_prefix("mcp-session-id:"))
        .expect("a session")
        .trim()
        .to_owned()
}

pub(crate) const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
const LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}"#;

/// The setup's policy with a second agent, and a policy directory beside it with a third
/// agent the gateway's policy does not know (its tokens are signed by the same key).
fn agents(setup: &Setup) -> std::path::PathBuf {
    let policy = setup.path().join("policy");
    std::fs::write(
        policy.join("agents/other.toml"),
        "agent_id = \"other_agent\"\nallowed_actions = [\"fs__list_directory\"]\n",
    )
    .unwrap();
    let ghost = setup.path().join("ghost-policy");
    std::fs::create_dir_all(ghost.join("agents")).unwrap();
    for file in ["policy.toml", "catalog.toml"] {
        std::fs::copy(policy.join(file), ghost.join(file)).unwrap();
    }
    std::fs::write(
        ghost.join("agents/ghost.toml"),
        "agent_id = \"ghost\"\nallowed_actions = [\"fs__read_text_file\"]\n",
    )
    .unwrap();
    ghost
}

/// The gateway for the setup's policy over `--listen`, with no `--agent`: each client's
/// token says who it is.
fn gateway(setup: &Setup, run_id: &str) -> (crate::mcp::Running, String) {
    let line = setup.gateway(run_id, &setup.filesystem_server());
    let agent = line.iter().position(|a| a == "--agent").expect("--agent");
    let mut line: Vec<String> = line
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != agent && *i != agent + 1)
        .map(|(_, a)| a.clone())
        .collect();
    let separator = line.iter().position(|a| a == "--").expect("a gateway command line");
    line.splice(separator..separator, setup.listen_args());
    let mut command = Command::new(line.remove(0));
    command.args(&line);
    spawn_listening(command)
}

/// The gateway's child processes and their states (from `/proc`).
pub(crate) fn children(pid: u32) -> Vec<(String, char)> {
    let mut found = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return found };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // `PID (COMM) STATE ...`: the state follows the last `)`.
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim().chars().next());
            found.push((child.to_owned(), state.unwrap_or('?')));
        }
    }
    found
}

/// Without a valid agent token of a known agent, nothing is served: 401 with a `Bearer`
/// challenge naming the protected-resource metadata, which is served. With one, the
/// Python SDK client lists and calls as the token's agent, and closes its session with
/// no warning; no child of the gateway is left a zombie.
#[test]
fn listen_serves_agent_tokens_only() {
    let setup = Setup::new();
    let ghost_policy = agents(&setup);
    let policy = setup.path().join("policy");
    let notes = setup.token("notes_agent", &policy);
    let ghost = setup.token("ghost", &ghost_policy);
    let approver = crate::serve::issue(setup.path(), &["--approver", "ann"]);
    let (gateway, url) = gateway(&setup, "run-auth");

    // One character of the signature changed (not the last, whose low bits are padding).
    let mut forged = notes.clone().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for (token, why) in [
        (None, "no Authorization header"),
        (Some(ghost.as_str()), "no manifest"),
        (Some(approver.as_str()), "an approver's token"),
        (Some(forged.as_str()), "a forged signature"),
        (Some("not-a-token"), "not an aecl token"),
    ] {
        let (status, head, _) = exchange(&url, "POST", token, None, INITIALIZE);
        assert_eq!(status, 401, "{why}: {head}");
        assert!(head.contains("www-authenticate: bearer "), "{why}: {head}");
        assert!(head.contains("resource_metadata=\"http://"), "{why}: {head}");
        assert!(!head.contains("mcp-session-id"), "{why}: a session was opened: {head}");
    }
    // Each is in the audit log as a refusal, with its status and why, never the token.
    let refusals = refusals(&setup);
    assert!(refusals.len() >= 5, "{refusals:#?}");
    assert!(refusals.iter().all(|r| r["input"]["status"] == 401), "{refusals:#?}");
    let text = serde_json::to_string(&refusals).unwrap();
    assert!(!text.contains(&forged) && !text.contains(&ghost), "a token was recorded: {text}");
    // A `Host` a rebinding page chose is never written into the challenge.
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: evil.example:80\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("resource_metadata=\"http://localhost/"), "{answer}");
    assert!(!answer.contains("evil.example"), "{answer}");
    let address = url.trim_end_matches("/mcp");
    let (status, metadata) = crate::serve::request(
        address.trim_start_matches("http://"),
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        None,
        &[],
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(metadata["resource"], format!("{url}"), "{metadata}");

    // The SDK client: refused without its token, served with it.
    let script = repo("crates/aecl-mcp/tests/clients/python_client.py");
    let root = setup.root();
    let plan = json!([{"tool": "read_text_file", "arguments": {"path": root.join("notes.txt")}}]);
    let client = |token: Option<&str>| {
        let mut command = Command::new(python());
        command.arg(&script).arg("legacy").arg(plan.to_string()).arg(&url);
        command.env_remove("AECL_MCP_TOKEN");
        if let Some(token) = token {
            command.env("AECL_MCP_TOKEN", token);
        }
        command.output().unwrap()
    };
    for token in [None, Some(ghost.as_str())] {
        let out = client(token);
        assert!(!out.status.success(), "served: {}", String::from_utf8_lossy(&out.stdout));
    }
    let out = client(Some(&notes));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("Session termination failed"), "{stderr}");
    let report = client_report(Ok(out));
    assert!(tool_names(&report).contains(&"read_text_file"), "{report}");
    assert_eq!(report["calls"][0]["isError"], false, "{report}");
    assert!(report["calls"][0]["text"].as_str().unwrap().contains("ship on friday"));
    let zombies: Vec<_> = children(gateway.0.id()).into_iter().filter(|(_, s)| *s == 'Z').collect();
    assert!(zombies.is_empty(), "zombie children: {zombies:?}");
    drop(gateway);
    // The agent's calls are its own run.
    let history = setup.history("run-auth:notes_agent");
    assert_eq!(history.iter().filter(|e| e["type"] == "result").count(), 1, "{history:#?}");
}

/// A session belongs to the agent whose token opened it: another agent's token is refused
/// in it (403), and it can close it neither. Closing answers 204, and 404 once closed or
/// for a session never opened.
#[test]
fn sessions_are_bound_to_their_agent_and_close_as_the_spec_says() {
    let setup = Setup::new();
    agents(&setup);
    let policy = setup.path().join("policy");
    let notes = setup.token("notes_agent", &policy);
    let renewed = setup.token("notes_agent", &policy);
    let other = setup.token("other_agent", &policy);
    let (gateway, url) = gateway(&setup, "run-sessions");

    let (status, head, _) = exchange(&url, "POST", Some(&notes), None, INITIALIZE);
    assert_eq!(status, 200, "{head}");
    let session = session_of(&head);
    let (status, head, _) = exchange(&url, "POST", Some(&other), Some(&session), LIST);
    assert_eq!(status, 403, "another agent in the session: {head}");
    let (status, head, _) = exchange(&url, "DELETE", Some(&other), Some(&session), "");
    assert_eq!(status, 403, "another agent closed the session: {head}");
    let (status, head, _) = exchange(&url, "DELETE", None, Some(&session), "");
    assert_eq!(status, 401, "{head}");
    let (status, head, _) = exchange(&url, "DELETE", Some(&notes), Some("no-such-session"), "");
    assert_eq!(status, 404, "{head}");
    // The same agent with a renewed token goes on in its session.
    let (status, head, _) = exchange(&url, "DELETE", Some(&renewed), Some(&session), "");
    assert_eq!(status, 204, "{head}");
    let (status, head, _) = exchange(&url, "DELETE", Some(&notes), Some(&session), "");
    assert_eq!(status, 404, "closed twice: {head}");
    let (status, head, _) = exchange(&url, "POST", Some(&notes), Some(&session), LIST);
    assert_eq!(status, 404, "used after closing: {head}");
    drop(gateway);
}

/// `--agent` with `--listen` limits the gateway to that agent: another known agent's
/// token is refused; `--listen` without `--token-key` does not start.
#[test]
fn an_asserted_agent_limits_the_gateway_and_listen_needs_a_token_key() {
    let setup = Setup::new();
    agents(&setup);
    let policy = setup.path().join("policy");
    let other = setup.token("other_agent", &policy);
    let notes = setup.token("notes_agent", &policy);
    let mut line = setup.gateway("run-only", &setup.filesystem_server());
    let separator = line.iter().position(|a| a == "--").unwrap();
    line.splice(separator..separator, setup.listen_args());
    let mut command = Command::new(line.remove(0));
    command.args(&line);
    let (gateway, url) = spawn_listening(command);
    let (status, head, _) = exchange(&url, "POST", Some(&other), None, INITIALIZE);
    assert_eq!(status, 403, "{head}");
    let (status, head, _) = exchange(&url, "POST", Some(&notes), None, INITIALIZE);
    assert_eq!(status, 200, "{head}");
    drop(gateway);

    let mut line = setup.gateway("run-nokey", &setup.filesystem_server());
    let separator = line.iter().position(|a| a == "--").unwrap();
    line.splice(separator..separator, ["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
    let out = Command::new(line.remove(0)).args(&line).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("token-key"), "{out:?}");
}

/// The gateway takes an agent token as `aecl serve` does: a token revoked while its session
/// is open is refused at its next request, and one whose lifetime is above the policy's
/// `[tokens] max_ttl` for agents is refused from the start (`Engine::check_credentials`).
#[test]
fn revoked_tokens_and_tokens_longer_lived_than_the_policy_allows_are_refused() {
    let setup = Setup::new();
    let policy = setup.path().join("policy");
    let issue_for = |ttl: &str| {
        let policy = policy.display().to_string();
        crate::serve::issue(
            setup.path(),
            &["--agent", "notes_agent", "--policy", &policy, "--ttl", ttl],
        )
    };
    let (revoked, long) = (issue_for("600"), issue_for("7200"));
    // The policy allows agents one hour, from now on: the two-hour token was issued before.
    let text = std::fs::read_to_string(policy.join("policy.toml")).unwrap();
    std::fs::write(
        policy.join("policy.toml"),
        format!("{text}\n[tokens]\nmax_ttl = {{ agent = \"1h\" }}\n"),
    )
    .unwrap();
    let (_gateway, url) = gateway(&setup, "run-revoked");
    let (status, head, body) = exchange(&url, "POST", Some(&long), None, INITIALIZE);
    assert_eq!(status, 401, "{head}{body}");
    assert!(body.contains("3600"), "{body}");

    let (status, head, _) = exchange(&url, "POST", Some(&revoked), None, INITIALIZE);
    assert_eq!(status, 200, "{head}");
    let session = session_of(&head);
    let (status, _, _) = exchange(&url, "POST", Some(&revoked), Some(&session), LIST);
    assert_eq!(status, 200);
    // An administrator revokes it (in the store the gateway reads).
    let public = std::fs::read_to_string(setup.path().join("tokens/audit.pub")).unwrap();
    let verifier = aecl_audit::VerifierKey::parse(&public).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let now = aecl_core::Timestamp(u64::try_from(now.as_millis()).unwrap());
    let jti = aecl_engine::identity::verify(&verifier, &revoked, now).unwrap().jti;
    let db = rusqlite::Connection::open(setup.path().join("aecl.db")).unwrap();
    db.execute(
        "INSERT INTO revoked_credentials (id, revoked_at, revoked_by) VALUES (?1, 0, 'root')",
        [format!("jti:{jti}")],
    )
    .unwrap();
    let (status, head, body) = exchange(&url, "POST", Some(&revoked), Some(&session), LIST);
    assert_eq!(status, 401, "{head}{body}");
    assert!(body.contains("revoked"), "{body}");
    let (status, _, _) = exchange(&url, "POST", Some(&revoked), None, INITIALIZE);
    assert_eq!(status, 401, "a new session neither");
}

/// The gateway reloads its policy as `aecl serve` does: an agent whose manifest is removed
/// while its session is open is refused at its next request.
#[test]
fn a_manifest_removed_while_the_gateway_runs_refuses_its_agent() {
    let setup = Setup::new();
    let policy = setup.path().join("policy");
    let token = setup.token("notes_agent", &policy);
    let (_gateway, url) = gateway(&setup, "run-reload");
    let (status, head, _) = exchange(&url, "POST", Some(&token), None, INITIALIZE);
    assert_eq!(status, 200, "{head}");
    let session = session_of(&head);
    let (status, _, _) = exchange(&url, "POST", Some(&token), Some(&session), LIST);
    assert_eq!(status, 200);
    std::fs::remove_file(policy.join("agents/notes.toml")).unwrap();
    // Another agent keeps the policy valid; the gateway looks every 2 seconds.
    std::fs::write(
        policy.join("agents/other.toml"),
        "agent_id = \"other_agent\"\nallowed_actions = [\"fs__list_directory\"]\n",
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let (status, _, body) = exchange(&url, "POST", Some(&token), Some(&session), LIST);
        if status == 401 || std::time::Instant::now() > deadline {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(refused.0, 401, "{}", refused.1);
    assert!(refused.1.contains("no manifest"), "{}", refused.1);
}

/// The agent's `rate_limit` applies to its MCP requests as to its API requests: past the
/// burst, 429 with `Retry-After`, and nothing reaches the upstream.
#[test]
fn an_agents_request_rate_limits_its_mcp_requests() {
    let setup = Setup::new();
    let policy = setup.path().join("policy");
    let manifest = policy.join("agents/notes.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    // Top-level keys come before the manifest's first table.
    let limited = format!("rate_limit = {{ rate = \"6/minute\", burst = 3 }}\n{text}");
    std::fs::write(&manifest, limited).unwrap();
    let token = setup.token("notes_agent", &policy);
    let (_gateway, url) = gateway(&setup, "run-rate");
    let statuses: Vec<u16> =
        (0..6).map(|_| exchange(&url, "POST", Some(&token), None, INITIALIZE).0).collect();
    assert_eq!(statuses[..3], [200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    let (_, head, _) = exchange(&url, "POST", Some(&token), None, INITIALIZE);
    assert!(head.contains("retry-after: "), "{head}");
    let refusals = refusals(&setup);
    let limited: Vec<_> = refusals.iter().filter(|r| r["input"]["status"] == 429).collect();
    assert_eq!(limited.len(), 4, "{refusals:#?}");
    assert!(limited.iter().all(|r| r["agent"] == "notes_agent"), "{limited:#?}");
}
