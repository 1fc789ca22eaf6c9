//! Whether writing a table makes the database write on its own: rows the undo record would
//! not hold, so that a rollback would answer `restored` over lost data.
//!
//! The undo keeps only the target table's affected rows. A trigger on it (any trigger: its
//! writes stay after the rollback, and the undo's own write fires it again), a foreign key
//! of another table whose action writes (`CASCADE`, `SET NULL`, `SET DEFAULT`), an
//! `ON CONFLICT REPLACE` constraint (which deletes the conflicting row silently), a rule
//! (PostgreSQL), a view or a virtual table: each makes writes the statement's `RETURNING`
//! does not show. Such a table is refused for a reversible write before the statement
//! runs, and again before an undo runs (the schema may have changed since).
//!
//! The checks are fail-closed: a table the catalog does not describe plainly (no `CREATE`
//! text, a definition that does not tokenize, a foreign key to a table without a key) is
//! refused. As a second line, the write's transaction compares the rows the database says
//! changed with the rows the statement returned (`total_changes()` on SQLite, the
//! transaction's table statistics on PostgreSQL) and rolls back on a difference.

use rusqlite::Connection;
use sqlparser::dialect::SQLiteDialect;
use sqlparser::tokenizer::{Token, Tokenizer};
use tokio_postgres::Transaction;

use super::statement::{WriteKind, quote};

/// What a statement (or an undo) does to the target table: what decides which foreign-key
/// actions can fire.
#[derive(Debug, Clone, Copy)]
pub(super) struct Touch<'a> {
    pub(super) kind: WriteKind,
    /// The columns an `UPDATE` assigns.
    pub(super) assigned: &'a [String],
}

/// The write an undo makes: the inverse of the statement's.
pub(super) fn undo_of(kind: WriteKind) -> WriteKind {
    match kind {
        WriteKind::Delete => WriteKind::Insert,
        WriteKind::Insert => WriteKind::Delete,
        WriteKind::Update => WriteKind::Update,
    }
}

/// Whether a foreign-key action, as SQLite spells it or as PostgreSQL's one-letter code,
/// writes rows of the referencing table. Anything not known to be passive counts as writing.
fn action_writes(action: &str) -> bool {
    !matches!(action.trim().to_ascii_uppercase().as_str(), "NO ACTION" | "RESTRICT" | "A" | "R")
}

/// Whether a foreign key's actions fire for `touch` or for its undo, the key referencing
/// `referenced` columns of the target (an empty list: unknown, so assumed to fire).
fn fires(touch: Touch<'_>, on_delete: &str, on_update: &str, referenced: &[String]) -> bool {
    match touch.kind {
        // An insert changes no referencing row, but its undo is a delete: a row that
        // references the inserted one by then would be deleted with it.
        WriteKind::Insert | WriteKind::Delete => action_writes(on_delete),
        // `ON UPDATE` fires only when a referenced column changes, and a column the
        // statement does not assign does not change.
        WriteKind::Update => {
            action_writes(on_update)
                && (referenced.is_empty()
                    || touch
                        .assigned
                        .iter()
                        .any(|a| referenced.iter().any(|r| r.eq_ignore_ascii_case(a))))
        }
    }
}

