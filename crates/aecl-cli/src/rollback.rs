//! `aecl rollback EFFECT_ID` and `aecl rollback --run RUN_ID`: undo through a running
//! `aecl serve` (an approver or admin token, from `--token-file` or `AECL_TOKEN`). The
//! server does the work: each undo is a call of the catalog's compensation action, decided
//! by policy and audited, and a second rollback of the same effect is a no-op.
//!
//! One line per effect: `STATUS EFFECT_ID action=ACTION [detail]`, where STATUS is
//! `restored`, `already_rolled_back`, `undo_conflict`, `irreversible`, `nothing_to_undo`,
//! `in_flight`, `outcome_unknown`, `not_recorded`, `pending_approval`, `blocked` or
//! `failed`. Exit code 0 when every effect is restored
//! (or was already, or had nothing to undo), 1 otherwise (a conflict above all) or when
//! the server refused, 2 for bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

use crate::approvals::{read_token, request};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The effect to undo (the `effect.id` of an execution).
    #[arg(required_unless_present = "run", conflicts_with = "run")]
    effect: Option<String>,
    /// Undo every effect of this run, newest first (stops at the first that cannot be
    /// undone and may still change).
    #[arg(long, value_name = "RUN_ID")]
    run: Option<String>,
    /// The `aecl serve` to talk to.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// A file holding an approver or admin token; without it, `AECL_TOKEN`.
    #[arg(long)]
    token_file: Option<PathBuf>,
}

/// Statuses after which nothing is left to undo.
const DONE: &[&str] = &["restored", "already_rolled_back", "nothing_to_undo"];

pub fn run(args: &RollbackArgs) -> Result<ExitCode> {
    let token = read_token(args.token_file.as_deref())?;
    let path = match (&args.effect, &args.run) {
        (Some(effect), None) => format!("/v1/effects/{}/rollback", segment(effect)?),
        (None, Some(run)) => format!("/v1/runs/{}/rollback", segment(run)?),
        _ => bail!("give an EFFECT_ID or --run RUN_ID"),
    };
    let Some(effects) = post_for_effects(&args.server, &path, &token)? else {
        return Ok(ExitCode::from(1));
    };
    let mut all_done = true;
    for effect in &effects {
        let status = effect["status"].as_str().unwrap_or("failed");
        all_done &= DONE.contains(&status);
        #[expect(clippy::print_stdout, reason = "the CLI's output")]
        {
            println!("{}", line(effect));
        }
    }
    if effects.is_empty() {
        #[expect(clippy::print_stdout, reason = "the CLI's output")]
        {
            println!("nothing to roll back");
        }
    }
    Ok(if all_done { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// POSTs to an endpoint that answers `{"effects": [...]}` (rollback, reconcile) and returns
/// them; a refusal is reported on stderr and answered `None` (the caller exits 1).
pub(crate) fn post_for_effects(
    server: &str,
    path: &str,
    token: &str,
) -> Result<Option<Vec<Value>>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the client runtime")?;
    let (status, answer) = runtime.block_on(request(server, "POST", path, token, None))?;
    if !(200..300).contains(&status) {
        let message = answer["error"]["message"].as_str().unwrap_or("no message");
        let code = answer["error"]["code"].as_str().unwrap_or("error");
        #[expect(clippy::print_stderr, reason = "the CLI reports the server's refusal")]
        {
            eprintln!("refused ({status} {code}): {message}");
        }
        return Ok(None);
    }
    Ok(Some(answer["effects"].as_array().cloned().unwrap_or_default()))
}

fn line(effect: &Value) -> String {
    let field = |name: &str| effect[name].as_str().unwrap_or("-").to_owned();
    let detail = field("detail");
    let mut out = format!("{} {} action={}", field("status"), field("effect_id"), field("action"));
    if let Some(approval) = effect["approval_id"].as_str() {
        out.push_str(&format!(" approval={approval}"));
    }
    if !detail.is_empty() && detail != "-" {
        out.push_str(&format!(" ({detail})"));
    }
    out
}

/// An id as one URL path segment: ids are UUIDs or the client's run names, so anything
/// that would need escaping is refused rather than escaped.
fn segment(id: &str) -> Result<&str> {
    let fine = !id.is_empty()
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !fine {
        bail!("`{id}`: ids are letters, digits, `-`, `_`, `.` and `:`");
    }
    Ok(id)
}
