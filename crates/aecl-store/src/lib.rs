//! The store port of `aecl-engine`, twice: SQLite (the embedded default, one file) and
//! PostgreSQL (for several engine instances on one database). Both pass the same contract
//! test suite (`tests/it/contract.rs`).
//!
//! Each keeps the audit log with a group commit: concurrent producers hand records to one
//! committer per log, which appends a batch in one transaction with one signed checkpoint
//! and acknowledges each record only after the commit.

mod any;
mod event_seal;
mod head;
pub mod postgres;
mod resume;
pub mod sqlite;

use aecl_audit::{Hash, SignerKey};
use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{EffectState, Grant, GrantRefusal, RunEvent, StoreError};

pub use any::{AnyStore, StoreUrl};
pub use postgres::{PostgresReader, PostgresStore};
pub use sqlite::{SqliteReader, SqliteStore};

/// Every table aecl's migrations create, on either store. Whoever can change the database
/// can change its schema: these names must stay ordinary tables, with no trigger or rule
/// (`sqlite/schema.rs::check_shape`, `postgres/shape.rs`).
pub(crate) const TABLES: &[&str] = &[
    "aecl_schema",
    "runs",
    "run_events",
    "rate_limits",
    "slots",
    "nonces",
    "grants",
    "approvals",
    "effects",
    "audit_log",
    "audit_checkpoints",
    "audit_head",
    "standing_grants",
    "revoked_credentials",
];

/// What the audit writer needs: the log's name (the checkpoints' origin line), the key
/// that signs checkpoints, and where to publish each checkpoint once committed (with the
/// consistency proof from the one before), if anywhere.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub origin: String,
    pub signer: SignerKey,
    pub publish: Option<std::sync::Arc<dyn aecl_audit::CheckpointSink>>,
}

/// How many jobs producers have sent a writer that it has not yet finished: the
/// `Store::writer_queue_depth` of both stores, shared by the producers and the writer
/// without a lock.
///
/// INVARIANT: a job is counted before it is sent, and the writer takes a batch off only
/// after the batch has committed or failed and before it answers any of its jobs. The
/// channel orders the send before the writer's take-off, so the count never goes below
/// zero; and a producer that has its answer is no longer counted. Relaxed ordering is
/// enough: both sides change one counter, and the channel and the answer order them.
#[derive(Debug, Clone, Default)]
struct QueueDepth(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl QueueDepth {
    /// Counts a job about to be sent.
    fn sending(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes off a job whose send failed (the writer has ended), or `jobs` the writer has
    /// finished.
    fn finished(&self, jobs: usize) {
        let jobs = u64::try_from(jobs).unwrap_or(u64::MAX);
        self.0.fetch_sub(jobs, std::sync::atomic::Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn corrupt(message: impl Into<String>) -> StoreError {
    StoreError::Corrupt(message.into())
}

/// The lowest stored sequence number a read of the log from `from` takes: from 0, every
/// row, so that a row planted below 0 (which `seq >= 0` would never show) reaches
/// verification, read as a number it flags.
fn lowest_seq(from: u64) -> i64 {
    if from == 0 { i64::MIN } else { to_i64(from) }
}

/// Databases store integers as signed 64-bit: values past `i64::MAX` saturate (no time,
/// sequence number or count of ours gets there).
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| corrupt(format!("negative value {value} where a count or time was expected")))
}

/// A stored chain hash. One that is not 32 bytes reads as zeros, which no chain hash is,
/// so verification reports that record as edited.
fn hash_of(bytes: &[u8]) -> Hash {
    Hash::try_from(bytes).unwrap_or([0; 32])
}

/// The event stored as `text` under `version`, read as the run's event at `index` (from
/// 0): refused unless it is the next version and its seal verifies (`event_seal.rs`).
fn read_event(
    seal: &event_seal::EventSeal,
    run: &str,
    index: usize,
    version: i64,
    text: &str,
) -> Result<RunEvent, StoreError> {
    let expected = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
    if to_u64(version)? != expected {
        return Err(corrupt(format!(
            "run `{run}`: event {expected} is missing (the next stored is {version}); the \
             run's history was changed outside aecl"
        )));
    }
    seal.decode(run, expected, text)
}

/// What an effect left in flight becomes after a restart, and why.
fn recovered(state: EffectState) -> (EffectState, &'static str) {
    match state {
        EffectState::Pending => {
            (EffectState::Failed, "aecl stopped before dispatch: the call was not executed")
        }
        _ => (
            EffectState::OutcomeUnknown,
            "aecl stopped after dispatch: the call may or may not have happened, and is not retried",
        ),
    }
}

/// Whether a stored grant was spent, or voided (`migrations/006_grant_voids.sql`).
#[derive(Debug, Clone, Copy)]
struct GrantUsed {
    consumed: bool,
    voided: bool,
}

/// Why a stored grant cannot be spent on this call now, if it cannot (the memory store's
/// order).
fn grant_refusal(
    grant: &Grant,
    used: GrantUsed,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Option<GrantRefusal> {
    if used.consumed {
        Some(GrantRefusal::AlreadyUsed)
    } else if used.voided {
        Some(GrantRefusal::Voided)
    } else if at >= grant.expires {
        Some(GrantRefusal::Expired)
    } else if &grant.call_digest != digest {
        Some(GrantRefusal::OtherCall)
    } else if &grant.policy_revision != revision {
        Some(GrantRefusal::OtherRevision)
    } else {
        None
    }
}
