//! The protocol's edges, end to end: every client message serde_json or rmcp fails to take
//! is answered (with its id when it has a valid one) and recorded, over stdio and over
//! HTTP; a server's request or notification too large is not relayed.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Wire, exchange, is_error, messages, post, text};

/// One line a client sends that rmcp cannot take: its answer (id and code; `None` for a
/// notification, which JSON-RPC never answers) and the rule its refusal record names.
struct Case {
    line: Vec<u8>,
    answer: Option<(Value, i64)>,
    rule: &'static str,
}

fn case(line: impl Into<Vec<u8>>, answer: Option<(Value, i64)>, rule: &'static str) -> Case {
    Case { line: line.into(), answer, rule }
}

const UNREADABLE: &str = "mcp.unreadable_message";
const INVALID: &str = "mcp.invalid_request";

/// The ways serde_json and rmcp fail to take a line, one or two of each kind (the refusal
/// records of an agent are rate-limited to a burst of 20: the transport's unit test has
/// the whole table).
fn cases() -> Vec<Case> {
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let parse = |id: Value| Some((id, -32700));
    let invalid = |id: Value| Some((id, -32600));
    vec![
        // The red team's line: a lone surrogate escape in a value.
        case(
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"x":"\ud800"}}"#,
            parse(json!(7)),
            UNREADABLE,
        ),
        case(
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"\udc00":1}}"#,
            parse(json!(8)),
            UNREADABLE,
        ),
        case(r#"{"jsonrpc":"2.0","id":"\ud800","method":"tools/list"}"#, parse(Value::Null), UNREADABLE),
        case(r#"{"jsonrpc":"2.0","id":9,"method":"tools/li\ud800st"}"#, parse(json!(9)), UNREADABLE),
        case(r#"{"jsonrpc":"2.0","method":"notifications/x","params":{"a":"\udfff"}}"#, None, UNREADABLE),
        case(
            r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"described","arguments":{"a":"\q"}}}"#,
            parse(json!(10)),
            UNREADABLE,
        ),
        case(
            b"{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/list\",\"params\":{\"x\":\"a\x01b\"}}".to_vec(),
            parse(json!(11)),
            UNREADABLE,
        ),
        case(r#"{"jsonrpc":"2.0","id":12,"method":"tools/list"} trailing"#, parse(json!(12)), UNREADABLE),
        case(
            b"\xEF\xBB\xBF\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"ping\"}".to_vec(),
            parse(Value::Null),
            UNREADABLE,
        ),
        case("  \t ", parse(Value::Null), UNREADABLE),
        case(
            format!(r#"{{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{{"name":"described","arguments":{{"a":{deep}}}}}}}"#),
            invalid(json!(14)),
            "mcp.message_too_deep",
        ),
        // Valid JSON, not JSON-RPC as MCP has it.
        case(r#"{"jsonrpc":"2.0","id":true,"method":"tools/list"}"#, invalid(Value::Null), INVALID),
        case(r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}"#, invalid(Value::Null), INVALID),
        case(r#"{"jsonrpc":"2.0","id":15}"#, invalid(json!(15)), INVALID),
        case(r#"{"jsonrpc":"2.0","id":16,"method":5}"#, invalid(json!(16)), INVALID),
        case(r#"{"jsonrpc":"1.0","id":17,"method":"tools/list"}"#, invalid(json!(17)), INVALID),
        case(r#"{"jsonrpc":"2.0","id":18,"method":"tools/list","params":"x"}"#, invalid(json!(18)), INVALID),
        case(r#"{"jsonrpc":"2.0","id":19,"id":20,"method":"tools/list"}"#, invalid(Value::Null), INVALID),
    ]
}

/// Over stdio, each line is answered as JSON-RPC asks (parse error or invalid request,
/// with its id when valid, `null` otherwise; a notification not at all) and recorded under
/// its rule, and the session goes on after each: the ping sent after it is answered.
/// Lines rmcp does take pass as they were: an escaped NUL, a byte order mark. (Before: a
/// lone surrogate, a line of spaces and the rest of serde's syntax errors were dropped
/// without an answer or a record; JSON that is no JSON-RPC message was answered -32600
/// with no id, and not recorded.)
#[test]
fn every_line_rmcp_cannot_take_is_answered_and_recorded_over_stdio() {
    let wire = Wire::new();
    let mut client = wire.gateway("run-lines");
    let cases = cases();
    for (at, case) in cases.iter().enumerate() {
        let shown = String::from_utf8_lossy(&case.line).chars().take(120).collect::<String>();
        client.send_bytes(&case.line);
        let ping = 5000 + at as u64;
        client.send_as(ping, "ping", json!({}));
        let mut errors = Vec::new();
        let mut pinged = false;
        while !pinged || (case.answer.is_some() && errors.is_empty()) {
            let message = client
                .next_answer(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("{shown}: no answer, or the session did not go on"));
            if message["id"] == ping && message.get("result").is_some() {
                pinged = true;
            } else {
                errors.push(message);
            }
        }
        match &case.answer {
            Some((id, code)) => {
                assert_eq!(errors.len(), 1, "{shown}: {errors:#?}");
                let error = &errors[0];
                assert_eq!(
                    (&error["id"], &error["error"]["code"]),
                    (id, &json!(code)),
                    "{shown}: {error}"
                );
            }
            None => assert!(errors.is_empty(), "{shown}: a notification was answered: {errors:#?}"),
        }
    }
    // What rmcp takes goes through as written.
    client.send_bytes("\u{feff}{\"jsonrpc\":\"2.0\",\"id\":6000,\"method\":\"ping\"}\r".as_bytes());
    let answer = client.answer(6000, Duration::from_secs(10)).expect("the ping with a BOM");
    assert!(answer.get("result").is_some(), "{answer}");
    let result = client.call("described", json!({"note": "a\u{0}b"}));
    assert!(!is_error(&result), "{result}");
    drop(client);
    assert_eq!(wire.received(), [("described".to_owned(), json!({"note": "a\u{0}b"}))]);

    let reasons = wire.refusals();
    for rule in [UNREADABLE, INVALID, "mcp.message_too_deep"] {
        let expected = cases.iter().filter(|c| c.rule == rule).count();
        let recorded = reasons.iter().filter(|r| r.starts_with(&format!("{rule}:"))).count();
        assert_eq!(recorded, expected, "{rule}: {reasons:#?}");
    }
    assert_eq!(reasons.len(), cases.len(), "{reasons:#?}");
}

/// Over `--listen`, the same lines as bodies are answered 400 with the JSON-RPC error
/// (its id when valid) and recorded. (Before: rmcp answered 415 with a plain-text body
/// naming no request, and nothing was recorded.)
#[test]
fn every_body_rmcp_cannot_take_is_answered_and_recorded_over_http() {
    let wire = Wire::new();
    let (gateway, url, token) = wire.listening("run-bodies");
    let cases = cases();
    // Over HTTP a byte order mark and a line break are the body's own: a body with one
    // BOM is refused too.
    let bom = b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":30,\"method\":\"ping\"}".to_vec();
    let extra = [case(bom, Some((Value::Null, -32700)), UNREADABLE)];
    for case in cases.iter().chain(&extra) {
        let shown = String::from_utf8_lossy(&case.line).chars().take(120).collect::<String>();
        let (status, body) = post(&url, &token, &case.line);
        assert_eq!(status, 400, "{shown}: {body}");
        let answer: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{shown}: {e}: {body}"));
        if let Some((id, code)) = &case.answer {
            assert_eq!(
                (&answer["id"], &answer["error"]["code"]),
                (id, &json!(code)),
                "{shown}: {body}"
            );
        }
    }
    drop(gateway);
    let reasons = wire.refusals();
    let unreadable = reasons.iter().filter(|r| r.starts_with("mcp.unreadable_message:")).count();
    let invalid = reasons.iter().filter(|r| r.starts_with("mcp.invalid_request:")).count();
    let expected = |rule: &str| cases.iter().chain(&extra).filter(|c| c.rule == rule).count();
    assert_eq!((unreadable, invalid), (expected(UNREADABLE), expected(INVALID)), "{reasons:#?}");
}

/// A server's `elicitation/create` of 12 MiB (over the 8 MiB the gateway reads of an
/// answer) is not relayed: the client is never asked, the server is answered with an
/// error, the refusal is recorded (not the megabytes) and the call and the session go on;
/// a notification of 12 MiB is dropped and recorded the same way. (Before: the request
/// reached the client whole, and was recorded whole as untrusted content.)
#[test]
fn a_server_request_or_notification_too_large_is_not_relayed() {
    let wire = Wire::new();
    let mut client = wire.gateway("run-huge-ask");
    let asked = client.call("huge_ask", json!({}));
    assert!(client.elicited.is_empty(), "the client was asked: {:?}", client.elicited);
    let told = text(&asked);
    assert!(told.starts_with("elicitation answered: "), "{asked}");
    let told: Value =
        serde_json::from_str(told.trim_start_matches("elicitation answered: ")).unwrap();
    assert_eq!(told["error"]["code"], -32001, "{told}");
    assert!(told["error"]["message"].as_str().unwrap().contains("larger than"), "{told}");

    let noted = client.call("huge_note", json!({}));
    assert_eq!(text(&noted), "huge_note done", "{noted}");
    let fine = client.call("described", json!({}));
    assert!(!is_error(&fine), "the session did not go on: {fine}");
    drop(client);

    let reasons = wire.refusals();
    let too_large: Vec<&String> =
        reasons.iter().filter(|r| r.starts_with("mcp.server_message_too_large:")).collect();
    assert_eq!(too_large.len(), 2, "{reasons:#?}");
    assert!(too_large[0].contains("`elicitation/create` request"), "{too_large:?}");
    assert!(too_large[1].contains("`notifications/message` notification"), "{too_large:?}");
    for record in wire.audit() {
        assert!(record.to_string().len() < 64 * 1024, "megabytes kept: {}", record["kind"]);
    }
}

/// A server that pages its tools forever (new tools on every page, or two cursors in
/// turn), never answers `tools/list`, or never answers `initialize`, fails the listing
/// within bounds: the client is answered, the gateway goes on. (Before: the gateway
/// gathered pages until its memory ran out, or waited forever, never answering.)
#[test]
fn a_server_that_lists_forever_or_never_answers_fails_within_bounds() {
    // A server that never answers `initialize` fails the stdio gateway's start (its
    // client's `initialize` is where the gateway first needs it), after 30 s.
    let mute = Wire::new();
    let mut command = mute.command("run-paging-mute", &[]);
    let mut started = command
        .arg("mute")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Each gateway has a store of its own (a store has one writer); those that never
    // answer are waited for at once, each within the gateway's 30 s.
    let wires: Vec<Wire> = (0..3).map(|_| Wire::new()).collect();
    let servers: Vec<_> = ["endless", "cycling", "silent"]
        .into_iter()
        .zip(&wires)
        .map(|(paging, wire)| {
            let mut command = wire.command(&format!("run-paging-{paging}"), &[]);
            command.arg(paging);
            let mut client = super::Client::start(command);
            let id = client.send("tools/list", json!({}));
            (paging, client, id)
        })
        .collect();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "red-team", "version": "0"}}});
    // Kept open until the gateway has ended: it ends by itself, not at its input's end.
    let mut input = started.stdin.take().unwrap();
    use std::io::Write;
    writeln!(input, "{initialize}").unwrap();
    for (paging, mut client, id) in servers {
        let answer = client.next_answer(Duration::from_secs(120)).expect("no answer");
        assert_eq!(answer["id"], id, "{answer}");
        let listed = answer["result"]["tools"].as_array().map_or(0, Vec::len);
        assert!(answer.get("error").is_some() || listed == 0, "{paging}: {listed} tools");
        let id = client.send("ping", json!({}));
        let answer = client.next_answer(Duration::from_secs(30)).expect("no answer");
        assert_eq!((answer["id"].clone(), answer["result"].clone()), (json!(id), json!({})));
    }
    let ended = started.wait_with_output().unwrap();
    drop(input);
    let stderr = String::from_utf8_lossy(&ended.stderr);
    assert_eq!(ended.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("did not complete the handshake: no answer within 30 s"), "{stderr}");
}

/// `--max-sessions-per-agent` holds for `initialize`s that arrive together: each is
/// counted from when it is let in, not from when its session is kept. (Before: 16 at once
/// opened up to 6 sessions under a limit of 2; red team round 19, F2.)
#[test]
fn initializes_that_arrive_together_open_no_more_sessions_than_the_limit() {
    let wire = Wire::new();
    let (gateway, url, token) =
        wire.listening_with("run-session-limit", &["--max-sessions-per-agent", "2"]);
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "red-team", "version": "0"}}})
    .to_string();
    let start = std::sync::Arc::new(std::sync::Barrier::new(16));
    let asked: Vec<_> = (0..16)
        .map(|_| {
            let (url, token, body, start) =
                (url.clone(), token.clone(), initialize.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                exchange(&url, &token, None, body.as_bytes(), Duration::from_secs(30))
            })
        })
        .collect();
    let answers: Vec<(u16, String, String)> =
        asked.into_iter().map(|t| t.join().unwrap()).collect();
    let opened = answers.iter().filter(|(_, head, _)| head.contains("mcp-session-id:")).count();
    let refused = answers.iter().filter(|(status, ..)| *status == 503).count();
    assert_eq!((opened, refused), (2, 14), "{answers:#?}");
    drop(gateway);
}

