//! A real PostgreSQL for the tests, with no manual setup: the first test that asks for one
//! starts a private cluster (or uses `AECL_TEST_POSTGRES_URL` when it is set), and every
//! call of [`postgres_url`] creates a fresh database on it, so tests are isolated and run
//! in parallel.
//!
//! The private cluster lives in a temporary directory, listens on a free port of
//! 127.0.0.1 only, and is started through a small `sh` watchdog that stops it and removes
//! the directory as soon as the test process is gone, however it ended (a panic, a kill).
//! PostgreSQL refuses to run as root: under root (CI) the server runs as the `postgres`
//! system user that the distribution's package creates.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;

use crate::pg_cluster::{server, with_database};

/// The URL of a fresh, empty database on the test server (a new one on every call).
/// Open it with `aecl_store::PostgresStore::open(&url, audit_config)`; two stores opened
/// on one URL share the database like two replicas do.
pub async fn postgres_url() -> String {
    let server = tokio::task::spawn_blocking(server).await.unwrap();
    let server = match server {
        Ok(server) => server,
        Err(e) => panic!("no PostgreSQL for the tests: {e}"),
    };
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("aecl_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = sqlx::PgConnection::connect(&server.admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let _ = admin.close().await;
    with_database(&server.admin_url, &name)
}
