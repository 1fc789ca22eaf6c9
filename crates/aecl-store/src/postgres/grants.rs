//! Single-use values and approvals on PostgreSQL: nonces, grants and approval requests.
//! Each is spent or resolved (and an approval's vote written) by one guarded statement, so
//! that of several instances racing for it exactly one succeeds.

use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{Approval, ApprovalStatus, Grant, GrantRefusal, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};

use crate::{backend, corrupt, to_i64, to_u64};

pub(super) async fn use_nonce(
    pool: &PgPool,
    scope: &str,
    nonce: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO nonces (scope, nonce, used_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(scope)
    .bind(nonce)
    .bind(to_i64(at.0))
    .execute(pool)
    .await
    .map_err(backend)?
    .rows_affected();
    Ok(n == 1)
}

pub(super) async fn put_grant(pool: &PgPool, grant: Grant) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    insert_grant(&mut tx, grant).await?;
    tx.commit().await.map_err(backend)
}

async fn insert_grant(tx: &mut Transaction<'_, Postgres>, grant: Grant) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grants (id, approval_id, call_digest, policy_revision, expires)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(grant.id)
    .bind(grant.approval_id)
    .bind(grant.call_digest.0)
    .bind(grant.policy_revision.0)
    .bind(to_i64(grant.expires.0))
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(super) async fn consume_grant(
    pool: &PgPool,
    id: &str,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Result<Result<Grant, GrantRefusal>, StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let spent = spend_grant(&mut tx, id, digest, revision, at).await?;
    if spent.is_ok() {
        tx.commit().await.map_err(backend)?;
    } else {
        tx.rollback().await.map_err(backend)?;
    }
    Ok(spent)
}

/// Spends grant `grant` and dispatches pending effect `id` in one transaction.
pub(super) async fn dispatch_with_grant(
    pool: &PgPool,
    id: &str,
    grant: &str,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Result<Result<(), GrantRefusal>, StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    if let Err(refusal) = spend_grant(&mut tx, grant, digest, revision, at).await? {
        tx.rollback().await.map_err(backend)?;
        return Ok(Err(refusal));
    }
    let n =
        sqlx::query("UPDATE effects SET state = 'dispatched' WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
    if n != 1 {
        // INVARIANT: the grant stays unspent when its call is not dispatched.
        tx.rollback().await.map_err(backend)?;
        return Err(super::effects::transition_error(pool, id, "pending").await);
    }
    tx.commit().await.map_err(backend)?;
    Ok(Ok(()))
}

/// Spends grant `id` inside `tx`, once: the row is locked, so an instance racing for the
/// same grant waits here and then reads it consumed.
pub(super) async fn spend_grant(
    tx: &mut PgConnection,
    id: &str,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Result<Result<Grant, GrantRefusal>, StoreError> {
    let row = sqlx::query(
        "SELECT approval_id, call_digest, policy_revision, expires, consumed_at
         FROM grants WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let Some(row) = row else { return Ok(Err(GrantRefusal::Unknown)) };
    let consumed: Option<i64> = row.try_get(4).map_err(backend)?;
    let grant = Grant {
        id: id.to_owned(),
        approval_id: row.try_get(0).map_err(backend)?,
        call_digest: CallDigest(row.try_get(1).map_err(backend)?),
        policy_revision: Revision(row.try_get(2).map_err(backend)?),
        expires: Timestamp(to_u64(row.try_get(3).map_err(backend)?)?),
    };
    if let Some(refusal) = crate::grant_refusal(&grant, consumed.is_some(), digest, revision, at) {
        return Ok(Err(refusal));
    }
    // INVARIANT: a grant is spent by exactly one statement that finds it unspent.
    let spent =
        sqlx::query("UPDATE grants SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL")
            .bind(id)
            .bind(to_i64(at.0))
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
    Ok(if spent == 1 { Ok(grant) } else { Err(GrantRefusal::AlreadyUsed) })
}

pub(super) async fn spent_grant_for_call(
    pool: &PgPool,
    digest: &CallDigest,
) -> Result<Option<(Grant, Timestamp)>, StoreError> {
    let row = sqlx::query(
        "SELECT id, approval_id, policy_revision, expires, consumed_at FROM grants
         WHERE call_digest = $1 AND consumed_at IS NOT NULL
         ORDER BY consumed_at DESC LIMIT 1",
    )
    .bind(&digest.0)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    let Some(row) = row else { return Ok(None) };
    let grant = Grant {
        id: row.try_get(0).map_err(backend)?,
        approval_id: row.try_get(1).map_err(backend)?,
        call_digest: digest.clone(),
        policy_revision: Revision(row.try_get(2).map_err(backend)?),
        expires: Timestamp(to_u64(row.try_get(3).map_err(backend)?)?),
    };
    Ok(Some((grant, Timestamp(to_u64(row.try_get(4).map_err(backend)?)?))))
}

pub(super) async fn grant_for_call(
    pool: &PgPool,
    digest: &CallDigest,
) -> Result<Option<Grant>, StoreError> {
    let row = sqlx::query(
        "SELECT id, approval_id, policy_revision, expires FROM grants
         WHERE call_digest = $1 AND consumed_at IS NULL
         ORDER BY expires DESC LIMIT 1",
    )
    .bind(&digest.0)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Grant {
        id: row.try_get(0).map_err(backend)?,
        approval_id: row.try_get(1).map_err(backend)?,
        call_digest: digest.clone(),
        policy_revision: Revision(row.try_get(2).map_err(backend)?),
        expires: Timestamp(to_u64(row.try_get(3).map_err(backend)?)?),
    }))
}

pub(super) async fn put_approval(pool: &PgPool, approval: Approval) -> Result<(), StoreError> {
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
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
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
    grant: Option<Grant>,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    // The row lock of this update orders concurrent answers: the second finds it resolved.
    let n = sqlx::query(
        "UPDATE approvals SET status = $2, decided_by = $3, reason = $4
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(by)
    .bind(reason)
    .execute(&mut *tx)
    .await
    .map_err(backend)?
    .rows_affected();
    if n != 1 {
        tx.rollback().await.map_err(backend)?;
        return Ok(false);
    }
    if let Some(grant) = grant {
        insert_grant(&mut tx, grant).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(true)
}
