//! The SQLite store: one database file in WAL mode with `synchronous=FULL`, so a commit is
//! on disk when it returns (an ordered one, `Durability::Ordered`, once the next synced
//! one returns: `writer`). All writes go through one writer thread that group-commits
//! (`writer`); reads use a small pool of read connections, which WAL lets run beside the
//! writer. This file opens the store and routes each method of the port to its area:
//! `runs`, `effects`, `grants`, `approvals`, `standing`, `revocation`, `audit`, `health`.

mod approvals;
mod audit;
mod effects;
mod grants;
mod health;
mod lock;
mod revocation;
mod runs;
mod schema;
mod standing;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aecl_audit::{AuditRecord, StoredRecord};
use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{
    Answer, Approval, ApprovalStatus, Begun, CallEnd, Committed, Durability, Effect, EffectEnd,
    Grant, GrantRefusal, NewEffect, Reconciliation, RunCommit, RunSnapshot, StandingGrant, Store,
    StoreError, Superseded, Voiding,
};
use rusqlite::{Connection, Row};
use tokio::sync::oneshot;

use crate::event_seal::EventSeal;
use crate::{AuditConfig, backend};
use health::FileHealth;
use writer::{Batch, Job, Queue, in_savepoint};

pub use audit::SqliteReader;

/// The SQLite implementation of the store port.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// Dropped before the readers and the lock: stops the writer thread and waits for it
    /// (`writer::Queue`), which closes its connection.
    writer: Queue,
    readers: Mutex<Vec<Connection>>,
    /// A read connection used on the caller's thread, for the point reads every request
    /// makes (`read_here`); it never waits for a lock.
    inline: Mutex<Connection>,
    /// Whether the file is still the database the writer writes.
    health: Arc<FileHealth>,
    /// Seals the runs' events this store writes, and checks those it reads.
    events: EventSeal,
    /// Held while the store is open: one writing process per file (`lock.rs`).
    /// INVARIANT: the last field, so its descriptor closes after every connection above.
    _writer_lock: Arc<lock::WriterLock>,
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
    ///
    /// Refused when another store writes the file, by whatever name (`lock.rs`), and when
    /// the stored head is not exactly what the newest stored checkpoint, signed by this
    /// store's key, signed, with the records ending where it ends (`resume.rs`): nothing is
    /// signed over a log changed outside aecl.
    pub fn open(path: &Path, audit: AuditConfig) -> Result<SqliteStore, StoreError> {
        // Before SQLite opens the file: the lock's descriptor is open from before SQLite's
        // first to after its last (`lock.rs`).
        let writer_lock = Arc::new(lock::lock_writer(path)?);
        let mut conn = connect(path)?;
        let health = Arc::new(FileHealth::new(path)?);
        if health.identity() != writer_lock.identity() {
            return Err(StoreError::Backend(format!(
                "{} was replaced by another file while it was being opened",
                path.display()
            )));
        }
        let shown = path.display().to_string();
        // Before the migrations (a trigger would run inside them) and after.
        let shape = |conn: &Connection| {
            schema::check_shape(conn)
                .map_err(|e| StoreError::Backend(format!("refusing to open {shown}: {e}")))
        };
        shape(&conn)?;
        schema::migrate(&mut conn)?;
        shape(&conn)?;
        let tip = audit::read_tip(&mut conn).map_err(|e| {
            crate::resume::refusal(&shown, &crate::resume::Disagreement::BadHead(e.to_string()))
        })?;
        let log = tip
            .resumable(&audit.signer.verifier())
            .map_err(|why| crate::resume::refusal(&shown, &why))?;
        let checkpoint = tip.newest_checkpoint;
        let events = EventSeal::new(&audit.signer);
        let writer =
            writer::spawn(conn, log, checkpoint, audit, health.clone(), writer_lock.clone())?;
        let inline = connect(path)?;
        inline.busy_timeout(std::time::Duration::ZERO).map_err(backend)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer,
                readers: Mutex::new(Vec::new()),
                inline: Mutex::new(inline),
                health,
                events,
                _writer_lock: writer_lock,
            }),
        })
    }

    /// Lets a write commit on the thread that asks for it when the writer is idle, instead
    /// of waiting for the writer thread (`writer.rs`, "caller commits"): for a process that
    /// sends its writes one at a time from one thread (`aecl mcp` over stdio). The thread
    /// then blocks for each such commit, fsync included.
    pub fn set_caller_commits(&self, on: bool) {
        self.inner.writer.set_caller_commits(on);
    }

    /// Opens an existing database for reading only (`aecl audit verify` and friends): no
    /// migration, no writer, no key.
    pub fn open_read_only(path: &Path) -> Result<SqliteReader, StoreError> {
        if !path.exists() {
            return Err(StoreError::Backend(format!("no database at {}", path.display())));
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        // A view in place of a table would be run by every read (a recursive one never
        // ends): the schema is checked before anything is read.
        schema::check_shape(&conn)
            .map_err(|e| StoreError::Backend(format!("cannot read {}: {e}", path.display())))?;
        Ok(SqliteReader { conn })
    }

    /// The seal of the runs' events.
    fn events(&self) -> &EventSeal {
        &self.inner.events
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_raw(move |batch| in_savepoint(batch, f)).await
    }

    /// Like `write`, committed as `durability` says (`writer.rs`).
    async fn write_as<T, F>(&self, durability: Durability, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let synced = durability == Durability::Synced;
        self.send_job(synced, move |batch| in_savepoint(batch, f)).await
    }

    /// Like `write`, without a savepoint: for jobs whose only write is one statement.
    async fn write_raw<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_job(true, f).await
    }

    /// Hands `f` to the writer and waits for its batch's commit.
    async fn send_job<T, F>(&self, synced: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let run: writer::Work = Box::new(move |batch| {
            let result = f(batch);
            Box::new(move |commit_error: Option<&str>| {
                let result = match commit_error {
                    Some(e) => Err(StoreError::Backend(format!("commit failed: {e}"))),
                    None => result,
                };
                let _ = answer.send(result);
            })
        });
        if let Err(job) = self.inner.writer.commit_here(Job { synced, run }) {
            self.inner.writer.send(job)?;
        }
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

    /// Runs `f`, a read of a few indexed rows, on this thread with the inline connection
    /// when it is free and the database lets it read at once (in WAL mode a reader waits
    /// only in rare moments: a log being recovered or restarted); otherwise as `read`
    /// does, on the blocking pool. For the checks every request makes: handing a read
    /// of microseconds to another thread and back cost more than the read (`bench/`).
    async fn read_here<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        if let Some(reason) = self.inner.health.failed() {
            return Err(StoreError::Backend(reason));
        }
        if let Ok(conn) = self.inner.inline.try_lock() {
            match f(&conn) {
                Err(error) if is_busy(&error) => {}
                done => return done.map_err(backend),
            }
        }
        self.read(move |conn| f(conn).map_err(backend)).await
    }
}

