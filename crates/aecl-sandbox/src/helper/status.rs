//! What the init (or the fallback's child) tells the supervisor through the status pipe:
//! one JSON message a line. The pipe is close-on-exec, so the command never holds it.

use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use serde::{Deserialize, Serialize};

use crate::spec::{Layers, Outcome};

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
