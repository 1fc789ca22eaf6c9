//! Checkpoints kept outside the store, in the C2SP tlog-witness form
//! (c2sp.org/tlog-witness): the `add-checkpoint` body that carries a signed checkpoint with
//! the RFC 6962 consistency proof from the previous one, the rule by which a witness (or a
//! checkpoint directory) accepts it, and the port through which a writer hands each new
//! checkpoint to whoever publishes it.
//!
//! The body is:
//!
//! ```text
//! old <size of the checkpoint the proof starts from>
//! <base64 proof hash>          (zero or more lines)
//!
//! <signed checkpoint note>
//! ```
//!
//! A witness holds the latest checkpoint it accepted and takes a new one only when it is
//! signed by the pinned log key, names the log's origin, starts its proof at the size the
//! witness holds, and the proof connects the two roots. An attacker who rolls the store
//! back or forks its history cannot make the witness go back with it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::{Checkpoint, parse_and_verify_checkpoint};
use crate::error::AuditError;
use crate::merkle::{Hash, verify_consistency};
use crate::note::VerifierKey;

const OLD_PREFIX: &str = "old ";

/// The most proof lines a body may carry: a proof between trees of up to 2^64 leaves has
/// at most 128 hashes; more is not a proof and bounds the work an input can cause.
const MAX_PROOF: usize = 130;

/// A tlog-witness `add-checkpoint` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the proof starts from (0 for the first).
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// The body text.
    pub fn to_text(&self) -> String {
        let mut text = format!("{OLD_PREFIX}{}\n", self.old_size);
        for hash in &self.proof {
            text.push_str(&STANDARD.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parses a body. The checkpoint is not opened here (see [`accept`]).
    pub fn parse(text: &str) -> Result<AddCheckpoint, AuditError> {
        let (head, checkpoint) =
            text.split_once("\n\n").ok_or_else(|| bad("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old_size = lines
            .next()
            .and_then(|line| line.strip_prefix(OLD_PREFIX))
            .filter(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
            .filter(|n| *n == "0" || !n.starts_with('0'))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("the first line must be `old <size>`"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() >= MAX_PROOF {
                return Err(bad("too many proof lines"));
            }
            let hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|bytes| Hash::try_from(bytes).ok())
                .ok_or_else(|| bad("a proof line is not a base64 SHA-256 hash"))?;
            proof.push(hash);
        }
        if checkpoint.is_empty() {
            return Err(bad("no checkpoint"));
        }
        Ok(AddCheckpoint { old_size, proof, checkpoint: checkpoint.to_owned() })
    }
}

fn bad(why: &str) -> AuditError {
    AuditError::MalformedNote(format!("add-checkpoint: {why}"))
}

/// Why a witness refuses a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a checkpoint signed by the pinned log key (or not in its form).
    #[error("not a checkpoint signed by the log's key: {0}")]
    Unsigned(AuditError),
    /// The checkpoint names another log.
    #[error("the checkpoint is for another log, `{0}`")]
    Origin(String),
    /// The proof starts from another size than the checkpoint the witness holds.
    #[error("the proof starts at size {old_size} but the witness holds size {held}")]
    Conflict { held: u64, old_size: u64 },
    /// The checkpoint is smaller than the one held, or the proof does not connect them:
    /// accepting it would let the log go back or fork.
    #[error("the checkpoint of size {size} is not consistent with the held one of size {held}")]
    Inconsistent { held: u64, size: u64 },
}

/// Decides whether a witness holding `held` (the latest checkpoint it accepted, if any)
/// takes `request`; returns the opened checkpoint to hold next.
pub fn accept(
    held: Option<&Checkpoint>,
    request: &AddCheckpoint,
    key: &VerifierKey,
    origin: &str,
) -> Result<Checkpoint, Refusal> {
    let new = parse_and_verify_checkpoint(&request.checkpoint, key).map_err(Refusal::Unsigned)?;
    if new.origin != origin {
        return Err(Refusal::Origin(new.origin));
    }
    let (held_size, held_root) = match held {
        Some(held) => (held.size, held.root),
        None => (0, crate::merkle::EMPTY_ROOT),
    };
    if request.old_size != held_size {
        return Err(Refusal::Conflict { held: held_size, old_size: request.old_size });
    }
    verify_consistency(held_size, new.size, &held_root, &new.root, &request.proof)
        .map_err(|_| Refusal::Inconsistent { held: held_size, size: new.size })?;
    Ok(new)
}

/// Where a store's writer hands every checkpoint it committed, with the proof from the
/// checkpoint before it. Called after the commit, on the writer's thread or task: an
/// implementation only queues (publishing does its I/O elsewhere) and never fails the
/// commit, which has happened.
pub trait CheckpointSink: Send + Sync + std::fmt::Debug {
    fn publish(&self, request: AddCheckpoint);

    /// Why the checkpoints committed are not reaching their destination, if they are not
    /// (the last attempt failed, or publication has fallen behind): a health check reports
    /// it, since a log whose checkpoints stay unpublished can be rolled back unnoticed.
    fn failure(&self) -> Option<String> {
        None
    }

    /// Waits, at most `within`, until every checkpoint handed over has been published (or
    /// has failed to be); returns how many were still waiting. A process calls it before
    /// it exits: its answers acknowledged records whose checkpoints must not stay
    /// unpublished, or the store could be cut back to what the destination holds unseen.
    /// A sink that publishes within [`CheckpointSink::publish`] has none waiting.
    fn drain(&self, _within: std::time::Duration) -> usize {
        0
    }

    /// Waits, at most `within`, until a checkpoint of at least `size` records has been
    /// published; `Err` (why) when the attempt that covered it failed or the wait ran out.
    /// The engine calls it before an effect is dispatched, so that no effect happens whose
    /// decision the store alone holds (where a cut of the store's tail would remove it
    /// unseen). A sink that publishes within [`CheckpointSink::publish`] has published it.
    fn published(&self, _size: u64, _within: std::time::Duration) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
