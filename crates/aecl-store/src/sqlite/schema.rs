//! The SQLite schema and its versioned migrations, applied at start-up in one transaction
//! each. A database newer than this build is refused rather than guessed at, and so is one
//! whose schema was changed outside aecl where it matters (`check_shape`).

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
    ("grant_signature", include_str!("migrations/007_grant_signature.sql")),
    ("rollback_seal", include_str!("migrations/008_rollback_seal.sql")),
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

/// The audit log's tables as the migrations made them, as tokens in lower case
/// ([`tokens`]). A table remade without its `INTEGER PRIMARY KEY` or `NOT NULL` takes rows
/// every reader skips (a `NULL` sequence number) or a second checkpoint of one size; an
/// extra column misleads whoever reads the table with SQL.
const AUDIT_TABLES: [(&str, &str); 3] = [
    (
        "audit_log",
        "create table audit_log ( seq integer primary key , record blob not null , chain_hash \
         blob not null )",
    ),
    (
        "audit_checkpoints",
        "create table audit_checkpoints ( size integer primary key , note text not null )",
    ),
    (
        "audit_head",
        "create table audit_head ( id integer primary key check ( id = 1 ) , size integer not \
         null , head blob not null , nodes blob not null )",
    ),
];

/// The words and marks of a statement, in lower case, one space between each: blanks only
/// separate (`PRIMARY KEY` is two words, `PRIMARYKEY` one, which SQLite reads as a type
/// name), and a comment or a quote is a mark like any other.
fn tokens(sql: &str) -> String {
    let mut out = String::new();
    let mut word = false;
    for c in sql.chars() {
        if c.is_whitespace() {
            word = false;
            continue;
        }
        let in_word = c.is_alphanumeric() || c == '_';
        // A space between tokens, none inside a word.
        let continues_word = in_word && word;
        if !out.is_empty() && !continues_word {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
        word = in_word;
    }
    out
}

/// Checks, before anything is read, that the schema is still aecl's where it is read: each
/// of aecl's tables that exists is an ordinary table (not a view, which a reader would run:
/// a recursive one never ends; nor a virtual table), the audit log's tables are as the
/// migrations made them, column for column, and the database has no trigger (aecl's schema
/// has none; one would run its own statements inside aecl's writes). One read of
/// `sqlite_master`, however large the database.
pub(crate) fn check_shape(conn: &Connection) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare("SELECT type, name, COALESCE(sql, '') FROM sqlite_master").map_err(backend)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })
        .map_err(backend)?;
    for row in rows {
        let (kind, name, sql) = row.map_err(backend)?;
        let ours = crate::TABLES.iter().any(|table| table.eq_ignore_ascii_case(&name));
        let virtual_table = sql
            .trim_start()
            .get(..20)
            .is_some_and(|start| start.eq_ignore_ascii_case("CREATE VIRTUAL TABLE"));
        let remade = AUDIT_TABLES
            .iter()
            .any(|(table, made)| table.eq_ignore_ascii_case(&name) && tokens(&sql) != *made);
        let why = match kind.as_str() {
            "trigger" => Some(format!("it has a trigger, `{name}`, which aecl's schema never has")),
            "table" if ours && virtual_table => Some(format!("`{name}` is a virtual table")),
            "table" if remade => {
                Some(format!("`{name}` is not the table aecl made (its columns or keys differ)"))
            }
            "table" | "index" => None,
            other if ours => Some(format!("`{name}` is a {other}, not a table")),
            _ => None,
        };
        if let Some(why) = why {
            return Err(StoreError::Corrupt(format!(
                "the database's schema was changed outside aecl: {why}; nothing is read from \
                 it (restore the database from a copy you trust)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_aecl_s_only_as_the_migration_spelled_it() {
        let made = "CREATE TABLE audit_log (\n    seq INTEGER PRIMARY KEY,\n    record BLOB NOT \
                    NULL,\n    chain_hash BLOB NOT NULL\n)";
        assert_eq!(tokens(made), AUDIT_TABLES[0].1);
        for remade in [
            "CREATE TABLE audit_log (seq INTEGER PRIMARYKEY, record BLOBNOT NULL, chain_hash BLOB \
             NOT NULL)",
            "CREATE TABLE audit_log (seq, record, chain_hash)",
            "CREATE TABLE \"audit_log\" (seq INTEGER PRIMARY KEY, record BLOB NOT NULL, \
             chain_hash BLOB NOT NULL)",
            "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, record BLOB NOT NULL, chain_hash \
             BLOB NOT NULL, x)",
            "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY /* */, record BLOB NOT NULL, \
             chain_hash BLOB NOT NULL)",
        ] {
            assert_ne!(tokens(remade), AUDIT_TABLES[0].1, "{remade}");
        }
    }
}
