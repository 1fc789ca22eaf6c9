//! Spawn-to-exit of `true`: in aecl's full process tier (launcher, helper, seven
//! namespaces, read-only root, Landlock, seccomp, rlimits, cgroup), built on the call's
//! path (`cold`) and built ahead of time (`warm`, a sandbox of the pool: the call hands
//! the command to a fully restricted sandbox and waits for its end); in Debian's `bwrap`
//! with the closest isolation it offers; and as a plain fork/exec; in the same run. Each
//! run is timed on its own; the table gives the median, p90 and p99 and the median as a
//! multiple of fork/exec's. The warm case waits, untimed, for the pool's replacement
//! before each run: it measures a gateway whose pool keeps up.
//!
//! The microvm tier is measured under QEMU's software emulation (TCG), labelled
//! `EMULATED`: KVM is not available on every host this runs on (not on the PVM hosts CI
//! uses), so its figure is the emulated one, an upper bound and not KVM's cost.
//!
//! The stronger tiers run the same request: `gvisor` (runsc, with the platform its probe
//! chose) 20 times, each a fresh container from `runsc run` to its exit.
//!
//! `cargo bench -p aecl-sandbox --bench spawn` runs 200 of each (20 of the gvisor tier);
//! under `cargo test --benches` it runs 5 (2), so the suite only checks that it works.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use aecl_sandbox::{Deadlines, Isolation, Request, Sandbox, SandboxConfig};

fn percentiles(mut samples: Vec<u64>) -> (u64, u64, u64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.9), at(0.99))
}

fn measure(iterations: usize, mut run: impl FnMut()) -> (u64, u64, u64) {
    for _ in 0..iterations / 10 + 1 {
        run();
    }
    let samples = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_micros() as u64
        })
        .collect();
    percentiles(samples)
}

