//! The `sql` connector on PostgreSQL (`tokio-postgres`, one connection per call). Rows
//! travel as `to_jsonb(row)::text`, so every type round-trips through PostgreSQL's own
//! conversion (`jsonb_populate_record` restores them) and comparisons are made by the
//! server (`jsonb` equality), never on values parsed in Rust.
//!
//! Pre-images are read with `FOR UPDATE`, so that no other transaction changes the rows
//! between the capture and the change; an `UPDATE` whose changed rows differ from the rows
//! its `WHERE` selected (a concurrent insert) is rolled back. Tables need a primary key to
//! be undone.
//!
//! Every connection of a call sets `statement_timeout`, so that the server itself cancels a
//! statement that runs past the call's limit (the connection lives for one call, so the
//! setting covers every statement of the call, in a transaction or not). The target table
//! is locked (`ROW EXCLUSIVE`) before its triggers, rules and foreign keys are read
//! (`implicit.rs`), so that none can be added between the check and the write.
//!
//! The undo record is bounded (`bound.rs`): the rows a write would change are read with
//! their sizes, locked, at most `max_undo_rows` and one more, and the server sends a row's
//! content only while the running total of sizes fits `max_undo_bytes`; the statement runs
//! inside a `WITH` whose query reads its `RETURNING` rows the same way. So no more than the
//! bound ever reaches aecl, and the check and the capture are the same statement, on the
//! same rows.
//!
//! Known limit: in a `jsonb` (or `json`) column, the JSON value `null` and SQL `NULL` are
//! the same in a row's `to_jsonb`, so an undo restores such a value as SQL `NULL`.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aecl_engine::{Compensated, ConnectorOutcome};
use serde_json::{Value, json};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, Transaction};

use super::bound::{Stage, Tally, UndoBounds, record_text, too_large};
use super::implicit::{self, Touch};
use super::statement::{Plan, Write, WriteKind, quote};
use super::{
    FENCE_RECORD, FENCE_SHA256, ReadBounds, Request, UndoFound, UndoRecord, UndoToken, token_for,
    verify_record,
};

type Record = UndoRecord<String>;

const UNDO_DDL: &str = "CREATE TABLE IF NOT EXISTS aecl_undo (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    undone BOOLEAN NOT NULL DEFAULT FALSE
)";

/// Why a call failed: before the commit (nothing happened) or at it (it may have).
enum Failure {
    Before(String),
    AtCommit(String),
}

impl From<String> for Failure {
    fn from(error: String) -> Failure {
        Failure::Before(error)
    }
}

pub(super) fn sql_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        // The server cancelled the statement (at `statement_timeout`, or on request); a
        // transactional statement was rolled back with its transaction.
        Some(db) if *db.code() == SqlState::QUERY_CANCELED && db.message().contains("timeout") => {
            format!("timed_out: {}", db.message())
        }
        Some(db) => format!("sql: {}", db.message()),
        None => format!("sql: {e}"),
    }
}

/// A connection for one call; with `timeout`, every statement on it is cancelled by the
/// server past that time.
async fn connect(url: &str, timeout: Option<Duration>) -> Result<Client, String> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("connecting to PostgreSQL: {}", sql_error(&e)))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "PostgreSQL connection of the sql connector ended");
        }
    });
    if let Some(timeout) = timeout {
        // A session setting, not `SET LOCAL`: a statement that runs outside a transaction
        // (an irreversible action's `CREATE INDEX CONCURRENTLY`) is covered too, and the
        // session ends with the call.
        let millis = timeout.as_millis().max(1);
        client
            .batch_execute(&format!("SET statement_timeout = {millis}"))
            .await
            .map_err(|e| format!("setting the statement timeout: {}", sql_error(&e)))?;
    }
    Ok(client)
}

