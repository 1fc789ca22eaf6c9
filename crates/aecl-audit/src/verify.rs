//! Verification of a stored log: sequence, canonical form, hash chain, and every signed
//! checkpoint against the Merkle root of the records it covers, in one streaming pass.
//!
//! A log verifies only when a checkpoint signed by the pinned key covers all of it: a log
//! without one, or with records after its last one, fails (a writer checkpoints at every
//! commit, so a quiescent log is always fully covered). The store's head (size, last chain
//! hash, Merkle range) must equal what the records give. Checkpoints published outside the
//! store (`VerifyOptions::published`) must be consistent with each other (their RFC 6962
//! proofs) and with the records: one larger than the log names a rollback or truncation,
//! one whose root the records do not give names a fork.
//!
//! Records are read in order and never all held: the Merkle root at each checkpoint's size
//! comes from a compact range, so memory is a batch of records plus `O(log n)` hashes. The
//! per-record work (decode, re-encode and compare, chain link, leaf hash) depends only on
//! the record and the stored chain hash before it, so batches are split over
//! `VerifyOptions::threads` threads; the order-dependent part (sequence numbers, Merkle
//! range, checkpoints) stays on the calling thread. The answer names the first problem in
//! log order.

use std::collections::VecDeque;
use std::fmt;

use crate::chain::{LogState, chain_hash};
use crate::checkpoint::{
    Checkpoint, parse_and_verify_checkpoint, parse_and_verify_stored_checkpoint, text_digest,
};
use crate::error::AuditError;
use crate::merkle::{Hash, leaf_hash, verify_consistency};
use crate::note::VerifierKey;
use crate::record::check_canonical;
use crate::witness::AddCheckpoint;

/// Records per batch: enough to amortise starting threads, small enough to stay in cache.
const BATCH: usize = 4096;

/// One stored record: its sequence number as stored, its canonical bytes and its stored
/// chain hash.
pub type StoredRecord = (u64, Vec<u8>, Hash);

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions<'a> {
    /// Where the records begin: an empty log (the default), or the state after the records
    /// before the first one given (its chain hash and Merkle compact range). Checkpoints
    /// smaller than the start are checked for their signature only.
    pub start: LogState,
    /// A checkpoint exported earlier (kept outside the store). A log shorter than it, or
    /// whose records do not hash to its root, was truncated or rewritten.
    pub exported: Option<&'a [u8]>,
    /// Checkpoints published outside the store (a checkpoint directory or a witness), each
    /// a tlog-witness `add-checkpoint` body (old size, consistency proof, signed note) or a
    /// bare signed note. They catch a rollback to an older copy, a truncation and a fork.
    pub published: &'a [Vec<u8>],
    /// The head the store keeps (size, last chain hash, Merkle range): it must be the state
    /// the records give. `LogState::new()` stands for a store without a head.
    pub head: Option<LogState>,
    /// When set, every checkpoint must name this origin.
    pub origin: Option<&'a str>,
    /// Threads to use, the calling one included (0 counts as 1). The binary passes the
    /// machine's parallelism; this crate does not look it up.
    pub threads: usize,
}

impl Default for VerifyOptions<'_> {
    fn default() -> Self {
        VerifyOptions {
            start: LogState::new(),
            exported: None,
            published: &[],
            head: None,
            origin: None,
            threads: 1,
        }
    }
}

/// Which checkpoint a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointId {
    /// The i-th of the stored checkpoints passed in (from 0).
    Stored(usize),
    /// The exported checkpoint of `VerifyOptions`.
    Exported,
    /// The i-th of the published checkpoints (from 0).
    Published(usize),
}

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointId::Stored(i) => write!(f, "checkpoint #{i}"),
            CheckpointId::Exported => f.write_str("the exported checkpoint"),
            CheckpointId::Published(i) => write!(f, "published checkpoint #{i}"),
        }
    }
}

