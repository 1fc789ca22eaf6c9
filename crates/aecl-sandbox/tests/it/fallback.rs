//! The Landlock fallback holds without namespaces what the namespace tier holds with them
//! (the red team's F2, F3 and F4): no process the command starts outlives the run, even
//! after a `setsid` and under the launcher's own uid without a cgroup, nor when the
//! helper is killed from outside; the command opens no socket (no TCP, UDP, Unix,
//! netlink or MPTCP), and a run that allows hosts is refused, since nothing without a
//! network namespace could keep it from connecting past the egress proxy; host
//! processes are hidden, or the layers say they are not.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aecl_sandbox::{Deadlines, Enforcement, HostPattern, Isolation, Outcome, Request};

use crate::limits::{Unprivileged, run_with, unprivileged};
use crate::{processes_left, run, shell, text};

/// A directory the sandbox's user may write, bound into the sandbox read-write.
fn writable_bind(inside: &Path) -> PathBuf {
    let bind = inside.join("bind");
    std::fs::create_dir(&bind).unwrap();
    std::fs::set_permissions(&bind, std::fs::Permissions::from_mode(0o777)).unwrap();
    bind
}

/// A daemon that leaves the command's session and appends to `alive` every 50 ms.
fn daemon(alive: &Path) -> String {
    format!(
        "(setsid sh -c 'while :; do echo x >> {}; sleep 0.05; done' </dev/null >/dev/null 2>&1 &)",
        alive.display()
    )
}

/// A shell loop that waits until `alive` has been written (at most 4 s): a command that
/// ends once its background process has run, rather than after a fixed time that a loaded
/// machine can outlast.
fn until_written(alive: &Path) -> String {
    format!(
        "i=0; while [ ! -s '{}' ] && [ $i -lt 80 ]; do sleep 0.05; i=$((i + 1)); done",
        alive.display()
    )
}

/// Lines in `alive`, which must stop growing: no process of the sandbox writes there.
fn stopped_growing(alive: &Path) -> bool {
    let lines = || std::fs::read_to_string(alive).map_or(0, |t| t.lines().count());
    let before = lines();
    std::thread::sleep(Duration::from_millis(400));
    lines() == before
}

fn fallback(launcher: &Unprivileged, script: &str, call_ms: u64) -> Request {
    let mut request = shell(script);
    request.isolation = Isolation::Landlock;
    request.enforcement = Enforcement::BestEffort;
    request.binds =
        vec![aecl_sandbox::Bind { path: launcher.dir.path().join("bind"), writable: true }];
    request.deadlines = Deadlines { call_ms, run_ms: None, lifetime_ms: 60_000 };
    request
}

#[test]
fn a_setsid_daemon_dies_with_the_command_and_at_the_deadline_in_the_unprivileged_fallback() {
    // The red team's F2: the launcher's own uid, no cgroup, no PID namespace.
    let launcher = unprivileged(60_006);
    let alive = writable_bind(launcher.dir.path()).join("alive");
    // The command ends at once and leaves the daemon behind.
    let script = format!("{}; {}; echo started", daemon(&alive), until_written(&alive));
    let done = run_with(&launcher.sandbox, fallback(&launcher, &script, 20_000));
    assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{}", text(&done.stderr));
    assert_eq!(done.layers.mode, "landlock-fallback");
    assert!(alive.exists(), "the daemon never ran");
    assert!(stopped_growing(&alive), "the daemon outlived the command's answer");
    assert!(processes_left(launcher.uid).is_empty(), "{:?}", processes_left(launcher.uid));
    // The command outlives its deadline, its daemon with it.
    std::fs::remove_file(&alive).unwrap();
    let script = format!("{}; sleep 1000", daemon(&alive));
    let started = Instant::now();
    let done = run_with(&launcher.sandbox, fallback(&launcher, &script, 1_500));
    assert!(matches!(done.outcome, Outcome::TimedOut { .. }), "{:?}", done.outcome);
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    assert!(alive.exists(), "the daemon never ran");
    assert!(stopped_growing(&alive), "the daemon outlived the deadline");
    assert!(processes_left(launcher.uid).is_empty(), "{:?}", processes_left(launcher.uid));
}

