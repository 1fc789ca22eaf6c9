//! The `microvm` tier: the command runs in a small virtual machine with its own kernel
//! and no network device.
//!
//! QEMU boots the configured kernel and initramfs ([`build_image`]) on its `pc` machine
//! with one vCPU, the request's memory limit plus room for the guest's kernel, no disk and
//! no network device. The guest's first serial port is its console, which QEMU writes to
//! its own stderr (kept, for the reason of a failed boot); the second carries the
//! [`protocol`]: the command, its arguments, environment and stdin in, its stdout, stderr
//! and exit status out. QEMU runs under its own seccomp filter (`-sandbox on`) and, when
//! the launcher is root, as a fresh unprivileged uid.
//!
//! The accelerator is KVM. QEMU's software emulation (TCG) exists for tests on hosts
//! without KVM and must be asked for explicitly ([`Accel::TcgEmulated`]); it is reported
//! as emulated, never as isolation evidence. The start-up probe boots a tiny guest that
//! runs `true`: the tier is available only if that works.
//!
//! The deadlines count from the hand-over of the request to the booted guest (as the
//! process tier counts from the command's arrival in a built sandbox); booting has its own
//! bound. When one passes, QEMU is killed, and the whole guest with it.

mod image;
mod protocol;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout, Command};

pub use image::{INITRD_FILE, KERNEL_FILE, build_image};

use crate::error::SandboxError;
use crate::launch::{Execution, Request};
use crate::spec::{Layers, Outcome};
use crate::tier::{Tier, TierConfig, TierStatus};

/// The directory made by `aecl sandbox microvm-image` ([`KERNEL_FILE`] and
/// [`INITRD_FILE`]), read by [`MicrovmConfig::from_env`].
pub const IMAGE_ENV: &str = "AECL_MICROVM_IMAGE";
/// The QEMU executable, when not `qemu-system-x86_64` in `PATH`.
pub const QEMU_ENV: &str = "AECL_MICROVM_QEMU";

const QEMU: &str = "qemu-system-x86_64";

/// Memory for the guest's kernel and init on top of the command's limit.
const GUEST_OVERHEAD_MIB: u64 = 96;

/// How long the guest may take to boot under KVM before the tier counts as broken.
pub const DEFAULT_BOOT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes kept of QEMU's stderr (the guest's console and QEMU's own messages).
const CONSOLE_TAIL: usize = 16 * 1024;

/// The most bytes the guest may write on its port before saying it is ready.
const BEFORE_READY: usize = 64 * 1024;

/// Where QEMU's uid is drawn from when the launcher is root: far above any real user's,
/// and apart from the process tier's range, so that an emulator never shares a uid with
/// a process sandbox.
const UID_BASE: u32 = 0x7100_0000;
const UID_SPAN: u32 = 1 << 24;

/// How the guest's CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accel {
    /// Hardware virtualisation: the only accelerator used outside tests.
    #[default]
    Kvm,
    /// QEMU's software emulation (TCG), for testing the guest protocol on hosts without
    /// KVM. Reported as emulated; never evidence of the tier's isolation.
    TcgEmulated,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::TcgEmulated => "tcg-emulated",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "KVM",
            Accel::TcgEmulated => "emulated (TCG)",
        }
    }
}

/// The guest's kernel and initramfs, and the emulator that boots them.
#[derive(Debug, Clone)]
pub struct MicrovmConfig {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// `None`: `qemu-system-x86_64` in `PATH`.
    pub qemu: Option<PathBuf>,
    pub accel: Accel,
    /// From QEMU's start to the guest's readiness for the request.
    pub boot_timeout: Duration,
}

impl MicrovmConfig {
    /// The image's two files under KVM, with the default boot timeout.
    pub fn new(kernel: PathBuf, initrd: PathBuf) -> MicrovmConfig {
        MicrovmConfig {
            kernel,
            initrd,
            qemu: None,
            accel: Accel::Kvm,
            boot_timeout: DEFAULT_BOOT_TIMEOUT,
        }
    }

    /// The image in the directory named by `AECL_MICROVM_IMAGE` (and QEMU from
    /// `AECL_MICROVM_QEMU`, if set); `None` without it. Always KVM: emulation is never
    /// chosen from the environment.
    pub fn from_env() -> Option<MicrovmConfig> {
        let dir = PathBuf::from(std::env::var_os(IMAGE_ENV)?);
        let mut config = MicrovmConfig::new(dir.join(KERNEL_FILE), dir.join(INITRD_FILE));
        config.qemu = std::env::var_os(QEMU_ENV).map(PathBuf::from);
        Some(config)
    }

