//! `aecl effects reconcile`: through a running `aecl serve` (an approver or admin token,
//! from `--token-file` or `AECL_TOKEN`), resolve the effects left `outcome_unknown` where
//! the connector can tell from the target whether they landed. The server does the work
//! (it holds the store's writer and the connectors); nothing is executed again and every
//! change is audited. `aecl serve` does the same at start-up.
//!
//! A table, one row per effect: `STATUS EFFECT ACTION RUN RECORDED EVIDENCE`, where STATUS
//! is `succeeded` (it landed; `aecl rollback` can undo it), `failed` (it did not land) or
//! `undecidable` (it stays `outcome_unknown`), and RECORDED says whether this run changed
//! the ledger (`recorded`) or found what an earlier one did (`unchanged`). Exit code 0
//! when the server answered, 1 when it refused, 2 for bad input. `--json` prints the
//! server's answer instead: a list of `{effect_id, action, run, status, recorded,
//! evidence}`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::approvals::read_token;
use crate::rollback::post_for_effects;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum EffectsCommand {
    /// Resolve effects left `outcome_unknown` by a crash or a timeout, from what their
    /// connector finds in the target (never by executing them again).
    Reconcile(ReconcileArgs),
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The `aecl serve` to talk to.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// A file holding an approver or admin token; without it, `AECL_TOKEN`.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Print the server's JSON list (for scripts).
    #[arg(long)]
    json: bool,
}

pub fn run(command: &EffectsCommand) -> Result<ExitCode> {
    let EffectsCommand::Reconcile(args) = command;
    let token = read_token(args.token_file.as_deref())?;
    let Some(effects) = post_for_effects(&args.server, "/v1/effects/reconcile", &token)? else {
        return Ok(ExitCode::from(1));
    };
    #[expect(clippy::print_stdout, reason = "the CLI's output")]
    if args.json {
        println!("{}", serde_json::to_string_pretty(&effects)?);
    } else if effects.is_empty() {
        println!("nothing to reconcile");
    } else {
        print!("{}", table(&effects).render());
    }
    Ok(ExitCode::SUCCESS)
}

fn table(effects: &[Value]) -> Table {
    let mut table = Table::new(&["STATUS", "EFFECT", "ACTION", "RUN", "RECORDED", "EVIDENCE"]);
    for effect in effects {
        let field = |name: &str| effect[name].as_str().unwrap_or("-").to_owned();
        let recorded =
            if effect["recorded"].as_bool() == Some(true) { "recorded" } else { "unchanged" };
        let evidence = match &effect["evidence"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        table.row(vec![
            field("status"),
            field("effect_id"),
            field("action"),
            field("run"),
            recorded.to_owned(),
            evidence,
        ]);
    }
    table
}
