//! The PostgreSQL schema and its versioned migrations, applied at start-up in one
//! transaction each. Several instances may start at once on one database: each migration
//! step holds a transaction-scoped advisory lock, so exactly one of them applies it and the
//! others see it applied. A database newer than this build is refused rather than guessed at.

use aecl_engine::StoreError;
use sqlx::{Executor, PgPool};

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
    ("append_event", include_str!("migrations/007_append_event.sql")),
    ("append_events", include_str!("migrations/008_append_events.sql")),
    ("append_audit", include_str!("migrations/009_append_audit.sql")),
    ("append_audit_at_end", include_str!("migrations/010_append_audit_at_end.sql")),
    ("append_audit_signed_end", include_str!("migrations/011_append_audit_signed_end.sql")),
    ("grant_signature", include_str!("migrations/012_grant_signature.sql")),
    ("rollback_seal", include_str!("migrations/013_rollback_seal.sql")),
];

/// The advisory lock that serialises migrations ("aecl" in ASCII, then "schm"): any constant
/// works as long as every aecl build uses the same one.
const MIGRATION_LOCK: i64 = 0x6165_636c_7363_686d;

/// Brings the schema up to date, one migration per transaction.
pub(crate) async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    loop {
        let mut tx = pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // Under the lock, so that two first starts do not both create it.
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS aecl_schema (
                 version BIGINT PRIMARY KEY,
                 name TEXT NOT NULL
             )",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM aecl_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        if current > known {
            return Err(StoreError::SchemaTooNew { found: current, known });
        }
        let next = usize::try_from(current).ok().and_then(|done| MIGRATIONS.get(done));
        let Some((name, sql)) = next else {
            tx.commit().await.map_err(backend)?;
            return Ok(());
        };
        // Without parameters the statements go as one simple query (several per string).
        (&mut *tx).execute(*sql).await.map_err(backend)?;
        sqlx::query("INSERT INTO aecl_schema (version, name) VALUES ($1, $2)")
            .bind(current + 1)
            .bind(*name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        tracing::info!(version = current + 1, name, "applied a PostgreSQL migration");
    }
}
