//! What `aecl audit export`, `tail` and `prove` check before they print a record: every
//! record they read must follow the one before it on the hash chain (the chain hash stored
//! before `--since` is the anchor), with no number skipped; with `--key`, the whole log
//! must first verify as `aecl audit verify` checks it (every record covered by a
//! checkpoint signed by the pinned key). A record that does not fit stops the command
//! there: what was printed before it checked, and the exit code is 1 with `FAILED at
//! record N` on standard error. An operator who replays an export or reads a tail must not
//! be shown a forged history as if it were the log.
//!
//! The chain alone catches a record edited without its hashes recomputed; an attacker
//! who recomputes them is caught only against a signed checkpoint, so without `--key` a
//! note on standard error says what was not checked.
//!
//! With `--key`, the records printed are read again after the verification, and a writer
//! could swap the store in between. The verification therefore keeps the chain hash of
//! every [`ANCHOR_EVERY`]th record and of the last ([`Anchors`]); the printing pass holds
//! its output until it meets the same chain hash at one of them (a chain hash fixes every
//! record before it), prints nothing past the size verified, and stops at a record whose
//! chain differs there.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use aecl_audit::{GENESIS, Hash, VerifierKey, VerifyOptions, chain_hash, verify_log_with};
use anyhow::{Result, bail};

use crate::log_reader::LogReader;

/// How many times a log that keeps moving under a live writer is read before the answer
/// stands (as `aecl audit verify`).
const ATTEMPTS: usize = 5;

/// The note printed when no key was given.
const UNSIGNED_NOTE: &str = "note: records checked against their hash chain only; give \
     --key PUB to check them against the checkpoints signed by the log's key";

/// Says on standard error that the log was checked against the chain only.
pub fn note_unsigned() -> Result<()> {
    writeln!(std::io::stderr().lock(), "{UNSIGNED_NOTE}")?;
    Ok(())
}

/// Says on standard error why the command stopped (`failed`, a `FAILED` line) and what it
/// did not do (`what`); exit code 1, as `aecl audit verify` for a log that does not verify.
pub fn stopped(failed: &str, what: &str) -> Result<ExitCode> {
    writeln!(
        std::io::stderr().lock(),
        "{failed}\n{what}: the log does not verify (`aecl audit verify --key PUB` says more)"
    )?;
    Ok(ExitCode::from(1))
}

/// Every how many records the verification keeps a chain hash for the printing pass.
pub const ANCHOR_EVERY: u64 = 1024;

/// Chain hashes a verification read, for the printing pass to meet.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    chain: BTreeMap<u64, Hash>,
    /// How many records were verified.
    pub size: u64,
    /// The newest stored checkpoint the verification read.
    pub checkpoint: Option<String>,
}

impl Anchors {
    /// Whether `seq` is a record whose chain hash was kept.
    fn is_anchor(&self, seq: u64) -> bool {
        self.chain.contains_key(&seq)
    }
}

/// What a printing command may go on with: the records verified against the key (its
/// anchors), or all records, checked against the chain only (no key given).
pub type Printing = Option<Anchors>;

/// Before a command prints anything: with `key`, the whole log must verify against it;
/// without, the note says what is not checked. `Err(exit code)` when the command stops.
pub fn before_printing(
    reader: &LogReader,
    key: Option<&str>,
    what: &str,
) -> Result<Result<Printing, ExitCode>> {
    match key {
        Some(key) => match verify_whole_log(reader, &crate::audit::verifier(key)?)? {
            Ok(anchors) => Ok(Ok(Some(anchors))),
            Err(failed) => stopped(&failed, what).map(Err),
        },
        None => note_unsigned().map(|()| Ok(None)),
    }
}

/// Follows the hash chain over the records a command reads, from `since` on.
#[derive(Debug)]
pub struct ChainCheck {
    /// The chain hash of the record before the next one; `None` until known (a log that
    /// does not reach `since` yet).
    previous: Option<Hash>,
    next: u64,
    /// What a verification read, with `--key`.
    anchors: Printing,
}

impl ChainCheck {
    pub fn starting_at(since: u64) -> ChainCheck {
        let previous = (since == 0).then_some(GENESIS);
        ChainCheck { previous, next: since, anchors: None }
    }

    /// Checks against what a verification read too (`before_printing`).
    pub fn verified(mut self, anchors: Printing) -> ChainCheck {
        self.anchors = anchors;
        self
    }

    /// A verification read again (`tail --follow --key`, once records past it arrive).
    pub fn reverified(&mut self, anchors: Anchors) {
        self.anchors = Some(anchors);
    }

    /// Whether `seq` lies past what was verified: with `--key`, not to be printed.
    pub fn beyond(&self, seq: u64) -> bool {
        self.anchors.as_ref().is_some_and(|a| seq >= a.size)
    }

    /// Whether what was checked so far may be printed: without `--key` each record at
    /// once; with it, once the last record checked was one the verification kept.
    pub fn confirmed(&self) -> bool {
        match &self.anchors {
            None => true,
            Some(anchors) => self.next.checked_sub(1).is_some_and(|last| anchors.is_anchor(last)),
        }
    }

    /// Checks the next record read; the problem, naming the record, if it does not fit.
    pub fn check(
        &mut self,
        reader: &LogReader,
        seq: u64,
        bytes: &[u8],
        stored: &Hash,
    ) -> Result<(), String> {
        self.check_with(|before| stored_chain(reader, before), seq, bytes, stored)
    }

