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

use std::ffi::{CString, OsString};
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::unistd::{ForkResult, execvpe, fork};

use super::forward;

/// `aecl-sandbox gvisor-init [--seccomp] [--forward] [--unset-home] -- COMMAND ARGS...`: returns
/// only on failure (127: no such program, 126: it could not be started, as a shell says).
pub fn main(args: &[OsString]) -> i32 {
    let Some(split) = args.iter().position(|a| a == "--") else {
        return fail("expected `-- COMMAND`", 126);
    };
    let (options, command) = (&args[..split], &args[split + 1..]);
    // First, before anything may fail: the report pipe is this helper's alone.
    let report = report_fd(options);
    let forward = options.iter().any(|o| o == "--forward");
    let unset_home = options.iter().any(|o| o == "--unset-home");
    let argv: Vec<CString> =
        match command.iter().map(|a| CString::new(a.as_bytes())).collect::<Result<_, _>>() {
            Ok(argv) => argv,
            Err(_) => return fail("an argument holds a NUL byte", 126),
        };
    let Some(program) = argv.first() else { return fail("no command after `--`", 126) };
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
            Err(error) => return fail(&error, 126),
        };
        // SAFETY: this process is single-threaded (the helper starts no thread before
        // this), so the child of `fork` may run any code.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                drop(report);
                forward::serve(listener)
            }
            Ok(ForkResult::Parent { .. }) => {}
            Err(e) => return fail(&format!("starting the egress forwarder: {e}"), 126),
        }
    }
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
    let error = execvpe(program, &argv, &env).err();
    let name = program.to_string_lossy();
    match error {
        // As a shell says it.
        Some(nix::errno::Errno::ENOENT) => fail(&format!("`{name}`: command not found"), 127),
        // The launcher reads this line on the report pipe, which the command never held,
        // as the sandbox's refusal (`Outcome::Denied`).
        Some(e) => {
            let line = format!("{REFUSED} `{name}`: {e}");
            if let Some(report) = report {
                let _ = writeln!(std::fs::File::from(report), "aecl-sandbox: {line}");
            }
            fail(&line, 126)
        }
        None => fail(&format!("`{name}`: exec returned"), 126),
    }
}

/// How the helper's line starts when a program may not be executed.
pub const REFUSED: &str = "cannot execute";

/// The report pipe `--report-fd N` names, made close-on-exec (`None`: no such option or
/// no such descriptor).
fn report_fd(options: &[OsString]) -> Option<OwnedFd> {
    let at = options.iter().position(|o| o == "--report-fd")?;
    let fd: std::os::fd::RawFd = options.get(at + 1)?.to_str()?.parse().ok()?;
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
