//! The `gvisor` tier: the command runs under runsc, gVisor's user-space kernel, in an OCI
//! bundle the launcher builds for each run (`bundle`): a read-only root of the host's
//! system directories, a synthetic `/etc`, a size-limited tmpfs work dir and `/tmp`, the
//! request's binds, no capabilities, `noNewPrivileges`, rlimits, memory and pid limits
//! and a seccomp filter, with no network (`--network=none`) but the egress proxy's
//! socket when hosts are allowed. The helper executable, bound in, starts the command
//! (`helper::gvisor_init`): it applies the process tier's own seccomp filter, so both
//! tiers refuse the same system calls with the same errors. Its refusal to execute comes
//! back on a report pipe the command never holds, never from the command's stderr.
//!
//! The platform is `systrap` where the installed runsc has it and a trial run works, and
//! `ptrace` otherwise. Never `kvm`: on a host where it hangs, a probe would hang with it.
//!
//! runsc folds a death by signal N into the exit status 128 + N, as a shell does; the
//! tier therefore reports it as [`Outcome::Exited`] with that code (the exit code
//! `aecl sandbox run` passes through is the same as the process tier's). When gVisor's
//! kernel itself stops (a Go panic, in runsc's `--panic-log`), runsc's status is the
//! kernel's: the run is [`Outcome::Killed`] with the panic's line as the cause. Each run starts
//! its own sandbox (none is kept warm), so the deadlines and `elapsed_ms` count from the
//! start of `runsc run`, the sandbox's boot included.

mod bundle;
mod host_cgroups;
mod logs;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::task::JoinSet;

use crate::egress::Proxy;
use crate::error::SandboxError;
use crate::launch::{
    Execution, Request, SandboxConfig, SandboxDir, UID_BASE, UID_SPAN, capture, start_proxy,
};
use crate::spec::{EGRESS_PORT, Layers, Outcome, TimeLimit};
use crate::tier::{Tier, TierConfig, TierStatus};

use bundle::HELPER_INSIDE;
use logs::{kernel_stopped, logged_error};

/// The platforms tried, in order. `kvm` is deliberately absent.
const PLATFORMS: [&str; 2] = ["systrap", "ptrace"];

/// How long runsc's own commands (`--version`, `kill`, `delete`) and the probe's trial
/// run may take before they count as failed.
const RUNSC_TIMEOUT: Duration = Duration::from_secs(20);

/// Extra time, past the command's end, for its output pipes to close.
const GRACE: Duration = Duration::from_secs(5);

/// The longest a run takes past its binding deadline: `runsc kill` and `delete` (each
/// bounded by [`RUNSC_TIMEOUT`]), the output pipes' [`GRACE`] twice, one more `delete`
/// after a runsc that failed, and the wait for the host cgroups to empty.
pub(crate) const TEARDOWN: Duration = Duration::from_secs(
    3 * RUNSC_TIMEOUT.as_secs() + 2 * GRACE.as_secs() + host_cgroups::PATIENCE.as_secs(),
);

/// runsc's exit status when it failed itself (the container never ran its command).
const RUNSC_FAILED: i32 = 128;

/// What the probe found, enough to run.
#[derive(Debug, Clone)]
struct Runsc {
    path: PathBuf,
    version: String,
    platform: &'static str,
}

impl Runsc {
    fn describe(&self) -> String {
        format!("runsc {} at {}, platform {}", self.version, self.path.display(), self.platform)
    }

