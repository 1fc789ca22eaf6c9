//! The SQLite writer: one thread owns the write connection and commits whatever producers
//! sent while the previous commit was running, in one transaction with one fsync (group
//! commit). Audit records appended in a batch get consecutive sequence numbers and one
//! signed checkpoint over the batch's end, written in the same transaction.
//!
//! Each job runs inside its own savepoint, so one job's failure (a constraint, a bad row)
//! is that job's error and the rest of the batch still commits. Nothing is acknowledged
//! before the transaction commits: a job's answer waits for the commit, and a failed
//! commit answers every job of the batch with the error. [`Queue`] counts the jobs sent
//! and not yet answered, for `/metrics`.
//!
//! A batch of *ordered* jobs only (`Durability::Ordered`) commits with
//! `synchronous=NORMAL`: visible at once, kept through a process crash (the WAL frames are
//! written), but not fsynced, so an OS crash or power loss may lose it, together with
//! every commit after it. The next batch with a synced job fsyncs the WAL over it.
//!
//! *Caller commits* ([`Queue::commit_here`], off unless the store is told otherwise): a
//! producer that finds the writer idle and nothing queued commits its job itself, on its
//! own thread, in the same transaction code. A process that serves one agent over stdio
//! (`aecl mcp`) sends its calls one after another, so the writer thread only added two
//! thread hand-offs to each commit. The caller blocks for the commit, fsync included,
//! which is what it awaits anyway; a server that multiplexes many requests on a few
//! threads keeps the writer thread for all of them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::Duration;

use aecl_audit::{LogState, SignerKey, sign_checkpoint};
use aecl_core::Timestamp;
use aecl_engine::StoreError;
use rusqlite::Connection;

use super::health::FileHealth;
use super::lock::WriterLock;
use crate::{AuditConfig, QueueDepth, backend, head};

/// Jobs taken into one transaction at most.
const MAX_BATCH: usize = 4096;

/// How long a batch may wait for the producers of the previous one, in all, and per step.
const MAX_GATHER: Duration = Duration::from_micros(400);
const GATHER_STEP: Duration = Duration::from_micros(25);

/// What a job answers once the batch has committed (`None`) or failed to (`Some`).
pub(crate) type Completion = Box<dyn FnOnce(Option<&str>) + Send>;

/// A job's work: runs inside the batch's transaction and returns how to answer its producer.
pub(crate) type Work = Box<dyn FnOnce(&mut Batch<'_>) -> Completion + Send>;

/// A job: its work, and whether its answer waits for an fsync (`Durability::Synced`).
pub(crate) struct Job {
    pub synced: bool,
    pub run: Work,
}

/// What a job sees.
pub(crate) struct Batch<'a> {
    pub conn: &'a Connection,
    pub log: &'a mut LogState,
    /// The time checkpoints of this batch carry (set by jobs that append records).
    pub time: Option<Timestamp>,
    /// Set by a job that could not undo its part: the whole batch is rolled back.
    pub failed: Option<String>,
    /// Audit rows of the batch (seq, canonical bytes, chain hash), inserted together before
    /// the commit: one multi-row statement costs less than one statement per row.
    pub rows: Vec<(u64, Vec<u8>, aecl_audit::Hash)>,
}