/// Over `--listen`, in one session, a `tools/call` under the id of a call still in
/// progress is refused (a JSON-RPC error naming it, recorded) and never reaches the
/// server; a cancellation naming the id cancels the call in progress, which the server is
/// told of; then the id may be used again. (Before: rmcp's HTTP session served the second
/// request, which took the first one's place for its answer and its cancellation.)
#[test]
fn a_request_id_in_progress_is_refused_in_an_http_session() {
    let wire = Wire::new();
    let (gateway, url, token) = wire.listening("run-http-ids");
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "red-team", "version": "0"}}});
    let limit = Duration::from_secs(10);
    let (status, head, body) =
        exchange(&url, &token, None, initialize.to_string().as_bytes(), limit);
    assert_eq!(status, 200, "{head}{body}");
    let session = head
        .lines()
        .find_map(|l| l.strip_prefix("mcp-session-id:"))
        .map(|s| s.trim().to_owned())
        .expect("a session");
    let post = |message: Value, limit: Duration| {
        exchange(&url, &token, Some(&session), message.to_string().as_bytes(), limit)
    };
    let (status, ..) =
        post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}), limit);
    assert_eq!(status, 202);

    let call = |tool: &str| {
        json!({"jsonrpc": "2.0", "id": 500, "method": "tools/call",
            "params": {"name": tool, "arguments": {}}})
    };
    let slow = std::thread::scope(|scope| {
        let slow = scope.spawn(|| post(call("slow"), Duration::from_secs(30)));
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !wire.received().iter().any(|(tool, _)| tool == "slow") {
            assert!(std::time::Instant::now() < deadline, "the slow call never reached the server");
            std::thread::sleep(Duration::from_millis(20));
        }
        let (status, head, body) = post(call("described"), limit);
        assert_eq!(status, 400, "{head}{body}");
        let refused: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(
            (&refused["id"], &refused["error"]["code"]),
            (&json!(500), &json!(-32600)),
            "{body}"
        );
        assert!(body.contains("in progress"), "{body}");

        let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 500, "reason": "stop"}});
        let (status, ..) = post(cancel, limit);
        assert_eq!(status, 202);
        slow.join().expect("the slow call's POST")
    });
    assert!(
        !messages(&slow.2).iter().any(|m| m["id"] == 500 && m.get("result").is_some()),
        "the cancelled call was answered: {}",
        slow.2
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let told = loop {
        if let Some((_, told)) = wire.received().into_iter().find(|(tool, _)| tool == "cancelled") {
            break told;
        }
        assert!(std::time::Instant::now() < deadline, "the server was never told");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(told["called"], true, "the slow call is the one cancelled: {told}");

    // The id is free again; a fine call goes through under it.
    let (status, head, body) = post(call("described"), Duration::from_secs(30));
    assert_eq!(status, 200, "{head}{body}");
    let answer =
        messages(&body).into_iter().find(|m| m["id"] == 500).expect("the new call's answer");
    assert!(!is_error(&answer["result"]), "{answer}");
    drop(gateway);
    let described = wire.received().into_iter().filter(|(tool, _)| tool == "described").count();
    assert_eq!(described, 1, "the refused call never reached the server");
    let reasons = wire.refusals();
    let in_use = reasons.iter().filter(|r| r.starts_with("mcp.request_id_in_use: a `tools/call`"));
    assert_eq!(in_use.count(), 1, "{reasons:#?}");
}