    /// The probe's detail, read back: the status is all [`Sandbox`](crate::Sandbox)
    /// keeps of the probe.
    fn from_status(config: &TierConfig, status: &TierStatus) -> Result<Runsc, SandboxError> {
        let unavailable = |why: String| SandboxError::TierUnavailable { tier: Tier::Gvisor, why };
        let path = locate(config).map_err(unavailable)?;
        let platform = PLATFORMS
            .into_iter()
            .find(|p| status.detail.ends_with(&format!("platform {p}")))
            .ok_or_else(|| unavailable(format!("no platform in `{}`", status.detail)))?;
        let version = status
            .detail
            .strip_prefix("runsc ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("unknown")
            .to_owned();
        Ok(Runsc { path, version, platform })
    }
}

/// Whether runsc works on this host, and on which platform: it is found, it runs as
/// root, and a trial container prints what it was asked to.
pub(crate) async fn probe(config: &SandboxConfig) -> TierStatus {
    let unavailable = |detail: String| TierStatus { tier: Tier::Gvisor, available: false, detail };
    let path = match locate(&config.tiers) {
        Ok(path) => path,
        Err(why) => return unavailable(why),
    };
    if !nix::unistd::geteuid().is_root() {
        // Rootless runsc cannot apply the bundle's mounts and limits as given.
        return unavailable(format!(
            "`{}` needs a root launcher; this one runs as uid {}",
            path.display(),
            nix::unistd::geteuid()
        ));
    }
    let version = match output(&path, &["--version"]).await {
        Ok(text) => text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("runsc version "))
            .unwrap_or("unknown")
            .trim()
            .to_owned(),
        Err(why) => return unavailable(format!("`{} --version`: {why}", path.display())),
    };
    let listed = output(&path, &["help", "platforms"]).await.unwrap_or_default();
    let mut failures = Vec::new();
    for platform in PLATFORMS {
        // An older runsc without `help platforms` still has ptrace.
        if !listed.lines().any(|l| l.trim() == platform) && platform != "ptrace" {
            failures.push(format!("{platform}: not in this runsc"));
            continue;
        }
        let runsc = Runsc { path: path.clone(), version: version.clone(), platform };
        match trial(config, &runsc).await {
            Ok(()) => {
                return TierStatus {
                    tier: Tier::Gvisor,
                    available: true,
                    detail: runsc.describe(),
                };
            }
            Err(why) => failures.push(format!("{platform}: {why}")),
        }
    }
    unavailable(format!("runsc {version}: trial run failed: {}", failures.join("; ")))
}

/// One container that echoes a word, under a deadline.
async fn trial(config: &SandboxConfig, runsc: &Runsc) -> Result<(), String> {
    let request = Request {
        argv: vec!["/bin/sh".into(), "-c".into(), "echo aecl-gvisor-probe".into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        deadlines: crate::Deadlines {
            call_ms: RUNSC_TIMEOUT.as_millis() as u64,
            run_ms: None,
            lifetime_ms: RUNSC_TIMEOUT.as_millis() as u64,
        },
        output_cap: 4096,
        tier: Tier::Gvisor,
        ..Request::default()
    };
    let done = execute(config, runsc, request).await.map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&done.stdout);
    if done.outcome == (Outcome::Exited { code: 0 }) && stdout == "aecl-gvisor-probe\n" {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&done.stderr);
    Err(format!("{:?}: {}", done.outcome, stderr.lines().last().unwrap_or("no message").trim()))
}

/// Runs `request` in a fresh gVisor sandbox.
pub(crate) async fn run(
    config: &SandboxConfig,
    status: &TierStatus,
    request: Request,
) -> Result<Execution, SandboxError> {
    let runsc = Runsc::from_status(&config.tiers, status)?;
    execute(config, &runsc, request).await
}

