//! aecl's MCP gateway: an MCP server in front of an MCP server.
//!
//! The gateway speaks MCP to an agent's client on one side (stdio or streamable HTTP) and to
//! the wrapped server on the other (`rmcp` on both sides, which negotiates the protocol
//! revision per side, so a 2025-11-25 client can use a 2026-07-28 server and the other way
//! round). What it adds between them:
//!
//! - `tools/list` shows exactly the tools the agent may call ([`listing`]);
//! - every `tools/call` is a call of the engine (`Engine::execute`): decided, recorded in
//!   the audit log before it runs, forwarded to the wrapped server only when allowed, its
//!   output recorded into the run's history (provenance) and redacted as policy says;
//! - a tool whose definition changed since it was first seen is blocked until an approver
//!   accepts the change (pins in the approval gate);
//! - a call that needs approval waits for an approver's answer in the engine's approval
//!   gate (the one `aecl serve` shows), never for the MCP client's own say-so.
//!
//! The crate names no concrete store: `aecl-cli` wires one in.

mod auth;
pub mod catalog;
mod error;
mod forward;
mod gateway;
mod http;
pub mod listing;
mod pins;
mod relay;
pub mod stdio;
pub mod tighten;
mod upstream;

pub use auth::ClientAuth;
pub use error::McpError;
pub use gateway::{Gateway, GatewayConfig};
pub use http::MCP_PATH;
pub use upstream::{Handshake, Upstream};
