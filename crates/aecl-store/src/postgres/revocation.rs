//! Revoked credentials on PostgreSQL: one insert to revoke, one indexed read per request.

use aecl_core::Timestamp;
use aecl_engine::StoreError;
use sqlx::PgPool;

use crate::{backend, to_i64};

pub(super) async fn revoke(
    pool: &PgPool,
    id: &str,
    at: Timestamp,
    by: &str,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO revoked_credentials (id, revoked_at, revoked_by) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(to_i64(at.0))
    .bind(by)
    .execute(pool)
    .await
    .map_err(backend)?
    .rows_affected();
    Ok(n == 1)
}

pub(super) async fn first_revoked(
    pool: &PgPool,
    ids: &[String],
) -> Result<Option<String>, StoreError> {
    if ids.is_empty() {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT id FROM revoked_credentials WHERE id = ANY($1) ORDER BY id LIMIT 1")
        .bind(ids)
        .fetch_optional(pool)
        .await
        .map_err(backend)
}