pub(super) async fn execute(url: &str, request: &Request) -> ConnectorOutcome {
    let mut client = match connect(url, Some(request.timeout)).await {
        Ok(client) => client,
        Err(error) => return ConnectorOutcome::Failed { error },
    };
    let result = match (&request.plan, request.capture) {
        (Plan::Read { text }, _) => read(&mut client, text, request.read_bounds).await,
        (Plan::Write(write), true) => {
            capture_and_write(&mut client, write, &request.effect_id, request.undo_bounds).await
        }
        (plan, _) => run(&client, plan.text()).await,
    };
    match result {
        Ok((result, rollback_token)) => ConnectorOutcome::Succeeded { result, rollback_token },
        Err(Failure::Before(error)) => ConnectorOutcome::Failed { error },
        Err(Failure::AtCommit(error)) => ConnectorOutcome::Unknown { error },
    }
}

type Executed = Result<(Value, Option<String>), Failure>;

async fn read(client: &mut Client, text: &str, bounds: ReadBounds) -> Executed {
    let tx = client.build_transaction().read_only(true).start().await.map_err(|e| sql_error(&e))?;
    let limit = bounds.rows.saturating_add(1);
    // The server measures each row and sends none larger than the whole budget, so that a
    // row of huge cells never reaches this process; the rows are summed here.
    let most = bounds.bytes;
    let sql = format!(
        "SELECT CASE WHEN octet_length(r) <= {most} THEN r END, octet_length(r)::int8 \
         FROM (SELECT to_jsonb(aecl_q)::text AS r FROM ({text}) AS aecl_q LIMIT {limit}) AS aecl_r"
    );
    let rows = tx.query(&sql, &[]).await.map_err(|e| sql_error(&e))?;
    let mut truncated = rows.len() > bounds.rows;
    let mut out = Vec::new();
    let mut bytes = 0u64;
    for row in rows.iter().take(bounds.rows) {
        let size: i64 = row.try_get(1).map_err(|e| sql_error(&e))?;
        let text: Option<String> = row.try_get(0).map_err(|e| sql_error(&e))?;
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        let Some(text) = text.filter(|_| bytes.saturating_add(size) <= most) else {
            truncated = true;
            break;
        };
        bytes += size;
        out.push(serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)));
    }
    Ok((json!({ "rows": out, "row_count": out.len(), "truncated": truncated }), None))
}

async fn run(client: &Client, text: &str) -> Executed {
    // One statement, in its own implicit transaction: an error means it did not happen.
    let n = client.execute(text, &[]).await.map_err(|e| sql_error(&e))?;
    Ok((json!({ "rows_affected": n }), None))
}

/// The primary key columns of `table`, in key order.
async fn key_columns(tx: &Transaction<'_>, table: &str) -> Result<Vec<String>, String> {
    let rows = tx
        .query(
            "SELECT a.attname::text FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&table],
        )
        .await
        .map_err(|e| sql_error(&e))?;
    rows.iter().map(|r| r.try_get::<_, String>(0).map_err(|e| sql_error(&e))).collect()
}

/// The key values of JSON rows, as canonical text (for comparing sets of rows).
fn keys_of(key: &[String], rows: &[String]) -> Vec<String> {
    rows.iter()
        .map(|row| {
            let value: Value = serde_json::from_str(row).unwrap_or(Value::Null);
            let parts: Vec<&Value> =
                key.iter().map(|k| value.get(k).unwrap_or(&Value::Null)).collect();
            serde_json::to_string(&parts).unwrap_or_default()
        })
        .collect()
}

