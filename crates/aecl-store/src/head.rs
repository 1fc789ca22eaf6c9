//! The stored form of the audit log's head: the last chain hash and the Merkle compact
//! range (its nodes concatenated, 32 bytes each).

use aecl_audit::{CompactRange, Hash, LogState};
use aecl_engine::StoreError;

use crate::corrupt;

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
