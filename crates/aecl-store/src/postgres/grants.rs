//! Single-use values on PostgreSQL: nonces and grants. Each is spent by one guarded
//! statement on a locked row, so that of several instances racing for it exactly one
//! succeeds; a grant voided by a later answer about its call is never spent.

use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{Grant, GrantRefusal, StoreError, Voiding};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};

use crate::{GrantUsed, backend, to_i64, to_u64};

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

pub(super) async fn insert_grant(
    tx: &mut Transaction<'_, Postgres>,
    grant: Grant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grants (id, approval_id, call_digest, policy_revision, expires, signature)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(grant.id)
    .bind(grant.approval_id)
    .bind(grant.call_digest.0)
    .bind(grant.policy_revision.0)
    .bind(to_i64(grant.expires.0))
    .bind(grant.signature)
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
        "SELECT approval_id, call_digest, policy_revision, expires, consumed_at, voided_at,
                signature
         FROM grants WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let Some(row) = row else { return Ok(Err(GrantRefusal::Unknown)) };
    let consumed: Option<i64> = row.try_get(4).map_err(backend)?;
    let voided: Option<i64> = row.try_get(5).map_err(backend)?;
    let grant = Grant {
        id: id.to_owned(),
        approval_id: row.try_get(0).map_err(backend)?,
        call_digest: CallDigest(row.try_get(1).map_err(backend)?),
        policy_revision: Revision(row.try_get(2).map_err(backend)?),
        expires: Timestamp(to_u64(row.try_get(3).map_err(backend)?)?),
        signature: row.try_get(6).map_err(backend)?,
    };
    let used = GrantUsed { consumed: consumed.is_some(), voided: voided.is_some() };
    if let Some(refusal) = crate::grant_refusal(&grant, used, digest, revision, at) {
        return Ok(Err(refusal));
    }
    // INVARIANT: a grant is spent by exactly one statement that finds it neither spent
    // nor voided.
    let spent = sqlx::query(
        "UPDATE grants SET consumed_at = $2
         WHERE id = $1 AND consumed_at IS NULL AND voided_at IS NULL",
    )
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
        "SELECT id, approval_id, policy_revision, expires, signature, consumed_at FROM grants
         WHERE call_digest = $1 AND consumed_at IS NOT NULL
         ORDER BY consumed_at DESC LIMIT 1",
    )
    .bind(&digest.0)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    let Some(row) = row else { return Ok(None) };
    let grant = listed(&row, digest)?;
    Ok(Some((grant, Timestamp(to_u64(row.try_get(5).map_err(backend)?)?))))
}

pub(super) async fn grant_for_call(
    pool: &PgPool,
    digest: &CallDigest,
) -> Result<Option<Grant>, StoreError> {
    let row = sqlx::query(
        "SELECT id, approval_id, policy_revision, expires, signature FROM grants
         WHERE call_digest = $1 AND consumed_at IS NULL AND voided_at IS NULL
         ORDER BY expires DESC LIMIT 1",
    )
    .bind(&digest.0)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(|row| listed(&row, digest)).transpose()
}

pub(super) async fn void_grants(
    pool: &PgPool,
    digest: &CallDigest,
    voiding: Voiding,
) -> Result<Vec<Grant>, StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let voided = void_in(&mut tx, digest, &voiding).await?;
    tx.commit().await.map_err(backend)?;
    Ok(voided)
}

/// Voids the live grants of the call with `digest` inside `tx`; returns them. The rows are
/// locked in id order first, so that two voids of one call never deadlock, and a spend
/// holding one (`spend_grant`) finishes first: its grant is then spent, not voided.
pub(super) async fn void_in(
    tx: &mut PgConnection,
    digest: &CallDigest,
    voiding: &Voiding,
) -> Result<Vec<Grant>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, approval_id, policy_revision, expires, signature FROM grants
         WHERE call_digest = $1 AND consumed_at IS NULL AND voided_at IS NULL
         ORDER BY id FOR UPDATE",
    )
    .bind(&digest.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    // A row spent while this waited for its lock is read again by `FOR UPDATE` under READ
    // COMMITTED and no longer matches: it is not returned.
    let mut voided = Vec::with_capacity(rows.len());
    for row in &rows {
        voided.push(listed(row, digest)?);
    }
    let ids: Vec<&str> = voided.iter().map(|g| g.id.as_str()).collect();
    if !ids.is_empty() {
        sqlx::query("UPDATE grants SET voided_at = $2, voided_why = $3 WHERE id = ANY($1)")
            .bind(&ids)
            .bind(to_i64(voiding.at.0))
            .bind(&voiding.why)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    Ok(voided)
}

/// The grant of call `digest` in `row`, whose first five columns are its id, approval id,
/// policy revision, expiry and signature.
fn listed(row: &PgRow, digest: &CallDigest) -> Result<Grant, StoreError> {
    Ok(Grant {
        id: row.try_get(0).map_err(backend)?,
        approval_id: row.try_get(1).map_err(backend)?,
        call_digest: digest.clone(),
        policy_revision: Revision(row.try_get(2).map_err(backend)?),
        expires: Timestamp(to_u64(row.try_get(3).map_err(backend)?)?),
        signature: row.try_get(4).map_err(backend)?,
    })
}
