//! The launcher, on the host side: prepares a sandbox directory, starts the egress proxy
//! when hosts are allowed, starts the helper executable (never a fork of the calling,
//! multi-threaded process) and sends it the sandbox to build, then the command and its
//! stdin; captures stdout and stderr up to a cap, and reads the helper's report.
//!
//! With `warm` set, the launcher keeps that many sandboxes built ahead of time for each
//! shape of request it has seen (same binds, hosts, limits and isolation): a run takes a
//! built one, fully restricted and waiting for its command, and a replacement is built in
//! the background. Each sandbox still runs exactly one command.
//!
//! A run whose caller stops waiting (its future dropped) kills its sandbox's tree as it
//! is dropped (`tree.rs`), and the helper ends the sandbox by itself when the launcher's
//! end of its control pipe closes (the launcher died): nothing runs on unwatched.

mod tree;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::{JoinHandle, JoinSet};

use crate::egress::{EgressAttempt, HostPattern, Proxy};
use crate::error::SandboxError;
use crate::spec::{
    Bind, Command as SandboxCommand, Deadlines, EGRESS_PORT, Egress, Enforcement, Isolation,
    Layers, Limits, Outcome, Report, Spec,
};
use crate::tier::{Tier, TierConfig, TierStatus};
use tree::TreeGuard;

/// The helper's descriptor for saying that the sandbox is built.
pub(crate) const READY_FD: i32 = 3;

/// What the helper writes there once the sandbox is built (a report, JSON, never starts
/// with it).
pub(crate) const READY_BYTE: u8 = b'r';

/// Extra time the helper gets past the command's deadline to kill, reap and report
/// before the launcher kills it (and the sandbox's whole tree) itself.
const GRACE: Duration = Duration::from_secs(2);

/// How long the output may stay open after the report: the sandbox's last processes are
/// dying. Past it the launcher kills the tree itself and keeps what was captured.
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

/// The longest a process-tier run takes past its binding deadline: the helper's grace,
/// then at most two kills of the tree from here (each up to 2 s per cgroup hierarchy and
/// 2 s for a fresh uid's processes) and four waits for the output pipes.
const TEARDOWN: Duration =
    Duration::from_secs(GRACE.as_secs() + 2 * 4 + 4 * OUTPUT_GRACE.as_secs());

/// Where host uids for a root launcher are drawn from: far above any real user's.
pub(crate) const UID_BASE: u32 = 0x7000_0000;
pub(crate) const UID_SPAN: u32 = 1 << 24;

/// How a launcher is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The helper executable (`aecl-sandbox`).
    pub helper: PathBuf,
    /// Where sandbox directories are made (each removed after its run).
    pub runtime_dir: PathBuf,
    /// The host uid and gid the sandbox runs as. `None`: the launcher's own when it is
    /// not root; when it is root, a fresh one per sandbox from a high range, so that no
    /// two sandboxes, and no host user, share a uid.
    pub identity: Option<(u32, u32)>,
    /// Sandboxes kept built ahead of time per request shape (0: each run builds its own).
    pub warm: usize,
    /// What the `gvisor` and `microvm` tiers need.
    pub tiers: TierConfig,
}

impl SandboxConfig {
    /// The `aecl-sandbox` helper beside the running executable, or else the running
    /// executable itself, started as the helper (`aecl` holds it: see
    /// [`run_as_helper`](crate::helper::run_as_helper)); the system's temporary
    /// directory, nothing kept warm; the microVM image named by `AECL_MICROVM_IMAGE`
    /// ([`MicrovmConfig::from_env`](crate::MicrovmConfig::from_env)).
    pub fn beside_current_exe() -> Result<SandboxConfig, SandboxError> {
        let exe = std::env::current_exe().map_err(|e| SandboxError::Helper(format!("{e}")))?;
        let beside = exe.with_file_name(crate::helper::HELPER_NAME);
        let helper = if beside.is_file() { beside } else { exe };
        Ok(SandboxConfig {
            helper,
            runtime_dir: std::env::temp_dir(),
            identity: None,
            warm: 0,
            tiers: TierConfig {
                microvm: crate::MicrovmConfig::from_env(),
                ..TierConfig::default()
            },
        })
    }
}

