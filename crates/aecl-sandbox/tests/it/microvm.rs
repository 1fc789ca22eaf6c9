//! The `microvm` tier end to end, with Debian's cloud kernel (fetched into
//! `target/microvm-guest/` by `cargo xtask microvm-kernel`, which `cargo xtask ci` runs)
//! and an initramfs built here around Debian's static busybox.
//!
//! Tests named `emulated_*` boot the guest under QEMU's software emulation (TCG): they
//! check the guest protocol, the deadlines and the caps for real, but they are not
//! evidence of the tier's isolation, which is KVM's. The probe test runs the tier as
//! production does, under KVM, and checks that what it reports is consistent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aecl_sandbox::{
    Accel, Bind, Deadlines, Execution, MicrovmConfig, Outcome, Request, Sandbox, SandboxConfig,
    SandboxError, Tier, TierConfig, TimeLimit,
};

use crate::text;

/// Generous: two test binaries may boot emulated guests at once on a small CI machine.
const EMULATED_BOOT_TIMEOUT: Duration = Duration::from_secs(180);

/// The kernel `cargo xtask microvm-kernel` fetched, or `AECL_TEST_MICROVM_KERNEL`.
fn kernel() -> PathBuf {
    let kernel = std::env::var_os("AECL_TEST_MICROVM_KERNEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("../microvm-guest/vmlinuz"));
    assert!(
        kernel.is_file(),
        "no guest kernel at `{}`: run `cargo xtask microvm-kernel` (`cargo xtask ci` does), \
         or set AECL_TEST_MICROVM_KERNEL to a bzImage",
        kernel.display()
    );
    kernel
}

/// A guest image in a fresh directory, from the test kernel and /usr/bin/busybox.
fn image() -> (MicrovmConfig, tempfile::TempDir) {
    let qemu_installed = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join("qemu-system-x86_64").is_file())
    });
    assert!(
        qemu_installed,
        "qemu-system-x86_64 is not installed: run `cargo xtask microvm-kernel` (Debian: \
         qemu-system-x86 from bookworm-backports)"
    );
    let busybox = Path::new("/usr/bin/busybox");
    assert!(busybox.is_file(), "no /usr/bin/busybox: install Debian's busybox-static");
    let dir = tempfile::tempdir().unwrap();
    let config = aecl_sandbox::build_microvm_image(&kernel(), busybox, dir.path()).unwrap();
    (config, dir)
}

fn sandbox(microvm: Option<MicrovmConfig>) -> (Sandbox, tempfile::TempDir) {
    let runtime = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        tiers: TierConfig { microvm, ..TierConfig::default() },
        ..crate::config(runtime.path(), 0)
    };
    (Sandbox::new(config).unwrap(), runtime)
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

fn request(argv: &[&str]) -> Request {
    Request {
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
        env: vec![("PATH".to_owned(), "/bin".to_owned())],
        deadlines: Deadlines { call_ms: 60_000, run_ms: None, lifetime_ms: 120_000 },
        output_cap: 1 << 20,
        tier: Tier::Microvm,
        ..Request::default()
    }
}

/// Runs `request` in an emulated guest built for this test.
fn run_emulated(request: Request) -> Execution {
    let (mut config, _image) = image();
    config.accel = Accel::TcgEmulated;
    config.boot_timeout = EMULATED_BOOT_TIMEOUT;
    let (sandbox, _runtime) = sandbox(Some(config));
    let done = block_on(sandbox.run(request)).unwrap();
    assert_eq!(done.tier, Tier::Microvm);
    assert_eq!(done.layers.mode, "microvm");
    let runtime = done.layers.runtime.clone().unwrap_or_default();
    assert!(runtime.contains("accel tcg-emulated") && runtime.contains("not isolation evidence"));
    done
}

#[test]
fn emulated_microvm_returns_stdout_stderr_and_exit_code_byte_exact() {
    let mut stdin: Vec<u8> = (0..=255u8).collect();
    stdin.extend_from_slice(b"\0\r\n\n");
    let mut request = request(&[
        "/bin/sh",
        "-c",
        "cat; printf '\\000err\\377\\n\\n' >&2; printf '%s|' \"$@\"; printf '%s' \"$MY_VAR\"; \
         exit 42",
        "sh",
        "a b",
        "",
        "c\nd\n",
    ]);
    request.env.push(("MY_VAR".to_owned(), "x y=z\n".to_owned()));
    request.stdin = stdin.clone();
    let done = run_emulated(request);
    assert_eq!(done.outcome, Outcome::Exited { code: 42 }, "{}", text(&done.stderr));
    let mut expected = stdin;
    expected.extend_from_slice(b"a b||c\nd\n|x y=z\n");
    assert_eq!(done.stdout, expected);
    assert_eq!(done.stderr, b"\0err\xff\n\n");
    assert_eq!((done.stdout_dropped, done.stderr_dropped), (0, 0));
}

#[test]
fn emulated_microvm_passes_exactly_the_environment_given() {
    let mut request = request(&["env"]);
    request.env.push(("A_VALUE".to_owned(), "with spaces".to_owned()));
    let done = run_emulated(request);
    assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{}", text(&done.stderr));
    let mut lines: Vec<&str> = std::str::from_utf8(&done.stdout).unwrap().lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["A_VALUE=with spaces", "PATH=/bin"]);
}

#[test]
fn emulated_microvm_runs_the_command_unprivileged_without_a_network_device() {
    let done = run_emulated(request(&["/bin/sh", "-c", "id -u; pwd; ls /sys/class/net"]));
    assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{}", text(&done.stderr));
    assert_eq!(text(&done.stdout), "1000\n/work\nlo\n");
}

