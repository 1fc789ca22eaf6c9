//! Webhook notifications of new approval requests: a Slack-compatible JSON body (`text`
//! for any receiver, `blocks` for Slack) with a link to the request on the approvals page,
//! posted over HTTP or HTTPS and retried with exponential backoff.
//!
//! The body names the action, the agent, the run, the risk score and the expiry, never the
//! arguments: a chat channel is not the place for a payee's account or a customer's data,
//! and the page shows them to those who sign in. Retries: on a connection error, a timeout,
//! a 429 or a 5xx; another 4xx is the receiver saying no, logged and not retried. Each
//! request is sent on a task of its own, so a slow receiver never delays a decision.

use std::sync::Arc;
use std::time::Duration;

use aecl_engine::{Approval, Notifier};
use axum::http::{Request, StatusCode, Uri, header};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// How a webhook is sent and retried.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Where the body is posted (`http://` or `https://`).
    pub url: Uri,
    /// This server's address as approvers reach it, for the links (`https://aecl.example`).
    pub public_url: String,
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The wait before the first retry; doubled before each next one.
    pub first_backoff: Duration,
    /// The longest one attempt may take.
    pub timeout: Duration,
}

impl WebhookConfig {
    pub fn new(url: Uri, public_url: String) -> WebhookConfig {
        WebhookConfig {
            url,
            public_url,
            attempts: 6,
            first_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Could not build the webhook's HTTPS client.
#[derive(Debug, thiserror::Error)]
#[error("the webhook's TLS set-up failed (system root certificates): {0}")]
pub struct WebhookError(#[from] std::io::Error);

/// Posts a notification of each new approval request.
#[derive(Debug, Clone)]
pub struct Webhook {
    config: Arc<WebhookConfig>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Webhook {
    /// A webhook trusting the system's root certificates. Needs a Tokio runtime when a
    /// notification is sent.
    pub fn new(config: WebhookConfig) -> Result<Webhook, WebhookError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Webhook { config: Arc::new(config), client })
    }

    /// Sends `body`, retrying as configured. Returns whether a receiver accepted it.
    async fn deliver(&self, approval_id: &str, body: Bytes) -> bool {
        let config = &self.config;
        let mut backoff = config.first_backoff;
        for attempt in 1..=config.attempts {
            let request = Request::post(config.url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()));
            let request = match request {
                Ok(request) => request,
                Err(error) => {
                    tracing::error!(%error, "the webhook request could not be built");
                    return false;
                }
            };
            let outcome = tokio::time::timeout(config.timeout, self.client.request(request)).await;
            let retry = match outcome {
                Ok(Ok(response)) if response.status().is_success() => {
                    tracing::info!(approval = approval_id, attempt, "approval notification sent");
                    return true;
                }
                Ok(Ok(response)) => {
                    let status = response.status();
                    tracing::warn!(approval = approval_id, attempt, %status, "webhook refused the notification");
                    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
                }
                Ok(Err(error)) => {
                    tracing::warn!(approval = approval_id, attempt, %error, "webhook unreachable");
                    true
                }
                Err(_) => {
                    tracing::warn!(approval = approval_id, attempt, "webhook timed out");
                    true
                }
            };
            if !retry || attempt == config.attempts {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
        tracing::error!(approval = approval_id, "the approval notification was not delivered");
        false
    }
}

impl Notifier for Webhook {
    fn approval_requested(&self, approval: &Approval) {
        let body = Bytes::from(slack_body(approval, &self.config.public_url).to_string());
        let (webhook, id) = (self.clone(), approval.id.clone());
        tokio::spawn(async move { webhook.deliver(&id, body).await });
    }

    fn unguarded_call(&self, run: &str, agent: &str, call_id: &str, action: &str, reason: &str) {
        let body = Bytes::from(unguarded_body(run, agent, action, reason).to_string());
        let (webhook, id) = (self.clone(), format!("unguarded:{run}/{call_id}"));
        tokio::spawn(async move { webhook.deliver(&id, body).await });
    }
}

/// The Slack-compatible body announcing a call that ran without aecl's allow. Like an
/// approval's, it names no argument and no output.
pub fn unguarded_body(run: &str, agent: &str, action: &str, reason: &str) -> Value {
    let (action, agent, run, reason) = (escape(action), escape(agent), escape(run), escape(reason));
    let text = format!(
        "Unguarded call: `{action}` by `{agent}` (run `{run}`) ran without aecl's allow: {reason}"
    );
    json!({
        "text": text,
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
        "unguarded": true,
    })
}

/// The Slack-compatible body announcing `approval`, linking to it under `public_url`.
pub fn slack_body(approval: &Approval, public_url: &str) -> Value {
    let link = format!("{}/ui/approvals/{}", public_url.trim_end_matches('/'), approval.id);
    let risk = approval.body["verdict"]["risk"]["score"].as_f64().unwrap_or(0.0);
    let expires =
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_millis(approval.expires.0));
    let (action, agent, run) =
        (escape(&approval.action), escape(&approval.agent), escape(&approval.run));
    let text = format!(
        "Approval needed: `{action}` by `{agent}` (run `{run}`), risk {risk:.2}, expires {expires}. \
         Open: {link}"
    );
    json!({
        "text": text,
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": format!(
                        "*Approval needed*: `{action}` by `{agent}`\nRun `{run}` · risk {risk:.2} · expires {expires}"
                    ),
                },
            },
            {
                "type": "actions",
                "elements": [{
                    "type": "button",
                    "text": { "type": "plain_text", "text": "Review the request" },
                    "url": link,
                }],
            },
        ],
        "approval_id": approval.id,
    })
}

/// Slack's escaping of `&`, `<` and `>` in message text (a run id is the agent's to
/// choose, and `<...>` would make a link).
/// Invisible characters are written out (`aecl_core::visible`), as on every approver's page.
fn escape(text: &str) -> String {
    aecl_core::visible::visible(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecl_core::{CallDigest, Revision, Timestamp};
    use aecl_engine::ApprovalStatus;

    #[test]
    fn the_body_links_to_the_request_and_leaves_out_the_arguments() {
        let approval = Approval {
            id: "a-1".to_owned(),
            run: "r<1>".to_owned(),
            call_id: "c1".to_owned(),
            agent: "finance_agent".to_owned(),
            action: "transfer_funds".to_owned(),
            call_digest: CallDigest("d".to_owned()),
            policy_revision: Revision("p".to_owned()),
            status: ApprovalStatus::Pending,
            requested: Timestamp(0),
            expires: Timestamp(3_600_000),
            decided_by: None,
            reason: None,
            body: json!({"call": {"args": {"iban": "DE89370400440532013000"}},
                         "verdict": {"risk": {"score": 0.6}}}),
        };
        let body = slack_body(&approval, "https://aecl.example/");
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("https://aecl.example/ui/approvals/a-1"), "{text}");
        assert!(text.contains("`transfer_funds` by `finance_agent`") && text.contains("0.60"));
        assert!(text.contains("run `r&lt;1&gt;`"), "{text}");
        assert_eq!(
            body["blocks"][1]["elements"][0]["url"],
            "https://aecl.example/ui/approvals/a-1"
        );
        assert!(!body.to_string().contains("DE89370400440532013000"), "no arguments");
    }
}
