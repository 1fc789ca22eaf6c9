//! Messages from the agent's client that the gateway answers before rmcp reads them: a
//! message nested deeper than JSON parsing goes.
//!
//! rmcp parses each message with serde_json, which stops at 128 levels of nesting; rmcp
//! then takes the message for unparsable input and drops it without an answer (over stdio),
//! so a `tools/call` whose arguments nest 3,000 levels deep left its client waiting for
//! ever and the audit log without a trace. Such a message is refused here, before rmcp:
//! over stdio a [`Guarded`] transport drops its line and answers the request's `id` (read
//! without parsing the rest) with a JSON-RPC error; over HTTP the body is answered the same
//! way (`http.rs`). Either way the refusal is recorded (rate-limited, as every refusal the
//! gateway records).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rmcp::RoleServer;
use rmcp::model::{ErrorData, RequestId, ServerJsonRpcMessage};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use serde_json::Value;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use crate::stdio::{Reader, Writer};

/// Levels of nesting past which a message is refused: below serde_json's 128, so that no
/// message rmcp would drop for its depth gets past, and far above what a tool's arguments
/// need.
pub(crate) const MAX_NESTING: usize = 100;

/// Lines longer than this are passed on unchecked (rmcp drops them as oversized: its
/// limit, 16 MiB).
const MAX_CHECKED_LINE: usize = 16 * 1024 * 1024;

/// A message refused for its depth: the request's id and method, when it has them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TooDeep {
    pub id: Option<RequestId>,
    pub method: Option<String>,
}

impl TooDeep {
    /// Reads what is known of `message` without parsing it whole.
    pub fn of(message: &[u8]) -> TooDeep {
        let id = top_level_member(message, b"\"id\"").and_then(|v| serde_json::from_value(v).ok());
        let method =
            top_level_member(message, b"\"method\"").and_then(|v| v.as_str().map(str::to_owned));
        TooDeep { id, method }
    }

    /// The reason a refusal record gives.
    pub fn reason(&self) -> String {
        let what = match &self.method {
            Some(method) => format!("a `{}` request", method.escape_default()),
            None => "a message".to_owned(),
        };
        format!("mcp.message_too_deep: {what} nested more than {MAX_NESTING} levels deep")
    }

    /// The client's answer: an invalid-request error for a request (a message with an id
    /// and a method); `None` for a notification or a response, which get no answer.
    pub fn answer(&self) -> Option<ServerJsonRpcMessage> {
        let id = self.id.clone().filter(|_| self.method.is_some())?;
        let error = ErrorData::invalid_request(
            format!("aecl: the message nests more than {MAX_NESTING} levels deep; refused"),
            None,
        );
        Some(ServerJsonRpcMessage::error(error, Some(id)))
    }
}

