//! `aecl audit prove` and `verify-proof`: an RFC 6962 inclusion proof of one record, made
//! from the store and checked offline against a checkpoint signed by the pinned key.
//!
//! The proof file carries the record's canonical bytes, so checking it proves what the
//! record says, not only that some leaf exists. Before it prints a proof, `prove` checks
//! the records of the tree against their hash chain and the tree's root against the
//! checkpoint's (with `--key`, the checkpoint's signature too): a proof of an edited record
//! is never printed as if it were one.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use aecl_audit::merkle::leaf_hash;
use aecl_audit::{
    Checkpoint, Hash, MerkleTree, VerifierKey, parse_and_verify_checkpoint, verify_inclusion,
};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::audit::{check, exported_note, hex, open_checkpoint};
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

pub fn prove(
    reader: &LogReader,
    seq: u64,
    checkpoint: Option<&Path>,
    key: Option<&VerifierKey>,
) -> Result<ExitCode> {
    let (text, what) = match checkpoint {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading `{}`", path.display()))?;
            (exported_note(&text).to_owned(), format!("`{}`", path.display()))
        }
        None => {
            let Some(latest) = reader.checkpoints()?.pop() else {
                bail!("the log has no checkpoint yet")
            };
            (latest, "the latest stored checkpoint".to_owned())
        }
    };
    let signed = match key {
        Some(key) => parse_and_verify_checkpoint(&text, key)
            .with_context(|| format!("{what} is not a checkpoint signed by the log's key")),
        None => opened_unchecked(&text).with_context(|| format!("{what} is not a checkpoint")),
    };
    let signed = match signed {
        Ok(checkpoint) => checkpoint,
        // A stored checkpoint that is not the log's is a log that does not verify.
        Err(error) if checkpoint.is_none() => {
            return check::stopped(&format!("FAILED: {error:#}"), "no proof printed");
        }
        Err(error) => return Err(error),
    };
    if key.is_none() {
        check::note_unsigned()?;
    }
    let size = signed.size;
    if seq >= size {
        bail!("record {seq} is not covered by a checkpoint of size {size}");
    }
    let mut leaves = Vec::new();
    let mut record = None;
    let mut chain = check::ChainCheck::starting_at(0);
    let mut stream = reader.stream(0);
    for (stored_seq, bytes, stored) in stream.by_ref().take(usize::try_from(size)?) {
        if let Err(failed) = chain.check(reader, stored_seq, &bytes, &stored) {
            return check::stopped(&failed, "no proof printed");
        }
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
    // The records' tree must be the one the checkpoint signs: an edit with its chain
    // recomputed is caught here.
    if tree.root(size).ok() != Some(signed.root) {
        let failed = format!(
            "FAILED: the store's first {size} records are not the tree {what} signs (root \
             differs): records were changed or removed"
        );
        return check::stopped(&failed, "no proof printed");
    }
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

/// A signed checkpoint's body, read without checking the signature (no key was given;
/// `verify-proof` checks it).
fn opened_unchecked(note: &str) -> Result<Checkpoint> {
    let body =
        note.split_once("\n\n").map(|(body, _)| format!("{body}\n")).context("no signature")?;
    Ok(Checkpoint::parse_body(&body)?)
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