async fn execute(
    config: &SandboxConfig,
    runsc: &Runsc,
    request: Request,
) -> Result<Execution, SandboxError> {
    let dir = SandboxDir::create(&config.runtime_dir)?;
    let uid = identity(config)?;
    let proxy = Proxy::new(request.allow_hosts.clone(), request.allow_cidrs.clone());
    let mut tasks = JoinSet::new();
    let mut env = request.env.clone();
    // What the helper does inside before it becomes the command (`helper::gvisor_init`):
    // apply the process tier's own seccomp filter (`--seccomp`: runsc's `--oci-seccomp`
    // answers every refusal `EPERM`, so it cannot refuse `clone3` with the `ENOSYS` that
    // makes libc fall back to `clone`, whose namespace flags a filter sees; gVisor's
    // kernel honours a filter the command's own process installs); with allowed hosts,
    // start the forwarder to the egress proxy's socket; without a `HOME`, take away the
    // one runsc adds.
    let report_fd = REPORT_FD.to_string();
    let mut init = vec!["--seccomp", "--report-fd", &report_fd];
    let egress = if request.allow_hosts.is_empty() {
        None
    } else {
        // The socket belongs to the command's uid, which alone may connect to it.
        let egress = start_proxy(&dir.path, &proxy, uid, uid, &mut tasks).await?;
        let url = format!("http://127.0.0.1:{EGRESS_PORT}");
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
            env.retain(|(k, _)| k != name);
            env.push((name.to_owned(), url.clone()));
        }
        init.push("--forward");
        Some(egress.socket)
    };
    if !env.iter().any(|(k, _)| k == "HOME") {
        init.push("--unset-home");
    }
    let args: Vec<String> = [HELPER_INSIDE, INIT_ARG]
        .into_iter()
        .chain(init.iter().copied())
        .chain(["--"])
        .map(str::to_owned)
        .chain(request.argv.iter().cloned())
        .collect();
    let id = container_id(&dir.path);
    let bundle::Written { bundle, staged } = bundle::write(
        &dir.path,
        &bundle::Contents {
            container: &id,
            uid,
            args: &args,
            env: &env,
            binds: &request.binds,
            limits: request.limits,
            egress: egress.as_deref(),
            helper: config.helper.as_path(),
        },
    )?;
    let state = dir.path.join("state");
    let log = dir.path.join("runsc.log");
    let mut command = Command::new(&runsc.path);
    command.args(global_flags(runsc, &state));
    command.arg(format!("--log={}", log.display()));
    // Where gVisor's kernel writes why it stopped, if it does (a Go panic).
    let panic_log = dir.path.join("runsc.panic");
    command.arg(format!("--panic-log={}", panic_log.display()));
    if egress.is_some() {
        // Only sockets bound into the container (the proxy's) exist inside to be opened.
        command.arg("--host-uds=open");
    }
    // The helper's report pipe, passed into the container as `REPORT_FD` and nowhere
    // else (close-on-exec here; the helper makes it so inside before anything runs).
    let (report_read, report_write) = report_pipe()?;
    let report_raw = report_write.as_raw_fd();
    command.args(["run", &format!("--pass-fd={REPORT_FD}:{REPORT_FD}"), "--bundle"]);
    command.arg(&bundle).arg(&id);
    let stage = stage_binds(&staged)?;
    // SAFETY: between fork and exec the closure only calls `prctl`, `unshare`, `mount`,
    // `move_mount`, `dup2` and `fcntl`, which are async-signal-safe, on strings and
    // descriptors made before the fork.
    // runsc dies with the thread that started it (a runtime's worker, which lives as long
    // as the launcher), and the attached sandbox dies with runsc: a killed launcher leaves
    // no container running past its deadlines.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Before the report pipe takes its number, which a pinned bind may hold now.
            stage.mount()?;
            // `dup2` leaves the copy inheritable; the same number needs its flag cleared.
            let passed = if report_raw == REPORT_FD {
                libc::fcntl(REPORT_FD, libc::F_SETFD, 0)
            } else {
                libc::dup2(report_raw, REPORT_FD)
            };
            if passed < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    // Declared before runsc's child, so dropped after it: a dropped run kills runsc
    // first, then waits here for its cgroups to empty.
    let mut cgroups = host_cgroups::HostCgroups::new(&id);
    let mut child = command
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // `runsc run` keeps the sandbox attached: when it dies, so does the sandbox.
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SandboxError::Helper(format!("starting `{}`: {e}", runsc.path.display())))?;
    drop(report_write);
    // Mounted in runsc's namespace: the descriptors are no longer needed.
    drop(staged);
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(SandboxError::Helper("runsc's pipes are missing".to_owned()));
    };
    let stdout = tokio::spawn(capture(stdout, request.output_cap));
    let stderr = tokio::spawn(capture(stderr, request.output_cap));
    let input = request.stdin;
    let feed = tokio::spawn(async move {
        // A command that does not read its stdin closes the pipe: not an error.
        let _ = stdin.write_all(&input).await;
    });
    let (limit, limit_ms) = request.deadlines.binding();
    let waited = tokio::time::timeout(Duration::from_millis(limit_ms), child.wait()).await;
    let ended = match waited {
        Ok(Ok(status)) => Ended::Status(status.code()),
        Ok(Err(e)) => Ended::Lost(e.to_string()),
        Err(_) => {
            // The whole sandbox goes: every process in it, then runsc itself.
            let _ =
                output(&runsc.path, &runsc_args(runsc, &state, &["kill", "--all", &id, "KILL"]))
                    .await;
            let _ =
                output(&runsc.path, &runsc_args(runsc, &state, &["delete", "--force", &id])).await;
            let _ = child.kill().await;
            Ended::TimedOut(limit, elapsed_ms(started))
        }
    };
    let elapsed = elapsed_ms(started);
    feed.abort();
    let stdout = tokio::time::timeout(GRACE, stdout).await.ok().and_then(Result::ok);
    let stderr = tokio::time::timeout(GRACE, stderr).await.ok().and_then(Result::ok);
    tasks.abort_all();
    let (stdout, stderr) = (stdout.unwrap_or_default(), stderr.unwrap_or_default());
    let runsc_error = std::fs::read_to_string(&log).ok().and_then(|text| logged_error(&text));
    let stopped = std::fs::read_to_string(&panic_log).ok().and_then(|text| kernel_stopped(&text));
    if matches!(ended, Ended::Status(Some(RUNSC_FAILED))) && runsc_error.is_some()
        || matches!(ended, Ended::Status(None) | Ended::Lost(_))
    {
        // runsc failed or was killed from outside: leave no container behind.
        let _ = output(&runsc.path, &runsc_args(runsc, &state, &["delete", "--force", &id])).await;
    }
    if matches!(ended, Ended::Status(Some(_))) {
        cgroups.removed_by_runsc();
    } else {
        cgroups.remove_now().await;
    }
    let mut stderr_kept = stderr.kept;
    let report = Report::read(&drain(&report_read));
    let outcome = match ended {
        Ended::TimedOut(limit, after_ms) => Outcome::TimedOut { limit, after_ms },
        Ended::Lost(error) => Outcome::Setup { error: format!("waiting for runsc: {error}") },
        Ended::Status(None) if report.started || report.tampered => Outcome::Killed {
            signal: libc::SIGKILL,
            cause: Some(
                "runsc was killed by a signal from outside while the command ran".to_owned(),
            ),
        },
        Ended::Status(None) => {
            Outcome::Setup { error: "runsc was killed by a signal from outside".to_owned() }
        }
        // The kernel under the command stopped, and runsc's status is its, not the
        // command's: the command's processes died with it. Before runsc's own failure,
        // which is `setup` ("nothing ran"): the command may have done part of its work.
        Ended::Status(Some(_)) if stopped.is_some() => Outcome::Killed {
            signal: libc::SIGKILL,
            cause: Some(format!("gVisor's kernel stopped: {}", stopped.unwrap_or_default())),
        },
        Ended::Status(Some(RUNSC_FAILED)) if runsc_error.is_some() && !report.started => {
            failure(runsc_error.unwrap_or_default(), &request.argv, &mut stderr_kept)
        }
        // runsc's status is its init's, the helper's: how the command ended is the
        // helper's report, when it can be believed.
        Ended::Status(Some(code)) => match report.believed(code) {
            None => Outcome::Killed {
                signal: libc::SIGKILL,
                cause: Some(
                    "the sandbox's report holds lines its init did not write, or a status runsc \
                     did not end with (the command wrote to it, or killed the init): how the \
                     command ended is unknown"
                        .to_owned(),
                ),
            },
            // INVARIANT: a refusal is read only from the init's report; the same line on
            // stderr, which the command writes too, is data.
            Some(Report { refused: true, .. }) if code == 126 => {
                let program = request.argv.first().map(String::as_str).unwrap_or_default();
                Outcome::Denied {
                    reason: format!("`{program}` could not be executed (the helper refused it)"),
                }
            }
            Some(Report { status: Some(Status::Exited(code)), .. }) => Outcome::Exited { code },
            Some(Report { status: Some(Status::Killed(signal)), .. }) => {
                Outcome::Killed { signal, cause: None }
            }
            // Without a status the init was killed before it could say: on the host (the
            // memory limit of its host cgroup, a signal from outside), or by the command.
            Some(Report { started: true, .. }) => Outcome::Killed {
                signal: libc::SIGKILL,
                cause: Some(format!(
                    "gVisor's sandbox ended (runsc status {code}) before it said how the command \
                     ended: its init was killed (on the host, by the memory limit of its host \
                     cgroup or a signal from outside, or by the command)"
                )),
            },
            Some(_) => Outcome::Setup {
                error: format!("runsc ended (status {code}) before the command started"),
            },
        },
    };
    drop(dir);
    Ok(Execution {
        outcome,
        layers: layers(runsc, egress.is_some(), uid),
        stdout: stdout.kept,
        stderr: stderr_kept,
        stdout_dropped: stdout.dropped,
        stderr_dropped: stderr.dropped,
        egress: proxy.attempts(),
        elapsed_ms: elapsed,
        limits_reached: Vec::new(),
        tier: Tier::Gvisor,
    })
}

