//! The helper executable (`aecl-sandbox`): one run of one command, contained.
//!
//! The launcher starts it with an empty environment and writes the [`Spec`] on its stdin;
//! the helper builds the sandbox, and once it is built and restricted, reads the
//! [`Command`] (both messages: the length on a line, then the JSON); whatever follows on
//! stdin is the command's. The launcher may thus build sandboxes ahead of time. The
//! helper is single-threaded from start to end, so `clone` and `fork` here are safe (the
//! server that launches it is multi-threaded and never forks).
//!
//! Three processes at most:
//! - the **supervisor** (this process, on the host): makes the cgroup, clones the init
//!   into new user, PID, mount, network, IPC, UTS and cgroup namespaces, writes its uid
//!   and gid maps (an unprivileged host uid, never root), then waits for it under the
//!   earliest deadline, kills the whole namespace when a deadline passes, and writes the
//!   [`Report`];
//! - the **init** (PID 1 of the new namespace): builds the read-only root, brings up
//!   loopback, sets rlimits, drops every capability, sets `no_new_privs`, applies Landlock
//!   and seccomp, starts the egress forwarder when hosts are allowed, forks the process
//!   that waits for the command, and reaps it; when the init dies the kernel kills
//!   everything left in the namespace;
//! - the **command**, exec'd with exactly the command's environment.
//!
//! Where user namespaces cannot be made (and the spec allows it), the fallback runs the
//! command in a new session under Landlock, seccomp and rlimits, and says so.

mod cgroup;
mod enforce;
mod fallback;
mod forward;
mod gvisor_init;
mod handoff;
mod init;
mod lsm;
pub(crate) mod mounts;
pub(crate) mod pinned;
mod restrict;
mod seccomp;
mod status;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};

pub use gvisor_init::{
    REFUSED as GVISOR_REFUSED, STARTED as GVISOR_STARTED, STATUS as GVISOR_STATUS,
    main as gvisor_init,
};

pub(crate) use cgroup::kill_named as kill_cgroup;

use crate::spec::{Deadlines, Isolation, Layers, Outcome, Report, Spec, TimeLimit};

/// Stack of the cloned init. It builds mounts and forks; it never recurses deeply.
const INIT_STACK_BYTES: usize = 512 * 1024;

/// The file name the helper is started under: the `aecl-sandbox` executable's own, and the
/// `argv[0]` the launcher gives any executable it starts as the helper, so that the `aecl`
/// binary can be its own helper (see [`run_as_helper`]).
pub const HELPER_NAME: &str = "aecl-sandbox";

/// The helper's entry point for an executable that is also something else: when
/// `argv[0]`'s file name is [`HELPER_NAME`], runs the helper (or, with `gvisor-init`, the
/// init inside a `gvisor` container) and returns its exit code; otherwise `None`, and the
/// executable goes on as itself. This is how `aecl` alone is a complete install: the
/// launcher starts it again as `aecl-sandbox` when no separate helper sits beside it.
pub fn run_as_helper() -> Option<i32> {
    let mut args = std::env::args_os();
    let name = args.next()?;
    if std::path::Path::new(&name).file_name()? != HELPER_NAME {
        return None;
    }
    let args: Vec<std::ffi::OsString> = args.collect();
    if args.first().is_some_and(|a| a == "gvisor-init") {
        return Some(gvisor_init(&args[1..]));
    }
    Some(main())
}

/// Runs the helper; returns its exit code (the command's, as [`Outcome::exit_code`]).
pub fn main() -> i32 {
    handoff::take_ready();
    close_inherited();
    let spec = match handoff::read_message::<Spec>().and_then(check_spec) {
        Ok(spec) => spec,
        Err(error) => {
            // Nothing to report on without a spec: the launcher sees the pipe end with no
            // report, and reports a setup failure with this message.
            let _ = writeln!(std::io::stderr(), "aecl-sandbox: {error}");
            return 125;
        }
    };
    let mut clock = Clock::default();
    let cgroup = cgroup::Cgroup::create(&spec.cgroup, &spec.limits);
    let (outcome, layers) = supervise(&spec, &cgroup, &mut clock);
    let limits_reached = cgroup.reached(&spec.limits);
    let report = Report { outcome, layers, elapsed_ms: clock.elapsed_ms(), limits_reached };
    let code = report.outcome.exit_code();
    if let Err(error) = write_report(&report) {
        let _ = writeln!(std::io::stderr(), "aecl-sandbox: writing the report: {error}");
        reap_deferred();
        cgroup.finish();
        return 125;
    }
    // The launcher reads the report when our stdout and stderr close: close them now
    // (the init is killed, so the sandbox's copies close as it dies), then reap it and
    // remove the cgroup, off the call's path.
    let _ = nix::unistd::close(1);
    let _ = nix::unistd::close(2);
    reap_deferred();
    cgroup.finish();
    code
}

