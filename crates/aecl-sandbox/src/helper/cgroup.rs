//! The sandbox's cgroup: a `pids` and `memory` limit over the whole process tree, and a
//! way to kill all of it. cgroup v1 (one hierarchy per controller) or v2 (one unified
//! hierarchy), detected at run time. Making one needs write access to the hierarchy
//! (root, or a delegated `aecl` subtree); without one the memory limit cannot hold over
//! the whole tree, so the run is refused unless the operator chose `best_effort` (see
//! `enforce.rs`), and the report says `none` with the reason.
//!
//! The cgroup's name is chosen by the launcher, which can then kill everything in it
//! ([`kill_named`]) when the helper itself does not answer.
//!
//! Killing everything in it ([`Cgroup::kill_tree`]) is one step no fork can outrun:
//! `cgroup.kill` (v2, Linux 5.14), or the freezer (v2's `cgroup.freeze`, v1's `freezer`
//! hierarchy when the host has one) stopping every member before each is sent `SIGKILL`
//! and thawed into it. Where there is neither, the members are killed round after round,
//! and the caller reports what is left.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::spec::{Limits, Outcome};

const ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug)]
pub(crate) enum Cgroup {
    /// One directory per controller, and where this process was in each.
    V1 {
        dirs: Vec<(PathBuf, PathBuf)>,
    },
    /// The leaf, and where this process was.
    V2 {
        dir: PathBuf,
        home: PathBuf,
    },
    None(String),
}

impl Cgroup {
    /// `id`: the launcher's name for it (checked by the caller: hex digits only).
    pub(crate) fn create(id: &str, limits: &Limits) -> Cgroup {
        let result = if is_v2() { create_v2(id, limits) } else { create_v1(id, limits) };
        result.unwrap_or_else(Cgroup::None)
    }

    /// Why there is none, when there is none.
    pub(crate) fn missing(&self) -> Option<&str> {
        match self {
            Cgroup::None(why) => Some(why),
            _ => None,
        }
    }

