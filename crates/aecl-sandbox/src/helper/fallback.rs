//! The fallback tier, for hosts without user namespaces (or when asked for): the command
//! runs in a new session on the host's file system, as an unprivileged user when the
//! launcher is root, under Landlock (files, TCP ports, abstract Unix sockets, signals),
//! seccomp, rlimits and the cgroup when one could be made, with its work dir a tmpfs of
//! the work size in a mount namespace of its own (root launchers only). It refuses to run
//! when the kernel enforces no Landlock at all: never unsandboxed; and, like the
//! namespace tier, when a limit cannot be enforced and `best_effort` was not chosen.

use std::os::fd::AsRawFd;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Gid, Pid, Uid, fork, setresgid, setresuid, setsid};

use super::cgroup::Cgroup;
use super::handoff::{Ready, StatusReader, forward_command, receive_command};
use super::status::{Message, StatusWriter};
use super::{Clock, Waited, enforce, lsm, restrict, seccomp, setup, wait_with_deadline};
use crate::spec::{Command, EGRESS_PORT, Layers, Outcome, Spec};
use nix::mount::{MsFlags, mount};

pub(crate) fn run(spec: &Spec, cgroup: &Cgroup, layers: &mut Layers, clock: &mut Clock) -> Outcome {
    let outcome = run_child(spec, cgroup, layers, clock);
    let _ = std::fs::remove_dir_all(&spec.fallback_work_dir);
    cgroup.explain(outcome)
}

fn run_child(spec: &Spec, cgroup: &Cgroup, layers: &mut Layers, clock: &mut Clock) -> Outcome {
    let pipes = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .and_then(|status| Ok((status, nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)));
    let ((status_read, status_write), (command_read, command_write)) = match pipes {
        Ok(pipes) => pipes,
        Err(e) => return setup(format!("pipe: {e}")),
    };
    if let Err(e) = std::fs::create_dir_all(&spec.fallback_work_dir) {
        return setup(format!("creating the work dir: {e}"));
    }
    if nix::unistd::geteuid().is_root() {
        let owner = (Some(Uid::from_raw(spec.host_uid)), Some(Gid::from_raw(spec.host_gid)));
        if let Err(e) = nix::unistd::chown(&spec.fallback_work_dir, owner.0, owner.1) {
            return setup(format!("giving the work dir to the sandbox's user: {e}"));
        }
    }
    if let Err(e) = cgroup.enter_self() {
        return setup(format!("joining the cgroup: {e}"));
    }
    let (status_raw, command_raw) = (status_write.as_raw_fd(), command_read.as_raw_fd());
    // SAFETY: the helper is single-threaded, so the child of `fork` may run any code.
    let forked = unsafe { fork() };
    let child = match forked {
        Ok(ForkResult::Child) => {
            drop((status_read, command_write));
            super::handoff::forget_ready();
            let status = StatusWriter::from_inherited(status_raw);
            let code = child(spec, status, command_raw, cgroup.missing());
            // SAFETY: ends the forked child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            let _ = cgroup.leave_self();
            return setup(format!("fork: {e}"));
        }
    };
    let _ = cgroup.leave_self();
    drop((status_write, command_read));
    let mut status = StatusReader::new(status_read);
    let stop = |child: Pid| {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
    };
    match status.ready() {
        Ready::Layers(reported) => {
            *layers = Layers { host_uid: spec.host_uid, cgroup: layers.cgroup.clone(), ..reported };
        }
        Ready::NamespaceFailed(reason) => {
            stop(child);
            return setup(reason);
        }
        Ready::Failed(outcome) => {
            stop(child);
            return outcome;
        }
    }
    let command = match forward_command(command_write, clock) {
        Ok(command) => command,
        Err(outcome) => {
            stop(child);
            return outcome;
        }
    };
    let waited = wait_with_deadline(child, &command.deadlines, clock.start());
    // The command's session: anything it started that is still running (the cgroup, when
    // there is one, catches those that left the session too).
    let _ = kill(Pid::from_raw(-child.as_raw()), Signal::SIGKILL);
    match waited {
        Waited::TimedOut(limit, after_ms) => Outcome::TimedOut { limit, after_ms },
        Waited::Exited(exit) => status.outcome().unwrap_or_else(|| exit_status(child, exit)),
        Waited::Reported(outcome) => outcome,
    }
}

/// The proxy variables point at the host's loopback port in the fallback (there is no
/// forwarder without a network namespace).
fn with_fallback_proxy(spec: &Spec, command: &Command) -> Command {
    let mut command = command.clone();
    if let Some(egress) = &spec.egress {
        let from = format!("127.0.0.1:{EGRESS_PORT}");
        let to = format!("127.0.0.1:{}", egress.tcp_port);
        for (_, value) in &mut command.env {
            *value = value.replace(&from, &to);
        }
    }
    command
}