/// The first thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The stored sequence numbers skip or repeat at `expected`: a record was deleted,
    /// inserted or moved.
    Sequence { expected: u64, found: u64 },
    /// The stored bytes are not a record.
    Malformed { seq: u64, reason: String },
    /// The stored bytes describe a record but are not its canonical form.
    NotCanonical { seq: u64, offset: usize },
    /// The record's own `seq` field is not its place in the log.
    SeqField { seq: u64, found: u64 },
    /// The stored chain hash is not `SHA-256(0x02 || previous || bytes)`: the record (or
    /// its stored hash) was edited.
    Chain { seq: u64 },
    /// A checkpoint cannot be read, or is not validly signed by the pinned key.
    Checkpoint { checkpoint: CheckpointId, error: AuditError },
    /// A checkpoint names another log.
    Origin { checkpoint: CheckpointId, found: String },
    /// A checkpoint's root is not the Merkle root of the records it covers: one of the
    /// records `from..size` was changed and the chain recomputed to hide it.
    Root { checkpoint: CheckpointId, size: u64, from: u64 },
    /// A checkpoint covers more records than the log holds: the records from `log_size`
    /// on were removed.
    Truncated { checkpoint: CheckpointId, size: u64, log_size: u64 },
    /// A published checkpoint covers more records than the log holds, and the log is an
    /// intact, fully checkpointed older state: the store was rolled back to an older copy
    /// (or cut at one of its checkpoints, which is the same thing to an auditor).
    RolledBack { checkpoint: CheckpointId, size: u64, log_size: u64 },
    /// A published checkpoint's root is not the Merkle root of the log's first `size`
    /// records: the store holds another history than the one published (a fork), differing
    /// in one of the records `from..size`.
    Fork { checkpoint: CheckpointId, size: u64, from: u64 },
    /// Two published checkpoints are not consistent (their proof does not connect them):
    /// the published history itself forks.
    PublishedFork { checkpoint: CheckpointId, old_size: u64 },
    /// The records `from..size` are not covered by a stored checkpoint: appended (or
    /// forged) after the last signed one, or its checkpoints were removed.
    Uncovered { from: u64, size: u64 },
    /// A stored checkpoint (of size `size`) follows a signed checkpoint that is not the
    /// stored one before it (of size `after`, 0 for none): the checkpoints its writer stored
    /// between were deleted, or the one before it replaced.
    CheckpointGap { checkpoint: CheckpointId, size: u64, after: u64 },
    /// The log has no record and no checkpoint: nothing shows it was never written to.
    NoCheckpoint,
    /// The store's head (size `stored_size`) is not the state its records give (size
    /// `log_size`): records were added or removed outside the writer.
    Head { stored_size: u64, log_size: u64 },
}

impl Problem {
    /// The first record known to be bad, when the problem pins one down.
    pub fn first_bad_seq(&self) -> Option<u64> {
        match self {
            Problem::Sequence { expected: seq, .. }
            | Problem::Malformed { seq, .. }
            | Problem::NotCanonical { seq, .. }
            | Problem::SeqField { seq, .. }
            | Problem::Chain { seq } => Some(*seq),
            Problem::Truncated { log_size, .. } | Problem::RolledBack { log_size, .. } => {
                Some(*log_size)
            }
            Problem::Uncovered { from, .. } => Some(*from),
            // The head is compared last, when every record is covered by a signed
            // checkpoint: a head beyond the records names the first one removed, a head
            // behind them names no bad record (they were signed; the head was reset).
            Problem::Head { stored_size, log_size } if stored_size > log_size => Some(*log_size),
            Problem::Checkpoint { .. }
            | Problem::CheckpointGap { .. }
            | Problem::Origin { .. }
            | Problem::Root { .. }
            | Problem::Fork { .. }
            | Problem::PublishedFork { .. }
            | Problem::NoCheckpoint
            | Problem::Head { .. } => None,
        }
    }

