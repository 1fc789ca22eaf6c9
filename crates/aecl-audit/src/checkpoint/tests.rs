//! Checkpoint tests: the body form, signing and opening, and edits that must not verify.

use aecl_core::Timestamp;

use super::*;
use crate::merkle::EMPTY_ROOT;

fn key() -> SignerKey {
    SignerKey::from_seed("audit.example/log", [0x42; 32]).unwrap()
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: "audit.example/log".into(),
        size: 8,
        root: [7; 32],
        time: Some(Timestamp(1_764_000_000_000)),
        previous: None,
        extensions: Vec::new(),
    }
}

#[test]
fn body_has_the_tlog_checkpoint_form() {
    assert_eq!(
        checkpoint().body(),
        "audit.example/log\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\ntime 1764000000000\n"
    );
    let mut bare = checkpoint();
    bare.time = None;
    bare.size = 0;
    bare.root = EMPTY_ROOT;
    assert_eq!(bare.body(), "audit.example/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
    assert_eq!(Checkpoint::parse_body(&bare.body()).unwrap(), bare);
}

#[test]
fn signed_checkpoint_round_trips() {
    let note = sign_checkpoint(&checkpoint(), &key()).unwrap();
    assert!(note.starts_with(&checkpoint().body()));
    assert!(note.contains("\n\n— audit.example/log "));
    assert_eq!(parse_and_verify_checkpoint(&note, &key().verifier()).unwrap(), checkpoint());

    let mut extended = checkpoint();
    extended.extensions.push("node a".into());
    let note = sign_checkpoint(&extended, &key()).unwrap();
    assert_eq!(parse_and_verify_checkpoint(&note, &key().verifier()).unwrap(), extended);
}

/// The exact note for a fixed key and checkpoint, so the format cannot drift unnoticed.
#[test]
fn signed_checkpoint_known_answer() {
    let note = sign_checkpoint(&checkpoint(), &key()).unwrap();
    let (_, signature) = note.rsplit_once(' ').unwrap();
    let expected_vkey = key().verifier().to_text();
    assert_eq!(VerifierKey::parse(&expected_vkey).unwrap(), key().verifier());
    assert_eq!(signature.len(), 93);
    assert_eq!(note, KNOWN_NOTE);
}

const KNOWN_NOTE: &str = "audit.example/log\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\ntime 1764000000000\n\n\
     — audit.example/log JnJEA2qgYg+qksO77ewkDlc4cvqVjyPMeglAYz0suS1Pu+ClNguytaC1HWLxjDT+KGOBq/nfrNe07mcrnBEVe/3zMwk=\n";

#[test]
fn edited_checkpoints_do_not_verify() {
    let note = sign_checkpoint(&checkpoint(), &key()).unwrap();
    let verifier = key().verifier();
    for edited in [
        note.replacen("\n8\n", "\n9\n", 1),
        note.replacen("\n8\n", "\n08\n", 1),
        note.replacen("BwcH", "BwcI", 1),
        note.replacen("time 1764000000000", "time 1764000000001", 1),
        note.replacen("audit.example/log\n", "audit.example/lob\n", 1),
    ] {
        assert!(parse_and_verify_checkpoint(&edited, &verifier).is_err(), "{edited}");
    }
    let other = SignerKey::from_seed("audit.example/log", [0x43; 32]).unwrap();
    let resigned = sign_checkpoint(&checkpoint(), &other).unwrap();
    assert!(matches!(
        parse_and_verify_checkpoint(&resigned, &verifier),
        Err(AuditError::NotSignedByKey { .. })
    ));
}

#[test]
fn malformed_bodies_are_refused() {
    for body in [
        "",
        "origin\n",
        "origin\n8\n",
        "\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
        "origin\n-8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
        "origin\n+8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
        "origin\n 8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
        "origin\n18446744073709551616\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
        "origin\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw==\n",
        "origin\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc\n",
        "origin\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        "origin\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n",
        "origin\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\ntime x\n",
        "origin\n8\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\ntime 1\ntime 2\n",
    ] {
        assert!(Checkpoint::parse_body(body).is_err(), "{body:?}");
    }
    let mut bad = checkpoint();
    bad.extensions.push(String::new());
    assert!(sign_checkpoint(&bad, &key()).is_err());
    bad.extensions = vec!["time 5".into()];
    assert!(sign_checkpoint(&bad, &key()).is_err());
}

/// A checkpoint names the text of the one stored before it: the SHA-256 of the note's
/// lines up to the blank one, as `sha256sum` would give it, in a line of its own.
#[test]
fn previous_names_the_text_of_the_checkpoint_before() {
    let first = sign_checkpoint(&checkpoint(), &key()).unwrap();
    let text = first.split_once("\n\n").unwrap().0.to_owned() + "\n";
    let digest: Hash = Sha256::digest(text.as_bytes()).into();
    assert_eq!(text_digest(&first), digest);
    // The signature lines are not part of it: a cosigned copy names the same text.
    let cosigned = format!("{first}— witness.example AAAA\n");
    assert_eq!(text_digest(&cosigned), digest);

    let mut second = checkpoint();
    second.size = 9;
    let second = second.following(Some(&first));
    assert_eq!(second.previous, Some(digest));
    let body = second.body();
    assert!(body.ends_with(&format!("time 1764000000000\nprevious {}\n", STANDARD.encode(digest))));
    let note = sign_checkpoint(&second, &key()).unwrap();
    assert_eq!(parse_and_verify_checkpoint(&note, &key().verifier()).unwrap(), second);
    assert_eq!(checkpoint().following(None).previous, None);
}

#[test]
fn previous_lines_must_be_one_exact_hash() {
    let base = "audit.example/log\n9\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n";
    let hash = STANDARD.encode([1u8; 32]);
    assert!(Checkpoint::parse_body(&format!("{base}previous {hash}\n")).is_ok());
    for bad in [
        format!("{base}previous {hash}\nprevious {hash}\n"),
        format!("{base}previous {}\n", STANDARD.encode([1u8; 31])),
        format!("{base}previous {}\n", hash.trim_end_matches('=')),
        format!("{base}previous  {hash}\n"),
        format!("{base}previous \n"),
    ] {
        assert!(Checkpoint::parse_body(&bad).is_err(), "{bad}");
    }
    // Only the writer's own field makes the line.
    let mut forged = checkpoint();
    forged.extensions.push(format!("previous {hash}"));
    assert!(sign_checkpoint(&forged, &key()).is_err());
}
