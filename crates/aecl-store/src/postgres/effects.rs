//! The effect ledger on PostgreSQL: `pending -> dispatched -> succeeded | failed |
//! outcome_unknown`, with every transition guarded in its `WHERE` clause so that two
//! instances cannot both move one effect, and one effect per run and idempotency key
//! (a unique index: the second instance's insert waits for the first and then does nothing).

use aecl_core::{CallDigest, Timestamp};
use aecl_engine::{Begun, Effect, EffectEnd, EffectState, NewEffect, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, PgPool, Row};

use crate::{backend, corrupt, to_i64, to_u64};

const EFFECT_COLUMNS: &str = "id, run, call_id, agent, action, idempotency_key, call_digest, \
                              node, state, result, error, rollback_token, created, updated, \
                              rollback_seal";

fn effect_from(row: &PgRow) -> Result<Effect, StoreError> {
    let id: String = row.try_get(0).map_err(backend)?;
    let state: String = row.try_get(8).map_err(backend)?;
    let result: String = row.try_get(9).map_err(backend)?;
    Ok(Effect {
        state: EffectState::parse(&state)
            .ok_or_else(|| corrupt(format!("effect {id} has state `{state}`")))?,
        result: serde_json::from_str(&result)
            .map_err(|e| corrupt(format!("effect {id} result: {e}")))?,
        run: row.try_get(1).map_err(backend)?,
        call_id: row.try_get(2).map_err(backend)?,
        agent: row.try_get(3).map_err(backend)?,
        action: row.try_get(4).map_err(backend)?,
        idempotency_key: row.try_get(5).map_err(backend)?,
        call_digest: CallDigest(row.try_get(6).map_err(backend)?),
        node: row.try_get(7).map_err(backend)?,
        error: row.try_get(10).map_err(backend)?,
        rollback_token: row.try_get(11).map_err(backend)?,
        created: Timestamp(to_u64(row.try_get(12).map_err(backend)?)?),
        updated: Timestamp(to_u64(row.try_get(13).map_err(backend)?)?),
        rollback_seal: row.try_get(14).map_err(backend)?,
        id,
    })
}

/// The effect matching `condition`, whose parameters `$1`, `$2`... are `args`.
async fn select_effect<'c>(
    db: impl PgExecutor<'c>,
    condition: &str,
    args: &[&str],
) -> Result<Option<Effect>, StoreError> {
    let sql = format!("SELECT {EFFECT_COLUMNS} FROM effects WHERE {condition}");
    let mut query = sqlx::query(&sql);
    for arg in args {
        query = query.bind(*arg);
    }
    let row = query.fetch_optional(db).await.map_err(backend)?;
    row.as_ref().map(effect_from).transpose()
}

/// Why a guarded transition of `id` changed nothing.
pub(super) async fn transition_error(
    pool: &PgPool,
    id: &str,
    expected: &'static str,
) -> StoreError {
    let state: Result<Option<String>, _> =
        sqlx::query_scalar("SELECT state FROM effects WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await;
    match state {
        Ok(Some(state)) => StoreError::Transition { id: id.to_owned(), state, expected },
        Ok(None) => StoreError::NoEffect(id.to_owned()),
        Err(e) => backend(e),
    }
}

/// Records an effect as `pending`. With `or_nothing`, an effect that conflicts with an
/// existing one (same run and call id, or same run and idempotency key) inserts nothing
/// and returns 0 instead of failing.
pub(super) async fn insert_effect(
    conn: &mut sqlx::PgConnection,
    effect: &NewEffect,
    or_nothing: bool,
) -> Result<u64, StoreError> {
    let sql = format!(
        "INSERT INTO effects (id, run, call_id, agent, action, idempotency_key,
             call_digest, node, state, result, created, updated)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, 'null', $9, $9){}",
        if or_nothing { " ON CONFLICT DO NOTHING" } else { "" }
    );
    let state = if effect.dispatched { EffectState::Dispatched } else { EffectState::Pending };
    Ok(sqlx::query(&sql)
        .bind(&effect.id)
        .bind(&effect.run)
        .bind(&effect.call_id)
        .bind(&effect.agent)
        .bind(&effect.action)
        .bind(&effect.idempotency_key)
        .bind(&effect.call_digest.0)
        .bind(&effect.node)
        .bind(to_i64(effect.created.0))
        .bind(state.as_str())
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected())
}

pub(super) async fn begin_effect(pool: &PgPool, effect: NewEffect) -> Result<Begun, StoreError> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    let inserted = insert_effect(&mut conn, &effect, true).await?;
    if inserted == 1 {
        return Ok(Begun::New);
    }
    // The conflicting effect has committed (the insert waited for it), so it is visible.
    let existing = match &effect.idempotency_key {
        Some(key) => {
            select_effect(pool, "run = $1 AND idempotency_key = $2", &[&effect.run, key]).await?
        }
        None => None,
    };
    let existing = match existing {
        Some(e) => Some(e),
        None => {
            select_effect(pool, "run = $1 AND call_id = $2", &[&effect.run, &effect.call_id])
                .await?
        }
    };
    existing
        .map(|e| Begun::Existing(Box::new(e)))
        .ok_or_else(|| corrupt(format!("effect {} conflicts with no stored effect", effect.id)))
}

