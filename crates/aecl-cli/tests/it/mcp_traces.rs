//! `aecl mcp --listen --otlp-endpoint`: each MCP request is an `aecl.mcp` span sent over
//! OTLP to a receiver made in the test, in the caller's trace (the `traceparent` header of
//! the POST, or the request's `params._meta.traceparent`, which wins over the header), with
//! the engine's stages of a `tools/call` under it. A malformed trace context starts a new
//! trace and changes nothing else; no argument value is exported, and `_meta` never
//! becomes one of the call's arguments. The flag is parsed and checked as `aecl serve`'s.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};

use crate::mcp::{Setup, spawn_listening};
use crate::mcp_auth::INITIALIZE;
use crate::observability::{attribute, hex, receiver};

/// The only argument of every call: it must reach the server and never a span.
const MARKER: &str = "traced-argument-7781";

/// The trace the HTTP requests' `traceparent` headers name.
const HEADER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The trace the `_meta.traceparent` of one call names.
const META_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
/// The caller's spans the requests name as their parents.
const INITIALIZE_PARENT: &str = "00f067aa0ba902b7";
const CALL_PARENT: &str = "b7ad6b7169203331";
const META_PARENT: &str = "53995c3f42cd8ad8";
/// The header of the call whose `_meta` names another trace: not its parent.
const OVERRULED_PARENT: &str = "5fb397be34d26b51";

/// Every stage of an executed call, as `aecl_engine::stage` names them.
const STAGES: [&str; 9] =
    ["identify", "load_run", "decide", "admit", "place", "grant", "record", "dispatch", "finish"];

fn traceparent(trace: &str, parent: &str) -> String {
    format!("00-{trace}-{parent}-01")
}

/// One POST to the gateway's `/mcp`, with `headers` besides the usual ones: the status,
/// the head (lower-cased) and the body.
fn post(
    url: &str,
    token: &str,
    session: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let mut stream = TcpStream::connect(address).expect("connecting to the gateway");
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut extra: String =
        headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    if let Some(session) = session {
        extra.push_str(&format!("Mcp-Session-Id: {session}\r\n"));
    }
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n{extra}\
         Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n\
         MCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// The JSON-RPC message of an answer, sent as JSON or as one SSE `data:` line.
fn message(body: &str) -> Value {
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .chain(std::iter::once(body))
        .find_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {body:?}"))
}

/// A `tools/call` of the echo tool with `meta` as its `params._meta`.
fn echo_call(id: u32, meta: Option<Value>) -> String {
    let mut params = json!({"name": "echo", "arguments": {"text": MARKER}});
    if let Some(meta) = meta {
        params["_meta"] = meta;
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}).to_string()
}

fn string(value: &str) -> AnyValue {
    AnyValue::StringValue(value.to_owned())
}

/// The gateway's request spans of `method`.
fn requests<'a>(spans: &'a [Span], method: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| {
            s.name == "aecl.mcp" && attribute(s, "mcp.method.name") == Some(&string(method))
        })
        .collect()
}

/// The one `tools/call` span in `trace`.
fn call_in<'a>(spans: &'a [Span], trace: &str) -> &'a Span {
    let calls: Vec<&Span> =
        requests(spans, "tools/call").into_iter().filter(|s| hex(&s.trace_id) == trace).collect();
    assert_eq!(calls.len(), 1, "tools/call spans in trace {trace}: {calls:#?}");
    calls[0]
}

/// The names of the stages in `request`'s trace, each checked to descend from `request`.
fn stages_under(spans: &[Span], request: &Span) -> Vec<String> {
    let by_id: HashMap<&[u8], &Span> = spans.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let mut names = Vec::new();
    for stage in spans.iter().filter(|s| s.name == "aecl.stage" && s.trace_id == request.trace_id) {
        let mut parent = stage.parent_span_id.as_slice();
        let mut hops = 0;
        while parent != request.span_id.as_slice() {
            hops += 1;
            let above = by_id.get(parent).filter(|_| hops < 32);
            let above = above.unwrap_or_else(|| panic!("stage not under its request: {stage:#?}"));
            parent = above.parent_span_id.as_slice();
        }
        match attribute(stage, "stage") {
            Some(AnyValue::StringValue(name)) => names.push(name.clone()),
            other => panic!("a stage span without its stage: {other:?}"),
        }
    }
    names
}

