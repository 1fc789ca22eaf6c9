//! The SQLite schema and its versioned migrations, applied at start-up in one transaction
//! each. A database newer than this build is refused rather than guessed at.

use aecl_engine::StoreError;
use rusqlite::{Connection, OptionalExtension};

use crate::backend;

/// Migrations in order; the version of each is its position plus one. Never edit one that
/// has shipped: add the next.
const MIGRATIONS: &[(&str, &str)] = &[
    ("initial", include_str!("migrations/001_initial.sql")),
    ("grant_digest", include_str!("migrations/002_grant_digest.sql")),
    ("standing_grants", include_str!("migrations/003_standing_grants.sql")),
    ("approval_digest", include_str!("migrations/004_approval_digest.sql")),
    ("revoked_credentials", include_str!("migrations/005_revoked_credentials.sql")),
    ("grant_voids", include_str!("migrations/006_grant_voids.sql")),
];

/// Brings the schema up to date.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS aecl_schema (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL
         )",
    )
    .map_err(backend)?;
    let current: i64 = conn
        .query_row("SELECT MAX(version) FROM aecl_schema", [], |row| row.get::<_, Option<i64>>(0))
        .optional()
        .map_err(backend)?
        .flatten()
        .unwrap_or(0);
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if current > known {
        return Err(StoreError::SchemaTooNew { found: current, known });
    }
    for (version, (name, sql)) in (1..).zip(MIGRATIONS) {
        if version <= current {
            continue;
        }
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute("INSERT INTO aecl_schema (version, name) VALUES (?1, ?2)", (version, name))
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}
