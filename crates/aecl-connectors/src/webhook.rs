//! The `webhook` connector: send-only HTTP POST of a JSON body, irreversible (there is no
//! compensation: the catalog should mark its actions `irreversible`, which the policy
//! makes approval-gated unless it says otherwise).
//!
//! The target is the configured `url`, or the call's `url` argument (`url_arg`), and its
//! host and port must be in `allow_hosts`, its addresses public unless named there
//! ([`crate::http_client`]). The body is the `body` argument (`body_arg`), or the
//! whole arguments when there is none. The call's idempotency key (else the effect id) is
//! sent as `Idempotency-Key`, so a receiver that deduplicates sees one delivery even if
//! aecl's own outcome was lost. A 2xx is success; a refused connection or another status
//! below 500 is `failed`; a 5xx, a timeout or a connection broken after sending is
//! `outcome_unknown` (it may have been delivered: never retried by aecl). An action
//! declared `read` is refused (`operation_mismatch`): a webhook only sends.

use std::time::Duration;

use aecl_core::ActionSpec;
use aecl_core::policy::EffectClass;
use aecl_engine::{BoxFuture, Connector, ConnectorOutcome, Invocation};
use http_body_util::Full;
use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::binding::{self, RuleKind, Target};
use crate::config::ConnectorsFile;
use crate::error::ConnectorError;
use crate::http_client::{Egress, Sent};

/// `[connectors.NAME] kind = "webhook"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// A fixed target; when absent, the call's `url_arg` argument is the target.
    pub url: Option<String>,
    #[serde(default = "default_url_arg")]
    pub url_arg: String,
    #[serde(default = "default_body_arg")]
    pub body_arg: String,
    /// Hosts the webhook may reach (`hooks.example.com`, `*.example.com`,
    /// `127.0.0.1:9000`; see [`crate::http_client`]); empty: none.
    pub allow_hosts: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_url_arg() -> String {
    "url".to_owned()
}
fn default_body_arg() -> String {
    "body".to_owned()
}
fn default_timeout() -> u64 {
    10
}

/// The `webhook` connector.
#[derive(Debug)]
pub struct WebhookConnector {
    config: WebhookConfig,
    egress: Egress,
}

impl WebhookConnector {
    pub fn new(
        file: &ConnectorsFile,
        name: &str,
        config: &WebhookConfig,
    ) -> Result<WebhookConnector, ConnectorError> {
        Egress::check_allow(&config.allow_hosts)
            .map_err(|e| file.error(format!("connectors.{name}.allow_hosts: {e}")))?;
        let connector = WebhookConnector::with(config.clone())?;
        if let Some(url) = &config.url {
            connector
                .egress
                .target(url)
                .map_err(|e| file.error(format!("connectors.{name}.url: {e}")))?;
        }
        Ok(connector)
    }

    pub fn with(config: WebhookConfig) -> Result<WebhookConnector, ConnectorError> {
        let egress = Egress::new(&config.allow_hosts)?;
        Ok(WebhookConnector { config, egress })
    }

    /// Whether `action` may be bound to this connector: its `url_hosts` rules, if it has
    /// any, are on the argument the URL is read from (`binding.rs`); with a fixed `url`,
    /// no argument names the target and nothing is required.
    pub fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        let targets = match &self.config.url {
            Some(_) => Vec::new(),
            None => vec![Target { arg: &self.config.url_arg, key: "url_arg", role: "the URL" }],
        };
        binding::check_targets(action, RuleKind::UrlHosts, &targets)
    }
}

impl Connector for WebhookConnector {
    fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        WebhookConnector::check_action(self, action)
    }

    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        Box::pin(async move {
            let action = match invocation.spec() {
                Ok(action) => action,
                Err(error) => return ConnectorOutcome::Failed { error },
            };
            // Again on every call: a policy never checked against this configuration must
            // not send to a URL its rules did not judge.
            if let Err(why) = self.check_action(action) {
                return ConnectorOutcome::Failed {
                    error: format!("not_configured: {why}; nothing was sent"),
                };
            }
            // A webhook only sends: it cannot be what an action declared `read` does.
            if action.effect == EffectClass::Read {
                return ConnectorOutcome::Failed {
                    error: format!(
                        "operation_mismatch: action `{}` is declared `read`, and a webhook \
                         only sends; nothing was sent",
                        action.name
                    ),
                };
            }
            let args = &invocation.call.args;
            let target = match &self.config.url {
                Some(url) => Some(url.as_str()),
                None => args.get(&self.config.url_arg).and_then(|v| v.as_str()),
            };
            let Some(target) = target else {
                return ConnectorOutcome::Failed {
                    error: format!(
                        "bad_request: argument `{}` (the URL) is missing",
                        self.config.url_arg
                    ),
                };
            };
            let target = match self.egress.target(target) {
                Ok(target) => target,
                Err(error) => return ConnectorOutcome::Failed { error },
            };
            let body = args.get(&self.config.body_arg).unwrap_or(args);
            let request = hyper::Request::post(target.uri().clone())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .header("idempotency-key", invocation.idempotency_key())
                .body(Full::new(Bytes::from(body.to_string())));
            let request = match request {
                Ok(request) => request,
                Err(e) => return ConnectorOutcome::Failed { error: format!("bad_request: {e}") },
            };
            let timeout = Duration::from_secs(self.config.timeout_secs);
            match self.egress.send(&target, request, timeout, 64 * 1024).await {
                Sent::Response { status, .. } if (200..300).contains(&status) => {
                    ConnectorOutcome::Succeeded {
                        result: json!({ "status": status }),
                        rollback_token: None,
                    }
                }
                Sent::Response { status, .. } if status >= 500 => {
                    ConnectorOutcome::Unknown { error: format!("the receiver answered {status}") }
                }
                Sent::Response { status, .. } => {
                    ConnectorOutcome::Failed { error: format!("the receiver refused: {status}") }
                }
                Sent::Unsent(error) => ConnectorOutcome::Failed { error },
                Sent::Broken(error) => ConnectorOutcome::Unknown { error },
            }
        })
    }
}
