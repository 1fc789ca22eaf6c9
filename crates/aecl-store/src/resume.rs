//! The check a writer makes before it resumes an audit log from its stored head: the head
//! must be exactly the state the newest stored checkpoint signed, and the records must end
//! where it ends.
//!
//! The head (size, chain hash, Merkle compact range) is what a writer appends to, and every
//! checkpoint it signs covers it. Anyone who can write the database, without the key, can
//! recompute a head (the chain and the tree need no secret): a forged or edited record, or
//! one put in place of the checkpoints that were removed. A writer that resumed from such a
//! head would sign the forgery, and then the log would verify. So a writer resumes only from
//! a head that one of this key's signatures already vouches for, and only when no record
//! lies past it or is missing at its end: from then on, what it signs extends a signed
//! history, and a record edited underneath stays visible to `aecl audit verify` (its
//! checkpoint's root no longer matches).
//!
//! Holes in the middle of the log, and edited records under a correct head, are not looked
//! for here (that is reading the whole log, `aecl audit verify`'s job): the writer never
//! reads them, so it never signs them. A consistent cut-back to an older signed state (all
//! of records, checkpoints and head) is not visible from the store alone; checkpoints
//! published outside it are (`--checkpoint-dir`, `aecl audit verify --checkpoints`).

use aecl_audit::{AuditError, Hash, LogState, VerifierKey, parse_and_verify_stored_checkpoint};
use aecl_engine::StoreError;

/// The end of a stored audit log, read in one transaction.
#[derive(Debug, Default)]
pub(crate) struct Tip {
    /// The head row as stored (size, chain hash, Merkle nodes), if there is one.
    pub head: Option<(i64, Vec<u8>, Vec<u8>)>,
    /// The stored checkpoint of the largest size, if any.
    pub newest_checkpoint: Option<String>,
    /// The lowest stored sequence number, if any record is stored.
    pub first_seq: Option<i64>,
    /// The highest stored sequence number and that record's stored chain hash.
    pub last: Option<(i64, Vec<u8>)>,
}

/// Why a stored head cannot be resumed: which check failed, with the numbers that disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Disagreement {
    #[error("there is no head row, but the log holds {what}: the head was deleted outside aecl")]
    NoHead { what: String },
    #[error("the head row is unreadable: {0}")]
    BadHead(String),
    #[error(
        "the head says {size} records but no signed checkpoint is stored: the checkpoints \
         were removed outside aecl"
    )]
    NoCheckpoint { size: u64 },
    #[error(
        "the newest stored checkpoint (size {size}) is not signed by this store's audit key \
         `{key}`: {error}{signers}"
    )]
    /// `signers`: who signed it, and what to do about it.
    Signature { size: String, key: String, error: AuditError, signers: String },
    #[error(
        "the newest signed checkpoint covers {checkpoint} records but the head says {head}: \
         records were appended or removed outside aecl, or the newest checkpoints deleted"
    )]
    Size { checkpoint: u64, head: u64 },
    #[error(
        "the head's Merkle root is not the root the newest checkpoint (size {size}) signed: \
         the head was recomputed outside aecl"
    )]
    Root { size: u64 },
    #[error(
        "the head says {head} records but the stored records are {records}: records were \
         added or removed outside aecl"
    )]
    Records { head: u64, records: String },
    #[error(
        "the head's chain hash is not the stored chain hash of record {seq}, the last one: \
         the head or that record was changed outside aecl"
    )]
    Chain { seq: u64 },
}

