//! The fallback tier, for hosts without user namespaces (or when asked for): the command
//! runs in a new session on the host's file system, as an unprivileged user when the
//! launcher is root, under Landlock (files, TCP ports, abstract Unix sockets, signals),
//! seccomp (with a network filter of the fallback's own: no socket but `socketpair`),
//! rlimits and the cgroup when one could be made, with its work dir a tmpfs of the work
//! size and a `/proc` that shows only its own processes, in a mount namespace of its own
//! (root launchers only). It refuses to run when the kernel enforces no Landlock at all:
//! never unsandboxed; when hosts are allowed (below); when Landlock cannot scope signals
//! under the launcher's own uid; and, like the namespace tier, when a limit cannot be
//! enforced and `best_effort` was not chosen.
//!
//! Without a network namespace nothing can confine egress to the proxy: Landlock's TCP
//! rules name a port on any address, so a command allowed the proxy's loopback port could
//! connect to any host on that port, and seccomp cannot read a `connect`'s address. So
//! a run that allows hosts is refused before anything starts, naming the remedy (user
//! namespaces, so that the sandbox gets a network namespace of its own); a run without
//! them opens no socket at all.
//!
//! Without a PID namespace the tree is kept by this process and a keeper between it and
//! the command, both child subreapers outside the command's Landlock domain: whatever the
//! command starts stays their descendant even after a `setsid` and a double fork, and
//! every descendant is killed before the report, or by the keeper when this process is
//! killed (`fallback/descendants.rs`). What of the host stays visible is named in the
//! layers (`exposed`).

mod descendants;

use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Gid, Pid, Uid, fork, setresgid, setresuid, setsid};

use super::cgroup::Cgroup;
use super::handoff::{Ready, StatusReader, forward_command, receive_command};
use super::status::{Message, StatusWriter};
use super::{Clock, Waited, enforce, lsm, restrict, seccomp, setup, wait_with_deadline};
use crate::spec::{Layers, Outcome, Spec};
use nix::mount::{MsFlags, mount};

/// How long the descendants get to be killed and reaped after the command's end: well
/// within the launcher's grace after a deadline. A process still there by then has a
/// pending `SIGKILL` and dies as its system call returns.
const KILL_WITHIN: Duration = Duration::from_secs(1);

/// The Landlock ABI that scopes signals (Linux 6.12): without it a command under the
/// launcher's own uid could kill its supervisor (and aecl), and what it started would
/// then outlive the run.
const LANDLOCK_ABI_SIGNALS: i32 = 6;

/// Why the fallback refuses a run that allows hosts (the `Setup` outcome, exit 125).
pub(crate) const EGRESS_REFUSAL: &str = "the Landlock fallback cannot confine egress to \
    the egress proxy (Landlock's TCP rules allow a port on every address, so the command \
    could connect to any host on the proxy's port): refusing to run with allowed hosts; \
    run where user namespaces are available, so that the sandbox gets a network namespace \
    of its own";