/// The binds to mount for runsc: a detached copy of each pinned bind (`open_tree`, made
/// here from the descriptor opened through no link) attached at its staged mount point
/// (`move_mount`) in a mount namespace of runsc's own, so that the paths runsc is given
/// lead where aecl checked, whatever a concurrent sandbox renames meanwhile, and the
/// mounts end with runsc (none is left on the host for a killed launcher to leave). A
/// descriptor cannot be bound from in another namespace; a detached copy belongs to none.
struct Stage {
    mounts: Vec<(OwnedFd, std::ffi::CString)>,
}

/// `open_tree`'s flag for a detached copy of the mount (`linux/mount.h`).
const OPEN_TREE_CLONE: libc::c_uint = 1;
/// `move_mount`'s flag for a source named by its descriptor alone (`linux/mount.h`).
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn stage_binds(staged: &[bundle::Staged]) -> Result<Stage, SandboxError> {
    let mut mounts = Vec::with_capacity(staged.len());
    for bind in staged {
        let at = bind.at.display();
        let target = std::ffi::CString::new(bind.at.as_os_str().as_encoded_bytes())
            .map_err(|_| SandboxError::Helper(format!("`{at}` holds a NUL byte")))?;
        // With what is mounted beneath it (`AT_RECURSIVE`): a copy without would show what
        // the host's mounts there hide (a tmpfs over a secret, `InaccessiblePaths=`).
        let flags = OPEN_TREE_CLONE
            | libc::O_CLOEXEC as libc::c_uint
            | libc::AT_EMPTY_PATH as libc::c_uint
            | libc::AT_RECURSIVE as libc::c_uint;
        // SAFETY: `open_tree` reads the empty, NUL-terminated path and returns a new
        // descriptor, owned below, or -1.
        let tree = unsafe {
            libc::syscall(libc::SYS_open_tree, bind.pinned.as_raw_fd(), c"".as_ptr(), flags)
        };
        let tree = libc::c_int::try_from(tree).ok().filter(|fd| *fd >= 0).ok_or_else(|| {
            SandboxError::Helper(format!(
                "copying the bind staged at `{at}`: {}",
                std::io::Error::last_os_error()
            ))
        })?;
        // SAFETY: `open_tree` returned this open descriptor, which nothing else owns.
        mounts.push((unsafe { OwnedFd::from_raw_fd(tree) }, target));
    }
    Ok(Stage { mounts })
}