    /// [`ChainCheck::check`], with `anchor` reading the stored chain hash of a record
    /// (where the chain resumes after `since`).
    fn check_with(
        &mut self,
        anchor: impl FnOnce(u64) -> Result<Hash, String>,
        seq: u64,
        bytes: &[u8],
        stored: &Hash,
    ) -> Result<(), String> {
        if seq != self.next {
            return Err(format!(
                "FAILED at record {}: record {} is missing (the next one stored is {seq})",
                self.next, self.next
            ));
        }
        let previous = match self.previous {
            Some(previous) => previous,
            None => anchor(self.next.saturating_sub(1))?,
        };
        if chain_hash(&previous, bytes) != *stored {
            return Err(format!(
                "FAILED at record {seq}: record {seq} does not match its chain hash"
            ));
        }
        if let Some(kept) = self.anchors.as_ref().and_then(|a| a.chain.get(&seq))
            && kept != stored
        {
            return Err(format!(
                "FAILED at record {seq}: the log changed after it was verified (the chain at \
                 record {seq} is not the one verified)"
            ));
        }
        self.previous = Some(*stored);
        self.next = seq.saturating_add(1);
        Ok(())
    }
}

/// The stored chain hash of record `before`, where a chain resumes.
fn stored_chain(reader: &LogReader, before: u64) -> Result<Hash, String> {
    let read = reader.records(before, 1).map_err(|e| format!("FAILED: {e:#}"))?;
    match read.first() {
        Some((seq, _, hash)) if *seq == before => Ok(*hash),
        _ => Err(format!("FAILED at record {before}: record {before} is missing")),
    }
}

/// Verifies the whole log in `reader` against `key`, as `aecl audit verify` does (without
/// published checkpoints); the problem as a `FAILED` line if it does not verify.
pub fn verify_whole_log(reader: &LogReader, key: &VerifierKey) -> Result<Result<Anchors, String>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    for attempt in 1..=ATTEMPTS {
        let head = reader.head()?;
        let checkpoints = reader.checkpoints()?;
        let options =
            VerifyOptions { head: Some(head.clone()), threads, ..VerifyOptions::default() };
        let mut records = reader.stream(0);
        let mut anchors = Anchors::default();
        let mut last = None;
        let kept = (&mut records).inspect(|(seq, _, chain)| {
            if seq % ANCHOR_EVERY == ANCHOR_EVERY - 1 {
                anchors.chain.insert(*seq, *chain);
            }
            last = Some((*seq, *chain));
        });
        let report = verify_log_with(kept, &checkpoints, key, &options);
        if let Some(error) = records.error {
            return Err(error.context("reading the log"));
        }
        let Some(problem) = report.problem else {
            if let Some((seq, chain)) = last {
                anchors.chain.insert(seq, chain);
                anchors.size = seq.saturating_add(1);
            }
            anchors.checkpoint = checkpoints.last().cloned();
            return Ok(Ok(anchors));
        };
        // A live writer moved the log between the reads: read it again.
        if attempt < ATTEMPTS && reader.head().ok().as_ref() != Some(&head) {
            continue;
        }
        return Ok(Err(match problem.first_bad_seq() {
            Some(seq) => format!("FAILED at record {seq}: {problem}"),
            None => format!("FAILED: {problem}"),
        }));
    }
    bail!("the log kept moving while it was verified")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` records and their chain hashes.
    fn log(count: u64, forged_from: Option<u64>) -> Vec<(u64, Vec<u8>, Hash)> {
        let mut previous = GENESIS;
        (0..count)
            .map(|seq| {
                let forged = forged_from.is_some_and(|from| seq >= from);
                let bytes = format!("{{\"seq\":{seq},\"forged\":{forged}}}").into_bytes();
                previous = chain_hash(&previous, &bytes);
                (seq, bytes, previous)
            })
            .collect()
    }

    fn anchors_of(records: &[(u64, Vec<u8>, Hash)]) -> Anchors {
        let mut anchors = Anchors::default();
        for (seq, _, chain) in records {
            if seq % ANCHOR_EVERY == ANCHOR_EVERY - 1 || *seq + 1 == records.len() as u64 {
                anchors.chain.insert(*seq, *chain);
            }
        }
        anchors.size = records.len() as u64;
        anchors
    }

    fn no_anchor(_: u64) -> Result<Hash, String> {
        Err("not read".to_owned())
    }

    /// What a printing pass over `read` would print when the verification read `verified`.
    fn printed(verified: &[(u64, Vec<u8>, Hash)], read: &[(u64, Vec<u8>, Hash)]) -> (u64, bool) {
        let mut chain = ChainCheck::starting_at(0).verified(Some(anchors_of(verified)));
        let (mut printed, mut held) = (0, 0);
        for (seq, bytes, stored) in read {
            if chain.beyond(*seq) {
                break;
            }
            if chain.check_with(no_anchor, *seq, bytes, stored).is_err() {
                return (printed, false);
            }
            held += 1;
            if chain.confirmed() {
                printed += held;
                held = 0;
            }
        }
        (printed, held == 0)
    }

    #[test]
    fn a_log_swapped_after_its_verification_prints_nothing_it_did_not_verify() {
        let genuine = log(3000, None);
        assert_eq!(printed(&genuine, &genuine), (3000, true));
        // Records forged from 2500 on, with their chain recomputed: what was printed
        // stops at the last verified chain hash met before them.
        let forged = log(3000, Some(2500));
        assert_eq!(printed(&genuine, &forged), (2048, false));
        // Records appended after the verification are not printed.
        let longer = log(3100, None);
        assert_eq!(printed(&genuine, &longer), (3000, true));
        // A short log: only the last record's hash is kept; nothing is printed before it.
        let short = log(91, None);
        assert_eq!(printed(&short, &log(91, Some(62))), (0, false));
    }
}