async fn capture_and_write(
    client: &mut Client,
    write: &Write,
    effect_id: &str,
    bounds: UndoBounds,
) -> Executed {
    let tx = client.transaction().await.map_err(|e| sql_error(&e))?;
    tx.batch_execute(UNDO_DDL)
        .await
        .map_err(|e| format!("creating `aecl_undo`: {}", sql_error(&e)))?;
    lock(&tx, &write.table).await?;
    let touch = Touch { kind: write.kind, assigned: &write.assigned };
    if let Some(why) = implicit::postgres(&tx, &write.table, touch).await? {
        return Err(Failure::Before(format!("not_undoable: {why}; nothing was executed")));
    }
    let key = key_columns(&tx, &write.table).await?;
    if key.is_empty() {
        return Err(Failure::Before(format!(
            "not_undoable: table `{}` has no primary key; nothing was executed",
            write.table
        )));
    }
    if let Some(column) =
        write.assigned.iter().find(|a| key.iter().any(|k| k.eq_ignore_ascii_case(a)))
    {
        return Err(Failure::Before(format!(
            "not_undoable: the UPDATE assigns key column `{column}`; nothing was executed"
        )));
    }
    let counts_before = implicit::postgres_counts(&tx, &write.table).await?;
    let mut tally = Tally::new(bounds);
    let whole = format!("to_jsonb({})::text AS aecl_json", write.table_ref);
    let rows_asked = tally.rows_asked();
    // DELETE, UPDATE: the rows the WHERE selects, locked, measured and sent within the bounds,
    // before anything runs.
    let pre = match write.kind {
        WriteKind::Insert => Vec::new(),
        WriteKind::Delete | WriteKind::Update => {
            let selection = write.selection.as_deref().unwrap_or("TRUE");
            let locked = format!(
                "SELECT {whole} FROM {} WHERE {selection} LIMIT {rows_asked} FOR UPDATE",
                write.table
            );
            let sql = within("", &format!("({locked}) AS aecl_locked"), tally.left());
            sized_rows(&tx, &sql, &mut tally, Count::Bytes, Stage::Before).await?
        }
    };
    // The statement runs in a `WITH`, whose query reads back what it returned the same way:
    // each changed row (UPDATE, INSERT), or only its key (DELETE: its rows are `pre`).
    let post = match write.kind {
        WriteKind::Delete => {
            let changed = format!("{} RETURNING {} AS aecl_json", write.text, key_object(&key));
            let sql = format!(
                "WITH aecl_changed AS ({changed}) SELECT 0, aecl_json FROM aecl_changed \
                 LIMIT {rows_asked}"
            );
            sized_rows(&tx, &sql, &mut tally, Count::Rows, Stage::After).await?
        }
        WriteKind::Update | WriteKind::Insert => {
            let changed = format!("{} RETURNING {whole}", write.text);
            let with = format!("WITH aecl_changed AS ({changed})");
            let from = format!("aecl_changed LIMIT {rows_asked}");
            let sql = within(&with, &from, tally.left());
            sized_rows(&tx, &sql, &mut tally, Count::Bytes, Stage::After).await?
        }
    };
    if write.kind != WriteKind::Insert {
        let (mut a, mut b) = (keys_of(&key, &pre), keys_of(&key, &post));
        a.sort();
        b.sort();
        if a != b {
            return Err(Failure::Before(format!(
                "not_undoable: the rows the {} changed are not the rows its WHERE selected; it \
                 was rolled back",
                if write.kind == WriteKind::Delete { "DELETE" } else { "UPDATE" }
            )));
        }
    }
    // A DELETE's `post` holds only keys: its record keeps the rows before.
    let post = if write.kind == WriteKind::Delete { Vec::new() } else { post };
    let affected = match write.kind {
        WriteKind::Delete => pre.len(),
        WriteKind::Update | WriteKind::Insert => post.len(),
    };
    let counts_after = implicit::postgres_counts(&tx, &write.table).await?;
    if let Some(why) = implicit::postgres_counts_differ(counts_before, counts_after, affected) {
        // The transaction is dropped unfinished: rolled back.
        return Err(Failure::Before(format!("not_undoable: {why}; it was rolled back")));
    }
    let record = Record {
        kind: write.kind,
        table: write.table.clone(),
        columns: Vec::new(),
        key,
        pre,
        post,
    };
    // The transaction is dropped unfinished on a refusal: rolled back.
    let record = record_text(&record, bounds)?;
    let token = token_for(effect_id, &record);
    let parsed: UndoToken = serde_json::from_str(&token).map_err(|e| e.to_string())?;
    // INVARIANT: the pre-image is written in the transaction that makes the change.
    tx.execute(
        "INSERT INTO aecl_undo (id, record, sha256) VALUES ($1, $2, $3)",
        &[&effect_id, &record, &parsed.sha256],
    )
    .await
    .map_err(|e| format!("recording the undo: {}", sql_error(&e)))?;
    tx.commit().await.map_err(|e| Failure::AtCommit(format!("commit: {}", sql_error(&e))))?;
    Ok((json!({ "rows_affected": affected }), Some(token)))
}