    /// QEMU's path once the image's files, QEMU and (for KVM) `/dev/kvm` are there; else
    /// what is missing.
    fn prerequisites(&self) -> Result<PathBuf, String> {
        for (what, path) in [("kernel", &self.kernel), ("initramfs", &self.initrd)] {
            if !path.is_file() {
                return Err(format!(
                    "the guest's {what} `{}` is not there (build the image with `aecl sandbox \
                     microvm-image`)",
                    path.display()
                ));
            }
        }
        let qemu = match &self.qemu {
            Some(path) if path.is_file() => path.clone(),
            Some(path) => return Err(format!("QEMU `{}` is not there", path.display())),
            None => in_path(QEMU)
                .ok_or_else(|| format!("`{QEMU}` not found in PATH (Debian: `qemu-system-x86`)"))?,
        };
        if self.accel == Accel::Kvm {
            match std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err("no /dev/kvm: this host offers no KVM".to_owned());
                }
                Err(e) => return Err(format!("/dev/kvm cannot be opened: {e}")),
            }
        }
        Ok(qemu)
    }
}

/// Parses `bytes` as a guest's whole answer for `output_cap` and returns the bytes of
/// stdout and stderr kept, or why it is not an answer. For the fuzz target: the host's
/// parser of what a guest that ran untrusted code writes.
#[doc(hidden)]
pub fn parse_guest_answer(bytes: &[u8], output_cap: usize) -> Result<(Vec<u8>, Vec<u8>), String> {
    protocol::parse_answer(bytes, output_cap)
        .map(|answer| (answer.stdout, answer.stderr))
        .map_err(|e| e.to_string())
}

/// Whether a tiny guest boots and runs `true` on this host.
pub(crate) async fn probe(config: &TierConfig) -> TierStatus {
    let (available, detail) = match check(config).await {
        Ok(detail) => (true, detail),
        Err(why) => (false, why),
    };
    TierStatus { tier: Tier::Microvm, available, detail }
}

async fn check(config: &TierConfig) -> Result<String, String> {
    let vm = config.microvm.as_ref().ok_or_else(|| {
        format!(
            "no guest image configured: build one with `aecl sandbox microvm-image` and set \
             {IMAGE_ENV} to its directory"
        )
    })?;
    let qemu = vm.prerequisites()?;
    let request = Request {
        argv: vec!["true".to_owned()],
        env: vec![("PATH".to_owned(), "/bin".to_owned())],
        output_cap: 4096,
        tier: Tier::Microvm,
        ..Request::default()
    };
    let done = boot(vm, &qemu, &request).await.map_err(|e| e.to_string())?;
    match done.outcome {
        Outcome::Exited { code: 0 } => Ok(done.layers.runtime.unwrap_or_default()),
        Outcome::Setup { error } => Err(error),
        other => Err(format!("the {} guest did not run `true`: {other:?}", vm.accel.name())),
    }
}

pub(crate) async fn run(
    config: &TierConfig,
    _status: &TierStatus,
    request: Request,
) -> Result<Execution, SandboxError> {
    let unavailable = |why: String| SandboxError::TierUnavailable { tier: Tier::Microvm, why };
    let vm = config.microvm.as_ref().ok_or_else(|| unavailable("no guest image".to_owned()))?;
    let qemu = vm.prerequisites().map_err(unavailable)?;
    if let Err(why) = supported(&request) {
        return Ok(execution(Outcome::Setup { error: why }, layers(vm, None, &request), 0));
    }
    boot(vm, &qemu, &request).await
}

/// What the guest cannot give a request: it shares no directory with the host and has
/// no network at all, so binds and allowed hosts are refused rather than silently absent.
fn supported(request: &Request) -> Result<(), String> {
    if let Some(bind) = request.binds.first() {
        return Err(format!(
            "the microvm tier shares no host directory with the guest (bind `{}`)",
            bind.path.display()
        ));
    }
    if !request.allow_hosts.is_empty() {
        return Err("the microvm tier has no network device: no host can be allowed".to_owned());
    }
    protocol::check_request(&request.argv, &request.env)
}

