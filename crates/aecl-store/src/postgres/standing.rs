//! Standing grants on PostgreSQL: stored, listed, counted and revoked, each by one
//! statement (a use is one guarded `UPDATE`, so racing instances never count past
//! `max_uses`).

use aecl_core::Timestamp;
use aecl_engine::{StandingGrant, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::{backend, corrupt, to_i64, to_u64};

const COLUMNS: &str =
    "id, agent, action, created, expires, max_uses, used, revoked_at, terms, signature";

pub(super) async fn put(pool: &PgPool, g: StandingGrant) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO standing_grants ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 0, NULL, $7, $8)"
    ))
    .bind(g.id)
    .bind(g.agent)
    .bind(g.action)
    .bind(to_i64(g.created.0))
    .bind(to_i64(g.expires.0))
    .bind(i64::from(g.max_uses))
    .bind(g.terms)
    .bind(g.signature)
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(super) async fn list(
    pool: &PgPool,
    agent_action: Option<(&str, &str)>,
    limit: usize,
) -> Result<Vec<StandingGrant>, StoreError> {
    let (agent, action) = agent_action.unzip();
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM standing_grants
         WHERE ($1::text IS NULL OR agent = $1) AND ($2::text IS NULL OR action = $2)
         ORDER BY created DESC, id DESC LIMIT $3"
    ))
    .bind(agent)
    .bind(action)
    .bind(to_i64(limit as u64))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(row).collect()
}

fn row(r: &PgRow) -> Result<StandingGrant, StoreError> {
    let revoked: Option<i64> = r.try_get("revoked_at").map_err(backend)?;
    Ok(StandingGrant {
        id: r.try_get("id").map_err(backend)?,
        agent: r.try_get("agent").map_err(backend)?,
        action: r.try_get("action").map_err(backend)?,
        created: Timestamp(to_u64(r.try_get("created").map_err(backend)?)?),
        expires: Timestamp(to_u64(r.try_get("expires").map_err(backend)?)?),
        max_uses: count(r.try_get("max_uses").map_err(backend)?)?,
        used: count(r.try_get("used").map_err(backend)?)?,
        revoked: revoked.map(to_u64).transpose()?.map(Timestamp),
        terms: r.try_get("terms").map_err(backend)?,
        signature: r.try_get("signature").map_err(backend)?,
    })
}

fn count(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt(format!("use count {value} out of range")))
}

pub(super) async fn use_one(pool: &PgPool, id: &str, at: Timestamp) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE standing_grants SET used = used + 1
         WHERE id = $1 AND used < max_uses AND expires > $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(to_i64(at.0))
    .execute(pool)
    .await
    .map_err(backend)?
    .rows_affected();
    Ok(n == 1)
}

pub(super) async fn revoke(pool: &PgPool, id: &str, at: Timestamp) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE standing_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(to_i64(at.0))
    .execute(pool)
    .await
    .map_err(backend)?
    .rows_affected();
    Ok(n == 1)
}
