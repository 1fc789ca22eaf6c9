//! A delegated cgroup bounds an unprivileged sandbox: as root, the test makes the `aecl`
//! cgroup subtree (v2, or the `pids` and `memory` hierarchies of v1) and hands it to an
//! unprivileged uid, then runs a fork bomb under `--pids 64` with the limits enforced as
//! that uid. The run is not refused, the report names the cgroup, and the bomb ends at its
//! deadline with nothing left, its cgroup included. Where no hierarchy can be delegated
//! (not root, nothing mounted writable), the test says why and asserts the other half of
//! the rule: the same run is refused (exit 125) naming the limits and the fix.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aecl_sandbox::{Deadlines, Enforcement, Isolation, Limits, Outcome, Sandbox, SandboxConfig};

use crate::{processes_left, shell, text};

/// Says which half of the rule this host tested, in the test's output.
#[expect(clippy::print_stdout, reason = "the brief asks the test to say why in its output")]
fn say(line: &str) {
    println!("{line}");
}

/// The uid the subtree is delegated to (outside `limits.rs`'s range: those must not have one).
const DELEGATED_UID: u32 = 60_020;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The `aecl` directories handed to the uid; given back to root when dropped.
struct Delegation {
    owned: Vec<PathBuf>,
}

impl Drop for Delegation {
    fn drop(&mut self) {
        for path in &self.owned {
            let _ = std::os::unix::fs::chown(path, Some(0), Some(0));
        }
    }
}

/// Hands the `aecl` subtree (each hierarchy the helper uses) to `uid`: the directory and
/// the files a delegate writes (`cgroup.procs`, `tasks`, `cgroup.subtree_control`).
fn delegate(uid: u32) -> Result<Delegation, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("the test does not run as root, so it cannot delegate a cgroup".to_owned());
    }
    let root = Path::new(CGROUP_ROOT);
    let v2 = root.join("cgroup.controllers").exists();
    let bases: Vec<PathBuf> =
        if v2 { vec![root.to_path_buf()] } else { vec![root.join("pids"), root.join("memory")] };
    let mut delegation = Delegation { owned: Vec::new() };
    for base in bases {
        if !base.join("cgroup.procs").exists() {
            return Err(format!("no cgroup hierarchy is mounted at {}", base.display()));
        }
        let dir = base.join("aecl");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("{} is not writable: {e}", dir.display()))?;
        if v2 {
            std::fs::write(root.join("cgroup.subtree_control"), "+pids +memory")
                .map_err(|e| format!("cannot enable pids and memory at the root: {e}"))?;
            std::fs::write(dir.join("cgroup.subtree_control"), "+pids +memory")
                .map_err(|e| format!("cannot enable pids and memory in aecl: {e}"))?;
        }
        for name in ["", "cgroup.procs", "tasks", "cgroup.subtree_control"] {
            let path = if name.is_empty() { dir.clone() } else { dir.join(name) };
            if !path.exists() {
                continue;
            }
            std::os::unix::fs::chown(&path, Some(uid), Some(uid))
                .map_err(|e| format!("cannot hand {} to uid {uid}: {e}", path.display()))?;
            delegation.owned.push(path);
        }
    }
    Ok(delegation)
}