    /// The checkpoint the problem is about, if it is about one.
    pub fn checkpoint(&self) -> Option<CheckpointId> {
        match self {
            Problem::Checkpoint { checkpoint, .. }
            | Problem::CheckpointGap { checkpoint, .. }
            | Problem::Origin { checkpoint, .. }
            | Problem::Root { checkpoint, .. }
            | Problem::Truncated { checkpoint, .. }
            | Problem::RolledBack { checkpoint, .. }
            | Problem::Fork { checkpoint, .. }
            | Problem::PublishedFork { checkpoint, .. } => Some(*checkpoint),
            _ => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Sequence { expected, found } => write!(
                f,
                "record {expected} is missing or out of place: the next stored record is {found}"
            ),
            Problem::Malformed { seq, reason } => write!(f, "record {seq} is malformed: {reason}"),
            Problem::NotCanonical { seq, offset } => {
                write!(f, "record {seq} is not in canonical form (byte {offset})")
            }
            Problem::SeqField { seq, found } => {
                write!(f, "record {seq} is stored in place of record {found}")
            }
            Problem::Chain { seq } => {
                write!(f, "record {seq} does not match its chain hash: it or its hash was edited")
            }
            Problem::Checkpoint { checkpoint, error } => write!(f, "{checkpoint}: {error}"),
            Problem::Origin { checkpoint, found } => {
                write!(f, "{checkpoint} is for another log, `{found}`")
            }
            Problem::Root { checkpoint, size, from } => write!(
                f,
                "{checkpoint} (size {size}) does not match the records: one of records \
                 {from}..{size} was changed and the chain recomputed"
            ),
            Problem::Truncated { checkpoint, size, log_size } => write!(
                f,
                "{checkpoint} covers {size} records but the log has {log_size}: records from \
                 {log_size} on are missing (truncated)"
            ),
            Problem::RolledBack { checkpoint, size, log_size } => write!(
                f,
                "{checkpoint} covers {size} records but the log has {log_size}: the store was \
                 rolled back to an older copy or cut at one of its checkpoints (records from \
                 {log_size} on are missing)"
            ),
            Problem::Fork { checkpoint, size, from } => write!(
                f,
                "{checkpoint} (size {size}) does not match the records: the store holds a \
                 forked history, differing in one of records {from}..{size}"
            ),
            Problem::PublishedFork { checkpoint, old_size } => write!(
                f,
                "{checkpoint} is not consistent with the published checkpoint of size \
                 {old_size}: the published history forks"
            ),
            Problem::Uncovered { from, size } => write!(
                f,
                "records {from}..{size} are not covered by a signed checkpoint in the store: \
                 appended after the last one, or checkpoints were removed"
            ),
            Problem::CheckpointGap { checkpoint, size, after } => write!(
                f,
                "{checkpoint} (size {size}) follows a signed checkpoint that is not stored: the \
                 checkpoints its writer stored between sizes {after} and {size} were deleted"
            ),
            Problem::NoCheckpoint => {
                f.write_str("the log is empty and has no signed checkpoint: nothing to verify")
            }
            Problem::Head { stored_size, log_size } if stored_size == log_size => write!(
                f,
                "the store's head is not the state its {log_size} records give (its root or \
                 chain hash differs): the log was changed outside the writer"
            ),
            Problem::Head { stored_size: 0, log_size } => write!(
                f,
                "the store has no head (or an empty one) while its records give size \
                 {log_size}: the head was deleted or reset outside the writer"
            ),
            Problem::Head { stored_size, log_size } if stored_size < log_size => write!(
                f,
                "the store's head (size {stored_size}) is behind its records (size \
                 {log_size}), which signed checkpoints cover: the head was reset outside the \
                 writer"
            ),
            Problem::Head { stored_size, log_size } => write!(
                f,
                "the store's head (size {stored_size}) is beyond its records (size \
                 {log_size}): records from {log_size} on were removed outside the writer"
            ),
        }
    }
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records read and found good.
    pub records: u64,
    /// The tree size after them (the start plus `records`).
    pub size: u64,
    /// The Merkle root of the first `size` records.
    pub root: Hash,
    /// The chain hash of record `size - 1`.
    pub head: Hash,
    /// Checkpoints (stored and exported) whose signature and root were checked.
    pub checkpoints_checked: usize,
    /// The largest checkpoint checked.
    pub latest: Option<Checkpoint>,
    /// The first problem, in log order; `None` when the log verifies.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Verifies a log from its first record with default options.
pub fn verify_log<I, C>(records: I, checkpoints: &[C], key: &VerifierKey) -> VerifyReport
where
    I: IntoIterator<Item = StoredRecord>,
    C: AsRef<[u8]>,
{
    verify_log_with(records, checkpoints, key, &VerifyOptions::default())
}

/// Verifies a log: the records in stored order and the stored checkpoints (signed notes,
/// in any order), with the key that must have signed them.
pub fn verify_log_with<I, C>(
    records: I,
    checkpoints: &[C],
    key: &VerifierKey,
    options: &VerifyOptions<'_>,
) -> VerifyReport
where
    I: IntoIterator<Item = StoredRecord>,
    C: AsRef<[u8]>,
{
    let mut run = Run {
        state: options.start.clone(),
        start: options.start.next_seq(),
        last_checked: options.start.next_seq(),
        last_stored: options.start.next_seq(),
        last_published: options.start.next_seq(),
        previous_stored: None,
        pending: VecDeque::new(),
        checked: 0,
        stored: 0,
        latest: None,
    };
    let mut pending: Vec<Pending> = checkpoints
        .iter()
        .enumerate()
        .map(|(i, text)| open(text.as_ref(), CheckpointId::Stored(i), key, options.origin))
        .collect();
    if let Some(text) = options.exported {
        pending.push(open(text, CheckpointId::Exported, key, options.origin));
    }
    let published = open_published(options.published, key, options.origin);
    // The published history must be one history before the log is compared with it.
    if let Err(problem) = check_published(&published) {
        return run.report(Some(problem));
    }
    pending.extend(published.into_iter().map(|(pending, _)| pending));
    // Stable: at equal sizes stored checkpoints come before the exported and published ones.
    pending.sort_by_key(|p| p.at);
    run.pending = pending.into();
    let problem = run
        .stream(records, options.threads.max(1))
        .and_then(|()| run.covered())
        .and_then(|()| match &options.head {
            Some(head) if *head != run.state => {
                Err(Problem::Head { stored_size: head.next_seq(), log_size: run.state.next_seq() })
            }
            _ => Ok(()),
        })
        .err();
    run.report(problem)
}

/// The published checkpoints opened, each with its add-checkpoint request (old size and
/// proof) when it came as one.
fn open_published(
    texts: &[Vec<u8>],
    key: &VerifierKey,
    origin: Option<&str>,
) -> Vec<(Pending, Option<AddCheckpoint>)> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let id = CheckpointId::Published(i);
            let request = std::str::from_utf8(text).ok().and_then(|t| AddCheckpoint::parse(t).ok());
            match &request {
                Some(request) => {
                    (open(request.checkpoint.as_bytes(), id, key, origin), Some(request.clone()))
                }
                None if text.starts_with(b"old ") => {
                    let error =
                        AuditError::MalformedNote("not a tlog-witness add-checkpoint body".into());
                    (
                        Pending {
                            at: 0,
                            id,
                            opened: Err(Problem::Checkpoint { checkpoint: id, error }),
                            digest: [0; 32],
                        },
                        None,
                    )
                }
                None => (open(text, id, key, origin), None),
            }
        })
        .collect()
}

