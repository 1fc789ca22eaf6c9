//! Test support shared by aecl's crates, as a crate rather than files included by path:
//!
//! - `pg_cluster` and `pg`: a private PostgreSQL for the tests, started once per test
//!   binary, and a fresh database on it per call;
//! - `audit`: the signing key, the origin and sample audit records the store tests use;
//! - `contract`: the store contract suite, one async function per guarantee of the
//!   `Store` port, run on every backend by [`store_contract!`] (memory here, SQLite and
//!   PostgreSQL in `aecl-store`);
//! - `tamper`: the audit log's tamper matrix (`aecl-audit` runs it on a log kept in
//!   memory, `aecl-store` on real stores tampered with through SQL).
//!
//! Only ever a dev-dependency: it panics on failure, as tests do.

pub mod audit;
pub mod contract;
pub mod pg;
pub mod pg_cluster;
pub mod policy;
pub mod tamper;

/// An empty in-memory store with the tests' audit key.
pub fn memory_store() -> aecl_engine::store::MemoryStore {
    aecl_engine::store::MemoryStore::new(audit::ORIGIN, audit::signer())
}
