//! The `sql` connector on SQLite: synchronous `rusqlite`, run on a blocking thread, one
//! connection per call, `BEGIN IMMEDIATE` so that the capture and the change see the same
//! rows (SQLite has one writer at a time).
//!
//! The capture of a write's rows, within the undo record's bounds, is `sqlite/capture.rs`.
//!
//! A watchdog thread interrupts the connection at the call's statement timeout: the
//! blocking thread cannot be cancelled from outside, and a query that never ends would
//! otherwise hold a core and keep the runtime from shutting down.

use std::collections::HashMap;
use std::time::Duration;

use aecl_engine::{Compensated, ConnectorOutcome};
use base64::Engine as _;
use rusqlite::limits::Limit;
use rusqlite::types::{Value as Cell, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::implicit::{self, Touch};
use super::statement::{Plan, UNDO_TABLE, Write, WriteKind, quote};
use super::watchdog::Watchdog;
use super::{
    FENCE_RECORD, FENCE_SHA256, ReadBounds, Request, UndoFound, UndoRecord, UndoToken,
    verify_record,
};

/// A cell as stored in an undo record: typed, so that it is restored exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Stored {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    /// Base64.
    Blob(String),
}

impl Stored {
    /// What [`StoredRef`] writes, as a value (for its test).
    #[cfg(test)]
    fn of(cell: &Cell) -> Stored {
        match cell {
            Cell::Null => Stored::Null,
            Cell::Integer(i) => Stored::Integer(*i),
            Cell::Real(r) => Stored::Real(*r),
            Cell::Text(t) => Stored::Text(t.clone()),
            Cell::Blob(b) => Stored::Blob(base64::engine::general_purpose::STANDARD.encode(b)),
        }
    }

    fn cell(&self) -> Result<Cell, String> {
        Ok(match self {
            Stored::Null => Cell::Null,
            Stored::Integer(i) => Cell::Integer(*i),
            Stored::Real(r) => Cell::Real(*r),
            Stored::Text(t) => Cell::Text(t.clone()),
            Stored::Blob(b) => Cell::Blob(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| format!("undo record: bad blob: {e}"))?,
            ),
        })
    }
}

type Record = UndoRecord<Vec<Stored>>;

mod capture;
mod pinned;
use capture::capture_and_write;
pub(super) use pinned::SqliteFile;

const UNDO_DDL: &str = "CREATE TABLE IF NOT EXISTS aecl_undo (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
)";

fn open(file: &SqliteFile) -> Result<Connection, String> {
    // Never creates a database: a missing file is a configuration error, not a new empty
    // database that the statement would then run against (`SqliteFile::open`).
    let conn = file.open()?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
    Ok(conn)
}

pub(super) fn execute(file: &SqliteFile, request: &Request) -> ConnectorOutcome {
    let failed = |error: String| ConnectorOutcome::Failed { error };
    let mut conn = match open(file) {
        Ok(conn) => conn,
        Err(e) => return failed(e),
    };
    let watchdog = match Watchdog::start(&conn, request.timeout) {
        Ok(watchdog) => watchdog,
        Err(e) => return failed(e),
    };
    let result = match (&request.plan, request.capture) {
        // rusqlite panics on a column name that is not UTF-8 (a database another program
        // wrote: second pass, C1); a read changes nothing, so the panic is its failure.
        (Plan::Read { text }, _) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read(&conn, text, request.read_bounds)
        }))
        .unwrap_or_else(|_| {
            Err("sql: the result could not be read (a column name that is not UTF-8?)".to_owned())
        }),
        (Plan::Write(write), true) => {
            capture_and_write(&mut conn, write, &request.effect_id, request.undo_bounds)
        }
        (plan, _) => run(&conn, plan.text()),
    };
    let interrupted = watchdog.stop();
    match result {
        Ok((result, rollback_token)) => ConnectorOutcome::Succeeded { result, rollback_token },
        // An interrupted statement is rolled back, and so is the transaction it is in.
        Err(error) if interrupted => failed(format!(
            "timed_out: the statement ran longer than {:?} and was stopped; nothing was \
             changed ({error})",
            request.timeout
        )),
        // Every error comes before the commit or is the commit's own: SQLite rolled back.
        Err(error) => failed(error),
    }
}

type Executed = Result<(Value, Option<String>), String>;

