//! Whether the limits asked for hold, and the refusal when they do not. A limit is
//! enforced when something bounds it over the whole sandbox:
//!
//! - memory: the cgroup's memory controller (the address-space rlimit is per process: 64
//!   processes may each take the whole limit, and tmpfs pages are not counted at all);
//! - processes: the cgroup's `pids` controller, or `RLIMIT_NPROC` when the count it is
//!   checked against is the sandbox's alone: in the sandbox's own user namespace (Linux
//!   5.14 and later count it per user namespace), or under a fresh host uid that no other
//!   process has (a root launcher draws one per sandbox). Under a shared uid the count
//!   also holds the launcher's and other sandboxes' processes and threads, so it is no
//!   limit *of the sandbox*;
//! - the work size: the work dir (and `/tmp`) is a tmpfs with `size=` and `nr_inodes=`,
//!   as `statfs` reads it back (an unprivileged fallback cannot mount one);
//! - CPU time: `RLIMIT_CPU`, per process, always (the deadlines bound the wall time).
//!
//! Under `limits = "enforced"` (the default) a limit that does not hold refuses the run
//! before the command arrives; under `best_effort` it is named in the layers.

use std::path::Path;

use nix::sys::statfs::{TMPFS_MAGIC, statfs};
use nix::sys::statvfs::statvfs;

use crate::launch::{UID_BASE, UID_SPAN};
use crate::spec::{Enforcement, Limits, Spec};

/// What decides whether `RLIMIT_NPROC` counts only the sandbox's processes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NprocScope {
    /// The command runs in its own user namespace.
    pub(crate) own_user_namespace: bool,
}

impl NprocScope {
    /// `Ok` when `RLIMIT_NPROC` counts only the sandbox's processes; else why not.
    pub(crate) fn check(self, spec: &Spec) -> Result<(), String> {
        if self.own_user_namespace && kernel_at_least(5, 14) {
            return Ok(());
        }
        let fresh = (UID_BASE..UID_BASE.saturating_add(UID_SPAN)).contains(&spec.host_uid);
        if fresh && nix::unistd::geteuid().is_root() {
            return Ok(());
        }
        Err(format!(
            "RLIMIT_NPROC would count every process of host uid {}, not only the sandbox's",
            spec.host_uid
        ))
    }
}

/// What held and what did not, gathered while the sandbox is built.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    missing: Vec<String>,
}

impl Findings {
    /// The memory and process limits, from the cgroup (`cgroup_missing`: why there is
    /// none) and the `RLIMIT_NPROC` scope.
    pub(crate) fn tree_limits(
        &mut self,
        limits: &Limits,
        cgroup_missing: Option<&str>,
        nproc: &Result<(), String>,
    ) {
        let Some(why) = cgroup_missing else { return };
        self.missing.push(format!("memory ({}): no cgroup ({why})", mib(limits.memory_bytes)));
        if let Err(nproc) = nproc {
            self.missing.push(format!("pids ({}): no cgroup, and {nproc}", limits.pids));
        }
    }

    /// The work dir at `path` (its size and file count).
    pub(crate) fn work_dir(&mut self, limits: &Limits, path: &Path) {
        if let Err(why) = check_tmpfs(path, limits) {
            self.missing.push(format!("work size ({}): {why}", mib(limits.work_bytes)));
        }
    }

    pub(crate) fn work_dir_missing(&mut self, limits: &Limits, why: &str) {
        self.missing.push(format!("work size ({}): {why}", mib(limits.work_bytes)));
    }

    /// `Err(message)` when the run must be refused; otherwise the limits not enforced
    /// (empty when all hold), for the layers.
    pub(crate) fn verdict(self, enforcement: Enforcement) -> Result<Vec<String>, String> {
        if self.missing.is_empty() || enforcement == Enforcement::BestEffort {
            return Ok(self.missing);
        }
        Err(format!(
            "refusing to run: the sandbox cannot enforce these limits here: {}. Fix: run aecl \
             as root or delegate a cgroup (`pids` and `memory`) to its user (see \"Sandbox \
             limits\" in docs/policy.md), or accept per-process rlimits in their place by \
             setting `limits = \"best_effort\"` (`aecl sandbox run --limits best_effort`)",
            self.missing.join("; ")
        ))
    }
}

/// The tmpfs options that bound both the bytes and the files of a work dir.
pub(crate) fn tmpfs_options(limits: &Limits) -> String {
    format!("size={},nr_inodes={}", limits.work_bytes, limits.work_inodes())
}

/// `path` is a tmpfs no larger than the work size and holding no more files than
/// [`Limits::work_inodes`].
fn check_tmpfs(path: &Path, limits: &Limits) -> Result<(), String> {
    let fs = statfs(path).map_err(|e| format!("cannot read the work dir's file system: {e}"))?;
    if fs.filesystem_type() != TMPFS_MAGIC {
        return Err("the work dir is not a tmpfs".to_owned());
    }
    let vfs = statvfs(path).map_err(|e| format!("cannot read the work dir's size: {e}"))?;
    let bytes = vfs.blocks().saturating_mul(vfs.fragment_size());
    // tmpfs rounds the size up to whole pages.
    if bytes == 0 || bytes > limits.work_bytes.saturating_add(64 * 1024) {
        return Err(format!("the work dir's tmpfs holds {bytes} bytes"));
    }
    let files = vfs.files();
    if files == 0 || files > limits.work_inodes() {
        return Err(format!("the work dir's tmpfs holds {files} files"));
    }
    Ok(())
}

fn mib(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// The running kernel is `major.minor` or newer (`/proc/sys/kernel/osrelease`).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut parts = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}
