//! `aecl serve`: the HTTP API over a store (SQLite file by default, `postgres://` for
//! replicas), with tokens verified by `--token-key` and checkpoints signed by `--key`.
//! The policy is reloaded on SIGHUP or change (`reload`).
//! `--connectors FILE` (`connectors.toml`) says what executes allowed calls; without it an
//! allowed `execute` fails with `not_configured`, recorded as its outcome. A policy action
//! naming a connector the file does not define is refused, at start-up and at a reload
//! (the old policy then stays in force).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aecl_audit::VerifierKey;
use aecl_audit::redact::FieldPath;
use aecl_connectors::{Connectors, ConnectorsFile};
use aecl_core::RateLimit;
use aecl_engine::{Connector, Engine, EngineConfig, SystemClock};
use aecl_server::{AppState, Metrics, NotConfigured, ServerConfig, Webhook, WebhookConfig};
use aecl_store::{AnyStore, AuditConfig, StoreUrl};
use anyhow::{Context, Result};

use crate::keys::read_key_text;
use crate::record::signer;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The policy directory.
    #[arg(long)]
    policy: PathBuf,
    /// The store: a SQLite file, `sqlite://PATH` or `postgres://...`.
    #[arg(long, default_value = "aecl.db")]
    db: String,
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The secret key that signs audit checkpoints (`aecl keys generate`).
    #[arg(long, value_name = "AUDIT_SECRET_KEY")]
    key: PathBuf,
    #[command(flatten)]
    publish: crate::witness::PublishArgs,
    /// The public key that verifies tokens (the public half of the key given to
    /// `aecl token issue --key`).
    #[arg(long, value_name = "TOKEN_PUBLIC_KEY")]
    token_key: PathBuf,
    /// People's tokens from the company's IdP (OpenID Connect).
    #[command(flatten)]
    oidc: crate::oidc::OidcArgs,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    body_limit: usize,
    /// Requests per minute per token (0: unlimited); bursts of up to a sixth of it.
    #[arg(long, default_value_t = 600)]
    rate_limit: u32,
    /// This instance's name in the effect ledger (distinct and stable per replica).
    #[arg(long, default_value = "local")]
    node: String,
    /// Post a Slack-compatible notification of each new approval request to this URL
    /// (`http://` or `https://`, e.g. a Slack incoming webhook), retried with backoff.
    #[arg(long, value_name = "URL")]
    notify_url: Option<String>,
    /// This server's address as approvers reach it, for the links in notifications
    /// (default: `http://` and the listening address).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// How often to look for policy changes, in seconds (0: reload on SIGHUP only).
    #[arg(long, default_value_t = 2)]
    watch_interval: u64,
    /// The connectors (`connectors.toml`) that execute allowed calls; without it every
    /// execution fails with `not_configured`.
    #[arg(long, value_name = "FILE")]
    connectors: Option<PathBuf>,
    /// Traces over OTLP (`--otlp-endpoint`).
    #[command(flatten)]
    otlp: crate::otlp::OtlpArgs,
}

