//! `aecl audit tail`: the stored records, filtered by run, agent, action and decision,
//! as a table with relative times on a terminal, and as the stored canonical JSON, one
//! record a line, with `--json` or when the output is piped (the stable form for scripts:
//! each line is exactly what `aecl audit verify` checks).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use aecl_audit::AuditRecord;
use anyhow::{Context, Result};
use clap::Args;

use crate::audit::check;
use crate::log_reader::{LogReader, PAGE};
use crate::table::{Table, now_ms, relative};

/// Which records `tail` prints: all of these that are given must match.
#[derive(Debug, Clone, Default, Args)]
pub struct TailFilter {
    /// Only records of this run.
    #[arg(long)]
    run: Option<String>,
    /// Only records of this agent (the subject, for refusals).
    #[arg(long)]
    agent: Option<String>,
    /// Only records of this action.
    #[arg(long)]
    action: Option<String>,
    /// Only decisions of this verdict: `allow`, `require_approval` or `block`.
    #[arg(long, value_parser = ["allow", "require_approval", "block"])]
    decision: Option<String>,
    /// Print the stored canonical JSON (also the default when the output is piped).
    #[arg(long)]
    json: bool,
}

impl TailFilter {
    fn admits(&self, record: &AuditRecord) -> bool {
        let same =
            |wanted: &Option<String>, value: &str| wanted.as_deref().is_none_or(|w| w == value);
        same(&self.run, &record.run)
            && same(&self.agent, &record.agent)
            && same(&self.action, &record.action)
            && self
                .decision
                .as_deref()
                .is_none_or(|w| record.decision.is_some_and(|d| d.as_str() == w))
    }
}

pub fn tail(
    db: &str,
    since: u64,
    follow: bool,
    filter: &TailFilter,
    key: Option<&str>,
) -> Result<ExitCode> {
    let reader = LogReader::open(db)?;
    let verified = match check::before_printing(&reader, key, "nothing printed")? {
        Ok(verified) => verified,
        Err(stop) => return Ok(stop),
    };
    let signed = verified.is_some();
    // Every record read is checked, the ones the filter leaves out included: a hole or an
    // edit anywhere after `since` is a log that does not verify.
    let mut chain = check::ChainCheck::starting_at(since).verified(verified);
    let json = filter.json || !io::stdout().is_terminal();
    let mut next = since;
    let mut header = true;
    // With `--key`, what records not yet met at a verified chain hash would print.
    let mut held = Held::default();
    loop {
        let page = reader.records(next, PAGE)?;
        let mut out = io::stdout().lock();
        let now = now_ms();
        let mut reached_end = page.len() < PAGE;
        for (seq, bytes, stored) in &page {
            if chain.beyond(*seq) {
                reached_end = true;
                break;
            }
            if let Err(failed) = chain.check(&reader, *seq, bytes, stored) {
                // Without a key, what came before it was checked as far as it can be.
                if !signed {
                    held.print(&mut out, header)?;
                }
                return check::stopped(&failed, "tail stopped before that record");
            }
            next = seq.saturating_add(1);
            let record = AuditRecord::from_canonical(bytes).with_context(|| {
                format!("record {seq} is not a valid record (run `aecl audit verify`)")
            })?;
            if filter.admits(&record) {
                if json {
                    held.json.extend_from_slice(bytes);
                    held.json.push(b'\n');
                } else {
                    held.rows.push(row(*seq, &record, now));
                }
            }
            if signed && chain.confirmed() {
                header = held.print(&mut out, header)?;
            }
        }
        // Without a key, each page is printed as it was read (one table a page).
        if !signed {
            header = held.print(&mut out, header)?;
        }
        if !reached_end {
            continue;
        }
        if !held.is_empty() {
            return check::stopped(
                "FAILED: the log changed after it was verified (its last records were not met)",
                "tail stopped before them",
            );
        }
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(250));
        // Records past the size verified are printed once the log verifies with them
        // (a stored checkpoint covers them).
        if signed && reader.head()?.next_seq() > next {
            let Some(key) = key else { continue };
            match check::verify_whole_log(&reader, &crate::audit::verifier(key)?)? {
                Ok(anchors) => chain.reverified(anchors),
                Err(failed) => return check::stopped(&failed, "tail stopped"),
            }
        }
    }
}

/// What waits to be printed until the chain meets a verified hash.
#[derive(Debug, Default)]
struct Held {
    json: Vec<u8>,
    rows: Vec<Vec<String>>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.json.is_empty() && self.rows.is_empty()
    }

    /// Prints what is held (the table's header once, above the first rows); whether the
    /// header is still to be written.
    fn print(&mut self, out: &mut impl Write, header: bool) -> Result<bool> {
        out.write_all(&self.json)?;
        self.json.clear();
        let mut table = Table::new(&[
            "SEQ", "TIME", "KIND", "AGENT", "RUN", "ACTION", "DECISION", "OUTCOME", "REASON",
        ]);
        for row in self.rows.drain(..) {
            table.row(row);
        }
        flush(out, &table, header)
    }
}

/// Writes the rows gathered (with the header when `header`) and flushes; whether the
/// header is still to be written.
fn flush(out: &mut impl Write, table: &Table, header: bool) -> Result<bool> {
    let mut header = header;
    if !table.is_empty() {
        let text = table.render();
        // The header once, above the first rows.
        let body =
            if header { text.as_str() } else { text.split_once('\n').map_or("", |(_, b)| b) };
        out.write_all(body.as_bytes())?;
        header = false;
    }
    out.flush()?;
    Ok(header)
}

/// One record as a row.
fn row(seq: u64, record: &AuditRecord, now: u64) -> Vec<String> {
    let dash = |text: &str| if text.is_empty() { "-".to_owned() } else { text.to_owned() };
    let reason = record
        .reasons
        .iter()
        .filter(|r| Some(r.decision) == record.decision)
        .map(|r| r.rule.to_string())
        .collect::<Vec<_>>()
        .join(",");
    vec![
        seq.to_string(),
        relative(now, record.time.0),
        record.kind.as_str().to_owned(),
        dash(&record.agent),
        dash(&record.run),
        dash(&record.action),
        record.decision.map_or("-", |d| d.as_str()).to_owned(),
        record.outcome.map_or("-", |o| o.as_str()).to_owned(),
        dash(&reason),
    ]
}