fn check_spec(spec: Spec) -> Result<Spec, String> {
    if spec.host_uid == 0 || spec.host_gid == 0 {
        return Err("the sandbox never runs as host root (host_uid or host_gid is 0)".to_owned());
    }
    // A file name under the cgroup hierarchy: nothing but hex digits may reach a path.
    let name = spec.cgroup.as_bytes();
    if name.is_empty() || name.len() > 32 || !name.iter().all(u8::is_ascii_hexdigit) {
        return Err("the cgroup name must be 1 to 32 hex digits".to_owned());
    }
    Ok(spec)
}

/// When the command arrived: its deadlines count from then.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Clock {
    started: Option<Instant>,
}

impl Clock {
    pub(crate) fn start(&mut self) -> Instant {
        *self.started.get_or_insert_with(Instant::now)
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.map_or(0, elapsed_ms)
    }
}

fn write_report(report: &Report) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(report).map_err(std::io::Error::other)?;
    handoff::send_report(&bytes)
}

/// Builds the sandbox, runs the command and says how it ended.
fn supervise(spec: &Spec, cgroup: &cgroup::Cgroup, clock: &mut Clock) -> (Outcome, Layers) {
    let mut layers = Layers { host_uid: spec.host_uid, ..Layers::default() };
    layers.cgroup = cgroup.describe();
    // Supplementary groups of a root launcher would follow the command into the namespace
    // as host gid 0: drop them first (an unprivileged launcher has none it could drop).
    if nix::unistd::geteuid().is_root()
        && let Err(e) = nix::unistd::setgroups(&[])
    {
        return (setup(format!("dropping supplementary groups: {e}")), layers);
    }
    let fallback_reason = match spec.isolation {
        Isolation::Landlock => Some("namespaces not requested (--isolation landlock)".to_owned()),
        Isolation::Auto | Isolation::Namespaces => {
            match run_in_namespaces(spec, cgroup, &mut layers, clock) {
                Ran::Done(outcome) => return (outcome, layers),
                Ran::Unavailable(reason) if spec.isolation == Isolation::Namespaces => {
                    let error = format!(
                        "user namespaces are not available ({reason}) and --isolation \
                         namespaces forbids the fallback"
                    );
                    return (setup(error), layers);
                }
                Ran::Unavailable(reason) => Some(reason),
            }
        }
    };
    layers = Layers { host_uid: spec.host_uid, cgroup: cgroup.describe(), ..Layers::default() };
    let outcome = fallback::run(spec, cgroup, &mut layers, clock);
    layers.fallback_reason = fallback_reason;
    (outcome, layers)
}

/// What the namespace path came to.
enum Ran {
    Done(Outcome),
    /// Namespaces could not be made; nothing of the command ran.
    Unavailable(String),
}

