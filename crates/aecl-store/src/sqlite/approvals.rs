//! Approval requests on SQLite: stored as given (a request filed with its call's older
//! grants voided and older question closed), found by a retry of their call while
//! pending, their votes written by a compare-and-set, answered or resolved once by a
//! guarded update, their call's rejections found by its digest, listed newest first.

use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{Answer, Approval, ApprovalStatus, Grant, StoreError, Superseded, Voiding};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::grants::{insert_grant, void_in};
use super::{SqliteStore, exec, query_row};
use crate::{backend, corrupt, to_i64};

/// The columns `approval_row` reads, in its order.
const COLUMNS: &str = "id, run, call_id, agent, action, call_digest, policy_revision, status, \
     requested, expires, decided_by, reason, body";

pub(super) fn approval_row(r: &Row<'_>) -> rusqlite::Result<(Approval, String, String)> {
    Ok((
        Approval {
            id: r.get(0)?,
            run: r.get(1)?,
            call_id: r.get(2)?,
            agent: r.get(3)?,
            action: r.get(4)?,
            call_digest: CallDigest(r.get(5)?),
            policy_revision: Revision(r.get(6)?),
            status: ApprovalStatus::Pending,
            requested: Timestamp(u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0)),
            expires: Timestamp(u64::try_from(r.get::<_, i64>(9)?).unwrap_or(0)),
            decided_by: r.get(10)?,
            reason: r.get(11)?,
            body: serde_json::Value::Null,
        },
        r.get(7)?,
        r.get(12)?,
    ))
}

/// An approval read by `approval_row`, with its status and body decoded.
pub(super) fn full_approval(
    (mut approval, status, body): (Approval, String, String),
) -> Result<Approval, StoreError> {
    approval.status = ApprovalStatus::parse(&status)
        .ok_or_else(|| corrupt(format!("approval {} has status `{status}`", approval.id)))?;
    approval.body = serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
    Ok(approval)
}

pub(super) async fn put_approval(
    store: &SqliteStore,
    approval: Approval,
) -> Result<(), StoreError> {
    let body = serde_json::to_string(&approval.body).map_err(|e| corrupt(e.to_string()))?;
    store.write(move |batch| insert_approval(batch.conn, &approval, &body)).await
}

/// Inserts `approval` (with its body encoded as `body`) in the caller's transaction.
fn insert_approval(conn: &Connection, approval: &Approval, body: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO approvals (id, run, call_id, agent, action, call_digest,
             policy_revision, status, requested, expires, decided_by, reason, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            approval.id,
            approval.run,
            approval.call_id,
            approval.agent,
            approval.action,
            approval.call_digest.0,
            approval.policy_revision.0,
            approval.status.as_str(),
            to_i64(approval.requested.0),
            to_i64(approval.expires.0),
            approval.decided_by,
            approval.reason,
            body
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) async fn file_approval(
    store: &SqliteStore,
    approval: Approval,
    voiding: Voiding,
) -> Result<Superseded, StoreError> {
    let body = serde_json::to_string(&approval.body).map_err(|e| corrupt(e.to_string()))?;
    // INVARIANT: one job, one savepoint: the older question closed, the older grants
    // voided and the new request written together, or (a failed insert) none of them.
    store
        .write(move |batch| {
            let conn = batch.conn;
            let (digest, revision) = (&approval.call_digest.0, &approval.policy_revision.0);
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM approvals
                     WHERE call_digest = ?1 AND status = 'pending' AND policy_revision <> ?2
                     ORDER BY id"
                ))
                .map_err(backend)?;
            let rows = stmt.query_map(params![digest, revision], approval_row).map_err(backend)?;
            let mut requests = Vec::new();
            for row in rows {
                let mut closed = full_approval(row.map_err(backend)?)?;
                closed.status = ApprovalStatus::Expired;
                closed.decided_by = Some("aecl".to_owned());
                closed.reason = Some(voiding.why.clone());
                requests.push(closed);
            }
            exec(
                conn,
                "UPDATE approvals SET status = 'expired', decided_by = 'aecl', reason = ?3
                 WHERE call_digest = ?1 AND status = 'pending' AND policy_revision <> ?2",
                params![digest, revision, voiding.why],
            )
            .map_err(backend)?;
            let grants = void_in(conn, &approval.call_digest, &voiding)?;
            insert_approval(conn, &approval, &body)?;
            Ok(Superseded { grants, requests })
        })
        .await
}