#[test]
fn mcp_requests_are_spans_in_the_callers_trace_with_the_stages_under_them() {
    let setup = Setup::new();
    let token = setup.token("notes_agent", &setup.path().join("policy"));
    let (collector, received) = receiver();
    let mut extra = setup.listen_args();
    extra.extend(["--otlp-endpoint".to_owned(), collector]);
    let mut line = setup.gateway_with("run-traces", &extra, &setup.echo_server("Echoes its text."));
    let mut command = Command::new(line.remove(0));
    command.args(&line).env("OTEL_BSP_SCHEDULE_DELAY", "100");
    let (gateway, url) = spawn_listening(command);

    let initialize = traceparent(HEADER_TRACE, INITIALIZE_PARENT);
    let (status, head, body) = post(
        &url,
        &token,
        None,
        &[("traceparent", &initialize), ("tracestate", "vendor=1")],
        INITIALIZE,
    );
    assert_eq!(status, 200, "{head}\n{body}");
    let session = head
        .lines()
        .find_map(|l| l.strip_prefix("mcp-session-id:"))
        .map(|s| s.trim().to_owned())
        .expect("a session id");
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let (status, head, _) = post(&url, &token, Some(&session), &[], initialized);
    assert!(status == 202 || status == 200, "{head}");

    // The header's trace; the `_meta`'s trace over another header; a malformed `_meta`.
    let header = traceparent(HEADER_TRACE, CALL_PARENT);
    let overruled = traceparent(HEADER_TRACE, OVERRULED_PARENT);
    let meta =
        json!({"traceparent": traceparent(META_TRACE, META_PARENT), "tracestate": "vendor=2"});
    let calls = [
        (echo_call(2, None), vec![("traceparent", header.as_str())]),
        (echo_call(3, Some(meta)), vec![("traceparent", overruled.as_str())]),
        (echo_call(4, Some(json!({"traceparent": "00-not-a-trace-01"}))), vec![]),
    ];
    for (call, headers) in &calls {
        let (status, head, body) = post(&url, &token, Some(&session), headers, call);
        assert_eq!(status, 200, "{head}\n{body}");
        // The same answer whatever the trace context: the call was allowed and ran.
        let answer = message(&body);
        assert_ne!(answer["result"]["isError"], true, "{answer}");
        assert_eq!(answer["result"]["content"][0]["text"], MARKER, "{answer}");
    }

    // Spans arrive in batches, each request's after its stages (a span ends after its
    // children): gather until the four requests' spans are in.
    let mut spans: Vec<Span> = Vec::new();
    let complete = |spans: &[Span]| {
        let calls = requests(spans, "tools/call");
        !requests(spans, "initialize").is_empty()
            && [HEADER_TRACE, META_TRACE]
                .iter()
                .all(|t| calls.iter().any(|s| hex(&s.trace_id) == *t))
            && calls.iter().any(|s| s.parent_span_id.is_empty())
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) && !complete(&spans) {
        let Ok(export) = received.recv_timeout(Duration::from_millis(200)) else { continue };
        for resource in export.resource_spans {
            spans.extend(resource.scope_spans.into_iter().flat_map(|scope| scope.spans));
        }
    }
    let names: Vec<String> = spans
        .iter()
        .map(|s| {
            let what = attribute(s, "mcp.method.name").or_else(|| attribute(s, "stage"));
            let (trace, parent) = (hex(&s.trace_id), hex(&s.parent_span_id));
            format!("{} {what:?} {trace}/{parent} <- {}", s.name, hex(&s.span_id))
        })
        .collect();
    assert!(complete(&spans), "the requests' spans did not all arrive: {names:#?}");

    // `initialize`, continuing the header's trace under the caller's span.
    let init = requests(&spans, "initialize");
    assert_eq!(init.len(), 1, "{init:#?}");
    assert_eq!(hex(&init[0].trace_id), HEADER_TRACE, "{:#?}", init[0]);
    assert_eq!(hex(&init[0].parent_span_id), INITIALIZE_PARENT, "{:#?}", init[0]);

    // Each traced call: its caller's span as parent (the `_meta`'s, not the header's, when
    // both are there), the tool's exposed name, and every stage of the call under it.
    for (trace, parent) in [(HEADER_TRACE, CALL_PARENT), (META_TRACE, META_PARENT)] {
        let call = call_in(&spans, trace);
        assert_eq!(hex(&call.parent_span_id), parent, "{call:#?}");
        assert_eq!(attribute(call, "gen_ai.tool.name"), Some(&string("echo")), "{call:#?}");
        let stages = stages_under(&spans, call);
        for stage in STAGES {
            assert!(stages.iter().any(|s| s == stage), "no `{stage}` under the call: {stages:?}");
        }
    }
    // The malformed context: a new trace, its stages under the call as well.
    let fresh = requests(&spans, "tools/call");
    let fresh: Vec<&&Span> = fresh.iter().filter(|s| s.parent_span_id.is_empty()).collect();
    assert_eq!(fresh.len(), 1, "{fresh:#?}");
    let fresh_trace = hex(&fresh[0].trace_id);
    assert!(fresh_trace != HEADER_TRACE && fresh_trace != META_TRACE, "{fresh:#?}");
    assert!(stages_under(&spans, fresh[0]).iter().any(|s| s == "finish"));

    let everything = format!("{spans:?}");
    assert!(!everything.contains(MARKER), "an argument value was exported");
    drop(gateway);

    // `_meta` never became an argument: the three calls were the same call to the engine.
    let history = setup.history("run-traces:notes_agent");
    let args: Vec<&Value> =
        history.iter().filter(|e| e["type"] == "call").map(|e| &e["call"]["args"]).collect();
    assert_eq!(args, [&json!({"text": MARKER}); 3], "{history:#?}");
    assert_eq!(history.iter().filter(|e| e["type"] == "result").count(), 3, "{history:#?}");
}

/// `aecl mcp` takes the flag as `aecl serve` does, and refuses a collector URL it cannot
/// use before it starts anything.
#[test]
fn mcp_documents_and_checks_the_otlp_endpoint() {
    let help = crate::run(["mcp", "--help"]);
    assert!(help.stdout.contains("--otlp-endpoint"), "{help:#?}");
    let bad = crate::run([
        "mcp",
        "--policy",
        ".",
        "--key",
        "k",
        "--agent",
        "a",
        "--otlp-endpoint",
        "grpc://x",
        "--",
        "true",
    ]);
    assert_eq!(bad.code, Some(2), "{bad:#?}");
    assert!(bad.stderr.contains("--otlp-endpoint `grpc://x`"), "{bad:#?}");
}
