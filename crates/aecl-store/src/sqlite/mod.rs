//! The SQLite store: one database file in WAL mode with `synchronous=FULL`, so a commit is
//! on disk when it returns. All writes go through one writer thread that group-commits
//! (`writer`); reads use a small pool of read connections, which WAL lets run beside the
//! writer.

mod health;
mod schema;
mod standing;
mod writer;

mod revocation;
mod runs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use aecl_audit::{AuditRecord, StoredRecord};
use aecl_core::limits::gcra;
use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{
    Admission, Approval, ApprovalStatus, Begun, CallEnd, Committed, Effect, EffectEnd, EffectState,
    Grant, GrantRefusal, NewEffect, Reconciliation, RunCommit, RunSnapshot, StandingGrant, Store,
    StoreError,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use tokio::sync::oneshot;

use crate::{AuditConfig, backend, corrupt, hash_of, head, to_i64, to_u64};
use health::FileHealth;
use writer::{Batch, Job, in_savepoint};

/// The SQLite implementation of the store port.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
    /// Whether the file is still the database the writer writes.
    health: Arc<FileHealth>,
}

/// How many prepared statements each connection keeps: every statement of the write and
/// read paths, so none is parsed again.
const STATEMENT_CACHE: usize = 64;

/// Runs `sql` through the connection's statement cache: the writer runs the same few
/// statements for every call, and preparing one costs about as much as running it.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// `Connection::query_row` through the statement cache.
fn query_row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)
        .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;",
    )
    .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, runs migrations and starts the
    /// writer, which resumes the audit log from its stored head.
    pub fn open(path: &Path, audit: AuditConfig) -> Result<SqliteStore, StoreError> {
        let mut conn = connect(path)?;
        schema::migrate(&mut conn)?;
        let log = read_head(&conn)?;
        let health = Arc::new(FileHealth::new(path)?);
        let writer = writer::spawn(conn, log, audit, health.clone())?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer,
                readers: Mutex::new(Vec::new()),
                health,
            }),
        })
    }

    /// Opens an existing database for reading only (`aecl audit verify` and friends): no
    /// migration, no writer, no key.
    pub fn open_read_only(path: &Path) -> Result<SqliteReader, StoreError> {
        if !path.exists() {
            return Err(StoreError::Backend(format!("no database at {}", path.display())));
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        Ok(SqliteReader { conn })
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_raw(move |batch| in_savepoint(batch, f)).await
    }

    /// Like `write`, without a savepoint: for jobs whose only write is one statement.
    async fn write_raw<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |batch| {
            let result = f(batch);
            Box::new(move |commit_error: Option<&str>| {
                let result = match commit_error {
                    Some(e) => Err(StoreError::Backend(format!("commit failed: {e}"))),
                    None => result,
                };
                let _ = answer.send(result);
            })
        });
        self.inner
            .writer
            .send(job)
            .map_err(|_| StoreError::WriterStopped("the writer thread has ended".to_owned()))?;
        answered
            .await
            .map_err(|_| StoreError::WriterStopped("the writer dropped a job".to_owned()))?
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        // A database found gone is not read either (and a new connection would create an
        // empty file at its path).
        if let Some(reason) = self.inner.health.failed() {
            return Err(StoreError::Backend(reason));
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled =
                inner.readers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => connect(&inner.path)?,
            };
            let result = f(&mut conn);
            inner.readers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }
}

/// Read access to an audit log without a writer (for the CLI).
#[derive(Debug)]
pub struct SqliteReader {
    conn: Connection,
}

impl SqliteReader {
    pub fn audit_records(&self, from: u64, limit: usize) -> Result<Vec<StoredRecord>, StoreError> {
        audit_records(&self.conn, from, limit)
    }

    pub fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        audit_checkpoints(&self.conn)
    }

    /// The log's head as stored (`LogState::new()` when there is none), which verification
    /// compares with the records.
    pub fn audit_head(&self) -> Result<aecl_audit::LogState, StoreError> {
        read_head(&self.conn)
    }
}

