//! The resume check on hand-made log ends: each way a head can disagree with its records
//! and its newest checkpoint.

use aecl_audit::{LogState, SignerKey, sign_checkpoint};
use aecl_testkit::audit::{ORIGIN, record, signer, verifier};

use super::{Disagreement, Tip};

/// A log of `n` records as a writer leaves it: its state, its chain hashes and the
/// checkpoint it signed at each size.
struct Written {
    states: Vec<LogState>,
    chains: Vec<Vec<u8>>,
    notes: Vec<String>,
}

fn written(n: usize, key: &SignerKey) -> Written {
    let mut log = LogState::new();
    let mut written = Written { states: vec![log.clone()], chains: Vec::new(), notes: Vec::new() };
    for i in 0..n {
        let appended = log.append(&mut record(0, i)).unwrap();
        written.chains.push(appended.chain_hash.to_vec());
        written.notes.push(sign_checkpoint(&log.checkpoint(ORIGIN, None), key).unwrap());
        written.states.push(log.clone());
    }
    written
}

fn head_row(log: &LogState) -> Option<(i64, Vec<u8>, Vec<u8>)> {
    Some((log.next_seq() as i64, log.head().to_vec(), log.range().nodes().concat()))
}

/// The end of the first `size` records of `w`, as stored.
fn tip(w: &Written, size: usize) -> Tip {
    Tip {
        head: head_row(&w.states[size]),
        newest_checkpoint: size.checked_sub(1).map(|i| w.notes[i].clone()),
        first_seq: (size > 0).then_some(0),
        last: size.checked_sub(1).map(|i| (i as i64, w.chains[i].clone())),
    }
}

#[test]
fn an_empty_log_and_a_signed_head_resume() {
    let w = written(5, &signer());
    assert_eq!(Tip::default().resumable(&verifier()), Ok(LogState::new()));
    assert_eq!(tip(&w, 0).resumable(&verifier()), Ok(LogState::new()));
    assert_eq!(tip(&w, 5).resumable(&verifier()), Ok(w.states[5].clone()));
}

/// A change, the log end it leaves, and the disagreement expected of it.
type Case = (&'static str, Tip, fn(&Disagreement) -> bool);

#[test]
fn every_disagreement_is_named() {
    let w = written(5, &signer());
    let mut forged = w.states[5].clone();
    let appended = forged.append(&mut record(9, 9)).unwrap();
    let mut edited = w.states[0].clone();
    for i in 0..5 {
        edited.append(&mut record(usize::from(i == 2), i)).unwrap();
    }
    let other_key = SignerKey::from_seed(ORIGIN, [0x43; 32]).unwrap();
    let other = written(5, &other_key);
    let cases: Vec<Case> = vec![
        // F1: a record appended and the head recomputed over it.
        (
            "a forged record under a recomputed head",
            Tip {
                head: head_row(&forged),
                last: Some((5, appended.chain_hash.to_vec())),
                ..tip(&w, 5)
            },
            |d| matches!(d, Disagreement::Size { checkpoint: 5, head: 6 }),
        ),
        // F2: an old record edited, the head recomputed, the checkpoints kept or removed.
        (
            "an edited record under a recomputed head",
            Tip { head: head_row(&edited), ..tip(&w, 5) },
            |d| matches!(d, Disagreement::Root { size: 5 }),
        ),
        (
            "checkpoints removed",
            Tip { newest_checkpoint: None, head: head_row(&edited), ..tip(&w, 5) },
            |d| matches!(d, Disagreement::NoCheckpoint { size: 5 }),
        ),
        (
            "the newest checkpoint removed",
            Tip { newest_checkpoint: Some(w.notes[3].clone()), ..tip(&w, 5) },
            |d| matches!(d, Disagreement::Size { checkpoint: 4, head: 5 }),
        ),
        (
            "the head rolled back with records beyond it",
            Tip { last: tip(&w, 5).last, first_seq: Some(0), ..tip(&w, 3) },
            |d| matches!(d, Disagreement::Records { head: 3, .. }),
        ),
        (
            "the head rolled back under the newest checkpoint",
            Tip { head: head_row(&w.states[3]), ..tip(&w, 5) },
            |d| matches!(d, Disagreement::Size { checkpoint: 5, head: 3 }),
        ),
        ("the head row deleted", Tip { head: None, ..tip(&w, 5) }, |d| {
            matches!(d, Disagreement::NoHead { .. })
        }),
        (
            "a checkpoint signed by another key",
            Tip { newest_checkpoint: Some(other.notes[4].clone()), ..tip(&w, 5) },
            |d| matches!(d, Disagreement::Signature { .. }),
        ),
        ("another key's whole log", tip(&other, 5), |d| {
            matches!(d, Disagreement::Signature { .. })
        }),
        ("the last record removed", Tip { last: tip(&w, 4).last, ..tip(&w, 5) }, |d| {
            matches!(d, Disagreement::Records { head: 5, .. })
        }),
        ("a record planted below 0", Tip { first_seq: Some(-1), ..tip(&w, 5) }, |d| {
            matches!(d, Disagreement::Records { head: 5, .. })
        }),
        (
            "records without a head",
            Tip { head: None, newest_checkpoint: None, ..tip(&w, 5) },
            |d| matches!(d, Disagreement::NoHead { .. }),
        ),
        (
            "an empty head over records and checkpoints",
            Tip { head: head_row(&w.states[0]), ..tip(&w, 5) },
            |d| matches!(d, Disagreement::Size { checkpoint: 5, head: 0 }),
        ),
        (
            "the head's chain hash changed",
            Tip { last: Some((4, w.chains[3].clone())), ..tip(&w, 5) },
            |d| matches!(d, Disagreement::Chain { seq: 4 }),
        ),
        (
            "a head of the wrong shape",
            Tip { head: Some((5, vec![0; 32], vec![0; 31])), ..tip(&w, 5) },
            |d| matches!(d, Disagreement::BadHead(_)),
        ),
    ];
    for (what, tip, expected) in cases {
        match tip.resumable(&verifier()) {
            Ok(_) => panic!("{what}: resumed"),
            Err(why) => assert!(expected(&why), "{what}: {why:?}"),
        }
    }
}

#[test]
fn a_refusal_names_the_database_the_check_and_what_to_do() {
    let w = written(2, &SignerKey::from_seed("aecl.test/rotated", [0x44; 32]).unwrap());
    let why = tip(&w, 2).resumable(&verifier()).unwrap_err();
    let message = super::refusal("/srv/aecl.db", &why).to_string();
    for part in [
        "/srv/aecl.db",
        "not signed by this store's audit key `aecl.test/store`",
        "it is signed by `aecl.test/rotated`",
        "start a new database",
        "aecl audit verify --db /srv/aecl.db",
        "restore",
    ] {
        assert!(message.contains(part), "`{part}` not in: {message}");
    }
}
