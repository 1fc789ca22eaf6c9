//! Standing grants on SQLite: stored, listed, counted and revoked, each by one statement
//! (a use is one guarded `UPDATE`, so the count never exceeds `max_uses`).

use aecl_core::Timestamp;
use aecl_engine::{StandingGrant, StoreError};
use rusqlite::{Connection, Row, params};

use crate::{backend, to_i64, to_u64};

const COLUMNS: &str =
    "id, agent, action, created, expires, max_uses, used, revoked_at, terms, signature";

pub(super) fn put(conn: &Connection, g: &StandingGrant) -> Result<(), StoreError> {
    conn.execute(
        &format!("INSERT INTO standing_grants ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, NULL, ?7, ?8)"),
        params![
            g.id,
            g.agent,
            g.action,
            to_i64(g.created.0),
            to_i64(g.expires.0),
            i64::from(g.max_uses),
            g.terms,
            g.signature
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn list(
    conn: &Connection,
    agent_action: Option<(&str, &str)>,
    limit: usize,
) -> Result<Vec<StandingGrant>, StoreError> {
    let limit = to_i64(limit as u64);
    let (agent, action) = agent_action.unzip();
    let mut statement = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM standing_grants
             WHERE (?1 IS NULL OR agent = ?1) AND (?2 IS NULL OR action = ?2)
             ORDER BY created DESC, id DESC LIMIT ?3"
        ))
        .map_err(backend)?;
    let rows = statement.query_map(params![agent, action, limit], row).map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(|r| r)).collect()
}

fn row(r: &Row<'_>) -> rusqlite::Result<Result<StandingGrant, StoreError>> {
    let (created, expires, max_uses, used, revoked): (i64, i64, i64, i64, Option<i64>) =
        (r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
    let (id, agent, action, terms, signature) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(8)?, r.get(9)?);
    Ok((|| {
        Ok(StandingGrant {
            id,
            agent,
            action,
            created: Timestamp(to_u64(created)?),
            expires: Timestamp(to_u64(expires)?),
            max_uses: count(max_uses)?,
            used: count(used)?,
            revoked: revoked.map(to_u64).transpose()?.map(Timestamp),
            terms,
            signature,
        })
    })())
}

fn count(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| crate::corrupt(format!("use count {value} out of range")))
}

pub(super) fn use_one(conn: &Connection, id: &str, at: Timestamp) -> Result<bool, StoreError> {
    let n = conn
        .execute(
            "UPDATE standing_grants SET used = used + 1
             WHERE id = ?1 AND used < max_uses AND expires > ?2 AND revoked_at IS NULL",
            params![id, to_i64(at.0)],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

pub(super) fn revoke(conn: &Connection, id: &str, at: Timestamp) -> Result<bool, StoreError> {
    let n = conn
        .execute(
            "UPDATE standing_grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, to_i64(at.0)],
        )
        .map_err(backend)?;
    Ok(n == 1)
}