#[test]
fn the_fallbacks_processes_die_when_its_helper_is_killed() {
    let launcher = unprivileged(60_007);
    let alive = writable_bind(launcher.dir.path()).join("alive");
    let script = format!("{}; sleep 1000", daemon(&alive));
    let request = fallback(&launcher, &script, 60_000);
    let sandbox = launcher.sandbox.clone();
    let running = std::thread::spawn(move || run_with(&sandbox, request));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !alive.exists() {
        assert!(Instant::now() < deadline, "the daemon never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The helper (the supervisor, the launcher's child under this test's uid) is killed
    // from outside, as a launcher that gives up on the run kills it.
    let helpers = children_of_uid(std::process::id(), launcher.uid);
    assert_eq!(helpers.len(), 1, "{helpers:?}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(helpers[0]), nix::sys::signal::SIGKILL)
        .unwrap();
    let _ = running.join();
    assert!(stopped_growing(&alive), "the sandbox's processes outlived its helper");
    assert!(processes_left(launcher.uid).is_empty(), "{:?}", processes_left(launcher.uid));
}

/// The pids of `parent`'s children that run as `uid`.
fn children_of_uid(parent: u32, uid: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|v| v.parse::<u32>().ok())
        };
        if field("PPid:") == Some(parent) && field("Uid:") == Some(uid) {
            found.extend(entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()));
        }
    }
    found
}

/// Each attempt prints `NAME: blocked ERRNO` or `NAME: ESCAPED`.
const SOCKETS: &str = r#"
import ctypes, errno, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, fn):
    try:
        fn()
        print(f"{name}: ESCAPED")
    except OSError as e:
        print(f"{name}: blocked {errno.errorcode.get(e.errno, e.errno)}")
    sys.stdout.flush()
def raw_socket(family, kind, protocol):
    fd = libc.syscall(ctypes.c_long(41), ctypes.c_long(family), ctypes.c_long(kind), ctypes.c_long(protocol))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "")
