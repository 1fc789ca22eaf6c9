//! The wrapped MCP server, as the gateway's MCP client sees it: a child process over its
//! stdio, or a server reached over streamable HTTP.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig,
    ElicitationCapability, FormElicitationCapability, Implementation, PaginatedRequestParams,
    ProtocolVersion, ServerPeerInfo, Tool,
};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, Peer, RoleClient};

use crate::answer_cap::{Capped, MAX_ANSWER_BYTES, Record, unrecorded};
use crate::error::McpError;
use crate::relay::{Relays, UpstreamClient};
use crate::servers::Launch;

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
    peer: Peer<RoleClient>,
    /// The running client; taken out when it is closed ([`Upstream::close`]). Dropped
    /// without a close, it still ends: its task closes the transport (a child process is
    /// sent end of input, then SIGTERM, then killed, and reaped).
    service: Mutex<Option<RunningService<RoleClient, UpstreamClient>>>,
    /// How it is named in errors and logs (never with a credential).
    name: String,
    /// Where a server's own requests during a call (a 2025-11-25 `elicitation/create`)
    /// are relayed to.
    relays: Relays,
}

/// How long closing a server may take: rmcp waits 3 s for a child to exit once its input
/// is closed, 3 s more after SIGTERM, then kills it.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// The most one `tools/list` of a server may gather, over all its pages: far above any
/// real server's catalog (the largest list some hundreds of tools), far below what would
/// strain the gateway.
struct Listing {
    pages: usize,
    tools: usize,
    bytes: usize,
    /// For all its pages: a server that does not answer is left out of the list, not
    /// waited for (with a session kept alive by the wait).
    time: Duration,
}

const LISTING: Listing =
    Listing { pages: 100, tools: 10_000, bytes: 16 << 20, time: Duration::from_secs(30) };

/// The longest a server's handshake (`initialize`) may take: one that never answers fails
/// to start, as one that exits does.
const HANDSHAKE_TIME: Duration = Duration::from_secs(30);

/// `future`'s output, or an error saying it took longer than `limit`; its error as text.
async fn within<T, E: std::fmt::Display>(
    limit: Duration,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, future).await {
        Ok(done) => done.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", limit.as_secs())),
    }
}

impl Upstream {
    /// Starts (or connects to) the server `launch` describes and completes the handshake,
    /// in a task of its own. A session's server starts at the first request that needs it,
    /// inside that request's span; rmcp's tasks of the connection take the span current
    /// where they start and outlive the request, so started there they would hold the
    /// request's span open (and so unexported) as long as the server runs. A new task
    /// starts with no span. `record` records what is refused of the server's messages
    /// ([`crate::answer_cap`]).
    pub(crate) async fn start(
        launch: &Launch,
        handshake: Handshake,
        record: Record,
    ) -> Result<Upstream, McpError> {
        let launch = launch.clone();
        let shown = launch.shown();
        tokio::spawn(async move { Upstream::start_here(&launch, handshake, record).await })
            .await
            .map_err(|error| McpError::Handshake { command: shown, detail: error.to_string() })?
    }

    /// [`Upstream::start`] in the current task.
    async fn start_here(
        launch: &Launch,
        handshake: Handshake,
        record: Record,
    ) -> Result<Upstream, McpError> {
        match launch {
            Launch::Command { program, args, env, env_remove, cwd } => {
                let mut command = tokio::process::Command::new(program);
                command.args(args);
                for name in env_remove {
                    command.env_remove(name);
                }
                command.envs(env.iter().map(|(k, v)| (k, v)));
                if let Some(cwd) = cwd {
                    command.current_dir(cwd);
                }
                Upstream::spawn_command(command, &launch.shown(), handshake, record).await
            }
            Launch::Http { url, headers } => {
                Upstream::connect_with(url, headers, handshake, record).await
            }
        }
    }

