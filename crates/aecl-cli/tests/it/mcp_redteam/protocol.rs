//! Round 10, protocol: a request id reused while its call is in progress, messages rmcp
//! cannot read (a batch, a number out of range, invalid UTF-8), a browser's `Origin` over
//! HTTP, and an answer larger than the gateway reads. Each is answered at once and
//! recorded, and the session goes on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Client, Red, is_error, text};
use crate::mcp::spawn_listening;
use crate::serve::issue;

impl Client {
    /// Sends request `method` under the id `id` the test chose.
    fn send_as(&mut self, id: u64, method: &str, params: Value) {
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_line(&message.to_string());
    }

    /// Writes `bytes` and a line break, as they are.
    fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// The next error the gateway sends that names no request, or `None` after `limit`.
    fn error_without_id(&mut self, limit: Duration) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let message = self.lines.recv_timeout(left).ok()?;
            if message.get("error").is_some() && message.get("id").is_none_or(Value::is_null) {
                return Some(message);
            }
        }
    }
}

/// The reasons of the refusal records of `red_agent`.
fn refusals(red: &Red) -> Vec<String> {
    let audit = red.audit();
    let refused = audit.iter().filter(|r| r["kind"] == "refusal" && r["agent"] == "red_agent");
    refused.map(|r| r["input"]["reason"].as_str().unwrap_or_default().to_owned()).collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `tools/call` under the id of a call still in progress is refused (a JSON-RPC error,
/// recorded), so a cancellation naming that id cancels the call in progress, which the
/// server is told of; once cancelled, the id may be used again. (Before: the second call
/// took the id in rmcp's table, the cancellation cancelled it, and the first ran on with
/// no answer to the client.)
#[test]
fn a_request_id_in_progress_is_refused_and_a_cancellation_names_its_call() {
    let red = Red::new();
    let mut client = red.gateway("run-ids", &[]);
    client.send_as(500, "tools/call", json!({"name": "slow", "arguments": {}}));
    wait_until("the slow call reaches the server", || {
        red.received().iter().any(|(tool, _)| tool == "slow")
    });
    client.send_as(500, "tools/call", json!({"name": "described", "arguments": {}}));
    let refused = client.answer(500, Duration::from_secs(10)).expect("an answer to the reuse");
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert!(refused.to_string().contains("in progress"), "{refused}");

    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 500, "reason": "stop"}});
    client.send_line(&cancel.to_string());
    wait_until("the server is told of the cancellation", || {
        red.received().iter().any(|(tool, _)| tool == "cancelled")
    });
    let told = red.received().into_iter().find(|(tool, _)| tool == "cancelled").unwrap().1;
    assert_eq!(told["called"], true, "the slow call is the one cancelled: {told}");
    assert_eq!(client.answer(500, Duration::from_secs(1)), None, "no answer to a cancelled call");

    // The id is free again; a fine call goes through under it.
    client.send_as(500, "tools/call", json!({"name": "described", "arguments": {}}));
    let answer = client.answer(500, Duration::from_secs(30)).expect("the new call's answer");
    assert!(!is_error(&answer["result"]), "{answer}");
    drop(client);
    let described = red.received().into_iter().filter(|(tool, _)| tool == "described").count();
    assert_eq!(described, 1, "the refused call never reached the server");
    let reasons = refusals(&red);
    assert!(
        reasons.iter().any(|r| r.contains("mcp.request_id_in_use") && r.contains("tools/call")),
        "{reasons:#?}"
    );
}

