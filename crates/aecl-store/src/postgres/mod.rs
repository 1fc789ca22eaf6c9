//! The PostgreSQL store: for several engine instances (replicas) on one database. Every
//! method is one transaction that locks what it checks (rows `FOR UPDATE`, or an advisory
//! lock where there is no row yet), so the guarantees of the store port hold across
//! instances and not only within one process: see `runs`, `effects`, `grants`, `approvals`
//! and `writer`. The decision path's commonest statements, plain run appends and
//! revocation checks, are shared by the requests waiting together (`batch`).
//!
//! Audit records go through one committer task per store, which group-commits them with
//! one signed checkpoint per batch; the instances' batches are serialised by the lock on
//! the log's head row.

mod approvals;
mod batch;
mod effects;
mod grants;
mod log_end;
mod revocation;
mod runs;
mod schema;
mod shape;
mod standing;
mod writer;

use std::str::FromStr;
use std::sync::Arc;

use aecl_audit::{AuditRecord, StoredRecord};
use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{
    Answer, Approval, ApprovalStatus, Begun, CallEnd, Committed, Durability, Effect, EffectEnd,
    Grant, GrantRefusal, NewEffect, Reconciliation, RunCommit, RunSnapshot, StandingGrant, Store,
    StoreError, Superseded, Voiding,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio::sync::oneshot;

use crate::event_seal::EventSeal;
use crate::{AuditConfig, backend, hash_of};

/// Connections one store keeps at most. Every method holds one for a single short
/// transaction, and the audit committer one more while it commits a batch.
const POOL_SIZE: u32 = 16;

/// A pooled connection idle for this long is pinged before it is handed out again.
const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// The pool's settings, `max` connections at most. By default sqlx pings every connection
/// it hands out: a round trip on the request's path before each query, costing both sides
/// more than most of aecl's statements do (15 % of the server's CPU per decision). Only a
/// connection idle for [`PING_AFTER_IDLE`] is pinged now, as connection pools commonly do.
/// The price: a connection that broke since its last use (the database restarted) fails
/// its next query, an error and so a refusal, never an answer; sqlx pings every connection
/// that comes back and drops a broken one, so each costs one error at most
/// (`tests/it/pool.rs`).
fn pool_options(max: u32) -> PgPoolOptions {
    PgPoolOptions::new().max_connections(max).test_before_acquire(false).before_acquire(
        |conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        },
    )
}

