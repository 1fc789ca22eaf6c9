//! The PostgreSQL audit committer: one task per `PostgresStore` takes whatever records
//! producers queued while its previous commit ran and appends them in one transaction with
//! one signed checkpoint (group commit).
//!
//! Several instances append to one log. Each batch locks the log's head row
//! (`audit_head`, `FOR UPDATE`) and resumes the chain and the Merkle range from it, so the
//! instances' batches are serialised by the database and the log keeps one history with
//! contiguous sequence numbers, whoever appends. Nothing is acknowledged before the
//! transaction commits; a failed commit answers every record of its batch with the error,
//! and the next batch starts again from the stored head. [`Queue`] counts the records sent
//! and not yet answered, for `/metrics`.
//!
//! The stored head is resumed only when it is the state this committer last committed, or
//! the state the newest stored checkpoint signed with the deployment's key (another
//! instance's batch), the records ending where it ends (`resume.rs`, checked at open by
//! [`check_head`] too). A head recomputed by anyone else, while the instances run or
//! not, fails the batch: no committer signs a record it did not append or see signed.
//!
//! Whatever head it resumes, a batch first checks under the head's lock that the stored
//! log ends where the head does (its last record is the head's, by number and chain hash):
//! a record removed from the end or written past it by anything else fails the batch and
//! every later one of this store (`log_end.rs`), as the same check does on SQLite.
//!
//! The commonest batch, over the head this committer left, is one round trip: the function
//! of migration 011 locks the head row, compares it with that state and the newest
//! checkpoint with the one that signed it, checks the log's end, and writes the batch only
//! if all hold, in its own synchronously committed transaction.
//! Any other head is answered "not written" and the batch goes the way above: `BEGIN`, the
//! head's lock, the log's end and newest checkpoint (for a head another instance left),
//! then the same function, which makes the check and all the writes in one statement, and
//! `COMMIT`.

use std::sync::Arc;

use aecl_audit::merkle::leaf_hash;
use aecl_audit::{
    AddCheckpoint, AuditRecord, CheckpointSink, LogState, SignerKey, prove_consistency_from,
    sign_checkpoint,
};
use aecl_core::Timestamp;
use aecl_engine::StoreError;
use sqlx::{Connection, PgConnection, PgPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::batch::{Dedicated, STATEMENT_DEADLINE, unanswered};
use super::log_end::{self, CheckpointMoved, End, Left, LogEndMoved, StickyFailure};
use crate::resume::{Disagreement, Tip, refusal};
use crate::{AuditConfig, QueueDepth, backend, head, to_i64};

/// How often a running committer checks the schema and the log's extension itself.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Records taken into one transaction at most.
const MAX_BATCH: usize = 4096;

/// One record to append, and where to send its sequence number once it is durable.
#[derive(Debug)]
pub(crate) struct Job {
    pub record: AuditRecord,
    pub answer: oneshot::Sender<Result<u64, StoreError>>,
}

/// The producers' end of the committer's channel, which counts what it sends.
#[derive(Debug)]
pub(crate) struct Queue {
    sender: mpsc::UnboundedSender<Job>,
    depth: QueueDepth,
    /// Set once the log was found changed under the committer (`log_end.rs`).
    failure: StickyFailure,
    /// The log as the committer last left or checked it.
    left: Left,
}

impl Queue {
    /// Hands `job` to the committer, counted until its batch has committed or failed; at
    /// once refused, with no round trip, once the store appends nothing any more.
    pub(crate) fn send(&self, job: Job) -> Result<(), StoreError> {
        if let Some(refused) = self.failure.refusal() {
            return Err(refused);
        }
        self.depth.sending();
        self.sender.send(job).map_err(|_| {
            self.depth.finished(1);
            StoreError::WriterStopped("the audit committer has ended".to_owned())
        })
    }

    /// Records sent and not yet committed or failed.
    pub(crate) fn depth(&self) -> u64 {
        self.depth.get()
    }

    /// Whether the committer has stopped (nothing can be recorded any more).
    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Why every append of this store is refused, once the log was found changed under it.
    pub(crate) fn failed(&self) -> Option<&str> {
        self.failure.reason()
    }

    /// Makes every later append fail because of `moved` (found by the write probe); the
    /// reason to report.
    pub(crate) fn fail_with(&self, moved: String) -> String {
        self.failure.fail_with(moved)
    }

    /// Makes every later append fail because of `moved` (found by the write probe).
    pub(crate) fn fail(&self, moved: &dyn std::fmt::Display) -> String {
        self.failure.fail(moved)
    }

    /// The log as the committer last left or checked it: its size and last chain hash.
    pub(crate) fn left(&self) -> (i64, Vec<u8>) {
        self.left.get()
    }
}

/// A head checked against the newest stored checkpoint, and that checkpoint.
#[derive(Debug)]
pub(crate) struct Verified {
    log: LogState,
    checkpoint: Option<String>,
}

/// Checks that the log of the database `db` (named without its password) may be resumed
/// (see the module's header): the state it would resume.
pub(crate) async fn check_head(
    pool: &PgPool,
    db: &str,
    key: &aecl_audit::VerifierKey,
) -> Result<Verified, StoreError> {
    let unreadable = |e: StoreError| refusal(db, &Disagreement::BadHead(e.to_string()));
    let mut tx = pool.begin().await.map_err(backend)?;
    // Shared: no committer appends while the rest is read, so the reads agree.
    let head = sqlx::query("SELECT size, head, nodes FROM audit_head WHERE id = 1 FOR SHARE")
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .map(|row| head_row(&row))
        .transpose()
        .map_err(unreadable)?;
    let tip = read_tip(&mut tx, head).await.map_err(unreadable)?;
    tx.commit().await.map_err(backend)?;
    let log = resumable(&tip, key, db)?;
    Ok(Verified { log, checkpoint: tip.newest_checkpoint })
}

/// The head row's columns.
fn head_row(row: &sqlx::postgres::PgRow) -> Result<(i64, Vec<u8>, Vec<u8>), StoreError> {
    Ok((
        row.try_get(0).map_err(backend)?,
        row.try_get(1).map_err(backend)?,
        row.try_get(2).map_err(backend)?,
    ))
}

/// The rest of the log's end, after its head row was locked: one statement, of index steps.
async fn read_tip(
    conn: &mut PgConnection,
    head: Option<(i64, Vec<u8>, Vec<u8>)>,
) -> Result<Tip, StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1),
                (SELECT seq FROM audit_log ORDER BY seq LIMIT 1),
                (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1),
                (SELECT chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1)",
    )
    .fetch_one(conn)
    .await
    .map_err(backend)?;
    let last_seq: Option<i64> = row.try_get(2).map_err(backend)?;
    let last_chain: Option<Vec<u8>> = row.try_get(3).map_err(backend)?;
    Ok(Tip {
        head,
        newest_checkpoint: row.try_get(0).map_err(backend)?,
        first_seq: row.try_get(1).map_err(backend)?,
        last: last_seq.map(|seq| (seq, last_chain.unwrap_or_default())),
    })
}

