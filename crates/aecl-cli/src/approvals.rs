//! `aecl approvals list | show | approve | reject`: an approver's side of the approval gate,
//! through a running `aecl serve`. The CLI holds no authority of its own: the server checks
//! the approver token (from `--token-file` or `AECL_TOKEN`, never the command line, where
//! other users could read it in the process list), its role, and that nobody answers their
//! own request.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    /// The `aecl serve` to talk to.
    #[arg(long, default_value = "http://127.0.0.1:8080", global = true)]
    server: String,
    /// A file holding an approver token (`aecl token issue --approver NAME`); without it,
    /// the `AECL_TOKEN` environment variable.
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: ApprovalsCommand,
}

#[derive(Debug, Subcommand)]
enum ApprovalsCommand {
    /// The pending requests, newest first (`--all`: answered ones too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// One request with its full context, as JSON.
    Show { id: String },
    /// Approve a request: the agent's retry of the same call will run, once.
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a request, with the reason the agent is given.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

/// Exit code 0 when the server did it, 1 when it refused (the reason is printed).
pub fn run(args: &ApprovalsArgs) -> Result<std::process::ExitCode> {
    let token = token(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the client runtime")?;
    let (method, path, body) = match &args.command {
        ApprovalsCommand::List { all } => {
            let status = if *all { "all" } else { "pending" };
            ("GET", format!("/v1/approvals?status={status}"), None)
        }
        ApprovalsCommand::Show { id } => ("GET", format!("/v1/approvals/{id}"), None),
        ApprovalsCommand::Approve { id, reason } => {
            ("POST", format!("/v1/approvals/{id}/approve"), Some(json!({ "reason": reason })))
        }
        ApprovalsCommand::Reject { id, reason } => {
            ("POST", format!("/v1/approvals/{id}/reject"), Some(json!({ "reason": reason })))
        }
    };
    let (status, answer) =
        runtime.block_on(request(&args.server, method, &path, &token, body.as_ref()))?;
    if !(200..300).contains(&status) {
        let message = answer["error"]["message"].as_str().unwrap_or("no message");
        let code = answer["error"]["code"].as_str().unwrap_or("error");
        #[expect(clippy::print_stderr, reason = "the CLI reports the server's refusal")]
        {
            eprintln!("refused ({status} {code}): {message}");
        }
        return Ok(std::process::ExitCode::from(1));
    }
    #[expect(clippy::print_stdout, reason = "the CLI's output")]
    match &args.command {
        ApprovalsCommand::List { .. } => {
            for approval in answer.as_array().into_iter().flatten() {
                println!("{}", summary(approval));
            }
        }
        ApprovalsCommand::Show { .. } => println!("{}", serde_json::to_string_pretty(&answer)?),
        ApprovalsCommand::Approve { id, .. } => println!(
            "approved {id}: grant {} until {} ms; the agent's retry of the same call will run once",
            answer["grant_id"].as_str().unwrap_or("?"),
            answer["grant_expires_ms"]
        ),
        ApprovalsCommand::Reject { id, .. } => println!("rejected {id}"),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// One line of `list`.
fn summary(approval: &Value) -> String {
    let field = |name: &str| approval[name].as_str().unwrap_or("-").to_owned();
    format!(
        "{}  {}  agent={}  action={}  run={}  call={}  expires_ms={}",
        field("id"),
        field("status"),
        field("agent"),
        field("action"),
        field("run"),
        field("call_id"),
        approval["expires_ms"]
    )
}

fn token(args: &ApprovalsArgs) -> Result<String> {
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?,
        None => std::env::var("AECL_TOKEN").map_err(|_| {
            anyhow!("no token: pass --token-file FILE or set AECL_TOKEN (aecl token issue --approver NAME)")
        })?,
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("the approver token is empty");
    }
    Ok(token)
}

async fn request(
    server: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(u16, Value)> {
    let uri = format!("{}{path}", server.trim_end_matches('/'));
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(&uri)
        .header("authorization", format!("Bearer {token}"));
    let bytes = match body {
        Some(body) => {
            builder = builder.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    let request = builder.body(Full::new(bytes)).with_context(|| format!("a request to {uri}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response =
        client.request(request).await.with_context(|| format!("reaching aecl serve at {uri}"))?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.context("reading the answer")?.to_bytes();
    let answer = serde_json::from_slice(&bytes).with_context(|| {
        format!("the server's answer ({status}) is not JSON: {}", String::from_utf8_lossy(&bytes))
    })?;
    Ok((status, answer))
}
