//! Network inside the sandbox: loopback up, and the forwarder that carries the command's
//! proxy connections (to `127.0.0.1:3128`, named in `HTTP_PROXY`) over the Unix socket
//! bound in from the host, where the egress proxy decides which hosts may be reached.
//! The sandbox's network namespace has no other interface, so nothing else leaves it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;

use crate::spec::{EGRESS_PORT, EGRESS_SOCKET};

/// Sets `IFF_UP` on `lo`, the only interface of a new network namespace.
pub(crate) fn loopback_up() -> io::Result<()> {
    // SAFETY: a plain datagram socket used only for the interface ioctls below; the
    // descriptor is owned and closed by `socket`.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by `socket` and is owned by nothing else.
    let socket = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&socket);
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: `SIOCGIFFLAGS` reads the interface named in `request` and writes its flags
    // into the same `ifreq`, which lives for the whole call.
    if unsafe { libc::ioctl(raw, libc::SIOCGIFFLAGS, &mut request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after `SIOCGIFFLAGS` the union holds the flags.
    unsafe {
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
    }
    // SAFETY: `SIOCSIFFLAGS` reads the name and flags from `request`.
    if unsafe { libc::ioctl(raw, libc::SIOCSIFFLAGS, &request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The forwarder's listening socket, bound before Landlock forbids binding.
pub(crate) fn listen() -> Result<TcpListener, String> {
    TcpListener::bind(("127.0.0.1", EGRESS_PORT))
        .map_err(|e| format!("listening on 127.0.0.1:{EGRESS_PORT} for the egress proxy: {e}"))
}

/// Accepts connections forever (the forwarder dies with the sandbox's init), carrying
/// each to the host's egress proxy.
pub(crate) fn serve(listener: TcpListener) -> ! {
    loop {
        let Ok((client, _)) = listener.accept() else {
            // Out of descriptors or threads, say: a pause rather than a spin.
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        };
        std::thread::spawn(move || {
            if let Ok(upstream) = UnixStream::connect(EGRESS_SOCKET) {
                relay(client, upstream);
            }
        });
    }
}

/// Copies both ways until each side closes.
fn relay(client: TcpStream, upstream: UnixStream) {
    let (Ok(client_read), Ok(upstream_write)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let outbound = std::thread::spawn(move || copy(client_read, upstream_write));
    copy(upstream, client);
    let _ = outbound.join();
}

fn copy<R: Read + Shut, W: Write + Shut>(mut from: R, mut to: W) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    to.shut_write();
    from.shut_read();
}

trait Shut {
    fn shut_write(&self);
    fn shut_read(&self);
}

impl Shut for TcpStream {
    fn shut_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
    fn shut_read(&self) {
        let _ = self.shutdown(Shutdown::Read);
    }
}

impl Shut for UnixStream {
    fn shut_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
    fn shut_read(&self) {
        let _ = self.shutdown(Shutdown::Read);
    }
}
