//! The escape suite: attempts to get out of the sandbox, each of which must be contained,
//! in the process tier (namespaces and the Landlock fallback) and in the `gvisor` tier:
//! every attempt is a test per tier (`escape::process::...`, `escape::gvisor::...`). After each attempt the host's
//! sentinel process is alive, no file exists where the attempt tried to write, and no
//! process of the sandbox's host user is left.
//!
//! The probes are Python scripts run by the system's `/usr/bin/python3` inside the
//! sandbox; each prints `NAME: blocked ERRNO` or `NAME: ESCAPED ...`.

use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aecl_sandbox::{Deadlines, Execution, Limits, Outcome, Request, Tier};

use crate::{Mode, modes, processes_left, run, text};

/// The helpers every probe script starts with.
const PRELUDE: &str = r#"
import ctypes, errno, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *args):
    r = libc.syscall(nr, *args)
    if r < 0:
        raise OSError(ctypes.get_errno(), "")
    return r
def attempt(name, fn):
    try:
        print(f"{name}: ESCAPED {fn()!r}")
    except OSError as e:
        print(f"{name}: blocked {errno.errorcode.get(e.errno, e.errno)}")
    sys.stdout.flush()
"#;

/// What every attempt checks on the host afterwards.
struct Host {
    sentinel: Child,
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let sentinel = Command::new("sleep").arg("600").spawn().unwrap();
        Host { sentinel, dir: tempfile::tempdir().unwrap() }
    }

    fn pid(&self) -> u32 {
        self.sentinel.id()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The sentinel lives, nothing was written at `paths`, and the sandbox's user has no
    /// process left.
    fn check(&mut self, done: &Execution, paths: &[PathBuf]) {
        assert!(self.sentinel.try_wait().unwrap().is_none(), "the host's sentinel died");
        for path in paths {
            assert!(!path.exists(), "`{}` was written from inside the sandbox", path.display());
        }
        let own = nix::unistd::geteuid().as_raw();
        if done.layers.host_uid != own {
            // Killed processes leave /proc as soon as the kernel has reaped them.
            let left = processes_left(done.layers.host_uid);
            assert!(
                left.is_empty(),
                "processes of the sandbox's user left: {left:?} ({:?})",
                done.layers
            );
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.sentinel.kill();
        let _ = self.sentinel.wait();
    }
}

fn python(mode: Mode, body: &str) -> Execution {
    probe(mode, vec!["/usr/bin/python3".into(), "-c".into(), format!("{PRELUDE}\n{body}")])
}

fn probe(mode: Mode, argv: Vec<String>) -> Execution {
    assert!(Path::new("/usr/bin/python3").exists(), "the escape suite needs /usr/bin/python3");
    run(Request {
        argv,
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        deadlines: Deadlines { call_ms: 20_000, run_ms: None, lifetime_ms: 60_000 },
        limits: Limits {
            memory_bytes: 128 << 20,
            pids: 64,
            work_bytes: 16 << 20,
            ..Limits::default()
        },
        isolation: mode.isolation,
        tier: mode.tier,
        output_cap: 1 << 20,
        ..Request::default()
    })
}

/// Every line of the probe's output says `blocked`, and there is one per expected name.
fn all_blocked(done: &Execution, names: &[&str]) {
    let out = text(&done.stdout);
    assert!(!out.contains("ESCAPED"), "escaped:\n{out}\nstderr:\n{}", text(&done.stderr));
    for name in names {
        assert!(
            out.contains(&format!("{name}: blocked")),
            "no verdict for `{name}`:\n{out}\nstderr:\n{}",
            text(&done.stderr)
        );
    }
}

fn writes_outside_the_work_dir_fail(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let tag = format!("aecl-escape-{}", std::process::id());
        let outside = [
            host.path("escaped"),
            PathBuf::from(format!("/usr/{tag}")),
            PathBuf::from(format!("/etc/{tag}")),
            PathBuf::from(format!("/{tag}")),
            PathBuf::from(format!("/root/{tag}")),
        ];
        // `/tmp` and `/dev/shm` inside are the sandbox's own (namespaces) or forbidden
        // (fallback): either way the host's stay untouched, which `check` asserts.
        let private =
            [PathBuf::from(format!("/tmp/{tag}")), PathBuf::from(format!("/dev/shm/{tag}"))];
        let mut body = String::new();
        for path in &private {
            body.push_str(&format!(
                "try:\n    open({:?}, 'w').write('x')\nexcept OSError:\n    pass\n",
                path.display().to_string()
            ));
        }
        for (i, target) in outside.iter().enumerate() {
            body.push_str(&format!(
                "attempt('write{i}', lambda: open({:?}, 'w').write('x'))\n",
                target.display().to_string()
            ));
        }
        let done = python(mode, &body);
        let names: Vec<String> = (0..outside.len()).map(|i| format!("write{i}")).collect();
        all_blocked(&done, &names.iter().map(String::as_str).collect::<Vec<_>>());
        host.check(&done, &[outside.as_slice(), private.as_slice()].concat());
    }
}

