//! `aecl mcp`: the MCP gateway. `aecl mcp --policy DIR --agent ID --key KEY -- COMMAND
//! ARGS` starts the MCP server `COMMAND` and serves MCP on stdin and stdout in its place:
//! the agent sees only the tools its manifest lets it call, and every call is decided,
//! recorded and executed through the engine over the store `--db` (the same default as
//! `aecl serve`).
//!
//! Standard output is the MCP channel: logs go to standard error only.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aecl_audit::redact::FieldPath;
use aecl_engine::{Engine, EngineConfig, SystemClock, new_id};
use aecl_mcp::{Gateway, GatewayConfig, Upstream};
use aecl_store::{AnyStore, AuditConfig, StoreUrl};
use anyhow::{Context, Result, bail};

use crate::record::signer;

#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// The policy directory.
    #[arg(long)]
    policy: PathBuf,
    /// The agent whose manifest applies to every call.
    #[arg(long)]
    agent: String,
    /// The store: a SQLite file, `sqlite://PATH` or `postgres://...`.
    #[arg(long, default_value = "aecl.db")]
    db: String,
    /// The secret key that signs audit checkpoints (`aecl keys generate`).
    #[arg(long, value_name = "AUDIT_SECRET_KEY")]
    key: PathBuf,
    /// The run the calls belong to (default: a new id per gateway).
    #[arg(long)]
    run: Option<String>,
    /// Put before each tool's name to make its catalog action (e.g. `fs__`).
    #[arg(long, default_value = "")]
    action_prefix: String,
    /// How long a call that needs approval waits for an approver, in seconds, before the
    /// client gets a pending result to retry.
    #[arg(long, default_value_t = 0)]
    approval_wait: u64,
    /// This instance's name in the effect ledger.
    #[arg(long, default_value = "mcp")]
    node: String,
    /// The MCP server to wrap, after `--`: its program and arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub fn run(args: &McpArgs) -> Result<ExitCode> {
    // Standard output carries MCP: logs go to standard error.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AECL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let loaded = crate::reload::checked(&args.policy)?;
    if !loaded.policy.agents.contains_key(&args.agent) {
        bail!(
            "--agent `{}`: the policy in `{}` has no manifest for it",
            args.agent,
            args.policy.display()
        );
    }
    let signer = signer(&args.key)?;
    let redact = loaded
        .audit_redact
        .iter()
        .map(|path| FieldPath::parse(path).with_context(|| format!("redact path `{path}`")))
        .collect::<Result<Vec<_>>>()?;
    let config = EngineConfig {
        node: args.node.clone(),
        redact: redact.clone(),
        grant_key: Some(signer.clone()),
        ..EngineConfig::default()
    };
    let audit = AuditConfig { origin: signer.name().to_owned(), signer };
    let url = StoreUrl::parse(&args.db).with_context(|| format!("`{}` is not a store", args.db))?;
    let Some((program, program_args)) = args.command.split_first() else {
        bail!("give the MCP server's command after `--`");
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let store =
            AnyStore::open(&url, audit).await.with_context(|| format!("opening `{url:?}`"))?;
        let engine = Arc::new(Engine::new(
            Arc::new(store),
            Arc::new(loaded.policy),
            Arc::new(SystemClock),
            config,
        ));
        engine.recover().await?;
        let upstream = Arc::new(Upstream::spawn(program, program_args).await?);
        let config = GatewayConfig {
            agent: args.agent.clone(),
            run: args.run.clone().unwrap_or_else(new_id),
            action_prefix: args.action_prefix.clone(),
            approval_wait: Duration::from_secs(args.approval_wait),
            redact,
        };
        tracing::info!(run = %config.run, upstream = %upstream.name(), "MCP gateway on stdio");
        Gateway::new(engine, upstream, config).serve_stdio().await?;
        Ok(ExitCode::SUCCESS)
    })
}
