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
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request over a plain socket: (status, body).
fn http(address: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).expect("connecting to aecl serve");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn a_token_and_a_server_answer_a_call() {
    let dir = temp_dir();
    let path = |name: &str| dir.path().join(name).display().to_string();
    for (name, out) in [("aecl.test/audit", "audit"), ("aecl.test/tokens", "tokens")] {
        let out = run(["keys", "generate", "--name", name, "--out", &path(out)]);
        assert_eq!(out.code, Some(0), "{out:#?}");
    }
    let policy = finance().display().to_string();
    let issued = run([
        "token",
        "issue",
        "--agent",
        "finance_agent",
        "--key",
        &path("tokens/audit.key"),
        "--policy",
        &policy,
    ]);
    assert_eq!(issued.code, Some(0), "{issued:#?}");
    let token = issued.stdout.trim().to_owned();

    let child = aecl()
        .args(["serve", "--policy", &policy, "--db", &path("aecl.db"), "--listen", "127.0.0.1:0"])
        .args(["--key", &path("audit/audit.key"), "--token-key", &path("tokens/audit.pub")])
        .env("AECL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
