//! The fallback's process tree, kept without a PID namespace or a cgroup. Two processes
//! outside the command's Landlock domain (which keeps it from signalling them) are child
//! subreapers (`PR_SET_CHILD_SUBREAPER`): a process whose parent dies is re-parented to
//! the nearest of them, not to the host's init, so a `setsid` and a double fork still
//! leave every process the command starts their descendant.
//!
//! - The **keeper**, forked by the supervisor, forks the command's process and waits for
//!   it; its orphans are its children meanwhile. When the supervisor dies (the launcher
//!   killed the helper), the parent-death signal tells the keeper, which kills them all.
//! - The **supervisor** kills the keeper past a deadline; the keeper's children are then
//!   its own. At the end, command ended or not, it kills them all before the report.
//!
//! Killing them all is round after round of killing the process's children (each
//! round's orphans are its children in the next) until it has none: it then has no
//! descendant at all. Only direct children are ever signalled, and only before they are
//! reaped: a child's pid cannot be reused until its parent reaps it, so the kill never
//! reaches a process that is not the sandbox's, whatever runs on the host.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

/// Makes this process the subreaper of everything it starts from now on.
pub(super) fn become_subreaper() -> Result<(), String> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| format!("becoming the subreaper of the command's processes: {e}"))
}

/// In the keeper (a child of `supervisor`): forks the process that runs `command` (its
/// exit code ends that process), and waits for it; returns its pid and how it ended.
/// Should the supervisor die first, kills every descendant (within `kill_within`) and
/// says so.
pub(super) fn keep(
    supervisor: Pid,
    kill_within: Duration,
    command: impl FnOnce() -> i32,
) -> Result<(Pid, WaitStatus), String> {
    // Both are waited for below: blocked, they stay pending until then, none is missed.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGCHLD);
    signals.add(Signal::SIGTERM);
    signals.thread_block().map_err(|e| format!("blocking the keeper's signals: {e}"))?;
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    if nix::unistd::getppid() != supervisor {
        return Err("the sandbox's supervisor ended before the command started".to_owned());
    }
    become_subreaper()?;
    // SAFETY: the keeper is a child of the single-threaded helper and starts no thread, so
    // the child of `fork` may run any code.
    let process = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // The command starts with no signal blocked.
            let _ = signals.thread_unblock();
            let code = command();
            // SAFETY: ends the forked child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return Err(format!("forking the command's process: {e}")),
    };
    loop {
        if let Ok(Signal::SIGTERM) = signals.wait() {
            kill_all(kill_within);
            return Err("the sandbox's supervisor died: its processes were killed".to_owned());
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(ended) if ended.pid() == Some(process) => return Ok((process, ended)),
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(format!("waiting for the command's process: {e}")),
            }
        }
    }
}

/// Kills every descendant of this process and reaps them, until none is left or `within`
/// has passed. Returns how many children were still there at the end (0: none is left).
pub(super) fn kill_all(within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        if reap_ended() {
            return 0;
        }
        let children = children();
        for child in &children {
            let _ = kill(*child, Signal::SIGKILL);
        }
        if Instant::now() >= deadline {
            return children.len();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reaps every child that has ended; `true` when this process has no child left (and so,
/// being their subreaper, no descendant).
fn reap_ended() -> bool {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return false,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => return true,
            Err(_) => return false,
        }
    }
}

/// This process's children, running or ended but not yet reaped.
fn children() -> Vec<Pid> {
    let own = std::process::id();
    // Linux lists a thread's children here (the helper has one thread); kernels built
    // without it get the same list from every process's parent in `/proc`.
    if let Ok(list) = std::fs::read_to_string(format!("/proc/{own}/task/{own}/children")) {
        return list
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .map(Pid::from_raw)
            .collect();
    }
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if parent_of(&stat) == Some(own) {
            children.push(Pid::from_raw(pid));
        }
    }
    children
}

/// The parent's pid in a `/proc/PID/stat` line: the second field after the command name,
/// which is in parentheses and may itself hold spaces and parentheses.
fn parent_of(stat: &str) -> Option<u32> {
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parent_of;

    #[test]
    fn the_parent_is_read_past_a_command_name_with_spaces_and_parentheses() {
        assert_eq!(parent_of("42 (sh) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parent_of("42 (a) b (c) S 9 42 42 0 -1"), Some(9));
        assert_eq!(parent_of("42 (sh"), None);
    }
}
