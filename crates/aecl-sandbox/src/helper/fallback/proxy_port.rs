//! The fallback's way to the egress proxy. Without a network namespace the command cannot
//! have a forwarder of its own on `127.0.0.1:3128`, and the usual proxy variables cannot
//! name a Unix socket: it needs a TCP port on the host's loopback, which every local
//! user can reach too. So the port is opened here, by the supervisor, for this sandbox
//! alone, and a connection is carried to the proxy's Unix socket only when its first
//! request carries the sandbox's credentials (`Proxy-Authorization: Basic`, the secret
//! compared in constant time), which only the command's environment holds (the proxy
//! URL's user and password). Anything else is answered `407` and never reaches the proxy,
//! so it is never recorded as the agent's.
//!
//! The forwarder is a child of the supervisor, forked before anything of the command: it
//! holds none of the sandbox's pipes, runs as the sandbox's user with no file access
//! (Landlock) under the common seccomp filter, dies with the supervisor, and is killed
//! with the rest of the tree at the end.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Gid, Uid, fork, setresgid, setresuid};

use super::super::{forward, handoff, lsm, seccomp};
use super::PROXY_USER;
use crate::spec::Spec;

/// The longest request head read before the credentials are checked.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// How long a connection may take to send its first request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections carried at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;

/// The answer to a connection without the sandbox's credentials.
const REFUSAL: &[u8] = b"HTTP/1.1 407 Proxy Authentication Required\r\n\
    Proxy-Authenticate: Basic realm=\"aecl\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// The port the command's proxy variables name, and the password they carry.
#[derive(Debug)]
pub(in crate::helper) struct ProxyPort {
    pub(in crate::helper) port: u16,
    pub(in crate::helper) secret: String,
}

/// Opens the port and forks the forwarder that carries authenticated connections to the
/// egress proxy's `socket`.
pub(super) fn start(spec: &Spec, socket: &Path) -> Result<ProxyPort, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| format!("opening a loopback port for the egress proxy: {e}"))?;
    let port =
        listener.local_addr().map_err(|e| format!("the egress proxy's loopback port: {e}"))?.port();
    let secret = secret()?;
    let expected = format!("{PROXY_USER}:{secret}").into_bytes();
    // SAFETY: the helper is single-threaded, so the child of `fork` may run any code
    // (it starts threads of its own only after the fork).
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => Ok(ProxyPort { port, secret }),
        Ok(ForkResult::Child) => {
            if confine(spec).is_ok() {
                serve(listener, socket.to_path_buf(), expected);
            }
            // SAFETY: ends the forked child without running the parent's exit handlers.
            unsafe { libc::_exit(125) }
        }
        Err(e) => Err(format!("starting the egress proxy's forwarder: {e}")),
    }
}

/// Sixteen random bytes in hex.
fn secret() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("randomness for the proxy's secret: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// In the forwarder: nothing of the supervisor's but the listener; the sandbox's user,
/// no file access, the common seccomp filter.
fn confine(spec: &Spec) -> Result<(), String> {
    handoff::forget_ready();
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    // Its stdio were the launcher's pipes: the output must close when the sandbox ends.
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("/dev/null: {e}"))?;
    for fd in 0..3 {
        // SAFETY: `dup2` onto a standard descriptor of this process; `null` stays open.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err("redirecting the forwarder's stdio".to_owned());
        }
    }
    if nix::unistd::geteuid().is_root() {
        let (uid, gid) = (Uid::from_raw(spec.host_uid), Gid::from_raw(spec.host_gid));
        setresgid(gid, gid, gid)
            .and_then(|()| setresuid(uid, uid, uid))
            .map_err(|e| format!("becoming the sandbox's user: {e}"))?;
        // Credential changes clear the parent-death signal.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
    // No path at all: connecting to the proxy's socket is no file access to Landlock.
    lsm::restrict(&lsm::Paths::default(), None)?;
    seccomp::apply()
}

/// Accepts connections until the forwarder is killed.
fn serve(listener: TcpListener, socket: PathBuf, expected: Vec<u8>) -> ! {
    let socket = Arc::new(socket);
    let expected = Arc::new(expected);
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((client, _)) = listener.accept() else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let (socket, expected, open) = (socket.clone(), expected.clone(), open.clone());
        std::thread::spawn(move || {
            carry(client, &socket, &expected);
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Carries one connection to the proxy once its first request head holds the sandbox's
/// credentials; otherwise answers `407` and closes it.
fn carry(mut client: TcpStream, socket: &Path, expected: &[u8]) {
    let _ = client.set_read_timeout(Some(HEAD_TIMEOUT));
    let Some(head) = read_head(&mut client) else { return };
    if !authorized(&head, expected) {
        let _ = client.write_all(REFUSAL);
        return;
    }
    let _ = client.set_read_timeout(None);
    let Ok(mut upstream) = UnixStream::connect(socket) else { return };
    if upstream.write_all(&head).is_ok() {
        forward::relay(client, upstream);
    }
}

/// Reads up to the end of the first request head (and whatever came with it).
fn read_head(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        if buffer.len() > MAX_HEAD_BYTES {
            return None;
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    Some(buffer)
}

/// Whether the request head carries `Proxy-Authorization: Basic` with exactly the
/// credentials `expected` (`user:password`).
pub(super) fn authorized(head: &[u8], expected: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(head), Ok(httparse::Status::Complete(_))) {
        return false;
    }
    let Some(header) =
        request.headers.iter().find(|h| h.name.eq_ignore_ascii_case("proxy-authorization"))
    else {
        return false;
    };
    let Some((scheme, token)) =
        std::str::from_utf8(header.value).ok().and_then(|v| v.trim().split_once(' '))
    else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else {
        return false;
    };
    same_bytes(&given, expected)
}

/// Equality whose time does not depend on where the bytes differ (only on the length,
/// which is no secret).
fn same_bytes(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    let difference = given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}