/// [`Tip::resumable`], where a log without its head row is refused even when empty: the
/// first migration writes it, and committers lock it.
fn resumable(tip: &Tip, key: &aecl_audit::VerifierKey, db: &str) -> Result<LogState, StoreError> {
    if tip.head.is_none() {
        let why = "the head row is missing (the first migration writes it): it was deleted \
                   outside aecl";
        return Err(refusal(db, &Disagreement::BadHead(why.to_owned())));
    }
    tip.resumable(key).map_err(|why| refusal(db, &why))
}

/// Starts the committer task on the current Tokio runtime. It stops when every sender is
/// dropped. `verified` is the state [`check_head`] found; `db` names the database in errors.
pub(crate) fn spawn(pool: PgPool, audit: AuditConfig, db: String, verified: Verified) -> Queue {
    let (sender, receiver) = mpsc::unbounded_channel();
    let depth = QueueDepth::default();
    let failure = StickyFailure::default();
    let left = Left::default();
    left.set(to_i64(verified.log.next_seq()), &verified.log.head());
    let committer = Committer {
        pool,
        db,
        key: audit.signer.verifier(),
        origin: audit.origin,
        signer: audit.signer,
        publish: audit.publish,
        queued: depth.clone(),
        left: left.clone(),
        rechecked: std::time::Instant::now(),
        resumable: verified.log,
        checkpoint: verified.checkpoint,
        others_appending: false,
        failure: failure.clone(),
    };
    tokio::spawn(committer.run(receiver));
    Queue { sender, depth, failure, left }
}