/// Boots a guest, hands it the request and reads its answer, within the boot timeout and
/// the request's deadlines.
async fn boot(
    vm: &MicrovmConfig,
    qemu: &Path,
    request: &Request,
) -> Result<Execution, SandboxError> {
    let identity = qemu_identity()?;
    let layers = layers(vm, identity, request);
    let mut child = Command::new(qemu)
        .args(qemu_args(vm, request.limits.memory_bytes, identity))
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SandboxError::Io(format!("starting `{}`", qemu.display()), e))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(SandboxError::Helper("QEMU's pipes are missing".to_owned()));
    };
    let console = tokio::spawn(keep_tail(stderr));
    let mut port = GuestPort { stdout, received: Vec::new() };

    let booted = tokio::time::timeout(vm.boot_timeout, port.ready(vm.accel)).await;
    if let Some(why) = match booted {
        Ok(Ok(())) => None,
        Ok(Err(why)) => Some(why),
        Err(_) => Some(format!(
            "the {} guest did not boot within {} s",
            vm.accel.name(),
            vm.boot_timeout.as_secs_f64()
        )),
    } {
        stop(&mut child).await;
        let console = console.await.unwrap_or_default();
        let error = format!("{why}: {}", last_line(&console));
        return Ok(execution(Outcome::Setup { error }, layers, 0));
    }

    let message = protocol::encode_request(
        &request.argv,
        &request.env,
        &request.stdin,
        request.output_cap,
        &request.limits,
    );
    let started = Instant::now();
    // The guest reads at the serial port's pace: fed beside the wait for its answer. The
    // pipe is kept open until the end (the task returns it).
    let feed = tokio::spawn(async move {
        let _ = stdin.write_all(&message).await;
        let _ = stdin.flush().await;
        stdin
    });
    let (limit, limit_ms) = request.deadlines.binding();
    let max = protocol::max_answer_len(request.output_cap);
    let answered = tokio::time::timeout(Duration::from_millis(limit_ms), port.answer(max)).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    stop(&mut child).await;
    feed.abort();
    let answer = match answered {
        Err(_) => {
            let outcome = Outcome::TimedOut { limit, after_ms: elapsed_ms };
            return Ok(execution(outcome, layers, elapsed_ms));
        }
        Ok(Err(why)) => {
            let console = console.await.unwrap_or_default();
            let error = format!("{why}: {}", last_line(&console));
            return Ok(execution(Outcome::Setup { error }, layers, elapsed_ms));
        }
        Ok(Ok(bytes)) => protocol::parse_answer(&bytes, request.output_cap),
    };
    match answer {
        Ok(answer) => Ok(Execution {
            outcome: Outcome::Exited { code: answer.code },
            stdout_dropped: answer.stdout_total.saturating_sub(answer.stdout.len() as u64),
            stderr_dropped: answer.stderr_total.saturating_sub(answer.stderr.len() as u64),
            stdout: answer.stdout,
            stderr: answer.stderr,
            ..execution(Outcome::Exited { code: answer.code }, layers, elapsed_ms)
        }),
        Err(e) => Ok(execution(Outcome::Setup { error: e.to_string() }, layers, elapsed_ms)),
    }
}

/// QEMU's command line: no defaults, no network, no reboot (the guest's reset ends QEMU),
/// the console on QEMU's stderr and the protocol's port on its stdin and stdout.
pub(crate) fn qemu_args(
    vm: &MicrovmConfig,
    memory_bytes: u64,
    identity: Option<(u32, u32)>,
) -> Vec<String> {
    let memory_mib = memory_bytes.div_ceil(1 << 20).saturating_add(GUEST_OVERHEAD_MIB);
    let (accel, cpu) = match vm.accel {
        Accel::Kvm => ("kvm", "host"),
        Accel::TcgEmulated => ("tcg", "max"),
    };
    // Without root there is no uid to drop to; with it, QEMU must be allowed the set*id
    // calls of `-run-with user=`, made once before the guest starts.
    let elevate = if identity.is_some() { "allow" } else { "deny" };
    let mut args: Vec<String> = [
        "-nodefaults",
        "-no-user-config",
        "-no-reboot",
        "-display",
        "none",
        "-nic",
        "none",
        // `pc` rather than `microvm`: the latter's missing PIT and HPET leave a guest
        // under TCG unable to calibrate its clock, and it hangs at random.
        "-machine",
        "pc",
        "-accel",
        accel,
        "-cpu",
        cpu,
        "-smp",
        "1",
        "-m",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    args.push(format!("{memory_mib}M"));
    args.push("-sandbox".to_owned());
    args.push(format!(
        "on,obsolete=deny,elevateprivileges={elevate},spawn=deny,resourcecontrol=deny"
    ));
    if let Some((uid, gid)) = identity {
        args.push("-run-with".to_owned());
        args.push(format!("user={uid}:{gid}"));
    }
    args.extend(["-kernel".to_owned(), vm.kernel.display().to_string()]);
    args.extend(["-initrd".to_owned(), vm.initrd.display().to_string()]);
    args.extend(["-append".to_owned(), "console=ttyS0 reboot=t panic=-1 quiet".to_owned()]);
    for arg in [
        "-chardev",
        "file,id=console,path=/dev/fd/2",
        "-serial",
        "chardev:console",
        "-chardev",
        "stdio,id=aecl,signal=off",
        "-serial",
        "chardev:aecl",
    ] {
        args.push(arg.to_owned());
    }
    args
}

/// A fresh uid and gid for QEMU when the launcher is root; `None` otherwise (QEMU runs as
/// the launcher's own user).
fn qemu_identity() -> Result<Option<(u32, u32)>, SandboxError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| SandboxError::Helper(format!("randomness: {e}")))?;
    let id = UID_BASE + u32::from_le_bytes(bytes) % UID_SPAN;
    Ok(Some((id, id)))
}