fn run_in_namespaces(
    spec: &Spec,
    cgroup: &cgroup::Cgroup,
    layers: &mut Layers,
    clock: &mut Clock,
) -> Ran {
    let (go_read, go_write) = match pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(pair) => pair,
        Err(e) => return Ran::Done(setup(format!("pipe: {e}"))),
    };
    let (status_read, status_write) = match pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(pair) => pair,
        Err(e) => return Ran::Done(setup(format!("pipe: {e}"))),
    };
    let (command_read, command_write) = match pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(pair) => pair,
        Err(e) => return Ran::Done(setup(format!("pipe: {e}"))),
    };
    // The init joins the cgroup by being cloned from a member, so the cgroup namespace's
    // root is the sandbox's own cgroup.
    if let Err(e) = cgroup.enter_self() {
        return Ran::Done(setup(format!("joining the cgroup: {e}")));
    }
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    let mut stack = vec![0u8; INIT_STACK_BYTES];
    let go_raw = go_read.as_raw_fd();
    let status_raw = status_write.as_raw_fd();
    let command_raw = command_read.as_raw_fd();
    let child = {
        let cgroup_missing = cgroup.missing();
        let supervisor_ends =
            [go_write.as_raw_fd(), status_read.as_raw_fd(), command_write.as_raw_fd()];
        let fds =
            init::Fds { go: go_raw, status: status_raw, command: command_raw, supervisor_ends };
        let callback = Box::new(move || init::main(spec, fds, cgroup_missing));
        // SAFETY: this process is single-threaded (the helper never starts a thread), so
        // the child of `clone` without `CLONE_VM` is a plain copy of it, as after `fork`;
        // the callback runs on `stack`, which outlives the call in the parent and is a
        // copy in the child.
        unsafe { nix::sched::clone(callback, &mut stack, flags, Some(libc::SIGCHLD)) }
    };
    let _ = cgroup.leave_self();
    drop(go_read);
    drop(status_write);
    drop(command_read);
    let child = match child {
        Ok(pid) => pid,
        Err(e @ (Errno::EPERM | Errno::EINVAL | Errno::ENOSPC | Errno::EUSERS | Errno::EACCES)) => {
            return Ran::Unavailable(format!("cannot create user namespaces: {e}"));
        }
        Err(e) => return Ran::Done(setup(format!("clone: {e}"))),
    };
    if let Err(e) = write_id_maps(child, spec) {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Ran::Unavailable(format!("cannot map the sandbox's user: {e}"));
    }
    let mut go = File::from(go_write);
    if go.write_all(b"g").is_err() {
        let _ = kill(child, Signal::SIGKILL);
    }
    drop(go);
    let mut status = handoff::StatusReader::new(status_read);
    // The sandbox is built when the init says which layers it has; only then is the
    // command read and handed over, and its deadlines start.
    match status.ready() {
        handoff::Ready::Layers(reported) => {
            *layers = Layers { host_uid: spec.host_uid, cgroup: layers.cgroup.clone(), ..reported };
        }
        handoff::Ready::NamespaceFailed(reason) => {
            let _ = waitpid(child, None);
            return Ran::Unavailable(reason);
        }
        handoff::Ready::Failed(outcome) => {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            return Ran::Done(outcome);
        }
    }
    let command = match handoff::forward_command(command_write, clock) {
        Ok(command) => command,
        Err(outcome) => {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            return Ran::Done(outcome);
        }
    };
    let outcome = match wait_for_outcome(child, &mut status, &command.deadlines, clock.start()) {
        Waited::TimedOut(limit, after_ms) => Outcome::TimedOut { limit, after_ms },
        Waited::Exited(ended) => status.outcome().unwrap_or_else(|| match ended {
            // The init is the PID namespace's first process: a signal that ended it (the
            // OOM killer picks it when it is the largest process under the memory limit)
            // ended the command with it. `explain` names the memory limit when it was that.
            Some(WaitStatus::Signaled(_, signal, _)) => {
                Outcome::Killed { signal: signal as i32, cause: None }
            }
            _ => setup("the sandbox's init ended without a word".to_owned()),
        }),
        Waited::Reported(outcome) => outcome,
    };
    Ran::Done(cgroup.explain(outcome))
}

/// Maps the sandbox's root to the unprivileged host user. Written by this process, which
/// is in the parent namespace: a root launcher may map any uid, an unprivileged one only
/// its own.
fn write_id_maps(child: Pid, spec: &Spec) -> std::io::Result<()> {
    let proc = format!("/proc/{child}");
    std::fs::write(format!("{proc}/uid_map"), format!("0 {} 1\n", spec.host_uid))?;
    std::fs::write(format!("{proc}/setgroups"), "deny")?;
    std::fs::write(format!("{proc}/gid_map"), format!("0 {} 1\n", spec.host_gid))?;
    Ok(())
}

pub(crate) enum Waited {
    /// The child ended, with its status when it could be read.
    Exited(Option<WaitStatus>),
    /// The init reported how the command ended and was killed with what the command
    /// left; it is reaped after the report (see [`reap_later`]).
    Reported(Outcome),
    TimedOut(TimeLimit, u64),
}

/// Waits for `child` until the earliest deadline; past it, kills it (for the init of a
/// PID namespace this kills every process in it) and reaps it. A launcher that gives up
/// on the run meanwhile gets the same kill at once ([`abandoned`]).
pub(crate) fn wait_with_deadline(child: Pid, deadlines: &Deadlines, started: Instant) -> Waited {
    let (limit, limit_ms) = deadlines.binding();
    let pidfd = pidfd_open(child);
    let launcher = handoff::watch_launcher();
    loop {
        match waitpid(child, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => return Waited::Exited(Some(status)),
            Err(_) => return Waited::Exited(None),
        }
        let left = match time_left(child, limit, limit_ms, started) {
            Ok(left) => left,
            Err(timed_out) => return timed_out,
        };
        // Kernels before 5.3 have no pidfd: the child is then polled every millisecond.
        let left = if pidfd.is_some() { left.min(60_000) } else { 1 };
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = Vec::with_capacity(2);
        if let Some(fd) = &pidfd {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        if let Some(fd) = &launcher {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::empty()));
        }
        if fds.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(1));
            continue;
        }
        let _ = poll(&mut fds, timeout);
        if launcher.is_some() && fds.last().is_some_and(gone) {
            return abandoned(child);
        }
    }
}