/// What [`sized_rows`] counts of each row against the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    /// Rows and bytes: the rows go into the record.
    Bytes,
    /// Rows only: keys, compared and dropped.
    Rows,
}

/// A query of the rows of `from` (`with`, a `WITH` clause or nothing, before it) whose
/// column `aecl_json` holds a row's JSON text: each as its size and its text, the text only
/// while the running total of sizes is at most `bytes`. What the server sends stays within
/// the bound, and a row it withholds is one the tally refuses. (A `WITH` holding the
/// statement must be the query's own: PostgreSQL runs a data-modifying `WITH` only at the
/// top level, and always to completion, whatever the `LIMIT`.)
fn within(with: &str, from: &str, bytes: u64) -> String {
    let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    format!(
        "{with} SELECT octet_length(aecl_json), CASE WHEN sum(octet_length(aecl_json)) OVER \
         (ROWS UNBOUNDED PRECEDING) <= {bytes} THEN aecl_json END FROM {from}"
    )
}

/// The rows of `sql` (a size, then a JSON text) counted against the bounds by `tally`: the
/// texts, or a refusal.
async fn sized_rows(
    tx: &Transaction<'_>,
    sql: &str,
    tally: &mut Tally,
    count: Count,
    stage: Stage,
) -> Result<Vec<String>, Failure> {
    let rows = tx.query(sql, &[]).await.map_err(|e| sql_error(&e))?;
    tally.rows(rows.len(), stage)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if count == Count::Bytes {
            let size: i32 = row.try_get(0).map_err(|e| sql_error(&e))?;
            tally.bytes(u64::try_from(size).unwrap_or(0), stage)?;
        }
        let text: Option<String> = row.try_get(1).map_err(|e| sql_error(&e))?;
        out.push(text.ok_or_else(|| too_large(tally.bounds(), stage))?);
    }
    Ok(out)
}

/// `jsonb_build_object('k', "k", ...)::text` of the key columns `key`: a row's key as the
/// rows' JSON writes it.
fn key_object(key: &[String]) -> String {
    let parts: Vec<String> =
        key.iter().map(|k| format!("'{}', {}", k.replace('\'', "''"), quote(k))).collect();
    format!("jsonb_build_object({})::text", parts.join(", "))
}

pub(super) async fn compensate(url: &str, token: &UndoToken) -> Compensated {
    let mut client = match connect(url, None).await {
        Ok(client) => client,
        Err(error) => return Compensated::Failed { error },
    };
    match undo(&mut client, token).await {
        Ok(outcome) => outcome,
        // The transaction is dropped unfinished: rolled back, nothing changed.
        Err(error) => Compensated::Failed { error },
    }
}

