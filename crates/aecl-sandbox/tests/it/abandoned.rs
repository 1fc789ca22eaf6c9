//! A run whose caller stops waiting (its future dropped: the engine's timeout, a
//! cancelled request, a server shutting down) kills the sandbox's whole tree: nothing
//! goes on changing a bound host directory after the caller was told it ended. The red
//! team's F1: a command outlived the engine's answer by a minute, writing into a bind.
//! Nor is anything of it left on the host: no process, no cgroup.

use std::path::Path;
use std::time::Duration;

use aecl_sandbox::{Bind, Deadlines, Isolation, Request, Tier};

use crate::{harness, processes_naming, shell};

/// A command that appends a line to `dir/alive` every 50 ms, for a minute.
fn writer(dir: &Path, tier: Tier, isolation: Isolation) -> Request {
    let alive = dir.join("alive");
    let script = format!(
        "( while true; do echo x >> {0}; sleep 0.05; done ) & \
         while true; do echo x >> {0}; sleep 0.05; done",
        alive.display()
    );
    Request {
        binds: vec![Bind { path: dir.to_path_buf(), writable: true }],
        deadlines: Deadlines { call_ms: 60_000, run_ms: None, lifetime_ms: 60_000 },
        tier,
        isolation,
        ..shell(&script)
    }
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| text.lines().count())
}

/// Starts the writer, drops its run once it has written, and checks that the writing
/// stops and no process of the run is left.
fn dropping_the_run_kills_the_tree(tier: Tier, isolation: Isolation) {
    let harness = harness();
    let bind = tempfile::tempdir().unwrap();
    // The sandbox's fresh uid must be able to write the bind.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bind.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let alive = bind.path().join("alive");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut cgroups = Vec::new();
    runtime.block_on(async {
        let mut run = Box::pin(harness.sandbox.run(writer(bind.path(), tier, isolation)));
        // A bound for a loaded machine (gVisor boots first), not a measurement.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while lines(&alive) < 3 {
            tokio::select! {
                done = &mut run => panic!("{tier} {isolation:?}: the run ended: {done:?}"),
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            assert!(tokio::time::Instant::now() < deadline, "{tier}: the command never wrote");
        }
        // The run's cgroups on the host: the command's (process tier), or those of
        // gVisor's kernel, whose processes name the sandbox's directory (gvisor tier).
        let mut held = crate::aecl_cgroups_of(bind.path());
        held.extend(crate::aecl_cgroups_of(harness._runtime.path()));
        assert!(!held.is_empty(), "{tier} {isolation:?}: the run is in no cgroup of aecl's");
        cgroups.extend(held);
        // The caller gives up: the run is dropped, with the runtime still there.
        drop(run);
        tokio::time::sleep(Duration::from_millis(500)).await;
    });
    let after_drop = lines(&alive);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        lines(&alive),
        after_drop,
        "{tier} {isolation:?}: the command went on writing after its run was dropped"
    );
    let left = processes_naming(harness._runtime.path());
    assert!(left.is_empty(), "{tier}: processes of the run left on the host: {left:?}");
    let left = crate::cgroups_left(&cgroups);
    assert!(left.is_empty(), "{tier} {isolation:?}: cgroups of the run left on the host: {left:?}");
}

#[test]
fn a_dropped_run_kills_the_namespaces_sandbox() {
    dropping_the_run_kills_the_tree(Tier::Process, Isolation::Namespaces);
}

#[test]
fn a_dropped_run_kills_the_landlock_fallback() {
    dropping_the_run_kills_the_tree(Tier::Process, Isolation::Landlock);
}

#[test]
fn a_dropped_run_kills_the_gvisor_sandbox() {
    dropping_the_run_kills_the_tree(Tier::Gvisor, Isolation::Auto);
}

#[test]
fn the_longest_run_covers_the_binding_deadline_and_the_tiers_teardown() {
    let harness = harness();
    let deadlines = Deadlines { call_ms: 90_000, run_ms: Some(40_000), lifetime_ms: 300_000 };
    for tier in Tier::ALL {
        let longest = harness.sandbox.longest_run(tier, &deadlines);
        // The run's 40 s, and a teardown of seconds to a couple of minutes.
        assert!(longest > Duration::from_secs(40), "{tier}: {longest:?}");
        assert!(longest < Duration::from_secs(40 + 120), "{tier}: {longest:?}");
    }
}
