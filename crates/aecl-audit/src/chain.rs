//! The hash chain, and the state a writer keeps to append records and cut checkpoints.
//!
//! `chain_hash(n) = SHA-256(0x02 || chain_hash(n - 1) || canonical_bytes(n))`, starting from
//! `GENESIS` (32 zero bytes) before record 0. The leading `0x02` separates chain hashes from
//! the Merkle tree's leaf (`0x00`) and node (`0x01`) hashes, so no value can be read as both.

use sha2::{Digest, Sha256};

use crate::checkpoint::Checkpoint;
use crate::error::AuditError;
use crate::merkle::{CompactRange, Hash, leaf_hash};
use crate::record::{AuditRecord, Unsequenced};
use aecl_core::Timestamp;

/// The chain hash before the first record.
pub const GENESIS: Hash = [0; 32];

/// The domain-separation prefix of chain hashes.
const CHAIN_PREFIX: u8 = 0x02;

/// The chain hash of a record whose canonical bytes are `canonical`, after `previous`.
pub fn chain_hash(previous: &Hash, canonical: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([CHAIN_PREFIX]);
    h.update(previous);
    h.update(canonical);
    h.finalize().into()
}

/// What appending one record produced: what the store must persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub canonical: Vec<u8>,
    pub chain_hash: Hash,
    pub leaf_hash: Hash,
}

/// A log's head: the next sequence number, the last chain hash and the Merkle compact range.
/// It is all a writer needs to append and to cut checkpoints; the store persists it (or
/// rebuilds it by reading the log) and resumes with `LogState::resume`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    // INVARIANT: `range.size() == next_seq`.
    next_seq: u64,
    head: Hash,
    range: CompactRange,
}

impl Default for LogState {
    fn default() -> LogState {
        LogState::new()
    }
}

impl LogState {
    /// An empty log.
    pub fn new() -> LogState {
        LogState { next_seq: 0, head: GENESIS, range: CompactRange::new() }
    }

    /// Resumes a log whose last record has chain hash `head` and whose Merkle tree is
    /// `range` (of `range.size()` records).
    pub fn resume(head: Hash, range: CompactRange) -> LogState {
        LogState { next_seq: range.size(), head, range }
    }

    /// The sequence number the next record gets (the number of records so far).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The chain hash of the last record (`GENESIS` when empty).
    pub fn head(&self) -> Hash {
        self.head
    }

    pub fn range(&self) -> &CompactRange {
        &self.range
    }

    /// The Merkle root of all records so far.
    pub fn root(&self) -> Hash {
        self.range.root()
    }

    /// Assigns `record` the next sequence number, encodes it and advances the chain and
    /// the tree. On error (a record that cannot be encoded) the state is unchanged.
    pub fn append(&mut self, record: &mut AuditRecord) -> Result<Appended, AuditError> {
        record.seq = self.next_seq;
        let canonical = record.to_canonical()?;
        Ok(self.append_canonical(canonical))
    }

    /// Appends a record encoded ahead of time by [`AuditRecord::to_unsequenced`] (on the
    /// producer's thread, so that the single writer only numbers and hashes): the next
    /// sequence number is written into its bytes.
    pub fn append_unsequenced(&mut self, unsequenced: &Unsequenced) -> Appended {
        let canonical = unsequenced.with_seq(self.next_seq);
        self.append_canonical(canonical)
    }

    /// Appends bytes that are already a record's canonical form with the next `seq`
    /// (the caller vouches for that; `verify` will not).
    pub fn append_canonical(&mut self, canonical: Vec<u8>) -> Appended {
        let chain_hash = chain_hash(&self.head, &canonical);
        let leaf = leaf_hash(&canonical);
        let seq = self.next_seq;
        self.head = chain_hash;
        self.range.push(leaf);
        self.next_seq += 1;
        Appended { seq, canonical, chain_hash, leaf_hash: leaf }
    }

    /// Takes one record that verification has checked: its stored chain hash becomes the
    /// head and its leaf joins the tree.
    pub(crate) fn advance(&mut self, chain_hash: Hash, leaf: Hash) {
        self.head = chain_hash;
        self.range.push(leaf);
        self.next_seq += 1;
    }

    /// A checkpoint of the log as it stands, to be signed (see `checkpoint`); a writer
    /// chains it to the one it stored before with [`Checkpoint::following`].
    pub fn checkpoint(&self, origin: &str, time: Option<Timestamp>) -> Checkpoint {
        Checkpoint {
            origin: origin.to_owned(),
            size: self.next_seq,
            root: self.range.root(),
            time,
            previous: None,
            extensions: Vec::new(),
        }
    }
}
