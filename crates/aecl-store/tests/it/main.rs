//! Integration tests of the stores: the contract suite of `aecl-testkit` run against
//! SQLite and against a real PostgreSQL that the tests start themselves (`pg`), and the
//! engine's flows over both.

mod answers;
mod approval;
mod batch;
mod contract;
mod cooldown;
mod crash;
mod engine;
mod health;
mod log_end;
mod pool;
mod quorum;
mod replica;
mod resume;
mod revocation;
mod rollback;
mod schema_shape;
mod single_use;
mod support;
mod tamper;
mod tampered_runs;
mod writer_lock;

use aecl_testkit::pg;
