//! `aecl mcp`: the MCP gateway. `aecl mcp --policy DIR --agent ID --key KEY -- COMMAND
//! ARGS` starts the MCP server `COMMAND` (or, with `--upstream URL`, connects to one over
//! streamable HTTP) and serves MCP on stdin and stdout in its place:
//! the agent sees only the tools its manifest lets it call, and every call is decided,
//! recorded and executed through the engine over the store `--db` (the same default as
//! `aecl serve`).
//!
//! Approvals: a call that needs one creates a request in the engine's gate over `--db`.
//! With PostgreSQL, an `aecl serve` on the same database shows it; a SQLite file has one
//! writing process, so `--api ADDR --token-key PUB` serves the same HTTP API (approvals,
//! `/ui`, audit) from the gateway's own engine instead.
//!
//! Over streamable HTTP (`--listen ADDR --token-key PUB`) each client sends an agent token
//! and is served as that token's agent (docs/mcp.md); `--agent` then only limits which.
//! Each client session gets its own server processes, ended with the session.
//!
//! `--config gateway.toml` puts several servers behind the one gateway, their tools named
//! `SERVER__TOOL` (`aecl_mcp::config`); the command line's server is a gateway of one
//! whose tools keep their names. Secrets the file refers to are read here, the one place
//! that reads the environment and files.
//!
//! With `--otlp-endpoint`, each MCP request is a span exported over OTLP, continuing the
//! caller's trace (`aecl_mcp`'s `trace_context.rs`), the engine's stages inside it.
//!
//! Standard output is the MCP channel: logs go to standard error only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aecl_audit::VerifierKey;
use aecl_audit::redact::FieldPath;
use aecl_engine::{Engine, EngineConfig, SystemClock, new_id};
use aecl_mcp::config::Setting;
use aecl_mcp::{
    Gateway, GatewayConfig, Handshake, Launch, ServerSpec, Servers, SessionLimits, Sharing,
    Upstream,
};
use aecl_server::{AppState, NotConfigured, ServerConfig};
use aecl_store::{AnyStore, AuditConfig, StoreUrl};
use anyhow::{Context, Result, bail};

