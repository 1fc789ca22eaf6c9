//! End-to-end tests of the HTTP API: a real server listening on 127.0.0.1, a real HTTP
//! client, and the engine over SQLite and over a real PostgreSQL that the tests start
//! themselves (`aecl_testkit::pg`, shared with the store's tests).

mod api;
mod approvals;
mod auth;
mod events;
mod expiry;
mod hook_agents;
mod identity;
mod notify;
mod openapi;
mod quorum;
mod refusals;
mod rollback;
mod single_use;
mod spans;
mod standing;
mod support;
mod ui;

use aecl_testkit::pg;
