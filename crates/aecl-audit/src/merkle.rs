//! The RFC 6962 Merkle tree over the records: hashes, roots, inclusion and consistency
//! proofs, and the compact range that computes roots while streaming.
//!
//! Leaves are the canonical bytes of the records. As in RFC 6962 §2.1 (and RFC 9162), a
//! leaf hashes as `SHA-256(0x00 || bytes)`, an interior node as `SHA-256(0x01 || left ||
//! right)`, the empty tree as `SHA-256("")`, and a tree of `n > 1` leaves splits at the
//! largest power of two below `n`. Proofs are generated as in RFC 6962 §2.1.1 and §2.1.2 and
//! verified with the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.

use sha2::{Digest, Sha256};

use crate::error::AuditError;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// `SHA-256("")`: the root of the empty tree.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The Merkle tree hash (RFC 6962 §2.1 MTH) of a list of leaf hashes, of any length.
pub fn root(leaves: &[Hash]) -> Hash {
    let mut range = CompactRange::new();
    for leaf in leaves {
        range.push(*leaf);
    }
    range.root()
}

/// The roots of the perfect subtrees that make up a tree of `size` leaves, left to right
/// (one per set bit of `size`, largest first). Pushing a leaf merges equal-sized subtrees
/// like a binary counter, so the root of every prefix of a stream is available in
/// `O(log n)` without keeping the leaves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    // INVARIANT: `nodes.len() == size.count_ones()`, and `nodes[i]` is the root of the
    // perfect subtree for the i-th set bit of `size`, from the most significant.
    nodes: Vec<Hash>,
}

impl CompactRange {
    /// The range of the empty tree.
    pub fn new() -> CompactRange {
        CompactRange { size: 0, nodes: Vec::new() }
    }

    /// Rebuilds a saved range (as returned by `nodes`), checking its shape.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Result<CompactRange, AuditError> {
        if nodes.len() != size.count_ones() as usize {
            return Err(AuditError::LogState(format!(
                "a tree of size {size} has {} subtree roots, not {}",
                size.count_ones(),
                nodes.len()
            )));
        }
        Ok(CompactRange { size, nodes })
    }

    /// The number of leaves pushed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, left to right.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        // Each trailing one bit of the old size is a subtree of the same height as `hash`.
        while size & 1 == 1 {
            match self.nodes.pop() {
                Some(left) => hash = node_hash(&left, &hash),
                None => break,
            }
            size >>= 1;
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    /// The root of the tree of all leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(last) = iter.next() else { return EMPTY_ROOT };
        iter.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// A tree over leaf hashes kept in memory, for producing proofs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MerkleTree {
    leaves: Vec<Hash>,
}

impl MerkleTree {
    pub fn new() -> MerkleTree {
        MerkleTree::default()
    }

    /// A tree over the given leaf hashes (for instance, read back from the store).
    pub fn from_leaf_hashes(leaves: Vec<Hash>) -> MerkleTree {
        MerkleTree { leaves }
    }

    /// Appends the leaf for `data` (a record's canonical bytes).
    pub fn push_data(&mut self, data: &[u8]) {
        self.leaves.push(leaf_hash(data));
    }

    /// Appends a leaf hash.
    pub fn push_hash(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
    }

    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    pub fn leaf(&self, index: u64) -> Option<&Hash> {
        usize::try_from(index).ok().and_then(|i| self.leaves.get(i))
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, AuditError> {
        Ok(root(self.prefix(size)?))
    }

    /// The inclusion proof (RFC 6962 §2.1.1 `PATH`) of leaf `index` in the tree of the first
    /// `size` leaves.
    pub fn prove(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        let leaves = self.prefix(size)?;
        if index >= size {
            return Err(AuditError::OutOfRange { what: "leaf index", value: index, size });
        }
        let mut proof = Vec::new();
        path(index, leaves, &mut proof);
        Ok(proof)
    }

    /// The consistency proof (RFC 6962 §2.1.2 `PROOF`) that the tree of the first `old`
    /// leaves is a prefix of the tree of the first `new` leaves. Empty when `old` is 0 or
    /// equals `new`.
    pub fn prove_consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        let leaves = self.prefix(new)?;
        if old > new {
            return Err(AuditError::OutOfRange { what: "old tree size", value: old, size: new });
        }
        let mut proof = Vec::new();
        if old > 0 && old < new {
            subproof(old, leaves, true, &mut proof);
        }
        Ok(proof)
    }

    fn prefix(&self, size: u64) -> Result<&[Hash], AuditError> {
        usize::try_from(size)
            .ok()
            .and_then(|n| self.leaves.get(..n))
            .ok_or(AuditError::OutOfRange { what: "tree size", value: size, size: self.len() })
    }
}

/// The largest power of two strictly below `n` (for `n >= 2`).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// RFC 6962 §2.1.1: `PATH(m, D[n])`, appended to `out` from the leaf upwards.
fn path(m: u64, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k);
    if m < k as u64 {
        path(m, left, out);
        out.push(root(right));
    } else {
        path(m - k as u64, right, out);
        out.push(root(left));
    }
}

