//! The launcher, on the host side: prepares a sandbox directory, starts the egress proxy
//! when hosts are allowed, starts the helper executable (never a fork of the calling,
//! multi-threaded process) and sends it the sandbox to build, then the command and its
//! stdin; captures stdout and stderr up to a cap, and reads the helper's report.
//!
//! With `warm` set, the launcher keeps that many sandboxes built ahead of time for each
//! shape of request it has seen (same binds, hosts, limits and isolation): a run takes a
//! built one, fully restricted and waiting for its command, and a replacement is built in
//! the background. Each sandbox still runs exactly one command.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::{JoinHandle, JoinSet};

use crate::egress::{EgressAttempt, HostPattern, Proxy};
use crate::error::SandboxError;
use crate::spec::{
    Bind, Command as SandboxCommand, Deadlines, EGRESS_PORT, Egress, Isolation, Layers, Limits,
    Outcome, Report, Spec,
};
use crate::tier::{Tier, TierConfig, TierStatus};

/// The helper's descriptor for saying that the sandbox is built.
pub(crate) const READY_FD: i32 = 3;

/// Extra time the helper gets past the command's deadline to kill, reap and report
/// before the launcher kills it.
const GRACE: Duration = Duration::from_secs(5);

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
    /// The helper beside the running executable (how `aecl` is installed), the system's
    /// temporary directory, nothing kept warm; the microVM image named by
    /// `AECL_MICROVM_IMAGE` ([`MicrovmConfig::from_env`](crate::MicrovmConfig::from_env)).
    pub fn beside_current_exe() -> Result<SandboxConfig, SandboxError> {
        let exe = std::env::current_exe().map_err(|e| SandboxError::Helper(format!("{e}")))?;
        let helper = exe.with_file_name("aecl-sandbox");
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
    pub limits: Limits,
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
    /// The tier it actually ran in.
    pub tier: Tier,
}

/// What makes two requests' sandboxes interchangeable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Shape {
    binds: Vec<Bind>,
    allow_hosts: Vec<String>,
    limits: Limits,
    isolation: Isolation,
    output_cap: usize,
    tier: Tier,
}

impl Shape {
    fn of(request: &Request) -> Shape {
        Shape {
            binds: request.binds.clone(),
            allow_hosts: request.allow_hosts.iter().map(|h| format!("{h:?}")).collect(),
            limits: request.limits,
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
        let shape = Shape::of(&request);
        let built = match self.take_warm(&shape) {
            Some(built) => built,
            None => self.inner.build(&request).await?,
        };
        let refill = (self.inner.config.warm > 0).then(|| request.clone());
        let done = built.run(request).await;
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
            let built = self.inner.build(request).await?;
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
            match sandbox.inner.build(&request).await {
                Ok(built) => sandbox.put_warm(shape, built),
                Err(e) => tracing::warn!(error = %e, "building a warm sandbox"),
            }
        });
    }
}