fn a_secret_file_outside_the_allowed_paths_cannot_be_read(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let secret = host.path("secret.txt");
        std::fs::write(&secret, "TOPSECRET-4711").unwrap();
        let body = format!(
            "attempt('secret', lambda: open({:?}).read())\nattempt('shadow', lambda: open('/etc/shadow').read())\n",
            secret.display().to_string()
        );
        let done = python(mode, &body);
        all_blocked(&done, &["secret", "shadow"]);
        assert!(!text(&done.stdout).contains("TOPSECRET"));
        host.check(&done, &[]);
    }
}

fn tcp_to_a_host_loopback_listener_fails(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = count_accepts(move || listener.accept().map(|_| ()));
        let body = format!(
            "attempt('tcp', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=3))\n\
             attempt('tcp6', lambda: socket.create_connection(('::1', {port}), timeout=3))\n"
        );
        let done = python(mode, &body);
        all_blocked(&done, &["tcp", "tcp6"]);
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "the host listener was reached");
        host.check(&done, &[]);
    }
}

fn an_abstract_unix_socket_of_the_host_cannot_be_reached(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let name = format!("aecl-escape-{}-{mode:?}", std::process::id());
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixListener::bind_addr(&address).unwrap();
        let accepted = count_accepts(move || listener.accept().map(|_| ()));
        let body = format!(
            "def go():\n    s = socket.socket(socket.AF_UNIX)\n    s.connect('\\0{name}')\n    return s\nattempt('abstract', go)\n"
        );
        let done = python(mode, &body);
        all_blocked(&done, &["abstract"]);
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "the host's abstract socket was reached");
        host.check(&done, &[]);
    }
}

fn udp_and_unix_sockets_of_the_host_cannot_be_reached(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_port = udp.local_addr().unwrap().port();
        let received = count_accepts(move || udp.recv_from(&mut [0u8; 64]).map(|_| ()));
        // A pathname socket any user may connect to (Landlock does not mediate it).
        std::fs::set_permissions(host.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = host.path("host.sock");
        let unix = UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let accepted = count_accepts(move || unix.accept().map(|_| ()));
        let body = format!(
            "def udp():\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    s.settimeout(2)\n    s.sendto(b'x', ('127.0.0.1', {udp_port}))\n    return s.recvfrom(64)\n\
             attempt('udp', udp)\n\
             def unix():\n    s = socket.socket(socket.AF_UNIX)\n    s.settimeout(2)\n    s.connect({:?})\n    return s\n\
             attempt('unix', unix)\n",
            path.display().to_string()
        );
        let done = python(mode, &body);
        all_blocked(&done, &["udp", "unix"]);
        assert_eq!(received.load(Ordering::SeqCst), 0, "{mode:?}: the host's UDP socket got data");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            0,
            "{mode:?}: the host's Unix socket was reached"
        );
        host.check(&done, &[]);
    }
}

fn vsock_and_packet_sockets_are_refused(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let body = "attempt('vsock', lambda: socket.socket(40, socket.SOCK_STREAM))\n\
                    attempt('vsock_dgram', lambda: socket.socket(40, socket.SOCK_DGRAM))\n\
                    attempt('packet', lambda: socket.socket(17, socket.SOCK_RAW, 0))\n";
        let done = python(mode, body);
        all_blocked(&done, &["vsock", "vsock_dgram", "packet"]);
        assert!(text(&done.stdout).contains("vsock: blocked EPERM"), "{}", text(&done.stdout));
        host.check(&done, &[]);
    }
}

