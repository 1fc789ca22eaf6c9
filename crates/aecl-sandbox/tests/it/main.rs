//! Integration tests of the sandbox: real commands in the real helper, on this kernel.

mod abandoned;
mod binds;
mod delegated;
mod escape;
mod fallback;
mod gvisor;
mod limits;
mod microvm;
mod parity;
mod run;

use std::path::PathBuf;

use aecl_sandbox::{Deadlines, Execution, Isolation, Request, Sandbox, SandboxConfig, Tier};

/// A launcher over the helper this test binary was built with, with sandbox directories
/// in a temporary directory of the test's.
pub(crate) struct Harness {
    pub(crate) sandbox: Sandbox,
    pub(crate) _runtime: tempfile::TempDir,
}

pub(crate) fn harness() -> Harness {
    let runtime = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(config(runtime.path(), 0)).unwrap();
    Harness { sandbox, _runtime: runtime }
}

/// The launcher's configuration over this test binary's helper, keeping `warm` sandboxes
/// per request shape in `runtime_dir`.
pub(crate) fn config(runtime_dir: &std::path::Path, warm: usize) -> SandboxConfig {
    SandboxConfig {
        helper: PathBuf::from(env!("CARGO_BIN_EXE_aecl-sandbox")),
        runtime_dir: runtime_dir.to_path_buf(),
        identity: None,
        warm,
        tiers: Default::default(),
    }
}

/// A request for `sh -c script` with a short call timeout.
pub(crate) fn shell(script: &str) -> Request {
    Request {
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
        deadlines: Deadlines { call_ms: 20_000, run_ms: None, lifetime_ms: 60_000 },
        output_cap: 1 << 20,
        ..Request::default()
    }
}

pub(crate) fn isolation_modes() -> [Isolation; 2] {
    [Isolation::Namespaces, Isolation::Landlock]
}

/// One way a tier runs: the process tier with namespaces and in its Landlock fallback,
/// the stronger tiers as they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    pub(crate) tier: Tier,
    pub(crate) isolation: Isolation,
}

pub(crate) fn modes(tier: Tier) -> Vec<Mode> {
    match tier {
        Tier::Process => isolation_modes().map(|isolation| Mode { tier, isolation }).to_vec(),
        _ => vec![Mode { tier, isolation: Isolation::Auto }],
    }
}

/// Runs `request` in its tier (a tier that does not work here fails the test: CI
/// installs runsc). Afterwards no process of the run is left on the host: none names
/// the run's directory (runsc's do, in their arguments); nor is any cgroup that held
/// them (watched while the run goes on).
pub(crate) fn run(request: Request) -> Execution {
    let harness = harness();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let tier = request.tier;
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (running, dir) = (running.clone(), harness._runtime.path().to_path_buf());
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                seen.extend(aecl_cgroups_of(&dir));
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            seen.into_iter().collect::<Vec<PathBuf>>()
        })
    };
    let done = runtime.block_on(harness.sandbox.run(request)).unwrap();
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(done.tier, tier);
    let left = processes_naming(harness._runtime.path());
    assert!(left.is_empty(), "processes of the run left on the host: {left:?}");
    let left = cgroups_left(&watcher.join().unwrap());
    assert!(left.is_empty(), "cgroups of the run left on the host: {left:?}");
    done
}

/// Runs `request` in its tier: what the launcher answered, an error included.
pub(crate) fn try_run(request: Request) -> Result<Execution, aecl_sandbox::SandboxError> {
    let harness = harness();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(harness.sandbox.run(request))
}

/// The host's processes whose command line holds `path`, after a grace period.
pub(crate) fn processes_naming(path: &std::path::Path) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let found: Vec<String> = naming(path).into_iter().map(|(_, cmdline)| cmdline).collect();
        if found.is_empty() || std::time::Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The host's processes whose command line holds `path` now: each one's `/proc`
/// directory and command line.
fn naming(path: &std::path::Path) -> Vec<(PathBuf, String)> {
    let needle = path.display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            found.push((entry.path(), cmdline));
        }
    }
    found
}

/// The cgroups aecl made (the process tier's `/aecl/ID`, the gvisor tier's `/aecl-ID`)
/// holding the host processes whose command line holds `path`, as directories.
pub(crate) fn aecl_cgroups_of(path: &std::path::Path) -> Vec<PathBuf> {
    let root = std::path::Path::new("/sys/fs/cgroup");
    let mut dirs = Vec::new();
    for (process, _) in naming(path) {
        let Ok(cgroups) = std::fs::read_to_string(process.join("cgroup")) else { continue };
        for line in cgroups.lines() {
            let mut fields = line.splitn(3, ':').skip(1);
            let (Some(controllers), Some(path)) = (fields.next(), fields.next()) else { continue };
            if !path.starts_with("/aecl") {
                continue;
            }
            // v1: the hierarchy's directory is named after its (first) controller; v2 is
            // the root, or `unified` beside v1 hierarchies.
            let hierarchy = match controllers.split(',').next() {
                Some(first) if !first.is_empty() => root.join(first.trim_start_matches("name=")),
                _ if root.join("cgroup.controllers").exists() => root.to_path_buf(),
                _ => root.join("unified"),
            };
            dirs.push(hierarchy.join(path.trim_start_matches('/')));
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Which of `dirs` are still there after a grace period.
pub(crate) fn cgroups_left(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left: Vec<PathBuf> = dirs.iter().filter(|d| d.exists()).cloned().collect();
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The processes of host user `uid` still there after a grace period (killed processes
/// leave `/proc` as soon as the kernel has reaped them).
pub(crate) fn processes_left(uid: u32) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let left = processes_of(uid);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn processes_of(uid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
        let owner = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|u| u.parse::<u32>().ok());
        if owner == Some(uid) {
            let state = status.lines().find(|l| l.starts_with("State:")).unwrap_or_default();
            found.push(format!("{} {state}", status.lines().next().unwrap_or_default()));
        }
    }
    found
}