impl Inner {
    /// Starts a helper and sends it the sandbox to build; the helper then waits for the
    /// command.
    async fn build(&self, request: &Request) -> Result<Built, SandboxError> {
        let dir = SandboxDir::create(&self.config.runtime_dir)?;
        let (host_uid, host_gid) = self.identity()?;
        let proxy = Proxy::new(request.allow_hosts.clone());
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
            isolation: request.isolation,
        };
        std::fs::create_dir(&spec.root_dir).map_err(|e| dir.error("creating the root", e))?;
        // The helper says on its fd 3 when the sandbox is built and waits for its command.
        let (ready_read, ready_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| SandboxError::Io("the ready pipe".to_owned(), e.into()))?;
        let ready_raw = std::os::fd::AsRawFd::as_raw_fd(&ready_write);
        let mut command = Command::new(&self.config.helper);
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
        let stdout = tokio::spawn(capture(stdout, cap));
        let stderr = tokio::spawn(capture(stderr, cap));
        // Built (one byte), or the helper ended first (the end of the pipe): either way
        // the run that follows reads how it went from the report on the same pipe.
        let mut control = tokio::net::unix::pipe::Receiver::from_owned_fd(ready_read)
            .map_err(|e| SandboxError::Io("the helper's control pipe".to_owned(), e))?;
        let mut byte = [0u8; 1];
        let _ = control.read(&mut byte).await;
        Ok(Built {
            child,
            stdin,
            stdout,
            stderr,
            proxy,
            tasks,
            egress: spec.egress.is_some(),
            control,
            dir,
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
    child: Child,
    stdin: ChildStdin,
    stdout: JoinHandle<Captured>,
    stderr: JoinHandle<Captured>,
    proxy: Proxy,
    /// The egress proxy's listeners, stopped when the run ends.
    tasks: JoinSet<()>,
    egress: bool,
    /// The helper's control pipe: its report comes last.
    control: tokio::net::unix::pipe::Receiver,
    /// Removed when the run ends.
    dir: SandboxDir,
}

impl Built {
    /// Sends the command and its stdin, waits for the helper, and reads its report.
    async fn run(mut self, request: Request) -> Result<Execution, SandboxError> {
        let mut env = request.env.clone();
        if self.egress {
            let url = format!("http://127.0.0.1:{EGRESS_PORT}");
            for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
                env.retain(|(k, _)| k != name);
                env.push((name.to_owned(), url.clone()));
            }
        }
        let command =
            SandboxCommand { argv: request.argv.clone(), env, deadlines: request.deadlines };
        let mut stdin = self.stdin;
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
        let (_, limit_ms) = request.deadlines.binding();
        let backstop = Duration::from_millis(limit_ms) + GRACE;
        // The helper closes its stdout and stderr once the report is written and every
        // process of the sandbox is gone; it then removes its cgroup and exits, which
        // need not be waited for.
        let ended = async {
            let stdout = (&mut self.stdout).await.unwrap_or_default();
            let stderr = (&mut self.stderr).await.unwrap_or_default();
            (stdout, stderr)
        };
        let (stdout, stderr, status) = match tokio::time::timeout(backstop, ended).await {
            Ok((stdout, stderr)) => (stdout, stderr, "closed its output".to_owned()),
            Err(_) => {
                // The helper itself hangs: kill it; its init dies with it (parent-death
                // signal) and the kernel kills the rest of the namespace.
                let _ = self.child.kill().await;
                let stdout = self.stdout.await.unwrap_or_default();
                let stderr = self.stderr.await.unwrap_or_default();
                (stdout, stderr, "killed by the launcher's backstop".to_owned())
            }
        };
        if let Some(feed) = feed {
            feed.abort();
        }
        let mut child = self.child;
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        self.tasks.abort_all();
        // Written before the output closed: here at once, unless the helper was killed.
        let mut bytes = Vec::new();
        let mut control = (&mut self.control).take(1 << 20);
        let _ = tokio::time::timeout(GRACE, control.read_to_end(&mut bytes)).await;
        let report = serde_json::from_slice::<Report>(&bytes).ok();
        let report = report.unwrap_or_else(|| Report {
            // The helper's own complaint, if any, is the last line on stderr.
            outcome: Outcome::Setup {
                error: format!(
                    "the sandbox helper {status} without a report: {}",
                    String::from_utf8_lossy(&stderr.kept).lines().last().unwrap_or("no message")
                ),
            },
            layers: Layers::default(),
            elapsed_ms: 0,
        });
        drop(self.dir);
        Ok(Execution {
            outcome: report.outcome,
            layers: report.layers,
            stdout: stdout.kept,
            stderr: stderr.kept,
            stdout_dropped: stdout.dropped,
            stderr_dropped: stderr.dropped,
            egress: self.proxy.attempts(),
            elapsed_ms: report.elapsed_ms,
            tier: Tier::Process,
        })
    }
}

/// One message for the helper's stdin: the JSON's length on a line, then the JSON.
fn message<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, SandboxError> {
    let json = serde_json::to_vec(value).map_err(|e| SandboxError::Helper(e.to_string()))?;
    let mut bytes = format!("{}\n", json.len()).into_bytes();
    bytes.extend_from_slice(&json);
    Ok(bytes)
}

/// Starts the egress proxy on a Unix socket in `dir` (owned by the sandbox's user, who
/// alone may connect) and on a loopback TCP port (the fallback has no socket bind).
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
    let tcp = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| SandboxError::Io("listening for the egress proxy".to_owned(), e))?;
    let tcp_port =
        tcp.local_addr().map_err(|e| SandboxError::Io("egress port".to_owned(), e))?.port();
    let unix_proxy = proxy.clone();
    tasks.spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = unix.accept().await {
            let proxy = unix_proxy.clone();
            connections.spawn(async move { proxy.serve(stream).await });
        }
    });
    let tcp_proxy = proxy.clone();
    tasks.spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, peer)) = tcp.accept().await {
            // Only local processes reach a loopback listener; the fallback's Landlock
            // rule lets the sandbox connect to this port and no other.
            if !peer.ip().is_loopback() {
                continue;
            }
            let proxy = tcp_proxy.clone();
            connections.spawn(async move { proxy.serve(stream).await });
        }
    });
    Ok(Egress { socket, tcp_port })
}

/// Output kept up to a cap.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    pub(crate) kept: Vec<u8>,
    pub(crate) dropped: u64,
}

pub(crate) async fn capture<R: AsyncRead + Unpin>(mut from: R, cap: usize) -> Captured {
    let mut captured = Captured::default();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return captured,
            Ok(n) => {
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
/// remove them). Only host-side files are there: the mounts lived in the sandboxes'
/// namespaces.
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