/// Checks each published checkpoint's consistency proof against the published checkpoint
/// of the size it starts from, when that one is there too.
fn check_published(published: &[(Pending, Option<AddCheckpoint>)]) -> Result<(), Problem> {
    for (pending, request) in published {
        let (Ok(new), Some(request)) = (&pending.opened, request) else { continue };
        let olds = published.iter().filter_map(|(p, _)| p.opened.as_ref().ok());
        for old in olds.filter(|old| old.size == request.old_size) {
            if verify_consistency(old.size, new.size, &old.root, &new.root, &request.proof).is_err()
            {
                return Err(Problem::PublishedFork { checkpoint: pending.id, old_size: old.size });
            }
        }
    }
    // Two published checkpoints of one size must agree (files from two witnesses, say).
    for (i, (a, _)) in published.iter().enumerate() {
        for (b, _) in published.iter().skip(i + 1) {
            if let (Ok(x), Ok(y)) = (&a.opened, &b.opened)
                && x.size == y.size
                && x.root != y.root
            {
                return Err(Problem::PublishedFork { checkpoint: b.id, old_size: x.size });
            }
        }
    }
    Ok(())
}

/// A checkpoint waiting for the log to reach its size.
struct Pending {
    /// Where in the log it is checked: its size, or 0 when it cannot even be read.
    at: u64,
    id: CheckpointId,
    opened: Result<Checkpoint, Problem>,
    /// [`text_digest`] of the note: what the next stored checkpoint's `previous` names.
    digest: Hash,
}

