//! Webhook notifications of approval requests: a receiver that fails twice gets the
//! Slack-compatible body on the third try, with the link to the request's page; a
//! receiver that refuses with a 4xx is not retried.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aecl_server::{ServerConfig, Webhook, WebhookConfig};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{AUDIT_ORIGIN, Backend, agent, call, start_notifying};

on_both!(a_request_is_announced_and_retried_with_backoff);

/// A receiver that answers `statuses` in turn (then 200) and keeps what it got.
async fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(statuses.into_iter()));
    let app = {
        let got = got.clone();
        Router::new().route(
            "/hook",
            post(move |body: axum::Json<Value>| {
                let (got, answers) = (got.clone(), answers.clone());
                async move {
                    got.lock().unwrap().push(body.0);
                    let status = answers.lock().unwrap().next().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

fn webhook(url: &str) -> Arc<Webhook> {
    let mut config = WebhookConfig::new(url.parse().unwrap(), "https://aecl.example".to_owned());
    config.first_backoff = Duration::from_millis(20);
    config.attempts = 4;
    Arc::new(Webhook::new(config).unwrap())
}

/// Waits until `got` holds `n` bodies (or 10 s pass), then a little longer to see that no
/// more come.
async fn bodies(got: &Mutex<Vec<Value>>, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    got.lock().unwrap().clone()
}

async fn ask(server: &crate::support::Server, run: &str) -> String {
    let args = json!({"vendor": "V-100", "iban": "DE89370400440532013000", "amount": 1200, "currency": "EUR"});
    let asked =
        server.post("/v1/execute", Some(&agent()), &call(run, "c1", "transfer_funds", args)).await;
    assert_eq!(asked.body["decision"], "require_approval", "{}", asked.text);
    asked.body["approval_id"].as_str().unwrap().to_owned()
}

async fn a_request_is_announced_and_retried_with_backoff(backend: Backend) {
    let config = ServerConfig { audit_key: AUDIT_ORIGIN.to_owned(), ..ServerConfig::default() };

    let (url, got) = receiver(vec![503, 500]).await;
    let server = start_notifying(backend, config.clone(), Some(webhook(&url))).await;
    let id = ask(&server, "r1").await;
    let got = bodies(&got, 3).await;
    assert_eq!(got.len(), 3, "two failures, then delivered, then nothing more: {got:?}");
    assert!(got.iter().all(|b| b == &got[0]), "every try sends the same body");
    let text = got[0]["text"].as_str().unwrap();
    assert!(text.contains(&format!("https://aecl.example/ui/approvals/{id}")), "{text}");
    assert!(text.contains("`transfer_funds` by `finance_agent`"), "{text}");
    assert_eq!(
        got[0]["blocks"][1]["elements"][0]["url"],
        format!("https://aecl.example/ui/approvals/{id}")
    );
    assert!(!got[0].to_string().contains("DE89370400440532013000"), "no arguments in chat");

    // A 4xx is the receiver's final word: not retried.
    let (url, refused) = receiver(vec![404]).await;
    let server = start_notifying(backend, config, Some(webhook(&url))).await;
    ask(&server, "r2").await;
    assert_eq!(bodies(&refused, 1).await.len(), 1);
}
