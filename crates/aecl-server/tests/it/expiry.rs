//! `[runs]` on a live server: a run idle past `idle_expiry` (by the engine's clock, here a
//! manual one), or pushed out by `max_open_runs`, gets a recorded `expired` event and audit
//! record, and a later call in it is decided on the run as expiry left it: control values it
//! can no longer trace are untrusted. The decisions agree with `aecl replay` on the same
//! trace.

use std::sync::Arc;

use aecl_core::Timestamp;
use aecl_core::run_bounds::RunLimits;
use aecl_engine::identity::Role;
use aecl_engine::{Clock, Engine, EngineConfig, ManualClock};
use aecl_policy::replay::Replayer;
use aecl_policy::trace::{TraceEvent, parse_event};
use aecl_server::{AppState, ServerConfig};
use aecl_store::{AuditConfig, SqliteStore};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::support::{AUDIT_ORIGIN, finance_policy, token_at, token_key};

const START: Timestamp = Timestamp(1_800_000_000_000);

const READ: &str =
    r#"{"type":"call","run":"r1","id":"c1","action":"read_invoice","args":{"invoice_id":"INV-1"}}"#;
const RESULT: &str = r#"{"type":"result","run":"r1","id":"c1","output":{"invoice_id":"INV-1","vendor":"V-118","amount":4200,"currency":"EUR","iban":"DE44500105175407324931"}}"#;
const OTHER: &str =
    r#"{"type":"call","run":"r2","id":"c1","action":"read_invoice","args":{"invoice_id":"INV-2"}}"#;
const PAY: &str = r#"{"type":"call","run":"r1","id":"c2","action":"transfer_funds","args":{"vendor":"V-118","amount":4200,"currency":"EUR","iban":"DE44500105175407324931"}}"#;

/// A server whose engine reads `clock` and applies `limits`.
struct Live {
    base: String,
    clock: Arc<ManualClock>,
    token: String,
    admin: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    _dir: tempfile::TempDir,
}

