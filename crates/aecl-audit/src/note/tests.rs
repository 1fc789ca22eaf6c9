//! Signed-note tests: the known answers of Go's `sumdb/note` and of the C2SP specification,
//! key texts, and notes that must not open.

use super::*;

/// The example of `golang.org/x/mod/sumdb/note`'s documentation.
const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n\
                       \n\
                       — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn go_known_answer_keys_and_signature() {
    let signer = SignerKey::parse(GO_SKEY).unwrap();
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.to_text(), GO_SKEY);
    let verifier = signer.verifier();
    assert_eq!(verifier.to_text(), GO_VKEY);
    assert_eq!(VerifierKey::parse(GO_VKEY).unwrap(), verifier);
    // Ed25519 is deterministic: signing the same text reproduces Go's note byte for byte.
    assert_eq!(sign_note(GO_TEXT, &signer).unwrap(), GO_NOTE);
    assert_eq!(open_note(GO_NOTE, &verifier).unwrap(), GO_TEXT);
}

/// The example of the C2SP signed-note specification ("Verifier keys").
#[test]
fn c2sp_specification_example_opens() {
    let key =
        VerifierKey::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .unwrap();
    let note = "This is an example message.\n\n\
                — example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    assert_eq!(open_note(note, &key).unwrap(), "This is an example message.\n");
}

#[test]
fn signatures_by_other_keys_are_ignored_but_one_by_the_key_is_required() {
    let ours = SignerKey::from_seed("log.example", [7; 32]).unwrap();
    let other = SignerKey::from_seed("witness.example", [8; 32]).unwrap();
    let text = "hello\n";
    let by_ours = sign_note(text, &ours).unwrap();
    let by_other = sign_note(text, &other).unwrap();
    let other_line = by_other.split_once("\n\n").unwrap().1;
    let both = format!("{by_ours}{other_line}");
    assert_eq!(open_note(&both, &ours.verifier()).unwrap(), text);
    assert_eq!(open_note(&both, &other.verifier()).unwrap(), text);
    assert!(matches!(
        open_note(&by_other, &ours.verifier()),
        Err(AuditError::NotSignedByKey { .. })
    ));
    // The same name with another key: a different key hash, so not our signature.
    let impostor = SignerKey::from_seed("log.example", [9; 32]).unwrap();
    let forged = sign_note(text, &impostor).unwrap();
    assert!(matches!(open_note(&forged, &ours.verifier()), Err(AuditError::NotSignedByKey { .. })));
}

#[test]
fn a_signature_that_names_the_key_but_does_not_verify_rejects_the_note() {
    let key = SignerKey::from_seed("log.example", [7; 32]).unwrap();
    let note = sign_note("hello\n", &key).unwrap();
    let edited = note.replacen("hello", "hellO", 1);
    assert!(matches!(open_note(&edited, &key.verifier()), Err(AuditError::BadSignature(_))));
}

#[test]
fn malformed_notes_do_not_open() {
    let key = SignerKey::from_seed("log.example", [7; 32]).unwrap();
    let note = sign_note("a\nb\n", &key).unwrap();
    let verifier = key.verifier();
    for bad in [
        note.trim_end().to_owned(),
        note.replacen("\n\n", "\n", 1),
        note.replacen('—', "-", 1),
        note.replacen("— log.example ", "— log.example  ", 1),
        note.replacen("— log.example ", "— log example ", 1),
        note.replacen('=', "", 1),
        format!("{note}\n"),
        "a\u{1}\n\n— x AAAAAAA=\n".to_owned(),
        String::new(),
    ] {
        assert!(open_note(&bad, &verifier).is_err(), "{bad:?}");
    }
    assert!(sign_note("no newline", &key).is_err());
    assert!(sign_note("tab\tinside\n", &key).is_err());
}

#[test]
fn base64_with_stray_bits_is_refused() {
    let key = SignerKey::from_seed("log.example", [7; 32]).unwrap();
    let note = sign_note("hello\n", &key).unwrap();
    let line = note.rsplit_once(' ').unwrap().1.trim_end();
    // 68 bytes: the last group encodes 2 bytes in 3 characters plus `=`, so the third
    // character carries 2 unused bits. Setting one must not give a second valid spelling.
    let bytes = line.as_bytes();
    let last = bytes[bytes.len() - 2];
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    let twisted = ALPHABET[value ^ 1] as char;
    let mut changed = line.to_owned();
    changed.replace_range(line.len() - 2..line.len() - 1, &twisted.to_string());
    let tampered = note.replace(line, &changed);
    assert_ne!(tampered, note);
    assert!(open_note(&tampered, &key.verifier()).is_err());
}

#[test]
fn key_texts_round_trip_and_are_checked() {
    let key = SignerKey::from_seed("aecl.example/log", [42; 32]).unwrap();
    assert_eq!(SignerKey::parse(&key.to_text()).unwrap().verifier(), key.verifier());
    assert_eq!(
        SignerKey::parse(&format!("{}\n", key.to_text())).unwrap().name(),
        "aecl.example/log"
    );
    let vkey = key.verifier().to_text();
    assert!(vkey.starts_with("aecl.example/log+"));
    assert_eq!(VerifierKey::parse(&vkey).unwrap(), key.verifier());
    assert!(!format!("{key:?}").contains(&key.to_text()[12..]));

    assert!(matches!(SignerKey::from_seed("has space", [0; 32]), Err(AuditError::KeyName(_))));
    assert!(matches!(SignerKey::from_seed("a+b", [0; 32]), Err(AuditError::KeyName(_))));
    assert!(matches!(SignerKey::from_seed("", [0; 32]), Err(AuditError::KeyName(_))));
    // A wrong key hash, a wrong type byte, a private key where a public one is expected.
    let (name, rest) = vkey.split_once('+').unwrap();
    let (_, b64) = rest.split_once('+').unwrap();
    assert!(VerifierKey::parse(&format!("{name}+00000000+{b64}")).is_err());
    assert!(VerifierKey::parse(&format!("{name}+0000000+{b64}")).is_err());
    assert!(VerifierKey::parse(&key.to_text()).is_err());
    assert!(SignerKey::parse(&vkey).is_err());
    let mut raw = STANDARD.decode(b64).unwrap();
    raw[0] = 0x02;
    let hash = vkey.split('+').nth(1).unwrap();
    assert!(VerifierKey::parse(&format!("{name}+{hash}+{}", STANDARD.encode(&raw))).is_err());
    assert!(VerifierKey::parse("justaname").is_err());
}
