//! `aecl serve` as users start it: keys from `aecl keys generate`, a token from
//! `aecl token issue`, the binary listening on a free port, answering health and an
//! evaluate call over HTTP, and stopping on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{aecl, finance, run, temp_dir};

/// Stops the server when the test ends, however it ends.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request over a plain socket: (status, body).
fn http(address: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    request(address, method, path, token, &[], body)
}

/// One HTTP/1.1 request over a plain socket with extra headers: (status, the JSON body,
/// or `Null` when there is none).
pub(crate) fn request(
    address: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).expect("connecting to aecl serve");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Keys for the audit log and the tokens under `dir` (`audit/`, `tokens/`).
pub(crate) fn keys(dir: &std::path::Path) {
    for (name, out) in [("aecl.test/audit", "audit"), ("aecl.test/tokens", "tokens")] {
        let out = run([
            "keys",
            "generate",
            "--name",
            name,
            "--out",
            &dir.join(out).display().to_string(),
        ]);
        assert_eq!(out.code, Some(0), "{out:#?}");
    }
}

/// A token from `aecl token issue` with `args` (`--agent ID --policy DIR`, `--approver NAME`).
pub(crate) fn issue(dir: &std::path::Path, args: &[&str]) -> String {
    let key = dir.join("tokens/audit.key").display().to_string();
    let out =
        run(["token", "issue", "--key", key.as_str()].into_iter().chain(args.iter().copied()));
    assert_eq!(out.code, Some(0), "{out:#?}");
    out.stdout.trim().to_owned()
}

/// `aecl serve` on a free port over `aecl.db` in `dir`, with `extra` arguments and its
/// log in `serve.log`; its address.
pub(crate) fn serve(dir: &std::path::Path, policy: &str, extra: &[&str]) -> (Running, String) {
    serve_env(dir, policy, extra, &[])
}

/// [`serve`] with extra environment variables.
pub(crate) fn serve_env(
    dir: &std::path::Path,
    policy: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Running, String) {
    let path = |name: &str| dir.join(name).display().to_string();
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let child = aecl()
        .args(["serve", "--policy", policy, "--db", &path("aecl.db"), "--listen", "127.0.0.1:0"])
        .args(["--key", &path("audit/audit.key"), "--token-key", &path("tokens/audit.pub")])
        .args(extra)
        .env("AECL_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawning aecl serve");
    let mut server = Running(child);
    let mut first = String::new();
    BufReader::new(server.0.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let address = first
        .trim()
        .strip_prefix("aecl serve: listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    (server, address)
}

#[test]
fn a_token_and_a_server_answer_a_call() {
    let dir = temp_dir();
    let path = |name: &str| dir.path().join(name).display().to_string();
    keys(dir.path());
    let policy = finance().display().to_string();
    let token = issue(dir.path(), &["--agent", "finance_agent", "--policy", &policy]);
    let (mut server, address) = serve(dir.path(), &policy, &[]);

    let (status, health) = http(&address, "GET", "/healthz", None, "");
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["signing_key_loaded"], true);

    let call = r#"{"run":"r1","id":"c1","action":"read_invoice","args":{"invoice_id":"INV-7781"}}"#;
    let (status, answer) = http(&address, "POST", "/v1/evaluate", Some(&token), call);
    assert_eq!((status, answer["decision"].as_str()), (200, Some("allow")), "{answer}");
    let (status, answer) = http(&address, "POST", "/v1/evaluate", None, call);
    assert_eq!((status, answer["error"]["code"].as_str()), (401, Some("unauthenticated")));

    // Without connectors an allowed execution is recorded as failed, never run.
    let call = r#"{"run":"r1","id":"c2","action":"read_invoice","args":{"invoice_id":"INV-7781"}}"#;
    let (status, answer) = http(&address, "POST", "/v1/execute", Some(&token), call);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["effect"]["state"], "failed", "{answer}");
    assert!(answer["effect"]["error"].as_str().unwrap().starts_with("not_configured"), "{answer}");

    // SIGTERM stops it cleanly.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(server.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // The log verifies.
    let out = run(["audit", "verify", "--db", &path("aecl.db"), "--key", &path("audit/audit.pub")]);
    assert_eq!(out.code, Some(0), "{out:#?}");
}