/// The PostgreSQL implementation of the store port. Cheap to clone: clones share the
/// connection pool and the audit committer.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    /// The database, without its password, for messages.
    db: String,
    audit: writer::Queue,
    /// The key the newest checkpoint must verify under (the write probe's check).
    key: aecl_audit::VerifierKey,
    /// Seals the runs' events this store writes, and checks those it reads.
    events: EventSeal,
    /// Plain run appends, batched (`runs::appender`).
    appends: batch::Batcher<runs::Append, Committed>,
    /// Revocation checks, batched (`revocation::checker`).
    revocations: batch::Batcher<Vec<String>, Option<String>>,
    /// The last write probe of `/healthz` and when it ran (at most one a second).
    probe: tokio::sync::Mutex<Option<(std::time::Instant, Result<(), String>)>>,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// brings its schema up to date and starts the audit committer on the current Tokio
    /// runtime. Several instances may open one database at once. Refused when the stored
    /// head is not exactly what the newest stored checkpoint, signed by this store's key,
    /// signed, with the records ending where it ends (`resume.rs`).
    pub async fn open(url: &str, audit: AuditConfig) -> Result<PostgresStore, StoreError> {
        let pool = pool_options(POOL_SIZE)
            .connect(url)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        schema::migrate(&pool).await?;
        shape::check_shape(&mut *pool.acquire().await.map_err(backend)?).await?;
        // Nothing is signed over a log changed outside aecl (`resume.rs`): checked here, so
        // that a refused log stops the start, and again by the committer whenever the head
        // it finds is not the one it left.
        let db = crate::any::without_password(url);
        let key = audit.signer.verifier();
        let verified = writer::check_head(&pool, &db, &key).await?;
        let events = EventSeal::new(&audit.signer);
        let audit = writer::spawn(pool.clone(), audit, db.clone(), verified);
        let probe = tokio::sync::Mutex::new(None);
        let appends = runs::appender(pool.clone());
        let revocations = revocation::checker(pool.clone());
        let inner = Inner { pool, db, audit, key, events, appends, revocations, probe };
        Ok(PostgresStore { inner: Arc::new(inner) })
    }

    /// Connects for reading the audit log only (`aecl audit verify` and friends): no
    /// migration, no committer, no key, and every transaction read-only.
    pub async fn open_reader(url: &str) -> Result<PostgresReader, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("bad PostgreSQL URL: {e}")))?
            .options([("default_transaction_read_only", "on")]);
        let pool = pool_options(2)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        let has_schema: bool =
            sqlx::query_scalar("SELECT to_regclass('aecl_schema') IS NOT NULL AND to_regclass('audit_log') IS NOT NULL")
                .fetch_one(&pool)
                .await
                .map_err(backend)?;
        if !has_schema {
            return Err(StoreError::Backend("the database holds no aecl audit log".to_owned()));
        }
        // A trigger or a replaced function may have kept records from the log: `verify`
        // says so rather than pass what is left.
        shape::check_shape(&mut *pool.acquire().await.map_err(backend)?).await?;
        Ok(PostgresReader { pool })
    }

    fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Whether the audit log ends where its stored head says (its last record is the
    /// head's, by number and chain hash, and its newest checkpoint signs the head),
    /// in one snapshot: every instance appends its records, its checkpoint and the head in
    /// one transaction. A record past the head was written by something other than a
    /// committer, and one missing at its end (or the newest checkpoint) was removed; either
    /// stops this store's appends for good, as when a batch finds it (`log_end.rs`), so the
    /// probe sees it even before the next append. A missing head row reads as an empty one.
    /// The stored head must also extend the log this instance's committer left (read
    /// first: it only grows once a batch has committed): another instance may append to
    /// it, nothing else may cut it back or rewrite it.
    async fn log_matches_its_head(&self) -> Result<(), String> {
        let (left, own_head) = self.inner.audit.left();
        let probe = |e: sqlx::Error| format!("write probe: {e}");
        let ends = log_end::read_ends(self.pool()).await.map_err(probe)?;
        let mut conn = self.pool().acquire().await.map_err(probe)?;
        if let Some(problem) = shape::problem(&mut conn).await.map_err(probe)? {
            return Err(self.inner.audit.fail_with(problem));
        }
        let stored = Some(ends.size).filter(|_| ends.has_head);
        // The store against itself first: its reasons name the ends that disagree.
        ends.check(&self.inner.db, &self.inner.key)
            .map_err(|moved| self.inner.audit.fail_with(moved))?;
        log_end::still_extends(&mut conn, &self.inner.db, (left, &own_head), stored)
            .await
            .map_err(probe)?
            .map_err(|moved| self.inner.audit.fail(&moved))
    }
}

/// Read access to an audit log on PostgreSQL without a committer (for the CLI).
#[derive(Debug, Clone)]
pub struct PostgresReader {
    pool: PgPool,
}

impl PostgresReader {
    pub async fn audit_records(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        audit_records(&self.pool, from, limit).await
    }

    pub async fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        audit_checkpoints(&self.pool).await
    }

    /// The log's head as stored (`LogState::new()` when the row is missing), which
    /// verification compares with the records.
    pub async fn audit_head(&self) -> Result<aecl_audit::LogState, StoreError> {
        let row = sqlx::query("SELECT size, head, nodes FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(aecl_audit::LogState::new()) };
        let size: i64 = row.try_get(0).map_err(backend)?;
        let head: Vec<u8> = row.try_get(1).map_err(backend)?;
        let nodes: Vec<u8> = row.try_get(2).map_err(backend)?;
        crate::head::decode(crate::to_u64(size)?, &head, &nodes)
    }
}

