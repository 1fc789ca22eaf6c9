//! The one error type of this crate.

/// Everything that can go wrong while encoding, decoding, signing or proving. Verification
/// of a whole log does not return these: it answers with a `VerifyReport` naming the first
/// problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The bytes are not an audit record (bad JSON, a missing or unknown field, a wrong type).
    #[error("malformed record: {0}")]
    MalformedRecord(String),
    /// The bytes describe a record but are not its canonical form, so they cannot be the
    /// bytes that were hashed when it was written.
    #[error("record is not in canonical form (first difference at byte {offset})")]
    NotCanonical { offset: usize },
    /// A record cannot be encoded: JSON has no spelling for a non-finite risk score.
    #[error("risk score `{0}` is not a finite number")]
    NonFiniteRiskScore(String),
    /// A key name is empty or contains white space or `+`.
    #[error("invalid key name `{0}`: it must be non-empty, without white space or `+`")]
    KeyName(String),
    /// A verifier or signer key text is not in its documented form.
    #[error("malformed key: {0}")]
    MalformedKey(String),
    /// A signed note is not in the C2SP signed-note form.
    #[error("malformed note: {0}")]
    MalformedNote(String),
    /// No signature line of the note is by the expected key (name and key hash).
    #[error("note is not signed by the key `{name}+{key_hash}`")]
    NotSignedByKey { name: String, key_hash: String },
    /// A signature line names the expected key but its signature does not verify.
    #[error("the signature by `{0}` does not verify")]
    BadSignature(String),
    /// A checkpoint body is not in the C2SP tlog-checkpoint form.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
    /// A proof was asked for an index or size outside the tree.
    #[error("{what} {value} is outside a tree of size {size}")]
    OutOfRange { what: &'static str, value: u64, size: u64 },
    /// An inclusion proof does not lead to the root.
    #[error("inclusion proof does not verify")]
    InclusionProof,
    /// A consistency proof does not connect the two roots.
    #[error("consistency proof does not verify")]
    ConsistencyProof,
    /// Saved log state that contradicts itself (a compact range of the wrong shape).
    #[error("inconsistent log state: {0}")]
    LogState(String),
    /// A redaction field path that cannot be parsed.
    #[error("invalid field path `{0}`")]
    FieldPath(String),
}