    /// The limits the command ran into, as the cgroup counted them.
    pub(crate) fn reached(&self, limits: &Limits) -> Vec<String> {
        let dir = match self {
            Cgroup::V1 { dirs } => {
                dirs.iter().find(|(d, _)| d.starts_with(Path::new(ROOT).join("pids"))).map(|d| &d.0)
            }
            Cgroup::V2 { dir, .. } => Some(dir),
            Cgroup::None(_) => None,
        };
        let refused = dir
            .and_then(|dir| fs::read_to_string(dir.join("pids.events")).ok())
            .and_then(|text| {
                text.lines().find_map(|l| l.strip_prefix("max ")?.trim().parse::<u64>().ok())
            })
            .unwrap_or(0);
        if refused == 0 {
            return Vec::new();
        }
        vec![format!(
            "the process limit ({}) was reached: {refused} forks were refused",
            limits.pids
        )]
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Cgroup::V1 { .. } => "v1".to_owned(),
            Cgroup::V2 { .. } => "v2".to_owned(),
            Cgroup::None(why) => format!("none: {why}"),
        }
    }

    /// Moves this process into the cgroup, so that what it clones or forks starts there.
    pub(crate) fn enter_self(&self) -> std::io::Result<()> {
        let pid = std::process::id().to_string();
        match self {
            Cgroup::V1 { dirs } => {
                dirs.iter().try_for_each(|(dir, _)| write(dir, "cgroup.procs", &pid))
            }
            Cgroup::V2 { dir, .. } => write(dir, "cgroup.procs", &pid),
            Cgroup::None(_) => Ok(()),
        }
    }

    /// Moves this process back where it was or, where it may not write there (an
    /// unprivileged helper in a delegated subtree, started from a cgroup of root's), to
    /// the sandbox cgroup's parent, the subtree's own `aecl`: out of the sandbox's limits,
    /// and out of the way of removing its cgroup. (v2 allows no process in a parent that
    /// hands controllers down: there only the way home is tried.)
    pub(crate) fn leave_self(&self) -> std::io::Result<()> {
        let pid = std::process::id().to_string();
        let leave = |dir: &Path, home: &Path| {
            write(home, "cgroup.procs", &pid).or_else(|error| {
                dir.parent().map_or(Err(error), |parent| write(parent, "cgroup.procs", &pid))
            })
        };
        match self {
            Cgroup::V1 { dirs } => dirs.iter().try_for_each(|(dir, home)| leave(dir, home)),
            Cgroup::V2 { home, .. } => write(home, "cgroup.procs", &pid),
            Cgroup::None(_) => Ok(()),
        }
    }

    /// Adds why the command died when the cgroup knows (the memory limit's OOM kill).
    pub(crate) fn explain(&self, outcome: Outcome) -> Outcome {
        match outcome {
            Outcome::Killed { signal, cause: None }
                if signal == libc::SIGKILL && self.oom_killed() =>
            {
                Outcome::Killed {
                    signal,
                    cause: Some("memory limit reached (OOM kill)".to_owned()),
                }
            }
            other => other,
        }
    }

    fn oom_killed(&self) -> bool {
        let (dir, file) = match self {
            Cgroup::V1 { dirs } => {
                match dirs.iter().find(|(d, _)| d.starts_with(Path::new(ROOT).join("memory"))) {
                    Some((dir, _)) => (dir.clone(), "memory.oom_control"),
                    None => return false,
                }
            }
            Cgroup::V2 { dir, .. } => (dir.clone(), "memory.events"),
            Cgroup::None(_) => return false,
        };
        fs::read_to_string(dir.join(file)).is_ok_and(|text| {
            text.lines().any(|line| {
                line.strip_prefix("oom_kill ")
                    .is_some_and(|n| n.trim().parse::<u64>().is_ok_and(|n| n > 0))
            })
        })
    }

    /// Kills every process in the cgroup at once, so that none can fork past the kill:
    /// `true` when that was done (`cgroup.kill`, or freeze, kill and thaw); `false` when
    /// this cgroup cannot (no cgroup, or v1 without a freezer), and the caller's rounds
    /// must do.
    pub(crate) fn kill_tree(&self) -> bool {
        match self {
            Cgroup::V2 { dir, .. } => {
                write(dir, "cgroup.kill", "1").is_ok()
                    || freeze_kill(dir, ("cgroup.freeze", "1", "0"), ("cgroup.events", "frozen 1"))
            }
            Cgroup::V1 { dirs } => dirs
                .iter()
                .find(|(d, _)| d.starts_with(Path::new(ROOT).join("freezer")))
                .is_some_and(|(dir, _)| {
                    freeze_kill(
                        dir,
                        ("freezer.state", "FROZEN", "THAWED"),
                        ("freezer.state", "FROZEN"),
                    )
                }),
            Cgroup::None(_) => false,
        }
    }

    /// Kills whatever is still in the cgroup and removes it.
    pub(crate) fn finish(&self) {
        let _ = self.leave_self();
        let dirs: Vec<&Path> = match self {
            Cgroup::V1 { dirs } => dirs.iter().map(|(d, _)| d.as_path()).collect(),
            Cgroup::V2 { dir, .. } => {
                let _ = write(dir, "cgroup.kill", "1");
                vec![dir.as_path()]
            }
            Cgroup::None(_) => return,
        };
        for dir in dirs {
            for _ in 0..200 {
                kill_members(dir);
                if fs::remove_dir(dir).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Freezes the cgroup at `dir` (`(file, frozen, thawed)`), waits until `done` says it is
/// frozen, sends every member `SIGKILL`, and thaws it: a frozen process forks nothing,
/// and each wakes into its pending kill. `false` when the cgroup could not be frozen.
fn freeze_kill(dir: &Path, (file, frozen, thawed): (&str, &str, &str), done: (&str, &str)) -> bool {
    if write(dir, file, frozen).is_err() {
        return false;
    }
    let is_frozen = || {
        fs::read_to_string(dir.join(done.0)).is_ok_and(|t| t.lines().any(|l| l.trim() == done.1))
    };
    let mut held = false;
    for _ in 0..200 {
        if is_frozen() {
            held = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    kill_members(dir);
    let _ = write(dir, file, thawed);
    held
}

fn is_v2() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

/// From the launcher, when the helper does not answer: kills every process of the
/// sandbox's cgroup `id` and removes it. Never moves the caller anywhere.
pub(crate) fn kill_named(id: &str) {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return;
    }
    let dirs: Vec<PathBuf> = if is_v2() {
        vec![Path::new(ROOT).join("aecl").join(id)]
    } else {
        ["pids", "memory", "freezer"]
            .iter()
            .map(|c| Path::new(ROOT).join(c).join("aecl").join(id))
            .collect()
    };
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let _ = write(dir, "cgroup.kill", "1");
        for _ in 0..200 {
            kill_members(dir);
            if fs::remove_dir(dir).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn create_v1(id: &str, limits: &Limits) -> Result<Cgroup, String> {
    let mut dirs = Vec::new();
    let homes = own_cgroups();
    for (controller, files) in [
        ("pids", vec![("pids.max", limits.pids.to_string())]),
        (
            "memory",
            vec![
                ("memory.limit_in_bytes", limits.memory_bytes.to_string()),
                // Memory plus swap: the same figure, so the limit cannot be escaped into swap.
                ("memory.memsw.limit_in_bytes", limits.memory_bytes.to_string()),
            ],
        ),
    ] {
        let base = Path::new(ROOT).join(controller);
        if !base.join("cgroup.procs").exists() {
            cleanup(&dirs);
            return Err(format!("no `{controller}` hierarchy at {}", base.display()));
        }
        let home = homes
            .iter()
            .find(|(names, _)| names.split(',').any(|n| n == controller))
            .map(|(_, path)| base.join(path.trim_start_matches('/')))
            .unwrap_or_else(|| base.clone());
        let dir = base.join("aecl").join(id);
        if let Err(e) = fs::create_dir_all(&dir) {
            cleanup(&dirs);
            return Err(format!("cannot create {}: {e}", dir.display()));
        }
        dirs.push((dir.clone(), home));
        for (file, value) in files {
            // Swap accounting may be off (no memsw files): the memory limit still holds.
            if file == "memory.memsw.limit_in_bytes" && !dir.join(file).exists() {
                continue;
            }
            if let Err(e) = write(&dir, file, &value) {
                cleanup(&dirs);
                return Err(format!("cannot set {file}: {e}"));
            }
        }
    }
    // The freezer, where the host has one, lets the tree be killed at once
    // (`kill_tree`); without it the kill goes in rounds.
    let freezer = Path::new(ROOT).join("freezer");
    if freezer.join("cgroup.procs").exists() {
        let home = homes
            .iter()
            .find(|(names, _)| names.split(',').any(|n| n == "freezer"))
            .map(|(_, path)| freezer.join(path.trim_start_matches('/')))
            .unwrap_or_else(|| freezer.clone());
        let dir = freezer.join("aecl").join(id);
        if fs::create_dir_all(&dir).is_ok() {
            dirs.push((dir, home));
        }
    }
    Ok(Cgroup::V1 { dirs })
}

fn create_v2(id: &str, limits: &Limits) -> Result<Cgroup, String> {
    let root = Path::new(ROOT);
    let controllers = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    for needed in ["pids", "memory"] {
        if !controllers.split_whitespace().any(|c| c == needed) {
            return Err(format!("the `{needed}` controller is not available"));
        }
    }
    let home = own_cgroups()
        .into_iter()
        .find(|(names, _)| names.is_empty())
        .map(|(_, path)| root.join(path.trim_start_matches('/')))
        .unwrap_or_else(|| root.to_path_buf());
    let parent = root.join("aecl");
    fs::create_dir_all(&parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    for dir in [root, parent.as_path()] {
        // A delegated subtree has them enabled already, by its owner above us.
        let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
        if ["pids", "memory"].iter().all(|c| enabled.split_whitespace().any(|e| e == *c)) {
            continue;
        }
        write(dir, "cgroup.subtree_control", "+pids +memory")
            .map_err(|e| format!("cannot delegate controllers in {}: {e}", dir.display()))?;
    }
    let dir = parent.join(id);
    fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let set = [
        ("pids.max", limits.pids.to_string()),
        ("memory.max", limits.memory_bytes.to_string()),
        ("memory.swap.max", "0".to_owned()),
    ];
    for (file, value) in set {
        if let Err(e) = write(&dir, file, &value) {
            let _ = fs::remove_dir(&dir);
            return Err(format!("cannot set {file}: {e}"));
        }
    }
    Ok(Cgroup::V2 { dir, home })
}

/// This process's cgroups: `(controllers, path)` per line of `/proc/self/cgroup`
/// (`controllers` is empty for the v2 hierarchy).
fn own_cgroups() -> Vec<(String, String)> {
    fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .collect()
}

/// Kills every process in the cgroup at `dir` but this one (a helper that could not
/// leave it is still a member).
fn kill_members(dir: &Path) {
    let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()).filter(|p| *p != me) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

fn cleanup(dirs: &[(PathBuf, PathBuf)]) {
    for (dir, _) in dirs {
        let _ = fs::remove_dir(dir);
    }
}

fn write(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    fs::write(dir.join(file), value)
}