/// SQLite: why writing `schema.table` would make writes the undo cannot see, if it would.
pub(super) fn sqlite(
    conn: &Connection,
    schema: Option<&str>,
    table: &str,
    touch: Touch<'_>,
) -> Result<Option<String>, String> {
    let schema = schema.unwrap_or("main");
    let master = format!("{}.sqlite_master", quote(schema));
    let text = |sql: &str, params: &[&str]| -> Result<Vec<Vec<Option<String>>>, String> {
        let mut stmt = conn.prepare(sql).map_err(|e| format!("sql: {e}"))?;
        let width = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| format!("sql: {e}"))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| format!("sql: {e}"))? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(row.get::<_, Option<String>>(i).map_err(|e| format!("sql: {e}"))?);
            }
            out.push(cells);
        }
        Ok(out)
    };

    // The table itself: one ordinary table whose definition can be read.
    let defined = text(
        &format!(
            "SELECT type, sql FROM {master} WHERE name = ?1 COLLATE NOCASE \
             AND type IN ('table', 'view')"
        ),
        &[table],
    )?;
    let definition = match defined.as_slice() {
        [row] => match row.as_slice() {
            [Some(kind), Some(sql)] if kind == "table" => sql.clone(),
            [Some(kind), _] if kind == "view" => {
                return Ok(Some(format!("`{table}` is a view: its writes go elsewhere")));
            }
            _ => return Ok(Some(format!("the definition of `{table}` cannot be read"))),
        },
        _ => return Ok(Some(format!("`{table}` is not one table of `{schema}`"))),
    };
    let words = sqlite_words(&definition)
        .map_err(|e| format!("the definition of `{table}` cannot be checked: {e}"))?;
    if words.starts_with(&["CREATE".to_owned(), "VIRTUAL".to_owned()]) {
        return Ok(Some(format!("`{table}` is a virtual table: its module writes elsewhere")));
    }
    if has_on_conflict_replace(&words) {
        return Ok(Some(format!(
            "`{table}` has an ON CONFLICT REPLACE constraint, which deletes conflicting rows \
             the statement does not return"
        )));
    }

    // Triggers on it: in its own schema, and TEMP triggers, which may be on any schema's
    // table.
    for triggers in [master.as_str(), "temp.sqlite_master"] {
        let found = text(
            &format!(
                "SELECT name FROM {triggers} \
                 WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE"
            ),
            &[table],
        )?;
        if let Some(name) = found.first().and_then(|r| r.first()) {
            let name = name.as_deref().unwrap_or("?");
            return Ok(Some(format!(
                "`{table}` has trigger `{name}`, whose writes the undo would not restore"
            )));
        }
    }

    // Foreign keys of every table of the schema (itself included) that reference it.
    let parent_key: Vec<String> = text(
        "SELECT name FROM pragma_table_info(?1, ?2) WHERE pk > 0 ORDER BY pk",
        &[table, schema],
    )?
    .into_iter()
    .filter_map(|r| r.into_iter().next().flatten())
    .collect();
    let children = text(&format!("SELECT name FROM {master} WHERE type = 'table'"), &[])?;
    for child in children.into_iter().filter_map(|r| r.into_iter().next().flatten()) {
        let keys = text(
            "SELECT \"table\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1, ?2)",
            &[&child, schema],
        )?;
        for key in keys {
            let [Some(parent), to, on_update, on_delete] = key.as_slice() else {
                return Ok(Some(format!("a foreign key of `{child}` cannot be read")));
            };
            if !parent.eq_ignore_ascii_case(table) {
                continue;
            }
            // No `to`: the key references the parent's primary key.
            let referenced = match to {
                Some(column) => vec![column.clone()],
                None => parent_key.clone(),
            };
            let (on_update, on_delete) =
                (on_update.as_deref().unwrap_or(""), on_delete.as_deref().unwrap_or(""));
            if fires(touch, on_delete, on_update, &referenced) {
                return Ok(Some(format!(
                    "table `{child}` references `{table}` with a foreign key whose action \
                     (ON DELETE {on_delete}, ON UPDATE {on_update}) writes its rows"
                )));
            }
        }
    }
    Ok(None)
}

fn has_on_conflict_replace(words: &[String]) -> bool {
    words.windows(3).any(|w| {
        matches!(w, [on, conflict, replace]
            if on == "ON" && conflict == "CONFLICT" && replace == "REPLACE")
    })
}

/// The words of a definition, upper-cased, without whitespace and comments (so that
/// `ON /* */ CONFLICT  REPLACE` is seen as the three words it is). Quoted names and
/// strings are tokens of their own, never mistaken for keywords.
fn sqlite_words(sql: &str) -> Result<Vec<String>, String> {
    let tokens = Tokenizer::new(&SQLiteDialect {}, sql).tokenize().map_err(|e| e.to_string())?;
    Ok(tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .map(|t| match t {
            Token::Word(word) if word.quote_style.is_none() => word.value.to_ascii_uppercase(),
            // Any other token, quoted words included, is never one of the keywords.
            other => format!("\u{0}{other}"),
        })
        .collect())
}

/// The target table and, recursively, the tables that inherit from it (partitions and
/// children): a write to the parent writes them too, and fires their triggers.
const PG_TREE: &str = "WITH RECURSIVE tree(oid) AS (
    SELECT $1::text::regclass::oid
    UNION
    SELECT i.inhrelid FROM pg_inherits AS i JOIN tree ON i.inhparent = tree.oid
)";

