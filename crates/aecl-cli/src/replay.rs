//! `aecl replay`: a JSON Lines trace through a policy, streamed in bounded memory.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use aecl_policy::replay::{Replayer, Summary};
use aecl_policy::trace::parse_event;
use anyhow::{Context, Result, anyhow};
use clap::Args;
use serde_json::json;

use crate::input::{load_policy, now};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The policy directory.
    #[arg(long)]
    policy: PathBuf,
    /// The trace file (JSON Lines), or `-` for standard input.
    trace: PathBuf,
    /// A second policy: print only the calls whose decision differs between the two.
    #[arg(long, value_name = "OTHER_DIR")]
    diff: Option<PathBuf>,
    /// Print counts per decision, action and rule instead of one line per call.
    #[arg(long)]
    summary: bool,
    /// The agent of runs whose events name none.
    #[arg(long)]
    agent: Option<String>,
    /// Record the trace into this store (a SQLite file or `postgres://...`) through the
    /// engine, with a signed audit log, instead of deciding in memory.
    #[arg(long, value_name = "DB", requires = "key", conflicts_with_all = ["diff", "summary"])]
    record: Option<String>,
    /// The secret key (`aecl keys generate`) that signs the audit log's checkpoints.
    #[arg(long, requires = "record")]
    key: Option<PathBuf>,
}

pub fn run(args: &ReplayArgs) -> Result<ExitCode> {
    let loaded = load_policy(&args.policy)?;
    let other = args.diff.as_deref().map(load_policy).transpose()?;
    let now = now();
    let mut replayer =
        Replayer::new(&loaded.policy, args.agent.clone(), now).with_limits(loaded.runs);
    let mut other_replayer = other
        .as_ref()
        .map(|o| Replayer::new(&o.policy, args.agent.clone(), now).with_limits(o.runs));

    let name = args.trace.display().to_string();
    let input: Box<dyn BufRead> = if name == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(BufReader::new(
            File::open(&args.trace).with_context(|| format!("opening `{name}`"))?,
        ))
    };
    if let (Some(db), Some(key)) = (&args.record, &args.key) {
        return crate::record::record(loaded, db, key, args.agent.as_deref(), &name, input);
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut summary = Summary::default();
    let mut line = String::new();
    let mut reader = input;
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).with_context(|| format!("reading `{name}`"))? == 0 {
            break;
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let event = parse_event(&line, number).map_err(|e| anyhow!("{name}: {e}"))?;
        let decided = replayer.apply(&event).map_err(|e| anyhow!("{name}:{number}: {e}"))?;
        let other_decided = match other_replayer.as_mut() {
            Some(r) => r.apply(&event).map_err(|e| anyhow!("{name}:{number}: {e}"))?,
            None => None,
        };
        let Some(decided) = decided else { continue };
        if args.summary {
            summary.add(&decided);
            continue;
        }
        match (&other_replayer, other_decided) {
            (None, _) => serde_json::to_writer(&mut out, &decided.line())?,
            (Some(_), Some(theirs)) if theirs.verdict.decision != decided.verdict.decision => {
                let row = json!({
                    "id": decided.call.id,
                    "run": decided.call.run,
                    "action": decided.call.action,
                    "decision": decided.verdict.decision,
                    "other_decision": theirs.verdict.decision,
                    "reasons": decided.verdict.reasons,
                    "other_reasons": theirs.verdict.reasons,
                });
                serde_json::to_writer(&mut out, &row)?;
            }
            (Some(_), _) => continue,
        }
        out.write_all(b"\n")?;
    }
    if args.summary {
        serde_json::to_writer_pretty(&mut out, &summary.to_json())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    report_expired(&replayer, &loaded.runs);
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr how many runs that never ended were expired to keep memory bounded.
fn report_expired(replayer: &Replayer<'_>, limits: &aecl_core::run_bounds::RunLimits) {
    let expired = replayer.expired();
    if expired.is_empty() {
        return;
    }
    let total: u64 = expired.iter().map(|(_, n)| n).sum();
    let why: Vec<String> = expired
        .iter()
        .map(|(reason, n)| match *reason {
            "max_open_runs" => format!("{n} over max_open_runs = {}", limits.max_open_runs),
            "max_state_bytes" => {
                format!("{n} over max_state_bytes = {}", limits.max_state_bytes)
            }
            other => format!("{n} {other}"),
        })
        .collect();
    #[expect(clippy::print_stderr, reason = "the command's report to its user")]
    {
        eprintln!(
            "aecl replay: expired {total} run states of runs without an `end` event to bound \
             memory ({}); a later event of such a run continues with no trusted history",
            why.join(", ")
        );
    }
}