/// Mounts a tmpfs of the work size on the work dir, in a new mount namespace.
fn work_tmpfs(spec: &Spec, root: bool) -> Result<(), String> {
    if !root {
        return Err("an unprivileged launcher without user namespaces cannot mount a tmpfs \
                    for the work dir"
            .to_owned());
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("no mount namespace for the work dir: {e}"))?;
    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
        .map_err(|e| format!("making mounts private: {e}"))?;
    let options = format!(
        "mode=0700,uid={},gid={},{}",
        spec.host_uid,
        spec.host_gid,
        enforce::tmpfs_options(&spec.limits)
    );
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    super::mounts::tmpfs(&spec.fallback_work_dir, &options, flags)
}

/// How the command (the forked child, after its exec) ended.
fn exit_status(child: Pid, status: Option<WaitStatus>) -> Outcome {
    match status {
        Some(WaitStatus::Exited(_, code)) => Outcome::Exited { code },
        Some(WaitStatus::Signaled(_, signal, _)) => restrict::signalled(signal),
        _ => setup(format!("the sandboxed process {child} could not be waited for")),
    }
}

/// In the forked child: become the sandbox's user, restrict, wait for the command and
/// execute it.
fn child(
    spec: &Spec,
    mut status: StatusWriter,
    command: std::os::fd::RawFd,
    cgroup_missing: Option<&str>,
) -> i32 {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let fail = |status: &mut StatusWriter, error: String| {
        status.send(&Message::Outcome(Outcome::Setup { error }));
        125
    };
    if let Err(e) = setsid() {
        return fail(&mut status, format!("setsid: {e}"));
    }
    let root = nix::unistd::geteuid().is_root();
    let mut findings = enforce::Findings::default();
    // The work dir is a tmpfs bounding bytes and files, in a mount namespace of this
    // process's own (so nothing is left mounted on the host): only root can make one
    // without a user namespace.
    match work_tmpfs(spec, root) {
        Ok(()) => findings.work_dir(&spec.limits, &spec.fallback_work_dir),
        Err(why) => findings.work_dir_missing(&spec.limits, &why),
    }
    if root {
        // While still privileged: nothing executed later may regain a capability.
        if let Err(e) = caps::clear(None, caps::CapSet::Bounding) {
            return fail(&mut status, format!("clearing the bounding capabilities: {e}"));
        }
        let (uid, gid) = (Uid::from_raw(spec.host_uid), Gid::from_raw(spec.host_gid));
        if let Err(e) = setresgid(gid, gid, gid).and_then(|()| setresuid(uid, uid, uid)) {
            return fail(&mut status, format!("becoming the sandbox's user: {e}"));
        }
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    let mut layers = Layers {
        mode: "landlock-fallback".to_owned(),
        host_uid: spec.host_uid,
        env_allowlist: true,
        egress_proxy: spec.egress.is_some(),
        ..Layers::default()
    };
    // A fresh host uid (root launcher) makes `RLIMIT_NPROC` the sandbox's own.
    let nproc = enforce::NprocScope { own_user_namespace: false }.check(spec);
    findings.tree_limits(&spec.limits, cgroup_missing, &nproc);
    match findings.verdict(spec.enforcement) {
        Ok(unenforced) => layers.limits_unenforced = unenforced,
        Err(refusal) => return fail(&mut status, refusal),
    }
    // With a cgroup, its `pids` controller is the bound (and counts the refused forks).
    let nproc_limit = nproc.is_ok() && cgroup_missing.is_some();
    if let Err(e) = restrict::rlimits(spec, nproc_limit, cgroup_missing.is_some()) {
        return fail(&mut status, e);
    }
    layers.rlimits = true;
    if let Err(e) = restrict::drop_capabilities() {
        return fail(&mut status, e);
    }
    layers.capabilities_dropped = true;
    if let Err(e) = nix::sys::prctl::set_no_new_privs() {
        return fail(&mut status, format!("no_new_privs: {e}"));
    }
    layers.no_new_privs = true;
    let port = spec.egress.as_ref().map(|e| e.tcp_port);
    match lsm::restrict(&lsm::Paths::fallback(spec), port) {
        Ok((enforced, _)) if enforced == "not_enforced" => {
            return fail(
                &mut status,
                "the kernel enforces no Landlock rules and user namespaces \
                                      are not available: refusing to run unsandboxed"
                    .to_owned(),
            );
        }
        Ok((enforced, abi)) => {
            layers.landlock = enforced;
            layers.landlock_abi = abi;
        }
        Err(e) => return fail(&mut status, e),
    }
    if let Err(e) = seccomp::apply() {
        return fail(&mut status, e);
    }
    layers.seccomp = true;
    status.send(&Message::Layers(layers));
    let command = match receive_command(command) {
        Ok(command) => with_fallback_proxy(spec, &command),
        Err(error) => return fail(&mut status, error),
    };
    let workdir = spec.fallback_work_dir.display().to_string();
    restrict::exec_here(&command, &mut status, &workdir)
}