fn read_head(conn: &Connection) -> Result<aecl_audit::LogState, StoreError> {
    let row: Option<(i64, Vec<u8>, Vec<u8>)> =
        query_row(conn, "SELECT size, head, nodes FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(backend)?;
    match row {
        None => Ok(aecl_audit::LogState::new()),
        Some((size, head_bytes, nodes)) => head::decode(to_u64(size)?, &head_bytes, &nodes),
    }
}

fn audit_records(
    conn: &Connection,
    from: u64,
    limit: usize,
) -> Result<Vec<StoredRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, record, chain_hash FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(backend)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![to_i64(from), limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, record, chain) = row.map_err(backend)?;
        // A negative seq cannot be ours: give verification a number it will flag.
        out.push((u64::try_from(seq).unwrap_or(u64::MAX), record, hash_of(&chain)));
    }
    Ok(out)
}

fn audit_checkpoints(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT note FROM audit_checkpoints ORDER BY size").map_err(backend)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(backend)?;
    rows.map(|r| r.map_err(backend)).collect()
}

/// Records an effect as `pending`. With `or_nothing`, an effect that conflicts with an
/// existing one (same run and call id, or same run and idempotency key) is not an error:
/// nothing is inserted and 0 is returned.
/// Appends an encoded record to the batch's log; its row is inserted with the batch's
/// others just before the commit. Returns its sequence number.
fn append(batch: &mut Batch<'_>, time: Timestamp, unsequenced: &aecl_audit::Unsequenced) -> u64 {
    let appended = batch.log.append_unsequenced(unsequenced);
    batch.rows.push((appended.seq, appended.canonical, appended.chain_hash));
    batch.time = Some(batch.time.map_or(time, |t| t.max(time)));
    appended.seq
}

fn insert_effect(
    conn: &Connection,
    effect: &NewEffect,
    or_nothing: bool,
) -> Result<usize, StoreError> {
    let sql = format!(
        "INSERT INTO effects (id, run, call_id, agent, action, idempotency_key,
             call_digest, node, state, result, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10, 'null', ?9, ?9){}",
        if or_nothing { " ON CONFLICT DO NOTHING" } else { "" }
    );
    let state = if effect.dispatched { EffectState::Dispatched } else { EffectState::Pending };
    exec(
        conn,
        &sql,
        params![
            effect.id,
            effect.run,
            effect.call_id,
            effect.agent,
            effect.action,
            effect.idempotency_key,
            effect.call_digest.0,
            effect.node,
            to_i64(effect.created.0),
            state.as_str()
        ],
    )
    .map_err(backend)
}

/// A stored grant: approval id, call digest, policy revision, expiry, when consumed.
type GrantRow = (Option<String>, String, String, i64, Option<i64>);

const EFFECT_COLUMNS: &str = "id, run, call_id, agent, action, idempotency_key, call_digest, \
                              node, state, result, error, rollback_token, created, updated";

fn effect_row(r: &Row<'_>) -> rusqlite::Result<(Effect, String, String)> {
    Ok((
        Effect {
            id: r.get(0)?,
            run: r.get(1)?,
            call_id: r.get(2)?,
            agent: r.get(3)?,
            action: r.get(4)?,
            idempotency_key: r.get(5)?,
            call_digest: CallDigest(r.get(6)?),
            node: r.get(7)?,
            state: EffectState::Pending,
            result: serde_json::Value::Null,
            error: r.get(10)?,
            rollback_token: r.get(11)?,
            created: Timestamp(u64::try_from(r.get::<_, i64>(12)?).unwrap_or(0)),
            updated: Timestamp(u64::try_from(r.get::<_, i64>(13)?).unwrap_or(0)),
        },
        r.get(8)?,
        r.get(9)?,
    ))
}

/// The effect from a row, with its state and result parsed.
fn effect_from(row: (Effect, String, String)) -> Result<Effect, StoreError> {
    let (mut effect, state, result) = row;
    effect.state = EffectState::parse(&state)
        .ok_or_else(|| corrupt(format!("effect {} has state `{state}`", effect.id)))?;
    effect.result = serde_json::from_str(&result)
        .map_err(|e| corrupt(format!("effect {} result: {e}", effect.id)))?;
    Ok(effect)
}