fn read(conn: &Connection, text: &str, bounds: ReadBounds) -> Executed {
    let mut stmt = conn.prepare(text).map_err(|e| format!("sql: {e}"))?;
    if !stmt.readonly() {
        return Err("sql: the statement is not read-only".to_owned());
    }
    let names: Vec<String> = stmt.column_names().iter().map(|s| (*s).to_owned()).collect();
    // SQLite makes every value of a row, and every value an expression makes on the way,
    // before the row's size can be read: `hex(zeroblob(1e9))` in a few columns held GiBs
    // in `aecl serve` (red team round 27, escape E2). Each value is bounded by what the
    // answer may hold, shared among the columns past sixteen.
    // A row with a longer value ends the answer, as a row past the bound does.
    let limit = value_limit(bounds.bytes, names.len());
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, limit).map_err(|e| format!("sql: {e}"))?;
    let too_big = |e: &rusqlite::Error| e.sqlite_error_code() == Some(rusqlite::ErrorCode::TooBig);
    let mut rows = stmt.query([]).map_err(|e| format!("sql: {e}"))?;
    let mut out = Vec::new();
    let mut truncated = false;
    let mut bytes = 0u64;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) if too_big(&e) => {
                truncated = true;
                break;
            }
            Err(e) => return Err(format!("sql: {e}")),
        };
        // Each cell's size is read where SQLite holds it, before anything is copied.
        let mut size = 0u64;
        for i in 0..names.len() {
            let cell = row.get_ref(i).map_err(|e| format!("sql: {e}"))?;
            size += match cell {
                ValueRef::Text(t) | ValueRef::Blob(t) => t.len() as u64,
                ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => 8,
            };
        }
        if out.len() == bounds.rows || bytes + size > bounds.bytes {
            truncated = true;
            break;
        }
        bytes += size;
        let mut object = Map::new();
        for (i, name) in names.iter().enumerate() {
            let cell = cell_of(row, i, Text::Lossy)?;
            object.insert(name.clone(), to_json(&cell));
        }
        out.push(Value::Object(object));
    }
    Ok((json!({ "rows": out, "row_count": out.len(), "truncated": truncated }), None))
}

/// The longest value a read of `columns` columns may make: the whole answer's bound for up
/// to sixteen columns, then that much over all of them (64 KiB at least), so that a row
/// holds at most sixteen times the bound (or 64 KiB a column).
fn value_limit(answer_bytes: u64, columns: usize) -> i32 {
    let columns = u64::try_from(columns.max(1)).unwrap_or(u64::MAX);
    let share = answer_bytes.saturating_mul(16) / columns;
    let limit = share.clamp(64 * 1024, answer_bytes.max(64 * 1024));
    i32::try_from(limit).unwrap_or(i32::MAX)
}

fn run(conn: &Connection, text: &str) -> Executed {
    let n = conn.execute(text, []).map_err(|e| format!("sql: {e}"))?;
    Ok((json!({ "rows_affected": n }), None))
}

/// A table's columns as the undo record lists them: the key first.
/// The names SQLite gives a rowid table's rowid, unless a column takes one.
const ROWID_NAMES: [&str; 3] = ["rowid", "oid", "_rowid_"];

struct Shape {
    columns: Vec<String>,
    key: Vec<String>,
}

