//! `aecl sandbox run`: one command in a sandbox of the chosen tier (`--tier`, the process
//! tier by default), for operators trying a policy's limits and for tests. The command's
//! stdout, stderr and exit code are passed through; a timeout exits 124, a refusal 126, a
//! sandbox that could not be built (or a tier that does not work here) 125, a signal
//! 128 + N, each with a line on stderr saying so. A limit that cannot be enforced here
//! refuses the run (125) naming the limit and the fix, unless `--limits best_effort`.
//!
//! The exit code alone cannot tell a command's own 124, 125 or 126 (or 128 + N) from
//! aecl's: the `--report` line can, its `outcome.kind` being `exited` for the command's
//! own code. aecl's lines come after everything the command wrote, each on a line of its
//! own (a command's last line without a newline is ended first), the report last.
//! `aecl sandbox tiers`: which tiers work on this host, and why the others do not.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aecl_sandbox::{
    Deadlines, Enforcement, HostPattern, Isolation, Limits, Outcome, Request, Sandbox,
    SandboxConfig, SandboxError, Tier,
};
use anyhow::{Context, Result, bail};

#[derive(Debug, clap::Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only complicate clap's derive"
)]
pub enum SandboxCommand {
    /// Run COMMAND ARGS in a fresh sandbox.
    Run(RunArgs),
    /// Say which isolation tiers work on this host (each probed once), and why the
    /// others do not.
    Tiers(TiersArgs),
    /// Build the `microvm` tier's guest image in DIR: the kernel (copied as `vmlinuz`) and
    /// an initramfs around a static busybox (`initrd.cpio`). Point AECL_MICROVM_IMAGE at
    /// DIR for `aecl` to use it.
    MicrovmImage(MicrovmImageArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A host the command may reach through the egress proxy: `example.com`,
    /// `*.example.com` or either with `:PORT` (without a port: 80 and 443). Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// An address or CIDR range the egress proxy may connect to although it is not
    /// public (loopback, private, link-local, this host's own): `127.0.0.1/32`. Without
    /// it, an allowed host that resolves to such an address is refused. Repeatable.
    #[arg(long = "allow-cidr", value_name = "CIDR")]
    allow_cidrs: Vec<String>,
    /// A host directory bound read-write at the same path. Repeatable.
    #[arg(long = "bind", value_name = "DIR")]
    binds: Vec<PathBuf>,
    /// A host directory bound read-only at the same path. Repeatable.
    #[arg(long = "ro-bind", value_name = "DIR")]
    ro_binds: Vec<PathBuf>,
    /// The call's timeout, in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// What is left of the run's time, in seconds (none by default).
    #[arg(long)]
    run_timeout: Option<f64>,
    /// The sandbox's longest life, in seconds.
    #[arg(long, default_value_t = 300.0)]
    lifetime: f64,
    /// Memory limit in MiB (cgroup; address-space limit without one).
    #[arg(long, default_value_t = 512)]
    memory: u64,
    /// Most processes at once.
    #[arg(long, default_value_t = 256)]
    pids: u64,
    /// Size of the work dir and of `/tmp`, in MiB (each a tmpfs also bounded to one file
    /// per 4 KiB).
    #[arg(long, default_value_t = 64)]
    work_size: u64,
    /// `enforced`: a limit (memory, pids, work size) that cannot be enforced on this host
    /// refuses the run (exit 125). `best_effort`: run with per-process rlimits in place
    /// of what cannot be enforced, and say which.
    #[arg(long, default_value = "enforced")]
    limits: String,
    /// A variable for the command: `NAME=VALUE`, or `NAME` to copy it from this
    /// environment. Nothing else of this environment reaches the command. Repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// `auto` (namespaces, else the Landlock fallback), `namespaces` or `landlock`: how
    /// the process tier contains the command.
    #[arg(long, default_value = "auto")]
    isolation: String,
    /// `process`, `gvisor` (runsc) or `microvm`. A tier that does not work here refuses
    /// (exit 125); nothing runs in a weaker one instead.
    #[arg(long, default_value = "process")]
    tier: String,
    /// The most bytes of stdout and of stderr each passed through.
    #[arg(long, default_value_t = 16 << 20)]
    output_cap: usize,
    /// Print the outcome and the isolation layers as JSON on stderr.
    #[arg(long)]
    report: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub fn run(command: &SandboxCommand) -> Result<ExitCode> {
    match command {
        SandboxCommand::Run(args) => run_one(args),
        SandboxCommand::Tiers(args) => tiers(args),
        SandboxCommand::MicrovmImage(args) => microvm_image(args),
    }
}

fn run_one(args: &RunArgs) -> Result<ExitCode> {
    let request = request(args)?;
    let sandbox = Sandbox::new(SandboxConfig::beside_current_exe()?)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let done = match runtime.block_on(sandbox.run(request)) {
        Ok(done) => done,
        Err(error @ SandboxError::TierUnavailable { .. }) => {
            writeln!(std::io::stderr(), "aecl sandbox: {error}")?;
            return Ok(ExitCode::from(125));
        }
        Err(error) => return Err(error.into()),
    };
    std::io::stdout().write_all(&done.stdout)?;
    std::io::stdout().flush()?;
    let mut stderr = std::io::stderr();
    stderr.write_all(&done.stderr)?;
    // aecl's own lines never continue the command's last one.
    if done.stderr.last().is_some_and(|b| *b != b'\n') {
        writeln!(stderr)?;
    }
    for (stream, dropped) in [("stdout", done.stdout_dropped), ("stderr", done.stderr_dropped)] {
        if dropped > 0 {
            writeln!(
                stderr,
                "aecl sandbox: {dropped} bytes of {stream} past --output-cap dropped"
            )?;
        }
    }
    match &done.outcome {
        Outcome::Exited { .. } => {}
        Outcome::TimedOut { limit, after_ms } => {
            writeln!(
                stderr,
                "aecl sandbox: timed out ({} limit) after {after_ms} ms",
                limit.as_str()
            )?;
        }
        Outcome::Denied { reason } => writeln!(stderr, "aecl sandbox: denied: {reason}")?,
        Outcome::Killed { signal, cause } => {
            let cause = cause.as_deref().map(|c| format!(": {c}")).unwrap_or_default();
            writeln!(stderr, "aecl sandbox: killed by signal {signal}{cause}")?;
        }
        Outcome::Setup { error } => writeln!(stderr, "aecl sandbox: setup failed: {error}")?,
    }
    for reached in &done.limits_reached {
        writeln!(stderr, "aecl sandbox: {reached}")?;
    }
    if !done.layers.limits_unenforced.is_empty() {
        let unenforced = done.layers.limits_unenforced.join("; ");
        writeln!(stderr, "aecl sandbox: limits not enforced (best effort): {unenforced}")?;
    }
    if done.layers.mode == "landlock-fallback" {
        let why = done.layers.fallback_reason.as_deref().unwrap_or("no reason given");
        writeln!(stderr, "aecl sandbox: ran in the Landlock fallback ({why})")?;
    }
    for exposed in &done.layers.exposed {
        writeln!(stderr, "aecl sandbox: exposed: {exposed}")?;
    }
    let code = done.outcome.exit_code().clamp(0, 255);
    if args.report {
        let report = serde_json::json!({
            "exit_code": code,
            "outcome": done.outcome,
            "layers": done.layers,
            "egress": done.egress,
            "elapsed_ms": done.elapsed_ms,
            "limits_reached": done.limits_reached,
        });
        writeln!(stderr, "{report}")?;
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}

fn request(args: &RunArgs) -> Result<Request> {
    let allow_hosts = args
        .allow_hosts
        .iter()
        .map(|h| HostPattern::parse(h).map_err(|e| anyhow::anyhow!("--allow-host {e}")))
        .collect::<Result<Vec<_>>>()?;
    let allow_cidrs = args
        .allow_cidrs
        .iter()
        .map(|c| aecl_sandbox::parse_cidr(c).map_err(|e| anyhow::anyhow!("--allow-cidr {e}")))
        .collect::<Result<Vec<_>>>()?;
    let Some(enforcement) = Enforcement::parse(&args.limits) else {
        bail!("--limits `{}`: expected `enforced` or `best_effort`", args.limits);
    };
    let mut requested = Vec::new();
    for (dirs, writable) in [(&args.binds, true), (&args.ro_binds, false)] {
        for dir in dirs {
            let path = std::path::absolute(dir)
                .with_context(|| format!("--bind `{}`: no such directory", dir.display()))?;
            if !path.is_dir() {
                bail!("--bind `{}`: expected a directory", dir.display());
            }
            requested.push((path, writable));
        }
    }
    // Canonical, and never through a link inside a writable bind (one a command of an
    // earlier run may have made).
    let binds = aecl_sandbox::resolve_binds(&requested).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let Some(tier) = Tier::parse(&args.tier) else {
        bail!("--tier `{}`: expected `process`, `gvisor` or `microvm`", args.tier);
    };
    let isolation = match args.isolation.as_str() {
        "auto" => Isolation::Auto,
        "namespaces" => Isolation::Namespaces,
        "landlock" => Isolation::Landlock,
        other => bail!("--isolation `{other}`: expected `auto`, `namespaces` or `landlock`"),
    };
    let mut env = vec![
        ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("HOME".to_owned(), "/work".to_owned()),
    ];
    for item in &args.env {
        let (name, value) = match item.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (item.clone(), std::env::var(item).unwrap_or_default()),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("--env `{item}`: expected NAME or NAME=VALUE");
        }
        env.retain(|(k, _)| *k != name);
        env.push((name, value));
    }
    let mut stdin = Vec::new();
    if !std::io::stdin().is_terminal() {
        std::io::stdin().read_to_end(&mut stdin).context("reading stdin")?;
    }
    Ok(Request {
        argv: args.command.clone(),
        env,
        stdin,
        binds,
        allow_hosts,
        allow_cidrs,
        enforcement,
        limits: Limits {
            memory_bytes: args.memory << 20,
            pids: args.pids,
            work_bytes: args.work_size << 20,
            ..Limits::default()
        },
        deadlines: Deadlines {
            call_ms: millis(args.timeout, "--timeout")?,
            run_ms: args.run_timeout.map(|s| millis(s, "--run-timeout")).transpose()?,
            lifetime_ms: millis(args.lifetime, "--lifetime")?,
        },
        isolation,
        output_cap: args.output_cap,
        tier,
    })
}

#[derive(Debug, clap::Args)]
pub struct TiersArgs {
    /// Print the statuses as a JSON array (`tier`, `available`, `detail`).
    #[arg(long)]
    json: bool,
}

fn tiers(args: &TiersArgs) -> Result<ExitCode> {
    let sandbox = Sandbox::new(SandboxConfig::beside_current_exe()?)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let statuses = runtime.block_on(sandbox.tiers());
    let mut stdout = std::io::stdout();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&statuses)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(stdout, "{:<8} {:<9} DETAIL", "TIER", "AVAILABLE")?;
    for status in &statuses {
        let available = if status.available { "yes" } else { "no" };
        writeln!(stdout, "{:<8} {available:<9} {}", status.tier.as_str(), status.detail)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn millis(seconds: f64, flag: &str) -> Result<u64> {
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 86_400.0 {
        bail!("{flag} `{seconds}`: expected seconds between 0 and 86400");
    }
    Ok(u64::try_from(Duration::from_secs_f64(seconds).as_millis()).unwrap_or(u64::MAX))
}

#[derive(Debug, clap::Args)]
pub struct MicrovmImageArgs {
    /// An x86-64 Linux bzImage with the 8250 serial driver built in (Debian's
    /// `linux-image-cloud-amd64`: /boot/vmlinuz-*-cloud-amd64).
    #[arg(long, value_name = "VMLINUZ")]
    kernel: PathBuf,
    /// A statically linked busybox (Debian's `busybox-static`).
    #[arg(long, value_name = "BUSYBOX", default_value = "/usr/bin/busybox")]
    busybox: PathBuf,
    /// The directory to write the image to (made if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn microvm_image(args: &MicrovmImageArgs) -> Result<ExitCode> {
    let config = aecl_sandbox::build_microvm_image(&args.kernel, &args.busybox, &args.out)?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "kernel:    {}", config.kernel.display())?;
    writeln!(stdout, "initramfs: {}", config.initrd.display())?;
    writeln!(
        stdout,
        "use it with: export {}={}",
        aecl_sandbox::MICROVM_IMAGE_ENV,
        args.out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