/// One command to run.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub argv: Vec<String>,
    /// The command's whole environment (built by the caller from its allowlist); the
    /// proxy variables are added when hosts are allowed.
    pub env: Vec<(String, String)>,
    pub stdin: Vec<u8>,
    pub binds: Vec<Bind>,
    pub allow_hosts: Vec<HostPattern>,
    /// Address ranges the egress proxy may connect to although they are not public
    /// (loopback, private, link-local...): `127.0.0.1/32`. Hosts still come from
    /// `allow_hosts`; this only lifts the address check for what it names.
    pub allow_cidrs: Vec<IpNet>,
    pub limits: Limits,
    /// Whether a limit that cannot be enforced here refuses the run (the default) or
    /// is named in the layers and left to per-process rlimits.
    pub enforcement: Enforcement,
    /// Counted from [`Sandbox::run`]: a sandbox that is slow to build spends them too.
    pub deadlines: Deadlines,
    pub isolation: Isolation,
    /// The most bytes kept of stdout and of stderr each; the rest is counted and dropped.
    pub output_cap: usize,
    /// Where it runs; never in a weaker tier than this.
    pub tier: Tier,
}

impl Default for Deadlines {
    fn default() -> Deadlines {
        Deadlines { call_ms: 30_000, run_ms: None, lifetime_ms: 300_000 }
    }
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Execution {
    pub outcome: Outcome,
    pub layers: Layers,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes past the cap that were dropped.
    pub stdout_dropped: u64,
    pub stderr_dropped: u64,
    pub egress: Vec<EgressAttempt>,
    /// From the command's hand-over to its end.
    pub elapsed_ms: u64,
    /// Limits the command ran into (the process limit's refused forks).
    pub limits_reached: Vec<String>,
    /// The tier it actually ran in.
    pub tier: Tier,
}

/// What makes two requests' sandboxes interchangeable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Shape {
    binds: Vec<Bind>,
    allow_hosts: Vec<String>,
    allow_cidrs: Vec<IpNet>,
    limits: Limits,
    enforcement: Enforcement,
    isolation: Isolation,
    output_cap: usize,
    tier: Tier,
}

impl Shape {
    fn of(request: &Request) -> Shape {
        Shape {
            binds: request.binds.clone(),
            allow_hosts: request.allow_hosts.iter().map(|h| format!("{h:?}")).collect(),
            allow_cidrs: request.allow_cidrs.clone(),
            limits: request.limits,
            enforcement: request.enforcement,
            isolation: request.isolation,
            output_cap: request.output_cap,
            tier: request.tier,
        }
    }
}

