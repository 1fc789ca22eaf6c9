//! A long Claude Code session with the agent's own key (#22): recorded hook inputs through
//! `aecl hook claude-code --server --agent-key` over a span longer than the agent's
//! configured token TTL (2 s here) with no denial, while a bearer token of that TTL has
//! expired; then `aecl token revoke --agent-key` and the next call is denied. Also `aecl
//! token issue` against the policy's `[tokens] max_ttl`, and `aecl keys generate --agent`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::serve::{issue, keys, request, serve};
use crate::{repo, run, run_with_stdin, temp_dir};

/// The hooks policy copied to `dir/policy`, the agent's token TTL at 2 s and its key pair
/// from `aecl keys generate --agent` in its manifest; the key's id.
fn keyed_policy(dir: &Path) -> String {
    let policy = dir.join("policy");
    std::fs::create_dir_all(policy.join("agents")).unwrap();
    for file in ["catalog.toml", "policy.toml", "agents/dev_agent.toml"] {
        let text = std::fs::read_to_string(repo("test_data/hooks/policy").join(file)).unwrap();
        std::fs::write(policy.join(file), text).unwrap();
    }
    let out = run([
        "keys",
        "generate",
        "--agent",
        "dev_agent",
        "--out",
        &dir.join("agent").display().to_string(),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let key_id = out.stdout.lines().find_map(|l| l.strip_prefix("key id: ")).unwrap().to_owned();
    let public = std::fs::read_to_string(dir.join("agent/dev_agent.pub")).unwrap();
    let manifest = policy.join("agents/dev_agent.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replacen(
        "allowed_actions",
        &format!("token_ttl_seconds = 2\npublic_keys = [\"{}\"]\nallowed_actions", public.trim()),
        1,
    );
    std::fs::write(&manifest, text).unwrap();
    let mode = std::fs::metadata(dir.join("agent/dev_agent.key")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
    key_id
}

fn hook_input(id: usize) -> String {
    let text = std::fs::read_to_string(repo("test_data/hooks/claude-code/bash-ls.json")).unwrap();
    text.replace("toolu_01HookTest0001", &format!("toolu_long_{id}"))
}

/// Claude Code's reading of one hook answer: its permission decision and reason.
fn decision(stdout: &str) -> (String, String) {
    let answer: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
    let output = &answer["hookSpecificOutput"];
    (
        output["permissionDecision"].as_str().unwrap_or("none").to_owned(),
        output["permissionDecisionReason"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn a_hook_session_with_an_agent_key_outlives_the_token_ttl_and_stops_when_revoked() {
    let dir = temp_dir();
    keys(dir.path());
    let key_id = keyed_policy(dir.path());
    let policy = dir.path().join("policy").display().to_string();
    let bearer = issue(dir.path(), &["--agent", "dev_agent", "--policy", &policy]);
    let (_server, address) = serve(dir.path(), &policy, &[]);
    let server = format!("http://{address}");
    let agent_key = dir.path().join("agent/dev_agent.key").display().to_string();
    let hook = ["hook", "claude-code", "--server", &server, "--agent-key", &agent_key];

    let started = Instant::now();
    let mut calls = 0;
    let mut last_call_at = Duration::ZERO;
    while started.elapsed() < Duration::from_millis(3500) {
        last_call_at = started.elapsed();
        let out = run_with_stdin(hook, &hook_input(calls));
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_eq!(
            decision(&out.stdout).0,
            "allow",
            "call {calls} at {:?}: {out:#?}",
            started.elapsed()
        );
        calls += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    // Calls past the TTL, however few a loaded machine fits in: the session outlived it.
    assert!(
        calls >= 2 && last_call_at > Duration::from_millis(2500),
        "{calls} calls, the last at {last_call_at:?}"
    );
    // The bearer token of the agent's TTL (2 s) died meanwhile.
    let call = r#"{"run":"r9","id":"c1","action":"Bash","args":{"command":"ls"}}"#;
    let (status, answer) = request(&address, "POST", "/v1/evaluate", Some(&bearer), &[], call);
    assert_eq!(status, 401, "{answer}");
    assert!(answer.to_string().contains("expired"), "{answer}");

    // An administrator revokes the agent's key: the next call is denied.
    let admin = issue(dir.path(), &["--admin", "root"]);
    let admin_file = dir.path().join("admin.token");
    std::fs::write(&admin_file, &admin).unwrap();
    let out = run([
        "token",
        "revoke",
        "--agent-key",
        &key_id,
        "--server",
        &server,
        "--token-file",
        &admin_file.display().to_string(),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let out = run_with_stdin(hook, &hook_input(calls));
    let (verdict, reason) = decision(&out.stdout);
    assert_eq!((out.code, verdict.as_str()), (Some(2), "deny"), "{out:#?}");
    assert!(reason.contains("revoked") && out.stderr.contains("revoked"), "{out:#?}");
}

#[test]
fn a_token_longer_than_the_policy_allows_is_not_minted_and_its_id_is_printed() {
    let dir = temp_dir();
    keys(dir.path());
    keyed_policy(dir.path());
    let policy = dir.path().join("policy");
    let settings = policy.join("policy.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, format!("{text}\n[tokens]\nmax_ttl = {{ approver = \"1h\" }}\n"))
        .unwrap();
    let key = dir.path().join("tokens/audit.key").display().to_string();
    let policy = policy.display().to_string();
    let out = run([
        "token",
        "issue",
        "--approver",
        "alice",
        "--ttl",
        "7200",
        "--key",
        &key,
        "--policy",
        &policy,
    ]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("3600 s at most"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let out = run([
        "token",
        "issue",
        "--approver",
        "alice",
        "--ttl",
        "3600",
        "--key",
        &key,
        "--policy",
        &policy,
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stderr.contains("token id: "), "{}", out.stderr);
    // Without a policy the defaults hold: a year-long admin token is refused.
    let out = run(["token", "issue", "--admin", "root", "--ttl", "31536000", "--key", &key]);
    assert_eq!(out.code, Some(2), "{out:#?}");
}