async fn start(limits: RunLimits) -> Live {
    let dir = tempfile::TempDir::new().unwrap();
    let audit = AuditConfig {
        origin: AUDIT_ORIGIN.to_owned(),
        signer: aecl_audit::SignerKey::from_seed(AUDIT_ORIGIN, [0x42; 32]).unwrap(),
        publish: None,
    };
    let store = SqliteStore::open(&dir.path().join("aecl.db"), audit).unwrap();
    let clock = Arc::new(ManualClock::new(START));
    let config = EngineConfig { runs: limits, ..EngineConfig::default() };
    let engine = Engine::new(Arc::new(store), finance_policy(), clock.clone(), config);
    let engine = Arc::new(engine);
    let server_config =
        ServerConfig { audit_key: AUDIT_ORIGIN.to_owned(), ..ServerConfig::default() };
    let as_clock: Arc<dyn Clock> = clock.clone();
    let connector = Arc::new(aecl_server::NotConfigured);
    let state = AppState::new(engine, token_key().verifier(), as_clock, connector, server_config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(aecl_server::serve(listener, Arc::new(state), std::future::pending()));
    // Tokens outlive the manual clock's moves (a few minutes).
    let token = token_at("finance_agent", Role::Agent, START, 3600);
    let admin = token_at("root", Role::Admin, START, 3600);
    let client = Client::builder(TokioExecutor::new()).build_http();
    Live { base, clock, token, admin, client, _dir: dir }
}

impl Live {
    async fn send(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Value {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.map(Value::to_string).unwrap_or_default())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_slice(&bytes).unwrap_or(Value::String(text))
    }

    /// Sends one trace line as the API takes it: a call to `/v1/evaluate` (its answer
    /// returned), a result or user event to the run's events.
    async fn apply(&self, line: &str) -> Option<Value> {
        let mut event: Value = serde_json::from_str(line).unwrap();
        let kind = event["type"].as_str().unwrap().to_owned();
        let run = event["run"].as_str().unwrap().to_owned();
        if kind == "call" {
            event.as_object_mut().unwrap().remove("type");
            return Some(self.send("POST", "/v1/evaluate", &self.token, Some(&event)).await);
        }
        self.send("POST", &format!("/v1/runs/{run}/events"), &self.token, Some(&event)).await;
        None
    }

    async fn audit(&self) -> Vec<Value> {
        let answer = self.send("GET", "/v1/audit/records?since=0", &self.admin, None).await;
        answer["records"].as_array().unwrap().iter().map(|r| r["record"].clone()).collect()
    }

    async fn expiries(&self) -> Vec<(String, String)> {
        self.audit()
            .await
            .iter()
            .filter(|r| r["kind"] == "run" && r["input"]["expired"] == true)
            .map(|r| (r["run"].as_str().unwrap().to_owned(), r["input"]["reason"].to_string()))
            .collect()
    }

    async fn metrics(&self) -> String {
        let answer = self.send("GET", "/metrics", &self.admin, None).await;
        answer.as_str().unwrap_or_default().to_owned()
    }
}

fn limits(idle_secs: Option<u64>, max_open_runs: usize) -> RunLimits {
    RunLimits { idle_expiry_secs: idle_secs, max_open_runs, max_state_bytes: 1 << 30 }
}

fn held(answer: &Value) -> bool {
    answer["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["rule"] == "data_flow.untrusted_control_argument")
}

/// The decisions `aecl replay` gives the same lines under `limits`.
fn replayed(lines: &[&str], limits: RunLimits) -> Vec<(String, bool)> {
    let policy = finance_policy();
    let mut replayer =
        Replayer::new(&policy, Some("finance_agent".to_owned()), START).with_limits(limits);
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let event: TraceEvent = parse_event(line, i + 1).unwrap();
        if let Some(decided) = replayer.apply(&event).unwrap() {
            let line = serde_json::to_value(aecl_protocol::DecisionLine::from(&decided)).unwrap();
            out.push((line["decision"].as_str().unwrap().to_owned(), held(&line)));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_run_expires_on_its_next_call_recorded_and_failing_closed() {
    let live = start(limits(Some(60), 100)).await;
    live.apply(READ).await;
    live.apply(RESULT).await;
    // Within idle_expiry the run keeps its history: the IBAN is the trusted invoice's.
    live.clock.advance_ms(60_000);
    let kept = live.apply(&PAY.replace("c2", "c2a")).await.unwrap();
    assert!(!held(&kept), "{kept}");
    assert!(live.expiries().await.is_empty());
    // One millisecond past it (from the last event), the next call finds the run expired.
    live.clock.advance_ms(60_001);
    let answer = live.apply(PAY).await.unwrap();
    assert!(held(&answer), "{answer}");
    let text = answer.to_string();
    assert!(text.contains("history lost when run `r1` expired (idle)"), "{text}");
    // The expiry is recorded before the call's decision, in the audit log and the run.
    let records = live.audit().await;
    let expired = records
        .iter()
        .position(|r| r["kind"] == "run" && r["input"]["expired"] == true)
        .expect("an expired record");
    assert_eq!(records[expired]["input"]["reason"], "idle");
    let decided = records.iter().position(|r| r["kind"] == "decision" && r["call_id"] == "c2");
    assert!(decided.is_some_and(|d| d > expired), "{records:?}");
    let run = live.send("GET", "/v1/runs/r1", &live.token, None).await;
    let kinds: Vec<&str> =
        run["events"].as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(kinds.contains(&"expired"), "{run}");
    assert!(live.metrics().await.contains(r#"aecl_runs_expired_total{reason="idle"} 1"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_sweep_expires_a_run_nothing_touches_again() {
    let live = start(limits(Some(60), 100)).await;
    live.apply(READ).await;
    live.clock.advance_ms(61_000);
    // No call: the server's sweep (every second) records it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let expiries = live.expiries().await;
        if !expiries.is_empty() {
            assert_eq!(expiries, vec![("r1".to_owned(), "\"idle\"".to_owned())]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no expiry recorded by the sweep");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Recorded once: later sweeps find nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(live.expiries().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_past_max_open_runs_expire_least_recently_used_first_as_replay_does() {
    let limits = limits(None, 1);
    let live = start(limits).await;
    let trace = [READ, RESULT, OTHER, PAY];
    let mut decisions = Vec::new();
    for line in trace {
        if let Some(answer) = live.apply(line).await {
            decisions.push((answer["decision"].as_str().unwrap().to_owned(), held(&answer)));
        }
    }
    // `r2` pushed `r1` out; `r1`'s payment then pushed `r2` out.
    assert_eq!(
        live.expiries().await,
        vec![
            ("r1".to_owned(), "\"max_open_runs\"".to_owned()),
            ("r2".to_owned(), "\"max_open_runs\"".to_owned())
        ]
    );
    assert!(decisions[2].1, "the payment is held: r1 lost its history ({decisions:?})");
    assert_eq!(decisions, replayed(&trace, limits), "server and replay agree");
    let metrics = live.metrics().await;
    assert!(metrics.contains(r#"aecl_runs_expired_total{reason="max_open_runs"} 2"#), "{metrics}");
    // Without the bound, neither holds the payment.
    let open = start(self::limits(None, 100)).await;
    let mut kept = Vec::new();
    for line in trace {
        if let Some(answer) = open.apply(line).await {
            kept.push((answer["decision"].as_str().unwrap().to_owned(), held(&answer)));
        }
    }
    assert!(!kept[2].1, "{kept:?}");
    assert_eq!(kept, replayed(&trace, self::limits(None, 100)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_expiry_decides_as_a_replayed_expired_event() {
    let live = start(limits(Some(60), 100)).await;
    let mut server = Vec::new();
    for line in [READ, RESULT] {
        live.apply(line).await;
    }
    live.clock.advance_ms(61_000);
    let answer = live.apply(PAY).await.unwrap();
    server.push((answer["decision"].as_str().unwrap().to_owned(), held(&answer)));
    let expired = r#"{"type":"expired","run":"r1","reason":"idle"}"#;
    let replay = replayed(&[READ, RESULT, expired, PAY], limits(None, 100));
    assert_eq!(server, replay[1..].to_vec());
}