async fn audit_records(
    pool: &PgPool,
    from: u64,
    limit: usize,
) -> Result<Vec<StoredRecord>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT seq, record, chain_hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
    )
    .bind(crate::lowest_seq(from))
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let seq: i64 = row.try_get(0).map_err(backend)?;
        let record: Vec<u8> = row.try_get(1).map_err(backend)?;
        let chain: Vec<u8> = row.try_get(2).map_err(backend)?;
        // A negative seq cannot be ours.
        let Ok(seq) = u64::try_from(seq) else {
            return Err(StoreError::Corrupt(format!(
                "the audit log holds a record numbered {seq}, which aecl never writes"
            )));
        };
        out.push((seq, record, hash_of(&chain)));
    }
    Ok(out)
}

async fn audit_checkpoints(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT size, note FROM audit_checkpoints ORDER BY size")
            .fetch_all(pool)
            .await
            .map_err(backend)?;
    rows.into_iter().map(|(size, note)| crate::head::checkpoint_row(size, note)).collect()
}

/// The newest checkpoint, whichever instance committed it: `size` is the table's key, so
/// this is one step down its index however long the log.
async fn newest_checkpoint(pool: &PgPool) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
        .fetch_optional(pool)
        .await
        .map_err(backend)
}

impl Store for PostgresStore {
    async fn spent_grant_for_call(
        &self,
        digest: &CallDigest,
    ) -> Result<Option<(Grant, Timestamp)>, StoreError> {
        grants::spent_grant_for_call(self.pool(), digest).await
    }

