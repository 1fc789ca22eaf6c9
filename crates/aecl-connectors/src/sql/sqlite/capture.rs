//! The capture of a SQLite write's rows, within the undo record's bounds (`bound.rs`).
//!
//! The rows a `DELETE` or `UPDATE` would change are counted and measured (`octet_length`)
//! before anything runs, and only then read, one by one by key; the statement returns only
//! the key and size of each row it changed, and those rows are read by key once they are
//! known to fit. The record is written straight from the rows captured, through a writer
//! that stops at the bound.

use base64::Engine as _;
use rusqlite::types::Value as Cell;
use rusqlite::{Connection, TransactionBehavior, params_from_iter};
use serde::Serialize;
use serde_json::json;

use super::{Executed, Shape, UNDO_DDL, key_text};
use crate::sql::bound::{Stage, Tally, UndoBounds, record_text};
use crate::sql::implicit::{self, Touch};
use crate::sql::statement::{UNDO_TABLE, Write, WriteKind};
use crate::sql::{UndoRecord, UndoToken, token_for};

/// A cell serialised as its [`Stored`] form, without a copy of the row (only a blob's base64
/// is made, one at a time): the record is written straight from the rows captured.
struct StoredRef<'a>(&'a Cell);

impl Serialize for StoredRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const NAME: &str = "Stored";
        match self.0 {
            Cell::Null => serializer.serialize_unit_variant(NAME, 0, "null"),
            Cell::Integer(i) => serializer.serialize_newtype_variant(NAME, 1, "integer", i),
            Cell::Real(r) => serializer.serialize_newtype_variant(NAME, 2, "real", r),
            Cell::Text(t) => serializer.serialize_newtype_variant(NAME, 3, "text", t),
            Cell::Blob(b) => {
                let text = base64::engine::general_purpose::STANDARD.encode(b);
                serializer.serialize_newtype_variant(NAME, 4, "blob", &text)
            }
        }
    }
}

fn stored_refs(rows: &[Vec<Cell>]) -> Vec<Vec<StoredRef<'_>>> {
    rows.iter().map(|r| r.iter().map(StoredRef).collect()).collect()
}

/// The key and size of each row `sql` returns (the key columns, then the size), at most
/// `limit` of them and one more: past that, the caller refuses, and reads no further.
fn keys_and_sizes(
    conn: &Connection,
    sql: &str,
    shape: &Shape,
    limit: usize,
) -> Result<Vec<(Vec<Cell>, u64)>, String> {
    let mut stmt = conn.prepare(sql).map_err(|e| format!("sql: {e}"))?;
    let mut rows = stmt.query([]).map_err(|e| format!("sql: {e}"))?;
    let n_key = shape.key.len();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| format!("sql: {e}"))? {
        let mut key = Vec::with_capacity(n_key);
        for i in 0..n_key {
            key.push(super::cell_of(row, i, super::Text::Exact)?);
        }
        // SQLite lets a primary key that is not an `INTEGER PRIMARY KEY` hold `NULL`s (in a
        // table that is not `STRICT`), as many as there are rows: such a key names no one
        // row, and an undo keyed by it rewrote every row holding a `NULL` there (red team
        // round 27, escape E1). The transaction is rolled back by the caller.
        if key.iter().any(|cell| matches!(cell, Cell::Null)) {
            return Err(format!(
                "not_undoable: a row it touches has a NULL in its primary key ({}), which names \
                 no one row to restore; nothing was changed",
                shape.key.join(", ")
            ));
        }
        let size: i64 = row.get(n_key).map_err(|e| format!("sql: {e}"))?;
        out.push((key, u64::try_from(size).unwrap_or(0)));
        if out.len() > limit {
            break;
        }
    }
    Ok(out)
}

/// The rows of `table` with the keys `keys`, in that order (each must be there).
fn by_key(
    conn: &Connection,
    table: &str,
    shape: &Shape,
    keys: &[Vec<Cell>],
) -> Result<Vec<Vec<Cell>>, String> {
    let sql =
        format!("SELECT {} FROM {table} WHERE {}", shape.select_list(), shape.key_condition(1));
    let mut stmt = conn.prepare(&sql).map_err(|e| format!("sql: {e}"))?;
    let width = stmt.column_count();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let mut rows = stmt.query(params_from_iter(key.iter())).map_err(|e| format!("sql: {e}"))?;
        let Some(row) = rows.next().map_err(|e| format!("sql: {e}"))? else {
            return Err(format!(
                "sql: the row of `{table}` with key {} is gone while being captured",
                key_text(shape, key)
            ));
        };
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(super::cell_of(row, i, super::Text::Exact)?);
        }
        out.push(cells);
    }
    Ok(out)
}

