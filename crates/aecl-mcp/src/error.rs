//! The crate's one error type.

/// What can go wrong starting or talking to the wrapped servers.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The wrapped server's command could not be started.
    #[error("cannot start the MCP server `{command}`: {source}")]
    Spawn { command: String, source: std::io::Error },
    /// The wrapped server did not complete the MCP handshake.
    #[error("the MCP server `{command}` did not complete the handshake: {detail}")]
    Handshake { command: String, detail: String },
    /// The wrapped server's URL is not one the gateway can reach.
    #[error("`{url}` is not an MCP server URL: {detail}")]
    Url { url: String, detail: String },
    /// A request to the wrapped server failed.
    #[error("the MCP server failed `{method}`: {detail}")]
    Upstream { method: &'static str, detail: String },
    /// The wrapped server answered a request with a JSON-RPC error: its message and data
    /// are the server's text.
    #[error("the MCP server answered `{method}` with error {code}: {message}{}", data_shown(.data))]
    Answered { method: &'static str, code: i32, message: String, data: Option<serde_json::Value> },
    /// The gateway's servers are configured wrongly.
    #[error("{0}")]
    Config(String),
    /// The session (or the gateway) is closing: its servers are not started again.
    #[error("the MCP server `{0}` is closed with its session")]
    Closed(String),
    /// Serving the agent's client failed.
    #[error("serving the MCP client failed: {0}")]
    Serve(String),
}

impl McpError {
    /// The error as the agent's client may be told it outside a call's answer (a failed
    /// `tools/list`, a server that could not start): without the text a server chose (a
    /// JSON-RPC error's message and data, a transport's detail), which would reach the
    /// model with no record in the run. The whole error is logged where it happens.
    pub fn shown_to_client(&self) -> String {
        match self {
            McpError::Upstream { method, .. } | McpError::Answered { method, .. } => {
                format!("the MCP server failed `{method}` (the gateway's log has the details)")
            }
            McpError::Handshake { command, .. } => format!(
                "the MCP server `{command}` did not complete the handshake (the gateway's log \
                 has the details)"
            ),
            other => other.to_string(),
        }
    }
}

/// A JSON-RPC error's `data`, after its message.
fn data_shown(data: &Option<serde_json::Value>) -> String {
    data.as_ref().map(|data| format!(" ({data})")).unwrap_or_default()
}