attempt("tcp", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
attempt("tcp6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP))
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
attempt("udp6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
attempt("udp_nonblock", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK))
attempt("unix", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
attempt("unix_dgram", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
attempt("mptcp", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262))
attempt("sctp_stream", lambda: raw_socket(2, 1, 132))
attempt("udp_high_bits", lambda: raw_socket(2 | (1 << 32), 2, 0))
socket.socketpair()
print("socketpair: ok")
"#;

#[test]
fn the_fallback_opens_no_socket() {
    let names = [
        "tcp",
        "tcp6",
        "udp",
        "udp6",
        "udp_nonblock",
        "unix",
        "unix_dgram",
        "netlink",
        "mptcp",
        "sctp_stream",
        "udp_high_bits",
    ];
    let mut request = shell("true");
    request.argv = vec!["/usr/bin/python3".into(), "-c".into(), SOCKETS.into()];
    request.isolation = Isolation::Landlock;
    let done = run(request);
    let out = text(&done.stdout);
    for name in names {
        assert!(
            out.contains(&format!("{name}: blocked EPERM")),
            "{name}:\n{out}{}",
            text(&done.stderr)
        );
    }
    assert!(out.contains("socketpair: ok"), "{out}{}", text(&done.stderr));
}

/// Red-team round 14: `HOME=/work` (as the connectors set it) named the host's `/work` in
/// the fallback, which has no mount namespace. It names the fallback's own work directory,
/// where the command runs and may write.
#[test]
fn home_names_the_fallbacks_own_work_directory() {
    let mut request = shell("echo \"$HOME|$CACHE|$PWD\"; echo x > \"$HOME/written\" && echo ok");
    request.env.push(("HOME".into(), "/work".into()));
    request.env.push(("CACHE".into(), "/work/.cache".into()));
    request.isolation = Isolation::Landlock;
    let done = run(request);
    let out = text(&done.stdout);
    let (home, rest) = out.split_once('|').unwrap();
    let (cache, pwd) = rest.split_once('|').unwrap();
    assert_ne!(home, "/work", "{out}");
    assert_eq!(pwd.lines().next(), Some(home), "{out}");
    assert_eq!(cache, format!("{home}/.cache"), "{out}");
    assert!(out.contains("\nok"), "{out}{}", text(&done.stderr));
}

#[test]
fn a_fallback_run_with_an_allowed_host_is_refused_before_anything_runs() {
    // Landlock's TCP rule allows the proxy's port on every address: a command reading the
    // port from `HTTP_PROXY` could connect to any host on it. Refused, with the remedy.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bind = writable_bind(dir.path());
    let ran = bind.join("ran");
    let mut request = shell(&format!("echo \"$HTTP_PROXY\" > {}", ran.display()));
    request.isolation = Isolation::Landlock;
    request.binds = vec![aecl_sandbox::Bind { path: bind.clone(), writable: true }];
    request.allow_hosts = vec![HostPattern::parse("example.com").unwrap()];
    let done = run(request);
    let Outcome::Setup { error } = &done.outcome else {
        panic!("not refused: {:?} {}", done.outcome, text(&done.stderr));
    };
    assert!(error.contains("refusing to run with allowed hosts"), "{error}");
    assert!(error.contains("user namespaces"), "{error}");
    assert!(!ran.exists(), "the command ran");
    assert!(done.egress.is_empty(), "{:?}", done.egress);
}

#[test]
fn the_socket_family_filter_reads_the_int_the_kernel_reads() {
    // A family with garbage above its 32 bits is the family the kernel reads: vsock.
    let probe = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n\
                 fd = libc.syscall(ctypes.c_long(41), ctypes.c_long(40 | (1 << 32)), ctypes.c_long(1), ctypes.c_long(0))\n\
                 print('vsock', 'blocked' if fd < 0 else 'ESCAPED', ctypes.get_errno() if fd < 0 else fd)\n";
    for isolation in crate::isolation_modes() {
        let mut request = shell("true");
        request.argv = vec!["/usr/bin/python3".into(), "-c".into(), probe.into()];
        request.isolation = isolation;
        let done = run(request);
        assert_eq!(
            text(&done.stdout),
            "vsock blocked 1\n",
            "{isolation:?}: {}",
            text(&done.stderr)
        );
    }
}

#[test]
fn host_processes_are_hidden_from_the_fallback_or_the_layers_say_they_are_not() {
    let own = std::process::id();
    // A root launcher: a /proc of the sandbox's own, with hidepid.
    let mut request = shell(&format!(
        "test -e /proc/{own} && echo host-visible; test -e /proc/$$ && echo own-visible"
    ));
    request.isolation = Isolation::Landlock;
    let done = run(request);
    assert_eq!(text(&done.stdout), "own-visible\n", "{}", text(&done.stderr));
    let exposed = done.layers.exposed.join("\n");
    assert!(!exposed.contains("host /proc"), "{exposed}");
    assert!(exposed.contains("host network namespace"), "{exposed}");
    // An unprivileged launcher cannot mount one: the layers say what the command sees.
    let launcher = unprivileged(60_008);
    writable_bind(launcher.dir.path());
    let done = run_with(&launcher.sandbox, fallback(&launcher, "true", 20_000));
    assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{}", text(&done.stderr));
    let exposed = done.layers.exposed.join("\n");
    assert!(exposed.contains("host /proc") && exposed.contains("hidepid"), "{exposed}");
    assert!(exposed.contains("aecl's uid"), "{exposed}");
    // The namespace tier has nothing to say.
    let done = run(shell("true"));
    assert!(done.layers.exposed.is_empty(), "{:?}", done.layers);
}

/// A process that forks and exits in a loop (its pid never stays the same), appending to
/// `alive` at its first hop and every 200 after, started in the background of a command
/// that ends once the loop has run a while ([`until_written`]; on a loaded machine
/// Python's start alone can outlast a fixed wait). It stops by itself 5 s after it
/// started, so that a loop the kill missed is not left to the host.
fn pid_hopper(alive: &Path) -> String {
    format!(
        "/usr/bin/python3 -c \"\nimport os, time\nn = 0\nend = time.time() + 5\nwhile time.time() < end:\n    if os.fork():\n        os._exit(0)\n    n += 1\n    if n % 200 == 1:\n        open('{}', 'a').write('x\\n')\n\" </dev/null >/dev/null 2>&1 & {}; sleep 0.2; echo started",
        alive.display(),
        until_written(alive)
    )
}

#[test]
fn a_fork_loop_is_killed_by_the_cgroup_at_once_or_reported() {
    // A root launcher: the cgroup (`cgroup.kill`, or the freezer) kills the tree in one
    // step, which no fork outruns.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let alive = writable_bind(dir.path()).join("alive");
    let mut request = shell(&pid_hopper(&alive));
    request.isolation = Isolation::Landlock;
    request.binds = vec![aecl_sandbox::Bind { path: alive.with_file_name(""), writable: true }];
    let done = run(request);
    assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{}", text(&done.stderr));
    assert!(alive.exists(), "the fork loop never ran");
    assert!(stopped_growing(&alive), "the fork loop outlived the run");
    assert!(done.layers.limits_unenforced.is_empty(), "{:?}", done.layers.limits_unenforced);
    // An unprivileged launcher has no cgroup: the rounds may be outrun, and then the
    // report says so.
    let launcher = unprivileged(60_009);
    let alive = writable_bind(launcher.dir.path()).join("alive");
    let done = run_with(&launcher.sandbox, fallback(&launcher, &pid_hopper(&alive), 20_000));
    assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{}", text(&done.stderr));
    assert!(alive.exists(), "the fork loop never ran");
    let reported = done.layers.limits_unenforced.iter().any(|l| l.starts_with("process tree:"));
    assert!(
        reported || (stopped_growing(&alive) && processes_left(launcher.uid).is_empty()),
        "a process outlived the run unreported: {:?}",
        processes_left(launcher.uid)
    );
}