impl Stage {
    /// In the child, before it executes runsc: a private mount namespace, the binds
    /// attached in it.
    fn mount(&self) -> std::io::Result<()> {
        if self.mounts.is_empty() {
            return Ok(());
        }
        let failed = || Err(std::io::Error::last_os_error());
        // SAFETY: `unshare`, `mount` and `move_mount` take no pointers but NUL-terminated
        // strings made before the fork, which live as long as `self`.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) < 0 {
                return failed();
            }
            let root = c"/".as_ptr();
            let private = libc::MS_REC | libc::MS_PRIVATE;
            if libc::mount(std::ptr::null(), root, std::ptr::null(), private, std::ptr::null()) < 0
            {
                return failed();
            }
            for (tree, target) in &self.mounts {
                let moved = libc::syscall(
                    libc::SYS_move_mount,
                    tree.as_raw_fd(),
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    target.as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                );
                if moved < 0 {
                    return failed();
                }
            }
        }
        Ok(())
    }
}

/// The argument the helper takes to start the command inside a container
/// (`aecl-sandbox gvisor-init [--forward] [--unset-home] -- COMMAND...`).
const INIT_ARG: &str = "gvisor-init";

/// How `runsc run` ended.
#[derive(Debug)]
enum Ended {
    /// Its exit status (`None`: a signal killed runsc itself).
    Status(Option<i32>),
    TimedOut(TimeLimit, u64),
    Lost(String),
}

