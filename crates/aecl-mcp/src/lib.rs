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
//!   an answer larger than [`MAX_ANSWER_BYTES`] fails the call at once ([`answer_cap`]);
//! - a tool whose definition changed since it was first seen is blocked until an approver
//!   accepts the change (pins in the approval gate);
//! - a call that needs approval waits for an approver's answer in the engine's approval
//!   gate (the one `aecl serve` shows), never for the MCP client's own say-so.
//!
//! One gateway serves several servers ([`servers`], configured by [`config`]): each
//! server's tools are exposed as `SERVER__TOOL` ([`naming`]), and over HTTP each client
//! session gets its own server processes, ended with the session.
//!
//! Each request it answers runs in an `aecl.mcp` span that continues the caller's W3C trace
//! context, from the request's `_meta` or its HTTP headers (`trace_context.rs`), so the
//! engine's stage spans of a `tools/call` join the agent's trace.
//!
//! The crate names no concrete store: `aecl-cli` wires one in.

mod answer_cap;
mod auth;
pub mod catalog;
pub mod config;
mod error;
mod forward;
mod frames;
mod gateway;
mod http;
pub mod listing;
pub mod naming;
mod pins;
mod relay;
pub mod servers;
mod sessions;
mod shown;
pub mod stdio;
pub mod tighten;
mod trace_context;
mod upstream;

pub use answer_cap::MAX_ANSWER_BYTES;
pub use auth::ClientAuth;
pub use error::McpError;
pub use gateway::{Gateway, GatewayConfig};
pub use http::MCP_PATH;
pub use servers::{Launch, ServerSpec, Servers, Sharing};
pub use sessions::SessionLimits;
pub use upstream::{Handshake, Upstream};