    async fn health(&self) -> aecl_engine::StoreHealth {
        let audit = &self.inner.audit;
        // A log found changed under the committer is not probed again: nothing is appended
        // to it until it is restored and aecl restarted.
        let write_probe = if let Some(reason) = audit.failed() {
            Err(reason.to_owned())
        } else {
            let mut probe = self.inner.probe.lock().await;
            match &*probe {
                // Only a success is reused: a failing store is probed again every time.
                Some((at, Ok(()))) if at.elapsed() < std::time::Duration::from_secs(1) => Ok(()),
                _ => {
                    // A real write, committed: a row of its own in `rate_limits`, whose keys
                    // are otherwise `agent:` and `action:`.
                    let written = sqlx::query(
                        "INSERT INTO rate_limits (key, tat) VALUES ('aecl:healthz', 0)
                         ON CONFLICT (key) DO UPDATE SET tat = rate_limits.tat + 1",
                    )
                    .execute(self.pool())
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("write probe: {e}"));
                    let result = match written {
                        Ok(()) => self.log_matches_its_head().await,
                        Err(e) => Err(e),
                    };
                    *probe = Some((std::time::Instant::now(), result.clone()));
                    result
                }
            }
        };
        let failed = audit.failed().map(str::to_owned).or_else(|| {
            audit
                .is_closed()
                .then(|| "the audit committer has stopped: nothing can be recorded".to_owned())
        });
        aecl_engine::StoreHealth { failed, last_commit_error: None, write_probe }
    }

    async fn writer_queue_depth(&self) -> u64 {
        // This instance's audit records only: every other method writes in a transaction
        // of its own, with no queue. Other instances count theirs.
        self.inner.audit.depth()
    }

    async fn load_run(&self, run: &str) -> Result<RunSnapshot, StoreError> {
        runs::load_run(self.pool(), &self.inner.events, run).await
    }

    async fn commit_run_event(&self, mut commit: RunCommit) -> Result<Committed, StoreError> {
        // The audit log has its own committer (one history for every instance, under the
        // head row's lock); the record follows the run's commit, before the answer.
        let audit = commit.audit.take();
        // A decision whose record would be refused is refused before its run's commit, so
        // that a store that appends nothing any more writes nothing for it either.
        if audit.is_some()
            && let Some(reason) = self.inner.audit.failed()
        {
            return Err(StoreError::Backend(reason.to_owned()));
        }
        // The end of a read that already ran follows in a transaction of its own, as an
        // end does here (the log's records cannot share the run's transaction anyway): the
        // answer still waits for the outcome record's one synced commit.
        let end = commit.end.take();
        if audit.is_some() {
            // The record's synchronous commit, awaited below before anything is answered or
            // dispatched, flushes the WAL over the run's: one fsync wait instead of two.
            commit.durability = Durability::Ordered;
        }
        // INVARIANT: an effect is dispatched only once its decision record is durable. Here
        // the record comes after the commit, so the effect is committed `pending` and
        // dispatched after the record: if the append fails, recovery finds it pending and
        // records it as never run, which it was not.
        let dispatch = commit.effect.as_mut().filter(|e| e.dispatched).map(|effect| {
            effect.dispatched = false;
            effect.id.clone()
        });
        match runs::commit_run_event(self.pool(), &self.inner.appends, &self.inner.events, commit)
            .await?
        {
            Committed::Done { version, .. } => {
                let audit_seq = match audit {
                    Some(record) => Some(self.append_audit(record).await?),
                    None => None,
                };
                if let Some(id) = dispatch {
                    effects::dispatch_effect(self.pool(), &id).await?;
                }
                let version = match end {
                    Some(end) => self.finish_call(Arc::unwrap_or_clone(end)).await?,
                    None => version,
                };
                Ok(Committed::Done { version, audit_seq })
            }
            other => Ok(other),
        }
    }

    async fn finish_call(&self, end: CallEnd) -> Result<u64, StoreError> {
        // As for `commit_run_event`: the record follows the commit, before the answer. An
        // ordered end's transaction commits asynchronously, and the record's synchronous
        // commit flushes the WAL over it; the record itself is still waited for, because
        // the log's committer is a task that a closing process would drop with its queue.
        let version = runs::finish_call(self.pool(), &self.inner.events, &end).await?;
        self.append_audit(end.audit).await?;
        Ok(version)
    }

    async fn release_slots(&self, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM slots WHERE holder = $1")
            .bind(holder)
            .execute(self.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<u64, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.inner.audit.send(writer::Job { record, answer })?;
        answered.await.map_err(|_| {
            StoreError::WriterStopped("the audit committer dropped a record".to_owned())
        })?
    }

    async fn begin_effect(&self, effect: NewEffect) -> Result<Begun, StoreError> {
        effects::begin_effect(self.pool(), effect).await
    }

    async fn dispatch_effect(&self, id: &str) -> Result<(), StoreError> {
        effects::dispatch_effect(self.pool(), id).await
    }

    async fn finish_effect(&self, id: &str, end: EffectEnd) -> Result<(), StoreError> {
        effects::finish_effect(self.pool(), id, end).await
    }

    async fn effect(&self, id: &str) -> Result<Option<Effect>, StoreError> {
        effects::effect(self.pool(), id).await
    }

    async fn effect_by_key(&self, run: &str, key: &str) -> Result<Option<Effect>, StoreError> {
        effects::effect_by_key(self.pool(), run, key).await
    }

    async fn run_effects(&self, run: &str) -> Result<Vec<Effect>, StoreError> {
        effects::run_effects(self.pool(), run).await
    }

    async fn recover_effects(&self, node: &str, at: Timestamp) -> Result<Vec<Effect>, StoreError> {
        effects::recover_effects(self.pool(), node, at).await
    }

    async fn unresolved_effects(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Effect>, StoreError> {
        effects::unresolved_effects(self.pool(), after, limit).await
    }

    async fn reconcile_effect(&self, r: Reconciliation) -> Result<bool, StoreError> {
        // As for `finish_call`: the record follows the commit, before the answer; only
        // the reconciler whose guarded update moved the effect appends it.
        let moved = effects::reconcile_effect(self.pool(), &r.effect_id, &r.end).await?;
        if moved {
            self.append_audit(r.audit).await?;
        }
        Ok(moved)
    }

    async fn use_nonce(&self, scope: &str, nonce: &str, at: Timestamp) -> Result<bool, StoreError> {
        grants::use_nonce(self.pool(), scope, nonce, at).await
    }

    async fn put_grant(&self, grant: Grant) -> Result<(), StoreError> {
        grants::put_grant(self.pool(), grant).await
    }

    async fn consume_grant(
        &self,
        id: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<Grant, GrantRefusal>, StoreError> {
        grants::consume_grant(self.pool(), id, digest, revision, at).await
    }

    async fn grant_for_call(&self, digest: &CallDigest) -> Result<Option<Grant>, StoreError> {
        grants::grant_for_call(self.pool(), digest).await
    }

    async fn dispatch_effect_with_grant(
        &self,
        id: &str,
        grant: &str,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Result<(), GrantRefusal>, StoreError> {
        grants::dispatch_with_grant(self.pool(), id, grant, digest, revision, at).await
    }

    async fn void_grants(
        &self,
        digest: &CallDigest,
        voiding: Voiding,
    ) -> Result<Vec<Grant>, StoreError> {
        grants::void_grants(self.pool(), digest, voiding).await
    }

    async fn put_approval(&self, approval: Approval) -> Result<(), StoreError> {
        approvals::put_approval(self.pool(), approval).await
    }

    async fn file_approval(
        &self,
        approval: Approval,
        voiding: Voiding,
    ) -> Result<Superseded, StoreError> {
        approvals::file_approval(self.pool(), approval, voiding).await
    }

    async fn approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<Approval>, StoreError> {
        approvals::approvals(self.pool(), pending_only, limit).await
    }

    async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        approvals::approval(self.pool(), id).await
    }

    async fn resolve_approval(
        &self,
        id: &str,
        status: ApprovalStatus,
        by: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        approvals::resolve_approval(self.pool(), id, status, by, reason).await
    }

    async fn answer_approval(
        &self,
        id: &str,
        answer: Answer,
    ) -> Result<Option<Vec<Grant>>, StoreError> {
        approvals::answer_approval(self.pool(), id, answer).await
    }

    async fn record_vote(
        &self,
        id: &str,
        expected: Option<&str>,
        votes: &str,
    ) -> Result<bool, StoreError> {
        approvals::record_vote(self.pool(), id, expected, votes).await
    }

    async fn rejections_for(
        &self,
        digest: &CallDigest,
        since: Timestamp,
        at: Timestamp,
    ) -> Result<Vec<Approval>, StoreError> {
        approvals::rejections_for(self.pool(), digest, since, at).await
    }

    async fn audit_records(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        audit_records(self.pool(), from, limit).await
    }

    async fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        audit_checkpoints(self.pool()).await
    }

    async fn newest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        newest_checkpoint(self.pool()).await
    }

    async fn pending_approval_for(
        &self,
        digest: &CallDigest,
        revision: &Revision,
        at: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        approvals::pending_approval_for(self.pool(), digest, revision, at).await
    }

    async fn put_standing_grant(&self, grant: StandingGrant) -> Result<(), StoreError> {
        standing::put(self.pool(), grant).await
    }

    async fn standing_grants(
        &self,
        agent_action: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<StandingGrant>, StoreError> {
        standing::list(self.pool(), agent_action, limit).await
    }

    async fn use_standing_grant(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        standing::use_one(self.pool(), id, at).await
    }

    async fn revoke_standing_grant(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        standing::revoke(self.pool(), id, at).await
    }

    async fn revoke_credential(
        &self,
        id: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<bool, StoreError> {
        revocation::revoke(self.pool(), id, at, by).await
    }

    async fn revoked_credential(&self, ids: &[String]) -> Result<Option<String>, StoreError> {
        revocation::first_revoked(&self.inner.revocations, ids).await
    }
}
