//! Limits are enforced or refused, never silently dropped: the helper run as an
//! unprivileged user (no cgroup can be made) refuses the limits it cannot hold unless the
//! request says `best_effort`; the process limit holds without a cgroup where
//! `RLIMIT_NPROC` counts only the sandbox; the work dir bounds its files as well as its
//! bytes; and the deadline holds even when the helper itself hangs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aecl_sandbox::{
    Deadlines, Enforcement, Execution, Isolation, Limits, Outcome, Request, Sandbox, SandboxConfig,
};

use crate::{isolation_modes, processes_left, shell, text};

/// Unprivileged host uids the helper runs as, one per test here and in `fallback.rs`
/// (tests run in parallel, and each counts the processes its uid left behind). Outside
/// the launcher's range of fresh uids: like an unprivileged `aecl`, the sandbox shares the
/// launcher's uid.
const UIDS: std::ops::Range<u32> = 60_001..60_010;

/// A launcher whose helper runs as an unprivileged `uid` (through `setpriv`), as it does
/// for an unprivileged `aecl`: no cgroup can be made, user namespaces still can.
pub(crate) struct Unprivileged {
    pub(crate) sandbox: Sandbox,
    pub(crate) uid: u32,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) fn unprivileged(uid: u32) -> Unprivileged {
    assert!(UIDS.contains(&uid));
    let dir = tempfile::tempdir().unwrap();
    // Traversable by the helper's user: the sandbox directories are made inside.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper = env!("CARGO_BIN_EXE_aecl-sandbox");
    let wrapper = wrapper(
        dir.path(),
        &format!("exec /usr/bin/setpriv --reuid={uid} --regid={uid} --clear-groups {helper}"),
    );
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = SandboxConfig {
        helper: wrapper,
        runtime_dir: runtime,
        identity: Some((uid, uid)),
        warm: 0,
        tiers: Default::default(),
    };
    Unprivileged { sandbox: Sandbox::new(config).unwrap(), uid, dir }
}