/// PostgreSQL: why writing `table` would make writes the undo cannot see, if it would. The
/// caller holds the table's `ROW EXCLUSIVE` lock, which keeps `CREATE TRIGGER`, `CREATE
/// RULE` and a new foreign key to it from committing until its transaction ends.
pub(super) async fn postgres(
    tx: &Transaction<'_>,
    table: &str,
    touch: Touch<'_>,
) -> Result<Option<String>, String> {
    let first = |sql: String| async move {
        let rows = tx.query(&sql, &[&table]).await.map_err(|e| super::postgres::sql_error(&e))?;
        let row = match rows.first() {
            Some(row) => row,
            None => return Ok(None),
        };
        let mut cells = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            cells.push(
                row.try_get::<_, Option<String>>(i).map_err(|e| super::postgres::sql_error(&e))?,
            );
        }
        Ok::<_, String>(Some(cells))
    };

    let kind = first("SELECT relkind::text FROM pg_class WHERE oid = $1::text::regclass".into())
        .await?
        .and_then(|r| r.into_iter().next().flatten());
    if !matches!(kind.as_deref(), Some("r" | "p")) {
        return Ok(Some(format!(
            "`{table}` is not an ordinary or partitioned table (a view or a foreign table \
             writes elsewhere)"
        )));
    }
    // Legacy inheritance: a child's own columns are deleted with the parent's rows and
    // would not come back through the parent.
    if let Some(row) = first(format!(
        "{PG_TREE} SELECT c.oid::regclass::text FROM tree JOIN pg_class AS c ON c.oid = tree.oid
         WHERE c.oid <> $1::text::regclass AND NOT c.relispartition LIMIT 1"
    ))
    .await?
    {
        let child = row.into_iter().next().flatten().unwrap_or_default();
        return Ok(Some(format!("table `{child}` inherits from `{table}`")));
    }
    // Any trigger that is not a foreign key's own (those are `tgisinternal`, judged below by
    // the key's action), enabled or not, on the table or a partition.
    if let Some(row) = first(format!(
        "{PG_TREE} SELECT t.tgname::text, t.tgrelid::regclass::text FROM pg_trigger AS t
         WHERE t.tgrelid IN (SELECT oid FROM tree) AND NOT t.tgisinternal LIMIT 1"
    ))
    .await?
    {
        let name = row.first().cloned().flatten().unwrap_or_default();
        let on = row.get(1).cloned().flatten().unwrap_or_default();
        return Ok(Some(format!(
            "`{on}` has trigger `{name}`, whose writes the undo would not restore"
        )));
    }
    // Rules (`pg_rules` is `pg_rewrite` without the views' `_RETURN`).
    if let Some(row) = first(format!(
        "{PG_TREE} SELECT r.rulename::text FROM pg_rewrite AS r
         WHERE r.ev_class IN (SELECT oid FROM tree) AND r.rulename <> '_RETURN' LIMIT 1"
    ))
    .await?
    {
        let name = row.into_iter().next().flatten().unwrap_or_default();
        return Ok(Some(format!("`{table}` has rule `{name}`, which rewrites its writes")));
    }
    let keys = tx
        .query(
            &format!(
                "{PG_TREE} SELECT c.conname::text, c.conrelid::regclass::text,
                    c.confdeltype::text, c.confupdtype::text,
                    ARRAY(SELECT a.attname::text FROM pg_attribute AS a
                          WHERE a.attrelid = c.confrelid AND a.attnum = ANY(c.confkey))
                 FROM pg_constraint AS c
                 WHERE c.contype = 'f' AND c.confrelid IN (SELECT oid FROM tree)"
            ),
            &[&table],
        )
        .await
        .map_err(|e| super::postgres::sql_error(&e))?;
    for key in keys {
        let get = |i: usize| -> Result<String, String> {
            key.try_get::<_, Option<String>>(i)
                .map(Option::unwrap_or_default)
                .map_err(|e| super::postgres::sql_error(&e))
        };
        let (name, child, on_delete, on_update) = (get(0)?, get(1)?, get(2)?, get(3)?);
        let referenced: Vec<String> = key
            .try_get::<_, Option<Vec<String>>>(4)
            .map_err(|e| super::postgres::sql_error(&e))?
            .unwrap_or_default();
        if fires(touch, &on_delete, &on_update, &referenced) {
            return Ok(Some(format!(
                "foreign key `{name}` of `{child}` references `{table}` with an action that \
                 writes its rows"
            )));
        }
    }
    Ok(None)
}

/// PostgreSQL: the rows this transaction has inserted, updated and deleted so far, from
/// the transaction's table statistics (`pg_stat_xact_user_tables`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counts {
    /// In the target table and its partitions.
    target: i64,
    /// In every other user table.
    others: i64,
    /// The target is partitioned: moving a row between partitions counts twice.
    partitioned: bool,
}