/// A JSON-RPC batch, a number out of range (`1e400`, an integer beyond 64 bits) and
/// invalid UTF-8 in a string: each is answered with a JSON-RPC error (naming the request
/// when it can be read), recorded as a refusal, never forwarded, and the session goes on.
/// (Before: each was dropped without an answer or a record, and the big integer was
/// forwarded as a float.)
#[test]
fn unreadable_messages_are_answered_and_recorded() {
    let red = Red::new();
    let mut client = red.gateway("run-unreadable", &[]);
    let call = |id: u64, amount: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"send_money","arguments":{{"amount":{amount}}}}}}}"#
        )
    };
    client.send_line(&format!("[{},{}]", call(901, "1"), call(902, "2")));
    let batch = client.error_without_id(Duration::from_secs(10)).expect("an answer to the batch");
    assert_eq!(batch["error"]["code"], -32600, "{batch}");
    for (id, amount) in [(951, "1e400"), (952, "123456789012345678901234567890")] {
        client.send_line(&call(id, amount));
        let answer = client.answer(id, Duration::from_secs(10)).expect("an answer");
        assert_eq!(answer["error"]["code"], -32600, "{amount}: {answer}");
    }
    let mut bytes = br#"{"jsonrpc":"2.0","id":953,"method":"tools/call","params":{"name":"described","arguments":{"note":"a"#.to_vec();
    bytes.extend_from_slice(b"\xff\xfe\"}}}");
    client.send_bytes(&bytes);
    let answer = client.answer(953, Duration::from_secs(10)).expect("an answer to invalid UTF-8");
    assert_eq!(answer["error"]["code"], -32700, "{answer}");

    // Numbers in range, the largest integers included, go through as written.
    let result = client.call("described", json!({"n": u64::MAX, "m": i64::MIN, "f": 1.5e300}));
    assert!(!is_error(&result), "the session did not go on: {result}");
    drop(client);
    let received: Vec<String> = red.received().into_iter().map(|(tool, _)| tool).collect();
    assert_eq!(received, ["described"], "{received:?}");
    let arguments = &red.received()[0].1;
    assert_eq!(arguments["n"], json!(u64::MAX), "{arguments}");
    let reasons = refusals(&red);
    let unreadable = reasons.iter().filter(|r| r.contains("mcp.unreadable_message")).count();
    assert_eq!(unreadable, 4, "{reasons:#?}");
}

/// Over `--listen`, a request with an `Origin` that is not on an accepted host (a page in
/// a browser) is refused with 403 and recorded, whatever its token; the loopback origin
/// and no `Origin` at all (a client outside a browser) are served. (Before: the `Origin`
/// was not looked at.)
#[test]
fn a_browsers_origin_is_refused_over_http() {
    let red = Red::new();
    let token_key = red.path("tokens/audit.pub");
    let listen = ["--listen", "127.0.0.1:0", "--token-key", &token_key];
    let (gateway, url) = spawn_listening(red.command("run-origin", &listen));
    let policy = red.path("policy");
    let token = issue(red.dir.path(), &["--agent", "red_agent", "--policy", &policy]);
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "red-team", "version": "0"}}})
    .to_string();
    let port = url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/mcp");
    let local = format!("http://localhost:{port}");
    for (origin, served) in [
        (Some("http://evil.example"), false),
        (Some("http://localhost.evil.example"), false),
        (Some("null"), false),
        (Some(local.as_str()), true),
        (None, true),
    ] {
        let (status, body) = post(&url, &token, origin, &initialize);
        if served {
            assert_eq!(status, 200, "{origin:?}: {body}");
        } else {
            assert_eq!(status, 403, "{origin:?}: {body}");
        }
    }
    drop(gateway);
    let audit = red.audit();
    let refused = audit
        .iter()
        .filter(|r| r["kind"] == "refusal")
        .filter(|r| r["input"]["reason"].to_string().contains("mcp.origin_refused"));
    assert_eq!(refused.count(), 3, "{audit:#?}");
}

/// A POST of `body` to the gateway at `url` with `token` and `origin`: status and body.
fn post(url: &str, token: &str, origin: Option<&str>, body: &str) -> (u16, String) {
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut stream = TcpStream::connect(address).expect("connecting to the gateway");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n{origin}\
         Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response)
}

/// An answer larger than the gateway reads (9 MiB of text, over its 8 MiB) fails its call
/// at once (not at the engine's 30 s call timeout), recorded as an unknown outcome without
/// the megabytes, and the session goes on. (Before: it was stored whole, and one over
/// 16 MiB was recorded timed out after 30 s.)
#[test]
fn an_answer_too_large_fails_its_call_at_once() {
    let red = Red::new();
    let mut client = red.gateway("run-huge", &[]);
    let started = Instant::now();
    let id = client.send("tools/call", json!({"name": "huge", "arguments": {}}));
    let answer = client.answer(id, Duration::from_secs(25)).expect("an answer before the timeout");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    let result = &answer["result"];
    assert!(is_error(result) && text(result).contains("larger than"), "{answer}");
    let fine = client.call("described", json!({}));
    assert!(!is_error(&fine), "the session did not go on: {fine}");
    drop(client);
    let outcome = red
        .audit()
        .into_iter()
        .find(|r| r["kind"] == "outcome" && r["action"] == "huge")
        .expect("the outcome record");
    assert_eq!(outcome["outcome"], "outcome_unknown", "{outcome:#}");
    assert!(outcome.to_string().len() < 64 * 1024, "the answer was kept");
}