/// An executable shell script `body` in `dir`, standing in for the helper.
fn wrapper(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("helper.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A command that sleeps for long, naming `dir` in its command line (one process).
fn hang(dir: &Path) -> String {
    format!("exec /usr/bin/python3 -c 'import time; time.sleep(1000)' {}", dir.display())
}

pub(crate) fn run_with(sandbox: &Sandbox, request: Request) -> Execution {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(sandbox.run(request)).unwrap()
}

fn limited(script: &str, isolation: Isolation, enforcement: Enforcement) -> Request {
    let mut request = shell(script);
    request.isolation = isolation;
    request.enforcement = enforcement;
    request.limits = Limits { pids: 64, memory_bytes: 256 << 20, ..Limits::default() };
    request
}

#[test]
fn without_a_cgroup_the_limits_are_refused_naming_each_and_the_fix() {
    let launcher = unprivileged(60_001);
    for isolation in isolation_modes() {
        let done =
            run_with(&launcher.sandbox, limited("echo ran", isolation, Enforcement::Enforced));
        let Outcome::Setup { error } = &done.outcome else {
            panic!("{isolation:?}: not refused: {:?} {}", done.outcome, text(&done.stdout));
        };
        assert_eq!(done.outcome.exit_code(), 125);
        assert!(!text(&done.stdout).contains("ran"), "{isolation:?}: the command ran");
        assert!(error.contains("memory (256 MiB): no cgroup"), "{isolation:?}: {error}");
        assert!(error.contains("best_effort") && error.contains("delegate a cgroup"), "{error}");
        match isolation {
            // Its own user namespace: RLIMIT_NPROC counts only the sandbox's processes.
            Isolation::Namespaces => assert!(!error.contains("pids (64)"), "{error}"),
            // The fallback under the launcher's own uid: no bound of its own, and no
            // tmpfs can be mounted for the work dir.
            _ => {
                assert!(error.contains("pids (64)"), "{isolation:?}: {error}");
                assert!(error.contains("work size (64 MiB)"), "{isolation:?}: {error}");
            }
        }
    }
}

#[test]
fn best_effort_runs_and_names_what_it_could_not_enforce() {
    let launcher = unprivileged(60_002);
    for isolation in isolation_modes() {
        let done =
            run_with(&launcher.sandbox, limited("echo ran", isolation, Enforcement::BestEffort));
        assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{isolation:?}: {done:?}");
        assert_eq!(text(&done.stdout), "ran\n");
        let unenforced = done.layers.limits_unenforced.join("; ");
        assert!(unenforced.contains("memory (256 MiB)"), "{isolation:?}: {unenforced}");
        assert!(done.layers.cgroup.starts_with("none"), "{:?}", done.layers);
    }
}

#[test]
fn the_process_limit_holds_without_a_cgroup_in_the_sandboxs_own_user_namespace() {
    let launcher = unprivileged(60_003);
    let script = "exec /usr/bin/python3 -c \"
import os, time
forked = 0
try:
    for _ in range(500):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        forked += 1
except OSError as e:
    print('refused', e.errno)
print('forked', forked)
\"";
    let done = run_with(
        &launcher.sandbox,
        limited(script, Isolation::Namespaces, Enforcement::BestEffort),
    );
    let out = text(&done.stdout);
    assert!(
        out.contains("refused 11"),
        "no fork was refused (EAGAIN): {out} {}",
        text(&done.stderr)
    );
    let forked: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("forked "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!((10..64).contains(&forked), "{forked} processes under a limit of 64");
    assert!(!done.layers.limits_unenforced.iter().any(|l| l.starts_with("pids")));
    let left = processes_left(launcher.uid);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_fork_bomb_without_a_cgroup_ends_at_its_deadline_with_nothing_left() {
    let launcher = unprivileged(60_004);
    // The bomb starts in a subshell, the shell's only fork: a shell exits (status 2) on a
    // fork it cannot make, which would end the run before its deadline once the bomb has
    // taken every process. `exec`: the sleep needs no fork either.
    let mut request = limited(
        "bomb() { bomb | bomb & }; (bomb); exec sleep 30",
        Isolation::Namespaces,
        Enforcement::BestEffort,
    );
    request.deadlines = Deadlines { call_ms: 3_000, run_ms: None, lifetime_ms: 60_000 };
    let started = Instant::now();
    let done = run_with(&launcher.sandbox, request);
    let took = started.elapsed();
    assert!(matches!(done.outcome, Outcome::TimedOut { .. }), "{:?}", done.outcome);
    assert_eq!(done.outcome.exit_code(), 124);
    assert!(took < Duration::from_secs(8), "a 3 s deadline took {took:?}");
    let left = processes_left(launcher.uid);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_timeout_holds_in_the_unprivileged_mode() {
    let launcher = unprivileged(60_005);
    for isolation in isolation_modes() {
        let mut request = limited(
            "sleep 1000 & (sleep 1000 &) ; sh -c 'sleep 1000'",
            isolation,
            Enforcement::BestEffort,
        );
        request.deadlines = Deadlines { call_ms: 1_500, run_ms: None, lifetime_ms: 60_000 };
        let started = Instant::now();
        let done = run_with(&launcher.sandbox, request);
        match done.outcome {
            Outcome::TimedOut { after_ms, .. } => {
                assert!((1_500..5_000).contains(&after_ms), "{isolation:?}: {after_ms}")
            }
            other => panic!("{isolation:?}: {other:?} {}", text(&done.stderr)),
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{isolation:?}: {:?}",
            started.elapsed()
        );
    }
    let left = processes_left(launcher.uid);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn the_launcher_enforces_the_deadline_when_the_helper_never_builds() {
    let dir = tempfile::tempdir().unwrap();
    // A helper that hangs before the sandbox is built, holding stdout open.
    let helper = wrapper(dir.path(), &hang(dir.path()));
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    let config = SandboxConfig {
        helper,
        runtime_dir: runtime.clone(),
        identity: None,
        warm: 0,
        tiers: Default::default(),
    };
    let sandbox = Sandbox::new(config).unwrap();
    let mut request = shell("echo never");
    request.deadlines = Deadlines { call_ms: 1_000, run_ms: None, lifetime_ms: 60_000 };
    let started = Instant::now();
    let done = run_with(&sandbox, request);
    assert!(matches!(done.outcome, Outcome::TimedOut { .. }), "{:?}", done.outcome);
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    let left = crate::processes_naming(dir.path());
    assert!(left.is_empty(), "the hung helper was left running: {left:?}");
}

#[test]
fn the_launcher_enforces_the_deadline_when_the_helper_never_reports() {
    let dir = tempfile::tempdir().unwrap();
    // Says the sandbox is built, then neither reports nor closes its output.
    let helper = wrapper(dir.path(), &format!("printf r >&3; {}", hang(dir.path())));
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    let config = SandboxConfig {
        helper,
        runtime_dir: runtime,
        identity: None,
        warm: 0,
        tiers: Default::default(),
    };
    let sandbox = Sandbox::new(config).unwrap();
    let mut request = shell("echo never");
    request.deadlines = Deadlines { call_ms: 1_000, run_ms: None, lifetime_ms: 60_000 };
    let started = Instant::now();
    let done = run_with(&sandbox, request);
    match done.outcome {
        Outcome::TimedOut { after_ms, .. } => assert!(after_ms >= 1_000, "{after_ms}"),
        other => panic!("{other:?}"),
    }
    // The deadline, the helper's grace (2 s) and the output's (1 s) at most.
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    let left = crate::processes_naming(dir.path());
    assert!(left.is_empty(), "the hung helper was left running: {left:?}");
}

#[test]
fn the_work_dir_bounds_its_files_as_well_as_its_bytes() {
    let script = "exec /usr/bin/python3 -c \"
import os
made = 0
try:
    for i in range(100000):
        open('f%d' % i, 'w').close()
        made += 1
except OSError as e:
    print('refused', e.errno)
print('made', made)
\"";
    for isolation in isolation_modes() {
        let mut request = shell(script);
        request.isolation = isolation;
        request.limits = Limits { work_bytes: 8 << 20, ..Limits::default() };
        let done = crate::run(request);
        let out = text(&done.stdout);
        // ENOSPC once the tmpfs's 2048 inodes are used.
        assert!(out.contains("refused 28"), "{isolation:?}: {out} {}", text(&done.stderr));
        let made: u64 = out
            .lines()
            .find_map(|l| l.strip_prefix("made "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{out}"));
        assert!(made <= 2048, "{isolation:?}: {made} files in an 8 MiB work dir");
        assert!(done.layers.limits_unenforced.is_empty(), "{:?}", done.layers);
    }
}
