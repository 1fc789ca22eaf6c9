//! A real PostgreSQL for the tests (the private cluster of `aecl_testkit::pg_cluster`, with
//! `tokio-postgres` for the admin connection), with no manual setup: the first test that asks for one
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

use aecl_testkit::pg_cluster::{server, with_database};

/// The URL of a fresh, empty database on the test server (a new one on every call).
pub async fn postgres_url() -> String {
    let server = tokio::task::spawn_blocking(server).await.unwrap();
    let server = match server {
        Ok(server) => server,
        Err(e) => panic!("no PostgreSQL for the tests: {e}"),
    };
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("aecl_conn_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let (admin, connection) = tokio_postgres::connect(&server.admin_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    with_database(&server.admin_url, &name)
}
