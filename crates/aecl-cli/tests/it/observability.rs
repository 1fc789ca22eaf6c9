//! What an operator of `aecl serve` sees: the JSON log with one line per decision and per
//! approval answer (and never an argument's value), `/healthz` and `/metrics` after a
//! refused policy reload, plain text in a log file, and traces sent over OTLP/HTTP to a
//! receiver made here, continuing the caller's `traceparent`.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::Value;

use crate::serve::{issue, keys, request, serve};
use crate::{copy_dir, finance, run, temp_dir};

/// A value that must never reach the log: it is an argument of every call below.
const SECRET: &str = "DE89370400440532013000";

fn transfer(address: &str, token: &str, id: &str) -> Value {
    let call = format!(
        r#"{{"run":"r1","id":"{id}","action":"transfer_funds","args":{{"vendor":"V-100","iban":"{SECRET}","amount":1200,"currency":"EUR"}}}}"#
    );
    let (status, answer) = request(address, "POST", "/v1/execute", Some(token), &[], &call);
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The JSON lines of `serve.log` whose target is `target`.
fn lines_of(dir: &std::path::Path, target: &str) -> Vec<Value> {
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == target)
        .collect()
}

/// Waits (up to 10 s) until `done` holds for the log.
fn wait_for_log(dir: &std::path::Path, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
        if done(&log) || start.elapsed() > Duration::from_secs(10) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_json_log_has_a_line_per_decision_and_approval_answer_and_no_argument_value() {
    let dir = temp_dir();
    keys(dir.path());
    let policy = finance().display().to_string();
    let agent = issue(dir.path(), &["--agent", "finance_agent", "--policy", &policy]);
    let approver = issue(dir.path(), &["--approver", "alice"]);
    let admin = issue(dir.path(), &["--admin", "ops"]);
    let (_server, address) = serve(dir.path(), &policy, &["--log-format", "json"]);

    let asked = transfer(&address, &agent, "c1");
    assert_eq!(asked["decision"], "require_approval", "{asked}");
    let id = asked["approval_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/approvals/{id}/approve");
    let body = r#"{"reason":"invoice 42"}"#;
    let (status, answer) = request(&address, "POST", &path, Some(&approver), &[], body);
    assert_eq!(status, 200, "{answer}");
    let done = transfer(&address, &agent, "c2");
    assert_eq!(done["decision"], "allow", "{done}");

    let log = wait_for_log(dir.path(), |log| log.matches("aecl::decision").count() >= 2);
    let decisions = lines_of(dir.path(), "aecl::decision");
    assert_eq!(decisions.len(), 2, "{log}");
    let first = &decisions[0];
    assert_eq!(first["level"], "INFO", "{first}");
    assert_eq!(first["run"], "r1", "{first}");
    assert_eq!(first["call"], "c1", "{first}");
    assert_eq!(first["agent"], "finance_agent", "{first}");
    assert_eq!(first["action"], "transfer_funds", "{first}");
    assert_eq!(first["decision"], "require_approval", "{first}");
    assert_eq!(first["approval_id"], id.as_str(), "{first}");
    assert!(!first["rules"].as_str().unwrap().is_empty(), "no deciding rule: {first}");
    assert!(first["latency_ms"].as_f64().unwrap() >= 0.0, "{first}");
    assert!(first["policy_revision"].as_str().is_some_and(|r| r.len() > 8), "{first}");
    let second = &decisions[1];
    assert_eq!((second["call"].as_str(), second["decision"].as_str()), (Some("c2"), Some("allow")));
    assert_eq!(second["rules"], "approval.granted", "{second}");

    let answers = lines_of(dir.path(), "aecl::approval");
    assert_eq!(answers.len(), 1, "{log}");
    let answer = &answers[0];
    assert_eq!(answer["approval_id"], id.as_str(), "{answer}");
    assert_eq!(answer["outcome"], "approved", "{answer}");
    assert_eq!(answer["by"], "alice", "{answer}");
    assert_eq!(
        (answer["call"].as_str(), answer["agent"].as_str()),
        (Some("c1"), Some("finance_agent"))
    );
    assert!(answer["waited_ms"].as_u64().is_some(), "{answer}");

    // The same answers in /metrics: by outcome, with the wait, and the execution's state
    // (`failed`: this server has no connectors).
    let text = metrics(&address, &admin);
    assert!(text.contains(r#"aecl_approvals_answered_total{outcome="approved"} 1"#), "{text}");
    assert!(text.contains(r#"aecl_approval_wait_seconds_count{outcome="approved"} 1"#), "{text}");
    assert!(text.contains(r#"aecl_executions_total{state="failed"} 1"#), "{text}");

    // Every line is JSON, and no line carries the argument's value (nor the approver's
    // or agent's token).
    for line in log.lines() {
        assert!(serde_json::from_str::<Value>(line).is_ok(), "not JSON: {line}");
    }
    assert!(!log.contains(SECRET), "an argument value reached the log:\n{log}");
    assert!(!log.contains(&agent) && !log.contains(&approver), "a token reached the log");
}

/// The text log escapes what agents name: a line break in an action's name cannot forge
/// an approval line, nor a terminal escape hide the rest of its line (the red team's F3,
/// stop 50). A run or call id holding one is refused before anything is decided (round 29,
/// tamper L1), and the refusal's own line escapes it too.
#[test]
fn the_text_log_escapes_control_characters_from_agents() {
    let dir = temp_dir();
    keys(dir.path());
    let policy = finance().display().to_string();
    let agent = issue(dir.path(), &["--agent", "finance_agent", "--policy", &policy]);
    let (_server, address) = serve(dir.path(), &policy, &[]);
    let forged = "r1\n2026-11-28T00:00:00.000000Z  INFO aecl::approval: approval outcome=\"approved\" by=\"alice\"";
    let call = |run: &str, id: &str, action: &str| {
        serde_json::json!({ "run": run, "id": id, "action": action, "args": {"invoice_id": "INV-1"} })
            .to_string()
    };
    let evaluate =
        |body: String| request(&address, "POST", "/v1/evaluate", Some(&agent), &[], &body);
    for body in [call(forged, "c1", "read_invoice"), call("r1", "c1\u{1b}[8m", "read_invoice")] {
        let (status, answer) = evaluate(body);
        assert_eq!(status, 400, "{answer}");
        assert!(answer.to_string().contains("control"), "{answer}");
    }
    // An action's name is the agent's text too: an unknown one is decided (blocked).
    let (status, answer) = evaluate(call("r1", "c2", &format!("{forged}\u{1b}[8m")));
    assert_eq!(status, 200, "{answer}");
    let log = wait_for_log(dir.path(), |log| log.contains("aecl::decision"));
    let decision: Vec<&str> = log.lines().filter(|l| l.contains("aecl::decision")).collect();
    assert_eq!(decision.len(), 1, "{log}");
    assert!(decision[0].contains("\\n2026-11-28") && decision[0].contains("\\u{1b}[8m"), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("2026-11-28T00:00:00")), "a forged line:\n{log}");
    assert!(!log.contains('\u{1b}'), "a raw escape reached the log:\n{log:?}");
}

#[test]
fn a_refused_reload_makes_healthz_degraded_and_is_counted_until_a_good_one() {
    let dir = temp_dir();
    keys(dir.path());
    let policy_dir = dir.path().join("policy");
    copy_dir(&finance(), &policy_dir);
    let policy = policy_dir.display().to_string();
    let admin = issue(dir.path(), &["--admin", "ops"]);
    let (_server, address) = serve(dir.path(), &policy, &["--watch-interval", "1"]);
    let health = || request(&address, "GET", "/healthz", None, &[], "");
    let (status, body) = health();
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "{body}");
    assert!(body.get("warnings").is_none(), "{body}");

    let catalog = policy_dir.join("catalog.toml");
    let good = std::fs::read_to_string(&catalog).unwrap();
    std::fs::write(&catalog, format!("{good}\n[actions.broken\n")).unwrap();
    let degraded = wait_until(|| {
        let (status, body) = health();
        (body["status"] == "degraded").then_some((status, body))
    });
    let (status, body) = degraded.expect("healthz never turned degraded after a broken reload");
    assert_eq!(status, 200, "degraded is still serving: {body}");
    let warning = body["warnings"][0].as_str().unwrap();
    assert!(warning.contains("reload was refused") && warning.contains("catalog.toml"), "{body}");
    assert!(body["policy_reload_error"].is_string(), "{body}");

    let metrics = || metrics(&address, &admin);
    let text = metrics();
    assert!(text.contains(r#"aecl_policy_reloads_total{result="refused"} 1"#), "{text}");
    assert!(text.contains("aecl_policy_reload_failing 1"), "{text}");
    assert!(text.contains("aecl_store_healthy 1"), "{text}");

    // Mended: ok again, and the gauge falls back.
    std::fs::write(&catalog, &good).unwrap();
    let healed = wait_until(|| (health().1["status"] == "ok").then_some(()));
    assert!(healed.is_some(), "healthz stayed degraded after a good reload");
    let text = metrics();
    assert!(text.contains("aecl_policy_reload_failing 0"), "{text}");
    assert!(text.contains(r#"aecl_policy_reloads_total{result="unchanged"} 1"#), "{text}");

    // A text log written to a file has no colour codes.
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(log.contains("policy reload refused"), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI codes in a log file:\n{log}");
}

/// The Prometheus text of `/metrics`, read with an admin token.
fn metrics(address: &str, admin: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

fn wait_until<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if let Some(found) = probe() {
            return Some(found);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn help_documents_the_log_filter_variable_and_format() {
    let out = run(["--help"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("AECL_LOG") && out.stdout.contains("--log-format"), "{out:#?}");
    let serve = run(["serve", "--help"]);
    assert!(serve.stdout.contains("--otlp-endpoint"), "{serve:#?}");
    let bad = run([
        "serve",
        "--policy",
        ".",
        "--key",
        "k",
        "--token-key",
        "t",
        "--otlp-endpoint",
        "grpc://x",
    ]);
    assert_eq!(bad.code, Some(2), "{bad:#?}");
    assert!(bad.stderr.contains("--otlp-endpoint"), "{bad:#?}");
}

/// A collector on loopback: every `POST /v1/traces` body decoded and sent to the test.
pub(crate) fn receiver() -> (String, mpsc::Receiver<ExportTraceServiceRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let sender = sender.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let sender = sender.clone();
                            async move {
                                let path = req.uri().path().to_owned();
                                let bytes = req.into_body().collect().await?.to_bytes();
                                if path == "/v1/traces"
                                    && let Ok(export) = ExportTraceServiceRequest::decode(bytes)
                                {
                                    let _ = sender.send(export);
                                }
                                Ok::<_, hyper::Error>(hyper::Response::new(
                                    http_body_util::Full::new(hyper::body::Bytes::new()),
                                ))
                            }
                        },
                    );
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
    });
    (format!("http://{address}"), received)
}

pub(crate) fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()?.value.as_ref())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn spans_reach_an_otlp_receiver_under_the_callers_trace() {
    let dir = temp_dir();
    keys(dir.path());
    let policy = finance().display().to_string();
    let agent = issue(dir.path(), &["--agent", "finance_agent", "--policy", &policy]);
    let (collector, received) = receiver();
    let (_server, address) = crate::serve::serve_env(
        dir.path(),
        &policy,
        &["--otlp-endpoint", &collector],
        &[("OTEL_BSP_SCHEDULE_DELAY", "100")],
    );
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{parent_span}-01");
    let call = r#"{"run":"r1","id":"c1","action":"read_invoice","args":{"invoice_id":"INV-7781"}}"#;
    let headers = [("traceparent", traceparent.as_str())];
    let (status, answer) = request(&address, "POST", "/v1/evaluate", Some(&agent), &headers, call);
    assert_eq!((status, answer["decision"].as_str()), (200, Some("allow")), "{answer}");

    // Spans arrive in batches; gather until the request's and the decide stage's are in.
    let mut spans: Vec<Span> = Vec::new();
    let stage_named = |span: &Span, name: &str| {
        span.name == "aecl.stage"
            && attribute(span, "stage") == Some(&AnyValue::StringValue(name.to_owned()))
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20)
        && !(spans.iter().any(|s| s.name == "POST /v1/evaluate")
            && spans.iter().any(|s| stage_named(s, "decide")))
    {
        let Ok(export) = received.recv_timeout(Duration::from_millis(200)) else { continue };
        for resource in export.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name").cloned());
            assert!(format!("{service:?}").contains("aecl"), "{service:?}");
            spans.extend(resource.scope_spans.into_iter().flat_map(|scope| scope.spans));
        }
    }
    let names: Vec<&String> = spans.iter().map(|s| &s.name).collect();
    let request_span = spans
        .iter()
        .find(|s| s.name == "POST /v1/evaluate")
        .unwrap_or_else(|| panic!("no request span: {names:?}"));
    assert_eq!(
        hex(&request_span.trace_id),
        trace_id,
        "the request span is not in the caller's trace"
    );
    assert_eq!(hex(&request_span.parent_span_id), parent_span);
    assert_eq!(
        attribute(request_span, "http.response.status_code"),
        Some(&AnyValue::IntValue(200)),
        "{request_span:?}"
    );
    // Every stage of the call is a span of the caller's trace, inside the request.
    let stages: Vec<&Span> = spans.iter().filter(|s| s.name == "aecl.stage").collect();
    let decide = stages.iter().find(|s| stage_named(s, "decide"));
    let decide = decide.unwrap_or_else(|| panic!("no decide stage: {stages:?}"));
    assert_eq!(attribute(decide, "call"), Some(&AnyValue::StringValue("c1".to_owned())));
    for stage in &stages {
        assert_eq!(hex(&stage.trace_id), trace_id, "{stage:?}");
        assert!(stage.start_time_unix_nano >= request_span.start_time_unix_nano, "{stage:?}");
        assert!(stage.end_time_unix_nano <= request_span.end_time_unix_nano, "{stage:?}");
    }
    // The decision line rode along as an event (of the stage that recorded it), without
    // the argument's value.
    let decision = spans.iter().flat_map(|s| &s.events).find(|e| e.name == "decision");
    let decision = decision.unwrap_or_else(|| panic!("no decision event: {spans:?}"));
    assert!(format!("{decision:?}").contains("read_invoice"), "{decision:?}");
    let everything = format!("{spans:?}");
    assert!(!everything.contains("INV-7781"), "an argument value was exported");
}
