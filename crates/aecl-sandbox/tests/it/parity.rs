//! The tiers refuse the same things: what the process tier refuses (by its seccomp filter,
//! its user namespace's missing capabilities or its network namespace's settings), the
//! `gvisor` tier refuses too, in its OCI seccomp profile. The red team's F8: `clone3`
//! with `CLONE_NEWUSER`, `mknod` of a character device and ICMP sockets worked under
//! gVisor.

use aecl_sandbox::{Outcome, Request, Tier};

use crate::{run, shell, text};

/// Each attempt prints `NAME: blocked ERRNO` or `NAME: ALLOWED`; threads must still work
/// (libc falls back from a refused `clone3` to `clone` only on `ENOSYS`).
const PROBE: &str = r#"
import ctypes, errno, os, socket, threading
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, fn):
    try:
        fn()
        print(f"{name}: ALLOWED")
    except OSError as e:
        print(f"{name}: blocked {errno.errorcode.get(e.errno, e.errno)}")
def clone3_newuser():
    # struct clone_args, version 0: flags, pidfd, child_tid, parent_tid, exit_signal,
    # stack, stack_size, tls.
    args = (ctypes.c_uint64 * 8)(0x10000000, 0, 0, 0, 17, 0, 0, 0)
    pid = libc.syscall(435, ctypes.byref(args), 64)
    if pid == 0:
        os._exit(0)
    if pid < 0:
        raise OSError(ctypes.get_errno(), "clone3")
    os.waitpid(pid, 0)
attempt("clone3_newuser", clone3_newuser)
attempt("mknod_char", lambda: os.mknod("/tmp/null", 0o20666, os.makedev(1, 3)))
attempt("mknod_block", lambda: os.mknod("/tmp/disk", 0o60666, os.makedev(7, 0)))
attempt("icmp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP))
attempt("icmp_nonblock", lambda: socket.socket(
    socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK, socket.IPPROTO_ICMP))
attempt("icmpv6", lambda: socket.socket(
    socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6))
attempt("fifo", lambda: os.mkfifo("/tmp/fifo"))
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
seen = []
thread = threading.Thread(target=lambda: seen.append(1))
thread.start()
thread.join()
print(f"thread: {'ok' if seen else 'failed'}")
"#;

fn probe(tier: Tier) -> String {
    let request = Request {
        argv: vec!["/usr/bin/python3".into(), "-c".into(), PROBE.into()],
        tier,
        ..shell("")
    };
    let done = run(request);
    assert_eq!(done.outcome, Outcome::Exited { code: 0 }, "{tier}: {}", text(&done.stderr));
    text(&done.stdout)
}

/// The verdict of `name` in `out`: `blocked` or `ALLOWED`, without the errno.
fn verdict<'a>(out: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}: ");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no verdict for `{name}`:\n{out}"))
}

#[test]
fn the_gvisor_tier_refuses_what_the_process_tier_refuses() {
    let process = probe(Tier::Process);
    let gvisor = probe(Tier::Gvisor);
    for name in ["clone3_newuser", "mknod_char", "mknod_block", "icmp", "icmp_nonblock", "icmpv6"] {
        assert_eq!(verdict(&process, name), "blocked", "process:\n{process}");
        assert_eq!(verdict(&gvisor, name), "blocked", "gvisor:\n{gvisor}\nprocess:\n{process}");
    }
    // `clone3` answers `ENOSYS` in both, so libc's threads fall back to `clone`.
    assert!(process.contains("clone3_newuser: blocked ENOSYS"), "{process}");
    assert!(gvisor.contains("clone3_newuser: blocked ENOSYS"), "{gvisor}");
    // What is harmless stays allowed in both: FIFOs, UDP sockets (on loopback), threads.
    for out in [&process, &gvisor] {
        for name in ["fifo", "udp"] {
            assert_eq!(verdict(out, name), "ALLOWED", "{out}");
        }
        assert!(out.contains("thread: ok"), "{out}");
    }
}
