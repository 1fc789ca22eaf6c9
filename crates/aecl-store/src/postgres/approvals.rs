//! Approval requests on PostgreSQL: stored as given (a request filed with its call's
//! older grants voided and older question closed, in one transaction), found by a retry of
//! their call while pending, their votes written by a compare-and-set, answered or
//! resolved once by a guarded update (the row lock orders concurrent answers), their
//! call's rejections found by its digest, listed newest first.

use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{Answer, Approval, ApprovalStatus, Grant, StoreError, Superseded, Voiding};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::grants::{insert_grant, void_in};
use crate::{backend, corrupt, to_i64, to_u64};

pub(super) async fn put_approval(pool: &PgPool, approval: Approval) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    insert_approval(&mut conn, approval).await
}

/// Inserts `approval` on `conn` (in the caller's transaction, if it is one).
async fn insert_approval(conn: &mut PgConnection, approval: Approval) -> Result<(), StoreError> {
    let body = serde_json::to_string(&approval.body).map_err(|e| corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO approvals (id, run, call_id, agent, action, call_digest,
             policy_revision, status, requested, expires, decided_by, reason, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(approval.id)
    .bind(approval.run)
    .bind(approval.call_id)
    .bind(approval.agent)
    .bind(approval.action)
    .bind(approval.call_digest.0)
    .bind(approval.policy_revision.0)
    .bind(approval.status.as_str())
    .bind(to_i64(approval.requested.0))
    .bind(to_i64(approval.expires.0))
    .bind(approval.decided_by)
    .bind(approval.reason)
    .bind(body)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(super) async fn file_approval(
    pool: &PgPool,
    approval: Approval,
    voiding: Voiding,
) -> Result<Superseded, StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    // The older questions first, their rows locked in id order (as an answer locks its
    // one row): an answer to one of them either lands first (it is then no longer
    // pending, and its grant, committed, is voided below) or finds it closed.
    let rows = sqlx::query(&format!(
        "UPDATE approvals SET status = 'expired', decided_by = 'aecl', reason = $3
         WHERE id IN (SELECT id FROM approvals
                      WHERE call_digest = $1 AND status = 'pending' AND policy_revision <> $2
                      ORDER BY id FOR UPDATE)
           AND status = 'pending'
         RETURNING {APPROVAL_COLUMNS}"
    ))
    .bind(&approval.call_digest.0)
    .bind(&approval.policy_revision.0)
    .bind(&voiding.why)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let mut requests = rows.iter().map(approval_from).collect::<Result<Vec<_>, _>>()?;
    requests.sort_by(|a, b| a.id.cmp(&b.id));
    let grants = void_in(&mut tx, &approval.call_digest, &voiding).await?;
    // INVARIANT: the request is written in the transaction that voids and closes: a
    // failed insert (its id taken) leaves all of it undone.
    insert_approval(&mut tx, approval).await?;
    tx.commit().await.map_err(backend)?;
    Ok(Superseded { grants, requests })
}

pub(super) async fn approval(pool: &PgPool, id: &str) -> Result<Option<Approval>, StoreError> {
    let row = sqlx::query(&format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(approval_from).transpose()
}

pub(super) async fn approvals(
    pool: &PgPool,
    pending_only: bool,
    limit: usize,
) -> Result<Vec<Approval>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE NOT $1 OR status = 'pending'
         ORDER BY requested DESC, id DESC LIMIT $2"
    ))
    .bind(pending_only)
    .bind(to_i64(limit as u64))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(approval_from).collect()
}

pub(super) async fn pending_approval_for(
    pool: &PgPool,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT id FROM approvals
         WHERE call_digest = $1 AND policy_revision = $2 AND status = 'pending' AND expires > $3
         ORDER BY requested DESC, id DESC LIMIT 1",
    )
    .bind(&digest.0)
    .bind(&revision.0)
    .bind(to_i64(at.0))
    .fetch_optional(pool)
    .await
    .map_err(backend)
}