fn same_keys(a: &[Vec<Cell>], b: &[Vec<Cell>]) -> bool {
    a.len() == b.len() && a.iter().all(|k| b.contains(k))
}

pub(super) fn capture_and_write(
    conn: &mut Connection,
    write: &Write,
    effect_id: &str,
    bounds: UndoBounds,
) -> Executed {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| format!("sql: {e}"))?;
    tx.execute_batch(UNDO_DDL).map_err(|e| format!("creating `{UNDO_TABLE}`: {e}"))?;
    let shape = Shape::of(&tx, write)?;
    if let Some(column) =
        write.assigned.iter().find(|a| shape.key.iter().any(|k| k.eq_ignore_ascii_case(a)))
    {
        return Err(format!(
            "not_undoable: the UPDATE assigns key column `{column}`; nothing was executed"
        ));
    }
    let touch = Touch { kind: write.kind, assigned: &write.assigned };
    if let Some(why) = implicit::sqlite(&tx, write.schema.as_deref(), &write.name, touch)? {
        return Err(format!("not_undoable: {why}; nothing was executed"));
    }
    let (pre, post) = run_and_capture(&tx, write, &shape, bounds)?;
    let affected = pre.len().max(post.len());
    let record = UndoRecord {
        kind: write.kind,
        table: write.table.clone(),
        columns: shape.columns.clone(),
        key: shape.key.clone(),
        pre: stored_refs(&pre),
        post: stored_refs(&post),
    };
    // The transaction is dropped unfinished on a refusal: rolled back.
    let record = record_text(&record, bounds)?;
    let token = token_for(effect_id, &record);
    let digest: UndoToken = serde_json::from_str(&token).map_err(|e| e.to_string())?;
    // INVARIANT: the pre-image is written in the transaction that makes the change.
    tx.execute(
        "INSERT INTO aecl_undo (id, record, sha256) VALUES (?1, ?2, ?3)",
        [effect_id, &record, &digest.sha256],
    )
    .map_err(|e| format!("recording the undo: {e}"))?;
    tx.commit().map_err(|e| format!("sql: commit: {e}"))?;
    Ok((json!({ "rows_affected": affected }), Some(token)))
}

/// Runs the write in `tx` and captures the rows it changed (before, after), within
/// `bounds`. Every row the database changes meanwhile is counted (`total_changes()`,
/// triggers' and foreign-key actions' writes included): they must be the rows the statement
/// returned, else the caller's transaction is to be rolled back.
fn run_and_capture(
    tx: &Connection,
    write: &Write,
    shape: &Shape,
    bounds: UndoBounds,
) -> Result<Captured, String> {
    let mut tally = Tally::new(bounds);
    let (table, keys, size) = (&write.table, shape.key_list(), shape.row_size());
    // The rows a DELETE or UPDATE would change are counted and measured before anything
    // runs, and only then read, by key. In this transaction (`BEGIN IMMEDIATE`: no other
    // writer) they are the rows the statement changes, as the key comparison below checks
    // (a WHERE calling `random()` could choose others).
    let pre_keys = match write.kind {
        WriteKind::Insert => Vec::new(),
        WriteKind::Delete | WriteKind::Update => {
            let selection = write.selection.as_deref().unwrap_or("1");
            let measure = format!("SELECT {keys}, {size} FROM {table} WHERE {selection}");
            let measured = keys_and_sizes(tx, &measure, shape, bounds.rows)?;
            tally.rows(measured.len(), Stage::Before)?;
            for (_, bytes) in &measured {
                tally.bytes(*bytes, Stage::Before)?;
            }
            measured.into_iter().map(|(key, _)| key).collect()
        }
    };
    let pre = by_key(tx, table, shape, &pre_keys)?;
    let changes_before = tx.total_changes();
    // The statement returns the key and size of each row it changed, not the row: a row too
    // large for the record is never read.
    let returning = format!("{} RETURNING {keys}, {size}", write.text);
    let changed = keys_and_sizes(tx, &returning, shape, bounds.rows)?;
    tally.rows(changed.len(), Stage::After)?;
    if write.kind != WriteKind::Delete {
        for (_, bytes) in &changed {
            tally.bytes(*bytes, Stage::After)?;
        }
    }
    let changed_keys: Vec<Vec<Cell>> = changed.into_iter().map(|(key, _)| key).collect();
    if write.kind != WriteKind::Insert && !same_keys(&pre_keys, &changed_keys) {
        return Err(format!(
            "not_undoable: the rows the {} changed are not the rows its WHERE selected; it was \
             rolled back",
            if write.kind == WriteKind::Delete { "DELETE" } else { "UPDATE" }
        ));
    }
    let post = match write.kind {
        WriteKind::Delete => Vec::new(),
        WriteKind::Update | WriteKind::Insert => by_key(tx, table, shape, &changed_keys)?,
    };
    let affected = changed_keys.len();
    let changed = tx.total_changes().saturating_sub(changes_before);
    if usize::try_from(changed).ok() != Some(affected) {
        return Err(format!(
            "not_undoable: the database changed {changed} rows where the statement returned \
             {affected} (a trigger or a foreign-key action wrote elsewhere); it was rolled back"
        ));
    }
    Ok((pre, post))
}