fn host_processes_cannot_be_killed_or_traced(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let pid = host.pid();
        let body = format!(
            "attempt('kill', lambda: os.kill({pid}, 9))\n\
             attempt('ptrace_attach', lambda: sc(101, 16, {pid}, 0, 0))\n\
             attempt('ptrace_seize', lambda: sc(101, 0x4206, {pid}, 0, 0))\n\
             attempt('proc_mem', lambda: open('/proc/{pid}/mem', 'rb').read(1))\n\
             attempt('process_vm_readv', lambda: sc(310, {pid}, 0, 0, 0, 0, 0))\n"
        );
        let done = python(mode, &body);
        all_blocked(
            &done,
            &["kill", "ptrace_attach", "ptrace_seize", "proc_mem", "process_vm_readv"],
        );
        assert!(text(&done.stdout).contains("ptrace_attach: blocked EPERM"));
        host.check(&done, &[]);
    }
}

fn the_launchers_environment_does_not_leak(tier: Tier) {
    // The launcher is this test process: cargo runs it with its own variables
    // (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, ...), none of which may reach the command.
    let launcher_env: Vec<String> =
        std::env::vars().filter(|(k, _)| k != "PATH").map(|(k, v)| format!("{k}={v}")).collect();
    assert!(launcher_env.iter().any(|kv| kv.starts_with("CARGO_MANIFEST_DIR=")));
    for mode in modes(tier) {
        let mut host = Host::new();
        let launcher = std::process::id();
        let body = format!(
            "print(dict(os.environ))\n\
             for p in ['/proc/1/environ', '/proc/self/environ', '/proc/{launcher}/environ', '/proc/{launcher}/cmdline']:\n\
             \x20   try:\n\
             \x20       print(p, open(p, 'rb').read())\n\
             \x20   except OSError as e:\n\
             \x20       print(p, 'blocked', errno.errorcode.get(e.errno))\n"
        );
        let done = python(mode, &body);
        let out = text(&done.stdout);
        // What the command was started with (Python adds `LC_CTYPE` to its own copy).
        assert!(
            out.contains(r"/proc/self/environ b'PATH=/usr/bin:/bin\x00'"),
            "the environment is exactly the allowlist:\n{out}"
        );
        for pair in &launcher_env {
            assert!(!out.contains(pair.as_str()), "the launcher's `{pair}` leaked:\n{out}");
        }
        host.check(&done, &[]);
    }
}

fn the_root_cannot_be_remounted_and_namespaces_cannot_be_made(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let body = "attempt('remount', lambda: sc(165, b'none', b'/', None, 32 | 4096, None))\n\
                    attempt('mount_tmpfs', lambda: sc(165, b'tmpfs', b'/tmp', b'tmpfs', 0, None))\n\
                    attempt('write_root', lambda: open('/aecl-after-remount', 'w').write('x'))\n\
                    attempt('unshare_user', lambda: sc(272, 0x10000000))\n\
                    attempt('unshare_mount', lambda: sc(272, 0x00020000))\n\
                    attempt('clone_newuser', lambda: sc(56, 0x10000000 | 17, 0, 0, 0, 0))\n\
                    attempt('setns', lambda: sc(308, os.open('/proc/self/ns/net', os.O_RDONLY), 0))\n\
                    attempt('pivot_root', lambda: sc(155, b'/tmp', b'/tmp'))\n";
        let done = python(mode, body);
        all_blocked(
            &done,
            &[
                "remount",
                "mount_tmpfs",
                "write_root",
                "unshare_user",
                "unshare_mount",
                "clone_newuser",
                "setns",
                "pivot_root",
            ],
        );
        // The `unshare` program fails too (it is the same system call).
        let tool = probe(mode, vec!["/usr/bin/unshare".into(), "-U".into(), "true".into()]);
        assert_ne!(tool.outcome, Outcome::Exited { code: 0 }, "unshare -U succeeded");
        host.check(&done, &[PathBuf::from("/aecl-after-remount")]);
    }
}

