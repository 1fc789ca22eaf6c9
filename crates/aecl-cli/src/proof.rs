//! `aecl audit prove` and `verify-proof`: an RFC 6962 inclusion proof of one record, made
//! from the store and checked offline against a checkpoint signed by the pinned key.
//!
//! The proof file carries the record's canonical bytes, so checking it proves what the
//! record says, not only that some leaf exists.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use aecl_audit::merkle::leaf_hash;
use aecl_audit::{Checkpoint, Hash, MerkleTree, VerifierKey, verify_inclusion};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::audit::{hex, open_checkpoint};
use crate::log_reader::LogReader;

/// The proof file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofFile {
    seq: u64,
    /// The tree size the proof is for: a checkpoint of this size checks it.
    size: u64,
    /// The record's canonical bytes, as text.
    record: String,
    /// The audit path, hex, leaf to root.
    proof: Vec<String>,
}

pub fn prove(reader: &LogReader, seq: u64, checkpoint: Option<&Path>) -> Result<ExitCode> {
    let size = match checkpoint {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading `{}`", path.display()))?;
            size_of(&text).with_context(|| format!("`{}` is not a checkpoint", path.display()))?
        }
        None => {
            let Some(latest) = reader.checkpoints()?.pop() else {
                bail!("the log has no checkpoint yet")
            };
            size_of(&latest).context("the latest stored checkpoint is unreadable")?
        }
    };
    if seq >= size {
        bail!("record {seq} is not covered by a checkpoint of size {size}");
    }
    let mut leaves = Vec::new();
    let mut record = None;
    let mut stream = reader.stream(0);
    for (stored_seq, bytes, _) in stream.by_ref().take(usize::try_from(size)?) {
        leaves.push(leaf_hash(&bytes));
        if stored_seq == seq {
            record = Some(bytes);
        }
    }
    if let Some(error) = stream.error {
        return Err(error.context("reading the log"));
    }
    let Some(record) = record else { bail!("record {seq} is not in the log") };
    let tree = MerkleTree::from_leaf_hashes(leaves);
    let proof = tree
        .prove(seq, size)
        .context("the log is shorter than its checkpoint (run `aecl audit verify`)")?;
    let file = ProofFile {
        seq,
        size,
        record: String::from_utf8(record)
            .context("the record is not text (run `aecl audit verify`)")?,
        proof: proof.iter().map(|h| hex(h)).collect(),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &file)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

pub fn verify_proof(proof: &Path, checkpoint: &Path, key: &VerifierKey) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(proof).with_context(|| format!("reading `{}`", proof.display()))?;
    let file: ProofFile = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not a proof", proof.display()))?;
    let checkpoint = open_checkpoint(checkpoint, key)?;
    if checkpoint.size != file.size {
        bail!(
            "the proof is for a tree of {} records, the checkpoint for {}: make the proof with `aecl audit prove --checkpoint`",
            file.size,
            checkpoint.size
        );
    }
    let path = file
        .proof
        .iter()
        .map(|h| parse_hash(h))
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("`{}`: a proof hash is not 64 hex digits", proof.display()))?;
    let leaf = leaf_hash(file.record.as_bytes());
    let mut out = std::io::stdout().lock();
    match verify_inclusion(&leaf, file.seq, file.size, &path, &checkpoint.root) {
        Ok(()) => {
            writeln!(
                out,
                "ok: record {} is in the log of {} records signed by {}",
                file.seq,
                file.size,
                key.name()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(_) => {
            writeln!(
                out,
                "FAILED: record {} is not in the tree that the checkpoint signs",
                file.seq
            )?;
            Ok(ExitCode::from(1))
        }
    }
}

/// The tree size of a signed checkpoint, read without checking the signature (the prover
/// needs only the size; the verifier checks the signature).
fn size_of(note: &str) -> Result<u64> {
    let body =
        note.split_once("\n\n").map(|(body, _)| format!("{body}\n")).context("no signature")?;
    Ok(Checkpoint::parse_body(&body)?.size)
}

fn parse_hash(text: &str) -> Result<Hash> {
    if text.len() != 64 || !text.is_ascii() {
        bail!("bad hash");
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = text.get(2 * i..2 * i + 2).context("bad hash")?;
        *byte = u8::from_str_radix(pair, 16)?;
    }
    Ok(out)
}
