//! The gateway's own standard input and output as its MCP transport.
//!
//! Tokio's `stdin` and `stdout` make every read and write on its blocking thread pool: a
//! thread hand-off each way for every message, which on a small virtual machine costs more
//! than the gateway's own work on a call. When they are pipes, as an MCP client that starts
//! the gateway makes them, they are read and written through the reactor instead, like a
//! socket. Anything else (a terminal, a file) keeps tokio's own.

use std::os::fd::AsFd;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;

pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// This process's standard input and output. Must be called within the runtime.
pub fn stdio() -> (Reader, Writer) {
    // Duplicates: the pipes own these, and fds 0 and 1 stay as they are (the duplicate
    // shares their non-blocking flag, which nothing else here relies on).
    let reader: Reader =
        match std::io::stdin().as_fd().try_clone_to_owned().and_then(pipe::Receiver::from_owned_fd)
        {
            Ok(pipe) => Box::new(pipe),
            Err(_) => Box::new(tokio::io::stdin()),
        };
    let writer: Writer = match std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Sender::from_owned_fd)
    {
        Ok(pipe) => Box::new(pipe),
        Err(_) => Box::new(tokio::io::stdout()),
    };
    (reader, writer)
}
