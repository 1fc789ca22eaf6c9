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
