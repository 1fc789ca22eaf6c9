//! The stored form of the audit log's end: the head (the last chain hash and the Merkle
//! compact range, its nodes concatenated, 32 bytes each) and the checkpoint rows.

use aecl_audit::{Checkpoint, CompactRange, Hash, LogState};
use aecl_engine::StoreError;

use crate::{corrupt, to_i64};

/// A stored checkpoint row's note, once the row's key is the size its note states. Writers
/// key each checkpoint by its size and find the newest by that key, so a key changed
/// outside aecl shows one checkpoint in another's place; the note's signature does not
/// cover the key, so it is compared here, for every reader. A note that cannot be read is
/// left to verification, which names it.
pub(crate) fn checkpoint_row(key: i64, note: String) -> Result<String, StoreError> {
    let stated = Checkpoint::read_unverified(&note).map(|checkpoint| checkpoint.size);
    match stated {
        Some(size) if to_i64(size) != key => Err(corrupt(format!(
            "the checkpoint stored under size {key} is a checkpoint of size {size}: the table \
             `audit_checkpoints` was changed outside aecl"
        ))),
        _ => Ok(note),
    }
}

pub(crate) fn encode(log: &LogState) -> (Hash, Vec<u8>) {
    (log.head(), log.range().nodes().concat())
}

pub(crate) fn decode(size: u64, head: &[u8], nodes: &[u8]) -> Result<LogState, StoreError> {
    let head: Hash =
        head.try_into().map_err(|_| corrupt("the audit head's chain hash is not 32 bytes"))?;
    if !nodes.len().is_multiple_of(32) {
        return Err(corrupt("the audit head's Merkle range is not a list of 32-byte hashes"));
    }
    let nodes = nodes
        .chunks_exact(32)
        .map(|c| Hash::try_from(c).map_err(|_| corrupt("bad Merkle node")))
        .collect::<Result<Vec<_>, _>>()?;
    let range = CompactRange::from_parts(size, nodes)
        .map_err(|e| corrupt(format!("the audit head's Merkle range: {e}")))?;
    Ok(LogState::resume(head, range))
}
