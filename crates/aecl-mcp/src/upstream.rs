//! The wrapped MCP server, as the gateway's MCP client sees it: a child process over its
//! stdio, or a server reached over streamable HTTP.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig,
    ElicitationCapability, FormElicitationCapability, Implementation, ProtocolVersion,
    ServerPeerInfo, Tool,
};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, Peer, RoleClient};

use crate::error::McpError;
use crate::relay::{Relays, UpstreamClient};

/// How the gateway starts its session with the wrapped server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handshake {
    /// `server/discover` preferring 2026-07-28, and the 2025-11-25 `initialize` when the
    /// server says it does not know `server/discover` (or does not answer it in 10 s).
    #[default]
    Negotiate,
    /// The 2025-11-25 `initialize` only.
    Legacy,
}

impl Handshake {
    fn lifecycle(self) -> ClientLifecycleMode {
        match self {
            Handshake::Negotiate => ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: None,
            },
            Handshake::Legacy => ClientLifecycleMode::Initialize,
        }
    }
}

/// A connected MCP server: the gateway is its only client.
#[derive(Debug)]
pub struct Upstream {
    service: RunningService<RoleClient, UpstreamClient>,
    /// How it is named in errors and logs (never with a credential).
    name: String,
    /// Where a server's own requests during a call (a 2025-11-25 `elicitation/create`)
    /// are relayed to.
    relays: Relays,
}

impl Upstream {
    /// Starts `program` with `args` and completes the MCP handshake over its stdio. The
    /// server's standard error goes to ours.
    pub async fn spawn(
        program: &str,
        args: &[String],
        handshake: Handshake,
    ) -> Result<Upstream, McpError> {
        let name = std::iter::once(program)
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let mut command = tokio::process::Command::new(program);
        command.args(args);
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| McpError::Spawn { command: name.clone(), source })?;
        let relays = Relays::default();
        let service = UpstreamClient::new(relays.clone())
            .serve_with_lifecycle(transport, handshake.lifecycle())
            .await
            .map_err(|e| McpError::Handshake { command: name.clone(), detail: e.to_string() })?;
        Ok(Upstream { service, name, relays })
    }

    /// Connects to the MCP server at `url` over streamable HTTP and completes the
    /// handshake. `authorization` is the whole value of the `Authorization` header sent
    /// with every request (`Bearer TOKEN`); it is marked sensitive and never logged.
    pub async fn connect(
        url: &str,
        authorization: Option<&str>,
        handshake: Handshake,
    ) -> Result<Upstream, McpError> {
        let parsed: hyper::Uri = url.parse().map_err(|_| McpError::Url {
            url: "(unparsable)".to_owned(),
            detail: "not a URL".to_owned(),
        })?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(McpError::Url {
                url: shown(&parsed),
                detail: "expected an `http://` or `https://` URL with a host".to_owned(),
            });
        }
        let loopback = matches!(parsed.host(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1"));
        if authorization.is_some() && parsed.scheme_str() == Some("http") && !loopback {
            // The credential would cross the network in clear text.
            return Err(McpError::Url {
                url: shown(&parsed),
                detail:
                    "an Authorization value is sent over `https://` only (or to a loopback host)"
                        .to_owned(),
            });
        }
        // reqwest is built with rustls and no crypto provider of its own: use ring, the
        // provider the rest of the workspace uses. Already installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HashMap::new();
        if let Some(value) = authorization {
            let mut value =
                hyper::header::HeaderValue::from_str(value.trim()).map_err(|_| McpError::Url {
                    url: shown(&parsed),
                    detail: "the Authorization value is not a valid HTTP header value".to_owned(),
                })?;
            value.set_sensitive(true);
            headers.insert(hyper::header::HeaderName::from_static("authorization"), value);
        }
        let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
        let transport = StreamableHttpClientTransport::from_config(config);
        let relays = Relays::default();
        let service = UpstreamClient::new(relays.clone())
            .serve_with_lifecycle(transport, handshake.lifecycle())
            .await
            .map_err(|e| McpError::Handshake { command: shown(&parsed), detail: e.to_string() })?;
        Ok(Upstream { service, name: shown(&parsed), relays })
    }

    /// The command line or address of the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the server said of itself in the handshake.
    pub fn info(&self) -> Option<Arc<ServerPeerInfo>> {
        self.service.peer_info()
    }

    pub fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }

    pub(crate) fn relays(&self) -> &Relays {
        &self.relays
    }

    /// Every tool the server lists (all pages).
    pub async fn tools(&self) -> Result<Vec<Tool>, McpError> {
        self.service
            .peer()
            .list_all_tools()
            .await
            .map_err(|e| McpError::Upstream { method: "tools/list", detail: e.to_string() })
    }

    /// One `tools/call`, without driving `input_required` rounds.
    pub async fn call(&self, params: CallToolRequestParams) -> Result<CallToolResponse, McpError> {
        self.service
            .peer()
            .call_tool_once(params)
            .await
            .map_err(|e| McpError::Upstream { method: "tools/call", detail: e.to_string() })
    }
}

/// What the gateway tells a server of itself as a client: it can relay form elicitation
/// (to the agent's client, which answers it).
pub(crate) fn client_config() -> ClientConfig {
    let mut elicitation = ElicitationCapability::new();
    elicitation.form = Some(FormElicitationCapability::new());
    let mut capabilities = ClientCapabilities::default();
    capabilities.elicitation = Some(elicitation);
    ClientConfig::new(capabilities, Implementation::new("aecl-mcp", env!("CARGO_PKG_VERSION")))
}

/// A URL as it may be shown in logs and errors: scheme, host, port and path, without the
/// user information or the query, which can carry credentials.
fn shown(url: &hyper::Uri) -> String {
    let host = url.host().unwrap_or_default();
    let port = url.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{host}{port}{}", url.scheme_str().unwrap_or("?"), url.path())
}