impl Tip {
    /// The state to resume, if the head is exactly what the newest checkpoint, verified
    /// with `key`, signed, and the records `0..size` end where it ends. An empty log (no
    /// record, no checkpoint, and no head or an empty one) resumes empty.
    pub(crate) fn resumable(&self, key: &VerifierKey) -> Result<LogState, Disagreement> {
        let Some((size, head, nodes)) = &self.head else {
            if self.newest_checkpoint.is_none() && self.last.is_none() {
                return Ok(LogState::new());
            }
            return Err(Disagreement::NoHead { what: self.contents() });
        };
        let log = u64::try_from(*size)
            .map_err(|_| StoreError::Corrupt(format!("negative size {size}")))
            .and_then(|size| crate::head::decode(size, head, nodes))
            .map_err(|e| Disagreement::BadHead(e.to_string()))?;
        let size = log.next_seq();
        if size == 0 && log != LogState::new() {
            return Err(Disagreement::BadHead(
                "an empty head whose chain hash is not the genesis".to_owned(),
            ));
        }
        match &self.newest_checkpoint {
            None if size > 0 => return Err(Disagreement::NoCheckpoint { size }),
            None => {}
            Some(note) => {
                let checkpoint = parse_and_verify_stored_checkpoint(note, key).map_err(|error| {
                    let signers = signers(note);
                    // A signature under this key's own name that does not verify is a
                    // forgery or damage, not another key.
                    let hint = if signers.contains(&format!("`{}`", key.name())) {
                        "the checkpoint was forged or damaged outside aecl"
                    } else {
                        "a log is signed by one key, so after a rotation of the audit key start \
                         a new database and keep this one to verify with the old key"
                    };
                    Disagreement::Signature {
                        size: note.lines().nth(1).unwrap_or("?").to_owned(),
                        key: key.name().to_owned(),
                        error,
                        signers: format!("{signers}; {hint}"),
                    }
                })?;
                if checkpoint.size != size {
                    return Err(Disagreement::Size { checkpoint: checkpoint.size, head: size });
                }
                if checkpoint.root != log.root() {
                    return Err(Disagreement::Root { size });
                }
            }
        }
        // INVARIANT: the records are exactly `0..size` at the ends, so the next record the
        // writer numbers `size` follows the last signed one and nothing lies beyond it.
        let expected = size.checked_sub(1).map(|last| (0, crate::to_i64(last)));
        let found = self.first_seq.zip(self.last.as_ref().map(|(seq, _)| *seq));
        if found != expected {
            return Err(Disagreement::Records { head: size, records: self.records() });
        }
        if let Some((seq, chain)) = &self.last
            && Hash::try_from(chain.as_slice()).ok() != Some(log.head())
        {
            return Err(Disagreement::Chain { seq: u64::try_from(*seq).unwrap_or(u64::MAX) });
        }
        Ok(log)
    }

    /// What the stored log holds, in words, for a log without a head.
    fn contents(&self) -> String {
        match (&self.newest_checkpoint, self.last.is_some()) {
            (Some(_), true) => format!("{} and checkpoints", self.records()),
            (Some(_), false) => "checkpoints".to_owned(),
            (None, _) => self.records(),
        }
    }

    fn records(&self) -> String {
        match (self.first_seq, &self.last) {
            (Some(first), Some((last, _))) => format!("records {first}..={last}"),
            _ => "none".to_owned(),
        }
    }
}

/// The names of the keys a note's signature lines name, for the message: a note signed by
/// another key (a rotated one, or a forger's) says so.
fn signers(note: &str) -> String {
    let Some((_, signatures)) = note.rsplit_once("\n\n") else { return String::new() };
    let names: Vec<String> = signatures
        .lines()
        .filter_map(|line| line.strip_prefix("\u{2014} "))
        .filter_map(|line| line.split(' ').next())
        .map(|name| format!("`{name}`"))
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(" (it is signed by {})", names.join(", "))
    }
}

/// The error a store answers when it will not resume the log of `db` (a path, or a
/// PostgreSQL URL without its password): nothing was signed.
pub(crate) fn refusal(db: &str, why: &Disagreement) -> StoreError {
    StoreError::Corrupt(format!(
        "refusing to resume the audit log of {db}: {why}. aecl signs nothing over a log it \
         cannot vouch for. Run `aecl audit verify --db {db} --key PUB` (with `--checkpoints \
         DIR|URL` against the published checkpoints) to see what changed, then restore the \
         database from a backup whose log verifies (the checkpoint directory or witness shows \
         which state was last published)"
    ))
}

#[cfg(test)]
mod tests;