#[test]
fn emulated_microvm_caps_output_and_counts_what_it_dropped() {
    let mut request = request(&["/bin/sh", "-c", "head -c 100000 /dev/zero; echo err >&2"]);
    request.output_cap = 1000;
    let done = run_emulated(request);
    assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{}", text(&done.stderr));
    assert_eq!(done.stdout, vec![0u8; 1000]);
    assert_eq!(done.stdout_dropped, 99_000);
    assert_eq!((text(&done.stderr).as_str(), done.stderr_dropped), ("err\n", 0));
}

#[test]
fn emulated_microvm_call_deadline_kills_the_guest() {
    let (mut config, image) = image();
    config.accel = Accel::TcgEmulated;
    config.boot_timeout = EMULATED_BOOT_TIMEOUT;
    let (sandbox, _runtime) = sandbox(Some(config));
    let mut request = request(&["/bin/sh", "-c", "sleep 1000; echo never"]);
    request.deadlines = Deadlines { call_ms: 3_000, run_ms: Some(60_000), lifetime_ms: 60_000 };
    let done = block_on(sandbox.run(request)).unwrap();
    match done.outcome {
        Outcome::TimedOut { limit, after_ms } => {
            assert_eq!(limit, TimeLimit::Call);
            assert!(after_ms >= 3_000, "{after_ms}");
        }
        other => panic!("{other:?}"),
    }
    assert!(done.stdout.is_empty());
    // QEMU is gone: no process still has this test's image on its command line.
    let image = image.path().to_string_lossy().into_owned();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&image))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn emulated_microvm_refuses_binds_and_allowed_hosts_it_cannot_give() {
    let (mut config, _image) = image();
    config.accel = Accel::TcgEmulated;
    config.boot_timeout = EMULATED_BOOT_TIMEOUT;
    let (sandbox, _runtime) = sandbox(Some(config));
    let mut with_bind = request(&["true"]);
    with_bind.binds.push(Bind { path: "/etc".into(), writable: false });
    let mut with_host = request(&["true"]);
    with_host.allow_hosts.push(aecl_sandbox::HostPattern::parse("example.com").unwrap());
    let mut bad_program = request(&["A=B"]);
    bad_program.argv.push("x".to_owned());
    for (request, expected) in [
        (with_bind, "shares no host directory"),
        (with_host, "no network device"),
        (bad_program, "without `=`"),
    ] {
        let done = block_on(sandbox.run(request)).unwrap();
        match done.outcome {
            Outcome::Setup { error } => assert!(error.contains(expected), "{error}"),
            other => panic!("{expected}: {other:?}"),
        }
    }
}

#[test]
fn microvm_without_an_image_is_unavailable_and_says_how_to_configure_one() {
    let (sandbox, _runtime) = sandbox(None);
    let status = block_on(sandbox.tier(Tier::Microvm));
    assert!(!status.available);
    assert!(status.detail.contains("aecl sandbox microvm-image"), "{}", status.detail);
    assert!(status.detail.contains("AECL_MICROVM_IMAGE"), "{}", status.detail);
    match block_on(sandbox.run(request(&["true"]))) {
        Err(SandboxError::TierUnavailable { tier: Tier::Microvm, why }) => {
            assert_eq!(why, status.detail);
        }
        other => panic!("{other:?}"),
    }
}

/// The probe under KVM, as production runs it. Where KVM boots the guest, the tier must
/// say so and run a command byte-exact; where it does not (no /dev/kvm, or a KVM that
/// ordinary guest kernels cannot run on, as on a PVM host), the tier must be unavailable
/// with the specific reason, and a run must be refused with that reason.
#[test]
fn microvm_probe_under_kvm_is_consistent_with_this_host() {
    let (config, _image) = image();
    assert_eq!(config.accel, Accel::Kvm);
    let (sandbox, _runtime) = sandbox(Some(config));
    let status = block_on(sandbox.tier(Tier::Microvm));
    let mut request = request(&["/bin/sh", "-c", "cat; echo err >&2; exit 5"]);
    request.stdin = b"in\0put\n".to_vec();
    let done = block_on(sandbox.run(request));
    if status.available {
        assert!(status.detail.contains("accel kvm"), "{}", status.detail);
        let done = done.unwrap();
        assert_eq!(done.outcome, Outcome::Exited { code: 5 }, "{}", text(&done.stderr));
        assert_eq!(
            (done.stdout.as_slice(), done.stderr.as_slice()),
            (&b"in\0put\n"[..], &b"err\n"[..])
        );
        return;
    }
    let openable = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm");
    if Path::new("/dev/kvm").exists() && openable.is_ok() {
        // KVM is there but the guest did not come up under it: the reason says within how
        // long, and what the guest's console or QEMU said last.
        assert!(
            status.detail.starts_with("the KVM guest did not boot within 10 s: ")
                || status.detail.starts_with("QEMU ended before the KVM guest was ready: "),
            "{}",
            status.detail
        );
        assert!(
            status.detail.contains("QEMU's last output: ")
                || status.detail.contains("nothing on its console"),
            "{}",
            status.detail
        );
    } else {
        assert!(status.detail.contains("/dev/kvm"), "{}", status.detail);
    }
    match done {
        Err(SandboxError::TierUnavailable { tier: Tier::Microvm, why }) => {
            assert_eq!(why, status.detail);
        }
        other => panic!("{other:?}"),
    }
}