/// The rows a write changed: before (`DELETE`, `UPDATE`) and after (`UPDATE`, `INSERT`).
type Captured = (Vec<Vec<Cell>>, Vec<Vec<Cell>>);

#[cfg(test)]
mod tests {
    use super::super::Stored;
    use super::*;
    use crate::sql::statement::{Backend, Plan};

    /// The second line of defence, on its own: a trigger the catalog checks would have
    /// refused is caught by the count of changed rows, and the write is refused.
    #[test]
    fn a_write_that_changes_more_rows_than_it_returns_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER);
             CREATE TABLE audit (line TEXT);
             CREATE TRIGGER log AFTER UPDATE ON orders BEGIN INSERT INTO audit VALUES ('x'); END;
             INSERT INTO orders VALUES (1, 10), (2, 20);",
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        let sql = "UPDATE orders SET amount = 5 WHERE id = 1";
        let error = capture(&tx, sql).unwrap_err();
        assert!(error.contains("changed 2 rows where the statement returned 1"), "{error}");

        // Without the trigger, the same write is captured.
        tx.execute_batch("DROP TRIGGER log").unwrap();
        let (pre, post) = capture(&tx, sql).unwrap();
        assert_eq!((pre.len(), post.len()), (1, 1));
    }

    /// `sql` (a write) run in `tx` with its rows captured, as a reversible action runs.
    fn capture(tx: &Connection, sql: &str) -> Result<Captured, String> {
        let plan = crate::sql::statement::plan(Backend::Sqlite, sql).unwrap();
        let Plan::Write(write) = plan else { panic!("not a write") };
        let shape = Shape::of(tx, &write).unwrap();
        run_and_capture(tx, &write, &shape, UndoBounds { rows: 10, bytes: 1 << 20 })
    }

    /// Text that is not UTF-8 (SQLite keeps what it is given) is read with U+FFFD in its
    /// place, and a reversible write of its row is refused before it changes anything: its
    /// undo could not give the bytes back (red team round 24, escape E1: rusqlite's own
    /// conversion panicked in both).
    #[test]
    fn text_that_is_not_utf8_is_read_lossily_and_refuses_a_reversible_write() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, role TEXT);
             INSERT INTO users VALUES (1, CAST(X'FF41' AS TEXT), 'user');",
        )
        .unwrap();
        let read: Vec<Cell> = conn
            .query_row("SELECT name, role FROM users", [], |row| {
                Ok(vec![
                    super::super::cell_of(row, 0, super::super::Text::Lossy).unwrap(),
                    super::super::cell_of(row, 1, super::super::Text::Exact).unwrap(),
                ])
            })
            .unwrap();
        assert_eq!(read, vec![Cell::Text("\u{FFFD}A".into()), Cell::Text("user".into())]);
        let exact = conn
            .query_row("SELECT name FROM users", [], |row| {
                Ok(super::super::cell_of(row, 0, super::super::Text::Exact))
            })
            .unwrap();
        assert!(exact.unwrap_err().contains("column name holds text that is not UTF-8"));

        let tx = conn.transaction().unwrap();
        let error = capture(&tx, "UPDATE users SET role = 'admin' WHERE id = 1").unwrap_err();
        assert!(error.contains("not UTF-8"), "{error}");
    }

    /// The record is written from the rows as [`Stored`] would write it, and read back so.
    #[test]
    fn cells_are_written_as_their_stored_form() {
        let cells = [
            Cell::Null,
            Cell::Integer(-7),
            Cell::Real(0.5),
            Cell::Text("a\u{0}\"b".into()),
            Cell::Blob(vec![0, 255]),
        ];
        let by_ref: Vec<StoredRef<'_>> = cells.iter().map(StoredRef).collect();
        let stored: Vec<Stored> = cells.iter().map(Stored::of).collect();
        let text = serde_json::to_string(&by_ref).unwrap();
        assert_eq!(text, serde_json::to_string(&stored).unwrap());
        let back: Vec<Stored> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.iter().map(|s| s.cell().unwrap()).collect::<Vec<_>>(), cells);
    }
}
