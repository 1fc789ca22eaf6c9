//! The `webhook` and `http` connectors against an HTTP server on 127.0.0.1 that records
//! what reaches it: the allowlist (hosts, ports, and the addresses a name resolves to),
//! `Idempotency-Key`, credential injection (never in clear text but to a loopback address
//! named exactly, never shown to the agent in any encoding), and which failures are
//! `failed` and which `outcome_unknown`.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use aecl_connectors::http::{HttpConfig, HttpConnector};
use aecl_connectors::secrets::Secrets;
use aecl_connectors::webhook::{WebhookConfig, WebhookConnector};
use aecl_engine::ConnectorOutcome;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{call, execute, failed, registry, succeeded};

/// One request as the server saw it: the request head (lower-cased) and the body.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: String,
}

/// How the test server answers.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Reads the request, then closes the connection without answering.
    Hangup,
}

/// A server on a free port of 127.0.0.1 answering every request with `answer` and
/// `body`; its address and the requests it received.
async fn server(answer: Answer, body: impl Into<String>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let body: String = body.into();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let (log, body) = (log.clone(), body.clone());
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, length) = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        buffer.drain(..end + 4);
                        break (head, length);
                    }
                };
                while buffer.len() < length {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                }
                log.lock()
                    .unwrap()
                    .push(Seen { head, body: String::from_utf8_lossy(&buffer).into_owned() });
                if let Answer::Status(status) = answer {
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    (address, seen)
}

/// The port of `address` (`127.0.0.1:PORT`).
fn port(address: &str) -> &str {
    address.rsplit_once(':').map(|(_, port)| port).unwrap()
}

fn webhook<S: AsRef<str>>(allow: &[S]) -> crate::Registry {
    let config = WebhookConfig {
        url: None,
        url_arg: "url".into(),
        body_arg: "body".into(),
        allow_hosts: allow.iter().map(|h| h.as_ref().to_owned()).collect(),
        timeout_secs: 5,
    };
    registry(vec![("hook", Arc::new(WebhookConnector::with(config).unwrap()))])
}

/// The `http` connector as `api` (and `api_read`), with `secrets`.
fn http<S: AsRef<str>>(allow: &[S], secrets: Secrets) -> crate::Registry {
    let config = HttpConfig {
        allow_hosts: allow.iter().map(|h| h.as_ref().to_owned()).collect(),
        method_arg: "method".into(),
        url_arg: "url".into(),
        headers_arg: "headers".into(),
        body_arg: "body".into(),
        timeout_secs: 5,
        max_response_bytes: 4096,
    };
    let connector = HttpConnector::with(config, Arc::new(secrets)).unwrap();
    registry(vec![("api", Arc::new(connector))])
}

const CREDENTIAL: &str = "Bearer sk_live_4eC39HqLyjWDarjtT1zd/abc";

/// The test agent's scope (`crm`) with `CREDENTIAL` as its `Authorization`.
fn crm_secrets() -> Secrets {
    let text = format!("[scopes.crm.headers]\nAuthorization = \"{CREDENTIAL}\"\n");
    Secrets::parse(&text, "secrets.toml").unwrap()
}