/// What a runsc failure means for the caller: a program that is not there is the
/// command's failure (127, as a shell says), one that may not be executed a refusal,
/// anything else a sandbox that could not be built.
fn failure(error: String, argv: &[String], stderr: &mut Vec<u8>) -> Outcome {
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let missing = error.contains("error finding executable")
        || (error.contains("failed to load") && error.contains("no such file or directory"));
    if missing {
        stderr.extend_from_slice(
            format!("aecl-sandbox: `{program}`: command not found\n").as_bytes(),
        );
        Outcome::Exited { code: 127 }
    } else if error.contains("permission denied") {
        Outcome::Denied { reason: format!("`{program}` may not be executed: {error}") }
    } else {
        Outcome::Setup { error: format!("runsc: {error}") }
    }
}

/// What the helper inside, the container's init, wrote to the report pipe: `started` or
/// why the program could not be executed, then how the command ended. The command can
/// reopen the pipe (gVisor's `/proc/1/fd` heeds no dumpable flag) and add lines, but not
/// take the init's away, so a report is believed only when it holds exactly the lines
/// the init writes and its status is the one runsc ended with (the init's exit); else it
/// is [`Report::tampered`], and how the command ended is unknown.
#[derive(Debug, Default)]
struct Report {
    /// The command was executed.
    started: bool,
    /// The program could not be executed.
    refused: bool,
    /// How the command ended.
    status: Option<Status>,
    /// A line the init does not write, one written twice, or more than the init writes.
    tampered: bool,
}

#[derive(Debug, Clone, Copy)]
enum Status {
    Exited(i32),
    Killed(i32),
}

impl Status {
    /// The init's exit code for this status, which runsc ends with.
    fn code(self) -> i32 {
        match self {
            Status::Exited(code) => code,
            Status::Killed(signal) => 128 + signal,
        }
    }
}

impl Report {
    fn read(report: &[u8]) -> Report {
        let mut read = Report { tampered: report.len() >= MAX_REPORT_BYTES, ..Report::default() };
        for line in String::from_utf8_lossy(report).lines() {
            let Some(line) = line.strip_prefix("aecl-sandbox: ") else {
                read.tampered = true;
                continue;
            };
            if line == crate::helper::GVISOR_STARTED {
                read.tampered |= std::mem::replace(&mut read.started, true);
            } else if line.starts_with(crate::helper::GVISOR_REFUSED) {
                read.tampered |= std::mem::replace(&mut read.refused, true);
            } else if let Some(status) = line.strip_prefix(crate::helper::GVISOR_STATUS) {
                let status = match status.split_once(' ') {
                    Some(("exited", code)) => code.parse().ok().map(Status::Exited),
                    Some(("killed", signal)) => signal.parse().ok().map(Status::Killed),
                    _ => None,
                };
                match status {
                    Some(status) => read.tampered |= read.status.replace(status).is_some(),
                    None => read.tampered = true,
                }
            } else {
                read.tampered = true;
            }
        }
        // The init writes one of the two.
        read.tampered |= read.started && read.refused;
        read
    }

    /// The report as believed for a run runsc ended with `code` (the init's exit): `None`
    /// when the command may have written it.
    fn believed(self, code: i32) -> Option<Report> {
        let consistent = self.status.is_none_or(|status| status.code() == code);
        (!self.tampered && consistent).then_some(self)
    }
}

/// The descriptor the helper inside finds its report pipe on.
const REPORT_FD: std::os::fd::RawFd = 3;

/// The most of the report pipe read: a pipe's whole buffer. The init writes three short
/// lines; more is the command's doing ([`Report::tampered`]).
const MAX_REPORT_BYTES: usize = 64 * 1024;

/// The report pipe: its read end non-blocking (read once runsc has ended, when whatever
/// the helper wrote is there), both ends close-on-exec.
fn report_pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let io = |what: &str, e: nix::errno::Errno| SandboxError::Io(what.to_owned(), e.into());
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| io("the helper's report pipe", e))?;
    nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))
        .map_err(|e| io("the helper's report pipe", e))?;
    Ok((read, write))
}

