//! The launcher, on the host side: prepares a sandbox directory, starts the egress proxy
//! when hosts are allowed, starts the helper executable (never a fork of the calling,
//! multi-threaded process), feeds it the spec and the command's stdin, captures stdout and
//! stderr up to a cap, and reads the helper's report.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::process::Command;
use tokio::task::JoinSet;

use crate::egress::{EgressAttempt, HostPattern, Proxy};
use crate::error::SandboxError;
use crate::spec::{
    Bind, Deadlines, EGRESS_PORT, Egress, Isolation, Layers, Limits, Outcome, Report, Spec,
};

/// Extra time the helper gets past the command's deadline to kill, reap and report
/// before the launcher kills it.
const GRACE: Duration = Duration::from_secs(5);

/// Where host uids for a root launcher are drawn from: far above any real user's.
const UID_BASE: u32 = 0x7000_0000;
const UID_SPAN: u32 = 1 << 24;

/// How a launcher is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The helper executable (`aecl-sandbox`).
    pub helper: PathBuf,
    /// Where sandbox directories are made (each removed after its run).
    pub runtime_dir: PathBuf,
    /// The host uid and gid the sandbox runs as. `None`: the launcher's own when it is
    /// not root; when it is root, a fresh one per run from a high range, so that no two
    /// sandboxes, and no host user, share a uid.
    pub identity: Option<(u32, u32)>,
}

impl SandboxConfig {
    /// The helper beside the running executable (how `aecl` is installed), and the
    /// system's temporary directory.
    pub fn beside_current_exe() -> Result<SandboxConfig, SandboxError> {
        let exe = std::env::current_exe().map_err(|e| SandboxError::Helper(format!("{e}")))?;
        let helper = exe.with_file_name("aecl-sandbox");
        Ok(SandboxConfig { helper, runtime_dir: std::env::temp_dir(), identity: None })
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
    pub elapsed_ms: u64,
}

/// Runs commands in sandboxes.
#[derive(Debug, Clone)]
pub struct Sandbox {
    config: SandboxConfig,
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
        Ok(Sandbox { config })
    }

    /// Runs `request` to its end. An `Err` means the sandbox could not even be prepared
    /// (nothing ran); every other ending, including the sandbox's own setup failing inside
    /// the helper, is an [`Outcome`].
    pub async fn run(&self, request: Request) -> Result<Execution, SandboxError> {
        let dir = SandboxDir::create(&self.config.runtime_dir)?;
        let (host_uid, host_gid) = self.identity()?;
        let proxy = Proxy::new(request.allow_hosts.clone());
        let mut tasks = JoinSet::new();
        let egress = if request.allow_hosts.is_empty() {
            None
        } else {
            Some(start_proxy(&dir.path, &proxy, host_uid, host_gid, &mut tasks).await?)
        };
        let mut env = request.env.clone();
        if egress.is_some() {
            let url = format!("http://127.0.0.1:{EGRESS_PORT}");
            for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
                env.retain(|(k, _)| k != name);
                env.push((name.to_owned(), url.clone()));
            }
        }
        let spec = Spec {
            argv: request.argv.clone(),
            env,
            host_uid,
            host_gid,
            root_dir: dir.path.join("root"),
            fallback_work_dir: dir.path.join("work"),
            report: dir.path.join("report.json"),
            egress,
            binds: request.binds.clone(),
            limits: request.limits,
            deadlines: request.deadlines,
            isolation: request.isolation,
        };
        std::fs::create_dir(&spec.root_dir).map_err(|e| dir.error("creating the root", e))?;
        let result = self.spawn(&spec, &request).await;
        tasks.abort_all();
        let (stdout, stderr, status) = result?;
        let report = match std::fs::read(&spec.report) {
            Ok(bytes) => serde_json::from_slice::<Report>(&bytes).ok(),
            Err(_) => None,
        };
        let report = report.unwrap_or_else(|| Report {
            // The helper's own complaint, if any, is the last line on stderr.
            outcome: Outcome::Setup {
                error: format!(
                    "the sandbox helper ended ({status}) without a report: {}",
                    String::from_utf8_lossy(&stderr.kept).lines().last().unwrap_or("no message")
                ),
            },
            layers: Layers::default(),
            elapsed_ms: 0,
        });
        Ok(Execution {
            outcome: report.outcome,
            layers: report.layers,
            stdout: stdout.kept,
            stderr: stderr.kept,
            stdout_dropped: stdout.dropped,
            stderr_dropped: stderr.dropped,
            egress: proxy.attempts(),
            elapsed_ms: report.elapsed_ms,
        })
    }

    async fn spawn(
        &self,
        spec: &Spec,
        request: &Request,
    ) -> Result<(Captured, Captured, String), SandboxError> {
        let json = serde_json::to_vec(spec).map_err(|e| SandboxError::Helper(e.to_string()))?;
        let mut line = format!("{}\n", json.len()).into_bytes();
        line.extend_from_slice(&json);
        let mut child = Command::new(&self.config.helper)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                SandboxError::Helper(format!("starting `{}`: {e}", self.config.helper.display()))
            })?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::Helper("the helper's pipes are missing".to_owned()));
        };
        let input = request.stdin.clone();
        let feed = tokio::spawn(async move {
            // A command that does not read its stdin closes the pipe: not an error.
            let _ = stdin.write_all(&line).await;
            let _ = stdin.write_all(&input).await;
        });
        let cap = request.output_cap;
        let out = tokio::spawn(capture(stdout, cap));
        let err = tokio::spawn(capture(stderr, cap));
        let (_, limit_ms) = spec.deadlines.binding();
        let backstop = Duration::from_millis(limit_ms) + GRACE;
        let status = match tokio::time::timeout(backstop, child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(e)) => format!("wait failed: {e}"),
            Err(_) => {
                // The helper itself hangs: kill it; its init dies with it (parent-death
                // signal) and the kernel kills the rest of the namespace.
                let _ = child.kill().await;
                "killed by the launcher's backstop".to_owned()
            }
        };
        feed.abort();
        let stdout = out.await.unwrap_or_default();
        let stderr = err.await.unwrap_or_default();
        Ok((stdout, stderr, status))
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

/// Starts the egress proxy on a Unix socket in `dir` (owned by the sandbox's user, who
/// alone may connect) and on a loopback TCP port (the fallback has no socket bind).
async fn start_proxy(
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
struct Captured {
    kept: Vec<u8>,
    dropped: u64,
}

async fn capture<R: AsyncRead + Unpin>(mut from: R, cap: usize) -> Captured {
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

/// A sandbox's directory on the host, removed when dropped.
struct SandboxDir {
    path: PathBuf,
}

impl SandboxDir {
    fn create(parent: &Path) -> Result<SandboxDir, SandboxError> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|e| SandboxError::Helper(format!("randomness: {e}")))?;
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let path = parent.join(format!("aecl-sandbox-{name}"));
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