pub(super) async fn approval(
    store: &SqliteStore,
    id: &str,
) -> Result<Option<Approval>, StoreError> {
    let id = id.to_owned();
    store
        .read(move |conn| {
            let row = query_row(
                conn,
                "SELECT id, run, call_id, agent, action, call_digest, policy_revision, status,
                     requested, expires, decided_by, reason, body
                 FROM approvals WHERE id = ?1",
                [&id],
                approval_row,
            )
            .optional()
            .map_err(backend)?;
            row.map(full_approval).transpose()
        })
        .await
}

pub(super) async fn approvals(
    store: &SqliteStore,
    pending_only: bool,
    limit: usize,
) -> Result<Vec<Approval>, StoreError> {
    store
        .read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, run, call_id, agent, action, call_digest, policy_revision, status,
                     requested, expires, decided_by, reason, body
                 FROM approvals WHERE ?1 = 0 OR status = 'pending'
                 ORDER BY requested DESC, id DESC LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![pending_only, to_i64(limit as u64)], approval_row)
                .map_err(backend)?;
            rows.map(|row| full_approval(row.map_err(backend)?)).collect()
        })
        .await
}

pub(super) async fn resolve_approval(
    store: &SqliteStore,
    id: &str,
    status: ApprovalStatus,
    by: &str,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    let (id, by, reason) = (id.to_owned(), by.to_owned(), reason.map(str::to_owned));
    store
        .write(move |batch| {
            let n = exec(
                batch.conn,
                "UPDATE approvals SET status = ?2, decided_by = ?3, reason = ?4
                 WHERE id = ?1 AND status = 'pending'",
                params![id, status.as_str(), by, reason],
            )
            .map_err(backend)?;
            Ok(n == 1)
        })
        .await
}

pub(super) async fn answer_approval(
    store: &SqliteStore,
    id: &str,
    answer: Answer,
) -> Result<Option<Vec<Grant>>, StoreError> {
    let id = id.to_owned();
    store
        .write(move |batch| {
            let conn = batch.conn;
            let n = exec(
                conn,
                "UPDATE approvals SET status = ?2, decided_by = ?3, reason = ?4
                 WHERE id = ?1 AND status = 'pending'",
                params![id, answer.status.as_str(), answer.by, answer.reason],
            )
            .map_err(backend)?;
            if n != 1 {
                return Ok(None);
            }
            let digest: String =
                query_row(conn, "SELECT call_digest FROM approvals WHERE id = ?1", [&id], |r| {
                    r.get(0)
                })
                .map_err(backend)?;
            // The job's savepoint: a grant that fails to insert undoes the update and the
            // voids too.
            let voided = void_in(conn, &CallDigest(digest), &answer.voiding)?;
            if let Some(grant) = &answer.grant {
                insert_grant(conn, grant)?;
            }
            Ok(Some(voided))
        })
        .await
}

pub(super) async fn record_vote(
    store: &SqliteStore,
    id: &str,
    expected: Option<&str>,
    votes: &str,
) -> Result<bool, StoreError> {
    let (id, expected, votes) = (id.to_owned(), expected.map(str::to_owned), votes.to_owned());
    store
        .write(move |batch| {
            // `IS`, not `=`: no votes yet is NULL, and NULL = NULL is not true.
            let n = exec(
                batch.conn,
                "UPDATE approvals SET decided_by = ?3
                 WHERE id = ?1 AND status = 'pending' AND decided_by IS ?2",
                params![id, expected, votes],
            )
            .map_err(backend)?;
            Ok(n == 1)
        })
        .await
}

pub(super) async fn rejections_for(
    store: &SqliteStore,
    digest: &CallDigest,
    since: Timestamp,
    at: Timestamp,
) -> Result<Vec<Approval>, StoreError> {
    let digest = digest.0.clone();
    store
        .read(move |conn| {
            // The index on (call_digest, status) finds them.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, run, call_id, agent, action, call_digest, policy_revision, status,
                     requested, expires, decided_by, reason, body
                 FROM approvals
                 WHERE call_digest = ?1 AND status = 'rejected' AND requested >= ?2
                     AND expires > ?3
                 ORDER BY requested DESC, id DESC",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![digest, to_i64(since.0), to_i64(at.0)], approval_row)
                .map_err(backend)?;
            rows.map(|row| full_approval(row.map_err(backend)?)).collect()
        })
        .await
}

pub(super) async fn pending_approval_for(
    store: &SqliteStore,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Result<Option<String>, StoreError> {
    let (digest, revision) = (digest.0.clone(), revision.0.clone());
    store
        .read(move |conn| {
            query_row(
                conn,
                "SELECT id FROM approvals
             WHERE call_digest = ?1 AND policy_revision = ?2 AND status = 'pending'
                 AND expires > ?3
             ORDER BY requested DESC, id DESC LIMIT 1",
                params![digest, revision, to_i64(at.0)],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
}
