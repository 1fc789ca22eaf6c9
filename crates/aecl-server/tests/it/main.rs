//! End-to-end tests of the HTTP API: a real server listening on 127.0.0.1, a real HTTP
//! client, and the engine over SQLite and over a real PostgreSQL that the tests start
//! themselves (`pg`, shared with the store's tests).

mod api;
mod approvals;
mod auth;
mod events;
mod notify;
#[path = "../../../aecl-store/tests/it/pg.rs"]
mod pg;
#[path = "../../../aecl-store/tests/it/pg_cluster.rs"]
mod pg_cluster;
mod refusals;
mod rollback;
mod single_use;
mod standing;
mod support;
mod ui;
