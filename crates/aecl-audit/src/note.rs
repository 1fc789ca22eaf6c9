//! Ed25519 keys and signed notes in the C2SP signed-note form (c2sp.org/signed-note), the
//! format of Go's `golang.org/x/mod/sumdb/note`.
//!
//! A note is UTF-8 text ending in a newline, then a blank line, then signature lines:
//!
//! ```text
//! <text, ending in \n>
//!
//! — <key name> <base64(key hash (4 bytes) || Ed25519 signature (64 bytes))>
//! ```
//!
//! The dash is U+2014. The signature is over the text, final newline included. The key
//! hash is the first 4 bytes of `SHA-256(key name || 0x0A || 0x01 || public key)`, 0x01
//! being the Ed25519 signature type. Key texts:
//!
//! - verifier key: `<name>+<key hash, 8 hex digits>+<base64(0x01 || public key)>`;
//! - signer key: `PRIVATE+KEY+<name>+<key hash>+<base64(0x01 || 32-byte seed)>`, as Go's
//!   `note.GenerateKey` writes it.
//!
//! This crate reads no randomness: a new key is made from a 32-byte seed that the caller
//! draws from the operating system (the binary uses `getrandom`/`OsRng`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::AuditError;

/// The signature type byte of Ed25519 in key hashes and key texts.
const ALG_ED25519: u8 = 0x01;

/// The start of a signature line: U+2014 and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Go's limit on signature lines per note, which bounds the work an input can cause.
const MAX_SIGNATURES: usize = 100;

const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// The 4-byte key hash of `name` and an Ed25519 public key.
pub fn key_hash(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key);
    let digest = h.finalize();
    let mut out = [0; 4];
    out.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
    out
}

/// Whether `name` can name a key: non-empty, no white space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_whitespace) && !name.contains('+')
}

/// A signing key with its name. Its `Debug` form shows the name and key hash only.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key: SigningKey,
    hash: [u8; 4],
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignerKey({}+{})", self.name, hex(&self.hash))
    }
}

impl SignerKey {
    /// The key for `name` derived from a 32-byte seed. The seed must come from a
    /// cryptographically secure source: the binary draws it from the operating system.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<SignerKey, AuditError> {
        if !is_valid_key_name(name) {
            return Err(AuditError::KeyName(name.to_owned()));
        }
        let key = SigningKey::from_bytes(&seed);
        let hash = key_hash(name, &key.verifying_key().to_bytes());
        Ok(SignerKey { name: name.to_owned(), key, hash })
    }

    /// Parses `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`.
    pub fn parse(text: &str) -> Result<SignerKey, AuditError> {
        let rest = text
            .trim_end_matches('\n')
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or_else(|| bad_key("a signer key starts with `PRIVATE+KEY+`"))?;
        let (name, hash, bytes) = split_key(rest)?;
        let seed: [u8; 32] =
            bytes.try_into().map_err(|_| bad_key("an Ed25519 seed is 32 bytes"))?;
        let key = SignerKey::from_seed(name, seed)?;
        if key.hash != hash {
            return Err(bad_key("the key hash does not match the key"));
        }
        Ok(key)
    }

    /// The signer key text. It is a secret: write it only to a file only its owner reads.
    pub fn to_text(&self) -> String {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ALG_ED25519);
        bytes.extend_from_slice(&self.key.to_bytes());
        format!("{PRIVATE_PREFIX}{}+{}+{}", self.name, hex(&self.hash), STANDARD.encode(bytes))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_hash(&self) -> [u8; 4] {
        self.hash
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey { name: self.name.clone(), key: self.key.verifying_key(), hash: self.hash }
    }

    /// A bare Ed25519 signature of `message`. Callers that sign anything other than notes
    /// (agent tokens) prefix their own domain string, so that no signature of one kind is
    /// ever valid as the other.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// A 32-byte secret for `domain`, derived from this key's seed: a key for message
    /// authentication codes over state the key's holder alone may write (a run's stored
    /// events). Only the signer's holder can compute it; no two domains share one.
    pub fn derive_secret(&self, domain: &str) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(b"aecl-derived-secret-v1\n");
        hash.update(domain.as_bytes());
        hash.update([0]);
        hash.update(self.key.to_bytes());
        hash.finalize().into()
    }

    /// The secret key as PKCS #8 DER (RFC 8410: a fixed 16-byte prefix and the seed), the
    /// form JWT libraries take an Ed25519 key in. A secret, like [`SignerKey::to_text`].
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut der = PREFIX.to_vec();
        der.extend_from_slice(&self.key.to_bytes());
        der
    }
}

/// A public key with its name: what a verifier pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key: VerifyingKey,
    hash: [u8; 4],
}

impl VerifierKey {
    /// Parses `<name>+<hash>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<VerifierKey, AuditError> {
        let text = text.trim_end_matches('\n');
        if text.starts_with(PRIVATE_PREFIX) {
            return Err(bad_key("this is a signer (private) key, not a verifier key"));
        }
        let (name, hash, bytes) = split_key(text)?;
        if !is_valid_key_name(name) {
            return Err(AuditError::KeyName(name.to_owned()));
        }
        let public: [u8; 32] =
            bytes.try_into().map_err(|_| bad_key("an Ed25519 public key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| bad_key("not a valid Ed25519 public key"))?;
        if key_hash(name, &public) != hash {
            return Err(bad_key("the key hash does not match the key"));
        }
        Ok(VerifierKey { name: name.to_owned(), key, hash })
    }

    /// The verifier key text.
    pub fn to_text(&self) -> String {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ALG_ED25519);
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex(&self.hash), STANDARD.encode(bytes))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_hash(&self) -> [u8; 4] {
        self.hash
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Checks a bare Ed25519 signature of `message` (see [`SignerKey::sign`]).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        // Strict verification: no malleable signatures and no weak keys.
        self.key.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
    }
}