#[tokio::test]
async fn a_webhook_posts_once_with_the_idempotency_key_to_allowed_hosts_only() {
    let (address, seen) = server(Answer::Status(200), "ok").await;
    let registry = webhook(&[format!("127.0.0.1:{}", port(&address))]);
    let mut hook = call(
        "hook",
        json!({ "url": format!("http://{address}/hook"), "body": { "text": "deployed" } }),
    );
    hook.idempotency_key = Some("deploy-42".into());
    let outcome = registry.execute(&hook, "effect-1").await;
    assert_eq!(
        outcome,
        ConnectorOutcome::Succeeded { result: json!({ "status": 200 }), rollback_token: None }
    );
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].head.starts_with("post /hook "), "{}", requests[0].head);
    // The key is scoped to the agent and run (red team, 2026-11-30: another agent's call
    // with the same key was dropped by the receiver as a repeat).
    let forwarded = hook.forwarded_key().unwrap();
    assert!(forwarded.starts_with("aecl-") && forwarded.len() == 69, "{forwarded}");
    assert!(
        requests[0].head.contains(&format!("idempotency-key: {forwarded}")),
        "{}",
        requests[0].head
    );
    assert_eq!(requests[0].body, r#"{"text":"deployed"}"#);
    let mut other = hook.clone();
    other.run = "another-run".into();
    assert_ne!(other.forwarded_key(), Some(forwarded.clone()));
    other.run.clone_from(&hook.run);
    other.agent = "another-agent".into();
    assert_ne!(other.forwarded_key(), Some(forwarded.clone()));
    let retried = hook.clone();
    assert_eq!(retried.forwarded_key(), Some(forwarded), "a retry forwards the same key");

    // Without a key, the effect id is the key.
    let (outcome, effect) =
        execute(&registry, "hook", json!({ "url": format!("http://{address}/hook"), "body": {} }))
            .await;
    succeeded(&outcome);
    assert!(seen.lock().unwrap()[1].head.contains(&format!("idempotency-key: {}", effect.id)));

    // A host outside the allowlist is never contacted.
    let (outcome, _) = execute(
        &registry,
        "hook",
        json!({ "url": format!("http://localhost:{}/x", address.split(':').nth(1).unwrap()) }),
    )
    .await;
    assert!(failed(&outcome).starts_with("egress_denied"));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn refused_connections_fail_and_5xx_or_hangups_are_unknown() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (unavailable, _) = server(Answer::Status(503), "").await;
    let (hangup, seen) = server(Answer::Hangup, "").await;
    let (refusing, _) = server(Answer::Status(400), "").await;
    // Each port is named: an entry without one allows port 80 only.
    let registry =
        webhook(&[closed.to_string(), unavailable.clone(), hangup.clone(), refusing.clone()]);
    let (outcome, _) =
        execute(&registry, "hook", json!({ "url": format!("http://{closed}/") })).await;
    assert!(matches!(outcome, ConnectorOutcome::Failed { .. }), "{outcome:?}");

    let address = unavailable;
    let (outcome, _) =
        execute(&registry, "hook", json!({ "url": format!("http://{address}/") })).await;
    assert!(matches!(outcome, ConnectorOutcome::Unknown { .. }), "{outcome:?}");

    let address = hangup;
    let (outcome, _) =
        execute(&registry, "hook", json!({ "url": format!("http://{address}/") })).await;
    assert!(matches!(outcome, ConnectorOutcome::Unknown { .. }), "{outcome:?}");
    assert_eq!(seen.lock().unwrap().len(), 1, "it was sent");

    let address = refusing;
    let (outcome, _) =
        execute(&registry, "hook", json!({ "url": format!("http://{address}/") })).await;
    assert!(matches!(outcome, ConnectorOutcome::Failed { .. }), "{outcome:?}");
}