pub(super) async fn dispatch_effect(pool: &PgPool, id: &str) -> Result<(), StoreError> {
    let n =
        sqlx::query("UPDATE effects SET state = 'dispatched' WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .execute(pool)
            .await
            .map_err(backend)?
            .rows_affected();
    if n == 1 { Ok(()) } else { Err(transition_error(pool, id, "pending").await) }
}

pub(super) async fn finish_effect(
    pool: &PgPool,
    id: &str,
    end: EffectEnd,
) -> Result<(), StoreError> {
    let result = serde_json::to_string(&end.result).map_err(|e| corrupt(e.to_string()))?;
    let mut conn = pool.acquire().await.map_err(backend)?;
    let n = finish(&mut conn, id, &end, &result).await?;
    if n == 1 { Ok(()) } else { Err(transition_error(pool, id, "pending or dispatched").await) }
}

/// Ends effect `id` (its result already encoded as `result`) if it is pending or
/// dispatched; the number of rows changed (0 or 1).
pub(super) async fn finish(
    conn: &mut sqlx::PgConnection,
    id: &str,
    end: &EffectEnd,
    result: &str,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE effects SET state = $2, result = $3, error = $4, rollback_token = $5, updated = $6,
                 rollback_seal = $7
         WHERE id = $1 AND state IN ('pending', 'dispatched')",
    )
    .bind(id)
    .bind(end.state.as_str())
    .bind(result)
    .bind(&end.error)
    .bind(&end.rollback_token)
    .bind(to_i64(end.at.0))
    .bind(&end.rollback_seal)
    .execute(&mut *conn)
    .await
    .map_err(backend)?
    .rows_affected())
}

pub(super) async fn effect(pool: &PgPool, id: &str) -> Result<Option<Effect>, StoreError> {
    select_effect(pool, "id = $1", &[id]).await
}

pub(super) async fn effect_by_key(
    pool: &PgPool,
    run: &str,
    key: &str,
) -> Result<Option<Effect>, StoreError> {
    select_effect(pool, "run = $1 AND idempotency_key = $2", &[run, key]).await
}

/// The effects of `run`, oldest first.
pub(super) async fn run_effects(pool: &PgPool, run: &str) -> Result<Vec<Effect>, StoreError> {
    let sql = format!("SELECT {EFFECT_COLUMNS} FROM effects WHERE run = $1 ORDER BY created, id");
    let rows = sqlx::query(&sql).bind(run).fetch_all(pool).await.map_err(backend)?;
    rows.iter().map(effect_from).collect()
}

/// Marks what `node` left in flight, in one transaction. The rows are locked, so an effect
/// that its node finishes meanwhile is either finished first (and not recovered) or
/// recovered first (and the late finish fails its state guard).
/// Effects left `outcome_unknown`, in id order after `after`.
pub(super) async fn unresolved_effects(
    pool: &PgPool,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Effect>, StoreError> {
    let sql = format!(
        "SELECT {EFFECT_COLUMNS} FROM effects WHERE id > $1 AND state = 'outcome_unknown'
         ORDER BY id LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(after.unwrap_or_default())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(effect_from).collect()
}

/// Moves `id` from `outcome_unknown` to `end`; false when it is no longer there.
pub(super) async fn reconcile_effect(
    pool: &PgPool,
    id: &str,
    end: &EffectEnd,
) -> Result<bool, StoreError> {
    let result = serde_json::to_string(&end.result).map_err(|e| corrupt(e.to_string()))?;
    let done = sqlx::query(
        "UPDATE effects SET state = $2, result = $3, error = $4, rollback_token = $5,
                 updated = $6, rollback_seal = $7
             WHERE id = $1 AND state = 'outcome_unknown'",
    )
    .bind(id)
    .bind(end.state.as_str())
    .bind(result)
    .bind(&end.error)
    .bind(&end.rollback_token)
    .bind(to_i64(end.at.0))
    .bind(&end.rollback_seal)
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn recover_effects(
    pool: &PgPool,
    node: &str,
    at: Timestamp,
) -> Result<Vec<Effect>, StoreError> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let sql = format!(
        "SELECT {EFFECT_COLUMNS} FROM effects WHERE node = $1
         AND state IN ('pending', 'dispatched') ORDER BY created, id FOR UPDATE"
    );
    let rows = sqlx::query(&sql).bind(node).fetch_all(&mut *tx).await.map_err(backend)?;
    let mut effects = rows.iter().map(effect_from).collect::<Result<Vec<_>, _>>()?;
    for effect in &mut effects {
        let (state, error) = crate::recovered(effect.state);
        sqlx::query("UPDATE effects SET state = $2, error = $3, updated = $4 WHERE id = $1")
            .bind(&effect.id)
            .bind(state.as_str())
            .bind(error)
            .bind(to_i64(at.0))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        effect.state = state;
        effect.error = Some(error.to_owned());
        effect.updated = at;
    }
    tx.commit().await.map_err(backend)?;
    Ok(effects)
}
