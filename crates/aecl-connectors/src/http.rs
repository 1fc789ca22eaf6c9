//! The `http` connector: one HTTP request per call, to hosts of an egress allowlist, with
//! the credentials of the agent's `credential_scope` injected by aecl.
//!
//! Arguments (names configurable): `method` (default `GET`), `url`, `headers` (an object
//! of text values), `body` (text as is, anything else as JSON). An action declared `read`
//! sends only `GET`, `HEAD` or `OPTIONS`, and no method-override header naming another
//! (`operation_mismatch` otherwise; `decide` checks the same at validation). The agent may not set
//! `Authorization`, `Proxy-Authorization`, `Cookie`, `Host`, `Idempotency-Key` or
//! framing headers: credentials come from aecl's secret store ([`crate::secrets`]) only,
//! and are never returned — the response body and every error message are scrubbed of
//! every secret value, in its common encodings too. The call's idempotency key (else the
//! effect id) is sent as `Idempotency-Key`.
//!
//! Egress ([`crate::http_client`]): the host and port must be in `allow_hosts` (an entry
//! without a port allows the scheme's default port only), and the addresses a name
//! resolves to must be public unless an entry names them; the connection goes only to the
//! addresses checked. Credentials go over `https://` only, or in clear text to a loopback
//! address that `allow_hosts` names exactly (`127.0.0.1:8080`): a call that would send
//! them over plain `http://` elsewhere fails (`egress_denied`) and nothing is sent.
//!
//! Outcomes: a 2xx or 3xx is success (`status`, `body`); a 4xx is `failed`; a 5xx, a
//! timeout or a connection broken after sending is `outcome_unknown`; a refused
//! connection is `failed`. HTTP calls have no compensation.

use std::sync::Arc;
use std::time::Duration;

use aecl_core::ActionSpec;
use aecl_core::policy::EffectClass;
use aecl_engine::{BoxFuture, Connector, ConnectorOutcome, Invocation};
use http_body_util::Full;
use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::binding::{self, RuleKind};
use crate::config::ConnectorsFile;
use crate::error::ConnectorError;
use crate::http_client::{Egress, Sent, Target};
use crate::secrets::Secrets;

/// Headers that ask a server to act as if the request had another method.
const METHOD_OVERRIDES: [&str; 3] =
    ["x-http-method-override", "x-http-method", "x-method-override"];

/// `[connectors.NAME] kind = "http"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Hosts requests may reach (`api.example.com`, `*.example.com`, `127.0.0.1:8080`,
    /// `10.0.0.0/8`; see [`crate::http_client`]); empty: none.
    pub allow_hosts: Vec<String>,
    #[serde(default = "default_method_arg")]
    pub method_arg: String,
    #[serde(default = "default_url_arg")]
    pub url_arg: String,
    #[serde(default = "default_headers_arg")]
    pub headers_arg: String,
    #[serde(default = "default_body_arg")]
    pub body_arg: String,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// The largest response body returned, in bytes.
    #[serde(default = "default_max_response")]
    pub max_response_bytes: usize,
}

fn default_method_arg() -> String {
    "method".to_owned()
}
fn default_url_arg() -> String {
    "url".to_owned()
}
fn default_headers_arg() -> String {
    "headers".to_owned()
}
fn default_body_arg() -> String {
    "body".to_owned()
}
fn default_timeout() -> u64 {
    30
}
fn default_max_response() -> usize {
    1024 * 1024
}

/// Headers only aecl sets.
const RESERVED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "idempotency-key",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
];

/// The `http` connector.
#[derive(Debug)]
pub struct HttpConnector {
    config: HttpConfig,
    secrets: Arc<Secrets>,
    egress: Egress,
}

impl HttpConnector {
    pub fn new(
        file: &ConnectorsFile,
        name: &str,
        config: &HttpConfig,
        secrets: Arc<Secrets>,
    ) -> Result<HttpConnector, ConnectorError> {
        Egress::check_allow(&config.allow_hosts)
            .map_err(|e| file.error(format!("connectors.{name}.allow_hosts: {e}")))?;
        HttpConnector::with(config.clone(), secrets)
    }

    pub fn with(
        config: HttpConfig,
        secrets: Arc<Secrets>,
    ) -> Result<HttpConnector, ConnectorError> {
        let egress = Egress::new(&config.allow_hosts)?;
        Ok(HttpConnector { config, secrets, egress })
    }