/// Whether SQLite refused for a lock another connection holds (the read may be retried).
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Store for SqliteStore {
    async fn health(&self) -> aecl_engine::StoreHealth {
        health::health(self).await
    }

    async fn writer_queue_depth(&self) -> u64 {
        self.inner.writer.depth()
    }

    async fn load_run(&self, run: &str) -> Result<RunSnapshot, StoreError> {
        runs::load_run(self, run).await
    }

    async fn commit_run_event(&self, commit: RunCommit) -> Result<Committed, StoreError> {
        runs::commit_run_event(self, commit).await
    }

    async fn release_slots(&self, holder: &str) -> Result<(), StoreError> {
        runs::release_slots(self, holder).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<u64, StoreError> {
        audit::append_audit(self, record).await
    }

    async fn begin_effect(&self, effect: NewEffect) -> Result<Begun, StoreError> {
        effects::begin_effect(self, effect).await
    }

    async fn dispatch_effect(&self, id: &str) -> Result<(), StoreError> {
        effects::dispatch_effect(self, id).await
    }

    async fn dispatch_effect_with_grant(
        &self,
        id: &str,
        grant: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<(), GrantRefusal>, StoreError> {
        grants::dispatch_effect_with_grant(self, id, grant, digest, revision, at).await
    }

    async fn finish_effect(&self, id: &str, end: EffectEnd) -> Result<(), StoreError> {
        effects::finish_effect(self, id, end).await
    }

    async fn finish_call(&self, end: CallEnd) -> Result<u64, StoreError> {
        runs::finish_call(self, end).await
    }

    async fn effect(&self, id: &str) -> Result<Option<Effect>, StoreError> {
        effects::effect(self, id).await
    }

    async fn effect_by_key(&self, run: &str, key: &str) -> Result<Option<Effect>, StoreError> {
        effects::effect_by_key(self, run, key).await
    }

    async fn run_effects(&self, run: &str) -> Result<Vec<Effect>, StoreError> {
        effects::run_effects(self, run).await
    }

    async fn recover_effects(&self, node: &str, at: Timestamp) -> Result<Vec<Effect>, StoreError> {
        effects::recover_effects(self, node, at).await
    }

    async fn unresolved_effects(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Effect>, StoreError> {
        effects::unresolved_effects(self, after, limit).await
    }

    async fn reconcile_effect(&self, r: Reconciliation) -> Result<bool, StoreError> {
        effects::reconcile_effect(self, r).await
    }

    async fn use_nonce(&self, scope: &str, nonce: &str, at: Timestamp) -> Result<bool, StoreError> {
        grants::use_nonce(self, scope, nonce, at).await
    }

    async fn put_grant(&self, grant: Grant) -> Result<(), StoreError> {
        grants::put_grant(self, grant).await
    }

    async fn consume_grant(
        &self,
        id: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<Grant, GrantRefusal>, StoreError> {
        grants::consume_grant(self, id, digest, revision, at).await
    }

    async fn spent_grant_for_call(
        &self,
        digest: &CallDigest,
    ) -> Result<Option<(Grant, Timestamp)>, StoreError> {
        grants::spent_grant_for_call(self, digest).await
    }

    async fn grant_for_call(&self, digest: &CallDigest) -> Result<Option<Grant>, StoreError> {
        grants::grant_for_call(self, digest).await
    }

    async fn void_grants(
        &self,
        digest: &CallDigest,
        voiding: Voiding,
    ) -> Result<Vec<Grant>, StoreError> {
        grants::void_grants(self, digest, voiding).await
    }

    async fn put_approval(&self, approval: Approval) -> Result<(), StoreError> {
        approvals::put_approval(self, approval).await
    }

    async fn file_approval(
        &self,
        approval: Approval,
        voiding: Voiding,
    ) -> Result<Superseded, StoreError> {
        approvals::file_approval(self, approval, voiding).await
    }

    async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        approvals::approval(self, id).await
    }

    async fn approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<Approval>, StoreError> {
        approvals::approvals(self, pending_only, limit).await
    }

    async fn resolve_approval(
        &self,
        id: &str,
        status: ApprovalStatus,
        by: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        approvals::resolve_approval(self, id, status, by, reason).await
    }

    async fn answer_approval(
        &self,
        id: &str,
        answer: Answer,
    ) -> Result<Option<Vec<Grant>>, StoreError> {
        approvals::answer_approval(self, id, answer).await
    }

    async fn record_vote(
        &self,
        id: &str,
        expected: Option<&str>,
        votes: &str,
    ) -> Result<bool, StoreError> {
        approvals::record_vote(self, id, expected, votes).await
    }

    async fn rejections_for(
        &self,
        digest: &CallDigest,
        since: Timestamp,
        at: Timestamp,
    ) -> Result<Vec<Approval>, StoreError> {
        approvals::rejections_for(self, digest, since, at).await
    }

    async fn audit_records(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        audit::audit_records(self, from, limit).await
    }

    async fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        audit::audit_checkpoints(self).await
    }

    async fn newest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        audit::newest_checkpoint(self).await
    }

    async fn pending_approval_for(
        &self,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        approvals::pending_approval_for(self, digest, revision, at).await
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
        self.read_here(move |conn| revocation::first_revoked(conn, &ids)).await
    }
}
