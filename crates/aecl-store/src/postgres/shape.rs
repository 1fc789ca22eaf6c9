//! The PostgreSQL schema, where the audit log is written and read, as aecl's migrations
//! left it: its tables ordinary tables, no trigger and no rule on them, and the functions
//! that append the log the migrations' own text, one of each name.
//!
//! Whoever may change the schema can make the database lie to a committer that trusts it:
//! a function that answers "appended" and writes nothing, a trigger that drops the rows,
//! a view in a table's place (red team of stop 53). Such a database is refused at start,
//! by `aecl audit verify`, and by a running committer, which looks again once a second (a
//! lie found is sticky, `log_end.rs`). SQLite's store makes the same check
//! (`sqlite/schema.rs::check_shape`).

use aecl_engine::StoreError;
use sqlx::{PgConnection, Row};

use crate::backend;

/// The functions a committer calls, with the migration that defines each.
const FUNCTIONS: &[(&str, &str)] = &[
    ("aecl_append_audit_at_end", include_str!("migrations/010_append_audit_at_end.sql")),
    ("aecl_append_audit_signed_end", include_str!("migrations/011_append_audit_signed_end.sql")),
];

/// The body of the function a migration defines: its text between the dollar quotes, as
/// PostgreSQL keeps it (`pg_proc.prosrc`).
fn body(migration: &str) -> Option<&str> {
    let start = migration.find("$$")? + 2;
    let end = migration.rfind("$$")?;
    migration.get(start..end)
}

/// Refuses a schema changed outside aecl where the audit log is written (`problem`).
pub(crate) async fn check_shape(conn: &mut PgConnection) -> Result<(), StoreError> {
    match problem(conn).await.map_err(backend)? {
        Some(problem) => Err(StoreError::Backend(problem)),
        None => Ok(()),
    }
}

/// What is wrong with the schema where the audit log is written, if anything, in one
/// statement over the catalogs of the current schema.
pub(crate) async fn problem(conn: &mut PgConnection) -> Result<Option<String>, sqlx::Error> {
    let names: Vec<&str> = FUNCTIONS.iter().map(|(name, _)| *name).collect();
    // The tables aecl's statements reach are those its unqualified names resolve to (the
    // search path may lead elsewhere than `current_schema()`), all in one schema, logged,
    // ordinary, without triggers or rules; the functions of its names, in any schema, one
    // each, as the migrations wrote them, with no settings of their own (a `search_path`
    // of the function's would send its statements to other tables) and not run as their
    // owner.
    let row = sqlx::query(
        "WITH ours AS (
           SELECT c.* FROM unnest($1::text[]) AS n(name)
             JOIN pg_class c ON c.oid = to_regclass(quote_ident(n.name)))
         SELECT
           (SELECT string_agg(c.relname || ' (' || t.tgname || ')', ', ')
              FROM pg_trigger t JOIN ours c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal),
           (SELECT string_agg(c.relname || ' (' || r.rulename || ')', ', ')
              FROM pg_rewrite r JOIN ours c ON c.oid = r.ev_class WHERE c.relkind = 'r'),
           (SELECT string_agg(c.relname, ', ') FROM ours c
             WHERE c.relkind <> 'r' OR c.relpersistence <> 'p'),
           (SELECT array_agg(p.proname || E'\\n' || p.prosrc ORDER BY p.proname)
              FROM pg_proc p
             WHERE p.proname = ANY($2) AND p.proconfig IS NULL AND NOT p.prosecdef),
           (SELECT count(DISTINCT c.relnamespace) FROM ours c)",
    )
    .bind(crate::TABLES)
    .bind(&names)
    .fetch_one(conn)
    .await?;
    let refused = |what: String| {
        Ok(Some(format!(
            "the audit log's schema was changed outside aecl: {what}; aecl's tables carry no \
             trigger or rule and its functions are its migrations' (drop what was added, or \
             restore the database, and check the log with `aecl audit verify`)"
        )))
    };
    if let Some(triggers) = row.try_get::<Option<String>, _>(0)? {
        return refused(format!("triggers on {triggers}"));
    }
    if let Some(rules) = row.try_get::<Option<String>, _>(1)? {
        return refused(format!("rules on {rules}"));
    }
    if let Some(others) = row.try_get::<Option<String>, _>(2)? {
        return refused(format!("{others} no longer ordinary, logged tables"));
    }
    if row.try_get::<Option<i64>, _>(4)?.unwrap_or(0) > 1 {
        return refused("aecl's tables are found in more than one schema".to_owned());
    }
    let defined: Vec<String> = row.try_get::<Option<Vec<String>>, _>(3)?.unwrap_or_default();
    for (name, migration) in FUNCTIONS {
        let found: Vec<&str> = defined
            .iter()
            .filter_map(|d| d.split_once('\n'))
            .filter(|(n, _)| n == name)
            .map(|(_, source)| source)
            .collect();
        match found.as_slice() {
            [source] if Some(*source) == body(migration) => {}
            [] => {
                return refused(format!("function {name} is missing or has settings of its own"));
            }
            [_] => return refused(format!("function {name} was replaced")),
            _ => return refused(format!("{} functions are named {name}", found.len())),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::{FUNCTIONS, body};

    #[test]
    fn every_function_body_is_found_in_its_migration() {
        for (name, migration) in FUNCTIONS {
            let body = body(migration).unwrap_or_default();
            assert!(body.contains("BEGIN") && body.trim_end().ends_with("END"), "{name}: {body}");
        }
    }
}