/// What is in the report pipe now, up to [`MAX_REPORT_BYTES`].
fn drain(read: &OwnedFd) -> Vec<u8> {
    let mut report = Vec::new();
    let mut chunk = [0u8; 512];
    while report.len() < MAX_REPORT_BYTES {
        match nix::unistd::read(read, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => report.extend_from_slice(&chunk[..n]),
        }
    }
    report
}

fn layers(runsc: &Runsc, egress: bool, uid: u32) -> Layers {
    Layers {
        mode: "gvisor".to_owned(),
        runtime: Some(runsc.describe()),
        fallback_reason: None,
        // gVisor's kernel gives the container these; runsc puts its own processes on the
        // host in new user, mount, network, IPC and UTS namespaces.
        namespaces: ["pid", "mount", "net", "ipc", "uts"].map(str::to_owned).to_vec(),
        readonly_root: true,
        // The command's system calls go to gVisor's kernel, not the host's: Landlock has
        // nothing to restrict there. runsc confines its own processes with seccomp.
        landlock: "not_applicable: gVisor's kernel serves the command's file system".to_owned(),
        landlock_abi: 0,
        seccomp: true,
        cgroup: "gvisor: the pid limit held by gVisor's kernel (RLIMIT_NPROC); memory and \
                 a looser pid limit on the sandbox's host cgroup (runsc)"
            .to_owned(),
        rlimits: true,
        capabilities_dropped: true,
        no_new_privs: true,
        env_allowlist: true,
        egress_proxy: egress,
        // The command's uid in gVisor's kernel, and the owner of what it writes in a
        // bind; runsc's own processes run as host root in their own user namespace, with
        // few capabilities.
        host_uid: uid,
        limits_unenforced: Vec::new(),
        exposed: Vec::new(),
    }
}

/// The flags every runsc command of one sandbox gets: its own state directory, no
/// network, the probed platform, no overlay (the root is read-only), the bundle's
/// seccomp filter applied.
fn global_flags(runsc: &Runsc, state: &Path) -> Vec<String> {
    vec![
        format!("--root={}", state.display()),
        "--network=none".to_owned(),
        format!("--platform={}", runsc.platform),
        "--overlay2=none".to_owned(),
        "--oci-seccomp".to_owned(),
    ]
}

fn runsc_args(runsc: &Runsc, state: &Path, rest: &[&str]) -> Vec<String> {
    let mut args = global_flags(runsc, state);
    args.extend(rest.iter().map(|s| (*s).to_owned()));
    args
}

/// The uid the command runs as: the configured one, else a fresh one per sandbox from
/// the process tier's high range, so that what it writes in a bind, and the egress
/// socket it may connect to, belong to no host user.
fn identity(config: &SandboxConfig) -> Result<u32, SandboxError> {
    if let Some((uid, gid)) = config.identity {
        if uid == 0 || gid == 0 {
            return Err(SandboxError::Helper("the sandbox never runs as uid or gid 0".to_owned()));
        }
        return Ok(uid);
    }
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| SandboxError::Helper(format!("randomness: {e}")))?;
    Ok(UID_BASE + u32::from_le_bytes(bytes) % UID_SPAN)
}

/// Removes the host cgroups of the container `id` of a launcher that is gone
/// (`launch::sweep_orphans`). The launcher may have been killed a moment ago: its
/// sandbox's processes, killed with runsc, may still be exiting (a large address space
/// takes a while to free, and a process leaves its cgroups only at the end of its exit),
/// so busy cgroups are waited for as long as a dropped run waits for its own
/// ([`host_cgroups::PATIENCE`]); those still busy then are left, and said.
pub(crate) fn remove_host_cgroups(id: &str) {
    host_cgroups::warn_if_left(id, &host_cgroups::remove(id, host_cgroups::PATIENCE));
}

/// The container's id: the sandbox directory's unique name.
pub(crate) fn container_id(dir: &Path) -> String {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("aecl-sandbox");
    format!("aecl-{}", name.rsplit('-').next().unwrap_or(name))
}