async fn undo(client: &mut Client, token: &UndoToken) -> Result<Compensated, String> {
    let tx = client.transaction().await.map_err(|e| sql_error(&e))?;
    let row = tx
        .query_opt(
            "SELECT record, sha256, undone FROM aecl_undo WHERE id = $1 FOR UPDATE",
            &[&token.undo],
        )
        .await
        .map_err(|e| format!("reading undo record `{}`: {}", token.undo, sql_error(&e)))?;
    let Some(row) = row else { return Err(format!("no undo record `{}`", token.undo)) };
    let (text, digest, undone): (String, String, bool) = (
        row.try_get(0).map_err(|e| sql_error(&e))?,
        row.try_get(1).map_err(|e| sql_error(&e))?,
        row.try_get(2).map_err(|e| sql_error(&e))?,
    );
    verify_record(token, &text, &digest)?;
    if undone {
        return Ok(Compensated::Conflict { detail: "the effect was already undone".to_owned() });
    }
    let record: Record = serde_json::from_str(&text).map_err(|e| format!("undo record: {e}"))?;
    // The rows checked are locked until the commit.
    if let Some(detail) = changed_since(&tx, &record).await? {
        return Ok(Compensated::Conflict { detail });
    }
    let table = &record.table;
    // The schema may have changed since the statement: the undo's own write must make no
    // writes of its own either.
    lock(&tx, table).await?;
    let assigned = columns_changed(&record)?;
    let touch = Touch { kind: implicit::undo_of(record.kind), assigned: &assigned };
    if let Some(why) = implicit::postgres(&tx, table, touch).await? {
        return Err(format!("not_undoable: {why}; nothing was changed"));
    }
    let counts_before = implicit::postgres_counts(&tx, table).await?;
    let matches_key = key_match(&record);
    let from_json = format!("jsonb_populate_record(NULL::{table}, $1::text::jsonb) AS r");
    let mut restored = 0u64;
    match record.kind {
        WriteKind::Delete => {
            let insert = format!(
                "INSERT INTO {table} SELECT * FROM jsonb_populate_record(NULL::{table}, $1::text::jsonb)"
            );
            for row in &record.pre {
                restored += tx.execute(&insert, &[row]).await.map_err(|e| sql_error(&e))?;
            }
        }
        WriteKind::Update => {
            for row in &record.pre {
                let value: Value =
                    serde_json::from_str(row).map_err(|e| format!("undo record: {e}"))?;
                let columns: Vec<String> =
                    value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
                let set = columns
                    .iter()
                    .map(|c| format!("{c} = r.{c}", c = quote(c)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let update =
                    format!("UPDATE {table} AS t SET {set} FROM {from_json} WHERE {matches_key}");
                restored += tx.execute(&update, &[row]).await.map_err(|e| sql_error(&e))?;
            }
        }
        WriteKind::Insert => {
            let delete = format!("DELETE FROM {table} AS t USING {from_json} WHERE {matches_key}");
            for row in &record.post {
                restored += tx.execute(&delete, &[row]).await.map_err(|e| sql_error(&e))?;
            }
        }
    }
    let counts_after = implicit::postgres_counts(&tx, table).await?;
    let restored_rows = usize::try_from(restored).unwrap_or(usize::MAX);
    if let Some(why) = implicit::postgres_counts_differ(counts_before, counts_after, restored_rows)
    {
        return Err(format!("not_undoable: {why}; nothing was changed"));
    }
    tx.execute("UPDATE aecl_undo SET undone = TRUE WHERE id = $1", &[&token.undo])
        .await
        .map_err(|e| sql_error(&e))?;
    tx.commit().await.map_err(|e| format!("commit: {}", sql_error(&e)))?;
    Ok(Compensated::Restored { result: json!({ "table": table, "rows_restored": restored }) })
}

/// The columns the undo of an `UPDATE` changes back: those that differ between a row's
/// pre- and post-image (the undo assigns every column, but a foreign key's `ON UPDATE`
/// fires only for a value that changes). Numbers that `serde_json` holds as floats may
/// have lost digits, so a column holding one counts as changing.
fn columns_changed(record: &Record) -> Result<Vec<String>, String> {
    let parse = |row: &String| -> Result<Value, String> {
        serde_json::from_str(row).map_err(|e| format!("undo record: {e}"))
    };
    let key_of = |row: &Value| {
        let parts: Vec<Option<&Value>> = record.key.iter().map(|k| row.get(k)).collect();
        serde_json::to_string(&parts).unwrap_or_default()
    };
    let mut post = HashMap::new();
    for row in &record.post {
        let row = parse(row)?;
        post.insert(key_of(&row), row);
    }
    let mut changed = BTreeSet::new();
    for pre in &record.pre {
        let pre = parse(pre)?;
        let Some(columns) = pre.as_object() else {
            return Err("undo record: a row is not an object".to_owned());
        };
        let after = post.get(&key_of(&pre));
        for (column, value) in columns {
            let same = after.and_then(|a| a.get(column)) == Some(value);
            if !record.key.contains(column) && (!same || inexact(value)) {
                changed.insert(column.clone());
            }
        }
    }
    Ok(changed.into_iter().collect())
}

/// Whether a JSON value holds a number `serde_json` could not keep exactly.
fn inexact(value: &Value) -> bool {
    match value {
        Value::Number(n) => !(n.is_i64() || n.is_u64()),
        Value::Array(items) => items.iter().any(inexact),
        Value::Object(fields) => fields.values().any(inexact),
        _ => false,
    }
}

/// Locks `table` as a write does (`ROW EXCLUSIVE`), before its triggers, rules and foreign
/// keys are read: `CREATE TRIGGER`, `CREATE RULE` and a new foreign key to it wait for
/// this transaction, so what was checked is what the write meets.
async fn lock(tx: &Transaction<'_>, table: &str) -> Result<(), String> {
    tx.batch_execute(&format!("LOCK TABLE {table} IN ROW EXCLUSIVE MODE"))
        .await
        .map_err(|e| sql_error(&e))
}

/// `t.k IS NOT DISTINCT FROM r.k` for every key column of `record`.
fn key_match(record: &Record) -> String {
    record
        .key
        .iter()
        .map(|k| format!("t.{k} IS NOT DISTINCT FROM r.{k}", k = quote(k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Whether the rows of `record` are no longer as its statement left them (deleted rows
/// absent, updated and inserted rows equal to their post-image): the first difference.
/// The rows looked at are locked (`FOR UPDATE`) until `tx` ends.
async fn changed_since(tx: &Transaction<'_>, record: &Record) -> Result<Option<String>, String> {
    let table = &record.table;
    let matches_key = key_match(record);
    let from_json = format!("jsonb_populate_record(NULL::{table}, $1::text::jsonb) AS r");
    let current = format!(
        "SELECT to_jsonb(t) = $1::text::jsonb FROM {table} AS t, {from_json} WHERE {matches_key} FOR UPDATE OF t"
    );
    if record.kind == WriteKind::Delete {
        for row in &record.pre {
            let found = tx.query(&current, &[row]).await.map_err(|e| sql_error(&e))?;
            if !found.is_empty() {
                return Ok(Some(format!("a deleted row of `{table}` exists again: {row}")));
            }
        }
    }
    for row in &record.post {
        let found = tx.query(&current, &[row]).await.map_err(|e| sql_error(&e))?;
        let same = match found.first() {
            Some(r) => r.try_get::<_, bool>(0).map_err(|e| sql_error(&e))?,
            None => false,
        };
        if !same {
            return Ok(Some(format!("a row of `{table}` changed since the statement: {row}")));
        }
    }
    Ok(None)
}

/// After a crash: the undo record of `effect_id`, or a fence in its place. The fence's
/// insert waits for a transaction still in flight that inserted the same id (the unique
/// key), then does nothing if that one committed; a transaction that has not inserted it
/// yet collides with the fence later and rolls back. Either way the answer is final.
pub(super) async fn reconcile(url: &str, effect_id: &str) -> Result<UndoFound, String> {
    let mut client = connect(url, None).await?;
    let tx = client.transaction().await.map_err(|e| sql_error(&e))?;
    tx.batch_execute(UNDO_DDL)
        .await
        .map_err(|e| format!("creating `aecl_undo`: {}", sql_error(&e)))?;
    let fenced = tx
        .execute(
            "INSERT INTO aecl_undo (id, record, sha256, undone) VALUES ($1, $2, $3, TRUE)
             ON CONFLICT (id) DO NOTHING",
            &[&effect_id, &FENCE_RECORD, &FENCE_SHA256],
        )
        .await
        .map_err(|e| format!("fencing `{effect_id}`: {}", sql_error(&e)))?;
    if fenced == 1 {
        tx.commit().await.map_err(|e| format!("commit: {}", sql_error(&e)))?;
        return Ok(UndoFound::Fenced { now: true });
    }
    let row = tx
        .query_one("SELECT record, sha256, undone FROM aecl_undo WHERE id = $1", &[&effect_id])
        .await
        .map_err(|e| format!("reading undo record `{effect_id}`: {}", sql_error(&e)))?;
    let (text, digest, undone): (String, String, bool) = (
        row.try_get(0).map_err(|e| sql_error(&e))?,
        row.try_get(1).map_err(|e| sql_error(&e))?,
        row.try_get(2).map_err(|e| sql_error(&e))?,
    );
    if digest == FENCE_SHA256 {
        return Ok(UndoFound::Fenced { now: false });
    }
    let record: Record = serde_json::from_str(&text).map_err(|e| format!("undo record: {e}"))?;
    let changed = changed_since(&tx, &record).await?;
    // Read only from here: the transaction ends without a commit, releasing its locks.
    Ok(UndoFound::Record { text, digest, undone, changed })
}
