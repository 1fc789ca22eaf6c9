//! Where the PostgreSQL audit log ends, against where its head row says it does (and its
//! newest checkpoint, against the one that signed the head), and the failure that stays
//! once they disagree.
//!
//! Every committer appends from the head row (`audit_head`) under its lock and writes its
//! records and the new head in one transaction, so the log's last record is always the
//! head's: sequence number `size - 1`, with the head's chain hash. A record removed from the
//! end, or one written past it, by anything else breaks that; a batch numbered from the
//! head would then fill the hole (or leave the stray record beyond it), the two ends would
//! agree again, and the store would say healthy over a log that no longer verifies. So the
//! committer compares the two ends under the head's lock before every batch (in migration
//! 010's function, or from the end it has just read for a head another instance left), the
//! write probe compares them in one snapshot, and the first mismatch is sticky for this
//! store: every later append, and the health report, fail with the reason (logged once, at
//! `error`) until the log is restored and aecl restarted, as on SQLite
//! (`sqlite/health.rs`). At the restart, `resume.rs` refuses a log that was not restored.

use std::sync::{Arc, OnceLock};

use aecl_engine::StoreError;
use sqlx::{PgPool, Row};

/// One end of the log: its last record's sequence number and chain hash (none when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct End(pub Option<(i64, Vec<u8>)>);

impl End {
    /// Where a head row of `size` records and chain hash `head` says the log ends.
    pub(crate) fn of_head(size: i64, head: &[u8]) -> End {
        End((size > 0).then(|| (size - 1, head.to_vec())))
    }
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some((seq, chain)) = &self.0 else { return f.write_str("no record (an empty log)") };
        // Eight bytes tell two hashes apart for a reader; the whole is in the database.
        let shown: String = chain.iter().take(8).map(|byte| format!("{byte:02x}")).collect();
        write!(f, "record {seq} (chain hash {shown}…)")
    }
}

/// The stored log does not end where its head does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the audit log of {db} ends at {stored} but its head ends at {head}: something else wrote \
     to or removed from the log, so no record can be appended; this instance refuses every \
     append until the log is restored and aecl restarted (check the log with `aecl audit \
     verify --db {db} --key PUB`)"
)]
pub(crate) struct LogEndMoved {
    /// The database, without its password.
    pub db: String,
    pub stored: End,
    pub head: End,
}

/// The newest stored checkpoint is not the one the committer knows signed the head: it was
/// deleted (`found` is the size of the newest left, if any) or replaced. An append would
/// sign the records again and hide it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the newest checkpoint of the audit log of {db} should be the one signed over its {size} \
     records, but the store holds {}: something else wrote to or removed from the log \
     (checkpoints deleted or replaced), so no record can be appended; this instance refuses \
     every append until the log is restored and aecl restarted (check the log with `aecl \
     audit verify --db {db} --key PUB`)",
    found.map_or("none".to_owned(), |size| format!("one of size {size} that it did not expect"))
)]
pub(crate) struct CheckpointMoved {
    /// The database, without its password.
    pub db: String,
    /// The head's size, which the expected checkpoint covers.
    pub size: i64,
    /// The size of the newest stored checkpoint, if there is one.
    pub found: Option<i64>,
}

/// The stored head does not extend the log this instance appended or checked: fewer
/// records (a rollback to an older signed state, a truncation), no head row, or another
/// record where its last one was (a rewritten history). An append over it would sign the
/// cut, and the log would verify without the records removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the audit log of {db} no longer holds the history this instance appended: it left {left} \
     records, and the store holds {found}: something else wrote to or removed from the log \
     (rolled it back to an older state, or rewrote it), so no record can be appended; this \
     instance refuses every append until the log is restored and aecl restarted (check the \
     log with `aecl audit verify --db {db} --key PUB`, with `--checkpoints` where they are \
     published)"
)]
pub(crate) struct HistoryRewritten {
    /// The database, without its password.
    pub db: String,
    /// The size this instance left.
    pub left: i64,
    /// What the store holds instead, in words.
    pub found: String,
}

/// The log as this committer last left or checked it (its size and last chain hash),
/// shared with the write probe, which checks that the stored log still extends it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Left(Arc<std::sync::Mutex<(i64, Vec<u8>)>>);