/// runsc at the configured path, or in `PATH`.
fn locate(config: &TierConfig) -> Result<PathBuf, String> {
    if let Some(path) = &config.runsc {
        return if path.is_file() {
            Ok(path.clone())
        } else {
            Err(format!("runsc is not installed at `{}`", path.display()))
        };
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths).map(|dir| dir.join("runsc")).find(|p| p.is_file())
        })
        .ok_or_else(|| {
            "runsc is not installed (Debian: `apt-get install -t bookworm-backports runsc`)"
                .to_owned()
        })
}

/// Runs one runsc command to its end under [`RUNSC_TIMEOUT`]; its stdout, or why not.
async fn output<S: AsRef<std::ffi::OsStr>>(path: &Path, args: &[S]) -> Result<String, String> {
    let run =
        Command::new(path).args(args).env_clear().stdin(Stdio::null()).kill_on_drop(true).output();
    match tokio::time::timeout(RUNSC_TIMEOUT, run).await {
        Err(_) => Err(format!("no answer within {} s", RUNSC_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
        Ok(Ok(out)) => Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("no message").trim()
        )),
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_is_read_back_from_the_probe_and_never_kvm() {
        let config = TierConfig { runsc: Some(PathBuf::from("/bin/sh")), microvm: None };
        let status = |detail: &str| TierStatus {
            tier: Tier::Gvisor,
            available: true,
            detail: detail.to_owned(),
        };
        let runsc =
            Runsc::from_status(&config, &status("runsc 1.0 at /bin/sh, platform ptrace")).unwrap();
        assert_eq!((runsc.platform, runsc.version.as_str()), ("ptrace", "1.0"));
        assert!(
            Runsc::from_status(&config, &status("runsc 1.0 at /bin/sh, platform kvm")).is_err()
        );
    }

    /// The command can add lines to the report (gVisor's `/proc/1/fd/3`), never take the
    /// init's away: a report is believed only as the init writes it and when its status
    /// is the one runsc ended with (the red team's round 19, fourth pass: `exit 3` told as
    /// 0, a kill told as 0, 0 told as killed, 126 told as a refusal).
    #[test]
    fn a_report_the_command_wrote_to_is_not_believed() {
        let believed = |text: &str, code: i32| Report::read(text.as_bytes()).believed(code);
        let ok = "aecl-sandbox: started\naecl-sandbox: status exited 3\n";
        assert!(matches!(believed(ok, 3), Some(Report { status: Some(Status::Exited(3)), .. })));
        let killed = "aecl-sandbox: started\naecl-sandbox: status killed 9\n";
        assert!(matches!(
            believed(killed, 137),
            Some(Report { status: Some(Status::Killed(9)), .. })
        ));
        let refused = "aecl-sandbox: cannot execute `x`: EACCES\naecl-sandbox: status exited 126\n";
        assert!(matches!(believed(refused, 126), Some(Report { refused: true, .. })));
        // Killed on the host before the init could say: started, no status.
        assert!(matches!(
            believed("aecl-sandbox: started\n", 1),
            Some(Report { status: None, .. })
        ));
        let padding = "x".repeat(MAX_REPORT_BYTES);
        let forged = [
            // A forged status before the init's: two statuses.
            (
                "aecl-sandbox: status exited 0\naecl-sandbox: started\naecl-sandbox: status exited 3\n",
                3,
            ),
            // A forged status, then the init killed (runsc's 137 is no `exited 0`).
            ("aecl-sandbox: started\naecl-sandbox: status exited 0\n", 137),
            // A status the init never wrote, matching runsc: the init's own follows it.
            (
                "aecl-sandbox: started\naecl-sandbox: status killed 9\naecl-sandbox: status exited 0\n",
                0,
            ),
            // A forged refusal beside the init's start.
            (
                "aecl-sandbox: started\naecl-sandbox: cannot execute `x`\naecl-sandbox: status exited 126\n",
                126,
            ),
            // A line the init does not write; the init's line pushed past what is read.
            ("hello\naecl-sandbox: started\naecl-sandbox: status exited 0\n", 0),
            (&format!("aecl-sandbox: status exited 0\n{padding}"), 0),
        ];
        for (text, code) in forged {
            assert!(believed(text, code).is_none(), "{}", &text[..text.len().min(120)]);
        }
    }
}