fn open(text: &[u8], id: CheckpointId, key: &VerifierKey, origin: Option<&str>) -> Pending {
    let problem = |error| Problem::Checkpoint { checkpoint: id, error };
    let Ok(text) = std::str::from_utf8(text) else {
        let error = AuditError::MalformedNote("not UTF-8".into());
        return Pending { at: 0, id, opened: Err(problem(error)), digest: [0; 32] };
    };
    let digest = text_digest(text);
    let opened = match id {
        CheckpointId::Stored(_) => parse_and_verify_stored_checkpoint(text, key),
        CheckpointId::Exported | CheckpointId::Published(_) => {
            parse_and_verify_checkpoint(text, key)
        }
    };
    match opened {
        Ok(checkpoint) => {
            let at = checkpoint.size;
            let opened = match origin {
                Some(origin) if checkpoint.origin != origin => {
                    Err(Problem::Origin { checkpoint: id, found: checkpoint.origin })
                }
                _ => Ok(checkpoint),
            };
            Pending { at, id, opened, digest }
        }
        Err(error) => {
            // Place it where it claims to be, so that a bad record before it is named first.
            let at = Checkpoint::read_unverified(text).map_or(0, |c| c.size);
            Pending { at, id, opened: Err(problem(error)), digest }
        }
    }
}

struct Run {
    state: LogState,
    start: u64,
    /// The size of the last checkpoint whose root matched (or the start).
    last_checked: u64,
    /// The size of the last stored checkpoint whose root matched (or the start): the log
    /// must carry its own proof, whatever was published.
    last_stored: u64,
    /// The size of the last published checkpoint whose root matched (or the start): a fork
    /// lies after it.
    last_published: u64,
    /// The size and [`text_digest`] of the last stored checkpoint reached, which the next
    /// one's `previous` must name.
    previous_stored: Option<(u64, Hash)>,
    /// Checkpoints not yet reached, by size.
    pending: VecDeque<Pending>,
    checked: usize,
    /// Stored checkpoints whose root matched.
    stored: usize,
    latest: Option<Checkpoint>,
}

impl Run {
    fn stream<I>(&mut self, records: I, threads: usize) -> Result<(), Problem>
    where
        I: IntoIterator<Item = StoredRecord>,
    {
        self.settle()?;
        let mut records = records.into_iter();
        let mut batch: Vec<StoredRecord> = Vec::with_capacity(BATCH);
        let mut results: Vec<Result<Hash, Problem>> = Vec::with_capacity(BATCH);
        let mut scratches: Vec<Vec<u8>> = vec![Vec::new(); threads];
        loop {
            batch.clear();
            batch.extend(records.by_ref().take(BATCH));
            if batch.is_empty() {
                break;
            }
            check_batch(&batch, self.state.head(), &mut results, &mut scratches);
            for ((seq, _, stored), result) in batch.iter().zip(results.drain(..)) {
                let expected = self.state.next_seq();
                if *seq != expected {
                    return Err(Problem::Sequence { expected, found: *seq });
                }
                let leaf = result?;
                self.state.advance(*stored, leaf);
                self.settle()?;
            }
        }
        // Checkpoints beyond the end: forged ones are reported as such, genuine ones as
        // proof that records are missing.
        let log_size = self.state.next_seq();
        // An intact older state: every stored checkpoint reached and the last one covering
        // every record; only published checkpoints are beyond it.
        let older_copy = log_size > 0
            && self.last_stored == log_size
            && self.pending.iter().all(|p| matches!(p.id, CheckpointId::Published(_)));
        if let Some(pending) = self.pending.pop_front() {
            let checkpoint = pending.opened?;
            let (checkpoint, size) = (pending.id, checkpoint.size);
            return Err(if older_copy {
                Problem::RolledBack { checkpoint, size, log_size }
            } else {
                Problem::Truncated { checkpoint, size, log_size }
            });
        }
        Ok(())
    }

    /// Checks that a signed checkpoint covers every record.
    fn covered(&self) -> Result<(), Problem> {
        let size = self.state.next_seq();
        if self.last_stored < size {
            return Err(Problem::Uncovered { from: self.last_stored, size });
        }
        if size == 0 && self.stored == 0 {
            return Err(Problem::NoCheckpoint);
        }
        Ok(())
    }

    /// Checks every pending checkpoint whose size the log has reached.
    fn settle(&mut self) -> Result<(), Problem> {
        let size = self.state.next_seq();
        while self.pending.front().is_some_and(|p| p.at <= size) {
            let Some(pending) = self.pending.pop_front() else { break };
            let checkpoint = pending.opened?;
            if let CheckpointId::Stored(_) = pending.id {
                self.follows(pending.id, &checkpoint, pending.digest)?;
            }
            if checkpoint.size < self.start {
                // Before the records given: only the signature could be checked.
                continue;
            }
            if checkpoint.root != self.state.root() {
                let (checkpoint, size, from) = (pending.id, checkpoint.size, self.last_checked);
                return Err(match checkpoint {
                    CheckpointId::Published(_) => {
                        Problem::Fork { checkpoint, size, from: self.last_published }
                    }
                    _ => Problem::Root { checkpoint, size, from },
                });
            }
            self.last_checked = size;
            match pending.id {
                CheckpointId::Stored(_) => {
                    self.last_stored = size;
                    self.stored += 1;
                }
                CheckpointId::Published(_) => self.last_published = size,
                CheckpointId::Exported => {}
            }
            self.checked += 1;
            self.latest = Some(checkpoint);
        }
        Ok(())
    }