/// The producers' end of the writer's channel, which counts what it sends, and the
/// writer itself, for caller commits. Dropping it stops the writer thread and waits for it,
/// so that the database is closed (and its writer lock released) when the store is.
pub(crate) struct Queue {
    sender: mpsc::Sender<Job>,
    depth: QueueDepth,
    /// Held by whoever commits: the writer thread for a batch, or a caller for its job.
    writer: Arc<Mutex<Writer>>,
    caller_commits: AtomicBool,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Queue {
    fn drop(&mut self) {
        // The only sender: replaced by one whose receiver is gone, so the thread's `recv`
        // fails once it has finished the batch in hand.
        drop(std::mem::replace(&mut self.sender, mpsc::channel().0));
        // Not from the writer thread itself (a job that held the last store): it is
        // ending anyway, and its connection and lock go with it (`Writer`).
        if let Some(handle) = self.thread.take()
            && handle.thread().id() != thread::current().id()
        {
            let _ = handle.join();
        }
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("depth", &self.depth.get())
            .field("caller_commits", &self.caller_commits.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// Lets producers commit their own jobs when the writer is idle (see the module's
    /// header).
    pub(crate) fn set_caller_commits(&self, on: bool) {
        self.caller_commits.store(on, Ordering::Relaxed);
    }

    /// Commits `job` on this thread, now, when caller commits are on, no job is waiting
    /// for the writer (it would then have to wait for this one too) and no commit is
    /// running; otherwise gives `job` back, to be sent. Its answer is given before this
    /// returns, as the writer thread would give it.
    pub(crate) fn commit_here(&self, job: Job) -> Result<(), Job> {
        if !self.caller_commits.load(Ordering::Relaxed) || self.depth.get() != 0 {
            return Err(job);
        }
        // Poisoned: a commit panicked, and the writer thread has stopped (see `run`):
        // sending then fails, closed.
        let Ok(writer) = self.writer.try_lock() else { return Err(job) };
        self.depth.sending();
        commit_and_answer(writer, &mut vec![job]);
        Ok(())
    }

    /// Hands `job` to the writer, counted until its batch has committed or failed.
    pub(crate) fn send(&self, job: Job) -> Result<(), StoreError> {
        self.depth.sending();
        self.sender.send(job).map_err(|_| {
            self.depth.finished(1);
            StoreError::WriterStopped("the writer thread has ended".to_owned())
        })
    }

    /// Jobs sent and not yet committed or failed.
    pub(crate) fn depth(&self) -> u64 {
        self.depth.get()
    }
}

/// Starts the writer thread. It stops when every sender is dropped.
pub(crate) fn spawn(
    conn: Connection,
    log: LogState,
    newest_checkpoint: Option<String>,
    audit: AuditConfig,
    health: Arc<FileHealth>,
    lock: Arc<WriterLock>,
) -> Result<Queue, StoreError> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let depth = QueueDepth::default();
    let writer = Arc::new(Mutex::new(Writer {
        conn,
        log,
        newest_checkpoint,
        origin: audit.origin,
        signer: audit.signer,
        health,
        publish: audit.publish,
        publication: None,
        queued: depth.clone(),
        synced: true,
        _lock: lock,
    }));
    let shared = writer.clone();
    let thread = thread::Builder::new()
        .name("aecl-sqlite-writer".to_owned())
        .spawn(move || {
            // The gathering sleeps below are tens of microseconds; Linux's default timer
            // slack (50 µs) would double each one, in a cycle every producer waits on.
            #[cfg(target_os = "linux")]
            if let Err(error) = nix::sys::prctl::set_timerslack(1_000) {
                tracing::debug!(%error, "cannot shorten the writer's timer slack");
            }
            run(&shared, &receiver);
        })
        .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}")))?;
    Ok(Queue {
        sender,
        depth,
        writer,
        caller_commits: AtomicBool::new(false),
        thread: Some(thread),
    })
}

/// The writer thread: commits what producers send, in batches, until every sender is
/// dropped or a commit has panicked.
fn run(writer: &Mutex<Writer>, receiver: &mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut last_batch = 0;
    while let Ok(first) = receiver.recv() {
        // Poisoned: a commit panicked half-way, so the connection may hold an open
        // transaction and the log state may be ahead of the file. Nothing more is
        // committed; the receiver is dropped, so every later write fails (closed).
        let Ok(writer) = writer.lock() else {
            tracing::error!("a SQLite commit panicked: the writer has stopped");
            return;
        };
        jobs.push(first);
        drain(receiver, &mut jobs);
        // The producers of the last batch were all answered at once and are coming
        // back: while they keep arriving, wait for them (briefly) rather than pay a
        // commit and an fsync for a handful. A lone producer never waits. (The lock is
        // held meanwhile, so a caller that would commit its own job joins the batch.)
        let mut waited = Duration::ZERO;
        while jobs.len() < last_batch * 3 / 4 && waited < MAX_GATHER {
            let before = jobs.len();
            thread::sleep(GATHER_STEP);
            waited += GATHER_STEP;
            drain(receiver, &mut jobs);
            if jobs.len() == before {
                break;
            }
        }
        last_batch = jobs.len();
        commit_and_answer(writer, &mut jobs);
    }
}

/// Commits `jobs` and answers them once the lock is released: a producer that has its
/// answer may commit its next job at once.
fn commit_and_answer(mut writer: MutexGuard<'_, Writer>, jobs: &mut Vec<Job>) {
    let answers = writer.commit(jobs);
    drop(writer);
    answers.give();
}

struct Writer {
    conn: Connection,
    log: LogState,
    /// The checkpoint over `log`, as stored: the last this writer signed, or the newest
    /// stored when it resumed the log (the one its head was checked against).
    newest_checkpoint: Option<String>,
    origin: String,
    signer: SignerKey,
    /// Whether the path is still the file this connection writes (`health.rs`).
    health: Arc<FileHealth>,
    /// Where committed checkpoints are published, if anywhere.
    publish: Option<Arc<dyn aecl_audit::CheckpointSink>>,
    /// The checkpoint of the batch being committed and its new leaves, to publish once
    /// the commit succeeds.
    publication: Option<(String, Vec<aecl_audit::Hash>)>,
    /// The producers' count of jobs not yet finished, which the writer takes each batch
    /// off once it has committed or failed.
    queued: QueueDepth,
    /// Whether the connection commits with `synchronous=FULL` (as it is opened).
    synced: bool,
    /// The database's writer lock. INVARIANT: the last field, so dropped after `conn`:
    /// closing its descriptor before SQLite's would drop SQLite's locks (`lock.rs`).
    _lock: Arc<WriterLock>,
}

/// How a batch ended, for each of its jobs.
#[must_use = "every producer waits for its answer"]
struct Answers {
    completions: Vec<Completion>,
    /// Why the batch did not commit.
    error: Option<String>,
}

impl Answers {
    fn give(self) {
        for completion in self.completions {
            completion(self.error.as_deref());
        }
    }
}

impl Writer {
    /// Commits `jobs` in one transaction; their answers, to be given once the writer's
    /// lock is released (`commit_and_answer`).
    fn commit(&mut self, jobs: &mut Vec<Job>) -> Answers {
        let taken = jobs.len();
        let before = self.log.clone();
        let checkpoint_before = self.newest_checkpoint.clone();
        let mut completions = Vec::with_capacity(jobs.len());
        let outcome = self.transaction(jobs, &mut completions);
        let error = outcome.err();
        // INVARIANT: published only once committed, so a published checkpoint is never
        // ahead of the database (which would read as a rollback).
        if let (None, Some(sink), Some((note, leaves))) =
            (&error, &self.publish, self.publication.take())
        {
            match aecl_audit::prove_consistency_from(before.range(), &leaves) {
                Ok(proof) => sink.publish(aecl_audit::AddCheckpoint {
                    old_size: before.next_seq(),
                    proof,
                    checkpoint: note,
                }),
                Err(error) => tracing::error!(%error, "cannot prove the checkpoint's consistency"),
            }
        }
        self.publication = None;
        self.health.committed(error.as_deref());
        if let Some(error) = &error {
            tracing::error!(%error, jobs = completions.len(), "SQLite group commit failed");
            let _ = self.conn.execute_batch("ROLLBACK");
            // The jobs' effects on the log are undone with the transaction.
            self.log = before;
            self.newest_checkpoint = checkpoint_before;
        }
        // Before any answer, so a producer that has its answer is no longer counted.
        self.queued.finished(taken);
        // Jobs never run (the transaction could not begin) are dropped: their producers
        // learn that the writer dropped them.
        jobs.clear();
        Answers { completions, error }
    }

