//! Restrictions a process puts on itself before it becomes the command: rlimits and
//! capabilities; and the fork and exec of the command with exactly the spec's
//! environment.

use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability};
use nix::errno::Errno;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::Signal;
use nix::unistd::{AccessFlags, ForkResult, Pid, access, execve, fork};

use std::os::fd::RawFd;

use super::handoff::receive_command;
use super::status::{Message, StatusWriter};
use crate::spec::{Command, Outcome, Spec};

/// The search path when the spec's environment names none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Sets the rlimits of the spec. `per_user_processes` also caps `RLIMIT_NPROC`, which
/// counts every process of the host uid: only meaningful when that uid is the sandbox's
/// own (a root launcher picks a fresh one), so the caller says. `address_space` caps
/// `RLIMIT_AS` at the memory limit, for when no memory cgroup enforces it (per process,
/// so cruder: programs that reserve much more than they use fail under it).
pub(crate) fn rlimits(
    spec: &Spec,
    per_user_processes: bool,
    address_space: bool,
) -> Result<(), String> {
    let limits = &spec.limits;
    let set = |resource: Resource, value: u64, what: &str| {
        setrlimit(resource, value, value).map_err(|e| format!("setting the {what} limit: {e}"))
    };
    set(Resource::RLIMIT_CPU, limits.cpu_seconds, "CPU time")?;
    set(Resource::RLIMIT_FSIZE, limits.file_bytes, "file size")?;
    set(Resource::RLIMIT_NOFILE, limits.open_files, "open files")?;
    set(Resource::RLIMIT_CORE, 0, "core size")?;
    if per_user_processes {
        set(Resource::RLIMIT_NPROC, limits.pids, "process count")?;
    }
    if address_space {
        set(Resource::RLIMIT_AS, limits.memory_bytes, "address space")?;
    }
    Ok(())
}

/// Drops every capability: bounding set, ambient, inheritable, permitted and effective.
/// The command keeps no privilege even inside its own user namespace.
///
/// Clearing the bounding set needs `CAP_SETPCAP`; a process that no longer has it (the
/// fallback, after becoming the unprivileged user) keeps its bounding set, which with
/// `no_new_privs` set can grant nothing: no exec raises privileges any more.
pub(crate) fn drop_capabilities() -> Result<(), String> {
    if caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(false) {
        caps::clear(None, CapSet::Bounding)
            .map_err(|e| format!("clearing the bounding capabilities: {e}"))?;
    }
    for set in [CapSet::Ambient, CapSet::Inheritable] {
        caps::clear(None, set).map_err(|e| format!("clearing the {set:?} capabilities: {e}"))?;
    }
    // Effective before permitted: a capability cannot stay effective once not permitted.
    for set in [CapSet::Effective, CapSet::Permitted] {
        caps::clear(None, set).map_err(|e| format!("clearing the {set:?} capabilities: {e}"))?;
    }
    Ok(())
}

/// Forks the process that will become the command, ahead of the command: it waits for
/// the command on `command_pipe` (see [`receive_command`]), then changes to `workdir` and
/// executes it with exactly its environment; a refused exec is reported through `status`
/// before it exits. Forking before the command arrives keeps the fork off the call's path.
pub(crate) fn fork_command(
    command_pipe: RawFd,
    status: &mut StatusWriter,
    workdir: &str,
) -> Result<Pid, Outcome> {
    // SAFETY: the caller is the helper's single-threaded init, so the child of `fork` may
    // run any code before it executes the command.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => {
            // Only the child reads the command.
            let _ = nix::unistd::close(command_pipe);
            Ok(child)
        }
        Ok(ForkResult::Child) => {
            let code = match receive_command(command_pipe) {
                Ok(command) => exec_here(&command, status, workdir),
                Err(error) => {
                    status.send(&Message::Outcome(Outcome::Setup { error }));
                    125
                }
            };
            // SAFETY: `_exit` ends this forked child without running the parent's atexit
            // handlers or flushing its buffers a second time.
            unsafe { libc::_exit(code) }
        }
        Err(e) => Err(Outcome::Setup { error: format!("forking the command: {e}") }),
    }
}

/// Executes the command in this process (the fallback has no init to fork from). Only
/// returns on failure, with the exit code to use.
pub(crate) fn exec_here(command: &Command, status: &mut StatusWriter, workdir: &str) -> i32 {
    match Prepared::new(command) {
        Ok(prepared) => exec(&prepared, status, workdir),
        Err(outcome) => {
            status.send(&Message::Outcome(outcome));
            125
        }
    }
}

/// The command in the form `execve` takes, built before the fork.
struct Prepared {
    program: String,
    argv: Vec<CString>,
    env: Vec<CString>,
    path: String,
}

impl Prepared {
    fn new(spec: &Command) -> Result<Prepared, Outcome> {
        let nul = |what: &str| Outcome::Setup { error: format!("{what} contains a NUL byte") };
        let argv = spec
            .argv
            .iter()
            .map(|a| CString::new(a.as_bytes()).map_err(|_| nul("an argument")))
            .collect::<Result<Vec<_>, _>>()?;
        let env = spec
            .env
            .iter()
            .map(|(k, v)| {
                if k.is_empty() || k.contains('=') {
                    return Err(Outcome::Setup { error: format!("`{k}` is not a variable name") });
                }
                CString::new(format!("{k}={v}")).map_err(|_| nul("an environment value"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let path = spec
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or_else(|| DEFAULT_PATH.to_owned(), |(_, v)| v.clone());
        let program = spec.argv.first().cloned().unwrap_or_default();
        Ok(Prepared { program, argv, env, path })
    }
}

fn exec(prepared: &Prepared, status: &mut StatusWriter, workdir: &str) -> i32 {
    if let Err(e) = nix::unistd::chdir(workdir) {
        status.send(&Message::Outcome(Outcome::Setup {
            error: format!("entering the work dir `{workdir}`: {e}"),
        }));
        return 125;
    }
    let Some(resolved) = resolve(&prepared.program, &prepared.path) else {
        let _ =
            writeln!(std::io::stderr(), "aecl-sandbox: `{}`: command not found", prepared.program);
        return 127;
    };
    let Ok(resolved) = CString::new(resolved.as_os_str().as_encoded_bytes()) else {
        return 127;
    };
    let error = match execve(&resolved, &prepared.argv, &prepared.env) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    match error {
        Errno::EACCES | Errno::EPERM => {
            status.send(&Message::Outcome(Outcome::Denied {
                reason: format!("executing `{}` was refused: {error}", prepared.program),
            }));
            126
        }
        _ => {
            let _ = writeln!(std::io::stderr(), "aecl-sandbox: `{}`: {error}", prepared.program);
            127
        }
    }
}

/// `program` itself when it names a path, else the first executable match in `path`.
fn resolve(program: &str, path: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    if program.is_empty() {
        return None;
    }
    path.split(':').filter(|dir| !dir.is_empty()).map(|dir| Path::new(dir).join(program)).find(
        |candidate| candidate.is_file() && access(candidate.as_path(), AccessFlags::X_OK).is_ok(),
    )
}

/// How a command killed by `signal` ended. A `SIGSYS` is not called a seccomp denial: the
/// filter's kills (another architecture's or the x32 ABI's calls) and a `kill -SYS` the
/// command sent itself end the same way, and the wait status cannot tell them apart (the
/// seccomp `si_code` reaches only the killed process). A denial is claimed only where
/// aecl knows it refused (an exec it refused).
pub(crate) fn signalled(signal: Signal) -> Outcome {
    Outcome::Killed { signal: signal as i32, cause: None }
}
