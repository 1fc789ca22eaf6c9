//! The wrapped MCP server, as the gateway's MCP client sees it.

use std::process::Stdio;
use std::sync::Arc;

use rmcp::model::{CallToolRequestParams, CallToolResponse, ServerPeerInfo, Tool};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{Peer, RoleClient, ServiceExt};

use crate::error::McpError;

/// A connected MCP server: the gateway is its only client.
#[derive(Debug)]
pub struct Upstream {
    service: RunningService<RoleClient, ()>,
    /// How it is named in errors and logs.
    name: String,
}

impl Upstream {
    /// Starts `program` with `args` and completes the MCP handshake over its stdio. The
    /// server's standard error goes to ours.
    pub async fn spawn(program: &str, args: &[String]) -> Result<Upstream, McpError> {
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
        let service = ()
            .serve(transport)
            .await
            .map_err(|e| McpError::Handshake { command: name.clone(), detail: e.to_string() })?;
        Ok(Upstream { service, name })
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
