//! The effect ledger on SQLite: effects recorded, moved forward by guarded updates
//! (`pending -> dispatched -> succeeded | failed | outcome_unknown`), listed, recovered
//! after a restart and reconciled.

use aecl_core::{CallDigest, Timestamp};
use aecl_engine::{Begun, Effect, EffectEnd, EffectState, NewEffect, Reconciliation, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::append;
use super::{SqliteStore, exec, query_row};
use crate::{backend, corrupt, to_i64};

/// Records an effect as `pending` (or `dispatched`, as it says), or already ended as `end`
/// says (its result encoded): a read whose decision and end commit together. With
/// `or_nothing`, an effect that conflicts with an existing one (same run and call id, or
/// same run and idempotency key) is not an error: nothing is inserted and 0 is returned.
pub(super) fn insert_effect(
    conn: &Connection,
    effect: &NewEffect,
    end: Option<(&EffectEnd, &str)>,
    or_nothing: bool,
) -> Result<usize, StoreError> {
    let sql = format!(
        "INSERT INTO effects (id, run, call_id, agent, action, idempotency_key, call_digest,
             node, state, result, error, rollback_token, created, updated, rollback_seal)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15){}",
        if or_nothing { " ON CONFLICT DO NOTHING" } else { "" }
    );
    let begun = if effect.dispatched { EffectState::Dispatched } else { EffectState::Pending };
    let (state, result, error, updated) = match end {
        Some((end, result)) => (end.state, result, end.error.as_deref(), end.at),
        None => (begun, "null", None, effect.created),
    };
    let rollback_token = end.and_then(|(end, _)| end.rollback_token.as_deref());
    let rollback_seal = end.and_then(|(end, _)| end.rollback_seal.as_deref());
    exec(
        conn,
        &sql,
        params![
            effect.id,
            effect.run,
            effect.call_id,
            effect.agent,
            effect.action,
            effect.idempotency_key,
            effect.call_digest.0,
            effect.node,
            state.as_str(),
            result,
            error,
            rollback_token,
            to_i64(effect.created.0),
            to_i64(updated.0),
            rollback_seal
        ],
    )
    .map_err(backend)
}

pub(super) const EFFECT_COLUMNS: &str = "id, run, call_id, agent, action, idempotency_key, call_digest, \
                              node, state, result, error, rollback_token, created, updated, \
                              rollback_seal";

pub(super) fn effect_row(r: &Row<'_>) -> rusqlite::Result<(Effect, String, String)> {
    Ok((
        Effect {
            id: r.get(0)?,
            run: r.get(1)?,
            call_id: r.get(2)?,
            agent: r.get(3)?,
            action: r.get(4)?,
            idempotency_key: r.get(5)?,
            call_digest: CallDigest(r.get(6)?),
            node: r.get(7)?,
            state: EffectState::Pending,
            result: serde_json::Value::Null,
            error: r.get(10)?,
            rollback_token: r.get(11)?,
            created: Timestamp(u64::try_from(r.get::<_, i64>(12)?).unwrap_or(0)),
            updated: Timestamp(u64::try_from(r.get::<_, i64>(13)?).unwrap_or(0)),
            rollback_seal: r.get(14)?,
        },
        r.get(8)?,
        r.get(9)?,
    ))
}

/// The effect from a row, with its state and result parsed.
pub(super) fn effect_from(row: (Effect, String, String)) -> Result<Effect, StoreError> {
    let (mut effect, state, result) = row;
    effect.state = EffectState::parse(&state)
        .ok_or_else(|| corrupt(format!("effect {} has state `{state}`", effect.id)))?;
    effect.result = serde_json::from_str(&result)
        .map_err(|e| corrupt(format!("effect {} result: {e}", effect.id)))?;
    Ok(effect)
}