use crate::keys::read_key_text;
use crate::record::signer;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct McpArgs {
    #[command(subcommand)]
    subcommand: Option<McpCommand>,
    /// The policy directory (required to serve).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The agent whose manifest applies to every call (required to serve over stdio). With
    /// `--listen` the agent is the subject of each client's token; `--agent` then only
    /// limits the gateway to that one agent (another agent's token is refused).
    #[arg(long)]
    agent: Option<String>,
    /// The store: a SQLite file, `sqlite://PATH` or `postgres://...`.
    #[arg(long, default_value = "aecl.db")]
    db: String,
    /// The secret key that signs audit checkpoints (`aecl keys generate`).
    #[arg(long, value_name = "AUDIT_SECRET_KEY")]
    key: Option<PathBuf>,
    #[command(flatten)]
    publish: crate::witness::PublishArgs,
    /// The run the calls belong to (default: a new id per gateway).
    #[arg(long)]
    run: Option<String>,
    /// Put before each tool's name to make its catalog action (e.g. `fs__`).
    #[arg(long)]
    action_prefix: Option<String>,
    /// How long a call that needs approval waits for an approver, in seconds, before the
    /// client gets a pending result to retry.
    #[arg(long, default_value_t = 0)]
    approval_wait: u64,
    /// How often to look for policy changes, in seconds (0: reload on SIGHUP only), as
    /// `aecl serve` does: a manifest removed, a lifetime lowered or a rule added applies to
    /// the next call of every open session.
    #[arg(long, default_value_t = 2)]
    watch_interval: u64,
    /// Also serve aecl's HTTP API (approvals, the `/ui` page, audit) over the gateway's
    /// engine on this address (needs `--token-key`). The address is printed on standard
    /// error.
    #[arg(long, value_name = "ADDR", requires = "token_key")]
    api: Option<SocketAddr>,
    /// The public key that verifies tokens (as `aecl serve --token-key`): the API's, and
    /// with `--listen` the agent tokens MCP clients send as `Authorization: Bearer`.
    #[arg(long, value_name = "TOKEN_PUBLIC_KEY")]
    token_key: Option<PathBuf>,
    /// Serve MCP over streamable HTTP on this address (at `/mcp`) instead of stdio, to
    /// clients with an agent token (`aecl token issue --agent`) verified by `--token-key`.
    /// The address is printed on standard error.
    #[arg(long, value_name = "ADDR", requires = "token_key")]
    listen: Option<SocketAddr>,
    /// A `Host` name the HTTP transport accepts besides the loopback names (repeat).
    #[arg(long, value_name = "HOST")]
    allowed_host: Vec<String>,
    /// A gateway file listing the MCP servers to serve together (stdio commands and
    /// streamable HTTP URLs), their tools named `SERVER__TOOL` (docs/mcp.md), instead of
    /// one server after `--` or `--upstream`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["command", "upstream", "action_prefix"])]
    config: Option<PathBuf>,
    /// With `--listen`: a session with no request and no call in progress for this many
    /// seconds is closed, and its server processes ended.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    session_idle_timeout: u64,
    /// With `--listen`: how many sessions one agent may have open at once (each starts
    /// its own server processes); a new one past it is answered 503.
    #[arg(long, value_name = "N", default_value_t = 32)]
    max_sessions_per_agent: usize,
    /// The MCP server to wrap, reached over streamable HTTP at this URL instead of a
    /// command after `--`.
    #[arg(long, value_name = "URL", conflicts_with = "command")]
    upstream: Option<String>,
    /// A file holding the value of the `Authorization` header sent to `--upstream` (for
    /// example `Bearer TOKEN`). Never logged.
    #[arg(long, value_name = "PATH", requires = "upstream", conflicts_with = "upstream_auth_env")]
    upstream_auth_file: Option<PathBuf>,
    /// An environment variable holding the value of the `Authorization` header sent to
    /// `--upstream`. Never logged.
    #[arg(long, value_name = "VAR", requires = "upstream")]
    upstream_auth_env: Option<String>,
    /// How to start the session with the wrapped server: `negotiate` (`server/discover`,
    /// 2026-07-28, falling back to `initialize`) or `2025-11-25` (`initialize` only, for a
    /// server that mishandles `server/discover`).
    #[arg(long, value_name = "PROTOCOL", default_value = "negotiate", value_parser = ["negotiate", "2025-11-25"])]
    upstream_protocol: String,
    /// How long one call may take from its forwarding to the server's answer, in seconds,
    /// including the time the agent's client takes to answer the server's requests for
    /// input; a call still running then is recorded `outcome_unknown`.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    call_timeout: u64,
    /// This instance's name in the effect ledger. At start-up the gateway marks the
    /// calls this node left in flight as `outcome_unknown`: gateways running at the same
    /// time on one database need names of their own.
    #[arg(long, default_value = "mcp")]
    node: String,
    /// Traces over OTLP (`--otlp-endpoint`): a span per MCP request, continuing the
    /// caller's trace context (`_meta.traceparent`, or the HTTP `traceparent` header).
    #[command(flatten)]
    otlp: crate::otlp::OtlpArgs,
    /// The MCP server to wrap, after `--`: its program and arguments.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
enum McpCommand {
    /// Print a starter action catalog (TOML) from the server's tools, schemas and
    /// annotations, to review before allowing any of them.
    Catalog {
        /// Put before each tool's name to make its action (as the gateway's option).
        #[arg(long, default_value = "")]
        action_prefix: String,
        /// The MCP server, after `--`: its program and arguments.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
}

/// `aecl mcp catalog`: the starter catalog on standard output.
fn catalog(prefix: &str, command: &[String]) -> Result<ExitCode> {
    let Some((program, program_args)) = command.split_first() else {
        bail!("give the MCP server's command after `--`");
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let text = runtime.block_on(async {
        let upstream = Upstream::spawn(program, program_args, Handshake::Negotiate).await?;
        let tools = upstream.tools().await?;
        aecl_mcp::catalog::starter_catalog(&tools, prefix, upstream.name())
            .map_err(anyhow::Error::msg)
    })?;
    #[expect(clippy::print_stdout, reason = "the catalog is the command's output")]
    {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: &McpArgs) -> Result<ExitCode> {
    if let Some(McpCommand::Catalog { action_prefix, command }) = &args.subcommand {
        return catalog(action_prefix, command);
    }
    let (Some(policy), Some(key)) = (&args.policy, &args.key) else {
        bail!("aecl mcp needs --policy DIR and --key AUDIT_SECRET_KEY (or the `catalog` command)");
    };
    // Over HTTP the agent is each client's token's subject; over stdio it is `--agent`.
    let agent = match (&args.agent, args.listen) {
        (Some(agent), _) => agent.clone(),
        (None, Some(_)) => String::new(),
        (None, None) => bail!("aecl mcp over stdio needs --agent ID (or --listen ADDR)"),
    };
    // Made before the trace export, which sends from it, so that it is dropped after the
    // export's guard: the last spans are sent while it still runs. Over stdio, one client's
    // calls run on one thread: a call's path crosses from the stdin reader to the engine,
    // the store's writer and the upstream and back, and on a second worker every crossing
    // is a wake-up of another thread (bench/README.md, "MCP gateway"). Blocking work still
    // goes to tokio's blocking pool, and the store's writer keeps its own thread. Over
    // HTTP, sessions of many agents share the process: a worker per core.
    let runtime = match args.listen {
        None => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        Some(_) => tokio::runtime::Builder::new_multi_thread().enable_all().build()?,
    };
    // Standard output carries MCP: logs go to standard error (`--log-format`, `AECL_LOG`).
    let _telemetry = crate::logging::init("warn", args.otlp.export(runtime.handle())?)?;
    let (loaded, fingerprint) = crate::reload::checked_with_fingerprint(policy)?;
    if args.agent.is_some() && !loaded.policy.agents.contains_key(&agent) {
        bail!("--agent `{}`: the policy in `{}` has no manifest for it", agent, policy.display());
    }
    let signer = signer(key)?;
    let redact = loaded
        .audit_redact
        .iter()
        .map(|path| FieldPath::parse(path).with_context(|| format!("redact path `{path}`")))
        .collect::<Result<Vec<_>>>()?;
    let config = EngineConfig {
        node: args.node.clone(),
        redact: redact.clone(),
        grant_key: Some(signer.clone()),
        call_timeout: Duration::from_secs(args.call_timeout),
        runs: loaded.runs,
        ..EngineConfig::default()
    };
    let token_key = match &args.token_key {
        Some(path) => {
            let text = read_key_text(&path.display().to_string())?;
            Some(VerifierKey::parse(&text).with_context(|| {
                format!("`{}` is not a public key (`aecl keys generate`)", path.display())
            })?)
        }
        None => None,
    };
    let publication = args.publish.publication(&signer, &args.db)?;
    let publish = publication.as_ref().map(|p| p.sink.clone());
    let server_config = ServerConfig {
        audit_key: signer.name().to_owned(),
        publication: publish.clone(),
        ..ServerConfig::default()
    };
    let audit = AuditConfig { origin: signer.name().to_owned(), signer, publish: publish.clone() };
    let url = StoreUrl::parse(&args.db).with_context(|| format!("`{}` is not a store", args.db))?;
    let servers = Arc::new(match &args.config {
        Some(path) => configured_servers(path)?,
        None => Servers::single(command_line_server(args)?),
    });
    runtime.block_on(async {
        let store =
            AnyStore::open(&url, audit).await.with_context(|| format!("opening `{url:?}`"))?;
        if let Some(publication) = &publication {
            publication.catch_up();
        }
        // Over stdio one agent's calls come one after another to one thread: each commits
        // its own writes rather than hand them to the writer thread and back.
        store.set_caller_commits(args.listen.is_none());
        // PostgreSQL commits a read's decision and end apart anyway (its log has its own
        // committer): there a read runs only once its decision stands.
        let config = EngineConfig {
            joint_read_commits: matches!(store, AnyStore::Sqlite(_)),
            publication: publish.clone(),
            ..config
        };
        let engine = Arc::new(Engine::new(
            Arc::new(store),
            Arc::new(loaded.policy),
            Arc::new(SystemClock),
            config,
        ));
        tokio::spawn(crate::reload::watch(
            engine.clone(),
            policy.to_path_buf(),
            fingerprint,
            Duration::from_secs(args.watch_interval),
            |_| Ok(()),
            |_| {},
        ));
        engine.recover().await?;
        crate::reload::end_standing_grants(&engine).await;
        if let (Some(address), Some(token_key)) = (args.api, token_key.clone()) {
            // The API never executes: the gateway's calls come over MCP only.
            let state = AppState::new(
                engine.clone(),
                token_key,
                Arc::new(SystemClock),
                Arc::new(NotConfigured),
                server_config,
            );
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("--api: listening on {address}"))?;
            let bound = listener.local_addr()?;
            announce(&format!("aecl mcp: API listening on http://{bound}"));
            tokio::spawn(async move {
                let stopped = aecl_server::serve(listener, Arc::new(state), std::future::pending());
                if let Err(error) = stopped.await {
                    tracing::error!(%error, "the API stopped");
                }
            });
        }
        let config = GatewayConfig {
            agent: agent.clone(),
            run: args.run.clone().unwrap_or_else(new_id),
            approval_wait: Duration::from_secs(args.approval_wait),
            redact,
            clock: Arc::new(SystemClock),
        };
        let gateway = Gateway::new(engine, servers, config);
        match (args.listen, token_key) {
            (Some(address), Some(token_key)) => {
                let auth = aecl_mcp::ClientAuth::new(token_key, args.agent.clone());
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("--listen: listening on {address}"))?;
                let bound = listener.local_addr()?;
                // At SIGINT or SIGTERM the gateway ends every server process it started.
                let stop = crate::serve::shutdown();
                announce(&format!(
                    "aecl mcp: MCP listening on http://{bound}{}",
                    aecl_mcp::MCP_PATH
                ));
                let limits = SessionLimits {
                    idle: Duration::from_secs(args.session_idle_timeout.max(1)),
                    per_agent: args.max_sessions_per_agent.max(1),
                };
                let hosts = args.allowed_host.clone();
                gateway.serve_http(listener, hosts, auth, limits, stop).await?;
            }
            (Some(_), None) => bail!("--listen needs --token-key"),
            (None, _) => {
                // At SIGINT or SIGTERM (a terminal's Ctrl-C reaches the whole process
                // group) the calls stop, and the checkpoints still waiting are published
                // below before the process exits.
                let stop = crate::serve::shutdown();
                tokio::select! {
                    served = gateway.serve_stdio() => served?,
                    () = stop => {}
                }
            }
        }
        crate::witness::drain(publish).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The one server of the command line (after `--`, or `--upstream`): its tools keep their
/// names, their actions are `--action-prefix` and the name.
fn command_line_server(args: &McpArgs) -> Result<ServerSpec> {
    let handshake = match args.upstream_protocol.as_str() {
        "2025-11-25" => Handshake::Legacy,
        _ => Handshake::Negotiate,
    };
    let (launch, resolve_paths_from) = match (&args.upstream, args.command.split_first()) {
        (Some(url), _) => {
            let headers = authorization(args)?
                .map(|value| ("authorization".to_owned(), value))
                .into_iter()
                .collect();
            (Launch::Http { url: url.clone(), headers }, None)
        }
        (None, Some((program, program_args))) => {
            let launch = Launch::Command {
                program: program.clone(),
                args: program_args.to_vec(),
                env: Vec::new(),
                env_remove: Vec::new(),
                cwd: None,
            };
            // A local server acts on this machine's filesystem from our working directory
            // (it inherits it): its path arguments are resolved here.
            (launch, Some(std::env::current_dir().context("reading the working directory")?))
        }
        (None, None) => {
            bail!("give the MCP server's command after `--`, --upstream URL or --config FILE")
        }
    };
    Ok(ServerSpec {
        name: String::new(),
        prefix: args.action_prefix.clone().unwrap_or_default(),
        launch,
        handshake,
        sharing: Sharing::PerSession,
        resolve_paths_from,
    })
}

/// The servers of the gateway file at `path`, their secrets read from the environment and
/// files. A variable holding one server's secret is not inherited by any server.
fn configured_servers(path: &std::path::Path) -> Result<Servers> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--config: reading `{}`", path.display()))?;
    let file = aecl_mcp::config::parse(&text, path)?;
    let secrets = file.secret_variables();
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let shown = path.display().to_string();
    let mut specs = Vec::with_capacity(file.servers.len());
    for server in &file.servers {
        let mut spec = server.resolve(&shown, read_setting)?;
        if let Launch::Command { env_remove, cwd: dir, .. } = &mut spec.launch {
            env_remove.clone_from(&secrets);
            spec.resolve_paths_from = Some(dir.clone().unwrap_or_else(|| cwd.clone()));
        }
        specs.push(spec);
    }
    Ok(Servers::new(specs)?)
}

/// The value of a setting of a gateway file; an error names where it was looked for,
/// never a value.
fn read_setting(setting: &Setting) -> std::result::Result<String, String> {
    let value = match setting {
        Setting::Literal(value) => return Ok(value.clone()),
        Setting::Env(var) => std::env::var(var)
            .map_err(|_| format!("the variable `{var}` is not set (or not UTF-8)"))?,
        Setting::File(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("reading `{}`: {e}", path.display()))?,
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err("the value is empty".to_owned());
    }
    Ok(value)
}

/// The `Authorization` value for `--upstream`, from `--upstream-auth-file` or
/// `--upstream-auth-env`. Errors name where it was looked for, never the value.
fn authorization(args: &McpArgs) -> Result<Option<String>> {
    let value = match (&args.upstream_auth_file, &args.upstream_auth_env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("--upstream-auth-file `{}`", path.display()))?,
        (None, Some(var)) => std::env::var(var)
            .with_context(|| format!("--upstream-auth-env `{var}`: not set or not UTF-8"))?,
        (None, None) => return Ok(None),
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        bail!("the upstream's Authorization value is empty");
    }
    Ok(Some(value))
}

/// Tells scripts and tests where the gateway listens, on standard error in ONE write: the
/// wrapped server shares that stderr, and `eprintln!` may split a line into several writes
/// between which the server's own output lands (`http://127.0.0.1: [ '/srv' ]…`).
fn announce(line: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(format!("{line}\n").as_bytes());
}