impl Left {
    pub(crate) fn set(&self, size: i64, head: &[u8]) {
        let mut left = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *left = (size, head.to_vec());
    }

    pub(crate) fn get(&self) -> (i64, Vec<u8>) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Whether a stored log whose head holds `stored` records (`None`: no readable head row),
/// whose record `left - 1` has the chain hash `chain_at_left`, extends the log of `left`
/// records ending with chain hash `head` that this instance left: another instance may
/// only have appended to it. Chain hashes chain every record, so the same hash at the same
/// place is the same history up to there.
pub(crate) fn extends(
    db: &str,
    (left, head): (i64, &[u8]),
    stored: Option<i64>,
    chain_at_left: Option<&[u8]>,
) -> Result<(), HistoryRewritten> {
    let found = match stored {
        None if left == 0 => return Ok(()),
        None => "no readable head row".to_owned(),
        Some(size) if size < left => format!("{size} (fewer)"),
        Some(_) if left == 0 || chain_at_left == Some(head) => return Ok(()),
        Some(size) => format!("{size}, with another record {} than it appended", left - 1),
    };
    Err(HistoryRewritten { db: db.to_owned(), left, found })
}

/// [`extends`], with the chain hash of the record where the instance left the log read
/// with `conn`: the outer error is one of reaching the database.
pub(crate) async fn still_extends(
    conn: &mut sqlx::PgConnection,
    db: &str,
    (left, head): (i64, &[u8]),
    stored: Option<i64>,
) -> Result<Result<(), HistoryRewritten>, sqlx::Error> {
    let chain: Option<Vec<u8>> = match left {
        0 => None,
        _ => {
            sqlx::query_scalar("SELECT chain_hash FROM audit_log WHERE seq = $1")
                .bind(left - 1)
                .fetch_optional(conn)
                .await?
        }
    };
    Ok(extends(db, (left, head), stored, chain.as_deref()))
}

/// Whether the log of `db` ends at `stored` where its head ends (`head`).
pub(crate) fn check(db: &str, head: End, stored: End) -> Result<(), LogEndMoved> {
    if head == stored {
        return Ok(());
    }
    Err(LogEndMoved { db: db.to_owned(), stored, head })
}

/// The log's ends in one snapshot: its head row, where its records end, and its newest
/// checkpoint.
#[derive(Debug)]
pub(crate) struct Ends {
    /// The head row's size, chain hash and Merkle nodes (a missing row reads as empty).
    pub size: i64,
    /// Whether there is a head row.
    pub has_head: bool,
    pub head: Vec<u8>,
    pub nodes: Vec<u8>,
    pub stored: End,
    /// The newest checkpoint's size and note.
    pub checkpoint: Option<(i64, String)>,
}

impl Ends {
    /// Whether the records and the newest checkpoint end where the head does: every
    /// committer writes all three in one transaction, so the last record is the head's and
    /// the newest checkpoint is signed with `key` over the head's size and root, unless
    /// something else wrote. (Which note it is, the committer knows and checks with every
    /// batch: `aecl_append_audit_signed_end`.)
    pub(crate) fn check(self, db: &str, key: &aecl_audit::VerifierKey) -> Result<(), String> {
        let Ends { size, head, nodes, stored, checkpoint, .. } = self;
        check(db, End::of_head(size, &head), stored).map_err(|moved| moved.to_string())?;
        let signs_the_head = |note: &str| {
            let Ok(signed) = aecl_audit::parse_and_verify_checkpoint(note, key) else {
                return false;
            };
            let log =
                u64::try_from(size).ok().and_then(|n| crate::head::decode(n, &head, &nodes).ok());
            log.is_some_and(|log| signed.size == log.next_seq() && signed.root == log.root())
        };
        let found = match &checkpoint {
            None if size == 0 => return Ok(()),
            Some((_, note)) if size > 0 && signs_the_head(note) => return Ok(()),
            None => None,
            Some((found, _)) => Some(*found),
        };
        Err(CheckpointMoved { db: db.to_owned(), size, found }.to_string())
    }
}

/// The log's [`Ends`], in one snapshot. Index steps only, however long the log.
pub(crate) async fn read_ends(pool: &PgPool) -> Result<Ends, sqlx::Error> {
    let row = sqlx::query(
        "SELECT (SELECT size FROM audit_head WHERE id = 1),
                (SELECT head FROM audit_head WHERE id = 1),
                (SELECT nodes FROM audit_head WHERE id = 1),
                (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1),
                (SELECT chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1),
                (SELECT size FROM audit_checkpoints ORDER BY size DESC LIMIT 1),
                (SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1)",
    )
    .fetch_one(pool)
    .await?;
    let size: Option<i64> = row.try_get(0)?;
    let head: Option<Vec<u8>> = row.try_get(1)?;
    let nodes: Option<Vec<u8>> = row.try_get(2)?;
    let last_seq: Option<i64> = row.try_get(3)?;
    let last_chain: Option<Vec<u8>> = row.try_get(4)?;
    let checkpoint_size: Option<i64> = row.try_get(5)?;
    let note: Option<String> = row.try_get(6)?;
    Ok(Ends {
        has_head: size.is_some(),
        size: size.unwrap_or(0),
        head: head.unwrap_or_default(),
        nodes: nodes.unwrap_or_default(),
        stored: End(last_seq.map(|seq| (seq, last_chain.unwrap_or_default()))),
        checkpoint: checkpoint_size.zip(note),
    })
}

/// Why this store appends nothing any more, once its log's end was found moved. Shared by
/// the committer, the producers' queue (which refuses at once) and the health report.
#[derive(Debug, Clone, Default)]
pub(crate) struct StickyFailure(Arc<OnceLock<String>>);

impl StickyFailure {
    /// The reason every append is refused, if it is.
    pub(crate) fn reason(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    /// The error of an append refused for the reason, if there is one.
    pub(crate) fn refusal(&self) -> Option<StoreError> {
        self.reason().map(|reason| StoreError::Backend(reason.to_owned()))
    }

    /// Makes every later append fail because of `moved` (a [`LogEndMoved`] or a
    /// [`CheckpointMoved`]; the first reason stays), logged once; the reason, for the append
    /// or the probe that found it.
    pub(crate) fn fail(&self, moved: &dyn std::fmt::Display) -> String {
        self.fail_with(moved.to_string())
    }

    /// [`StickyFailure::fail`] with the reason already written.
    pub(crate) fn fail_with(&self, moved: String) -> String {
        let mut first = false;
        let reason = self.0.get_or_init(|| {
            first = true;
            moved
        });
        if first {
            tracing::error!(
                %reason,
                "the audit log was changed under aecl's committer: every append of this \
                 instance is refused until the log is restored and aecl restarted"
            );
        }
        reason.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ends_must_be_the_same_record_with_the_same_chain_hash() {
        let head = End::of_head(4, &[7; 32]);
        assert_eq!(head, End(Some((3, vec![7; 32]))));
        assert!(check("db", head.clone(), End(Some((3, vec![7; 32])))).is_ok());
        assert!(check("db", End::of_head(0, &[0; 32]), End(None)).is_ok());
        for stored in [End(None), End(Some((2, vec![7; 32]))), End(Some((3, vec![8; 32])))] {
            let moved = check("db", head.clone(), stored).unwrap_err().to_string();
            assert!(moved.contains("but its head ends at record 3 (chain hash 0707"), "{moved}");
            assert!(moved.contains("`aecl audit verify --db db"), "{moved}");
        }
        let empty = check("db", End::of_head(0, &[0; 32]), End(Some((0, vec![1]))));
        assert!(empty.unwrap_err().to_string().contains("ends at record 0 (chain hash 01…)"));
    }

    #[test]
    fn the_first_failure_stays() {
        let failure = StickyFailure::default();
        assert!(failure.refusal().is_none());
        let first = LogEndMoved { db: "a".into(), stored: End(None), head: End(None) };
        let later = LogEndMoved { db: "b".into(), ..first.clone() };
        failure.fail(&first);
        let again = failure.fail(&later);
        assert!(again.contains("log of a ") && !again.contains("log of b "), "{again}");
        assert!(matches!(failure.refusal(), Some(StoreError::Backend(m)) if m == again));
    }
}
