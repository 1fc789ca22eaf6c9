//! Between the supervisor and the sandbox's first process: the messages on the helper's
//! stdin, the wait for the sandbox to be built, and the handing over of the command.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::errno::Errno;
use serde::de::DeserializeOwned;

use super::status::Message;
use super::{Clock, setup};
use crate::spec::{Command, Layers, Outcome};

/// The longest message accepted on stdin.
const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The most the supervisor reads from the status pipe; a sane run sends a few hundred
/// bytes.
const MAX_STATUS_BYTES: u64 = 64 * 1024;

/// Reads one message from stdin: its length in decimal on a line, then exactly that many
/// bytes of JSON. Unbuffered, so that nothing after it (the command's stdin) is consumed.
pub(crate) fn read_message<T: DeserializeOwned>() -> Result<T, String> {
    // Not `std::io::stdin()`: its buffer would swallow the command's input.
    let stdin = std::io::stdin();
    let read = |buffer: &mut [u8]| loop {
        match nix::unistd::read(stdin.as_fd(), buffer) {
            Err(Errno::EINTR) => continue,
            other => return other.map_err(|e| format!("reading stdin: {e}")),
        }
    };
    let mut digits = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match read(&mut byte)? {
            0 => return Err("stdin closed before the message".to_owned()),
            _ if byte[0] == b'\n' => break,
            _ if byte[0].is_ascii_digit() && digits.len() < 8 => digits.push(byte[0]),
            _ => return Err("a message does not start with its length".to_owned()),
        }
    }
    let length: usize = std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .filter(|n| *n <= MAX_MESSAGE_BYTES)
        .ok_or_else(|| format!("a message's length must be at most {MAX_MESSAGE_BYTES} bytes"))?;
    let mut message = vec![0u8; length];
    let mut filled = 0;
    while filled < length {
        match read(&mut message[filled..])? {
            0 => return Err("stdin closed inside a message".to_owned()),
            n => filled += n,
        }
    }
    serde_json::from_slice(&message).map_err(|e| format!("a message is not valid: {e}"))
}

/// The launcher's control pipe (descriptor 3 at exec), taken at start-up: the ready
/// byte, then the report.
static READY: Mutex<Option<File>> = Mutex::new(None);

/// Takes descriptor 3, the launcher's ready pipe, when it is open (a helper started by
/// hand has none): close-on-exec from now on, and closed in the sandbox's processes by
/// [`forget_ready`], so that no command ever holds it.
pub(crate) fn take_ready() {
    let fd = crate::launch::READY_FD;
    // SAFETY: `fcntl(F_GETFD)` on a descriptor number reads no memory; it fails when the
    // descriptor is not open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return;
    }
    // SAFETY: descriptor 3 was set up by the launcher for this process alone; nothing
    // else here owns it.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let _ = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
    *READY.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(file);
}

/// In a child of the supervisor: closes its copy of the ready pipe.
pub(crate) fn forget_ready() {
    drop(READY.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take());
}

/// A copy of the launcher's control pipe for the supervisor to watch while the command
/// runs: `poll` reports `POLLERR` on a pipe's write end once no reader is left, that is
/// once the launcher gave up on the run (its caller dropped it) or died. `None` for a
/// helper started by hand. Close-on-exec, and made after the sandbox's processes were
/// started, so none of them holds it.
pub(crate) fn watch_launcher() -> Option<OwnedFd> {
    let ready = READY.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    ready.as_ref()?.as_fd().try_clone_to_owned().ok()
}

/// Tells the launcher that the sandbox is built and waits for its command.
fn announce_ready() {
    if let Some(pipe) = READY.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut() {
        let _ = pipe.write_all(&[crate::launch::READY_BYTE]);
    }
}

/// Writes the report to the launcher's pipe and closes it; without one (a helper started
/// by hand), to stderr.
pub(crate) fn send_report(report: &[u8]) -> std::io::Result<()> {
    let pipe = READY.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    match pipe {
        Some(mut pipe) => pipe.write_all(report),
        None => std::io::stderr().write_all(report),
    }
}

/// Reads the command from stdin, starts its clock and hands it to the sandbox through
/// `pipe` (closed after, so the reader sees its end).
pub(crate) fn forward_command(pipe: OwnedFd, clock: &mut Clock) -> Result<Command, Outcome> {
    announce_ready();
    let command: Command = read_message().map_err(|e| setup(format!("the command: {e}")))?;
    if command.argv.is_empty() {
        return Err(setup("the command is empty".to_owned()));
    }
    clock.start();
    let bytes = serde_json::to_vec(&command).map_err(|e| setup(format!("the command: {e}")))?;
    File::from(pipe)
        .write_all(&bytes)
        .map_err(|e| setup(format!("handing the command to the sandbox: {e}")))?;
    Ok(command)
}

/// In the sandbox: waits for the command the supervisor hands over.
pub(crate) fn receive_command(fd: RawFd) -> Result<Command, String> {
    // SAFETY: `fd` is the read end of the command pipe, inherited across the clone or
    // fork; nothing else in this process owns it.
    let mut pipe = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut bytes = Vec::new();
    Read::by_ref(&mut pipe)
        .take(MAX_MESSAGE_BYTES as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("receiving the command: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the command handed over: {e}"))
}

/// How the building of the sandbox ended.
pub(crate) enum Ready {
    /// Built and restricted, with these layers: waiting for its command.
    Layers(Layers),
    /// The namespaces do not give what they should: the supervisor may fall back.
    NamespaceFailed(String),
    /// It could not be built.
    Failed(Outcome),
}

/// The supervisor's end of the status pipe.
pub(crate) struct StatusReader {
    lines: BufReader<std::io::Take<File>>,
}

impl StatusReader {
    pub(crate) fn new(fd: OwnedFd) -> StatusReader {
        StatusReader { lines: BufReader::new(File::from(fd).take(MAX_STATUS_BYTES)) }
    }

    /// The pipe, for `poll`.
    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.lines.get_ref().get_ref().as_fd()
    }

    /// Reads what is there up to the first outcome. Only called when `poll` says the pipe
    /// is readable; every message is one `write` of a whole line.
    pub(crate) fn next_outcome(&mut self) -> Option<Outcome> {
        loop {
            match self.next()? {
                Message::Outcome(outcome) => return Some(outcome),
                Message::Layers(_) | Message::NamespaceFailed(_) => {}
            }
        }
    }

    fn next(&mut self) -> Option<Message> {
        let mut line = String::new();
        loop {
            line.clear();
            match self.lines.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {
                    if let Ok(message) = serde_json::from_str(&line) {
                        return Some(message);
                    }
                }
            }
        }
    }

    /// Blocks until the sandbox is built or failed.
    pub(crate) fn ready(&mut self) -> Ready {
        match self.next() {
            Some(Message::Layers(layers)) => Ready::Layers(layers),
            Some(Message::NamespaceFailed(reason)) => Ready::NamespaceFailed(reason),
            Some(Message::Outcome(outcome)) => Ready::Failed(outcome),
            None => Ready::Failed(setup("the sandbox ended before it was built".to_owned())),
        }
    }

    /// The first outcome reported after the command started (the command's own process
    /// reports a refused exec before the init reports the exit that follows it). Called
    /// once the child is reaped, so every writer is closed and this reads to the end.
    pub(crate) fn outcome(&mut self) -> Option<Outcome> {
        let mut first = None;
        while let Some(message) = self.next() {
            if let Message::Outcome(outcome) = message {
                first.get_or_insert(outcome);
            }
        }
        first
    }
}
