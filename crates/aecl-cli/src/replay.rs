//! `aecl replay`: a JSON Lines trace through a policy, streamed in bounded memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use aecl_policy::replay::{Decided, Replayer, Summary};
use aecl_policy::trace::parse_event;
use aecl_protocol::DecisionLine;
use aecl_protocol::verdict::reasons;
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
    /// A second policy: print only the calls whose decision differs between the two, and
    /// exit 1 when any does (0 when none does, 2 on an error).
    #[arg(long, value_name = "OTHER_DIR")]
    diff: Option<PathBuf>,
    /// Print counts per decision, action and rule instead of one line per call; with
    /// `--diff`, the differing calls first, then the counts with a `diff` section.
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
    let (input, size): (Box<dyn BufRead>, Option<u64>) = if name == "-" {
        (Box::new(BufReader::new(std::io::stdin().lock())), None)
    } else {
        let file = File::open(&args.trace).with_context(|| format!("opening `{name}`"))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::new(file)), size)
    };
    if let (Some(db), Some(key)) = (&args.record, &args.key) {
        return crate::record::record(loaded, db, key, args.agent.as_deref(), &name, input);
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut summary = Summary::default();
    let mut diff = DiffCounts::default();
    let mut line = String::new();
    let mut reader = input;
    let mut number = 0;
    let progress = crate::progress::bar(size, "replaying", true);
    loop {
        line.clear();
        let read = reader.read_line(&mut line).with_context(|| format!("reading `{name}`"))?;
        if read == 0 {
            break;
        }
        progress.inc(u64::try_from(read).unwrap_or(u64::MAX));
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
        }
        match (&other_replayer, other_decided) {
            (None, _) if args.summary => continue,
            (None, _) => serde_json::to_writer(&mut out, &DecisionLine::from(&decided))?,
            (Some(_), Some(theirs)) if theirs.verdict.decision != decided.verdict.decision => {
                diff.add(&decided, &theirs);
                let row = json!({
                    "id": decided.call.id,
                    "run": decided.call.run,
                    "action": decided.call.action,
                    "decision": decided.verdict.decision,
                    "other_decision": theirs.verdict.decision,
                    "reasons": reasons(&decided.verdict.reasons),
                    "other_reasons": reasons(&theirs.verdict.reasons),
                });
                serde_json::to_writer(&mut out, &row)?;
            }
            (Some(_), _) => continue,
        }
        out.write_all(b"\n")?;
    }
    progress.finish_and_clear();
    if args.summary {
        let mut report = summary.to_json();
        if other_replayer.is_some()
            && let Some(fields) = report.as_object_mut()
        {
            fields.insert("diff".to_owned(), diff.to_json());
        }
        serde_json::to_writer_pretty(&mut out, &report)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    report_expired(&replayer, &loaded.runs);
    // Like `diff(1)`: 1 when the two policies decided some call differently, so CI can
    // gate a policy change on it.
    Ok(if diff.differing > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// What `--diff` found, for the summary: how many calls differ and how, by
/// `this -> other` decision pair and by action.
#[derive(Debug, Default)]
struct DiffCounts {
    differing: u64,
    changes: BTreeMap<String, u64>,
    actions: BTreeMap<String, u64>,
}

impl DiffCounts {
    fn add(&mut self, ours: &Decided, theirs: &Decided) {
        self.differing += 1;
        let change = format!("{} -> {}", ours.verdict.decision, theirs.verdict.decision);
        *self.changes.entry(change).or_default() += 1;
        *self.actions.entry(ours.call.action.clone()).or_default() += 1;
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "differing_calls": self.differing,
            "changes": self.changes,
            "actions": self.actions,
        })
    }
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