/// Whether the launcher's end of the control pipe is gone (see
/// [`handoff::watch_launcher`]).
fn gone(fd: &PollFd<'_>) -> bool {
    fd.revents().is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP))
}

/// The launcher gave up on the run (its caller stopped waiting) or died: nobody will read
/// a report, and the sandbox must not outlive the interest in it. `child` is killed (for
/// the init of a PID namespace, with every process in it) and reaped.
fn abandoned(child: Pid) -> Waited {
    let _ = kill(child, Signal::SIGKILL);
    Waited::Exited(waitpid(child, None).ok())
}

pub(crate) fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: `pidfd_open` takes a pid and flags and returns a new descriptor or -1; no
    // memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the kernel just returned `fd` as a new descriptor that nothing else owns.
    Some(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Waits for the init's word on the command, its end, or the earliest deadline. On the
/// word, the init is killed at once (it was about to exit; the kill ends whatever the
/// command left in the namespace) and reaped only after the report is written, so that
/// tearing the namespaces down is off the call's path.
fn wait_for_outcome(
    child: Pid,
    status: &mut handoff::StatusReader,
    deadlines: &Deadlines,
    started: Instant,
) -> Waited {
    let (limit, limit_ms) = deadlines.binding();
    let Some(pidfd) = pidfd_open(child) else {
        return wait_with_deadline(child, deadlines, started);
    };
    let launcher = handoff::watch_launcher();
    // Once the pipe has ended without a word, only the init's end is waited for.
    let mut listening = true;
    loop {
        let left = match time_left(child, limit, limit_ms, started) {
            Ok(left) => left,
            Err(timed_out) => return timed_out,
        };
        let timeout = PollTimeout::try_from(left.min(60_000)).unwrap_or(PollTimeout::MAX);
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if let Some(fd) = &launcher {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::empty()));
        }
        if listening {
            fds.push(PollFd::new(status.as_fd(), PollFlags::POLLIN));
        }
        let _ = poll(&mut fds, timeout);
        if launcher.is_some() && fds.get(1).is_some_and(gone) {
            return abandoned(child);
        }
        let ended = fds[0].revents().is_some_and(|r| !r.is_empty());
        let word = listening && fds.last().and_then(PollFd::revents).is_some_and(|r| !r.is_empty());
        if word {
            match status.next_outcome() {
                Some(outcome) => {
                    let _ = kill(child, Signal::SIGKILL);
                    reap_later(child);
                    return Waited::Reported(outcome);
                }
                None => listening = false,
            }
        }
        if ended {
            return Waited::Exited(waitpid(child, None).ok());
        }
    }
}

/// The milliseconds left before `limit_ms`; past it, `child` is killed and reaped (for
/// the init of a PID namespace, that kills every process in it).
fn time_left(child: Pid, limit: TimeLimit, limit_ms: u64, started: Instant) -> Result<u64, Waited> {
    let spent = elapsed_ms(started);
    if spent < limit_ms {
        return Ok(limit_ms - spent);
    }
    let _ = kill(child, Signal::SIGKILL);
    let _ = waitpid(child, None);
    Err(Waited::TimedOut(limit, spent))
}

/// Children to reap once the report is out.
static TO_REAP: std::sync::Mutex<Vec<Pid>> = std::sync::Mutex::new(Vec::new());

fn reap_later(child: Pid) {
    TO_REAP.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(child);
}

fn reap_deferred() {
    let pids =
        std::mem::take(&mut *TO_REAP.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    for pid in pids {
        let _ = waitpid(pid, None);
    }
}

pub(crate) fn setup(error: String) -> Outcome {
    Outcome::Setup { error }
}

pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Tells the supervisor the sandbox is built, with its layers.
fn mark_ready(status: &mut status::StatusWriter, layers: Layers) {
    status.send(&status::Message::Layers(layers));
}

/// Closes every descriptor this process inherited beyond stdio and the ready pipe (a
/// launcher's parent may leak some, a jobserver pipe say), so that none reaches the
/// command.
fn close_inherited() {
    let first = crate::launch::READY_FD + 1;
    // SAFETY: `close_range` takes two descriptor numbers and flags; it reads no memory.
    let closed = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) } == 0;
    if closed {
        return;
    }
    // Kernels before 5.9: close what /proc lists.
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        let _ = nix::unistd::close(fd);
    }
}
