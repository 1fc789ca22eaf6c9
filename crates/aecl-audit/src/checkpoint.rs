//! Checkpoints: a signed statement of the log's size and Merkle root, in the C2SP
//! tlog-checkpoint form (c2sp.org/tlog-checkpoint) signed as a C2SP signed note.
//!
//! The body (the note's text) is:
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <base64 of the 32-byte Merkle root>
//! time <milliseconds since the Unix epoch>      (extension line, when the time is known)
//! previous <base64 of SHA-256 of the text of the checkpoint stored before this one>
//! <other extension lines, if any>
//! ```
//!
//! then a blank line and `— <key name> <base64(key hash || signature)>` (see `note`). The
//! origin names the log; by C2SP convention it is also the signing key's name. Extension
//! lines are free-form and non-empty; `time` and `previous` are ours.
//!
//! `previous` chains a store's checkpoints: each names the signed text of the one its
//! writer stored before it (none for a log's first). Without it, deleting any stored
//! checkpoint but the newest went unseen (the newest still covers every record, so no
//! record is lost, but the signed times of the deleted ones are). With it, a deleted one
//! breaks the chain at the next, which only the key could re-sign. Published checkpoints
//! carry the same line, which witnesses ignore.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use aecl_core::Timestamp;
use sha2::{Digest, Sha256};

use crate::error::AuditError;
use crate::merkle::Hash;
use crate::note::{SignerKey, VerifierKey, open_note, sign_note, text_of};

const TIME_PREFIX: &str = "time ";
const PREVIOUS_PREFIX: &str = "previous ";

/// The contents of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name.
    pub origin: String,
    /// How many records the tree covers (the records `0..size`).
    pub size: u64,
    /// The Merkle root of those records.
    pub root: Hash,
    /// When the checkpoint was cut.
    pub time: Option<Timestamp>,
    /// [`text_digest`] of the checkpoint stored before this one (`None` for a log's first,
    /// and in checkpoints written before the line existed).
    pub previous: Option<Hash>,
    /// Extension lines other than `time` and `previous`, in order.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The body text: the note's text that the signature covers.
    pub fn body(&self) -> String {
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root));
        if let Some(time) = self.time {
            body.push_str(&format!("{TIME_PREFIX}{}\n", time.0));
        }
        if let Some(previous) = self.previous {
            body.push_str(&format!("{PREVIOUS_PREFIX}{}\n", STANDARD.encode(previous)));
        }
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// The checkpoint a signed note states, read without its signature checked: where a
    /// checkpoint says it belongs (its size) before, or without, verifying it.
    pub fn read_unverified(note: &str) -> Option<Checkpoint> {
        Checkpoint::parse_body(text_of(note)?).ok()
    }

    /// The same checkpoint, following `previous` (the signed note its writer stored last,
    /// if any): see the module's header.
    #[must_use]
    pub fn following(mut self, previous: Option<&str>) -> Checkpoint {
        self.previous = previous.map(text_digest);
        self
    }

    /// Parses a body. Sizes and times must be plain decimals (no sign, no leading zero),
    /// the root and `previous` exactly 32 bytes of padded standard base64.
    pub fn parse_body(text: &str) -> Result<Checkpoint, AuditError> {
        let Some(text) = text.strip_suffix('\n') else {
            return Err(bad("the body must end with a newline"));
        };
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("the origin line is empty"));
        }
        let size = lines
            .next()
            .and_then(decimal)
            .ok_or_else(|| bad("the second line must be the tree size in decimal"))?;
        let root = lines
            .next()
            .and_then(hash)
            .ok_or_else(|| bad("the third line must be the base64 root hash"))?;
        let mut time = None;
        let mut previous = None;
        let mut extensions = Vec::new();
        for line in lines {
            if line.is_empty() {
                return Err(bad("extension lines must not be empty"));
            }
            if let Some(value) = line.strip_prefix(TIME_PREFIX) {
                if time.is_some() {
                    return Err(bad("more than one time line"));
                }
                time = Some(Timestamp(decimal(value).ok_or_else(|| bad("invalid time line"))?));
            } else if let Some(value) = line.strip_prefix(PREVIOUS_PREFIX) {
                if previous.is_some() {
                    return Err(bad("more than one previous line"));
                }
                previous = Some(hash(value).ok_or_else(|| bad("invalid previous line"))?);
            } else {
                extensions.push(line.to_owned());
            }
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root, time, previous, extensions })
    }
}

/// The SHA-256 of a signed note's text (what its signatures cover, up to the blank line),
/// or of the whole string when it has no blank line: what a checkpoint's `previous` line
/// names. `sha256sum` of the note's lines before the blank one gives the same bytes.
pub fn text_digest(note: &str) -> Hash {
    Sha256::digest(text_of(note).unwrap_or(note).as_bytes()).into()
}

/// 32 bytes of padded standard base64, exactly.
fn hash(text: &str) -> Option<Hash> {
    STANDARD.decode(text).ok().and_then(|bytes| Hash::try_from(bytes).ok())
}

/// A plain decimal `u64`: digits only, no leading zero (except `0` itself).
fn decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|c| c.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

fn bad(why: &str) -> AuditError {
    AuditError::MalformedCheckpoint(why.to_owned())
}

/// Signs a checkpoint: the signed note text to store or export.
pub fn sign_checkpoint(checkpoint: &Checkpoint, key: &SignerKey) -> Result<String, AuditError> {
    if checkpoint.origin.is_empty() || checkpoint.origin.contains('\n') {
        return Err(bad("the origin must be one non-empty line"));
    }
    if checkpoint.extensions.iter().any(|l| {
        l.is_empty()
            || l.contains('\n')
            || l.starts_with(TIME_PREFIX)
            || l.starts_with(PREVIOUS_PREFIX)
    }) {
        return Err(bad(
            "extension lines must be single non-empty lines, not `time` or `previous`",
        ));
    }
    sign_note(&checkpoint.body(), key)
}

/// Opens a signed checkpoint with the pinned key and parses its body.
pub fn parse_and_verify_checkpoint(
    text: &str,
    key: &VerifierKey,
) -> Result<Checkpoint, AuditError> {
    Checkpoint::parse_body(open_note(text, key)?)
}

/// [`parse_and_verify_checkpoint`] of a checkpoint as a writer stored it: its signature
/// block is exactly the writer's one line. A signed note may carry other signatures
/// (cosignatures), which no signature covers, so a line added to a stored checkpoint (a
/// planted "cosignature", a duplicate) would change its bytes unseen (red team round 20,
/// audit I1); a writer stores its own line alone.
pub fn parse_and_verify_stored_checkpoint(
    text: &str,
    key: &VerifierKey,
) -> Result<Checkpoint, AuditError> {
    let checkpoint = parse_and_verify_checkpoint(text, key)?;
    let lines = text.rsplit_once("\n\n").map_or(0, |(_, block)| block.lines().count());
    if lines != 1 {
        return Err(AuditError::MalformedNote(format!(
            "a stored checkpoint carries its writer's one signature line, this one {lines}: \
             lines were added to it outside aecl"
        )));
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests;
