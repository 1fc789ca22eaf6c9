//! The `webhook` and `http` connectors against an HTTP server on 127.0.0.1 that records
//! what reaches it: the allowlist, `Idempotency-Key`, credential injection (never shown
//! to the agent), and which failures are `failed` and which `outcome_unknown`.

use std::sync::{Arc, Mutex};

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
/// `body`; the requests it received.
async fn server(answer: Answer, body: &'static str) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let log = log.clone();
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

fn webhook(allow: &[&str]) -> crate::Registry {
    let config = WebhookConfig {
        url: None,
        url_arg: "url".into(),
        body_arg: "body".into(),
        allow_hosts: allow.iter().map(|h| (*h).to_owned()).collect(),
        timeout_secs: 5,
    };
    registry(vec![("hook", Arc::new(WebhookConnector::with(config).unwrap()))])
}

#[tokio::test]
async fn a_webhook_posts_once_with_the_idempotency_key_to_allowed_hosts_only() {
    let (address, seen) = server(Answer::Status(200), "ok").await;
    let registry = webhook(&["127.0.0.1"]);
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
    assert!(requests[0].head.contains("idempotency-key: deploy-42"), "{}", requests[0].head);
    assert_eq!(requests[0].body, r#"{"text":"deployed"}"#);

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
    let registry = webhook(&["127.0.0.1"]);
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (outcome, _) =
        execute(&registry, "hook", json!({ "url": format!("http://{closed}/") })).await;
    assert!(matches!(outcome, ConnectorOutcome::Failed { .. }), "{outcome:?}");

    let (address, _) = server(Answer::Status(503), "").await;
    let (outcome, _) =
        execute(&registry, "hook", json!({ "url": format!("http://{address}/") })).await;
    assert!(matches!(outcome, ConnectorOutcome::Unknown { .. }), "{outcome:?}");

    let (address, seen) = server(Answer::Hangup, "").await;
    let (outcome, _) =
        execute(&registry, "hook", json!({ "url": format!("http://{address}/") })).await;
    assert!(matches!(outcome, ConnectorOutcome::Unknown { .. }), "{outcome:?}");
    assert_eq!(seen.lock().unwrap().len(), 1, "it was sent");

    let (address, _) = server(Answer::Status(400), "").await;
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
    let config = HttpConfig {
        allow_hosts: vec!["127.0.0.1".into()],
        method_arg: "method".into(),
        url_arg: "url".into(),
        headers_arg: "headers".into(),
        body_arg: "body".into(),
        timeout_secs: 5,
        max_response_bytes: 4096,
    };
    let connector = HttpConnector::with(config, Arc::new(secrets)).unwrap();
    let registry = registry(vec![("api", Arc::new(connector))]);
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
    let config = HttpConfig {
        allow_hosts: vec!["127.0.0.1".into()],
        method_arg: "method".into(),
        url_arg: "url".into(),
        headers_arg: "headers".into(),
        body_arg: "body".into(),
        timeout_secs: 5,
        max_response_bytes: 4096,
    };
    let connector = HttpConnector::with(config, Arc::new(Secrets::default())).unwrap();
    let registry = registry(vec![("api", Arc::new(connector))]);
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

    let hooks = webhook(&["127.0.0.1"]);
    let (outcome, _) =
        execute(&hooks, "hook_read", json!({ "url": url, "body": { "text": "hi" } })).await;
    assert!(failed(&outcome).starts_with("operation_mismatch:"));
    assert_eq!(seen.lock().unwrap().len(), 4, "the webhook sent nothing");
}
