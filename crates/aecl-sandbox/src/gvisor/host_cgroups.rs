//! The container's cgroups on the host. runsc makes one in each hierarchy at the bundle's
//! `cgroupsPath`, `/<container id>` (gVisor's kernel, its gofer and its stub processes
//! are held there: the memory limit and the looser pid limit of `bundle::host_pids`), and
//! removes them when it ends by itself or deletes the container. A runsc killed with its
//! caller cannot: a run that is dropped removes them here ([`HostCgroups`]) once the
//! sandbox's processes are gone, and a launcher removes those of a killed launcher's runs
//! when it starts (`launch::sweep_orphans`). Only empty cgroups are removed: nothing is
//! killed from here.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ROOT: &str = "/sys/fs/cgroup";

/// How long a run's cgroups are waited for once runsc was killed (their processes are
/// dying with it).
pub(crate) const PATIENCE: Duration = Duration::from_secs(3);

/// Removes the container's host cgroups when dropped (from a thread: the run was dropped
/// while runsc ran), unless runsc was seen to end by itself
/// ([`HostCgroups::removed_by_runsc`]) or they were removed already
/// ([`HostCgroups::remove_now`]).
#[derive(Debug)]
pub(crate) struct HostCgroups {
    id: Option<String>,
}

impl HostCgroups {
    pub(crate) fn new(id: &str) -> HostCgroups {
        HostCgroups { id: Some(id.to_owned()) }
    }

    /// runsc ended by itself: its cgroups are gone with it.
    pub(crate) fn removed_by_runsc(&mut self) {
        self.id = None;
    }

    /// runsc was killed (at the deadline, or from outside): its `delete` may not have got
    /// to them, under load it often does not, so they are removed here, before the run's
    /// answer (a short-lived caller such as `aecl sandbox run` exits right after it).
    pub(crate) async fn remove_now(&mut self) {
        let Some(id) = self.id.take() else { return };
        let _ =
            tokio::task::spawn_blocking(move || warn_if_left(&id, &remove(&id, PATIENCE))).await;
    }
}

impl Drop for HostCgroups {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        // Off the caller's thread: the sandbox's processes may take a moment to die.
        let spawned = std::thread::Builder::new()
            .name("aecl-gvisor-cgroups".to_owned())
            .spawn(move || warn_if_left(&id, &remove(&id, PATIENCE)));
        if let Err(error) = spawned {
            tracing::warn!(%error, "no thread to remove a dropped gVisor run's cgroups");
        }
    }
}

/// Removes the cgroups named `id` in every hierarchy (v1: one per controller; v2: one),
/// retrying those still busy for up to `patience`, and returns those left. `id` is a
/// container id of this tier (`aecl-` and hex digits): nothing else is touched.
pub(crate) fn remove(id: &str, patience: Duration) -> Vec<PathBuf> {
    if !is_container_id(id) {
        return Vec::new();
    }
    let root = Path::new(ROOT);
    let hierarchies = fs::read_dir(root).into_iter().flatten().flatten().map(|e| e.path());
    let mut dirs: Vec<PathBuf> =
        std::iter::once(root.to_path_buf()).chain(hierarchies).map(|h| h.join(id)).collect();
    let deadline = std::time::Instant::now() + patience;
    loop {
        // A v1 hierarchy mounted under two names (`cpu` and `cpu,cpuacct`) lists the same
        // directory twice: gone after the first removal, it is dropped by `is_dir`.
        dirs.retain(|dir| dir.is_dir() && fs::remove_dir(dir).is_err());
        if dirs.is_empty() || std::time::Instant::now() >= deadline {
            return dirs;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Says which of the container's host cgroups could not be removed (a process in them
/// outlived runsc): nothing else will remove them.
pub(crate) fn warn_if_left(id: &str, left: &[PathBuf]) {
    if !left.is_empty() {
        tracing::warn!(container = id, left = ?left, "gVisor host cgroups still busy, left");
    }
}

/// Whether `id` has the form of this tier's container ids (`gvisor::container_id`), so
/// that joined to a hierarchy it names a directory directly below it.
fn is_container_id(id: &str) -> bool {
    id.strip_prefix("aecl-")
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_container_ids_of_this_tier_name_a_cgroup() {
        assert!(is_container_id("aecl-0123456789abcdef"));
        for id in ["", "aecl-", "..", "aecl-../x", "aecl-12/../..", "other-12ab", "aecl-12ab/"] {
            assert!(!is_container_id(id), "{id:?}");
        }
    }
}