fn kernel_interfaces_with_a_history_of_escapes_are_refused(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let body = "attempt('io_uring', lambda: sc(425, 8, ctypes.create_string_buffer(120)))\n\
                    attempt('bpf', lambda: sc(321, 0, ctypes.create_string_buffer(128), 128))\n\
                    attempt('keyctl', lambda: sc(250, 0, -3, 0, 0, 0))\n\
                    attempt('add_key', lambda: sc(248, b'user', b'k', b'v', 1, -3))\n\
                    attempt('userfaultfd', lambda: sc(323, 0))\n\
                    attempt('perf_event_open', lambda: sc(298, ctypes.create_string_buffer(128), 0, -1, -1, 0))\n\
                    attempt('tiocsti', lambda: sc(16, 0, 0x5412, ctypes.create_string_buffer(b'x')))\n\
                    attempt('modify_ldt', lambda: sc(154, 0, ctypes.create_string_buffer(16), 16))\n\
                    attempt('personality', lambda: sc(135, 0x0400000))\n\
                    try:\n    sc(135, -1); print('query passed')\n\
                    except OSError as e:\n    print('query', 'refused' if e.errno == errno.EPERM else 'passed')\n";
        let done = python(mode, body);
        let names = [
            "io_uring",
            "bpf",
            "keyctl",
            "add_key",
            "userfaultfd",
            "perf_event_open",
            "tiocsti",
            "modify_ldt",
            "personality",
        ];
        all_blocked(&done, &names);
        for name in names {
            // EPERM is the filter's answer; stdin is a pipe, so a TIOCSTI that reached
            // the kernel would have said ENOTTY.
            assert!(
                text(&done.stdout).contains(&format!("{name}: blocked EPERM")),
                "{}",
                text(&done.stdout)
            );
        }
        // Reading the persona passes the filter (programs ask before they set it; gVisor's
        // kernel then answers EINVAL to any `personality`).
        assert!(text(&done.stdout).contains("query passed"), "{}", text(&done.stdout));
        host.check(&done, &[]);
    }
}

/// A file with a set-id bit left in a writable bind would run as the sandbox's host user
/// for whoever starts it on the host (red team round 22, F1): no call gives a file such a
/// mode. A system call newer than the filter knows fails as on an older kernel (F2:
/// `open_tree_attr`, 467, reached the mount family).
fn set_id_modes_and_newer_system_calls_are_refused(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let body = "open('f', 'w').close()\n\
                    fd = os.open('f', os.O_RDONLY)\n\
                    attempt('chmod_setuid', lambda: os.chmod('f', 0o4755))\n\
                    attempt('chmod_setgid', lambda: os.chmod('f', 0o2755))\n\
                    attempt('fchmod_setuid', lambda: os.fchmod(fd, 0o4755))\n\
                    attempt('fchmodat_setuid', lambda: sc(268, -100, b'f', 0o6755))\n\
                    attempt('fchmodat2_setuid', lambda: sc(452, -100, b'f', 0o4755, 0))\n\
                    attempt('open_setuid', lambda: os.open('g', os.O_CREAT | os.O_WRONLY, 0o4755))\n\
                    attempt('creat_setgid', lambda: sc(85, b'h', 0o2755))\n\
                    attempt('mknod_setuid', lambda: sc(133, b'i', 0o100000 | 0o4755, 0))\n\
                    attempt('open_tree_attr', lambda: sc(467, -100, b'/', 1, 0, 0))\n\
                    attempt('unnumbered', lambda: sc(600, 0))\n\
                    os.chmod('f', 0o750)\n\
                    print('plain mode', oct(os.stat('f').st_mode & 0o7777))\n\
                    print('created', sorted(n for n in 'ghi' if os.path.exists(n)))\n";
        let done = python(mode, body);
        let set_id = [
            "chmod_setuid",
            "chmod_setgid",
            "fchmod_setuid",
            "fchmodat_setuid",
            "open_setuid",
            "creat_setgid",
            "mknod_setuid",
        ];
        all_blocked(&done, &set_id);
        all_blocked(&done, &["fchmodat2_setuid", "open_tree_attr", "unnumbered"]);
        let out = text(&done.stdout);
        for name in set_id {
            assert!(out.contains(&format!("{name}: blocked EPERM")), "{out}");
        }
        for name in ["open_tree_attr", "unnumbered"] {
            assert!(out.contains(&format!("{name}: blocked ENOSYS")), "{out}");
        }
        // Modes without the bits are the command's to give, and nothing was created.
        assert!(out.contains("plain mode 0o750"), "{out}\n{}", text(&done.stderr));
        assert!(out.contains("created []"), "{out}");
        host.check(&done, &[]);
    }
}

fn a_fork_bomb_is_contained(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        // The bomb starts in a subshell, the shell's only fork: a shell exits (status 2)
        // on a fork it cannot make, which would end the run before its deadline once the
        // bomb has taken every process. `exec`: the sleep needs no fork either.
        let mut request = bomb_request(mode, "bomb() { bomb | bomb & }; (bomb); exec sleep 30");
        request.deadlines.call_ms = 3_000;
        // `run` checks that no process of the sandbox is left on the host.
        let done = run(request);
        // Sixty-four shells can also reach the memory limit first: the OOM killer then
        // ends the run (it may pick the sandbox's init, which takes every bomb with it),
        // and the outcome says so.
        let out_of_memory = matches!(
            &done.outcome,
            Outcome::Killed { cause: Some(cause), .. } if cause.contains("memory limit")
        );
        assert!(
            matches!(done.outcome, Outcome::TimedOut { .. }) || out_of_memory,
            "{mode:?}: {:?}\nstdout: {}\nstderr: {}",
            done.outcome,
            text(&done.stdout),
            text(&done.stderr)
        );
        host.check(&done, &[]);
    }
}

