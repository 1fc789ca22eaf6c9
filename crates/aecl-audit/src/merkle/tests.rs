//! Merkle tree tests: the Certificate Transparency reference vectors, golden roots of larger
//! trees, corrupted proofs, and properties of proofs over random trees.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

use super::*;

fn hx(s: &str) -> Hash {
    let bytes: Vec<u8> =
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
    bytes.try_into().unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The leaf inputs of the CT test suites (certificate-transparency `merkle_tree_test.cc`,
/// transparency-dev/merkle `testonly/constants.go`).
const CT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// MTH of the first `n` CT leaves, indexed by `n` (index 0: the empty tree).
const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn ct_tree() -> MerkleTree {
    let mut tree = MerkleTree::new();
    for leaf in CT_LEAVES {
        tree.push_data(&unhex(leaf));
    }
    tree
}

#[test]
fn hashes_match_rfc6962_vectors() {
    assert_eq!(EMPTY_ROOT, hx(CT_ROOTS[0]));
    assert_eq!(root(&[]), EMPTY_ROOT);
    assert_eq!(
        leaf_hash(b""),
        hx("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    );
    assert_eq!(
        leaf_hash(b"L123456"),
        hx("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    );
}

#[test]
fn roots_of_the_ct_tree_match_for_every_size() {
    let tree = ct_tree();
    for (size, want) in CT_ROOTS.iter().enumerate() {
        assert_eq!(tree.root(size as u64).unwrap(), hx(want), "size {size}");
    }
    assert_eq!(
        tree.root(8).unwrap(),
        hx("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    );
}

#[test]
fn compact_range_matches_every_prefix_root() {
    let tree = ct_tree();
    let mut range = CompactRange::new();
    assert_eq!(range.root(), EMPTY_ROOT);
    for i in 0..8 {
        range.push(*tree.leaf(i).unwrap());
        assert_eq!(range.root(), hx(CT_ROOTS[i as usize + 1]));
        assert_eq!(range.nodes().len(), range.size().count_ones() as usize);
    }
    let saved = CompactRange::from_parts(range.size(), range.nodes().to_vec()).unwrap();
    assert_eq!(saved, range);
    assert!(CompactRange::from_parts(7, vec![[0; 32]]).is_err());
}

/// Golden roots of larger trees from transparency-dev/merkle `compact/range_test.go`
/// (`TestGetRootHashGolden`): leaf `i` is the two bytes of `i` little-endian.
#[test]
fn golden_roots_of_larger_trees() {
    let golden = [
        (10, "VjWMPSYNtCuCNlF/RLnQy6HcwSk6CIipfxm+hettA+4="),
        (15, "j4SulYmocFuxdeyp12xXCIgK6PekBcxzAIj4zbQzNEI="),
        (16, "c+4Uc6BCMOZf/v3NZK1kqTUJe+bBoFtOhP+P3SayKRE="),
        (100, "dUh9hYH88p0CMoHkdr1wC2szbhcLAXOejWpINIooKUY="),
        (255, "SmdsuKUqiod3RX2jyF2M6JnbdE4QuTwwipfAowI4/i0="),
        (256, "qFI0t/tZ1MdOYgyPpPzHFiZVw86koScXy9q3FU5casA="),
        (1000, "RXrgb8xHd55Y48FbfotJwCbV82Kx22LZfEbmBGAvwlQ="),
        (4095, "cWRFdQhPcjn9WyBXE/r1f04ejxIm5lvg40DEpRBVS0w="),
        (4096, "6uU/phfHg1n/GksYT6TO9aN8EauMCCJRl3dIK0HDs2M="),
        (10000, "VZcav65F9haHVRk3wre2axFoBXRNeUh/1d9d5FQfxIg="),
    ];
    let mut range = CompactRange::new();
    let mut tree = MerkleTree::new();
    let mut next = 0;
    for (size, want) in golden {
        while range.size() < size {
            let data = [(next & 0xff) as u8, ((next >> 8) & 0xff) as u8];
            range.push(leaf_hash(&data));
            tree.push_data(&data);
            next += 1;
        }
        let want: Hash = STANDARD.decode(want).unwrap().try_into().unwrap();
        assert_eq!(range.root(), want, "size {size}");
        assert_eq!(tree.root(size).unwrap(), want, "size {size}");
    }
}

/// Inclusion proofs from transparency-dev/merkle `testonly/reference_test.go`
/// (`TestRefInclusionProof`), 0-based leaf indices.
#[test]
fn inclusion_proofs_match_reference_vectors() {
    let vectors: [(u64, u64, &[&str]); 7] = [
        (0, 1, &[]),
        (0, 2, &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
        (1, 2, &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    let tree = ct_tree();
    for (index, size, want) in vectors {
        let want: Vec<Hash> = want.iter().map(|h| hx(h)).collect();
        let proof = tree.prove(index, size).unwrap();
        assert_eq!(proof, want, "index {index} size {size}");
        let leaf = tree.leaf(index).unwrap();
        let root = hx(CT_ROOTS[size as usize]);
        verify_inclusion(leaf, index, size, &proof, &root).unwrap();
        for (i, j, s, r, l, p, what) in corrupted_inclusion(index, size, &proof, &root, leaf) {
            assert!(verify_inclusion(&l, i, s, &p, &r).is_err(), "{what} index {j}");
        }
    }
}

type Probe = (u64, u64, u64, Hash, Hash, Vec<Hash>, &'static str);

/// The corruptions of transparency-dev/merkle `proof/verify_test.go`
/// (`corruptInclusionProof`), minus those that change a hash's length, which the types
/// here cannot express.
fn corrupted_inclusion(
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
    leaf: &Hash,
) -> Vec<Probe> {
    let some = hx("abacaba000000000000000000000000000000000000000000060061e00123456");
    let p = proof.to_vec();
    let mut out: Vec<Probe> = vec![
        (index.wrapping_sub(1), index, size, *root, *leaf, p.clone(), "index - 1"),
        (index + 1, index, size, *root, *leaf, p.clone(), "index + 1"),
        (index ^ 2, index, size, *root, *leaf, p.clone(), "index ^ 2"),
        (index, index, size * 2, *root, *leaf, p.clone(), "size * 2"),
        (index, index, size / 2, *root, *leaf, p.clone(), "size / 2"),
        (index, index, size, *root, leaf_hash(b"WrongLeaf"), p.clone(), "wrong leaf"),
        (index, index, size, EMPTY_ROOT, *leaf, p.clone(), "empty root"),
        (index, index, size, some, *leaf, p.clone(), "random root"),
    ];
    let mut trailing = p.clone();
    trailing.push(*root);
    out.push((index, index, size, *root, *leaf, trailing, "trailing root"));
    let mut preceding = vec![*root];
    preceding.extend_from_slice(&p);
    out.push((index, index, size, *root, *leaf, preceding, "preceding root"));
    for i in 0..p.len() {
        let mut wrong = p.clone();
        wrong[i][0] ^= 8;
        out.push((index, index, size, *root, *leaf, wrong, "flipped bit"));
    }
    if !p.is_empty() {
        out.push((index, index, size, *root, *leaf, p[..p.len() - 1].to_vec(), "removed"));
    }
    if p.len() > 1 {
        let mut wrong = vec![p[0], some];
        wrong.extend_from_slice(&p[1..]);
        out.push((index, index, size, *root, *leaf, wrong, "inserted"));
    }
    out
}

/// Consistency proofs from transparency-dev/merkle `proof/verify_test.go`.
#[test]
fn consistency_proofs_match_reference_vectors() {
    let vectors: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    let tree = ct_tree();
    for (old, new, want) in vectors {
        let want: Vec<Hash> = want.iter().map(|h| hx(h)).collect();
        let proof = tree.prove_consistency(old, new).unwrap();
        assert_eq!(proof, want, "{old} -> {new}");
        let old_root = hx(CT_ROOTS[old as usize]);
        let new_root = hx(CT_ROOTS[new as usize]);
        verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
        // Swapped roots, wrong sizes and a flipped bit all fail.
        if old != new {
            assert!(verify_consistency(old, new, &new_root, &old_root, &proof).is_err());
            assert!(verify_consistency(old + 1, new, &old_root, &new_root, &proof).is_err());
            assert!(verify_consistency(new, old, &old_root, &new_root, &proof).is_err());
            for i in 0..proof.len() {
                let mut wrong = proof.clone();
                wrong[i][31] ^= 1;
                assert!(verify_consistency(old, new, &old_root, &new_root, &wrong).is_err());
            }
            assert!(verify_consistency(old, new, &old_root, &new_root, &[]).is_err());
        }
    }
}

#[test]
fn proofs_outside_the_tree_are_errors() {
    let tree = ct_tree();
    assert!(tree.prove(0, 0).is_err());
    assert!(tree.prove(8, 8).is_err());
    assert!(tree.prove(0, 9).is_err());
    assert!(tree.prove_consistency(5, 4).is_err());
    assert!(tree.prove_consistency(1, 9).is_err());
    assert_eq!(tree.prove_consistency(0, 8).unwrap(), Vec::<Hash>::new());
    assert!(verify_inclusion(&EMPTY_ROOT, 0, 0, &[], &EMPTY_ROOT).is_err());
    verify_consistency(0, 8, &EMPTY_ROOT, &hx(CT_ROOTS[8]), &[]).unwrap();
}

/// A tree whose leaves are all different (each is prefixed with its index), so that a
/// proof for one leaf cannot happen to fit another.
fn tree_of(leaves: &[Vec<u8>]) -> MerkleTree {
    let mut tree = MerkleTree::new();
    for (i, leaf) in leaves.iter().enumerate() {
        tree.push_data(&unique(i, leaf));
    }
    tree
}

fn unique(i: usize, leaf: &[u8]) -> Vec<u8> {
    let mut data = (i as u64).to_be_bytes().to_vec();
    data.extend_from_slice(leaf);
    data
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every inclusion proof of every leaf of a random tree verifies, and fails for a
    /// changed leaf or against another index.
    #[test]
    fn every_inclusion_proof_verifies_and_a_changed_leaf_fails(
        leaves in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 1..70),
        flip in any::<u8>(),
    ) {
        let tree = tree_of(&leaves);
        let size = tree.len();
        let root = tree.root(size).unwrap();
        prop_assert_eq!(root, super::root(&tree.leaves));
        for index in 0..size {
            let proof = tree.prove(index, size).unwrap();
            let leaf = *tree.leaf(index).unwrap();
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());
            let mut changed = unique(index as usize, &leaves[index as usize]);
            changed.push(flip);
            let changed = leaf_hash(&changed);
            prop_assert!(verify_inclusion(&changed, index, size, &proof, &root).is_err());
            if size > 1 {
                let other = (index + 1) % size;
                prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
            }
        }
    }

    /// Every prefix is consistent with every larger prefix, and not with a changed tree.
    #[test]
    fn every_consistency_proof_verifies(
        leaves in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..6), 1..40),
    ) {
        let tree = tree_of(&leaves);
        let n = tree.len();
        for new in 1..=n {
            let new_root = tree.root(new).unwrap();
            for old in 1..=new {
                let old_root = tree.root(old).unwrap();
                let proof = tree.prove_consistency(old, new).unwrap();
                prop_assert!(verify_consistency(old, new, &old_root, &new_root, &proof).is_ok());
                if old < new {
                    let mut other = old_root;
                    other[0] ^= 1;
                    prop_assert!(verify_consistency(old, new, &other, &new_root, &proof).is_err());
                }
            }
        }
    }
}

/// A writer that keeps only the compact range proves the same as the whole tree would.
#[test]
fn proofs_from_a_compact_range_equal_proofs_from_the_whole_tree() {
    let leaves: Vec<Hash> = (0u8..70).map(|i| leaf_hash(&[i])).collect();
    let tree = MerkleTree::from_leaf_hashes(leaves.clone());
    for old in 0..=leaves.len() {
        let mut range = CompactRange::new();
        for leaf in &leaves[..old] {
            range.push(*leaf);
        }
        for new in old..=leaves.len() {
            let proof = prove_consistency_from(&range, &leaves[old..new]).unwrap();
            assert_eq!(
                proof,
                tree.prove_consistency(old as u64, new as u64).unwrap(),
                "{old}->{new}"
            );
        }
    }
}