/// Runs commands in sandboxes.
#[derive(Debug, Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SandboxConfig,
    warm: Mutex<HashMap<Shape, Vec<Built>>>,
    /// The stronger tiers' probes, run once, when first needed.
    /// The stronger tiers' probes, each run once, when that tier is first needed.
    gvisor: tokio::sync::OnceCell<TierStatus>,
    microvm: tokio::sync::OnceCell<TierStatus>,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        if !config.helper.is_file() {
            return Err(SandboxError::Helper(format!(
                "`{}` not found: install the `aecl-sandbox` helper beside `aecl` \
                 (`cargo build -p aecl-sandbox`)",
                config.helper.display()
            )));
        }
        sweep_orphans(&config.runtime_dir);
        Ok(Sandbox {
            inner: Arc::new(Inner {
                config,
                warm: Mutex::new(HashMap::new()),
                gvisor: tokio::sync::OnceCell::new(),
                microvm: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// Runs `request` to its end. An `Err` means the sandbox could not even be prepared
    /// (nothing ran); every other ending, including the sandbox's own setup failing inside
    /// the helper, is an [`Outcome`].
    pub async fn run(&self, request: Request) -> Result<Execution, SandboxError> {
        let config = &self.inner.config.tiers;
        match request.tier {
            Tier::Process => self.run_process(request).await,
            Tier::Gvisor => {
                let status = self.available(Tier::Gvisor).await?;
                crate::gvisor::run(&self.inner.config, &status, request).await
            }
            Tier::Microvm => {
                let status = self.available(Tier::Microvm).await?;
                crate::microvm::run(config, &status, request).await
            }
        }
    }

    /// The longest [`Sandbox::run`] takes for a request with `deadlines` in `tier`: its
    /// binding deadline plus what the tier may spend around it at most (booting a guest,
    /// killing the tree and collecting its output when the command does not end by
    /// itself). A caller that waits this long never gives up on a run before the
    /// sandbox's own deadline has ended it and said so. The tier's probe is not counted:
    /// it runs once, before the first run (a caller places the call first).
    pub fn longest_run(&self, tier: Tier, deadlines: &Deadlines) -> Duration {
        let (_, limit_ms) = deadlines.binding();
        let around = match tier {
            Tier::Process => TEARDOWN,
            Tier::Gvisor => crate::gvisor::TEARDOWN,
            Tier::Microvm => {
                let boot = self.inner.config.tiers.microvm.as_ref().map(|vm| vm.boot_timeout);
                boot.unwrap_or(crate::microvm::DEFAULT_BOOT_TIMEOUT) + crate::microvm::TEARDOWN
            }
        };
        Duration::from_millis(limit_ms).saturating_add(around)
    }

    /// The tier's status when it works here; otherwise the refusal, with the probe's reason.
    async fn available(&self, tier: Tier) -> Result<TierStatus, SandboxError> {
        let status = self.tier(tier).await;
        if status.available {
            Ok(status)
        } else {
            Err(SandboxError::TierUnavailable { tier, why: status.detail })
        }
    }

    async fn run_process(&self, request: Request) -> Result<Execution, SandboxError> {
        // INVARIANT: the deadlines count from here; building the sandbox spends them.
        let started = Instant::now();
        let shape = Shape::of(&request);
        let built = match self.take_warm(&shape) {
            Some(built) => built,
            None => {
                let (_, limit_ms) = request.deadlines.binding();
                let deadline = started + Duration::from_millis(limit_ms);
                self.inner.build(&request, deadline).await?
            }
        };
        let refill = (self.inner.config.warm > 0).then(|| request.clone());
        let done = built.run(request, started).await;
        // The replacement is built after the run, not beside it: on a small machine a
        // build beside the call would slow the call it is meant to spare.
        if let Some(request) = refill {
            self.refill(shape, request);
        }
        done
    }

    /// Which tiers work on this host and why the others do not. The stronger tiers are
    /// probed once (runsc starts a sandbox, the microVM boots a guest); the answer is kept.
    pub async fn tiers(&self) -> Vec<TierStatus> {
        let (process, gvisor, microvm) = tokio::join!(
            self.tier(Tier::Process),
            self.tier(Tier::Gvisor),
            self.tier(Tier::Microvm)
        );
        vec![process, gvisor, microvm]
    }

    /// One tier's status (see [`Sandbox::tiers`]). Only that tier is probed: a call that
    /// needs gVisor never waits for a microVM to boot.
    pub async fn tier(&self, tier: Tier) -> TierStatus {
        let inner = &self.inner;
        match tier {
            Tier::Process => TierStatus {
                tier: Tier::Process,
                available: true,
                detail: "the helper's namespaces, or Landlock and seccomp where user \
                         namespaces are not available"
                    .to_owned(),
            },
            Tier::Gvisor => {
                let probe = crate::gvisor::probe(&inner.config);
                inner.gvisor.get_or_init(|| probe).await.clone()
            }
            Tier::Microvm => {
                let probe = crate::microvm::probe(&inner.config.tiers);
                inner.microvm.get_or_init(|| probe).await.clone()
            }
        }
    }

    /// Builds sandboxes of `request`'s shape now, up to the configured count, so that the
    /// first runs find them ready. Only the process tier keeps sandboxes warm: a `gvisor`
    /// or `microvm` run starts its own.
    pub async fn prepare(&self, request: &Request) -> Result<(), SandboxError> {
        if request.tier != Tier::Process {
            return Ok(());
        }
        let shape = Shape::of(request);
        while self.warm_count(&shape) < self.inner.config.warm {
            let built = self.inner.build_ahead(request).await?;
            self.put_warm(shape.clone(), built);
        }
        Ok(())
    }

    /// How many sandboxes of `request`'s shape are built and waiting.
    pub fn warm_for(&self, request: &Request) -> usize {
        self.warm_count(&Shape::of(request))
    }

    fn warm_count(&self, shape: &Shape) -> usize {
        let warm = self.inner.warm.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        warm.get(shape).map_or(0, Vec::len)
    }

    fn take_warm(&self, shape: &Shape) -> Option<Built> {
        let mut warm = self.inner.warm.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = warm.get_mut(shape)?;
        while let Some(mut built) = list.pop() {
            // A helper that died while waiting (killed from outside) is not used.
            if matches!(built.child.try_wait(), Ok(None)) {
                return Some(built);
            }
        }
        None
    }

    fn put_warm(&self, shape: Shape, built: Built) {
        let mut warm = self.inner.warm.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        warm.entry(shape).or_default().push(built);
    }

    /// Builds a replacement in the background.
    fn refill(&self, shape: Shape, request: Request) {
        let sandbox = self.clone();
        tokio::spawn(async move {
            if sandbox.warm_count(&shape) >= sandbox.inner.config.warm {
                return;
            }
            match sandbox.inner.build_ahead(&request).await {
                Ok(built) => sandbox.put_warm(shape, built),
                Err(e) => tracing::warn!(error = %e, "building a warm sandbox"),
            }
        });
    }
}

impl Inner {
    /// A sandbox built ahead of its command, within the request's longest life; one
    /// that is not built by then is killed, not kept.
    async fn build_ahead(&self, request: &Request) -> Result<Built, SandboxError> {
        let deadline = Instant::now() + Duration::from_millis(request.deadlines.lifetime_ms);
        let mut built = self.build(request, deadline).await?;
        if !built.ready {
            built.kill_tree().await;
            return Err(SandboxError::Helper(format!(
                "a sandbox was not built within its lifetime ({} ms)",
                request.deadlines.lifetime_ms
            )));
        }
        Ok(built)
    }

    /// Starts a helper and sends it the sandbox to build; the helper then waits for the
    /// command. Waits for it to be built until `deadline` at most (`Built::ready`).
    async fn build(&self, request: &Request, deadline: Instant) -> Result<Built, SandboxError> {
        let dir = SandboxDir::create(&self.config.runtime_dir)?;
        let (host_uid, host_gid) = self.identity()?;
        let cgroup = random_hex()?;
        let proxy = Proxy::new(request.allow_hosts.clone(), request.allow_cidrs.clone());
        let mut tasks = JoinSet::new();
        let egress = if request.allow_hosts.is_empty() {
            None
        } else {
            Some(start_proxy(&dir.path, &proxy, host_uid, host_gid, &mut tasks).await?)
        };
        let spec = Spec {
            host_uid,
            host_gid,
            root_dir: dir.path.join("root"),
            fallback_work_dir: dir.path.join("work"),
            egress,
            binds: request.binds.clone(),
            limits: request.limits,
            enforcement: request.enforcement,
            isolation: request.isolation,
            cgroup: cgroup.clone(),
        };
        std::fs::create_dir(&spec.root_dir).map_err(|e| dir.error("creating the root", e))?;
        // The fallback's work dir, made here and given to the sandbox's user, so that a
        // helper running as that user (not root) can use it.
        std::fs::create_dir(&spec.fallback_work_dir)
            .map_err(|e| dir.error("creating the work dir", e))?;
        if nix::unistd::geteuid().is_root() {
            let owner = (Some(host_uid.into()), Some(host_gid.into()));
            nix::unistd::chown(&spec.fallback_work_dir, owner.0, owner.1)
                .map_err(|e| dir.error("giving the work dir to the sandbox's user", e.into()))?;
        }
        // The helper says on its fd 3 when the sandbox is built and waits for its command.
        let (ready_read, ready_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| SandboxError::Io("the ready pipe".to_owned(), e.into()))?;
        let ready_raw = std::os::fd::AsRawFd::as_raw_fd(&ready_write);
        let mut command = Command::new(&self.config.helper);
        // The name the helper answers to when the executable is `aecl` itself.
        command.arg0(crate::helper::HELPER_NAME);
        // SAFETY: between fork and exec the closure only calls `dup2`, which is
        // async-signal-safe, on a descriptor this process owns until after the spawn.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(ready_raw, READY_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Not killed when dropped: it ends by itself when its stdin closes (an unused
            // warm sandbox) or after its report, and must get to remove its cgroup.
            .kill_on_drop(false)
            .spawn()
            .map_err(|e| {
                SandboxError::Helper(format!("starting `{}`: {e}", self.config.helper.display()))
            })?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::Helper("the helper's pipes are missing".to_owned()));
        };
        drop(ready_write);
        // A helper that already died will not read this; its report says why.
        let _ = stdin.write_all(&message(&spec)?).await;
        let cap = request.output_cap;
        let stdout = Output::capture(stdout, cap);
        let stderr = Output::capture(stderr, cap);
        // Built (one byte), or the helper ended first (the end of the pipe): either way
        // the run that follows reads how it went from the report on the same pipe. Not
        // built by the deadline: the run reports the timeout.
        let mut control = tokio::net::unix::pipe::Receiver::from_owned_fd(ready_read)
            .map_err(|e| SandboxError::Io("the helper's control pipe".to_owned(), e))?;
        let mut byte = [0u8; 1];
        let waited = tokio::time::timeout_at(deadline.into(), control.read(&mut byte)).await;
        // A sandbox that could not be built sends its report without the ready byte:
        // what was read is then the report's first byte.
        let report_start = match waited {
            Ok(Ok(1)) if byte[0] != READY_BYTE => vec![byte[0]],
            _ => Vec::new(),
        };
        Ok(Built {
            guard: TreeGuard::new(child.id(), cgroup, host_uid),
            child,
            stdin: Some(stdin),
            stdout,
            stderr,
            proxy,
            tasks,
            egress: spec.egress.is_some(),
            control,
            dir,
            ready: waited.is_ok(),
            report_start,
        })
    }

    fn identity(&self) -> Result<(u32, u32), SandboxError> {
        if let Some(identity) = self.config.identity {
            if identity.0 == 0 || identity.1 == 0 {
                return Err(SandboxError::Helper(
                    "the sandbox never runs as uid or gid 0".to_owned(),
                ));
            }
            return Ok(identity);
        }
        let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        if uid != 0 {
            return Ok((uid, if gid == 0 { uid } else { gid }));
        }
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes)
            .map_err(|e| SandboxError::Helper(format!("randomness: {e}")))?;
        let id = UID_BASE + u32::from_le_bytes(bytes) % UID_SPAN;
        Ok((id, id))
    }
}