    /// Checks that a stored checkpoint names the stored one before it (see `checkpoint`'s
    /// header), then takes it as the one the next must name. One without a `previous` line
    /// (a log's first, or written before the line existed) names none.
    fn follows(
        &mut self,
        id: CheckpointId,
        checkpoint: &Checkpoint,
        digest: Hash,
    ) -> Result<(), Problem> {
        let before = self.previous_stored.replace((checkpoint.size, digest));
        match (checkpoint.previous, before) {
            (None, _) => Ok(()),
            // The same note twice is one checkpoint.
            (_, Some((_, last))) if last == digest => Ok(()),
            (Some(named), Some((_, last))) if named == last => Ok(()),
            // Verifying from past the log's start, the checkpoint before the first one
            // given may not have been given either.
            (Some(_), None) if self.start > 0 => Ok(()),
            (Some(_), before) => Err(Problem::CheckpointGap {
                checkpoint: id,
                size: checkpoint.size,
                after: before.map_or(0, |(size, _)| size),
            }),
        }
    }

    fn report(self, problem: Option<Problem>) -> VerifyReport {
        VerifyReport {
            records: self.state.next_seq() - self.start,
            size: self.state.next_seq(),
            root: self.state.root(),
            head: self.state.head(),
            checkpoints_checked: self.checked,
            latest: self.latest,
            problem,
        }
    }
}

/// Checks each record of `batch` on its own — canonical form, `seq` field, chain link
/// from the stored hash before it — and computes its leaf hash, on `scratches.len()`
/// threads. `results` gets one entry per record, in order.
fn check_batch(
    batch: &[StoredRecord],
    head: Hash,
    results: &mut Vec<Result<Hash, Problem>>,
    scratches: &mut [Vec<u8>],
) {
    results.clear();
    results.resize_with(batch.len(), || Ok([0; 32]));
    let threads = scratches.len().max(1);
    if threads == 1 || batch.len() < 64 {
        if let Some(scratch) = scratches.first_mut() {
            check_chunk(batch, head, results, scratch);
        }
        return;
    }
    let chunk = batch.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut previous = head;
        let mut own = None;
        for ((records, out), scratch) in
            batch.chunks(chunk).zip(results.chunks_mut(chunk)).zip(scratches.iter_mut())
        {
            let before = previous;
            if let Some((_, _, last)) = records.last() {
                previous = *last;
            }
            if own.is_none() {
                // The calling thread takes the first chunk itself.
                own = Some((records, out, scratch, before));
            } else {
                scope.spawn(move || check_chunk(records, before, out, scratch));
            }
        }
        if let Some((records, out, scratch, before)) = own {
            check_chunk(records, before, out, scratch);
        }
    });
}

fn check_chunk(
    records: &[StoredRecord],
    mut previous: Hash,
    out: &mut [Result<Hash, Problem>],
    scratch: &mut Vec<u8>,
) {
    for ((seq, bytes, stored), slot) in records.iter().zip(out.iter_mut()) {
        *slot = check_record(*seq, bytes, &previous, stored, scratch);
        previous = *stored;
    }
}

fn check_record(
    seq: u64,
    bytes: &[u8],
    previous: &Hash,
    stored: &Hash,
    scratch: &mut Vec<u8>,
) -> Result<Hash, Problem> {
    let found = check_canonical(bytes, scratch).map_err(|e| match e {
        AuditError::NotCanonical { offset } => Problem::NotCanonical { seq, offset },
        other => Problem::Malformed { seq, reason: other.to_string() },
    })?;
    if found != seq {
        return Err(Problem::SeqField { seq, found });
    }
    if chain_hash(previous, bytes) != *stored {
        return Err(Problem::Chain { seq });
    }
    Ok(leaf_hash(bytes))
}

#[cfg(test)]
mod tests;