pub(super) fn select_effect(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Option<Effect>, StoreError> {
    let sql = format!("SELECT {EFFECT_COLUMNS} FROM effects WHERE {filter}");
    let row = query_row(conn, &sql, args, effect_row).optional().map_err(backend)?;
    row.map(effect_from).transpose()
}

pub(super) fn transition_error(conn: &Connection, id: &str, expected: &'static str) -> StoreError {
    match query_row(conn, "SELECT state FROM effects WHERE id = ?1", [id], |r| {
        r.get::<_, String>(0)
    }) {
        Ok(state) => StoreError::Transition { id: id.to_owned(), state, expected },
        Err(_) => StoreError::NoEffect(id.to_owned()),
    }
}

/// Ends effect `id` (its result already encoded as `result`) if it is pending or
/// dispatched.
pub(super) fn finish(
    conn: &Connection,
    id: &str,
    end: &EffectEnd,
    result: &str,
) -> Result<(), StoreError> {
    let n = set_end(conn, FINISH, id, end, result)?;
    if n == 1 { Ok(()) } else { Err(transition_error(conn, id, "pending or dispatched")) }
}

/// Ends an effect that is still running.
const FINISH: &str = "UPDATE effects SET state = ?2, result = ?3, error = ?4, rollback_token = ?5,
         updated = ?6, rollback_seal = ?7
     WHERE id = ?1 AND state IN ('pending', 'dispatched')";

/// Ends an effect whose outcome was unknown (its reconciliation).
const RECONCILE: &str =
    "UPDATE effects SET state = ?2, result = ?3, error = ?4, rollback_token = ?5,
         updated = ?6, rollback_seal = ?7
     WHERE id = ?1 AND state = 'outcome_unknown'";

/// Writes `end` (its result encoded as `result`) over effect `id` with `sql`, one of the
/// guarded updates above; the number of rows changed.
fn set_end(
    conn: &Connection,
    sql: &str,
    id: &str,
    end: &EffectEnd,
    result: &str,
) -> Result<usize, StoreError> {
    let at = to_i64(end.at.0);
    let state = end.state.as_str();
    let values = params![id, state, result, end.error, end.rollback_token, at, end.rollback_seal];
    exec(conn, sql, values).map_err(backend)
}

/// Moves pending effect `id` to `dispatched`.
pub(super) fn dispatch(conn: &Connection, id: &str) -> Result<(), StoreError> {
    let n = exec(
        conn,
        "UPDATE effects SET state = 'dispatched' WHERE id = ?1 AND state = 'pending'",
        [id],
    )
    .map_err(backend)?;
    if n == 1 { Ok(()) } else { Err(transition_error(conn, id, "pending")) }
}

/// The effect id and call digest of the call of `run` with id `call_id` that was
/// executed (it has an effect), if one was.
pub(super) fn executed_call(
    conn: &Connection,
    run: &str,
    call_id: &str,
) -> Result<Option<(String, CallDigest)>, StoreError> {
    query_row(
        conn,
        "SELECT id, call_digest FROM effects WHERE run = ?1 AND call_id = ?2",
        [run, call_id],
        |r| Ok((r.get(0)?, CallDigest(r.get(1)?))),
    )
    .optional()
    .map_err(backend)
}

pub(super) async fn begin_effect(
    store: &SqliteStore,
    effect: NewEffect,
) -> Result<Begun, StoreError> {
    store
        .write(move |batch| {
            let conn = batch.conn;
            let inserted = insert_effect(conn, &effect, None, true)?;
            if inserted == 1 {
                return Ok(Begun::New);
            }
            let existing = match &effect.idempotency_key {
                Some(key) => {
                    select_effect(conn, "run = ?1 AND idempotency_key = ?2", &[&effect.run, key])?
                }
                None => None,
            };
            let existing = match existing {
                Some(e) => Some(e),
                None => select_effect(
                    conn,
                    "run = ?1 AND call_id = ?2",
                    &[&effect.run, &effect.call_id],
                )?,
            };
            existing.map(|e| Begun::Existing(Box::new(e))).ok_or_else(|| {
                corrupt(format!("effect {} conflicts with no stored effect", effect.id))
            })
        })
        .await
}

pub(super) async fn dispatch_effect(store: &SqliteStore, id: &str) -> Result<(), StoreError> {
    let id = id.to_owned();
    store.write(move |batch| dispatch(batch.conn, &id)).await
}

pub(super) async fn finish_effect(
    store: &SqliteStore,
    id: &str,
    end: EffectEnd,
) -> Result<(), StoreError> {
    let id = id.to_owned();
    let result = serde_json::to_string(&end.result).map_err(|e| corrupt(e.to_string()))?;
    store.write(move |batch| finish(batch.conn, &id, &end, &result)).await
}

pub(super) async fn effect(store: &SqliteStore, id: &str) -> Result<Option<Effect>, StoreError> {
    let id = id.to_owned();
    store.read(move |conn| select_effect(conn, "id = ?1", &[&id])).await
}

pub(super) async fn effect_by_key(
    store: &SqliteStore,
    run: &str,
    key: &str,
) -> Result<Option<Effect>, StoreError> {
    let (run, key) = (run.to_owned(), key.to_owned());
    store
        .read(move |conn| select_effect(conn, "run = ?1 AND idempotency_key = ?2", &[&run, &key]))
        .await
}

pub(super) async fn run_effects(store: &SqliteStore, run: &str) -> Result<Vec<Effect>, StoreError> {
    let run = run.to_owned();
    store
        .read(move |conn| {
            let sql =
                format!("SELECT {EFFECT_COLUMNS} FROM effects WHERE run = ?1 ORDER BY created, id");
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let rows = stmt.query_map([&run], effect_row).map_err(backend)?;
            let mut effects = Vec::new();
            for row in rows {
                effects.push(effect_from(row.map_err(backend)?)?);
            }
            Ok(effects)
        })
        .await
}

pub(super) async fn recover_effects(
    store: &SqliteStore,
    node: &str,
    at: Timestamp,
) -> Result<Vec<Effect>, StoreError> {
    let node = node.to_owned();
    store
        .write(move |batch| {
            let conn = batch.conn;
            let sql = format!(
                "SELECT {EFFECT_COLUMNS} FROM effects WHERE node = ?1
             AND state IN ('pending', 'dispatched') ORDER BY created, id"
            );
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let rows = stmt.query_map([&node], effect_row).map_err(backend)?;
            let mut effects = Vec::new();
            for row in rows {
                effects.push(effect_from(row.map_err(backend)?)?);
            }
            for effect in &mut effects {
                let (state, error) = crate::recovered(effect.state);
                exec(
                    conn,
                    "UPDATE effects SET state = ?2, error = ?3, updated = ?4 WHERE id = ?1",
                    params![effect.id, state.as_str(), error, to_i64(at.0)],
                )
                .map_err(backend)?;
                effect.state = state;
                effect.error = Some(error.to_owned());
                effect.updated = at;
            }
            Ok(effects)
        })
        .await
}

pub(super) async fn unresolved_effects(
    store: &SqliteStore,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Effect>, StoreError> {
    let after = after.unwrap_or_default().to_owned();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    store
        .read(move |conn| {
            // In id order (the primary key's index), so the pages together read the table
            // once.
            let sql = format!(
                "SELECT {EFFECT_COLUMNS} FROM effects WHERE id > ?1 AND state = 'outcome_unknown'
             ORDER BY id LIMIT ?2"
            );
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let rows = stmt.query_map(params![after, limit], effect_row).map_err(backend)?;
            let mut effects = Vec::new();
            for row in rows {
                effects.push(effect_from(row.map_err(backend)?)?);
            }
            Ok(effects)
        })
        .await
}

pub(super) async fn reconcile_effect(
    store: &SqliteStore,
    r: Reconciliation,
) -> Result<bool, StoreError> {
    let result = serde_json::to_string(&r.end.result).map_err(|e| corrupt(e.to_string()))?;
    let (time, unsequenced) = (r.audit.time, r.audit.to_unsequenced()?);
    store
        .write(move |batch| {
            let n = set_end(batch.conn, RECONCILE, &r.effect_id, &r.end, &result)?;
            if n == 1 {
                // In the same transaction as the ledger's change.
                append(batch, time, &unsequenced);
            }
            Ok(n == 1)
        })
        .await
}
