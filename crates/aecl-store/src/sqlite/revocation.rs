//! Revoked credentials on SQLite: one insert to revoke, one indexed read per request.

use aecl_core::Timestamp;
use aecl_engine::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{backend, to_i64};

pub(super) fn revoke(
    conn: &Connection,
    id: &str,
    at: Timestamp,
    by: &str,
) -> Result<bool, StoreError> {
    let n = conn
        .execute(
            "INSERT INTO revoked_credentials (id, revoked_at, revoked_by) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![id, to_i64(at.0), by],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

pub(super) fn first_revoked(
    conn: &Connection,
    ids: &[String],
) -> Result<Option<String>, StoreError> {
    let mut statement =
        conn.prepare_cached("SELECT id FROM revoked_credentials WHERE id = ?1").map_err(backend)?;
    for id in ids {
        let found: Option<String> =
            statement.query_row(params![id], |row| row.get(0)).optional().map_err(backend)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}