pub(super) async fn record_vote(
    pool: &PgPool,
    id: &str,
    expected: Option<&str>,
    votes: &str,
) -> Result<bool, StoreError> {
    // A concurrent vote holds the row lock until it commits; this update then re-checks
    // its `WHERE` on the row it wrote, finds other votes, and writes nothing.
    // `IS NOT DISTINCT FROM`: no votes yet is NULL, and NULL = NULL is not true.
    let n = sqlx::query(
        "UPDATE approvals SET decided_by = $3
         WHERE id = $1 AND status = 'pending' AND decided_by IS NOT DISTINCT FROM $2",
    )
    .bind(id)
    .bind(expected)
    .bind(votes)
    .execute(pool)
    .await
    .map_err(backend)?
    .rows_affected();
    Ok(n == 1)
}

pub(super) async fn rejections_for(
    pool: &PgPool,
    digest: &CallDigest,
    since: Timestamp,
    at: Timestamp,
) -> Result<Vec<Approval>, StoreError> {
    // The index on (call_digest, status) finds them.
    let rows = sqlx::query(&format!(
        "SELECT {APPROVAL_COLUMNS} FROM approvals
         WHERE call_digest = $1 AND status = 'rejected' AND requested >= $2 AND expires > $3
         ORDER BY requested DESC, id DESC"
    ))
    .bind(&digest.0)
    .bind(to_i64(since.0))
    .bind(to_i64(at.0))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(approval_from).collect()
}

const APPROVAL_COLUMNS: &str = "id, run, call_id, agent, action, call_digest, policy_revision, \
     status, requested, expires, decided_by, reason, body";

fn approval_from(row: &PgRow) -> Result<Approval, StoreError> {
    let id: String = row.try_get(0).map_err(backend)?;
    let status: String = row.try_get(7).map_err(backend)?;
    let body: String = row.try_get(12).map_err(backend)?;
    Ok(Approval {
        run: row.try_get(1).map_err(backend)?,
        call_id: row.try_get(2).map_err(backend)?,
        agent: row.try_get(3).map_err(backend)?,
        action: row.try_get(4).map_err(backend)?,
        call_digest: CallDigest(row.try_get(5).map_err(backend)?),
        policy_revision: Revision(row.try_get(6).map_err(backend)?),
        status: ApprovalStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("approval {id} has status `{status}`")))?,
        requested: Timestamp(to_u64(row.try_get(8).map_err(backend)?)?),
        expires: Timestamp(to_u64(row.try_get(9).map_err(backend)?)?),
        decided_by: row.try_get(10).map_err(backend)?,
        reason: row.try_get(11).map_err(backend)?,
        body: serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?,
        id,
    })
}

pub(super) async fn resolve_approval(
    pool: &PgPool,
    id: &str,
    status: ApprovalStatus,
    by: &str,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    // The row lock of this update orders concurrent answers: the second finds it resolved.
    let n = sqlx::query(
        "UPDATE approvals SET status = $2, decided_by = $3, reason = $4
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(by)
    .bind(reason)
    .execute(pool)
    .await
    .map_err(backend)?
    .rows_affected();
    Ok(n == 1)
}

pub(super) async fn answer_approval(
    pool: &PgPool,
    id: &str,
    answer: Answer,
) -> Result<Option<Vec<Grant>>, StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    // The row lock of this update orders concurrent answers: the second finds it resolved.
    let digest: Option<String> = sqlx::query_scalar(
        "UPDATE approvals SET status = $2, decided_by = $3, reason = $4
         WHERE id = $1 AND status = 'pending'
         RETURNING call_digest",
    )
    .bind(id)
    .bind(answer.status.as_str())
    .bind(&answer.by)
    .bind(&answer.reason)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let Some(digest) = digest else {
        tx.rollback().await.map_err(backend)?;
        return Ok(None);
    };
    let voided = void_in(&mut tx, &CallDigest(digest), &answer.voiding).await?;
    if let Some(grant) = answer.grant {
        insert_grant(&mut tx, grant).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(Some(voided))
}