/// A helper that was sent its sandbox and waits for the command.
#[derive(Debug)]
struct Built {
    /// Kills the sandbox's tree, from outside, on a deadline the helper missed and when
    /// the run is dropped after its command was handed over. First, so that a drop kills
    /// before the helper's `Child` is let go.
    guard: TreeGuard,
    child: Child,
    /// Taken when the command is sent.
    stdin: Option<ChildStdin>,
    stdout: Output,
    stderr: Output,
    proxy: Proxy,
    /// The egress proxy's listeners, stopped when the run ends.
    tasks: JoinSet<()>,
    egress: bool,
    /// The helper's control pipe: its report comes last.
    control: tokio::net::unix::pipe::Receiver,
    /// Removed when the run ends.
    dir: SandboxDir,
    /// The helper said the sandbox is built (or ended) before the deadline.
    ready: bool,
    /// What of the report was read while waiting for the ready byte.
    report_start: Vec<u8>,
}

impl Built {
    /// Sends the command and its stdin, waits for the helper, and reads its report. The
    /// deadlines count from `started` (the call's start): the helper gets what is left
    /// of them, and the launcher enforces them too, whatever the helper does.
    async fn run(mut self, request: Request, started: Instant) -> Result<Execution, SandboxError> {
        let (limit, limit_ms) = request.deadlines.binding();
        if !self.ready {
            // Still building at the deadline: nothing ran, and nothing is left to run.
            self.kill_tree().await;
            let outcome = Outcome::TimedOut { limit, after_ms: elapsed_ms(started) };
            return Ok(self.finish(outcome, Layers::default(), None, Vec::new()).await);
        }
        let mut env = request.env.clone();
        if self.egress {
            let url = format!("http://127.0.0.1:{EGRESS_PORT}");
            for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
                env.retain(|(k, _)| k != name);
                env.push((name.to_owned(), url.clone()));
            }
        }
        let spent_ms = elapsed_ms(started);
        let deadlines = request.deadlines.less(spent_ms);
        let command = SandboxCommand { argv: request.argv.clone(), env, deadlines };
        let Some(mut stdin) = self.stdin.take() else {
            return Err(SandboxError::Helper("the helper's stdin is gone".to_owned()));
        };
        // INVARIANT: from the hand-over until the run is collected, a caller that stops
        // waiting (this future dropped) kills the tree; nothing is left running unwatched.
        self.guard.arm();
        // A helper that died before this reports it; a write error here says nothing new.
        let _ = stdin.write_all(&message(&command)?).await;
        // The command's stdin is fed beside the run (it may read it slowly, or never);
        // without any, the pipe closes now and the command reads its end.
        let input = request.stdin;
        let feed = if input.is_empty() {
            drop(stdin);
            None
        } else {
            Some(tokio::spawn(async move {
                // A command that does not read its stdin closes the pipe: not an error.
                let _ = stdin.write_all(&input).await;
            }))
        };
        // The helper writes its report once the command has ended and its tree is
        // killed, and closes the pipe; a helper that has not by the deadline and a grace
        // period is killed with the sandbox's whole tree, and the run has timed out.
        let backstop = started + Duration::from_millis(limit_ms) + GRACE;
        let mut bytes = std::mem::take(&mut self.report_start);
        let mut control = (&mut self.control).take(1 << 20);
        let reported =
            tokio::time::timeout_at(backstop.into(), control.read_to_end(&mut bytes)).await;
        if let Some(feed) = feed {
            feed.abort();
        }
        let report = match reported {
            Ok(_) => serde_json::from_slice::<Report>(&bytes).ok(),
            Err(_) => {
                self.kill_tree().await;
                let outcome = Outcome::TimedOut { limit, after_ms: elapsed_ms(started) };
                let note = format!(
                    "the sandbox did not end by its {} deadline: the launcher killed it",
                    limit.as_str()
                );
                return Ok(self.finish(outcome, Layers::default(), None, vec![note]).await);
            }
        };
        let (outcome, layers, elapsed, reached) = match report {
            Some(r) => {
                // The helper counts from the hand-over; the deadline, from the call.
                let outcome = match r.outcome {
                    Outcome::TimedOut { limit, after_ms } => {
                        Outcome::TimedOut { limit, after_ms: after_ms.saturating_add(spent_ms) }
                    }
                    other => other,
                };
                (outcome, r.layers, Some(r.elapsed_ms), r.limits_reached)
            }
            None => {
                // The helper's own complaint, if any, is the last line on its stderr.
                let stderr = self.stderr.wait(OUTPUT_GRACE).await;
                let error = format!(
                    "the sandbox helper ended without a report: {}",
                    String::from_utf8_lossy(&stderr.kept).lines().last().unwrap_or("no message")
                );
                (Outcome::Setup { error }, Layers::default(), Some(0), Vec::new())
            }
        };
        Ok(self.finish(outcome, layers, elapsed, reached).await)
    }

    /// Collects the output (its pipes close when the sandbox's last process is gone; past
    /// a grace period the tree is killed from here and what was captured is kept).
    async fn finish(
        mut self,
        outcome: Outcome,
        layers: Layers,
        elapsed_ms: Option<u64>,
        limits_reached: Vec<String>,
    ) -> Execution {
        if !self.stdout.closed(OUTPUT_GRACE).await || !self.stderr.closed(OUTPUT_GRACE).await {
            self.kill_tree().await;
        }
        let stdout = self.stdout.wait(OUTPUT_GRACE).await;
        let stderr = self.stderr.wait(OUTPUT_GRACE).await;
        // Collected: the helper reaps the namespace and removes its cgroup by itself.
        self.guard.disarm();
        let mut child = self.child;
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        self.tasks.abort_all();
        drop(self.dir);
        Execution {
            outcome,
            layers,
            stdout: stdout.kept,
            stderr: stderr.kept,
            stdout_dropped: stdout.dropped,
            stderr_dropped: stderr.dropped,
            egress: self.proxy.attempts(),
            elapsed_ms: elapsed_ms.unwrap_or(0),
            limits_reached,
            tier: Tier::Process,
        }
    }

    /// Kills the helper and every process of the sandbox, from outside: the helper's
    /// death kills the namespace's init (parent-death signal) and with it the PID
    /// namespace; the cgroup is killed by name; under a fresh host uid, every process of
    /// that uid is killed.
    async fn kill_tree(&mut self) {
        let _ = self.child.start_kill();
        self.guard.kill().await;
    }
}