    fn transaction(
        &mut self,
        jobs: &mut Vec<Job>,
        completions: &mut Vec<Completion>,
    ) -> Result<(), String> {
        let size_before = self.log.next_seq();
        let head_before = self.log.head();
        // Outside the transaction: the level its commit syncs at.
        let synced = jobs.iter().any(|job| job.synced);
        if synced != self.synced {
            let level = if synced { "FULL" } else { "NORMAL" };
            if let Err(e) = self.conn.execute_batch(&format!("PRAGMA synchronous = {level}")) {
                return Err(e.to_string());
            }
            self.synced = synced;
        }
        // Through the statement cache, as every statement of a commit: parsing them again
        // at every commit was a tenth of a gateway call's time.
        if let Err(e) = super::exec(&self.conn, "BEGIN IMMEDIATE", []) {
            // No job runs; `commit` drops them once they are taken off the queue.
            return Err(e.to_string());
        }
        let mut batch = Batch {
            conn: &self.conn,
            log: &mut self.log,
            time: None,
            failed: None,
            rows: Vec::new(),
        };
        for job in jobs.drain(..) {
            completions.push((job.run)(&mut batch));
        }
        let time = batch.time;
        if let Some(error) = batch.failed {
            return Err(error);
        }
        // The files found gone after an earlier commit: that batch went to a file nobody
        // reads (and the log's state here went back to before it). Every job has run, so
        // each is answered with the reason; the transaction is rolled back.
        if let Some(reason) = self.health.failed() {
            return Err(reason);
        }
        // The log must still end where this writer left it; a row removed from its end or
        // written past it, or its newest checkpoint removed, by something else fails this
        // batch and every later one (sticky: appending would fill the hole, or sign over
        // it, and hide it).
        let own = super::health::WriterEnd {
            size: size_before,
            head: &head_before,
            checkpoint: self.newest_checkpoint.as_deref(),
        };
        if let Err(reason) = super::health::log_ends_where_the_writer_left_it(&self.conn, own) {
            self.health.fail(&reason);
            return Err(reason);
        }
        insert_rows(&self.conn, &batch.rows)
            .map_err(|e| format!("appending audit records: {e}"))?;
        let leaves: Vec<aecl_audit::Hash> = match self.publish {
            Some(_) => batch.rows.iter().map(|row| aecl_audit::merkle::leaf_hash(&row.1)).collect(),
            None => Vec::new(),
        };
        if self.log.next_seq() != size_before {
            let checkpoint = self
                .log
                .checkpoint(&self.origin, time)
                .following(self.newest_checkpoint.as_deref());
            let note = sign_checkpoint(&checkpoint, &self.signer).map_err(|e| e.to_string())?;
            let size = crate::to_i64(checkpoint.size);
            super::exec(
                &self.conn,
                "INSERT INTO audit_checkpoints (size, note) VALUES (?1, ?2)",
                (size, note.as_str()),
            )
            .map_err(|e| e.to_string())?;
            if self.publish.is_some() {
                self.publication = Some((note.clone(), leaves));
            }
            self.newest_checkpoint = Some(note);
            let (head_bytes, nodes) = head::encode(&self.log);
            super::exec(
                &self.conn,
                "INSERT INTO audit_head (id, size, head, nodes) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET size = excluded.size, head = excluded.head,
                     nodes = excluded.nodes",
                (size, head_bytes.as_slice(), nodes.as_slice()),
            )
            .map_err(|e| e.to_string())?;
            // And the log ends where this batch left it: a trigger that drops or changes
            // the rows just written (`RAISE(IGNORE)`) would have the batch acknowledged
            // with its records missing.
            let head = self.log.head();
            let own = super::health::WriterEnd {
                size: self.log.next_seq(),
                head: &head,
                checkpoint: self.newest_checkpoint.as_deref(),
            };
            if let Err(reason) = super::health::log_ends_where_the_writer_left_it(&self.conn, own) {
                self.health.fail(&reason);
                return Err(reason);
            }
        }
        // A batch committed while the database or its log was deleted or replaced is
        // answered as failed: its rows went to a file nobody will read again. The files
        // are looked at once, after the commit (three system calls); the failure is
        // sticky, and refuses every later batch before it writes anything.
        super::exec(&self.conn, "COMMIT", []).map_err(|e| e.to_string())?;
        self.health.check()
    }
}

/// Rows per `INSERT` statement (three parameters each, under SQLite's 32,766 limit).
const ROWS_PER_INSERT: usize = 256;

fn insert_rows(
    conn: &Connection,
    rows: &[(u64, Vec<u8>, aecl_audit::Hash)],
) -> rusqlite::Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let mut stmt = conn.prepare_cached(&format!(
            "INSERT INTO audit_log (seq, record, chain_hash) VALUES {values}"
        ))?;
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 3);
        let seqs: Vec<i64> = chunk.iter().map(|r| crate::to_i64(r.0)).collect();
        for (row, seq) in chunk.iter().zip(&seqs) {
            params.push(seq);
            params.push(&row.1);
            params.push(&row.2);
        }
        stmt.execute(params.as_slice())?;
    }
    Ok(())
}

