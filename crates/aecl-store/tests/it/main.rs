//! Integration tests of the stores: one contract suite run against SQLite and against a
//! real PostgreSQL that the tests start themselves (`pg`).

mod approval;
mod contract;
mod crash;
mod engine;
mod health;
mod pg;
mod pg_cluster;
mod replica;
mod rollback;
mod single_use;
mod support;
mod tamper;