/// Waits until `/healthz` reports a revision other than `old` (or gives up after 10 s).
pub(crate) fn revision_after(address: &str, old: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, health) = http(address, "GET", "/healthz", None, "");
        let revision = health["policy_revision"].as_str().unwrap_or_default().to_owned();
        if revision != old || std::time::Instant::now() > deadline {
            return revision;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_policy_reloads_on_change_and_on_sighup_and_a_bad_one_is_refused() {
    let dir = temp_dir();
    keys(dir.path());
    let policy = dir.path().join("policy");
    crate::copy_dir(&finance(), &policy);
    let manifest = policy.join("agents/finance_agent.toml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    let policy_arg = policy.display().to_string();
    let token = issue(dir.path(), &["--agent", "finance_agent", "--policy", &policy_arg]);
    let (server, address) = serve(dir.path(), &policy_arg, &["--watch-interval", "1"]);
    let vendor = |id: &str| {
        let call = format!(
            r#"{{"run":"r1","id":"{id}","action":"read_vendor_profile","args":{{"vendor":"V-1"}}}}"#
        );
        let (status, answer) = http(&address, "POST", "/v1/evaluate", Some(&token), &call);
        assert_eq!(status, 200, "{answer}");
        answer["decision"].as_str().unwrap().to_owned()
    };
    assert_eq!(vendor("c1"), "allow");
    let (_, health) = http(&address, "GET", "/healthz", None, "");
    let first_revision = health["policy_revision"].as_str().unwrap().to_owned();

    // A change the check accepts is picked up by the watcher.
    let narrower = original.replace("  \"read_vendor_profile\",\n", "");
    assert_ne!(narrower, original);
    std::fs::write(&manifest, &narrower).unwrap();
    let second_revision = revision_after(&address, &first_revision);
    assert_ne!(second_revision, first_revision, "the change was not picked up");
    assert_eq!(vendor("c2"), "block");

    // A change that breaks an embedded example (reading an invoice must be allowed) is
    // refused, even on SIGHUP, and the policy in force stays.
    let broken = narrower.replace("  \"read_invoice\",\n", "");
    std::fs::write(&manifest, &broken).unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(server.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let (_, health) = http(&address, "GET", "/healthz", None, "");
    assert_eq!(health["policy_revision"], second_revision.as_str());
    assert_eq!(vendor("c3"), "block");
    let logged = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(logged.contains("policy reload refused"), "{logged}");
    assert!(logged.lines().any(|l| l.contains("refused") && l.contains("SIGHUP")), "{logged}");
    assert!(logged.contains("policy reloaded"), "{logged}");
    // `/healthz` says why the reload was refused (and stays healthy: a policy is in force).
    let (status, health) = http(&address, "GET", "/healthz", None, "");
    assert_eq!(status, 200, "{health}");
    assert!(health["policy_reload_error"].as_str().is_some_and(|e| !e.is_empty()), "{health}");

    // Invalid TOML is refused too; restoring the original file brings the first policy
    // back.
    std::fs::write(&manifest, "agent_id = \n").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(vendor("c4"), "block");
    std::fs::write(&manifest, &original).unwrap();
    assert_eq!(revision_after(&address, &second_revision), first_revision);
    assert_eq!(vendor("c5"), "allow");
    let (_, health) = http(&address, "GET", "/healthz", None, "");
    assert!(health.get("policy_reload_error").is_none(), "cleared by a reload: {health}");
}

#[test]
fn an_approver_answers_from_the_cli_and_the_waiting_call_runs() {
    let dir = temp_dir();
    keys(dir.path());
    let policy = finance().display().to_string();
    let agent = issue(dir.path(), &["--agent", "finance_agent", "--policy", &policy]);
    let (_server, address) = serve(dir.path(), &policy, &[]);
    let transfer = |id: &str| {
        let call = format!(
            r#"{{"run":"r1","id":"{id}","action":"transfer_funds","args":{{"vendor":"V-100","iban":"DE89370400440532013000","amount":1200,"currency":"EUR"}}}}"#
        );
        let (status, answer) = http(&address, "POST", "/v1/execute", Some(&agent), &call);
        assert_eq!(status, 200, "{answer}");
        answer
    };
    let asked = transfer("c1");
    assert_eq!(asked["decision"], "require_approval", "{asked}");
    let id = asked["approval_id"].as_str().unwrap().to_owned();

    let token_file = |name: &str, token: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, token).unwrap();
        file.display().to_string()
    };
    let alice = token_file("alice.token", &issue(dir.path(), &["--approver", "alice"]));
    let server = format!("http://{address}");
    let approvals = |args: &[&str], token: &str| {
        run(["approvals", "--server", server.as_str(), "--token-file", token].iter().chain(args))
    };
    let listed = approvals(&["list"], &alice);
    assert_eq!(listed.code, Some(0), "{listed:#?}");
    assert!(listed.stdout.contains(&id) && listed.stdout.contains("transfer_funds"), "{listed:#?}");
    assert!(listed.stdout.starts_with("ID "), "a table: {listed:#?}");
    assert!(listed.stdout.contains("iban=DE89370400440532013000"), "{listed:#?}");
    let fresh = listed.stdout.contains("just now") || listed.stdout.contains(" s ago");
    assert!(listed.stdout.contains("0 of 1") && fresh, "relative times: {listed:#?}");
    let json = approvals(&["list", "--json"], &alice);
    let rows: Value = serde_json::from_str(&json.stdout).expect("--json is JSON");
    assert_eq!(rows[0]["id"], id.as_str(), "{rows}");
    assert_eq!(rows[0]["approvals_required"], 1, "{rows}");
    let shown = approvals(&["show", &id], &alice);
    assert!(shown.stdout.contains("DE89370400440532013000"), "{shown:#?}");
    assert!(shown.stdout.contains("WHY IT NEEDS A HUMAN"), "{shown:#?}");
    let shown = approvals(&["show", &id, "--json"], &alice);
    let detail: Value = serde_json::from_str(&shown.stdout).expect("--json is JSON");
    assert_eq!(detail["context"]["call"]["args"]["iban"], "DE89370400440532013000");

    // The agent's own identity, even holding an approver token, is refused.
    let own = token_file("own.token", &issue(dir.path(), &["--approver", "finance_agent"]));
    let refused = approvals(&["approve", &id], &own);
    assert_eq!(refused.code, Some(1), "{refused:#?}");
    assert!(refused.stderr.contains("refused (403"), "{refused:#?}");

    let approved = approvals(&["approve", &id, "--reason", "invoice 42"], &alice);
    assert_eq!(approved.code, Some(0), "{approved:#?}");
    assert!(approved.stdout.starts_with(&format!("approved {id}")), "{approved:#?}");
    let again = approvals(&["approve", &id], &alice);
    assert!(again.stderr.contains("refused (409 conflict)"), "{again:#?}");

    // The retried call goes through (and fails, since `aecl serve` has no connectors yet:
    // what matters is that it was dispatched, once).
    let done = transfer("c2");
    assert_eq!(done["decision"], "allow", "{done}");
    assert_eq!(done["effect"]["state"], "failed", "{done}");
    let spent = transfer("c3");
    assert_eq!(spent["decision"], "require_approval", "{spent}");

    // A standing grant from the CLI covers the same payee: the next call passes without
    // asking, once (max 1); revoking a spent grant still works, a second time does not.
    let bad = approvals(
        &[
            "grant",
            "--agent",
            "finance_agent",
            "--action",
            "transfer_funds",
            "--max-uses",
            "1",
            "--ttl",
            "600",
            "--reason",
            "r",
        ],
        &alice,
    );
    assert_eq!(bad.code, Some(2), "no condition: {bad:#?}");
    // A suffix with an `@` is no domain check (`eve@evil.test, bob@example.com` ends with
    // it): refused, naming the condition to use.
    let suffix = approvals(
        &[
            "grant",
            "--agent",
            "finance_agent",
            "--action",
            "transfer_funds",
            "--ends-with",
            "reference=@example.com",
            "--max-uses",
            "1",
            "--ttl",
            "600",
            "--reason",
            "r",
        ],
        &alice,
    );
    assert_eq!(suffix.code, Some(1), "{suffix:#?}");
    assert!(suffix.stderr.contains("email_domain"), "{suffix:#?}");
    let given = approvals(
        &[
            "grant",
            "--agent",
            "finance_agent",
            "--action",
            "transfer_funds",
            "--equals",
            "iban=DE89370400440532013000",
            "--one-of",
            "currency=EUR,USD",
            "--max-uses",
            "1",
            "--ttl",
            "600",
            "--reason",
            "vendor V-100 this week",
        ],
        &alice,
    );
    assert_eq!(given.code, Some(0), "{given:#?}");
    let grant = given.stdout.split_whitespace().nth(2).unwrap().to_owned();
    let covered = transfer("c4");
    assert_eq!(covered["decision"], "allow", "{covered}");
    assert_eq!(transfer("c5")["decision"], "require_approval", "one use only");
    let listed = approvals(&["grants"], &alice);
    assert!(listed.stdout.contains(&format!("{grant}  in-force")), "{listed:#?}");
    assert!(listed.stdout.contains("used=1/1"), "{listed:#?}");
    assert_eq!(approvals(&["revoke-grant", &grant], &alice).code, Some(0));
    let twice = approvals(&["revoke-grant", &grant], &alice);
    assert!(twice.stderr.contains("refused (404"), "{twice:#?}");
}