impl Shape {
    fn of(conn: &Connection, write: &Write) -> Result<Shape, String> {
        let schema = write.schema.clone().unwrap_or_else(|| "main".to_owned());
        let mut stmt = conn
            .prepare("SELECT name, pk FROM pragma_table_info(?1, ?2) ORDER BY cid")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([&write.name, &schema], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| e.to_string())?;
        let mut all = Vec::new();
        for row in rows {
            all.push(row.map_err(|e| e.to_string())?);
        }
        if all.is_empty() {
            return Err(format!("sql: no table `{}`", write.table));
        }
        let mut key: Vec<(i64, String)> =
            all.iter().filter(|(_, pk)| *pk > 0).map(|(n, pk)| (*pk, n.clone())).collect();
        key.sort();
        let mut key: Vec<String> = key.into_iter().map(|(_, n)| n).collect();
        let mut columns: Vec<String> = key.clone();
        if key.is_empty() {
            // A table without a primary key is keyed by its rowid, under a name no column
            // of its own takes: a column called `rowid` hides the rowid by that name, and
            // keyed by it an undo rewrote every row sharing its value (red team round 27,
            // escape E1).
            let Some(alias) = ROWID_NAMES
                .into_iter()
                .find(|name| !all.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
            else {
                return Err(format!(
                    "not_undoable: `{}` has no primary key and columns named rowid, oid and \
                     _rowid_, so no name reaches the rowid that tells its rows apart; nothing \
                     was executed",
                    write.table
                ));
            };
            key.push(alias.to_owned());
            columns.push(alias.to_owned());
        }
        columns.extend(all.into_iter().map(|(n, _)| n).filter(|n| !key.contains(n)));
        Ok(Shape { columns, key })
    }

    fn select_list(&self) -> String {
        self.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
    }

    fn key_list(&self) -> String {
        self.key.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
    }

    /// The bytes of a row's values, as the database counts them (`octet_length`: text and
    /// blobs as stored, numbers as their text), for the undo record's bound.
    fn row_size(&self) -> String {
        self.columns
            .iter()
            .map(|c| format!("coalesce(octet_length({}), 0)", quote(c)))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    fn key_condition(&self, first_param: usize) -> String {
        self.key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{} IS ?{}", quote(k), first_param + i))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

fn rows(conn: &Connection, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, String> {
    let mut stmt = conn.prepare(sql).map_err(|e| format!("sql: {e}"))?;
    let width = stmt.column_count();
    let mut rows = stmt.query(params_from_iter(params.iter())).map_err(|e| format!("sql: {e}"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| format!("sql: {e}"))? {
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(cell_of(row, i, Text::Exact)?);
        }
        out.push(cells);
    }
    Ok(out)
}

/// How [`cell_of`] takes text that is not UTF-8 (SQLite stores what it is given: `CAST(X'FF'
/// AS TEXT)`).
#[derive(Clone, Copy)]
pub(super) enum Text {
    /// A read's answer: the invalid bytes become U+FFFD.
    Lossy,
    /// An undo record or a comparison, which must give back the same bytes: an error.
    Exact,
}

/// Column `i` of `row`. rusqlite's own conversion to a value panics on text that is not
/// UTF-8 (red team round 24, escape E1: an allowed `SELECT CAST(X'FF' AS TEXT)` crashed the
/// connector's task and left the effect `outcome_unknown`).
pub(super) fn cell_of(row: &rusqlite::Row<'_>, i: usize, text: Text) -> Result<Cell, String> {
    Ok(match row.get_ref(i).map_err(|e| format!("sql: {e}"))? {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Integer(n),
        ValueRef::Real(r) => Cell::Real(r),
        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
        ValueRef::Text(bytes) => match (std::str::from_utf8(bytes), text) {
            (Ok(t), _) => Cell::Text(t.to_owned()),
            (Err(_), Text::Lossy) => Cell::Text(String::from_utf8_lossy(bytes).into_owned()),
            (Err(_), Text::Exact) => {
                return Err(format!(
                    "sql: column {} holds text that is not UTF-8, which aecl cannot keep as it \
                     is to undo the write",
                    row.as_ref().column_name(i).unwrap_or("?")
                ));
            }
        },
    })
}

pub(super) fn compensate(file: &SqliteFile, token: &UndoToken) -> Compensated {
    let mut conn = match open(file) {
        Ok(conn) => conn,
        Err(error) => return Compensated::Failed { error },
    };
    match undo(&mut conn, token) {
        Ok(outcome) => outcome,
        // The transaction is dropped unfinished: rolled back, nothing changed.
        Err(error) => Compensated::Failed { error },
    }
}

fn undo(conn: &mut Connection, token: &UndoToken) -> Result<Compensated, String> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| format!("sql: {e}"))?;
    let stored: Option<(String, String, i64)> = tx
        .query_row(
            "SELECT record, sha256, undone FROM aecl_undo WHERE id = ?1",
            [&token.undo],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(|e| format!("reading undo record `{}`: {e}", token.undo))?;
    let Some((text, digest, undone)) = stored else {
        return Err(format!("no undo record `{}`", token.undo));
    };
    verify_record(token, &text, &digest)?;
    if undone != 0 {
        return Ok(Compensated::Conflict { detail: "the effect was already undone".to_owned() });
    }
    let record: Record = serde_json::from_str(&text).map_err(|e| format!("undo record: {e}"))?;
    if let Some(detail) = changed_since(&tx, &record)? {
        return Ok(Compensated::Conflict { detail });
    }
    let shape = Shape { columns: record.columns.clone(), key: record.key.clone() };
    // The schema may have changed since the statement: the undo's own write must make no
    // writes of its own either.
    let (schema, name) = table_parts(&record.table)?;
    let assigned = columns_changed(&record);
    let touch = Touch { kind: implicit::undo_of(record.kind), assigned: &assigned };
    if let Some(why) = implicit::sqlite(&tx, schema.as_deref(), &name, touch)? {
        return Err(format!("not_undoable: {why}; nothing was changed"));
    }
    let changes_before = tx.total_changes();
    let cells = |row: &[Stored]| row.iter().map(Stored::cell).collect::<Result<Vec<_>, _>>();
    let n_key = shape.key.len();
    let exec = |sql: &str, params: &[Cell]| -> Result<usize, String> {
        tx.execute(sql, params_from_iter(params.iter())).map_err(|e| format!("sql: {e}"))
    };
    let mut restored = 0usize;
    match record.kind {
        WriteKind::Delete => {
            let placeholders =
                (1..=shape.columns.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
            let insert = format!(
                "INSERT INTO {} ({}) VALUES ({placeholders})",
                record.table,
                shape.select_list()
            );
            for row in &record.pre {
                restored += one_row(exec(&insert, &cells(row)?)?, &record.table)?;
            }
        }
        WriteKind::Update => {
            let set: Vec<String> = shape
                .columns
                .iter()
                .enumerate()
                .skip(n_key)
                .map(|(i, c)| format!("{} = ?{}", quote(c), i + 1))
                .collect();
            let update = format!(
                "UPDATE {} SET {} WHERE {}",
                record.table,
                set.join(", "),
                shape.key_condition(1)
            );
            for row in &record.pre {
                restored += one_row(exec(&update, &cells(row)?)?, &record.table)?;
            }
        }
        WriteKind::Insert => {
            let delete = format!("DELETE FROM {} WHERE {}", record.table, shape.key_condition(1));
            for row in &record.post {
                let key: Vec<Cell> = cells(row)?.into_iter().take(n_key).collect();
                restored += one_row(exec(&delete, &key)?, &record.table)?;
            }
        }
    }
    let changed = tx.total_changes().saturating_sub(changes_before);
    if usize::try_from(changed).ok() != Some(restored) {
        return Err(format!(
            "not_undoable: the database changed {changed} rows where the undo restored \
             {restored}; nothing was changed"
        ));
    }
    exec("UPDATE aecl_undo SET undone = 1 WHERE id = ?1", &[Cell::Text(token.undo.clone())])?;
    tx.commit().map_err(|e| format!("sql: commit: {e}"))?;
    Ok(Compensated::Restored {
        result: json!({ "table": record.table, "rows_restored": restored }),
    })
}

/// A row of an undo names exactly one row of the table: a key that matches several (a
/// record keyed by a name a column took, a `NULL` in a key) would rewrite rows the
/// statement never touched, so the whole undo is refused and rolled back.
fn one_row(changed: usize, table: &str) -> Result<usize, String> {
    if changed == 1 {
        return Ok(1);
    }
    Err(format!(
        "not_undoable: a row of the undo record names {changed} rows of `{table}`, not one; \
         nothing was changed"
    ))
}

/// Whether the rows of `record` are no longer as its statement left them (deleted rows
/// absent, updated and inserted rows equal to their post-image): the first difference.
fn changed_since(tx: &Connection, record: &Record) -> Result<Option<String>, String> {
    let shape = Shape { columns: record.columns.clone(), key: record.key.clone() };
    let cells = |row: &[Stored]| row.iter().map(Stored::cell).collect::<Result<Vec<_>, _>>();
    let n_key = shape.key.len();
    let select = format!(
        "SELECT {} FROM {} WHERE {}",
        shape.select_list(),
        record.table,
        shape.key_condition(1)
    );
    let expected_absent: &[Vec<Stored>] =
        if record.kind == WriteKind::Delete { &record.pre } else { &[] };
    for row in expected_absent {
        let row = cells(row)?;
        let key: Vec<Cell> = row.iter().take(n_key).cloned().collect();
        if !rows(tx, &select, &key)?.is_empty() {
            return Ok(Some(format!(
                "a deleted row of `{}` with key {} exists again",
                record.table,
                key_text(&shape, &key)
            )));
        }
    }
    for row in &record.post {
        let row = cells(row)?;
        let key: Vec<Cell> = row.iter().take(n_key).cloned().collect();
        let now = rows(tx, &select, &key)?;
        // Exactly that row: a key that now names several rows names none of them.
        if now.as_slice() != std::slice::from_ref(&row) {
            return Ok(Some(format!(
                "the row of `{}` with key {} changed since the statement",
                record.table,
                key_text(&shape, &key)
            )));
        }
    }
    Ok(None)
}

/// After a crash: the undo record of `effect_id`, or a fence in its place so that the
/// statement's transaction, if it is still somewhere in flight, can never commit (its own
/// insert of the record would collide). `BEGIN IMMEDIATE` waits for a writer in progress.
pub(super) fn reconcile(file: &SqliteFile, effect_id: &str) -> Result<UndoFound, String> {
    let mut conn = open(file)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| format!("sql: {e}"))?;
    tx.execute_batch(UNDO_DDL).map_err(|e| format!("creating `{UNDO_TABLE}`: {e}"))?;
    let fenced = tx
        .execute(
            "INSERT INTO aecl_undo (id, record, sha256, undone) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (id) DO NOTHING",
            [effect_id, FENCE_RECORD, FENCE_SHA256],
        )
        .map_err(|e| format!("fencing `{effect_id}`: {e}"))?;
    if fenced == 1 {
        tx.commit().map_err(|e| format!("sql: commit: {e}"))?;
        return Ok(UndoFound::Fenced { now: true });
    }
    let (text, digest, undone): (String, String, i64) = tx
        .query_row("SELECT record, sha256, undone FROM aecl_undo WHERE id = ?1", [effect_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(|e| format!("reading undo record `{effect_id}`: {e}"))?;
    if digest == FENCE_SHA256 {
        return Ok(UndoFound::Fenced { now: false });
    }
    let record: Record = serde_json::from_str(&text).map_err(|e| format!("undo record: {e}"))?;
    let changed = changed_since(&tx, &record)?;
    Ok(UndoFound::Record { text, digest, undone: undone != 0, changed })
}

/// The columns the undo of an `UPDATE` changes back: those that differ between a row's
/// pre- and post-image (the undo assigns every column, but a foreign key's `ON UPDATE`
/// fires only for a value that changes). A row whose post-image is missing counts as
/// changing every column.
fn columns_changed(record: &Record) -> Vec<String> {
    let n_key = record.key.len();
    let key_of = |row: &[Stored]| serde_json::to_string(&row.get(..n_key)).unwrap_or_default();
    let post: HashMap<String, &Vec<Stored>> =
        record.post.iter().map(|row| (key_of(row), row)).collect();
    record
        .columns
        .iter()
        .enumerate()
        .skip(n_key)
        .filter(|(i, _)| {
            record.pre.iter().any(|pre| match post.get(&key_of(pre)) {
                Some(post) => pre.get(*i) != post.get(*i),
                None => true,
            })
        })
        .map(|(_, column)| column.clone())
        .collect()
}

/// The schema and name of a table as the undo record writes it (`main."Users"`), parsed
/// back the way the statement was.
fn table_parts(table: &str) -> Result<(Option<String>, String), String> {
    let sql = format!("DELETE FROM {table}");
    match super::statement::plan(super::statement::Backend::Sqlite, &sql)? {
        Plan::Write(write) => Ok((write.schema, write.name)),
        _ => Err(format!("undo record: table `{table}` is not a table name")),
    }
}

fn key_text(shape: &Shape, key: &[Cell]) -> String {
    let parts: Vec<String> =
        shape.key.iter().zip(key).map(|(k, v)| format!("{k}={}", to_json(v))).collect();
    format!("({})", parts.join(", "))
}

/// A cell as the agent sees it.
pub(super) fn to_json(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Integer(i) => json!(i),
        Cell::Real(r) => json!(r),
        Cell::Text(t) => json!(t),
        Cell::Blob(b) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(b) }),
    }
}