/// Splits `<name>+<hex hash>+<base64(0x01 || key)>` and decodes it. The name contains no
/// `+`; the base64 part may.
fn split_key(text: &str) -> Result<(&str, [u8; 4], Vec<u8>), AuditError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad_key("expected `<name>+<hash>+<key>`"));
    };
    if !is_valid_key_name(name) {
        return Err(AuditError::KeyName(name.to_owned()));
    }
    let hash = parse_hash(hash).ok_or_else(|| bad_key("the key hash is 8 hex digits"))?;
    let bytes = STANDARD.decode(key).map_err(|_| bad_key("the key is not base64"))?;
    match bytes.split_first() {
        Some((&ALG_ED25519, key)) => Ok((name, hash, key.to_vec())),
        _ => Err(bad_key("only Ed25519 keys (type 0x01) are supported")),
    }
}

fn parse_hash(text: &str) -> Option<[u8; 4]> {
    if text.len() != 8 || !text.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok().map(u32::to_be_bytes)
}

fn bad_key(why: &str) -> AuditError {
    AuditError::MalformedKey(why.to_owned())
}

fn bad_note(why: &str) -> AuditError {
    AuditError::MalformedNote(why.to_owned())
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    aecl_core::call::hex(bytes)
}

/// Checks the text of a note: non-empty, ending in a newline, and no control characters
/// other than newlines.
fn check_text(text: &str) -> Result<(), AuditError> {
    if !text.ends_with('\n') {
        return Err(bad_note("the text must end with a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(bad_note("the text contains a control character"));
    }
    Ok(())
}

/// Signs `text` (which must end with a newline) as a note with one signature.
pub fn sign_note(text: &str, key: &SignerKey) -> Result<String, AuditError> {
    check_text(text)?;
    let mut blob = Vec::with_capacity(68);
    blob.extend_from_slice(&key.hash);
    blob.extend_from_slice(&key.sign(text.as_bytes()));
    Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", key.name, STANDARD.encode(blob)))
}

/// A note's text: what its signatures cover, up to (and with the newline before) the blank
/// line that ends it. Nothing is checked.
pub fn text_of(note: &str) -> Option<&str> {
    note.get(..note.rfind("\n\n")? + 1)
}

/// Opens a signed note: checks its form and that it carries a valid signature by `key`,
/// and returns its text. Signature lines by other keys are ignored, as C2SP prescribes;
/// a line that names `key` (name and key hash) but does not verify rejects the note.
pub fn open_note<'a>(note: &'a str, key: &VerifierKey) -> Result<&'a str, AuditError> {
    if !note.ends_with('\n') {
        return Err(bad_note("a note ends with a newline"));
    }
    let Some(split) = note.rfind("\n\n") else {
        return Err(bad_note("no blank line before the signatures"));
    };
    let (Some(text), Some(signatures)) = (note.get(..split + 1), note.get(split + 2..)) else {
        return Err(bad_note("no blank line before the signatures"));
    };
    check_text(text)?;
    if signatures.is_empty() {
        return Err(bad_note("no signatures"));
    }
    let mut verified = false;
    for (i, line) in signatures.split_terminator('\n').enumerate() {
        if i >= MAX_SIGNATURES {
            return Err(bad_note("too many signatures"));
        }
        let (name, hash, signature) = parse_signature_line(line)?;
        if name != key.name || hash != key.hash {
            continue;
        }
        let Ok(signature) = <[u8; 64]>::try_from(signature.as_slice()) else {
            return Err(AuditError::BadSignature(key.name.clone()));
        };
        if !key.verify(text.as_bytes(), &signature) {
            return Err(AuditError::BadSignature(key.name.clone()));
        }
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(AuditError::NotSignedByKey { name: key.name.clone(), key_hash: hex(&key.hash) })
    }
}

/// `— <name> <base64(hash || signature)>`, without its newline.
fn parse_signature_line(line: &str) -> Result<(&str, [u8; 4], Vec<u8>), AuditError> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or_else(|| bad_note("a signature line starts with `— `"))?;
    let (name, blob) = rest
        .split_once(' ')
        .ok_or_else(|| bad_note("a signature line is `— <name> <signature>`"))?;
    if !is_valid_key_name(name) {
        return Err(bad_note("invalid key name in a signature line"));
    }
    // The standard engine is strict: padding required, no stray bits, so every signature
    // has exactly one spelling.
    let blob = STANDARD.decode(blob).map_err(|_| bad_note("a signature is not base64"))?;
    if blob.len() < 5 {
        return Err(bad_note("a signature is too short"));
    }
    let (hash, signature) = blob.split_at(4);
    let mut h = [0; 4];
    h.copy_from_slice(hash);
    Ok((name, h, signature.to_vec()))
}

#[cfg(test)]
mod tests;
