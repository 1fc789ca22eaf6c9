//! The audit log on SQLite: appending a record to the writer's batch (numbered, hashed
//! and inserted with the batch's others before its one commit), reading records,
//! checkpoints and the stored head, and the read-only reader the CLI verifies with.

use aecl_audit::{AuditRecord, StoredRecord};
use aecl_core::Timestamp;
use aecl_engine::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

use super::writer::Batch;
use super::{SqliteStore, query_row};
use crate::resume::Tip;
use crate::{backend, hash_of, head, to_u64};

/// Read access to an audit log without a writer (for the CLI).
#[derive(Debug)]
pub struct SqliteReader {
    pub(super) conn: Connection,
}

impl SqliteReader {
    pub fn audit_records(&self, from: u64, limit: usize) -> Result<Vec<StoredRecord>, StoreError> {
        read_records(&self.conn, from, limit)
    }

    pub fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        read_checkpoints(&self.conn)
    }

    /// The log's head as stored (`LogState::new()` when there is none), which verification
    /// compares with the records.
    pub fn audit_head(&self) -> Result<aecl_audit::LogState, StoreError> {
        read_head(&self.conn)
    }
}

pub(super) fn read_head(conn: &Connection) -> Result<aecl_audit::LogState, StoreError> {
    let row: Option<(i64, Vec<u8>, Vec<u8>)> =
        query_row(conn, "SELECT size, head, nodes FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(backend)?;
    match row {
        None => Ok(aecl_audit::LogState::new()),
        Some((size, head_bytes, nodes)) => head::decode(to_u64(size)?, &head_bytes, &nodes),
    }
}

/// The end of the stored log, read in one transaction, for the check before the writer
/// resumes it (`resume.rs`). Each read is one step down an index, however long the log.
pub(super) fn read_tip(conn: &mut Connection) -> Result<Tip, StoreError> {
    let tx = conn.transaction().map_err(backend)?;
    let head = query_row(&tx, "SELECT size, head, nodes FROM audit_head WHERE id = 1", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .optional()
    .map_err(backend)?;
    let newest_checkpoint =
        query_row(&tx, "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(backend)?;
    // Two statements: SQLite answers `min` or `max` from the index only when it is alone.
    let first_seq =
        query_row(&tx, "SELECT seq FROM audit_log ORDER BY seq LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(backend)?;
    let last = query_row(
        &tx,
        "SELECT seq, chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(Tip { head, newest_checkpoint, first_seq, last })
}

pub(super) fn read_records(
    conn: &Connection,
    from: u64,
    limit: usize,
) -> Result<Vec<StoredRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, record, chain_hash FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(backend)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![crate::lowest_seq(from), limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, record, chain) = row.map_err(backend)?;
        // A negative seq cannot be ours.
        let Ok(seq) = u64::try_from(seq) else {
            return Err(StoreError::Corrupt(format!(
                "the audit log holds a record numbered {seq}, which aecl never writes"
            )));
        };
        out.push((seq, record, hash_of(&chain)));
    }
    Ok(out)
}

pub(super) fn read_checkpoints(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT size, note FROM audit_checkpoints ORDER BY size")
        .map_err(backend)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)));
    rows.map_err(backend)?
        .map(|row| row.map_err(backend).and_then(|(size, note)| head::checkpoint_row(size, note)))
        .collect()
}

/// Appends an encoded record to the batch's log; its row is inserted with the batch's
/// others just before the commit. Returns its sequence number.
pub(super) fn append(
    batch: &mut Batch<'_>,
    time: Timestamp,
    unsequenced: &aecl_audit::Unsequenced,
) -> u64 {
    let appended = batch.log.append_unsequenced(unsequenced);
    batch.rows.push((appended.seq, appended.canonical, appended.chain_hash));
    batch.time = Some(batch.time.map_or(time, |t| t.max(time)));
    appended.seq
}

pub(super) async fn append_audit(
    store: &SqliteStore,
    record: AuditRecord,
) -> Result<u64, StoreError> {
    // Encoded here, on the producer's thread; the writer only numbers and hashes.
    let time = record.time;
    let unsequenced = record.to_unsequenced()?;
    // The hot path: no savepoint. The row is inserted with the batch's others just
    // before the commit; if that fails, the whole batch fails and its rollback
    // restores the log state.
    store.write_raw(move |batch| Ok(append(batch, time, &unsequenced))).await
}

pub(super) async fn audit_records(
    store: &SqliteStore,
    from: u64,
    limit: usize,
) -> Result<Vec<StoredRecord>, StoreError> {
    store.read(move |conn| read_records(conn, from, limit)).await
}

pub(super) async fn audit_checkpoints(store: &SqliteStore) -> Result<Vec<String>, StoreError> {
    store.read(|conn| read_checkpoints(conn)).await
}

pub(super) async fn newest_checkpoint(store: &SqliteStore) -> Result<Option<String>, StoreError> {
    store
        .read(|conn| {
            // `size` is the table's key: one step down its index, however long the log.
            query_row(
                conn,
                "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
}