    /// Starts `program` with `args` and completes the MCP handshake over its stdio. The
    /// server's standard error goes to ours. What is refused of its messages is logged,
    /// not recorded.
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
        Upstream::spawn_command(command, &name, handshake, unrecorded()).await
    }

    async fn spawn_command(
        command: tokio::process::Command,
        name: &str,
        handshake: Handshake,
        record: Record,
    ) -> Result<Upstream, McpError> {
        let name = name.to_owned();
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| McpError::Spawn { command: name.clone(), source })?;
        let relays = Relays::default();
        let transport = Capped::new(transport, MAX_ANSWER_BYTES, record);
        let serving = UpstreamClient::new(relays.clone())
            .serve_with_lifecycle(transport, handshake.lifecycle());
        let service = within(HANDSHAKE_TIME, serving)
            .await
            .map_err(|detail| McpError::Handshake { command: name.clone(), detail })?;
        Ok(Upstream::running(service, name, relays))
    }

    fn running(
        service: RunningService<RoleClient, UpstreamClient>,
        name: String,
        relays: Relays,
    ) -> Upstream {
        Upstream { peer: service.peer().clone(), service: Mutex::new(Some(service)), name, relays }
    }

    /// Ends the session with the server and waits until it has ended: a child process has
    /// exited (or been killed) and been reaped. Calls made after it fail.
    pub async fn close(&self) {
        let service = self.service.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(mut service) = service {
            match service.close_with_timeout(CLOSE_WAIT).await {
                Ok(Some(_)) => tracing::debug!(server = %self.name, "MCP server closed"),
                Ok(None) => tracing::warn!(server = %self.name, "MCP server slow to close"),
                Err(error) => tracing::warn!(server = %self.name, %error, "closing MCP server"),
            }
        }
    }

    /// Connects to the MCP server at `url` over streamable HTTP and completes the
    /// handshake. `authorization` is the whole value of the `Authorization` header sent
    /// with every request (`Bearer TOKEN`); it is marked sensitive and never logged. What
    /// is refused of the server's messages is logged, not recorded.
    pub async fn connect(
        url: &str,
        authorization: Option<&str>,
        handshake: Handshake,
    ) -> Result<Upstream, McpError> {
        let headers: Vec<(String, String)> =
            authorization.map(|v| ("authorization".to_owned(), v.to_owned())).into_iter().collect();
        Upstream::connect_with(url, &headers, handshake, unrecorded()).await
    }

    /// Connects over streamable HTTP sending `headers` with every request; their values
    /// are marked sensitive and never logged.
    async fn connect_with(
        url: &str,
        headers: &[(String, String)],
        handshake: Handshake,
        record: Record,
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
        if !headers.is_empty() && parsed.scheme_str() == Some("http") && !loopback {
            // A credential would cross the network in clear text.
            return Err(McpError::Url {
                url: shown(&parsed),
                detail:
                    "headers (credentials) are sent over `https://` only (or to a loopback host)"
                        .to_owned(),
            });
        }
        // reqwest is built with rustls and no crypto provider of its own: use ring, the
        // provider the rest of the workspace uses. Already installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut sent = HashMap::new();
        for (name, value) in headers {
            let invalid = |what: &str| McpError::Url {
                url: shown(&parsed),
                detail: format!("the header `{name}`'s {what} is not valid in HTTP"),
            };
            let header = hyper::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid("name"))?;
            let mut value =
                hyper::header::HeaderValue::from_str(value.trim()).map_err(|_| invalid("value"))?;
            value.set_sensitive(true);
            sent.insert(header, value);
        }
        let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(sent);
        let transport = StreamableHttpClientTransport::from_config(config);
        let transport = Capped::new(transport, MAX_ANSWER_BYTES, record);
        let relays = Relays::default();
        let serving = UpstreamClient::new(relays.clone())
            .serve_with_lifecycle(transport, handshake.lifecycle());
        let service = within(HANDSHAKE_TIME, serving)
            .await
            .map_err(|detail| McpError::Handshake { command: shown(&parsed), detail })?;
        Ok(Upstream::running(service, shown(&parsed), relays))
    }

    /// The command line or address of the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the server said of itself in the handshake.
    pub fn info(&self) -> Option<Arc<ServerPeerInfo>> {
        self.peer.peer_info()
    }

    pub fn peer(&self) -> &Peer<RoleClient> {
        &self.peer
    }

    pub(crate) fn relays(&self) -> &Relays {
        &self.relays
    }

    /// Every tool the server lists (all pages), within [`LISTING`]'s bounds: each page is
    /// under the answer cap, but a server that hands out a next cursor forever (or the
    /// same one again) would otherwise have the gateway gather pages until its memory ran
    /// out, for every agent it serves.
    pub async fn tools(&self) -> Result<Vec<Tool>, McpError> {
        let limit = LISTING.time;
        tokio::time::timeout(limit, self.list_tools()).await.unwrap_or_else(|_| {
            let detail = format!("no answer within {} s", limit.as_secs());
            Err(McpError::Upstream { method: "tools/list", detail })
        })
    }

    /// [`Upstream::tools`] without its time bound.
    async fn list_tools(&self) -> Result<Vec<Tool>, McpError> {
        let failed = |detail: String| McpError::Upstream { method: "tools/list", detail };
        let mut tools = Vec::new();
        let mut bytes = 0usize;
        let mut cursors = std::collections::HashSet::new();
        let mut cursor: Option<String> = None;
        for _ in 0..LISTING.pages {
            let params =
                cursor.take().map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
            let page = self.peer.list_tools(params).await.map_err(|e| failed(e.to_string()))?;
            bytes += serde_json::to_vec(&page.tools).map_or(usize::MAX, |page| page.len());
            tools.extend(page.tools);
            if tools.len() > LISTING.tools || bytes > LISTING.bytes {
                return Err(failed(format!(
                    "the server lists more than {} tools or {} MiB of them",
                    LISTING.tools,
                    LISTING.bytes >> 20
                )));
            }
            match page.next_cursor {
                None => return Ok(tools),
                Some(next) if !cursors.insert(next.clone()) => {
                    return Err(failed(format!("the server gave the cursor `{next}` twice")));
                }
                Some(next) => cursor = Some(next),
            }
        }
        Err(failed(format!("the server lists its tools on more than {} pages", LISTING.pages)))
    }

    /// One `tools/call`, without driving `input_required` rounds. A JSON-RPC error answer
    /// is [`McpError::Answered`], with the server's message and data.
    pub async fn call(&self, params: CallToolRequestParams) -> Result<CallToolResponse, McpError> {
        self.peer.call_tool_once(params).await.map_err(|error| match error {
            rmcp::ServiceError::McpError(error) => McpError::Answered {
                method: "tools/call",
                code: error.code.0,
                message: error.message.into_owned(),
                data: error.data,
            },
            error => McpError::Upstream { method: "tools/call", detail: error.to_string() },
        })
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
pub(crate) fn shown(url: &hyper::Uri) -> String {
    let host = url.host().unwrap_or_default();
    let port = url.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{host}{port}{}", url.scheme_str().unwrap_or("?"), url.path())
}
