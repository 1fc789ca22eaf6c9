//! Ending a process-tier sandbox's whole process tree from the launcher: the helper, the
//! sandbox's cgroup by name and, under a fresh host uid, every process of that uid. Used
//! when a deadline passes without the helper's report, and when the caller stops waiting
//! for a run (its future is dropped: the engine's timeout, a cancelled request, a server
//! shutting down), so that no command goes on changing things after aecl has stopped
//! listening to it. A fresh uid's processes are found in `/proc` and signalled through
//! a pidfd opened before their uid is read, never by a pid that may since name another.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{UID_BASE, UID_SPAN};

/// What the launcher needs to kill one sandbox's tree without the helper's help.
///
/// INVARIANT: while armed (from the command's hand-over to the end of its run's
/// collection), dropping it kills the tree before the drop returns, as far as signals
/// go: the helper at once (its death kills the namespace's init, by the parent-death
/// signal, and with it the PID namespace) and a fresh uid's processes in one pass; the
/// cgroup, and the stragglers a second pass finds, from a thread of its own.
#[derive(Debug)]
pub(crate) struct TreeGuard {
    /// The helper's pid; it is never reaped while the guard is armed, so it cannot have
    /// been reused.
    helper: Option<Pid>,
    cgroup: String,
    host_uid: u32,
    armed: bool,
}

impl TreeGuard {
    /// A disarmed guard for the helper `helper` (its pid), its cgroup's name and host uid.
    pub(crate) fn new(helper: Option<u32>, cgroup: String, host_uid: u32) -> TreeGuard {
        let helper = helper.and_then(|pid| i32::try_from(pid).ok()).map(Pid::from_raw);
        TreeGuard { helper, cgroup, host_uid, armed: false }
    }

    /// From now on, a drop kills the tree (the command is being handed over).
    pub(crate) fn arm(&mut self) {
        self.armed = true;
    }

    /// The run was collected: a drop leaves the helper to finish by itself (it reaps the
    /// namespace and removes its cgroup).
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }

    /// Kills the tree and waits until the cgroup is empty and removed and no process of
    /// a fresh uid is left (a couple of seconds at most).
    pub(crate) async fn kill(&self) {
        if let Some(helper) = self.helper {
            let _ = kill(helper, Signal::SIGKILL);
        }
        let (cgroup, uid, fresh) = (self.cgroup.clone(), self.host_uid, self.fresh_uid());
        let _ = tokio::task::spawn_blocking(move || sweep(&cgroup, fresh.then_some(uid))).await;
    }

    /// Whether the host uid is the sandbox's own (a root launcher's fresh one): only then
    /// are all of its processes the sandbox's to kill.
    fn fresh_uid(&self) -> bool {
        (UID_BASE..UID_BASE.saturating_add(UID_SPAN)).contains(&self.host_uid)
            && nix::unistd::geteuid().is_root()
    }
}

impl Drop for TreeGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(helper) = self.helper {
            let _ = kill(helper, Signal::SIGKILL);
        }
        let fresh = self.fresh_uid().then_some(self.host_uid);
        if let Some(uid) = fresh {
            kill_uid_once(uid);
        }
        let cgroup = std::mem::take(&mut self.cgroup);
        // Emptying and removing the cgroup may take a moment: not on the caller's thread,
        // which may be a runtime's worker (there may be no runtime left to spawn on).
        let swept = std::thread::Builder::new()
            .name("aecl-sandbox-kill".to_owned())
            .spawn(move || sweep(&cgroup, fresh));
        if let Err(error) = swept {
            tracing::warn!(%error, "no thread to remove a dropped sandbox's cgroup");
        }
    }
}

/// Kills the cgroup `cgroup` by name (and removes it) and, when `uid` is given, every
/// process of that fresh uid, until none is left or two seconds have passed.
fn sweep(cgroup: &str, uid: Option<u32>) {
    crate::helper::kill_cgroup(cgroup);
    if let Some(uid) = uid {
        kill_uid(uid);
    }
}

/// Kills every process of host `uid` (a fresh uid: they are all the sandbox's), until
/// none is left or two seconds have passed. Scans `/proc`: no fork from this
/// multi-threaded process.
pub(crate) fn kill_uid(uid: u32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if !kill_uid_once(uid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One pass of [`kill_uid`]: whether any process of `uid` was found.
fn kill_uid_once(uid: u32) -> bool {
    let mut found = false;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        found |= kill_if_owned(Pid::from_raw(pid), uid);
    }
    found
}

/// Kills the process `pid` names if it runs as `uid`, through a pidfd, so that a pid
/// reused by another process between the check and the kill is never signalled:
/// `true` when it was of `uid`.
///
/// INVARIANT: the signal goes to the process the pidfd was opened on, and the uid read
/// is that process's: the pidfd is opened first, `/proc/PID` read next, and the pidfd's
/// process is then checked to be still there (not reaped): while it is, its pid cannot
/// belong to another process, so `/proc/PID` was its own.
fn kill_if_owned(pid: Pid, uid: u32) -> bool {
    let Some(pidfd) = crate::helper::pidfd_open(pid) else { return false };
    let owner = std::os::unix::fs::MetadataExt::uid;
    let owned = std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| owner(&m) == uid);
    if !owned || pidfd_send_signal(&pidfd, 0).is_err() {
        return false;
    }
    let _ = pidfd_send_signal(&pidfd, libc::SIGKILL);
    true
}

/// `pidfd_send_signal(pidfd, signal, NULL, 0)`; signal 0 checks that the process is
/// there.
fn pidfd_send_signal(pidfd: &OwnedFd, signal: i32) -> std::io::Result<()> {
    // SAFETY: the descriptor is a pidfd this function borrows for the call; a null
    // `siginfo` and no flags pass no memory.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if sent < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::kill_if_owned;
    use nix::unistd::Pid;

    #[test]
    fn a_process_of_another_uid_is_never_signalled() {
        // A child of this test, of this test's uid: not the uid asked for, left alone.
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
        let own = nix::unistd::geteuid().as_raw();
        assert!(!kill_if_owned(pid, own.wrapping_add(1)));
        assert!(child.try_wait().unwrap().is_none(), "signalled though of another uid");
        // Of the uid asked for: killed.
        assert!(kill_if_owned(pid, own));
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
        // Reaped, its pid names nothing (or a process opened afresh): nothing of the
        // child's is signalled through a stale pid.
        assert!(!kill_if_owned(pid, own.wrapping_add(1)));
    }
}
