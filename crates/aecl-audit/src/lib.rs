//! aecl's tamper-evident audit log, as pure functions over bytes: the record format and its
//! canonical bytes, the hash chain, the RFC 6962 Merkle tree with inclusion and consistency
//! proofs, checkpoints signed as C2SP signed notes with Ed25519, streaming verification of
//! a stored log, and redaction of secrets before anything is written.
//!
//! Nothing here does I/O, reads a clock or draws randomness: the store (`aecl-store`)
//! persists what `LogState::append` returns, the caller passes times, and keys are made
//! from seeds that the binary draws from the operating system.
//!
//! How the pieces fit:
//!
//! - each record is encoded to canonical bytes (`record`);
//! - `chain_hash = SHA-256(0x02 || previous chain_hash || bytes)` links it to the one before
//!   (`chain`), and `SHA-256(0x00 || bytes)` makes it a leaf of the Merkle tree (`merkle`);
//! - at every group commit the writer signs a checkpoint: origin, tree size, root and time
//!   (`checkpoint`, `note`);
//! - `verify_log` re-reads everything and names the first record or checkpoint that does
//!   not fit (`verify`), and requires a checkpoint covering every record;
//! - each checkpoint is also handed, with its consistency proof from the one before, to a
//!   `CheckpointSink` that publishes it outside the store (`witness`).

// Verification reads untrusted bytes: no panics on the input paths.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

pub mod canonical;
pub mod chain;
pub mod checkpoint;
mod error;
pub mod merkle;
pub mod note;
pub mod record;
pub mod redact;
pub mod verify;
pub mod witness;

pub use chain::{Appended, GENESIS, LogState, chain_hash};
pub use checkpoint::{
    Checkpoint, parse_and_verify_checkpoint, parse_and_verify_stored_checkpoint, sign_checkpoint,
    text_digest,
};
pub use error::AuditError;
pub use merkle::{
    CompactRange, Hash, MerkleTree, prove_consistency_from, verify_consistency, verify_inclusion,
};
pub use note::{SignerKey, VerifierKey};
pub use record::{AuditRecord, Outcome, RecordKind, Unsequenced};
pub use redact::{FieldPath, Quoted, REDACTED, Redactions, redact};
pub use verify::{
    CheckpointId, Problem, StoredRecord, VerifyOptions, VerifyReport, verify_log, verify_log_with,
};
pub use witness::{AddCheckpoint, CheckpointSink, Refusal};