impl Deadlines {
    /// What is left of each deadline after `spent_ms` (at least 1 ms: a deadline that is
    /// spent still ends the command at once).
    fn less(self, spent_ms: u64) -> Deadlines {
        let left = |ms: u64| ms.saturating_sub(spent_ms).max(1);
        Deadlines {
            call_ms: left(self.call_ms),
            run_ms: self.run_ms.map(left),
            lifetime_ms: left(self.lifetime_ms),
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn random_hex() -> Result<String, SandboxError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| SandboxError::Helper(format!("randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A helper's stdout or stderr, captured beside the run into a buffer that can be read
/// even when the pipe never closes.
#[derive(Debug)]
struct Output {
    captured: Arc<Mutex<Captured>>,
    task: JoinHandle<()>,
}

impl Output {
    fn capture<R: AsyncRead + Unpin + Send + 'static>(from: R, cap: usize) -> Output {
        let captured = Arc::new(Mutex::new(Captured::default()));
        let task = tokio::spawn(capture_into(from, cap, captured.clone()));
        Output { captured, task }
    }

    /// Whether the pipe closed within `grace`.
    async fn closed(&mut self, grace: Duration) -> bool {
        self.task.is_finished() || tokio::time::timeout(grace, &mut self.task).await.is_ok()
    }

    /// What was captured, once the pipe closed or `grace` passed.
    async fn wait(&mut self, grace: Duration) -> Captured {
        if !self.closed(grace).await {
            self.task.abort();
        }
        let mut captured = self.captured.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *captured)
    }
}

/// One message for the helper's stdin: the JSON's length on a line, then the JSON.
fn message<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, SandboxError> {
    let json = serde_json::to_vec(value).map_err(|e| SandboxError::Helper(e.to_string()))?;
    let mut bytes = format!("{}\n", json.len()).into_bytes();
    bytes.extend_from_slice(&json);
    Ok(bytes)
}

/// Starts the egress proxy on a Unix socket in `dir`, owned by the sandbox's user, who
/// alone may connect. No TCP port: a loopback port would be open to every local user (and
/// the Landlock fallback, which could not confine egress to it, refuses allowed hosts).
pub(crate) async fn start_proxy(
    dir: &Path,
    proxy: &Proxy,
    uid: u32,
    gid: u32,
    tasks: &mut JoinSet<()>,
) -> Result<Egress, SandboxError> {
    let socket = dir.join("egress.sock");
    let unix = UnixListener::bind(&socket)
        .map_err(|e| SandboxError::Io("binding the egress socket".to_owned(), e))?;
    // Whatever the launcher's umask: only the owner may connect.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| SandboxError::Io("securing the egress socket".to_owned(), e))?;
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(
            &socket,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .map_err(|e| {
            SandboxError::Io("giving the egress socket to the sandbox's user".to_owned(), e.into())
        })?;
    }
    tasks.spawn(proxy.clone().serve_all(unix));
    Ok(Egress { socket })
}

/// Output kept up to a cap.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    pub(crate) kept: Vec<u8>,
    pub(crate) dropped: u64,
}

pub(crate) async fn capture<R: AsyncRead + Unpin>(from: R, cap: usize) -> Captured {
    let captured = Arc::new(Mutex::new(Captured::default()));
    capture_into(from, cap, captured.clone()).await;
    let mut captured = captured.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::take(&mut *captured)
}

/// Reads `from` to its end into `into`, up to `cap` bytes kept.
async fn capture_into<R: AsyncRead + Unpin>(mut from: R, cap: usize, into: Arc<Mutex<Captured>>) {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut captured = into.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let room = cap.saturating_sub(captured.kept.len()).min(n);
                captured.kept.extend_from_slice(&chunk[..room]);
                captured.dropped += (n - room) as u64;
            }
        }
    }
}

