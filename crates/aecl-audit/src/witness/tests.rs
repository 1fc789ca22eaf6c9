//! The add-checkpoint body round-trips, and a witness takes only checkpoints that extend
//! the one it holds, signed by the log's key.

use super::*;
use crate::chain::LogState;
use crate::checkpoint::sign_checkpoint;
use crate::merkle::prove_consistency_from;
use crate::note::SignerKey;

const ORIGIN: &str = "witness.test/log";

fn key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, [3; 32]).unwrap()
}

/// A log grown by `sizes` steps (records are single bytes offset by `salt`): the add-checkpoint
/// body of each step.
fn steps(sizes: &[u64], salt: u8, signer: &SignerKey) -> Vec<AddCheckpoint> {
    let mut state = LogState::new();
    let mut out = Vec::new();
    for &size in sizes {
        let before = state.clone();
        let mut leaves = Vec::new();
        while state.next_seq() < size {
            let appended = state.append_canonical(vec![salt, state.next_seq() as u8]);
            leaves.push(appended.leaf_hash);
        }
        let proof = prove_consistency_from(before.range(), &leaves).unwrap();
        let note = sign_checkpoint(&state.checkpoint(ORIGIN, None), signer).unwrap();
        out.push(AddCheckpoint { old_size: before.next_seq(), proof, checkpoint: note });
    }
    out
}

#[test]
fn a_body_round_trips_and_bad_ones_are_refused() {
    let requests = steps(&[3, 10], 0, &key());
    for request in &requests {
        assert_eq!(&AddCheckpoint::parse(&request.to_text()).unwrap(), request);
    }
    assert!(requests[1].to_text().starts_with("old 3\n"));
    for bad in ["", "old 3\n", "old 03\n\nx\n", "old -1\n\nx\n", "new 3\n\nx\n", "old 3\n!!\n\nx\n"]
    {
        assert!(AddCheckpoint::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_witness_follows_the_log_and_refuses_to_go_back_or_fork() {
    let verifier = key().verifier();
    let good = steps(&[3, 10, 17], 0, &key());
    let first = accept(None, &good[0], &verifier, ORIGIN).unwrap();
    let second = accept(Some(&first), &good[1], &verifier, ORIGIN).unwrap();
    let third = accept(Some(&second), &good[2], &verifier, ORIGIN).unwrap();
    assert_eq!(third.size, 17);

    // Back to an older checkpoint (a rollback): its proof starts elsewhere.
    assert_eq!(
        accept(Some(&third), &good[1], &verifier, ORIGIN),
        Err(Refusal::Conflict { held: 17, old_size: 3 })
    );
    // The same with `old` rewritten to the held size: the proof cannot go backwards.
    let mut back = good[1].clone();
    back.old_size = 17;
    assert_eq!(
        accept(Some(&third), &back, &verifier, ORIGIN),
        Err(Refusal::Inconsistent { held: 17, size: 10 })
    );
    // Another history (a fork) signed with the real key, with its own valid proof.
    let fork = steps(&[10, 17, 20], 1, &key());
    let mut forked = fork[2].clone();
    forked.old_size = 17;
    assert!(matches!(
        accept(Some(&third), &forked, &verifier, ORIGIN),
        Err(Refusal::Inconsistent { held: 17, size: 20 })
    ));
    // A checkpoint signed by another key (a key swap).
    let impostor = SignerKey::from_seed(ORIGIN, [4; 32]).unwrap();
    let swapped = steps(&[3], 0, &impostor);
    assert!(matches!(accept(None, &swapped[0], &verifier, ORIGIN), Err(Refusal::Unsigned(_))));
    // Another log's origin.
    assert!(matches!(accept(None, &good[0], &verifier, "other/log"), Err(Refusal::Origin(_))));
}