struct Committer {
    pool: PgPool,
    /// The database, without its password, for errors.
    db: String,
    /// The key the newest checkpoint must verify under.
    key: aecl_audit::VerifierKey,
    /// The head this committer last committed or checked: resumed without a check.
    resumable: LogState,
    /// `resumable`'s size and chain hash, for the write probe.
    left: Left,
    /// When the schema and the log's extension were last checked (`recheck`).
    rechecked: std::time::Instant,
    /// The checkpoint over `resumable`, as stored: the last this committer signed, or the
    /// one it checked the head against.
    checkpoint: Option<String>,
    /// Whether the last head this committer found was another instance's: then the one-call
    /// batch (which is numbered and signed over this committer's own head) would be
    /// refused, so batches take the locked transaction until it finds this committer's head
    /// again.
    others_appending: bool,
    origin: String,
    signer: SignerKey,
    publish: Option<Arc<dyn CheckpointSink>>,
    /// The producers' count of records not yet answered, which the committer takes each
    /// batch off once it has committed or failed.
    queued: QueueDepth,
    /// Set once a batch found the log changed under it: every later batch is refused
    /// before it reaches the database.
    failure: StickyFailure,
}

impl Committer {
    async fn run(mut self, mut receiver: mpsc::UnboundedReceiver<Job>) {
        let mut jobs = Vec::with_capacity(64);
        let mut conn = Dedicated::new(self.pool.clone());
        while let Some(first) = receiver.recv().await {
            jobs.push(first);
            while jobs.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.commit(&mut jobs, &mut conn).await;
        }
    }

    async fn commit(&mut self, jobs: &mut Vec<Job>, conn: &mut Dedicated) {
        let mut records: Vec<AuditRecord> = Vec::with_capacity(jobs.len());
        let mut answers = Vec::with_capacity(jobs.len());
        for job in jobs.drain(..) {
            records.push(job.record);
            answers.push(job.answer);
        }
        // Once a second, before a batch: the schema is still aecl's and the stored log still
        // extends the one this committer left. A function replaced to answer "appended"
        // without writing, or a trigger dropping the rows, lies to the batches themselves.
        if self.rechecked.elapsed() >= RECHECK && self.failure.refusal().is_none() {
            self.rechecked = std::time::Instant::now();
            if let Err(error) = self.recheck(conn).await {
                tracing::warn!(%error, "the audit log's periodic check could not run");
            }
        }
        // Bounded as the batchers' statements are (`batch.rs`): the log's producers all wait
        // on this batch. Records queued before the store stopped appending are refused here.
        let outcome = match self.failure.refusal() {
            Some(refused) => Err(refused),
            None => tokio::time::timeout(STATEMENT_DEADLINE, self.transaction(&mut records, conn))
                .await
                .unwrap_or_else(|_| Err(unanswered())),
        };
        if outcome.is_err() {
            // Whatever failed, the next batch starts on a fresh connection.
            conn.discard();
        }
        // Before any answer, so a producer that has its answer is no longer counted.
        self.queued.finished(answers.len());
        match outcome {
            Ok(results) => {
                for (answer, result) in answers.into_iter().zip(results) {
                    // A producer that stopped waiting has nothing to be told.
                    let _ = answer.send(result);
                }
            }
            Err(error) => {
                // The sticky reason was logged once when it was found, and is the answer as
                // it stands (every later append gets the same words).
                let message = match self.failure.reason() {
                    Some(reason) => reason.to_owned(),
                    None => {
                        tracing::error!(%error, records = answers.len(), "PostgreSQL audit group commit failed");
                        format!("audit commit failed: {error}")
                    }
                };
                for answer in answers {
                    let _ = answer.send(Err(StoreError::Backend(message.clone())));
                }
            }
        }
    }

    /// The schema and the log's extension checked (see `commit`); a change found is sticky.
    /// An error is one of reaching the database, which the batch will meet too.
    async fn recheck(&mut self, conn: &mut Dedicated) -> Result<(), StoreError> {
        let conn = conn.get().await?;
        if let Some(problem) = super::shape::problem(&mut *conn).await.map_err(backend)? {
            self.failure.fail_with(problem);
            return Ok(());
        }
        let stored: Option<i64> = sqlx::query_scalar("SELECT size FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
        let left = (to_i64(self.resumable.next_seq()), self.resumable.head());
        let extended = log_end::still_extends(conn, &self.db, (left.0, &left.1), stored).await;
        if let Err(moved) = extended.map_err(backend)? {
            self.failure.fail(&moved);
        }
        Ok(())
    }

    /// Appends the batch. The outer error fails the whole batch; an inner one is a record
    /// that could not be encoded (it gets no sequence number and the others still commit).
    async fn transaction(
        &mut self,
        records: &mut [AuditRecord],
        conn: &mut Dedicated,
    ) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
        if !self.others_appending {
            match self.extend_own_head(records, conn).await? {
                Some(results) => return Ok(results),
                None => self.others_appending = true,
            }
        }
        self.locked_transaction(records, conn).await
    }