pub(crate) fn run(spec: &Spec, cgroup: &Cgroup, layers: &mut Layers, clock: &mut Clock) -> Outcome {
    // INVARIANT: every process started from here on stays a descendant of this process
    // (an orphan is re-parented here, not to the host's init), and none is left when the
    // report is written.
    // INVARIANT: the fallback never runs a command that allows hosts: nothing here could
    // keep it from connecting past the proxy.
    if spec.egress.is_some() {
        return cgroup.explain(setup(EGRESS_REFUSAL.to_owned()));
    }
    let outcome = match descendants::become_subreaper() {
        Ok(()) => run_child(spec, cgroup, layers, clock),
        Err(error) => setup(error),
    };
    // The cgroup kills the tree at once where it can; the rounds then only reap. Without
    // it a fork loop can outrun the rounds: what is left is said, never kept quiet.
    let at_once = cgroup.kill_tree();
    let left = descendants::kill_all(KILL_WITHIN);
    if let Some(survivors) = survivors(left, at_once) {
        layers.limits_unenforced.push(survivors);
    }
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
    let supervisor = nix::unistd::getpid();
    // The keeper, which forks the command's process and keeps its tree (see
    // `descendants.rs`); `child` below is the keeper.
    // SAFETY: the helper is single-threaded, so the child of `fork` may run any code.
    let forked = unsafe { fork() };
    let child = match forked {
        Ok(ForkResult::Child) => {
            drop((status_read, command_write));
            super::handoff::forget_ready();
            let ended = descendants::keep(supervisor, KILL_WITHIN, || {
                let status = StatusWriter::from_inherited(status_raw);
                child(spec, status, command_raw, cgroup.missing())
            });
            // The command's process ended: say how (after a refused exec's own word),
            // like the namespace tier's init. Its orphans go to the supervisor.
            let outcome = match ended {
                Ok((pid, ended)) => exit_status(pid, Some(ended)),
                Err(error) => Outcome::Setup { error },
            };
            StatusWriter::from_inherited(status_raw).send(&Message::Outcome(outcome));
            // SAFETY: ends the forked child without running the parent's exit handlers.
            unsafe { libc::_exit(0) }
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
    // Past a deadline the keeper is killed (its pending children then come here, to be
    // killed by `run`).
    let waited = wait_with_deadline(child, &command.deadlines, clock.start());
    match waited {
        Waited::TimedOut(limit, after_ms) => Outcome::TimedOut { limit, after_ms },
        Waited::Exited(exit) => status.outcome().unwrap_or_else(|| exit_status(child, exit)),
        Waited::Reported(outcome) => outcome,
    }
}

/// A mount namespace of this process's own, its mounts private, so that what is mounted
/// next is never seen on the host. Only root can make one without a user namespace.
fn own_mount_namespace(root: bool) -> Result<(), String> {
    if !root {
        return Err("an unprivileged launcher without user namespaces cannot mount a tmpfs \
                    for the work dir"
            .to_owned());
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("no mount namespace for the work dir: {e}"))?;
    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
        .map_err(|e| format!("making mounts private: {e}"))
}

/// A fresh `/proc` over the host's, with `hidepid=2`: the command (a fresh uid, under
/// Landlock's ptrace scoping) sees its own processes only.
fn private_proc() -> Result<(), String> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), flags, Some("hidepid=2"))
        .map_err(|e| format!("mounting a /proc of its own: {e}"))
}

/// Whether the host's `/proc` is mounted with `hidepid` 2 (`invisible`) or 4
/// (`ptraceable`): a process then sees only the processes it may trace, and Landlock
/// lets the command trace none outside its own domain (aecl's own included).
fn host_proc_hides_others() -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    mounts.lines().any(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else { return false };
        fields.get(4) == Some(&"/proc")
            && fields.get(dash + 1) == Some(&"proc")
            && fields.get(dash + 3).is_some_and(|options| {
                options.split(',').any(|o| {
                    matches!(
                        o,
                        "hidepid=2" | "hidepid=invisible" | "hidepid=4" | "hidepid=ptraceable"
                    )
                })
            })
    })
}

/// What of the host the command still sees or shares in the fallback, each with its
/// remedy where there is one (the layers' `exposed`).
fn exposures(proc_hidden: bool, own_uid: bool) -> Vec<String> {
    let mut exposed = Vec::new();
    if !proc_hidden {
        exposed.push(
            "host /proc: the command line of every host process is readable (mount the \
             host's /proc with hidepid=invisible, or run aecl as root)"
                .to_owned(),
        );
    }
    exposed.push(
        "host network namespace: /proc/net lists the host's interfaces and sockets (no \
         socket can be opened)"
            .to_owned(),
    );
    if !own_uid {
        exposed.push(
            "aecl's uid: the command runs as aecl's own host user and shares its per-user \
             kernel quotas (inotify, pending signals, message queues; run aecl as root for \
             a fresh uid per sandbox)"
                .to_owned(),
        );
    }
    exposed
}