/// What isolated the command, for the audit record.
fn layers(vm: &MicrovmConfig, identity: Option<(u32, u32)>, request: &Request) -> Layers {
    let kernel = vm.kernel.file_name().map(|n| n.to_string_lossy().into_owned());
    let memory_mib = request.limits.memory_bytes.div_ceil(1 << 20) + GUEST_OVERHEAD_MIB;
    let mut runtime = format!(
        "qemu pc machine, accel {}, kernel {}, {memory_mib} MiB, 1 vCPU, no network device, \
         no shared directory, qemu under its seccomp sandbox",
        vm.accel.as_str(),
        kernel.as_deref().unwrap_or("?"),
    );
    if vm.accel == Accel::TcgEmulated {
        runtime.push_str("; software emulation for tests, not isolation evidence");
    }
    let host_uid = identity.map_or_else(|| nix::unistd::geteuid().as_raw(), |(uid, _)| uid);
    Layers {
        mode: "microvm".to_owned(),
        runtime: Some(runtime),
        env_allowlist: true,
        rlimits: true,
        host_uid,
        ..Layers::default()
    }
}

fn execution(outcome: Outcome, layers: Layers, elapsed_ms: u64) -> Execution {
    Execution {
        outcome,
        layers,
        stdout: Vec::new(),
        stderr: Vec::new(),
        stdout_dropped: 0,
        stderr_dropped: 0,
        egress: Vec::new(),
        elapsed_ms,
        limits_reached: Vec::new(),
        tier: Tier::Microvm,
    }
}

/// The protocol's serial port, as QEMU's stdout.
struct GuestPort {
    stdout: ChildStdout,
    received: Vec<u8>,
}

impl GuestPort {
    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 16 * 1024];
        match self.stdout.read(&mut chunk).await {
            Ok(0) => Err("QEMU ended without an answer from the guest".to_owned()),
            Ok(n) => {
                self.received.extend_from_slice(chunk.get(..n).unwrap_or_default());
                Ok(())
            }
            Err(e) => Err(format!("reading the guest's port: {e}")),
        }
    }

    /// Until the guest's `AECL-READY`; what came before it is dropped.
    async fn ready(&mut self, accel: Accel) -> Result<(), String> {
        let ready = protocol::READY;
        loop {
            if let Some(at) = self.received.windows(ready.len()).position(|w| w == ready) {
                self.received.drain(..at + ready.len());
                return Ok(());
            }
            if self.received.len() > BEFORE_READY {
                return Err(format!(
                    "more than {BEFORE_READY} bytes on the guest's port before it was ready"
                ));
            }
            self.fill()
                .await
                .map_err(|_| format!("QEMU ended before the {} guest was ready", accel.name()))?;
        }
    }

    /// Until a whole answer, at most `max` bytes.
    async fn answer(&mut self, max: usize) -> Result<Vec<u8>, String> {
        loop {
            if protocol::answer_complete(&self.received) {
                return Ok(std::mem::take(&mut self.received));
            }
            if self.received.len() > max {
                return Err(format!("the guest's answer is longer than {max} bytes"));
            }
            self.fill().await?;
        }
    }
}

async fn stop(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// The longest a run takes past its boot and its binding deadline: QEMU killed and
/// reaped, its console read to its end.
pub(crate) const TEARDOWN: Duration = Duration::from_secs(5);

/// The last `CONSOLE_TAIL` bytes of a stream, read to its end.
async fn keep_tail<R: AsyncRead + Unpin>(mut from: R) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n @ 1..) = from.read(&mut chunk).await {
        kept.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if kept.len() > CONSOLE_TAIL {
            kept.drain(..kept.len() - CONSOLE_TAIL);
        }
    }
    kept
}

/// The last non-empty line of the guest's console and QEMU's messages, for a reason.
pub(crate) fn last_line(console: &[u8]) -> String {
    console
        .split(|b| *b == b'\n')
        .map(|line| line.trim_ascii())
        .rfind(|line| !line.is_empty())
        .map_or_else(
            || "nothing on its console or from QEMU".to_owned(),
            |line| format!("QEMU's last output: {}", protocol::printable(line)),
        )
}

fn in_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|path| path.is_file())
}