fn a_memory_bomb_is_killed(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let request = bomb_request(mode, "exec awk 'BEGIN { s = \"x\"; while (1) s = s s }'");
        let done = run(request);
        // The cgroup's OOM kill ends it and is named; without a cgroup (an unprivileged
        // launcher) the address-space limit makes the allocation fail instead, as gVisor's
        // kernel does when the sandbox's memory is used up.
        match &done.outcome {
            Outcome::Killed { signal: 9, cause: Some(cause) } => {
                assert!(cause.contains("memory"), "{cause}")
            }
            other => {
                assert!(
                    done.layers.cgroup.starts_with("none") || mode.tier == Tier::Gvisor,
                    "{mode:?}: {other:?} with a cgroup"
                );
                assert!(
                    matches!(other, Outcome::Exited { code } if *code != 0),
                    "{mode:?}: {other:?}"
                );
            }
        }
        host.check(&done, &[]);
    }
}

fn filling_the_disk_stops_at_the_work_dir_limit(tier: Tier) {
    for mode in modes(tier) {
        let mut host = Host::new();
        let before = free_bytes("/");
        let request = bomb_request(
            mode,
            "dd if=/dev/zero of=fill bs=1M count=2048 2>&1; echo dd=$?; ls -la fill",
        );
        let done = run(request);
        let after = free_bytes("/");
        let out = text(&done.stdout);
        // The work dir's tmpfs is full (namespaces), or the file size limit stops the
        // writer (fallback, where the work dir is on the host's disk).
        assert!(
            out.contains("No space left on device") || out.contains("File size limit exceeded"),
            "{mode:?}: {out}"
        );
        assert!(!text(&done.stdout).contains("2147483648"), "{}", text(&done.stdout));
        assert!(before.saturating_sub(after) < 256 << 20, "the host lost {} bytes", before - after);
        host.check(&done, &[]);
    }
}

fn bomb_request(mode: Mode, script: &str) -> Request {
    Request {
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        deadlines: Deadlines { call_ms: 20_000, run_ms: None, lifetime_ms: 60_000 },
        limits: Limits {
            memory_bytes: 64 << 20,
            pids: 64,
            work_bytes: 32 << 20,
            file_bytes: 48 << 20,
            ..Limits::default()
        },
        isolation: mode.isolation,
        tier: mode.tier,
        output_cap: 1 << 20,
        ..Request::default()
    }
}

fn free_bytes(path: &str) -> u64 {
    let stat = nix::sys::statvfs::statvfs(path).unwrap();
    stat.blocks_available() * stat.fragment_size()
}

/// Accepts connections (or datagrams) on another thread and counts them.
pub(crate) fn count_accepts(
    accept: impl Fn() -> std::io::Result<()> + Send + 'static,
) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        while accept().is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    count
}

/// Each attempt as a test per tier.
macro_rules! per_tier {
    ($($name:ident),* $(,)?) => {
        mod process {
            $(#[test]
            fn $name() {
                super::$name(aecl_sandbox::Tier::Process);
            })*
        }
        mod gvisor {
            $(#[test]
            fn $name() {
                super::$name(aecl_sandbox::Tier::Gvisor);
            })*
        }
    };
}

per_tier!(
    writes_outside_the_work_dir_fail,
    a_secret_file_outside_the_allowed_paths_cannot_be_read,
    tcp_to_a_host_loopback_listener_fails,
    an_abstract_unix_socket_of_the_host_cannot_be_reached,
    udp_and_unix_sockets_of_the_host_cannot_be_reached,
    vsock_and_packet_sockets_are_refused,
    host_processes_cannot_be_killed_or_traced,
    the_launchers_environment_does_not_leak,
    the_root_cannot_be_remounted_and_namespaces_cannot_be_made,
    kernel_interfaces_with_a_history_of_escapes_are_refused,
    set_id_modes_and_newer_system_calls_are_refused,
    a_fork_bomb_is_contained,
    a_memory_bomb_is_killed,
    filling_the_disk_stops_at_the_work_dir_limit,
);
