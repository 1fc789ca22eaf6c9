//! Proofs checked offline: a record's inclusion in an exported checkpoint, and consistency
//! between two checkpoints of the same log, as `aecl audit prove` and `verify-proof` will
//! use them.

use aecl_audit::merkle::leaf_hash;
use aecl_audit::{MerkleTree, parse_and_verify_checkpoint, verify_consistency, verify_inclusion};

use crate::support::{build, key};

#[test]
fn every_record_is_provably_in_an_exported_checkpoint() {
    let log = build(77, 20);
    let tree =
        MerkleTree::from_leaf_hashes(log.records.iter().map(|(_, b, _)| leaf_hash(b)).collect());
    let verifier = key().verifier();
    let checkpoints: Vec<_> = log
        .checkpoints
        .iter()
        .map(|note| parse_and_verify_checkpoint(note, &verifier).unwrap())
        .collect();
    let sizes: Vec<u64> = checkpoints.iter().map(|c| c.size).collect();
    assert_eq!(sizes, vec![20, 40, 60, 77]);
    for checkpoint in &checkpoints {
        for (seq, bytes, _) in log.records.iter().take(checkpoint.size as usize) {
            let proof = tree.prove(*seq, checkpoint.size).unwrap();
            let leaf = leaf_hash(bytes);
            verify_inclusion(&leaf, *seq, checkpoint.size, &proof, &checkpoint.root).unwrap();
            // The proof is for these bytes only.
            let mut other = bytes.clone();
            other[3] ^= 1;
            assert!(
                verify_inclusion(
                    &leaf_hash(&other),
                    *seq,
                    checkpoint.size,
                    &proof,
                    &checkpoint.root
                )
                .is_err()
            );
        }
    }
    for (i, old) in checkpoints.iter().enumerate() {
        for new in &checkpoints[i..] {
            let proof = tree.prove_consistency(old.size, new.size).unwrap();
            verify_consistency(old.size, new.size, &old.root, &new.root, &proof).unwrap();
        }
    }
}
