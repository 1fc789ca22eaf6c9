//! The init of the sandbox: PID 1 of the new namespaces. It builds the sandbox around
//! itself, forks the command, reaps, reports how the command ended and exits; the kernel
//! then kills whatever the command left behind in the PID namespace.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Gid, Pid, Uid, fork, setresgid, setresuid};

use super::status::{Message, StatusWriter};
use super::{enforce, forward, lsm, mounts, restrict, seccomp};
use crate::spec::{Layers, Outcome, Spec};

/// Runs in the cloned child; the return value is its exit status.
/// The pipes the init inherits: the go signal and the command from the supervisor, its
/// reports to the supervisor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fds {
    pub(crate) go: RawFd,
    pub(crate) status: RawFd,
    pub(crate) command: RawFd,
    /// The supervisor's ends of the pipes, copied by the clone: closed at once, or the
    /// command pipe would never reach its end.
    pub(crate) supervisor_ends: [RawFd; 3],
}

/// `cgroup_missing`: why no cgroup holds the memory and process limits, when none does.
pub(crate) fn main(spec: &Spec, fds: Fds, cgroup_missing: Option<&str>) -> isize {
    for fd in fds.supervisor_ends {
        let _ = nix::unistd::close(fd);
    }
    super::handoff::forget_ready();
    let mut status = StatusWriter::from_inherited(fds.status);
    // Die with the supervisor, and wait for it to write the id maps.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    // SAFETY: `go` is the read end of the go pipe, inherited across the clone; nothing
    // else in this process owns it.
    let mut go = File::from(unsafe { OwnedFd::from_raw_fd(fds.go) });
    let mut byte = [0u8; 1];
    if !matches!(go.read(&mut byte), Ok(1)) {
        return 125;
    }
    drop(go);
    let mut layers = Layers {
        mode: "namespaces".to_owned(),
        namespaces: ["user", "pid", "mount", "net", "ipc", "uts", "cgroup"]
            .map(str::to_owned)
            .to_vec(),
        ..Layers::default()
    };
    let listener = match build(spec, &mut layers, cgroup_missing) {
        Ok(listener) => listener,
        Err(Failure::Namespace(reason)) => {
            status.send(&Message::NamespaceFailed(reason));
            return 125;
        }
        Err(Failure::Setup(error)) => {
            status.send(&Message::Outcome(Outcome::Setup { error }));
            return 125;
        }
    };
    if let Some(listener) = listener {
        // SAFETY: the init is single-threaded (it was cloned from the single-threaded
        // helper and starts no thread), so the child of `fork` may run any code.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => forward::serve(listener),
            Ok(ForkResult::Parent { .. }) => {}
            Err(e) => {
                status.send(&Message::Outcome(Outcome::Setup {
                    error: format!("starting the egress forwarder: {e}"),
                }));
                return 125;
            }
        }
    }
    // The process that becomes the command is forked now and waits for it; then say the
    // sandbox is built.
    let command = match restrict::fork_command(fds.command, &mut status, crate::spec::WORK_DIR) {
        Ok(pid) => pid,
        Err(outcome) => {
            status.send(&Message::Outcome(outcome));
            return 125;
        }
    };
    super::mark_ready(&mut status, layers);
    let outcome = reap(command);
    status.send(&Message::Outcome(outcome));
    0
}

enum Failure {
    /// The namespaces do not give us what they should (a kernel or LSM that lets
    /// unprivileged users create namespaces without the rights in them): fall back.
    Namespace(String),
    Setup(String),
}

/// Everything between the id maps and the fork of the command. Returns the forwarder's
/// listening socket when the command may reach the egress proxy.
fn build(
    spec: &Spec,
    layers: &mut Layers,
    cgroup_missing: Option<&str>,
) -> Result<Option<std::net::TcpListener>, Failure> {
    // The uid and gid maps are written: become the namespace's root, which is the
    // unprivileged host user outside.
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .map_err(|e| Failure::Namespace(format!("setresgid in the user namespace: {e}")))?;
    setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .map_err(|e| Failure::Namespace(format!("setresuid in the user namespace: {e}")))?;
    // Credential changes clear the parent-death signal: set it again.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    mounts::build_root(spec).map_err(|e| match e {
        mounts::MountError::Denied(reason) => Failure::Namespace(reason),
        mounts::MountError::Other(reason) => Failure::Setup(reason),
    })?;
    layers.readonly_root = true;
    // Every limit holds, or the run is refused here (or, best effort, the layers say
    // which do not).
    let nproc = enforce::NprocScope { own_user_namespace: true }.check(spec);
    let mut findings = enforce::Findings::default();
    findings.work_dir(&spec.limits, Path::new(crate::spec::WORK_DIR));
    findings.tree_limits(&spec.limits, cgroup_missing, &nproc);
    layers.limits_unenforced = findings.verdict(spec.enforcement).map_err(Failure::Setup)?;
    nix::unistd::sethostname("aecl-sandbox")
        .map_err(|e| Failure::Setup(format!("sethostname: {e}")))?;
    forward::loopback_up().map_err(|e| Failure::Setup(format!("bringing up loopback: {e}")))?;
    let listener = match &spec.egress {
        Some(_) => Some(forward::listen().map_err(Failure::Setup)?),
        None => None,
    };
    // With a cgroup, its `pids` controller is the bound (and counts the refused forks).
    let nproc_limit = nproc.is_ok() && cgroup_missing.is_some();
    restrict::rlimits(spec, nproc_limit, cgroup_missing.is_some()).map_err(Failure::Setup)?;
    layers.rlimits = true;
    restrict::drop_capabilities().map_err(Failure::Setup)?;
    layers.capabilities_dropped = true;
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| Failure::Setup(format!("no_new_privs: {e}")))?;
    layers.no_new_privs = true;
    let egress_port = spec.egress.as_ref().map(|_| crate::spec::EGRESS_PORT);
    let (landlock, abi) =
        lsm::restrict(&lsm::Paths::namespaces(spec), egress_port).map_err(Failure::Setup)?;
    layers.landlock = landlock;
    layers.landlock_abi = abi;
    seccomp::apply().map_err(Failure::Setup)?;
    layers.seccomp = true;
    layers.env_allowlist = true;
    layers.egress_proxy = spec.egress.is_some();
    Ok(listener)
}

/// Reaps children until the command is gone; says how it ended.
fn reap(command: Pid) -> Outcome {
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => {
                return Outcome::Exited { code };
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == command => {
                return restrict::signalled(signal);
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                return Outcome::Setup { error: format!("waiting for the command: {e}") };
            }
        }
    }
}