/// The name of every sandbox directory starts with this, then the launcher's pid.
const DIR_PREFIX: &str = "aecl-sandbox-";

/// Removes the sandbox directories of launchers that are gone (killed before they could
/// remove them), and the host cgroups runsc made for those of them that ran in the
/// `gvisor` tier (runsc died with the launcher and could not). Only host-side files are
/// there: the mounts lived in the sandboxes' namespaces.
fn sweep_orphans(runtime_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(runtime_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split_once('-').and_then(|(pid, _)| pid.parse::<i32>().ok()) else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
            || Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
            // Their processes died with runsc: empty now, or never made (another tier).
            crate::gvisor::remove_host_cgroups(&crate::gvisor::container_id(&entry.path()));
        }
    }
}

/// A sandbox's directory on the host, removed when dropped.
#[derive(Debug)]
pub(crate) struct SandboxDir {
    pub(crate) path: PathBuf,
}

impl SandboxDir {
    pub(crate) fn create(parent: &Path) -> Result<SandboxDir, SandboxError> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|e| SandboxError::Helper(format!("randomness: {e}")))?;
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // The launcher's pid in the name lets a later launcher sweep what a killed one
        // left (`sweep_orphans`).
        let path = parent.join(format!("{DIR_PREFIX}{}-{name}", std::process::id()));
        std::fs::create_dir(&path)
            .map_err(|e| SandboxError::Io(format!("creating `{}`", path.display()), e))?;
        // Traversable by the sandbox's user (its root's mount point is inside), listed by
        // nobody else.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| SandboxError::Io(format!("securing `{}`", path.display()), e))?;
        Ok(SandboxDir { path })
    }

    fn error(&self, what: &str, e: std::io::Error) -> SandboxError {
        SandboxError::Io(format!("{what} in `{}`", self.path.display()), e)
    }
}

impl Drop for SandboxDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