/// Whether `message` nests deeper than [`MAX_NESTING`] (brackets outside strings).
pub(crate) fn too_deep(message: &[u8]) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in message {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The value of the top-level object's member `key` (its JSON string form, quotes
/// included) when it is a string or a number, found by scanning, so a message too deep to
/// parse still names it.
fn top_level_member(message: &[u8], key: &[u8]) -> Option<Value> {
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(&byte) = message.get(at) {
        match byte {
            b'"' => {
                let end = string_end(message, at)?;
                if depth == 1 && message.get(at..end) == Some(key) {
                    let colon = skip_space(message, end);
                    if message.get(colon) == Some(&b':') {
                        return scalar_at(message, skip_space(message, colon + 1));
                    }
                }
                at = end;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    None
}

/// The index just past the string that opens at `start`.
fn string_end(message: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        match message.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
}

fn skip_space(message: &[u8], mut at: usize) -> usize {
    while message.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// The string or number at `start`, parsed on its own.
fn scalar_at(message: &[u8], start: usize) -> Option<Value> {
    let end = match message.get(start)? {
        b'"' => string_end(message, start)?,
        _ => {
            let number =
                |b: &u8| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E');
            start + message.get(start..)?.iter().take_while(|b| number(b)).count()
        }
    };
    serde_json::from_slice(message.get(start..end)?).ok()
}

/// The gateway's stdio transport: rmcp's, reading through [`Guard`], and answering the
/// requests the guard refused.
pub(crate) struct Guarded {
    inner: AsyncRwTransport<RoleServer, Guard<Reader>, Writer>,
    refused: mpsc::UnboundedReceiver<TooDeep>,
    /// Records a refusal (its reason).
    record: Box<dyn Fn(String) + Send>,
}

/// `(reader, writer)` as the gateway's transport; `record` is given the reason of each
/// message refused.
pub(crate) fn guarded(
    (reader, writer): (Reader, Writer),
    record: impl Fn(String) + Send + 'static,
) -> Guarded {
    let (sender, refused) = mpsc::unbounded_channel();
    let guard = Guard::new(reader, sender);
    Guarded { inner: AsyncRwTransport::new(guard, writer), refused, record: Box::new(record) }
}

impl Transport<RoleServer> for Guarded {
    type Error = io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            // rmcp polls this inside a `select!` and may drop it at any await: both
            // branches are cancel-safe, and an answer is sent by a task of its own.
            let Guarded { inner, refused, .. } = self;
            let refused = tokio::select! {
                biased;
                Some(refused) = refused.recv() => refused,
                message = inner.receive() => return message,
            };
            if let Some(answer) = refused.answer() {
                let sent = self.inner.send(answer);
                tokio::spawn(async move {
                    if let Err(error) = sent.await {
                        tracing::warn!(%error, "answering a refused MCP message");
                    }
                });
            }
            (self.record)(refused.reason());
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}

/// Reads lines from `inner` and passes on those no deeper than [`MAX_NESTING`]; a deeper
/// one is dropped and named on `refused`.
pub(crate) struct Guard<R> {
    inner: R,
    /// The line being read, not yet checked.
    line: Vec<u8>,
    /// Checked bytes, passed on from `ready_at`.
    ready: Vec<u8>,
    ready_at: usize,
    /// The rest of a line too long to check is passed on as it comes.
    passing: bool,
    eof: bool,
    refused: mpsc::UnboundedSender<TooDeep>,
}

impl<R> Guard<R> {
    fn new(inner: R, refused: mpsc::UnboundedSender<TooDeep>) -> Guard<R> {
        Guard {
            inner,
            line: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            passing: false,
            eof: false,
            refused,
        }
    }

    fn take_in(&mut self, bytes: &[u8]) {
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let complete = piece.ends_with(b"\n");
            if self.passing {
                self.ready.extend_from_slice(piece);
                self.passing = !complete;
                continue;
            }
            self.line.extend_from_slice(piece);
            if complete {
                let line = std::mem::take(&mut self.line);
                if too_deep(&line) {
                    // The receiving end lives as long as the transport reading this.
                    let _ = self.refused.send(TooDeep::of(&line));
                } else {
                    self.ready.extend_from_slice(&line);
                }
            } else if self.line.len() > MAX_CHECKED_LINE {
                self.ready.append(&mut self.line);
                self.passing = true;
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Guard<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Some(ready) = this.ready.get(this.ready_at..).filter(|r| !r.is_empty()) {
                let count = ready.len().min(buf.remaining());
                buf.put_slice(ready.get(..count).unwrap_or_default());
                this.ready_at += count;
                if this.ready_at == this.ready.len() {
                    this.ready.clear();
                    this.ready_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                // An unterminated last line is passed on as it is (rmcp ignores it).
                if this.line.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                this.ready.append(&mut this.line);
                continue;
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.eof = true;
            } else {
                let filled = read.filled().to_vec();
                this.take_in(&filled);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::io::AsyncReadExt;

    use super::*;

    fn deep(levels: usize) -> String {
        let args = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
        format!(
            r#"{{"jsonrpc":"2.0","method":"tools/call","params":{{"name":"echo","arguments":{{"a":{args}}}}},"id":10}}"#
        )
    }

    #[test]
    fn depth_is_counted_outside_strings_and_the_id_is_found_after_the_depth() {
        assert!(too_deep(deep(3000).as_bytes()));
        assert!(!too_deep(deep(90).as_bytes()));
        let quoted = format!(r#"{{"a":"{}"}}"#, "[".repeat(500));
        assert!(!too_deep(quoted.as_bytes()), "brackets in a string are text");
        let refused = TooDeep::of(deep(3000).as_bytes());
        assert_eq!(refused.id, Some(RequestId::Number(10)));
        assert_eq!(refused.method.as_deref(), Some("tools/call"));
        let answer = serde_json::to_value(refused.answer().unwrap()).unwrap();
        assert_eq!(answer["id"], 10);
        assert_eq!(answer["error"]["code"], -32600);
        // A string id, and an `id` key inside the arguments that is not the request's.
        let line = format!(
            r#"{{"params":{{"arguments":{{"id":"no"}}}},"id":"req-\"7","method":"x","deep":{}}}"#,
            "[".repeat(200)
        );
        assert_eq!(TooDeep::of(line.as_bytes()).id, Some(RequestId::String("req-\"7".into())));
        // A notification gets no answer.
        let note = format!(r#"{{"method":"notifications/x","params":{}}}"#, "[".repeat(200));
        assert!(TooDeep::of(note.as_bytes()).answer().is_none());
    }

    #[tokio::test]
    async fn the_guard_drops_a_deep_line_and_passes_the_others_as_they_were() {
        let first = json!({"jsonrpc": "2.0", "method": "ping", "id": 1}).to_string();
        let last = json!({"jsonrpc": "2.0", "method": "ping", "id": 2}).to_string();
        let input = format!("{first}\n{}\n{last}\n", deep(3000));
        let (sender, mut refused) = mpsc::unbounded_channel();
        let mut guard = Guard::new(input.as_bytes(), sender);
        let mut passed = String::new();
        guard.read_to_string(&mut passed).await.unwrap();
        assert_eq!(passed, format!("{first}\n{last}\n"));
        assert_eq!(refused.try_recv().unwrap().id, Some(RequestId::Number(10)));
    }
}
