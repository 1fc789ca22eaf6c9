//! The in-memory store's audit log: records hash-chained and in a Merkle range
//! (`aecl_audit::LogState`), and signed checkpoints, as the databases keep them.
//!
//! A record is appended inside the critical section of the step that writes it (so a run
//! event and its decision record are one atomic step), and is acknowledged only once a
//! signed checkpoint covers it. Signing is group-committed: one producer at a time signs a
//! checkpoint over everything appended so far, outside the store's lock, and the producers
//! that queued behind it find their records already covered. Readers see only covered
//! records, as a database's readers see only committed rows.

use aecl_audit::{LogState, SignerKey, StoredRecord, Unsequenced, sign_checkpoint};
use aecl_core::Timestamp;

/// The log's data, kept inside the store's state.
#[derive(Debug, Default)]
pub(super) struct Log {
    head: LogState,
    records: Vec<StoredRecord>,
    /// The newest time among records not yet covered by a checkpoint.
    time: Option<Timestamp>,
    checkpoints: Vec<String>,
    /// How many records the checkpoints cover (the size of the last).
    sealed: u64,
}

impl Log {
    /// Appends a record; returns its sequence number. It is visible once sealed.
    pub(super) fn append(&mut self, unsequenced: &Unsequenced, time: Timestamp) -> u64 {
        let appended = self.head.append_unsequenced(unsequenced);
        self.records.push((appended.seq, appended.canonical, appended.chain_hash));
        self.time = Some(self.time.map_or(time, |t| t.max(time)));
        appended.seq
    }

    /// Whether record `seq` (or, with `None`, every record) is covered by a checkpoint.
    pub(super) fn is_sealed(&self, seq: Option<u64>) -> bool {
        match seq {
            Some(seq) => seq < self.sealed,
            None => self.sealed == self.head.next_seq(),
        }
    }

    /// The checkpoint to sign over every record so far, following the newest stored.
    pub(super) fn cut(&mut self, origin: &str) -> aecl_audit::Checkpoint {
        let previous = self.checkpoints.last().map(String::as_str);
        self.head.checkpoint(origin, self.time.take()).following(previous)
    }

    /// Stores a signed checkpoint of `size` records. Sealing is serialised, so sizes only
    /// grow.
    pub(super) fn sealed_at(&mut self, size: u64, note: String) {
        if size > self.sealed {
            self.checkpoints.push(note);
            self.sealed = size;
        }
    }

    /// Up to `limit` covered records from `from`, in order.
    pub(super) fn records(&self, from: u64, limit: usize) -> Vec<StoredRecord> {
        let start = usize::try_from(from).unwrap_or(usize::MAX);
        let end = usize::try_from(self.sealed).unwrap_or(usize::MAX).min(self.records.len());
        self.records.get(start..end).unwrap_or_default().iter().take(limit).cloned().collect()
    }

    pub(super) fn checkpoints(&self) -> Vec<String> {
        self.checkpoints.clone()
    }

    pub(super) fn newest_checkpoint(&self) -> Option<String> {
        self.checkpoints.last().cloned()
    }
}

/// Who signs checkpoints, and the turn producers take to sign.
#[derive(Debug)]
pub(super) struct Sealer {
    pub origin: String,
    pub signer: SignerKey,
    /// Held while one producer cuts and signs a checkpoint.
    pub turn: tokio::sync::Mutex<()>,
}

impl Sealer {
    pub(super) fn sign(
        &self,
        checkpoint: &aecl_audit::Checkpoint,
    ) -> Result<String, aecl_audit::AuditError> {
        sign_checkpoint(checkpoint, &self.signer)
    }
}
