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

/// Before a command prints anything: with `key`, the whole log must verify against it;
/// without, the note says what is not checked. `Some(exit code)` when the command stops.
pub fn before_printing(
    reader: &LogReader,
    key: Option<&str>,
    what: &str,
) -> Result<Option<ExitCode>> {
    match key {
        Some(key) => match verify_whole_log(reader, &crate::audit::verifier(key)?)? {
            Ok(()) => Ok(None),
            Err(failed) => stopped(&failed, what).map(Some),
        },
        None => note_unsigned().map(|()| None),
    }
}

/// Follows the hash chain over the records a command reads, from `since` on.
#[derive(Debug)]
pub struct ChainCheck {
    /// The chain hash of the record before the next one; `None` until known (a log that
    /// does not reach `since` yet).
    previous: Option<Hash>,
    next: u64,
}

impl ChainCheck {
    pub fn starting_at(since: u64) -> ChainCheck {
        let previous = (since == 0).then_some(GENESIS);
        ChainCheck { previous, next: since }
    }

    /// Checks the next record read; the problem, naming the record, if it does not fit.
    pub fn check(
        &mut self,
        reader: &LogReader,
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
            None => self.anchor(reader)?,
        };
        if chain_hash(&previous, bytes) != *stored {
            return Err(format!(
                "FAILED at record {seq}: record {seq} does not match its chain hash"
            ));
        }
        self.previous = Some(*stored);
        self.next = seq.saturating_add(1);
        Ok(())
    }

    /// The stored chain hash of the record before `next`, where the chain resumes.
    fn anchor(&self, reader: &LogReader) -> Result<Hash, String> {
        let before = self.next.saturating_sub(1);
        let read = reader.records(before, 1).map_err(|e| format!("FAILED: {e:#}"))?;
        match read.first() {
            Some((seq, _, hash)) if *seq == before => Ok(*hash),
            _ => Err(format!("FAILED at record {before}: record {before} is missing")),
        }
    }
}

/// Verifies the whole log in `reader` against `key`, as `aecl audit verify` does (without
/// published checkpoints); the problem as a `FAILED` line if it does not verify.
pub fn verify_whole_log(reader: &LogReader, key: &VerifierKey) -> Result<Result<(), String>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    for attempt in 1..=ATTEMPTS {
        let head = reader.head()?;
        let checkpoints = reader.checkpoints()?;
        let options =
            VerifyOptions { head: Some(head.clone()), threads, ..VerifyOptions::default() };
        let mut records = reader.stream(0);
        let report = verify_log_with(&mut records, &checkpoints, key, &options);
        if let Some(error) = records.error {
            return Err(error.context("reading the log"));
        }
        let Some(problem) = report.problem else { return Ok(Ok(())) };
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
