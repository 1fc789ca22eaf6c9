//! Inside a `gvisor` container, the helper executable (bound in read-only) starts what
//! runsc cannot, then becomes the command: the command is the container's first process,
//! and its end ends the container.
//!
//! - `--forward`: with allowed hosts, it listens on the container's loopback for the
//!   command's proxy connections (`HTTP_PROXY`) and carries each over the egress proxy's
//!   socket, also bound in (runsc runs with `--host-uds=open`, so only sockets bound in
//!   can be opened).
//! - `--unset-home`: runsc adds `HOME` to an environment without one; the command gets
//!   exactly the environment it was given.
//! - `--seccomp`: the process tier's seccomp filter (`seccomp::apply`), applied last, so
//!   that the command runs under exactly the filter it gets in the process tier. runsc's
//!   own `--oci-seccomp` profile cannot hold all of it: it answers every refusal `EPERM`,
//!   and `clone3` must fail with `ENOSYS` for libc to fall back to `clone`, whose
//!   namespace flags the filter can read.
//! - `--report-fd N`: the launcher's pipe (runsc's `--pass-fd`). It is made close-on-exec
//!   at once, so the command never holds it: a refusal to execute is written there, and
//!   the launcher reads a refusal only from it. The same line on stderr is the command's
//!   to write too, so stderr proves nothing.
//!
//! The helper stays the container's init: it starts the command as its child, passes on
//! the signals runsc forwards, and writes how the command ended to the report pipe
//! (`started`, or why it could not be executed; then `status exited N` or `status killed
//! N`). runsc's own status is the init's, which a sandbox killed from the host (its host
//! cgroup's memory limit, a stopped kernel) never sets: with no status line, the launcher
//! knows the command's end is unknown instead of passing runsc's status off as the
//! command's. The command can reopen the pipe through `/proc/1/fd` (gVisor's procfs heeds
//! no dumpable flag) and add lines, but not take the init's away: the launcher takes a
//! report with any line the init would not have written, or a status runsc's does not
//! match, as the command's end unknown (`gvisor::Report`).

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, execvpe, fork};

use super::forward;

/// `aecl-sandbox gvisor-init [--seccomp] [--forward] [--unset-home] [--report-fd N] --
/// COMMAND ARGS...`: the command's exit code, or 128 + the signal that killed it (127: no
/// such program, 126: it could not be started, as a shell says).
pub fn main(args: &[OsString]) -> i32 {
    let Some(split) = args.iter().position(|a| a == "--") else {
        return fail("expected `-- COMMAND`", 126);
    };
    let (options, command) = (&args[..split], &args[split + 1..]);
    // First, before anything may fail: the report pipe is this helper's alone.
    let report = report_fd(options);
    let ended = run(options, command, report.as_ref().map(AsRawFd::as_raw_fd));
    if let Some(report) = &report {
        let line = match ended {
            Ended::Exited(code) => format!("{STATUS}exited {code}"),
            Ended::Killed(signal) => format!("{STATUS}killed {signal}"),
        };
        write_report(report.as_raw_fd(), &line);
    }
    match ended {
        Ended::Exited(code) => code,
        Ended::Killed(signal) => 128 + signal,
    }
}

/// How the command ended.
#[derive(Debug, Clone, Copy)]
enum Ended {
    Exited(i32),
    Killed(i32),
}

/// Starts the command and waits for it.
fn run(options: &[OsString], command: &[OsString], report: Option<RawFd>) -> Ended {
    let forward = options.iter().any(|o| o == "--forward");
    let unset_home = options.iter().any(|o| o == "--unset-home");
    let argv: Vec<CString> =
        match command.iter().map(|a| CString::new(a.as_bytes())).collect::<Result<_, _>>() {
            Ok(argv) => argv,
            Err(_) => return Ended::Exited(fail("an argument holds a NUL byte", 126)),
        };
    let Some(program) = argv.first() else {
        return Ended::Exited(fail("no command after `--`", 126));
    };
    let env: Vec<CString> = std::env::vars_os()
        .filter(|(name, _)| !(unset_home && name == "HOME"))
        .filter_map(|(name, value)| {
            let mut pair = name.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(value.as_bytes());
            CString::new(pair).ok()
        })
        .collect();
    if forward {
        let listener = match forward::listen() {
            Ok(listener) => listener,
            Err(error) => return Ended::Exited(fail(&error, 126)),
        };
        // SAFETY: this process is single-threaded (the helper starts no thread before
        // this), so the child of `fork` may run any code.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                if let Some(report) = report {
                    let _ = nix::unistd::close(report);
                }
                forward::serve(listener)
            }
            Ok(ForkResult::Parent { .. }) => {}
            Err(e) => {
                return Ended::Exited(fail(&format!("starting the egress forwarder: {e}"), 126));
            }
        }
    }
    // Not dumpable: on a kernel that heeds it, its descriptors (the report pipe) are not
    // the command's to open.
    let _ = nix::sys::prctl::set_dumpable(false);
    // The child says over this pipe why it could not execute the command; closed on
    // exec, it reads empty once the command runs.
    let (exec_read, exec_write) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(pipe) => pipe,
        Err(e) => return Ended::Exited(fail(&format!("a pipe for the command: {e}"), 126)),
    };
    // SAFETY: still single-threaded (the forwarder runs in a process of its own).
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(exec_read);
            std::process::exit(become_command(options, program, &argv, &env, exec_write))
        }
        Ok(ForkResult::Parent { child }) => {
            drop(exec_write);
            let mut refused = String::new();
            let _ =
                std::io::Read::read_to_string(&mut std::fs::File::from(exec_read), &mut refused);
            // Only this process writes the report pipe's lines; the command may write
            // there too (gVisor's `/proc/1/fd` heeds no dumpable flag), and the launcher
            // takes any line it did not expect as the report being written by the command.
            if let Some(report) = report {
                let line = if refused.is_empty() { STARTED } else { refused.trim_end() };
                write_report(report, line);
            }
            wait_for(child)
        }
        Err(e) => Ended::Exited(fail(&format!("starting the command: {e}"), 126)),
    }
}