/// RFC 6962 §2.1.2: `SUBPROOF(m, D[n], b)`, appended to `out`.
fn subproof(m: u64, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len() as u64;
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    if n < 2 {
        return;
    }
    let k = split_point(leaves.len());
    let (left, right) = leaves.split_at(k);
    if m <= k as u64 {
        subproof(m, left, complete, out);
        out.push(root(right));
    } else {
        subproof(m - k as u64, right, false, out);
        out.push(root(left));
    }
}

/// The consistency proof (RFC 6962 §2.1.2) from the tree whose compact range is `old` to
/// that tree extended by `new_leaves`, without the old leaves: a writer keeps only the
/// compact range, and every node the proof needs left of the old size is one of its
/// subtree roots (the proof only takes perfect subtrees aligned on the old tree's
/// decomposition there), while every node right of it is built from the new leaves.
pub fn prove_consistency_from(
    old: &CompactRange,
    new_leaves: &[Hash],
) -> Result<Vec<Hash>, AuditError> {
    let m = old.size();
    let n = m + new_leaves.len() as u64;
    let mut proof = Vec::new();
    if m > 0 && m < n {
        let source = Extension { old, new_leaves };
        source.subproof(m, 0, n, true, &mut proof)?;
    }
    Ok(proof)
}

/// A tree known by the compact range of its first leaves and the leaves after them.
struct Extension<'a> {
    old: &'a CompactRange,
    new_leaves: &'a [Hash],
}

impl Extension<'_> {
    /// The root of the leaves `start..end`.
    fn subtree(&self, start: u64, end: u64) -> Result<Hash, AuditError> {
        let m = self.old.size();
        if start >= m {
            let range = usize::try_from(start - m).ok().zip(usize::try_from(end - m).ok());
            return range
                .and_then(|(a, b)| self.new_leaves.get(a..b))
                .map(root)
                .ok_or(AuditError::OutOfRange { what: "tree size", value: end, size: m });
        }
        // A subtree of the old tree: one of the compact range's nodes.
        let mut offset = 0u64;
        let mut nodes = self.old.nodes().iter();
        for bit in (0..u64::BITS).rev() {
            let width = 1u64 << bit;
            if m & width == 0 {
                continue;
            }
            let Some(node) = nodes.next() else { break };
            if offset == start && offset + width == end {
                return Ok(*node);
            }
            offset += width;
        }
        Err(AuditError::LogState(format!(
            "the subtree {start}..{end} is not a node of the compact range of size {m}"
        )))
    }

    /// `SUBPROOF(m, D[start..start + n], complete)`, as `subproof` above.
    fn subproof(
        &self,
        m: u64,
        start: u64,
        n: u64,
        complete: bool,
        out: &mut Vec<Hash>,
    ) -> Result<(), AuditError> {
        if m == n {
            if !complete {
                out.push(self.subtree(start, start + n)?);
            }
            return Ok(());
        }
        if n < 2 {
            return Ok(());
        }
        let k = 1u64 << (u64::BITS - 1 - (n - 1).leading_zeros());
        if m <= k {
            self.subproof(m, start, k, complete, out)?;
            out.push(self.subtree(start + k, start + n)?);
        } else {
            self.subproof(m - k, start + k, n - k, false, out)?;
            out.push(self.subtree(start, start + k)?);
        }
        Ok(())
    }
}

/// Verifies that `leaf` (a leaf hash) is at `index` in the tree of `size` leaves with root
/// `root`, by RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), AuditError> {
    if index >= size {
        return Err(AuditError::InclusionProof);
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(AuditError::InclusionProof);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && r == *root { Ok(()) } else { Err(AuditError::InclusionProof) }
}

/// Verifies that the tree of `old_size` leaves with root `old_root` is a prefix of the tree
/// of `new_size` leaves with root `new_root`, by RFC 9162 §2.1.4.2. The cases the RFC
/// leaves to the caller: equal sizes need an empty proof and equal roots; the empty tree is
/// a prefix of every tree (empty proof); a larger old tree is never consistent.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), AuditError> {
    if old_size > new_size {
        return Err(AuditError::ConsistencyProof);
    }
    if old_size == new_size {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(AuditError::ConsistencyProof)
        };
    }
    if old_size == 0 {
        return if proof.is_empty() { Ok(()) } else { Err(AuditError::ConsistencyProof) };
    }
    // Step 1: a proof between different non-empty trees is never empty.
    let Some((first, rest)) = proof.split_first() else {
        return Err(AuditError::ConsistencyProof);
    };
    // Step 2: when the old tree is a perfect subtree, its root is the proof's implicit first
    // element.
    let (seed, path) = if old_size.is_power_of_two() { (old_root, proof) } else { (first, rest) };
    // Step 3 and 4.
    let mut fn_ = old_size - 1;
    let mut sn = new_size - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let mut fr = *seed;
    let mut sr = *seed;
    // Step 6.
    for c in path {
        if sn == 0 {
            return Err(AuditError::ConsistencyProof);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if fr == *old_root && sr == *new_root && sn == 0 {
        Ok(())
    } else {
        Err(AuditError::ConsistencyProof)
    }
}

#[cfg(test)]
mod tests;