/// The [`Counts`] of this transaction so far; `None` when the server keeps none
/// (`track_counts = off`), and the comparison is then skipped.
pub(super) async fn postgres_counts(
    tx: &Transaction<'_>,
    table: &str,
) -> Result<Option<Counts>, String> {
    let row = tx
        .query_one(
            &format!(
                "{PG_TREE} SELECT current_setting('track_counts')::bool,
                    coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del)
                             FILTER (WHERE s.relid IN (SELECT oid FROM tree)), 0)::int8,
                    coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del)
                             FILTER (WHERE s.relid NOT IN (SELECT oid FROM tree)), 0)::int8,
                    (SELECT relkind = 'p' FROM pg_class WHERE oid = $1::text::regclass)
                 FROM pg_stat_xact_user_tables AS s"
            ),
            &[&table],
        )
        .await
        .map_err(|e| super::postgres::sql_error(&e))?;
    let error = |e: tokio_postgres::Error| super::postgres::sql_error(&e);
    if !row.try_get::<_, bool>(0).map_err(error)? {
        return Ok(None);
    }
    Ok(Some(Counts {
        target: row.try_get(1).map_err(error)?,
        others: row.try_get(2).map_err(error)?,
        partitioned: row.try_get::<_, Option<bool>>(3).map_err(error)?.unwrap_or(true),
    }))
}

/// Compares the [`Counts`] around a write that changed `rows` rows of the target: a
/// difference means something else wrote (a function called by the statement, a trigger,
/// a rule), and the transaction must roll back.
pub(super) fn postgres_counts_differ(
    before: Option<Counts>,
    after: Option<Counts>,
    rows: usize,
) -> Option<String> {
    let (before, after) = (before?, after?);
    let others = after.others - before.others;
    if others != 0 {
        return Some(format!("the statement also changed {others} rows of other tables"));
    }
    let target = after.target - before.target;
    if !after.partitioned && usize::try_from(target).ok() != Some(rows) {
        return Some(format!(
            "the table's statistics count {target} changed rows where the statement returned \
             {rows}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_conflict_replace_is_found_through_comments_and_case_but_not_in_names_or_strings() {
        let has = |sql: &str| has_on_conflict_replace(&sqlite_words(sql).unwrap());
        assert!(has("CREATE TABLE kv (k TEXT PRIMARY KEY ON CONFLICT REPLACE, v TEXT)"));
        assert!(has("CREATE TABLE kv (k TEXT, v TEXT NOT NULL on /* x */ conflict\nreplace)"));
        assert!(has("CREATE TABLE kv (k TEXT, v TEXT, UNIQUE (k) ON CONFLICT REPLACE)"));
        assert!(!has("CREATE TABLE kv (k TEXT PRIMARY KEY ON CONFLICT ABORT, v TEXT)"));
        assert!(!has("CREATE TABLE kv (k TEXT DEFAULT 'ON CONFLICT REPLACE')"));
        assert!(!has("CREATE TABLE kv (\"on\" TEXT, \"conflict\" TEXT, \"replace\" TEXT)"));
    }

    #[test]
    fn foreign_key_actions_fire_only_for_what_the_write_touches() {
        let assigned = ["name".to_owned()];
        let delete = Touch { kind: WriteKind::Delete, assigned: &[] };
        let insert = Touch { kind: WriteKind::Insert, assigned: &[] };
        let update = Touch { kind: WriteKind::Update, assigned: &assigned };
        let id = ["id".to_owned()];
        let name = ["NAME".to_owned()];
        assert!(fires(delete, "CASCADE", "NO ACTION", &id));
        assert!(fires(delete, "SET NULL", "NO ACTION", &id));
        assert!(fires(delete, "d", "a", &id));
        assert!(fires(delete, "SOMETHING NEW", "NO ACTION", &id), "unknown actions write");
        assert!(!fires(delete, "RESTRICT", "CASCADE", &id));
        assert!(!fires(delete, "a", "c", &id));
        assert!(fires(insert, "CASCADE", "NO ACTION", &id), "its undo deletes");
        assert!(!fires(insert, "RESTRICT", "CASCADE", &id));
        assert!(!fires(update, "CASCADE", "CASCADE", &id), "`id` is not assigned");
        assert!(fires(update, "NO ACTION", "CASCADE", &name));
        assert!(fires(update, "NO ACTION", "SET DEFAULT", &[]), "unknown columns");
        assert!(!fires(update, "CASCADE", "NO ACTION", &name));
    }

    #[test]
    fn statistics_differing_from_the_returned_rows_refuse() {
        let counts = |target, others, partitioned| Some(Counts { target, others, partitioned });
        let differ = postgres_counts_differ;
        assert_eq!(differ(counts(0, 0, false), counts(2, 0, false), 2), None);
        assert!(differ(counts(0, 5, false), counts(2, 6, false), 2).is_some());
        assert!(differ(counts(0, 0, false), counts(3, 0, false), 2).is_some());
        assert_eq!(differ(counts(0, 0, true), counts(4, 0, true), 2), None);
        assert!(differ(counts(0, 0, true), counts(4, 1, true), 2).is_some());
        assert_eq!(differ(None, None, 2), None);
    }
}