    /// The batch over the head this committer left, in one round trip (migration 011):
    /// `None`, with nothing written, when the stored head is another.
    async fn extend_own_head(
        &mut self,
        records: &mut [AuditRecord],
        conn: &mut Dedicated,
    ) -> Result<Option<Vec<Result<u64, StoreError>>>, StoreError> {
        let before = self.resumable.clone();
        let batch = self.prepare(before.clone(), self.checkpoint.as_deref(), records)?;
        if batch.seqs.is_empty() {
            return Ok(Some(batch.results));
        }
        let checkpoint = self.checkpoint.clone();
        if !self.append_at_end(conn.get().await?, &before, checkpoint.as_deref(), &batch).await? {
            return Ok(None);
        }
        Ok(Some(self.committed(before, batch)))
    }

    /// Writes `batch` over `before` with migration 011's function, in one statement: the
    /// head row locked (or already locked by the caller's transaction) and compared with
    /// `before`, then the newest checkpoint compared with `checkpoint` (the one that signed
    /// `before`) and the log's end checked against the head, before anything is written.
    /// False, with nothing written, when the head is another; an error, sticky for this
    /// store, when the newest checkpoint is another or the log does not end where the head
    /// does (`log_end.rs`).
    async fn append_at_end(
        &self,
        conn: &mut PgConnection,
        before: &LogState,
        checkpoint: Option<&str>,
        batch: &Batch,
    ) -> Result<bool, StoreError> {
        let (old_head, old_nodes) = head::encode(before);
        let (new_head, new_nodes) = head::encode(&batch.log);
        let size = to_i64(before.next_seq());
        let (outcome, last_seq, last_chain): (String, Option<i64>, Option<Vec<u8>>) =
            sqlx::query_as(
                "SELECT outcome, last_seq, last_chain
                 FROM aecl_append_audit_signed_end($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(size)
            .bind(old_head.to_vec())
            .bind(old_nodes)
            .bind(checkpoint)
            .bind(&batch.seqs)
            .bind(&batch.canonical)
            .bind(&batch.chain)
            .bind(batch.size)
            .bind(&batch.note)
            .bind(new_head.to_vec())
            .bind(new_nodes)
            .fetch_one(conn)
            .await
            .map_err(backend)?;
        match outcome.as_str() {
            "appended" => Ok(true),
            "other_head" => Ok(false),
            "log_end" => Err(StoreError::Backend(self.failure.fail(&LogEndMoved {
                db: self.db.clone(),
                stored: End(last_seq.map(|seq| (seq, last_chain.unwrap_or_default()))),
                head: End::of_head(size, &old_head),
            }))),
            "checkpoint" => Err(StoreError::Backend(self.failure.fail(&CheckpointMoved {
                db: self.db.clone(),
                size,
                found: last_seq,
            }))),
            other => Err(StoreError::Backend(format!(
                "aecl_append_audit_signed_end answered `{other}` (a schema newer than this \
                 build?)"
            ))),
        }
    }

    /// The batch in a transaction that locks the head row and resumes whatever head it
    /// holds, once checked (see the module's header).
    async fn locked_transaction(
        &mut self,
        records: &mut [AuditRecord],
        conn: &mut Dedicated,
    ) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
        let mut tx = conn.get().await?.begin().await.map_err(backend)?;
        // INVARIANT: the head row stays locked until this batch commits or rolls back, so
        // no other instance appends between reading the head and writing the new one.
        let head = sqlx::query("SELECT size, head, nodes FROM audit_head WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .map(|row| head_row(&row))
            .transpose()?;
        let stored = match &head {
            Some((size, head, nodes)) => {
                u64::try_from(*size).ok().and_then(|size| head::decode(size, head, nodes).ok())
            }
            None => None,
        };
        // INVARIANT: what this batch signs extends a head this committer wrote or checked
        // against a checkpoint signed with the key, read under the row lock.
        self.others_appending = stored.as_ref() != Some(&self.resumable);
        let decoded = stored.is_some();
        let (log, checkpoint) = match stored {
            // The log's end is checked with the writes, by the function below.
            Some(stored) if stored == self.resumable => (stored, self.checkpoint.clone()),
            _ => {
                // Another instance may have appended to the log this committer left, nothing
                // else: a head of fewer records, none, or another history is a rollback or a
                // rewrite (sticky, `log_end.rs`), however well signed the state it left.
                let left = (to_i64(self.resumable.next_seq()), self.resumable.head());
                let stored_size = head.as_ref().map(|(size, _, _)| *size).filter(|_| decoded);
                log_end::still_extends(&mut tx, &self.db, (left.0, &left.1), stored_size)
                    .await
                    .map_err(backend)?
                    .map_err(|moved| StoreError::Backend(self.failure.fail(&moved)))?;
                let tip = read_tip(&mut tx, head).await?;
                // Whoever left the head, the log must end where it does (sticky otherwise,
                // `log_end.rs`); then whether a signature vouches for the head.
                if decoded && let Some((size, head, _)) = &tip.head {
                    let (head, stored) = (End::of_head(*size, head), End(tip.last.clone()));
                    log_end::check(&self.db, head, stored)
                        .map_err(|moved| StoreError::Backend(self.failure.fail(&moved)))?;
                }
                let checked = resumable(&tip, &self.key, &self.db);
                if let Err(error) = &checked {
                    tracing::error!(%error, "the audit head was changed outside aecl");
                }
                (checked?, tip.newest_checkpoint)
            }
        };
        let before = log.clone();
        let batch = self.prepare(log, checkpoint.as_deref(), records)?;
        if batch.seqs.is_empty() {
            tx.rollback().await.map_err(backend)?;
            return Ok(batch.results);
        }
        // Records, checkpoint and head in one statement, with the log's end checked first
        // (the head's own comparison holds: this transaction has held its lock since it
        // was read). The rollback of an error is the transaction's drop.
        if !self.append_at_end(&mut tx, &before, checkpoint.as_deref(), &batch).await? {
            return Err(StoreError::Backend(
                "the audit head changed under its row lock (it could not be written back as \
                 it was read)"
                    .to_owned(),
            ));
        }
        tx.commit().await.map_err(backend)?;
        Ok(self.committed(before, batch))
    }

    /// `records` appended to `log` (numbered and hashed), with the signed checkpoint of the
    /// log after them, following `previous` (the stored checkpoint over `log`); nothing is
    /// written.
    fn prepare(
        &self,
        mut log: LogState,
        previous: Option<&str>,
        records: &mut [AuditRecord],
    ) -> Result<Batch, StoreError> {
        let mut results = Vec::with_capacity(records.len());
        let mut seqs = Vec::with_capacity(records.len());
        let mut canonical = Vec::with_capacity(records.len());
        let mut chain = Vec::with_capacity(records.len());
        let mut time: Option<Timestamp> = None;
        for record in records.iter_mut() {
            match log.append(record) {
                Ok(appended) => {
                    seqs.push(to_i64(appended.seq));
                    canonical.push(appended.canonical);
                    chain.push(appended.chain_hash.to_vec());
                    time = Some(time.map_or(record.time, |t| t.max(record.time)));
                    results.push(Ok(appended.seq));
                }
                Err(e) => results.push(Err(StoreError::Audit(e))),
            }
        }
        // The new leaves, for the consistency proof published with the checkpoint.
        let leaves: Vec<_> = match self.publish {
            Some(_) => canonical.iter().map(|bytes| leaf_hash(bytes)).collect(),
            None => Vec::new(),
        };
        let checkpoint = log.checkpoint(&self.origin, time).following(previous);
        let note = if seqs.is_empty() {
            String::new()
        } else {
            sign_checkpoint(&checkpoint, &self.signer)?
        };
        let size = to_i64(checkpoint.size);
        Ok(Batch { log, results, seqs, canonical, chain, leaves, note, size })
    }

    /// After `batch`, over `before`, committed: the committer resumes from it, and its
    /// checkpoint is published.
    fn committed(&mut self, before: LogState, batch: Batch) -> Vec<Result<u64, StoreError>> {
        self.left.set(to_i64(batch.log.next_seq()), &batch.log.head());
        self.resumable = batch.log;
        self.checkpoint = Some(batch.note.clone());
        // INVARIANT: published only once committed, so a published checkpoint is never
        // ahead of the database (which would read as a rollback).
        if let Some(sink) = &self.publish {
            match prove_consistency_from(before.range(), &batch.leaves) {
                Ok(proof) => sink.publish(AddCheckpoint {
                    old_size: before.next_seq(),
                    proof,
                    checkpoint: batch.note,
                }),
                Err(error) => tracing::error!(%error, "cannot prove the checkpoint's consistency"),
            }
        }
        batch.results
    }
}

/// A batch numbered, hashed and signed over a head, ready to write.
struct Batch {
    /// The log after the batch.
    log: LogState,
    /// Each record's sequence number, or why it could not be encoded.
    results: Vec<Result<u64, StoreError>>,
    seqs: Vec<i64>,
    canonical: Vec<Vec<u8>>,
    chain: Vec<Vec<u8>>,
    /// The leaves of `canonical`, when a checkpoint sink needs a consistency proof.
    leaves: Vec<aecl_audit::merkle::Hash>,
    /// The signed checkpoint of `log` (empty when no record could be encoded).
    note: String,
    size: i64,
}