/// Mounts a tmpfs of the work size on the work dir, in this process's mount namespace.
fn work_tmpfs(spec: &Spec) -> Result<(), String> {
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
    // The work dir is a tmpfs bounding bytes and files, and `/proc` one of its own, in a
    // mount namespace of this process's own (so nothing is left mounted on the host):
    // only root can make one without a user namespace.
    let namespace = own_mount_namespace(root);
    match namespace.clone().and_then(|()| work_tmpfs(spec)) {
        Ok(()) => findings.work_dir(&spec.limits, &spec.fallback_work_dir),
        Err(why) => findings.work_dir_missing(&spec.limits, &why),
    }
    let proc_hidden = (namespace.is_ok() && private_proc().is_ok()) || host_proc_hides_others();
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
        exposed: exposures(proc_hidden, root),
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
    match lsm::Paths::fallback(spec).and_then(|paths| lsm::restrict(&paths, None)) {
        Ok((enforced, _)) if enforced == "not_enforced" => {
            return fail(
                &mut status,
                "the kernel enforces no Landlock rules and user namespaces \
                                      are not available: refusing to run unsandboxed"
                    .to_owned(),
            );
        }
        Ok((enforced, abi)) => {
            if let Some(refusal) = landlock_refusal(abi, root) {
                return fail(&mut status, refusal);
            }
            layers.landlock = enforced;
            layers.landlock_abi = abi;
        }
        Err(e) => return fail(&mut status, e),
    }
    if let Err(e) = seccomp::apply().and_then(|()| seccomp::apply_fallback_network()) {
        return fail(&mut status, e);
    }
    layers.seccomp = true;
    status.send(&Message::Layers(layers));
    let command = match receive_command(command) {
        Ok(command) => command,
        Err(error) => return fail(&mut status, error),
    };
    let workdir = spec.fallback_work_dir.display().to_string();
    restrict::exec_here(&at_own_work_dir(command, &workdir), &mut status, &workdir)
}

/// `command` with every variable that names the sandbox's work directory (`/work`, or a
/// path under it: `HOME`, as the connectors set it) naming the fallback's own. Without a
/// mount namespace, `/work` here is the host's directory of that name: Landlock keeps the
/// command out of it, but `~` would name host data a policy may have bound beneath it.
fn at_own_work_dir(mut command: crate::spec::Command, workdir: &str) -> crate::spec::Command {
    for (_, value) in &mut command.env {
        if value == crate::spec::WORK_DIR {
            *value = workdir.to_owned();
        } else if let Some(rest) =
            value.strip_prefix(crate::spec::WORK_DIR).filter(|r| r.starts_with('/'))
        {
            *value = format!("{workdir}{rest}");
        }
    }
    command
}

/// What the report says when `left` children of the supervisor were still there after
/// the kill (`at_once`: the cgroup killed the tree in one step first).
fn survivors(left: usize, at_once: bool) -> Option<String> {
    if left == 0 {
        return None;
    }
    let how = if at_once {
        "after the cgroup killed the tree"
    } else {
        "after rounds of killing (no cgroup could kill the tree at once: delegate a cgroup \
         v2 subtree, or give the host a v1 freezer)"
    };
    Some(format!(
        "process tree: {left} of the command's processes were still there {} ms {how}; \
         they may outlive the run",
        KILL_WITHIN.as_millis()
    ))
}

/// Why the fallback cannot run under the kernel's Landlock `abi`, when it cannot: under
/// the launcher's own uid (`own_uid` false) it needs the signal scope, or the command
/// could kill its supervisor, which keeps and kills its tree.
fn landlock_refusal(abi: i32, own_uid: bool) -> Option<String> {
    if !own_uid && abi < LANDLOCK_ABI_SIGNALS {
        return Some(format!(
            "the Landlock fallback cannot keep a command under aecl's own uid from signalling \
             aecl and the sandbox's supervisor under this kernel's Landlock (ABI {abi}; ABI \
             {LANDLOCK_ABI_SIGNALS}, Linux 6.12, can): run aecl as root (a fresh uid per \
             sandbox) or enable user namespaces"
        ));
    }
    None
}

#[cfg(test)]
mod tests;
