//! `aecl eval`: decide one call, optionally after the events of a trace, and print the
//! verdict as JSON or, with `--explain`, as text for a person.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use aecl_policy::replay::Replayer;
use aecl_policy::trace::{CallEvent, TraceEvent, parse_event};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;

use crate::explain::explain;
use crate::input::{load_policy, now};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The policy directory.
    #[arg(long)]
    policy: PathBuf,
    /// The call: a JSON object like a trace `call` event, without `type`.
    #[arg(long)]
    call: PathBuf,
    /// Events (JSON Lines) of the call's run that happened before it; the trace is read up
    /// to the call with the same id, if it holds one.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// The agent, when neither the call nor the trace names it.
    #[arg(long)]
    agent: Option<String>,
    /// Print a human-readable explanation instead of JSON.
    #[arg(long)]
    explain: bool,
}

pub fn run(args: &EvalArgs) -> Result<ExitCode> {
    let loaded = load_policy(&args.policy)?;
    let call_text = fs::read_to_string(&args.call)
        .with_context(|| format!("reading `{}`", args.call.display()))?;
    let call: CallEvent = serde_json::from_str(&call_text).map_err(|e| {
        let message = e.to_string();
        let message =
            message.rfind(" at line ").and_then(|cut| message.get(..cut)).unwrap_or(&message);
        anyhow!("{}:{}:{}: {message}", args.call.display(), e.line(), e.column())
    })?;
    let mut replayer = Replayer::new(&loaded.policy, args.agent.clone(), now());
    if let Some(trace) = &args.trace {
        let text =
            fs::read_to_string(trace).with_context(|| format!("reading `{}`", trace.display()))?;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let event =
                parse_event(line, index + 1).with_context(|| trace.display().to_string())?;
            if event.run() != call.run {
                continue;
            }
            // A trace that also holds the call itself ends there: what follows is its future.
            if let TraceEvent::Call(c) = &event
                && c.id == call.id
            {
                break;
            }
            replayer
                .apply(&event)
                .map_err(|e| anyhow!("{}:{}: {e}", trace.display(), index + 1))?;
        }
    }
    let Some(decided) = replayer.apply(&TraceEvent::Call(call)).map_err(|e| anyhow!(e))? else {
        bail!("the call was not decided");
    };
    let mut out = std::io::stdout().lock();
    if args.explain {
        write!(out, "{}", explain(&decided.call, &decided.verdict))?;
    } else {
        serde_json::to_writer_pretty(&mut out, &aecl_protocol::Verdict::from(&decided.verdict))?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