/// A sandbox whose helper runs as `uid` through `setpriv`, as for an unprivileged `aecl`.
fn launcher(uid: u32, dir: &Path) -> Sandbox {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper = env!("CARGO_BIN_EXE_aecl-sandbox");
    let wrapper = dir.join("helper.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec /usr/bin/setpriv --reuid={uid} --regid={uid} --clear-groups {helper}\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let runtime = dir.join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
    Sandbox::new(SandboxConfig {
        helper: wrapper,
        runtime_dir: runtime,
        identity: Some((uid, uid)),
        warm: 0,
        tiers: Default::default(),
    })
    .unwrap()
}

#[test]
fn a_delegated_cgroup_bounds_a_fork_bomb_or_the_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = launcher(DELEGATED_UID, dir.path());
    // The shell forks once, before the bomb has taken any process (`bomb | bomb &` in the
    // shell itself forked twice, and the second fork could meet the limit: the shell then
    // exited 2 before the deadline), and `exec` needs no fork.
    let mut request = shell("bomb() { bomb | bomb & }; (bomb) & exec sleep 30");
    request.isolation = Isolation::Namespaces;
    request.enforcement = Enforcement::Enforced;
    request.limits = Limits { pids: 64, memory_bytes: 256 << 20, ..Limits::default() };
    request.deadlines = Deadlines { call_ms: 3_000, run_ms: None, lifetime_ms: 60_000 };
    let delegation = delegate(DELEGATED_UID);
    let cgroups_before = cgroups_of(DELEGATED_UID);
    let started = Instant::now();
    let done = {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(sandbox.run(request)).unwrap()
    };
    let took = started.elapsed();
    match &delegation {
        Ok(_) => {
            say(&format!("delegated cgroup: {} ({:?})", done.layers.cgroup, done.limits_reached));
            // The cgroup, not only the rlimit of the sandbox's user namespace, refused forks.
            assert!(
                done.limits_reached.iter().any(|l| l.contains("process limit (64)")),
                "{:?}",
                done.limits_reached
            );
            assert!(
                done.layers.cgroup.starts_with("v1") || done.layers.cgroup.starts_with("v2"),
                "the delegated cgroup was not used: {:?} {:?}",
                done.layers,
                done.outcome
            );
            assert!(done.layers.limits_unenforced.is_empty(), "{:?}", done.layers);
            assert!(
                [124, 137].contains(&done.outcome.exit_code()),
                "{:?} {}",
                done.outcome,
                text(&done.stderr)
            );
            assert!(took < Duration::from_secs(10), "a 3 s deadline took {took:?}");
        }
        Err(why) => {
            say(&format!("no delegated cgroup here ({why}): asserting that the run is refused"));
            let Outcome::Setup { error } = &done.outcome else {
                panic!("not refused without a cgroup: {:?}", done.outcome);
            };
            assert_eq!(done.outcome.exit_code(), 125);
            assert!(error.contains("no cgroup") && error.contains("delegate a cgroup"), "{error}");
        }
    }
    if delegation.is_ok() {
        // The command runs as the uid the subtree is delegated to, whose helper may move
        // itself into the subtree's `aecl`: the command may not. It sees no cgroup file
        // system, cannot mount one, and its cgroups are its namespace's root.
        let mut escape = shell(
            "echo $$ > /sys/fs/cgroup/pids/aecl/cgroup.procs && echo escaped; \
             mkdir -p /tmp/cg && mount -t cgroup -o pids none /tmp/cg && echo mounted; \
             cat /proc/self/cgroup",
        );
        escape.isolation = Isolation::Namespaces;
        escape.enforcement = Enforcement::Enforced;
        escape.limits = Limits { pids: 64, memory_bytes: 256 << 20, ..Limits::default() };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let done = runtime.block_on(sandbox.run(escape)).unwrap();
        let out = text(&done.stdout);
        assert!(!out.contains("escaped") && !out.contains("mounted"), "{out}");
        assert!(out.lines().any(|l| l.ends_with(":pids:/")), "{out}");
        assert!(out.lines().all(|l| l.ends_with(":/")), "{out}");
    }
    // The helper, unprivileged, removed its cgroups: none of the uid's is left.
    let made_here = |dirs: Vec<PathBuf>| -> Vec<PathBuf> {
        dirs.into_iter().filter(|d| !cgroups_before.contains(d)).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !made_here(cgroups_of(DELEGATED_UID)).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = made_here(cgroups_of(DELEGATED_UID));
    assert!(left.is_empty(), "cgroups of the run left on the host: {left:?}");
    drop(delegation);
    let left = processes_left(DELEGATED_UID);
    assert!(left.is_empty(), "{left:?}");
}

/// The cgroups below each hierarchy's `aecl` that `uid` owns (those its helper made).
fn cgroups_of(uid: u32) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let root = Path::new(CGROUP_ROOT);
    [root.join("aecl"), root.join("pids/aecl"), root.join("memory/aecl")]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .map(|entry| entry.path())
        .filter(|path| std::fs::metadata(path).is_ok_and(|m| m.is_dir() && m.uid() == uid))
        .collect()
}