fn select_effect(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Option<Effect>, StoreError> {
    let sql = format!("SELECT {EFFECT_COLUMNS} FROM effects WHERE {filter}");
    let row = query_row(conn, &sql, args, effect_row).optional().map_err(backend)?;
    row.map(effect_from).transpose()
}

fn transition_error(conn: &Connection, id: &str, expected: &'static str) -> StoreError {
    match query_row(conn, "SELECT state FROM effects WHERE id = ?1", [id], |r| {
        r.get::<_, String>(0)
    }) {
        Ok(state) => StoreError::Transition { id: id.to_owned(), state, expected },
        Err(_) => StoreError::NoEffect(id.to_owned()),
    }
}

fn approval_row(r: &Row<'_>) -> rusqlite::Result<(Approval, String, String)> {
    Ok((
        Approval {
            id: r.get(0)?,
            run: r.get(1)?,
            call_id: r.get(2)?,
            agent: r.get(3)?,
            action: r.get(4)?,
            call_digest: CallDigest(r.get(5)?),
            policy_revision: Revision(r.get(6)?),
            status: ApprovalStatus::Pending,
            requested: Timestamp(u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0)),
            expires: Timestamp(u64::try_from(r.get::<_, i64>(9)?).unwrap_or(0)),

    async fn revoke_credential(
        &self,
        id: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<bool, StoreError> {
        let (id, by) = (id.to_owned(), by.to_owned());
        self.write_raw(move |batch| revocation::revoke(batch.conn, &id, at, &by)).await
    }

    async fn revoked_credential(&self, ids: &[String]) -> Result<Option<String>, StoreError> {
        let ids = ids.to_vec();
        self.read(move |conn| revocation::first_revoked(conn, &ids)).await
    }
            decided_by: r.get(10)?,
            reason: r.get(11)?,
            body: serde_json::Value::Null,
        },
        r.get(7)?,
        r.get(12)?,
    ))
}

/// Ends effect `id` (its result already encoded as `result`) if it is pending or
/// dispatched.
fn finish(conn: &Connection, id: &str, end: &EffectEnd, result: &str) -> Result<(), StoreError> {
    let n = exec(
        conn,
        "UPDATE effects SET state = ?2, result = ?3, error = ?4, rollback_token = ?5,
                 updated = ?6
             WHERE id = ?1 AND state IN ('pending', 'dispatched')",
        params![id, end.state.as_str(), result, end.error, end.rollback_token, to_i64(end.at.0)],
    )
    .map_err(backend)?;
    if n == 1 { Ok(()) } else { Err(transition_error(conn, id, "pending or dispatched")) }
}

/// Moves pending effect `id` to `dispatched`.
fn dispatch(conn: &Connection, id: &str) -> Result<(), StoreError> {
    let n = exec(
        conn,
        "UPDATE effects SET state = 'dispatched' WHERE id = ?1 AND state = 'pending'",
        [id],
    )
    .map_err(backend)?;
    if n == 1 { Ok(()) } else { Err(transition_error(conn, id, "pending")) }
}

/// The effect id and call digest of the call of `run` with id `call_id` that was
/// executed (it has an effect), if one was.
fn executed_call(
    conn: &Connection,
    run: &str,
    call_id: &str,
) -> Result<Option<(String, CallDigest)>, StoreError> {
    query_row(
        conn,
        "SELECT id, call_digest FROM effects WHERE run = ?1 AND call_id = ?2",
        [run, call_id],
        |r| Ok((r.get(0)?, CallDigest(r.get(1)?))),
    )
    .optional()
    .map_err(backend)
}

/// Spends grant `id` for the call with `digest` under `revision`, once.
fn spend_grant(
    conn: &Connection,
    id: &str,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Result<Result<Grant, GrantRefusal>, StoreError> {
    let row: Option<GrantRow> = query_row(
        conn,
        "SELECT approval_id, call_digest, policy_revision, expires, consumed_at
             FROM grants WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
    .optional()
    .map_err(backend)?;
    let Some((approval_id, call_digest, policy_revision, expires, consumed)) = row else {
        return Ok(Err(GrantRefusal::Unknown));
    };
    let grant = Grant {
        id: id.to_owned(),
        approval_id,
        call_digest: CallDigest(call_digest),
        policy_revision: Revision(policy_revision),
        expires: Timestamp(to_u64(expires)?),
    };
    if let Some(refusal) = crate::grant_refusal(&grant, consumed.is_some(), digest, revision, at) {
        return Ok(Err(refusal));
    }
    exec(
        conn,
        "UPDATE grants SET consumed_at = ?2 WHERE id = ?1 AND consumed_at IS NULL",
        params![id, to_i64(at.0)],
    )
    .map_err(backend)?;
    Ok(Ok(grant))
}

/// An approval read by `approval_row`, with its status and body decoded.
fn full_approval(
    (mut approval, status, body): (Approval, String, String),
) -> Result<Approval, StoreError> {
    approval.status = ApprovalStatus::parse(&status)
        .ok_or_else(|| corrupt(format!("approval {} has status `{status}`", approval.id)))?;
    approval.body = serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
    Ok(approval)
}

/// `/healthz` runs a real write through the writer at most this often.
const PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Store for SqliteStore {
    async fn health(&self) -> aecl_engine::StoreHealth {
        let health = &self.inner.health;
        // The file as it is now, even between commits.
        let _ = health.check();
        let write_probe = if let Some(reason) = health.failed() {
            Err(reason)
        } else {
            let mut probe = health.probe.lock().await;
            match &*probe {
                // Only a success is reused: a failing store is probed again every time,
                // so it is seen healthy as soon as it is.
                Some((at, Ok(()))) if at.elapsed() < PROBE_EVERY => Ok(()),
                _ => {
                    // A real write through the writer, committed (with the writer's file
                    // checks) like any call's: a row of its own in `rate_limits`, whose
                    // keys are otherwise `agent:` and `action:`.
                    let result = self
                        .write(|batch| {
                            exec(
                                batch.conn,
                                "INSERT INTO rate_limits (key, tat) VALUES ('aecl:healthz', 0)
                                 ON CONFLICT (key) DO UPDATE SET tat = tat + 1",
                                [],
                            )
                            .map_err(backend)?;
                            Ok(())
                        })
                        .await
                        .map_err(|e| e.to_string());
                    *probe = Some((std::time::Instant::now(), result.clone()));
                    result
                }
            }
        };
        aecl_engine::StoreHealth {
            failed: health.failed(),
            last_commit_error: health.last_commit_error(),
            write_probe,
        }
    }

    async fn load_run(&self, run: &str) -> Result<RunSnapshot, StoreError> {
        let run = run.to_owned();
        self.read(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let agent: Option<String> = tx
                .query_row("SELECT agent FROM runs WHERE run = ?1", [&run], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            let mut events = Vec::new();
            {
                let mut stmt = tx
                    .prepare_cached("SELECT event FROM run_events WHERE run = ?1 ORDER BY version")
                    .map_err(backend)?;
                let rows = stmt.query_map([&run], |r| r.get::<_, String>(0)).map_err(backend)?;
                for row in rows {
                    events.push(crate::decode_event(&row.map_err(backend)?)?);
                }
            }
            tx.commit().map_err(backend)?;
            let version = u64::try_from(events.len()).unwrap_or(u64::MAX);
            Ok(RunSnapshot { agent, version, events })
        })
        .await
    }

    async fn commit_run_event(&self, commit: RunCommit) -> Result<Committed, StoreError> {
        let event = crate::encode_event(&commit.event)?;
        // Encoded here, on the producer's thread, as `append_audit` does.
        let audit = match &commit.audit {
            Some(record) => Some((record.time, record.to_unsequenced()?)),
            None => None,
        };
        self.write(move |batch| {
            let conn = batch.conn;
            let current: i64 = query_row(conn, "SELECT version FROM runs WHERE run = ?1", [&commit.run], |r| r.get(0))
                .optional()
                .map_err(backend)?
                .unwrap_or(0);
            if to_u64(current)? != commit.expected_version {
                return Ok(Committed::Conflict);
            }
            // Check every limit before writing any, so a refusal writes nothing.
            let mut rate_updates = Vec::new();
            for (index, admission) in commit.admission.iter().enumerate() {
                match admission {
                    Admission::Rate { key, limit, now } => {
                        let tat: Option<i64> = query_row(conn, "SELECT tat FROM rate_limits WHERE key = ?1", [key], |r| r.get(0))
                            .optional()
                            .map_err(backend)?;
                        let tat = tat.map(to_u64).transpose()?;
                        match gcra(limit, tat, now.0) {
                            Ok(next) => rate_updates.push((key.clone(), next)),
                            Err(wait) => {
                                return Ok(Committed::Refused { index, retry_after_ms: Some(wait) });
                            }
                        }
                    }
                    Admission::Slot { key, limit, holder, now, .. } => {
                        let held: i64 = query_row(conn,
                                "SELECT COUNT(*) FROM slots WHERE key = ?1 AND expires > ?2 AND holder <> ?3",
                                params![key, to_i64(now.0), holder],
                                |r| r.get(0),
                            )
                            .map_err(backend)?;
                        if to_u64(held)? >= u64::from(*limit) {
                            return Ok(Committed::Refused { index, retry_after_ms: None });
                        }
                    }
                }
            }
            // The call's id against the run's executed calls, then its grant: both refuse
            // before anything of this commit is written.
            if let Some(check) = &commit.call_id
                && let Some((effect_id, digest)) = executed_call(conn, &commit.run, &check.call_id)?
            {
                return Ok(Committed::CallIdTaken { effect_id, digest });
            }
            if let Some(grant) = &commit.grant
                && let Err(refusal) = spend_grant(conn, &grant.id, &grant.digest, &grant.revision, grant.at)?
            {
                return Ok(Committed::GrantRefused(refusal));
            }
            for (key, tat) in rate_updates {
                exec(conn,
                    "INSERT INTO rate_limits (key, tat) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET tat = excluded.tat",
                    params![key, to_i64(tat)],
                )
                .map_err(backend)?;
            }
            for admission in &commit.admission {
                if let Admission::Slot { key, holder, now, expires, .. } = admission {
                    exec(conn,
                        "DELETE FROM slots WHERE key = ?1 AND expires <= ?2",
                        params![key, to_i64(now.0)],
                    )
                    .map_err(backend)?;
                    exec(conn,
                        "INSERT OR REPLACE INTO slots (key, holder, expires) VALUES (?1, ?2, ?3)",
                        params![key, holder, to_i64(expires.0)],
                    )
                    .map_err(backend)?;
                }
            }
            let version = commit.expected_version + 1;
            exec(conn,
                "INSERT INTO run_events (run, version, event) VALUES (?1, ?2, ?3)",
                params![commit.run, to_i64(version), event],
            )
            .map_err(backend)?;
            exec(conn,
                "INSERT INTO runs (run, agent, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run) DO UPDATE SET version = excluded.version",
                params![commit.run, commit.agent, to_i64(version)],
            )
            .map_err(backend)?;
            if let Some(effect) = &commit.effect {
                insert_effect(conn, effect, false)?;
            }
            // Last, when nothing of this job can fail any more: the log state cannot be
            // rolled back with the job's savepoint.
            let audit_seq = audit.map(|(time, unsequenced)| append(batch, time, &unsequenced));
            Ok(Committed::Done { version, audit_seq })
        })
        .await
    }

    async fn release_slots(&self, holder: &str) -> Result<(), StoreError> {
        let holder = holder.to_owned();
        self.write(move |batch| {
            exec(batch.conn, "DELETE FROM slots WHERE holder = ?1", [&holder]).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<u64, StoreError> {
        // Encoded here, on the producer's thread; the writer only numbers and hashes.
        let time = record.time;
        let unsequenced = record.to_unsequenced()?;
        // The hot path: no savepoint. The row is inserted with the batch's others just
        // before the commit; if that fails, the whole batch fails and its rollback
        // restores the log state.
        self.write_raw(move |batch| Ok(append(batch, time, &unsequenced))).await
    }

    async fn begin_effect(&self, effect: NewEffect) -> Result<Begun, StoreError> {
        self.write(move |batch| {
            let conn = batch.conn;
            let inserted = insert_effect(conn, &effect, true)?;
            if inserted == 1 {
                return Ok(Begun::New);
            }
            let existing = match &effect.idempotency_key {
                Some(key) => {
                    select_effect(conn, "run = ?1 AND idempotency_key = ?2", &[&effect.run, key])?
                }
                None => None,
            };
            let existing = match existing {
                Some(e) => Some(e),
                None => select_effect(
                    conn,
                    "run = ?1 AND call_id = ?2",
                    &[&effect.run, &effect.call_id],
                )?,
            };
            existing.map(|e| Begun::Existing(Box::new(e))).ok_or_else(|| {
                corrupt(format!("effect {} conflicts with no stored effect", effect.id))
            })
        })
        .await
    }

    async fn dispatch_effect(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |batch| dispatch(batch.conn, &id)).await
    }

    async fn dispatch_effect_with_grant(
        &self,
        id: &str,
        grant: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<(), GrantRefusal>, StoreError> {
        let (id, grant) = (id.to_owned(), grant.to_owned());
        let (digest, revision) = (digest.clone(), revision.clone());
        // INVARIANT: one savepoint: a dispatch that fails undoes the grant's spending.
        self.write(move |batch| match spend_grant(batch.conn, &grant, &digest, &revision, at)? {
            Ok(_) => dispatch(batch.conn, &id).map(Ok),
            Err(refusal) => Ok(Err(refusal)),
        })
        .await
    }

    async fn finish_effect(&self, id: &str, end: EffectEnd) -> Result<(), StoreError> {
        let id = id.to_owned();
        let result = serde_json::to_string(&end.result).map_err(|e| corrupt(e.to_string()))?;
        self.write(move |batch| finish(batch.conn, &id, &end, &result)).await
    }

    async fn finish_call(&self, end: CallEnd) -> Result<u64, StoreError> {
        // Encoded here, on the producer's thread, as `append_audit` does.
        let result = serde_json::to_string(&end.end.result).map_err(|e| corrupt(e.to_string()))?;
        let events = end.events.iter().map(crate::encode_event).collect::<Result<Vec<_>, _>>()?;
        let (time, unsequenced) = (end.audit.time, end.audit.to_unsequenced()?);
        self.write(move |batch| {
            let conn = batch.conn;
            finish(conn, &end.effect_id, &end.end, &result)?;
            exec(conn, "DELETE FROM slots WHERE holder = ?1", [&end.slot_holder])
                .map_err(backend)?;
            // The one writer: the version read here is the run's last.
            let current: i64 =
                query_row(conn, "SELECT version FROM runs WHERE run = ?1", [&end.run], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(backend)?
                .unwrap_or(0);
            let mut version = to_u64(current)?;
            for event in &events {
                version += 1;
                exec(
                    conn,
                    "INSERT INTO run_events (run, version, event) VALUES (?1, ?2, ?3)",
                    params![end.run, to_i64(version), event],
                )
                .map_err(backend)?;
            }
            exec(
                conn,
                "INSERT INTO runs (run, agent, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run) DO UPDATE SET version = excluded.version",
                params![end.run, end.agent, to_i64(version)],
            )
            .map_err(backend)?;
            // Last, when nothing of this job can fail any more: the log state cannot be
            // rolled back with the job's savepoint.
            append(batch, time, &unsequenced);
            Ok(version)
        })
        .await
    }

    async fn effect(&self, id: &str) -> Result<Option<Effect>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| select_effect(conn, "id = ?1", &[&id])).await
    }

    async fn effect_by_key(&self, run: &str, key: &str) -> Result<Option<Effect>, StoreError> {
        let (run, key) = (run.to_owned(), key.to_owned());
        self.read(move |conn| {
            select_effect(conn, "run = ?1 AND idempotency_key = ?2", &[&run, &key])
        })
        .await
    }

    async fn run_effects(&self, run: &str) -> Result<Vec<Effect>, StoreError> {
        let run = run.to_owned();
        self.read(move |conn| {
            let sql =
                format!("SELECT {EFFECT_COLUMNS} FROM effects WHERE run = ?1 ORDER BY created, id");
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let rows = stmt.query_map([&run], effect_row).map_err(backend)?;
            let mut effects = Vec::new();
            for row in rows {
                effects.push(effect_from(row.map_err(backend)?)?);
            }
            Ok(effects)
        })
        .await
    }

    async fn recover_effects(&self, node: &str, at: Timestamp) -> Result<Vec<Effect>, StoreError> {
        let node = node.to_owned();
        self.write(move |batch| {
            let conn = batch.conn;
            let sql = format!(
                "SELECT {EFFECT_COLUMNS} FROM effects WHERE node = ?1
                 AND state IN ('pending', 'dispatched') ORDER BY created, id"
            );
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let rows = stmt.query_map([&node], effect_row).map_err(backend)?;
            let mut effects = Vec::new();
            for row in rows {
                effects.push(effect_from(row.map_err(backend)?)?);
            }
            for effect in &mut effects {
                let (state, error) = crate::recovered(effect.state);
                exec(
                    conn,
                    "UPDATE effects SET state = ?2, error = ?3, updated = ?4 WHERE id = ?1",
                    params![effect.id, state.as_str(), error, to_i64(at.0)],
                )
                .map_err(backend)?;
                effect.state = state;
                effect.error = Some(error.to_owned());
                effect.updated = at;
            }
            Ok(effects)
        })
        .await
    }

    async fn unresolved_effects(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Effect>, StoreError> {
        let after = after.unwrap_or_default().to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            // In id order (the primary key's index), so the pages together read the table
            // once.
            let sql = format!(
                "SELECT {EFFECT_COLUMNS} FROM effects WHERE id > ?1 AND state = 'outcome_unknown'
                 ORDER BY id LIMIT ?2"
            );
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let rows = stmt.query_map(params![after, limit], effect_row).map_err(backend)?;
            let mut effects = Vec::new();
            for row in rows {
                effects.push(effect_from(row.map_err(backend)?)?);
            }
            Ok(effects)
        })
        .await
    }

    async fn reconcile_effect(&self, r: Reconciliation) -> Result<bool, StoreError> {
        let result = serde_json::to_string(&r.end.result).map_err(|e| corrupt(e.to_string()))?;
        let (time, unsequenced) = (r.audit.time, r.audit.to_unsequenced()?);
        self.write(move |batch| {
            let end = &r.end;
            let n = exec(
                batch.conn,
                "UPDATE effects SET state = ?2, result = ?3, error = ?4, rollback_token = ?5,
                         updated = ?6
                     WHERE id = ?1 AND state = 'outcome_unknown'",
                params![
                    r.effect_id,
                    end.state.as_str(),
                    result,
                    end.error,
                    end.rollback_token,
                    to_i64(end.at.0)
                ],
            )
            .map_err(backend)?;
            if n == 1 {
                // In the same transaction as the ledger's change.
                append(batch, time, &unsequenced);
            }
            Ok(n == 1)
        })
        .await
    }

    async fn use_nonce(&self, scope: &str, nonce: &str, at: Timestamp) -> Result<bool, StoreError> {
        let (scope, nonce) = (scope.to_owned(), nonce.to_owned());
        self.write(move |batch| {
            let n = exec(batch.conn,
                    "INSERT INTO nonces (scope, nonce, used_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    params![scope, nonce, to_i64(at.0)],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
        .await
    }

    async fn put_grant(&self, grant: Grant) -> Result<(), StoreError> {
        self.write(move |batch| {
            exec(
                batch.conn,
                "INSERT INTO grants (id, approval_id, call_digest, policy_revision, expires)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    grant.id,
                    grant.approval_id,
                    grant.call_digest.0,
                    grant.policy_revision.0,
                    to_i64(grant.expires.0)
                ],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn consume_grant(
        &self,
        id: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<Grant, GrantRefusal>, StoreError> {
        let (id, digest, revision) = (id.to_owned(), digest.clone(), revision.clone());
        self.write(move |batch| spend_grant(batch.conn, &id, &digest, &revision, at)).await
    }

    async fn spent_grant_for_call(
        &self,
        digest: &CallDigest,
    ) -> Result<Option<(Grant, Timestamp)>, StoreError> {
        let digest = digest.clone();
        self.read(move |conn| {
            let row: Option<(String, Option<String>, String, i64, i64)> = query_row(
                conn,
                "SELECT id, approval_id, policy_revision, expires, consumed_at FROM grants
                     WHERE call_digest = ?1 AND consumed_at IS NOT NULL
                     ORDER BY consumed_at DESC LIMIT 1",
                [&digest.0],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(backend)?;
            row.map(|(id, approval_id, policy_revision, expires, consumed)| {
                let grant = Grant {
                    id,
                    approval_id,
                    call_digest: digest.clone(),
                    policy_revision: Revision(policy_revision),
                    expires: Timestamp(to_u64(expires)?),
                };
                Ok((grant, Timestamp(to_u64(consumed)?)))
            })
            .transpose()
        })
        .await
    }

    async fn grant_for_call(&self, digest: &CallDigest) -> Result<Option<Grant>, StoreError> {
        let digest = digest.clone();
        self.read(move |conn| {
            let row: Option<(String, Option<String>, String, i64)> = query_row(
                conn,
                "SELECT id, approval_id, policy_revision, expires FROM grants
                     WHERE call_digest = ?1 AND consumed_at IS NULL
                     ORDER BY expires DESC LIMIT 1",
                [&digest.0],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(backend)?;
            row.map(|(id, approval_id, policy_revision, expires)| {
                Ok(Grant {
                    id,
                    approval_id,
                    call_digest: digest.clone(),
                    policy_revision: Revision(policy_revision),
                    expires: Timestamp(to_u64(expires)?),
                })
            })
            .transpose()
        })
        .await
    }

    async fn put_approval(&self, approval: Approval) -> Result<(), StoreError> {
        let body = serde_json::to_string(&approval.body).map_err(|e| corrupt(e.to_string()))?;
        self.write(move |batch| {
            exec(
                batch.conn,
                "INSERT INTO approvals (id, run, call_id, agent, action, call_digest,
                         policy_revision, status, requested, expires, decided_by, reason, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    approval.id,
                    approval.run,
                    approval.call_id,
                    approval.agent,
                    approval.action,
                    approval.call_digest.0,
                    approval.policy_revision.0,
                    approval.status.as_str(),
                    to_i64(approval.requested.0),
                    to_i64(approval.expires.0),
                    approval.decided_by,
                    approval.reason,
                    body
                ],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| {
            let row = query_row(
                conn,
                "SELECT id, run, call_id, agent, action, call_digest, policy_revision, status,
                         requested, expires, decided_by, reason, body
                     FROM approvals WHERE id = ?1",
                [&id],
                approval_row,
            )
            .optional()
            .map_err(backend)?;
            row.map(full_approval).transpose()
        })
        .await
    }

    async fn approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<Approval>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, run, call_id, agent, action, call_digest, policy_revision, status,
                         requested, expires, decided_by, reason, body
                     FROM approvals WHERE ?1 = 0 OR status = 'pending'
                     ORDER BY requested DESC, id DESC LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![pending_only, to_i64(limit as u64)], approval_row)
                .map_err(backend)?;
            rows.map(|row| full_approval(row.map_err(backend)?)).collect()
        })
        .await
    }

    async fn resolve_approval(
        &self,
        id: &str,
        status: ApprovalStatus,
        by: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (id, by, reason) = (id.to_owned(), by.to_owned(), reason.map(str::to_owned));
        self.write(move |batch| {
            let n = exec(
                batch.conn,
                "UPDATE approvals SET status = ?2, decided_by = ?3, reason = ?4
                     WHERE id = ?1 AND status = 'pending'",
                params![id, status.as_str(), by, reason],
            )
            .map_err(backend)?;
            Ok(n == 1)
        })
        .await
    }

    async fn audit_records(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.read(move |conn| audit_records(conn, from, limit)).await
    }

    async fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| audit_checkpoints(conn)).await
    }

    async fn pending_approval_for(
        &self,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let (digest, revision) = (digest.0.clone(), revision.0.clone());
        self.read(move |conn| {
            query_row(
                conn,
                "SELECT id FROM approvals
                 WHERE call_digest = ?1 AND policy_revision = ?2 AND status = 'pending'
                     AND expires > ?3
                 ORDER BY requested DESC, id DESC LIMIT 1",
                params![digest, revision, to_i64(at.0)],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn put_standing_grant(&self, grant: StandingGrant) -> Result<(), StoreError> {
        self.write_raw(move |batch| standing::put(batch.conn, &grant)).await
    }

    async fn standing_grants(
        &self,
        agent_action: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<StandingGrant>, StoreError> {
        let filter = agent_action.map(|(a, b)| (a.to_owned(), b.to_owned()));
        self.read(move |conn| {
            standing::list(conn, filter.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), limit)
        })
        .await
    }

    async fn use_standing_grant(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write_raw(move |batch| standing::use_one(batch.conn, &id, at)).await
    }

    async fn revoke_standing_grant(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write_raw(move |batch| standing::revoke(batch.conn, &id, at)).await
    }
}