#[tokio::test]
async fn http_injects_the_scopes_credentials_and_never_returns_them() {
    // The server echoes the credential back in its body.
    let (address, seen) =
        server(Answer::Status(200), r#"{"echo":"Bearer s3cr3t-token-value"}"#).await;
    let secrets = Secrets::parse(
        "[scopes.crm.headers]\nAuthorization = \"Bearer s3cr3t-token-value\"\n",
        "secrets.toml",
    )
    .unwrap();
    assert!(!format!("{secrets:?}").contains("s3cr3t"));
    // Credentials in clear text go to a loopback address named exactly only.
    let registry = http(&[&address], secrets);
    let args = json!({
        "method": "post",
        "url": format!("http://{address}/v1/customers"),
        "headers": { "x-trace": "t1" },
        "body": { "name": "ada" },
    });
    let (outcome, effect) = execute(&registry, "api", args).await;
    let result = succeeded(&outcome);
    assert_eq!(result["status"], 200);
    assert!(!result.to_string().contains("s3cr3t"), "{result}");
    let request = seen.lock().unwrap()[0].clone();
    assert!(request.head.starts_with("post /v1/customers "));
    assert!(request.head.contains("authorization: bearer s3cr3t-token-value"), "{}", request.head);
    assert!(request.head.contains("x-trace: t1"));
    assert!(request.head.contains(&format!("idempotency-key: {}", effect.id)));
    assert_eq!(request.body, r#"{"name":"ada"}"#);

    // The agent cannot set credentials of its own.
    let args = json!({ "url": format!("http://{address}/"), "headers": { "Authorization": "Bearer mine" } });
    let (outcome, _) = execute(&registry, "api", args).await;
    assert!(failed(&outcome).contains("set by aecl only"));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_read_action_sends_only_reading_methods_and_no_webhook() {
    let (address, seen) = server(Answer::Status(200), "{}").await;
    let registry = http(&[&address], Secrets::default());
    let url = format!("http://{address}/v1/customers/1");
    for method in ["POST", "put", "DELETE", "PATCH", "TRACE", "CONNECT", "PURGE"] {
        let args = json!({ "method": method, "url": url, "body": "{}" });
        let (outcome, _) = execute(&registry, "api_read", args).await;
        let error = failed(&outcome);
        assert!(error.starts_with("operation_mismatch:"), "{method}: {error}");
    }
    // A method-override header asks the server for another method.
    for header in ["X-HTTP-Method-Override", "x-http-method", "X-Method-Override"] {
        let args = json!({ "method": "GET", "url": url, "headers": { header: "DELETE" } });
        let (outcome, _) = execute(&registry, "api_read", args).await;
        let error = failed(&outcome);
        assert!(error.starts_with("operation_mismatch:"), "{header}: {error}");
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
    for method in ["GET", "head", "OPTIONS"] {
        let (outcome, _) =
            execute(&registry, "api_read", json!({ "method": method, "url": url })).await;
        succeeded(&outcome);
    }
    assert_eq!(seen.lock().unwrap().len(), 3);
    // The same action declared `send` may post.
    let (outcome, _) = execute(&registry, "api", json!({ "method": "POST", "url": url })).await;
    succeeded(&outcome);

    let hooks = webhook(&[&address]);
    let (outcome, _) =
        execute(&hooks, "hook_read", json!({ "url": url, "body": { "text": "hi" } })).await;
    assert!(failed(&outcome).starts_with("operation_mismatch:"));
    assert_eq!(seen.lock().unwrap().len(), 4, "the webhook sent nothing");
}

#[tokio::test]
async fn a_port_the_allowlist_does_not_name_is_refused_before_connecting() {
    let (address, seen) = server(Answer::Status(200), "{}").await;
    // No port: 80 only for http (443 for https).
    let hooks = webhook(&["127.0.0.1"]);
    let (outcome, _) =
        execute(&hooks, "hook", json!({ "url": format!("http://{address}/") })).await;
    assert!(failed(&outcome).starts_with("egress_denied:"), "{outcome:?}");
    let api = http(&["127.0.0.1", "127.0.0.1:1"], crm_secrets());
    let (outcome, _) = execute(&api, "api", json!({ "url": format!("http://{address}/") })).await;
    assert!(failed(&outcome).starts_with("egress_denied:"), "{outcome:?}");
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn an_allowed_name_that_resolves_to_loopback_is_refused_unless_the_address_is_named() {
    let (address, seen) = server(Answer::Status(200), "{}").await;
    let port = port(&address);
    let url = format!("http://localhost:{port}/hook");
    // `localhost` is allowed by name, and resolves to loopback addresses.
    let hooks = webhook(&[format!("localhost:{port}")]);
    let (outcome, _) = execute(&hooks, "hook", json!({ "url": url })).await;
    let error = failed(&outcome);
    assert!(error.starts_with("egress_denied:") && error.contains("loopback"), "{error}");
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the server");
    // Named by address (and port), it is reached.
    let hooks = webhook(&[format!("localhost:{port}"), format!("127.0.0.1:{port}")]);
    let (outcome, _) = execute(&hooks, "hook", json!({ "url": url })).await;
    succeeded(&outcome);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn credentials_never_go_in_clear_text_but_to_a_loopback_address_named_exactly() {
    let (address, seen) = server(Answer::Status(200), "{}").await;
    let port = port(&address);
    let by_name = format!("http://localhost:{port}/");
    let by_address = format!("http://{address}/");
    // A name, even one that resolves to an allowed loopback address.
    let api = http(&[format!("localhost:{port}"), address.clone()], crm_secrets());
    let (outcome, _) = execute(&api, "api", json!({ "url": by_name })).await;
    let error = failed(&outcome);
    assert!(error.starts_with("egress_denied:") && error.contains("https"), "{error}");
    // An address allowed through a range, not named exactly.
    let api = http(&[format!("127.0.0.0/8:{port}")], crm_secrets());
    let (outcome, _) = execute(&api, "api", json!({ "url": by_address })).await;
    assert!(failed(&outcome).starts_with("egress_denied:"), "{outcome:?}");
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the server");
    // Without credentials to send, clear text is the server's business.
    let api = http(&[format!("localhost:{port}"), address.clone()], Secrets::default());
    succeeded(&execute(&api, "api", json!({ "url": by_name })).await.0);
    let request = seen.lock().unwrap()[0].clone();
    assert!(!request.head.contains("authorization"), "{}", request.head);
}

/// `CREDENTIAL` (or its token) as a server might echo it: re-encoded every which way.
fn echoed_encodings() -> Vec<(&'static str, String)> {
    let token = CREDENTIAL.split_once(' ').unwrap().1;
    let percent: String = CREDENTIAL.replace(' ', "%20").replace('/', "%2F");
    let json_escaped: String = token.chars().map(|c| format!("\\u{:04X}", u32::from(c))).collect();
    vec![
        ("base64", STANDARD.encode(CREDENTIAL)),
        ("base64 url-safe, unpadded", URL_SAFE_NO_PAD.encode(token)),
        ("base64 inside longer base64", STANDARD.encode(format!("{{\"auth\":\"{CREDENTIAL}\"}}"))),
        ("percent-encoded", percent.clone()),
        (
            "percent-encoded, lower-case hex, + for a space",
            percent.replace("%20", "+").replace("%2F", "%2f"),
        ),
        ("reversed", CREDENTIAL.chars().rev().collect()),
        ("hex", CREDENTIAL.bytes().map(|b| format!("{b:02x}")).collect()),
        ("JSON unicode escapes", json_escaped),
    ]
}

#[tokio::test]
async fn credentials_echoed_re_encoded_are_redacted_in_results_and_errors() {
    for (how, encoded) in echoed_encodings() {
        for status in [200, 403] {
            let body = format!("{{\"echo\":\"{encoded}\"}}");
            let (address, _) = server(Answer::Status(status), body).await;
            let api = http(&[&address], crm_secrets());
            let (outcome, _) =
                execute(&api, "api", json!({ "url": format!("http://{address}/") })).await;
            let shown = match &outcome {
                ConnectorOutcome::Succeeded { result, .. } => result.to_string(),
                ConnectorOutcome::Failed { error } => error.clone(),
                other => panic!("{how}: {other:?}"),
            };
            assert!(shown.contains("[redacted]"), "{how}, {status}: {shown}");
            let core = &encoded[encoded.len() / 4..encoded.len() * 3 / 4];
            assert!(!shown.contains(core), "{how}, {status}: {shown}");
            assert!(!shown.contains("sk_live"), "{how}, {status}: {shown}");
        }
    }
}