    /// Whether `action` may be bound to this connector: its `url_hosts` rules, if it has
    /// any, are on the argument the URL is read from (`binding.rs`). The method is bounded
    /// by the connector itself (an action declared `read` only reads), the host by
    /// `allow_hosts`.
    pub fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        let target = binding::Target { arg: &self.config.url_arg, key: "url_arg", role: "the URL" };
        binding::check_targets(action, RuleKind::UrlHosts, &[target])
    }

    fn request(
        &self,
        invocation: &Invocation<'_>,
    ) -> Result<(Target, hyper::Request<Full<Bytes>>), String> {
        let action = invocation.spec()?;
        // Again on every call: a policy never checked against this configuration must not
        // send to a URL its rules did not judge.
        self.check_action(action)
            .map_err(|why| format!("not_configured: {why}; nothing was sent"))?;
        let args = &invocation.call.args;
        let method = args.get(&self.config.method_arg).and_then(Value::as_str).unwrap_or("GET");
        let method = hyper::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("bad_request: `{method}` is not an HTTP method"))?;
        // The catalog's effect bounds the method: a `read` action only reads, whatever
        // method the agent names.
        let reading = [hyper::Method::GET, hyper::Method::HEAD, hyper::Method::OPTIONS];
        if action.effect == EffectClass::Read && !reading.contains(&method) {
            return Err(format!(
                "operation_mismatch: action `{}` is declared `read`; method `{method}` is not \
                 a read (GET, HEAD, OPTIONS); nothing was sent",
                action.name
            ));
        }
        let url = args.get(&self.config.url_arg).and_then(Value::as_str).ok_or_else(|| {
            format!("bad_request: argument `{}` (the URL) is missing", self.config.url_arg)
        })?;
        let target = self.egress.target(url)?;
        let mut builder = hyper::Request::builder().method(method).uri(target.uri().clone());
        if let Some(headers) = args.get(&self.config.headers_arg) {
            let Some(headers) = headers.as_object() else {
                return Err(format!(
                    "bad_request: `{}` must be an object",
                    self.config.headers_arg
                ));
            };
            for (name, value) in headers {
                if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
                    return Err(format!("bad_request: header `{name}` is set by aecl only"));
                }
                let Some(value) = value.as_str() else {
                    return Err(format!("bad_request: header `{name}` must be text"));
                };
                // Servers honour these in place of the method: a `read` action may only
                // name a reading one.
                if action.effect == EffectClass::Read
                    && METHOD_OVERRIDES.contains(&name.trim().to_ascii_lowercase().as_str())
                    && !["GET", "HEAD", "OPTIONS"].iter().any(|m| m.eq_ignore_ascii_case(value))
                {
                    return Err(format!(
                        "operation_mismatch: action `{}` is declared `read`; header `{name}` \
                         asks for method `{value}`; nothing was sent",
                        action.name
                    ));
                }
                builder = builder.header(name.as_str(), value);
            }
        }
        let body = match args.get(&self.config.body_arg) {
            None | Some(Value::Null) => Bytes::new(),
            Some(Value::String(text)) => Bytes::from(text.clone()),
            Some(other) => {
                builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
                Bytes::from(other.to_string())
            }
        };
        builder = builder.header("idempotency-key", invocation.idempotency_key());
        // INVARIANT: credentials are added by aecl, last, from its own store; the agent
        // named only its scope (in its manifest), never a value.
        if let Some(scope) = invocation.agent.and_then(|a| a.credential_scope.as_deref()) {
            for (name, value) in self.secrets.headers(scope) {
                // INVARIANT: no credential crosses a network in clear text.
                if !self.egress.may_carry_credentials(&target) {
                    return Err(format!(
                        "egress_denied: `{url}` is plain http://, and the agent's credentials \
                         go over https:// only (or to a loopback address allow_hosts names \
                         exactly); nothing was sent"
                    ));
                }
                builder = builder.header(name, value);
            }
        }
        // The builder's errors name the bad header or URI part, never a header's value.
        let request = builder.body(Full::new(body)).map_err(|e| format!("bad_request: {e}"))?;
        Ok((target, request))
    }

    /// `outcome` with every secret scrubbed from its result and its error: whatever the
    /// server answered, and whatever a library put in a message.
    fn scrubbed(&self, outcome: ConnectorOutcome) -> ConnectorOutcome {
        match outcome {
            ConnectorOutcome::Succeeded { result, rollback_token } => ConnectorOutcome::Succeeded {
                result: self.secrets.scrub_value(result),
                rollback_token,
            },
            ConnectorOutcome::Failed { error } => {
                ConnectorOutcome::Failed { error: self.secrets.scrub(&error) }
            }
            ConnectorOutcome::RanAndFailed { error } => {
                ConnectorOutcome::RanAndFailed { error: self.secrets.scrub(&error) }
            }
            ConnectorOutcome::Unknown { error } => {
                ConnectorOutcome::Unknown { error: self.secrets.scrub(&error) }
            }
            ConnectorOutcome::TimedOut { error } => {
                ConnectorOutcome::TimedOut { error: self.secrets.scrub(&error) }
            }
        }
    }

    async fn run(&self, invocation: &Invocation<'_>) -> ConnectorOutcome {
        let (target, request) = match self.request(invocation) {
            Ok(sendable) => sendable,
            Err(error) => return ConnectorOutcome::Failed { error },
        };
        let timeout = Duration::from_secs(self.config.timeout_secs);
        match self.egress.send(&target, request, timeout, self.config.max_response_bytes).await {
            Sent::Response { status, body, truncated } => {
                // Scrubbed as text before anything is cut from it or parsed (parsing decodes
                // escapes; `scrubbed` then goes over the parsed values too).
                let text = self.secrets.scrub(&String::from_utf8_lossy(&body));
                if status >= 500 {
                    ConnectorOutcome::Unknown { error: format!("the server answered {status}") }
                } else if status >= 400 {
                    let excerpt: String = text.chars().take(500).collect();
                    ConnectorOutcome::Failed { error: format!("http {status}: {excerpt}") }
                } else {
                    let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
                    ConnectorOutcome::Succeeded {
                        result: json!({ "status": status, "body": body, "truncated": truncated }),
                        rollback_token: None,
                    }
                }
            }
            Sent::Unsent(error) => ConnectorOutcome::Failed { error },
            Sent::Broken(error) => ConnectorOutcome::Unknown { error },
        }
    }
}

impl Connector for HttpConnector {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        Box::pin(async move { self.scrubbed(self.run(&invocation).await) })
    }

    fn check_action(&self, action: &ActionSpec) -> Result<(), String> {
        HttpConnector::check_action(self, action)
    }
}