/// In the child: the seccomp filter, then the command; returns only on failure, having
/// written a refusal to `exec_failed` (closed on exec) for the init to report.
fn become_command(
    options: &[OsString],
    program: &CString,
    argv: &[CString],
    env: &[CString],
    exec_failed: OwnedFd,
) -> i32 {
    // After the forwarder's fork: the forwarder needs none of it, and is no command.
    // `no_new_privs` is the bundle's already; set again, as `seccomp::apply` needs it.
    if options.iter().any(|o| o == "--seccomp") {
        let applied = nix::sys::prctl::set_no_new_privs()
            .map_err(|e| format!("no_new_privs: {e}"))
            .and_then(|()| super::seccomp::apply());
        if let Err(error) = applied {
            return fail(&error, 126);
        }
    }
    let error = execvpe(program, argv, env).err();
    let name = program.to_string_lossy();
    match error {
        // As a shell says it.
        Some(nix::errno::Errno::ENOENT) => fail(&format!("`{name}`: command not found"), 127),
        // The launcher reads this line on the report pipe, which the command never held,
        // as the sandbox's refusal (`Outcome::Denied`).
        Some(e) => {
            let line = format!("{REFUSED} `{name}`: {e}");
            let _ = std::fs::File::from(exec_failed).write_all(line.as_bytes());
            fail(&line, 126)
        }
        None => fail(&format!("`{name}`: exec returned"), 126),
    }
}

/// The signals runsc passes on to the container's init: the command's to receive.
const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// The command's pid, for the signal handler.
static COMMAND: AtomicI32 = AtomicI32::new(0);

extern "C" fn pass_on(signal: libc::c_int) {
    let pid = COMMAND.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: `kill` is async-signal-safe and touches no memory of this process.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Passes the forwarded signals on to `child` and reaps every process until `child` ends
/// (the init of a pid namespace inherits its orphans).
fn wait_for(child: Pid) -> Ended {
    COMMAND.store(child.as_raw(), Ordering::Relaxed);
    let action = SigAction::new(SigHandler::Handler(pass_on), SaFlags::SA_RESTART, SigSet::empty());
    for signal in FORWARDED {
        // SAFETY: the handler only loads an atomic and calls `kill`.
        let _ = unsafe { sigaction(signal, &action) };
    }
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => return Ended::Exited(code),
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == child => {
                return Ended::Killed(signal as i32);
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Ended::Exited(fail(&format!("waiting for the command: {e}"), 126)),
        }
    }
}

/// Writes `line` to the report pipe `report`, after `aecl-sandbox: `.
fn write_report(report: RawFd, line: &str) {
    // SAFETY: the report pipe stays open in this process until it exits.
    let report = unsafe { std::os::fd::BorrowedFd::borrow_raw(report) };
    let _ = nix::unistd::write(report, format!("aecl-sandbox: {line}\n").as_bytes());
}

/// The line the init writes once the command's program was executed (or not found: then
/// the status says 127, as a shell does).
pub const STARTED: &str = "started";

/// How the helper's status line starts, after `aecl-sandbox: `.
pub const STATUS: &str = "status ";

/// How the helper's line starts when a program may not be executed.
pub const REFUSED: &str = "cannot execute";

/// The report pipe `--report-fd N` names, made close-on-exec (`None`: no such option or
/// no such descriptor).
fn report_fd(options: &[OsString]) -> Option<OwnedFd> {
    let at = options.iter().position(|o| o == "--report-fd")?;
    let fd: RawFd = options.get(at + 1)?.to_str()?.parse().ok()?;
    if fd < 3 {
        return None;
    }
    let flags = nix::fcntl::FdFlag::FD_CLOEXEC;
    // SAFETY: `fcntl(F_SETFD)` on a descriptor number touches no memory; it fails with
    // `EBADF` when the number is not open, and then nothing takes ownership of it.
    let set = unsafe { libc::fcntl(fd, libc::F_SETFD, flags.bits()) };
    if set < 0 {
        return None;
    }
    // SAFETY: `fd` is open (the `fcntl` above succeeded) and this process was handed it
    // by runsc for this purpose alone: nothing else in it owns the descriptor.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fail(message: &str, code: i32) -> i32 {
    let _ = writeln!(std::io::stderr(), "aecl-sandbox: {message}");
    code
}