/// bwrap with what it has of our isolation: every namespace, a read-only /usr with the
/// merged-/usr symlinks, fresh /proc and /dev, tmpfs /tmp and work dir, a cleared
/// environment, a new session, death with the parent. It has no Landlock, no cgroup and
/// (without a filter passed in) no seccomp.
fn bwrap() -> Command {
    let mut command = Command::new("bwrap");
    command.args(["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]);
    command.args(["--setenv", "PATH", "/usr/bin:/bin", "--ro-bind", "/usr", "/usr"]);
    for dir in ["bin", "sbin", "lib", "lib64"] {
        let host = PathBuf::from("/").join(dir);
        match std::fs::read_link(&host) {
            Ok(target) => command.args([
                "--symlink",
                &target.display().to_string(),
                &host.display().to_string(),
            ]),
            Err(_) if host.is_dir() => command.args([
                "--ro-bind",
                &host.display().to_string(),
                &host.display().to_string(),
            ]),
            Err(_) => &mut command,
        };
    }
    command.args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/work"]);
    command.args(["--chdir", "/work", "--remount-ro", "/", "/usr/bin/true"]);
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    command
}

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let iterations = if full { 200 } else { 5 };
    let runtime_dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(SandboxConfig {
        helper: PathBuf::from(env!("CARGO_BIN_EXE_aecl-sandbox")),
        runtime_dir: runtime_dir.path().to_path_buf(),
        identity: None,
        warm: 0,
        tiers: Default::default(),
    })
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let request = Request {
        argv: vec!["/usr/bin/true".into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        deadlines: Deadlines { call_ms: 10_000, run_ms: None, lifetime_ms: 60_000 },
        isolation: Isolation::Namespaces,
        output_cap: 1 << 16,
        ..Request::default()
    };
    // Once first, to show what the measured runs ran with.
    let first = runtime.block_on(sandbox.run(request.clone())).unwrap();
    assert_eq!(first.outcome, aecl_sandbox::Outcome::Exited { code: 0 }, "{first:?}");
    println!("aecl layers: {:?}", first.layers);
    println!(
        "{:<26} {:>10} {:>10} {:>10} {:>10}",
        "case", "p50 µs", "p90 µs", "p99 µs", "p50/fork"
    );
    let fork = measure(iterations, || {
        let status = Command::new("/usr/bin/true").stdin(Stdio::null()).status().unwrap();
        assert!(status.success());
    });
    let row = |name: &str, (p50, p90, p99): (u64, u64, u64)| {
        println!(
            "{name:<26} {p50:>10} {p90:>10} {p99:>10} {:>10.1}",
            p50 as f64 / fork.0.max(1) as f64
        );
    };
    row("fork_exec_true", fork);
    let aecl = measure(iterations, || {
        let done = runtime.block_on(sandbox.run(request.clone())).unwrap();
        assert_eq!(done.outcome, aecl_sandbox::Outcome::Exited { code: 0 });
    });
    row("aecl_process_tier_cold", aecl);
    let pool = Sandbox::new(SandboxConfig {
        helper: PathBuf::from(env!("CARGO_BIN_EXE_aecl-sandbox")),
        runtime_dir: runtime_dir.path().to_path_buf(),
        identity: None,
        warm: 1,
        tiers: Default::default(),
    })
    .unwrap();
    let warm_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    warm_runtime.block_on(pool.prepare(&request)).unwrap();
    let mut samples = Vec::new();
    let mut inside = Vec::new();
    for i in 0..iterations + iterations / 10 + 1 {
        // The replacement is built by a task of this (single-threaded) runtime.
        runtime.block_on(async {
            while pool.warm_for(&request) == 0 {
                tokio::time::sleep(std::time::Duration::from_micros(200)).await;
            }
        });
        let start = Instant::now();
        let done = runtime.block_on(pool.run(request.clone())).unwrap();
        let spent = start.elapsed().as_micros() as u64;
        assert_eq!(done.outcome, aecl_sandbox::Outcome::Exited { code: 0 });
        if i > iterations / 10 {
            samples.push(spent);
            inside.push(done.elapsed_ms);
        }
    }
    row("aecl_process_tier_warm", percentiles(samples));
    inside.sort_unstable();
    println!(
        "  (the helper's own count, hand-over to report, median: {} ms)",
        inside[inside.len() / 2]
    );
    let gvisor = runtime.block_on(sandbox.tier(aecl_sandbox::Tier::Gvisor));
    if gvisor.available {
        let request = Request { tier: aecl_sandbox::Tier::Gvisor, ..request.clone() };
        let runs = if full { 20 } else { 2 };
        let gvisor_tier = measure(runs, || {
            let done = runtime.block_on(sandbox.run(request.clone())).unwrap();
            assert_eq!(done.outcome, aecl_sandbox::Outcome::Exited { code: 0 });
        });
        row("aecl_gvisor_tier", gvisor_tier);
        println!("  ({}; {runs} runs)", gvisor.detail);
    } else {
        println!("aecl_gvisor_tier: unavailable: {}", gvisor.detail);
    }
    if Command::new("bwrap")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        let bwrap = measure(iterations, || {
            let status = bwrap().status().unwrap();
            assert!(status.success(), "bwrap failed");
        });
        row("bwrap_true", bwrap);
    } else {
        println!("bwrap_true: bwrap is not installed (Debian's `bubblewrap`)");
    }
    // Each call boots its own guest: 20 of them with `--bench`, 2 under `cargo test`.
    match microvm_emulated(&runtime, runtime_dir.path(), if full { 20 } else { 2 }) {
        Ok((figures, inside)) => {
            row("microvm_EMULATED_tcg", figures);
            println!(
                "  (emulated, TCG: KVM is not available here; not the KVM cost. Hand-over to \
                 answer, median: {inside} ms; the rest is QEMU's start and the guest's boot)"
            );
        }
        Err(why) => println!("microvm_EMULATED_tcg: not measured: {why}"),
    }
}

/// Spawn-to-exit of `true` in the microvm tier under QEMU's software emulation (TCG),
/// with the kernel `cargo xtask microvm-kernel` fetches and Debian's static busybox.
fn microvm_emulated(
    runtime: &tokio::runtime::Runtime,
    runtime_dir: &std::path::Path,
    iterations: usize,
) -> Result<((u64, u64, u64), u64), String> {
    let kernel = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../microvm-guest/vmlinuz");
    if !kernel.is_file() {
        return Err(format!(
            "no guest kernel at {} (cargo xtask microvm-kernel)",
            kernel.display()
        ));
    }
    let image = tempfile::tempdir().map_err(|e| e.to_string())?;
    let busybox = std::path::Path::new("/usr/bin/busybox");
    let mut config = aecl_sandbox::build_microvm_image(&kernel, busybox, image.path())
        .map_err(|e| e.to_string())?;
    config.accel = aecl_sandbox::Accel::TcgEmulated;
    config.boot_timeout = std::time::Duration::from_secs(180);
    let sandbox = Sandbox::new(SandboxConfig {
        helper: PathBuf::from(env!("CARGO_BIN_EXE_aecl-sandbox")),
        runtime_dir: runtime_dir.to_path_buf(),
        identity: None,
        warm: 0,
        tiers: aecl_sandbox::TierConfig { microvm: Some(config), ..Default::default() },
    })
    .map_err(|e| e.to_string())?;
    let status = runtime.block_on(sandbox.tier(aecl_sandbox::Tier::Microvm));
    if !status.available {
        return Err(status.detail);
    }
    let request = Request {
        argv: vec!["true".into()],
        env: vec![("PATH".into(), "/bin".into())],
        deadlines: Deadlines { call_ms: 60_000, run_ms: None, lifetime_ms: 60_000 },
        output_cap: 1 << 16,
        tier: aecl_sandbox::Tier::Microvm,
        ..Request::default()
    };
    let mut inside = Vec::new();
    let figures = measure(iterations, || {
        let done = runtime.block_on(sandbox.run(request.clone())).unwrap();
        assert_eq!(done.outcome, aecl_sandbox::Outcome::Exited { code: 0 }, "{done:?}");
        inside.push(done.elapsed_ms);
    });
    inside.sort_unstable();
    Ok((figures, inside[inside.len() / 2]))
}