pub fn run(args: &ServeArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // Dropped before the runtime: the last spans are sent while it still runs.
    let _telemetry = crate::logging::init("info", args.otlp.export(runtime.handle())?)?;
    // The same check as a reload: a policy whose examples fail is not served.
    let (loaded, fingerprint) = crate::reload::checked_with_fingerprint(&args.policy)?;
    let signer = signer(&args.key)?;
    let token_text = read_key_text(&args.token_key.display().to_string())?;
    let token_key = VerifierKey::parse(&token_text).with_context(|| {
        format!("`{}` is not a public key (`aecl keys generate`)", args.token_key.display())
    })?;
    let redact = loaded
        .audit_redact
        .iter()
        .map(|path| FieldPath::parse(path).with_context(|| format!("redact path `{path}`")))
        .collect::<Result<Vec<_>>>()?;
    // Standing grants are signed with the audit key (one secret to guard): a grant written
    // into the database by hand does not verify and permits nothing.
    let config = EngineConfig {
        node: args.node.clone(),
        redact,
        grant_key: Some(signer.clone()),
        runs: loaded.runs,
        ..EngineConfig::default()
    };
    let publication = args.publish.publication(&signer, &args.db)?;
    let publish = publication.as_ref().map(|p| p.sink.clone());
    let server_config = ServerConfig {
        body_limit: args.body_limit,
        rate_limit: (args.rate_limit > 0).then(|| RateLimit {
            count: args.rate_limit,
            per_ms: 60_000,
            burst: (args.rate_limit / 6).max(1),
        }),
        audit_key: signer.name().to_owned(),
        publication: publish.clone(),
    };
    let audit = AuditConfig { origin: signer.name().to_owned(), signer, publish: publish.clone() };
    let url = StoreUrl::parse(&args.db).with_context(|| format!("`{}` is not a store", args.db))?;
    runtime.block_on(async {
        let store =
            AnyStore::open(&url, audit).await.with_context(|| format!("opening `{url:?}`"))?;
        if let Some(publication) = &publication {
            publication.catch_up();
        }
        let clock = Arc::new(SystemClock);
        // PostgreSQL commits a read's decision and end apart anyway (its log has its own
        // committer): there a read runs only once its decision stands.
        let config = EngineConfig {
            joint_read_commits: matches!(store, AnyStore::Sqlite(_)),
            publication: publish.clone(),
            ..config
        };
        // Made before the engine, which counts approval answers into them.
        let metrics = Metrics::new();
        let mut engine =
            Engine::new(Arc::new(store), Arc::new(loaded.policy), clock.clone(), config)
                .with_observer(metrics.observer());
        if let Some(url) = &args.notify_url {
            let uri: hyper::Uri =
                url.parse().with_context(|| format!("--notify-url `{url}` is not a URL"))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                anyhow::bail!("--notify-url `{url}`: expected an http:// or https:// URL");
            }
            let public =
                args.public_url.clone().unwrap_or_else(|| format!("http://{}", args.listen));
            let webhook = Webhook::new(WebhookConfig::new(uri, public))?;
            engine = engine.with_notifier(Arc::new(webhook));
        }
        let engine = Arc::new(engine);
        let (connector, registry) = connectors(args, &engine)?;
        let recovered = engine.recover().await?;
        if !recovered.is_empty() {
            tracing::warn!(count = recovered.len(), "recovered effects left in flight");
        }
        crate::reload::end_standing_grants(&engine).await;
        // Effects left `outcome_unknown` (by this start's recovery or earlier) are resolved
        // where the connector can tell; a failure here is logged and serving goes on (it
        // is not on the decision path, and `aecl effects reconcile` can run it again).
        match engine.reconcile(connector.as_ref()).await {
            Ok(reports) => {
                for report in reports.iter().filter(|r| r.recorded) {
                    tracing::warn!(effect = %report.effect_id, action = %report.action,
                        status = report.status.as_str(), evidence = %report.evidence,
                        "effect reconciled");
                }
            }
            Err(error) => tracing::error!(%error, "reconciling effects failed"),
        }
        let state = Arc::new(
            AppState::new(engine.clone(), token_key, clock, connector, server_config)
                .with_metrics(metrics)
                .with_idp(crate::oidc::idp(&args.oidc).await?),
        );
        let counted = state.clone();
        tokio::spawn(crate::reload::watch(
            engine,
            args.policy.clone(),
            fingerprint,
            Duration::from_secs(args.watch_interval),
            move |policy| match &registry {
                Some((registry, origin)) => Ok(registry.check_policy(policy, origin)?),
                None => Ok(()),
            },
            move |result| counted.metrics.policy_reloaded(result),
        ));
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let address = listener.local_addr()?;
        let stop = shutdown();
        #[expect(clippy::print_stdout, reason = "tells scripts and tests the port")]
        {
            println!("aecl serve: listening on http://{address}");
        }
        tracing::info!(%address, revision = %state.engine.policy().revision, "serving");
        aecl_server::serve(listener, state, stop).await.context("serving")?;
        crate::witness::drain(publish).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The registry of a connectors file, and the file's name.
type Configured = (Arc<Connectors>, String);

/// The connector of the server: the registry of `file`'s connectors over the engine's
/// policy in force (also returned, with the file's name, to check reloaded policies), or
/// `NotConfigured` without a file. Every connector the policy names must be defined.
fn connectors(
    args: &ServeArgs,
    engine: &Arc<Engine<AnyStore>>,
) -> Result<(Arc<dyn Connector>, Option<Configured>)> {
    let Some(path) = args.connectors.as_deref() else {
        return Ok((Arc::new(NotConfigured), None));
    };
    let origin = path.display().to_string();
    let config = ConnectorsFile::load(path)?;
    let registry = Connectors::from_config(&config)?;
    // aecl's own files out of every connector's reach: what decides (the policy), what
    // signs (the audit key), what admits (the token key) and what remembers (the store).
    // The published checkpoints too, which catch a store cut back to an older copy, and
    // the connectors file, which says what reaches what (red team round 29, tamper M1).
    let mut private = vec![
        ("the policy directory", args.policy.clone()),
        ("the audit signing key", args.key.clone()),
        ("the token verification key", args.token_key.clone()),
        ("the connectors file", path.to_owned()),
    ];
    private.extend(args.publish.directory().map(|dir| ("the checkpoint directory", dir)));
    match StoreUrl::parse(&args.db) {
        Ok(StoreUrl::Sqlite(db)) => private.push(("the store", db)),
        Ok(StoreUrl::Postgres(url)) => aecl_connectors::refuse_store_database(&config, &url)?,
        Err(_) => {}
    }
    // Relative to where the server started, as the options were given.
    for (_, path) in &mut private {
        *path = std::path::absolute(&*path)?;
    }
    aecl_connectors::refuse_reaching(&config, &private)?;
    registry.check_policy(&engine.policy(), &origin)?;
    tracing::info!(connectors = ?registry.names().collect::<Vec<_>>(), "connectors configured");
    let registry = Arc::new(registry);
    Ok((registry.clone(), Some((registry, origin))))
}

/// Resolves on SIGINT or SIGTERM: in-flight requests finish, new ones are refused. The
/// signals are watched from this call on, not from the future's first poll: a stop that
/// comes right after the server says it listens still drains (the checkpoints waiting to
/// be published among what it finishes).
pub(crate) fn shutdown() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let watched = signal(SignalKind::interrupt()).and_then(|interrupt| {
        signal(SignalKind::terminate()).map(|terminate| (interrupt, terminate))
    });
    async move {
        match watched {
            Ok((mut interrupt, mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot watch SIGINT and SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("shutting down");
    }
}