/// Takes what is queued, up to a full batch.
fn drain(receiver: &mpsc::Receiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

/// Runs `f` inside a savepoint of the batch: its writes are kept if it succeeds and undone
/// if it fails. A job may append to the log only as its last step (an append cannot be
/// undone alone: a job that appended and then failed fails the whole batch).
pub(crate) fn in_savepoint<T>(
    batch: &mut Batch<'_>,
    f: impl FnOnce(&mut Batch<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // Through the statement cache: two of these per job.
    batch.conn.prepare_cached("SAVEPOINT job").and_then(|mut s| s.execute([])).map_err(backend)?;
    let size_before = batch.log.next_seq();
    let result = f(batch);
    match &result {
        Ok(_) => {
            if let Err(e) = batch.conn.prepare_cached("RELEASE job").and_then(|mut s| s.execute([]))
            {
                if batch.log.next_seq() != size_before {
                    batch.failed = Some(format!("a job that had appended to the log failed: {e}"));
                }
                return Err(backend(e));
            }
        }
        Err(e) => {
            // Jobs under a savepoint do not append to the log; if one did and failed, the
            // log state cannot be undone alone: the whole batch goes.
            if batch.log.next_seq() != size_before {
                batch.failed = Some(format!("a failed job had appended to the log: {e}"));
            }
            batch.conn.execute_batch("ROLLBACK TO job; RELEASE job").map_err(backend)?;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use aecl_engine::Durability;

    use crate::AuditConfig;
    use crate::sqlite::SqliteStore;

    /// The level the writer's connection commits at, read inside a job of `durability`.
    async fn level(store: &SqliteStore, durability: Durability) -> i64 {
        store
            .write_as(durability, |batch| {
                batch.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).map_err(crate::backend)
            })
            .await
            .unwrap()
    }

    fn store(dir: &std::path::Path) -> SqliteStore {
        let signer = aecl_audit::SignerKey::from_seed("test", [7; 32]).unwrap();
        let config = AuditConfig { origin: "test".to_owned(), signer, publish: None };
        SqliteStore::open(&dir.join("aecl.db"), config).unwrap()
    }

    /// The name of the thread a write's job runs on.
    async fn committed_on(store: &SqliteStore) -> Option<String> {
        store
            .write_as(Durability::Synced, |_| Ok(std::thread::current().name().map(str::to_owned)))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn with_caller_commits_an_idle_writers_job_commits_on_the_callers_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let writer = Some("aecl-sqlite-writer".to_owned());
        assert_eq!(committed_on(&store).await, writer);
        store.set_caller_commits(true);
        let here = std::thread::current().name().map(str::to_owned);
        assert_ne!(here, writer);
        assert_eq!(committed_on(&store).await, here);
        // Off again: the writer thread commits.
        store.set_caller_commits(false);
        assert_eq!(committed_on(&store).await, writer);
    }

    /// A caller's commit checks the file as the writer thread's does: a database deleted
    /// or replaced under the store refuses the write (closed), whoever commits it.
    #[tokio::test]
    async fn a_caller_commit_to_a_deleted_or_replaced_database_fails() {
        for replaced in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = store(dir.path());
            store.set_caller_commits(true);
            let here = std::thread::current().name().map(str::to_owned);
            assert_eq!(committed_on(&store).await, here);
            let path = dir.path().join("aecl.db");
            std::fs::remove_file(&path).unwrap();
            if replaced {
                std::fs::write(&path, b"").unwrap();
            }
            let error = store.write_as(Durability::Synced, |_| Ok(())).await.unwrap_err();
            let why =
                if replaced { "was replaced by another file" } else { "was deleted or moved" };
            assert!(error.to_string().contains(why), "{error}");
        }
    }

    /// A commit that panics on the caller's thread stops the writer: nothing is committed
    /// after it, by the caller or the writer thread, and every write fails.
    #[tokio::test]
    async fn a_panicking_caller_commit_stops_every_later_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        store.set_caller_commits(true);
        let panicking = store.clone();
        let panicked = tokio::spawn(async move {
            panicking
                .write_as(Durability::Synced, |_| -> Result<(), _> { panic!("a job panics") })
                .await
        })
        .await;
        assert!(panicked.is_err(), "the task panicked");
        for caller_commits in [true, false] {
            store.set_caller_commits(caller_commits);
            let error = store.write_as(Durability::Synced, |_| Ok(())).await.unwrap_err();
            assert!(matches!(error, aecl_engine::StoreError::WriterStopped(_)), "{error}");
        }
    }

    #[tokio::test]
    async fn only_a_batch_of_ordered_writes_commits_unsynced() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        // 2 is FULL (an fsync per commit), 1 NORMAL (the WAL synced at the next FULL one).
        assert_eq!(level(&store, Durability::Synced).await, 2);
        assert_eq!(level(&store, Durability::Ordered).await, 1);
        assert_eq!(level(&store, Durability::Synced).await, 2);
    }
}
