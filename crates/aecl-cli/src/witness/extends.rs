//! Whether the store's log extends a checkpoint held outside it (the newest one of a
//! checkpoint directory or a witness), proved from the store's own records, and the
//! consistency proofs that publishing reads from the store.
//!
//! A process that appends to the log with `--checkpoint-dir` checks this before it opens
//! the store: a store put back to an older copy (a rollback), or one whose history went
//! another way (a fork), would otherwise be resumed and signed, a second history under the
//! same key. The store's head is what its writer resumes from, so the proof runs from the
//! held checkpoint to the head, over the leaves the store holds.

use aecl_audit::merkle::leaf_hash;
use aecl_audit::{Checkpoint, CompactRange, Hash, prove_consistency_from, verify_consistency};
use anyhow::{Context, Result, bail};

use crate::audit::hex;
use crate::log_reader::LogReader;

/// The tree of the store's first `old` records as a compact range, and the leaves of the
/// records `old..new` after it: what a consistency proof between the two sizes needs,
/// read in one pass with memory for the leaves after `old` only.
fn leaves_between(reader: &LogReader, old: u64, new: u64) -> Result<(CompactRange, Vec<Hash>)> {
    if old > new {
        bail!("the proof would start at size {old}, past its end at size {new}");
    }
    let mut range = CompactRange::new();
    let mut after = Vec::new();
    let mut stream = reader.stream(0);
    let mut count = 0u64;
    for (seq, bytes, _) in stream.by_ref().take(usize::try_from(new)?) {
        // The stored numbers must be the positions: a gap would make these leaves another
        // tree than the one the checkpoints sign.
        if seq != count {
            bail!("the store's record at position {count} is numbered {seq}");
        }
        let leaf = leaf_hash(&bytes);
        if count < old {
            range.push(leaf);
        } else {
            after.push(leaf);
        }
        count += 1;
    }
    if let Some(error) = stream.error {
        return Err(error.context("reading the log"));
    }
    if count < new {
        bail!("the store holds {count} records, fewer than the {new} of the tree to prove");
    }
    Ok((range, after))
}

/// The consistency proof between the store's trees of `old` and `new` records.
pub fn proof_from_reader(reader: &LogReader, old: u64, new: u64) -> Result<Vec<Hash>> {
    let (range, after) = leaves_between(reader, old, new)?;
    prove_consistency_from(&range, &after).context("proving consistency from the store")
}

/// Checks that the log in the store `db` extends `held`, the newest checkpoint held at
/// `target`: the store is not behind it, and the consistency proof from it to the store's
/// head, made from the store's records, verifies. The error names both sizes and roots.
pub fn check_store_extends(db: &str, held: &Checkpoint, target: &str) -> Result<()> {
    let reader = match LogReader::open(db) {
        Ok(reader) => reader,
        // No store at all: it holds no record, so it is behind whatever is held.
        Err(error) if !std::path::Path::new(db).exists() && !db.contains("://") => {
            bail!(
                "refusing to start: the store `{db}` does not exist ({error:#}) but `{target}` \
                 holds a checkpoint of {} records (root {}): restore the store, or publish to \
                 a new destination for a new log",
                held.size,
                hex(&held.root)
            );
        }
        Err(error) => return Err(error),
    };
    let head = reader.head().with_context(|| format!("reading the head of `{db}`"))?;
    let (size, root) = (head.next_seq(), head.root());
    let refused = |what: &str| {
        format!(
            "refusing to start: the audit log in `{db}` (size {size}, root {}) {what} the \
             newest checkpoint held at `{target}` (size {}, root {}): the store was rolled \
             back to an older copy, or its history forked from the one published; nothing \
             will be signed over it. Check it with `aecl audit verify --checkpoints {target}`",
            hex(&root),
            held.size,
            hex(&held.root)
        )
    };
    if size < held.size {
        bail!(refused("is behind"));
    }
    let proof = proof_from_reader(&reader, held.size, size)
        .with_context(|| refused("cannot be proved to extend"))?;
    verify_consistency(held.size, size, &held.root, &root, &proof)
        .map_err(|_| anyhow::anyhow!(refused("does not extend")))
}

#[cfg(test)]
mod tests;
