//! What the init (or the fallback's child) tells the supervisor through the status pipe:
//! one JSON message a line. The pipe is close-on-exec, so the command never holds it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use serde::{Deserialize, Serialize};

use crate::spec::{Layers, Outcome};

/// The most the supervisor reads from the pipe; a sane run sends a few hundred bytes.
const MAX_STATUS_BYTES: u64 = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Message {
    /// The layers the sandbox ended up with, sent before the command starts.
    Layers(Layers),
    /// Building the namespaces failed before anything of the command ran: the supervisor
    /// may fall back.
    NamespaceFailed(String),
    /// How the command ended, as the init saw it.
    Outcome(Outcome),
}

/// The write end of the status pipe, owned by the process that reports.
#[derive(Debug)]
pub(crate) struct StatusWriter(File);

impl StatusWriter {
    /// Takes the descriptor inherited across `clone` or `fork`.
    pub(crate) fn from_inherited(fd: RawFd) -> StatusWriter {
        // SAFETY: `fd` is the write end of the status pipe, created by the supervisor
        // before the clone/fork; in this child nothing else owns or closes it.
        StatusWriter(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub(crate) fn send(&mut self, message: &Message) {
        if let Ok(mut line) = serde_json::to_vec(message) {
            line.push(b'\n');
            // A supervisor that is gone cannot be told anything; the child dies with it.
            let _ = self.0.write_all(&line);
        }
    }
}

/// Reads every message the child sent. Called after the child was reaped, so every
/// writer is closed and this reads to the end.
pub(crate) fn read_messages(fd: OwnedFd) -> Vec<Message> {
    let mut bytes = Vec::new();
    let _ = File::from(fd).take(MAX_STATUS_BYTES).read_to_end(&mut bytes);
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}
