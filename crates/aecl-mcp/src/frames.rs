//! Messages from the agent's client that the gateway answers before rmcp reads them, and
//! the client's request ids, which rmcp never sees.
//!
//! rmcp drops a message it cannot parse without an answer (over stdio): one nested deeper
//! than serde_json goes, one that is not UTF-8 or not JSON, one holding a number out of
//! range, a line over its size limit; a JSON-RPC batch is no message it serves. A
//! `tools/call` among them left its client waiting for ever and the audit log without a
//! trace. Each is refused here, before rmcp ([`check`]): over stdio a [`Guarded`]
//! transport drops its line and answers the request's `id` (read without parsing the rest)
//! with a JSON-RPC error; over HTTP the body is answered the same way (`http.rs`). Either
//! way the refusal is recorded (rate-limited, as every refusal the gateway records).
//!
//! Over stdio, each request also reaches rmcp under an id of the gateway's own
//! ([`ids`]): a request reusing the id of one in progress is refused the same way, so a
//! cancellation names one call.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rmcp::RoleServer;
use rmcp::model::{ClientNotification, ErrorData, JsonRpcMessage, RequestId, ServerJsonRpcMessage};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use crate::stdio::{Reader, Writer};

mod check;
mod ids;

pub(crate) use check::Problem;

/// The longest line read (rmcp's own limit, 16 MiB): a longer one is refused.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Bytes of a line too long to read that are kept to find its `id` and `method`.
const KEPT_OF_TOO_LONG: usize = 64 * 1024;

/// A message refused before rmcp reads it: the request's id and method, when it has them,
/// and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refused {
    pub id: Option<RequestId>,
    pub method: Option<String>,
    pub problem: Problem,
}

impl Refused {
    /// `message` refused for `problem`, with what can be read of it.
    pub fn of(message: &[u8], problem: Problem) -> Refused {
        let (id, method) = check::id_and_method(message);
        Refused { id, method, problem }
    }

    /// What is wrong with `message`, as a refusal; `None` when the gateway reads it.
    pub fn check(message: &[u8]) -> Option<Refused> {
        check::problem(message).map(|problem| Refused::of(message, problem))
    }

    /// The reason a refusal record gives.
    pub fn reason(&self) -> String {
        let what = match &self.method {
            Some(method) => format!("a `{}` request", method.escape_default()),
            None => "a message".to_owned(),
        };
        let rule = match self.problem {
            Problem::TooDeep => "mcp.message_too_deep",
            Problem::IdInUse => "mcp.request_id_in_use",
            Problem::TooLarge => "mcp.message_too_large",
            _ => "mcp.unreadable_message",
        };
        format!("{rule}: {what} {}", self.problem.detail())
    }

    /// The client's answer: a JSON-RPC error naming the request (a message with an id and
    /// a method); for a message with neither (a batch, bytes that are no message), an error
    /// naming no request, as JSON-RPC asks. `None` for a notification or a response, which
    /// get no answer.
    pub fn answer(&self) -> Option<ServerJsonRpcMessage> {
        let message = format!("aecl: the message {}; refused", self.problem.detail());
        let unreadable = matches!(self.problem, Problem::NotUtf8 | Problem::NotJson);
        let error = if unreadable {
            ErrorData::parse_error(message, None)
        } else {
            ErrorData::invalid_request(message, None)
        };
        match (&self.id, &self.method) {
            (Some(id), Some(_)) => Some(ServerJsonRpcMessage::error(error, Some(id.clone()))),
            // A batch, or bytes with no readable id and method: no request to name.
            (None, None) => Some(ServerJsonRpcMessage::error(error, None)),
            _ => None,
        }
    }
}

/// The gateway's stdio transport: rmcp's, reading through [`Guard`], answering the
/// requests the guard refused, and giving rmcp its own request ids ([`ids`]).
pub(crate) struct Guarded {
    inner: AsyncRwTransport<RoleServer, Guard<Reader>, Writer>,
    refused: mpsc::UnboundedReceiver<Refused>,
    /// Records a refusal (its reason).
    record: Box<dyn Fn(String) + Send>,
    ids: ids::Ids,
}

/// `(reader, writer)` as the gateway's transport; `record` is given the reason of each
/// message refused.
pub(crate) fn guarded(
    (reader, writer): (Reader, Writer),
    record: impl Fn(String) + Send + 'static,
) -> Guarded {
    let (sender, refused) = mpsc::unbounded_channel();
    let guard = Guard::new(reader, sender);
    Guarded {
        inner: AsyncRwTransport::new(guard, writer),
        refused,
        record: Box::new(record),
        ids: ids::Ids::default(),
    }
}

impl Guarded {
    /// Answers and records a refused message.
    fn refuse(&mut self, refused: &Refused) {
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

    /// `message` as rmcp is given it: a request under its own id, a cancellation under the
    /// id of the request it names. `None` when it is not given (a request reusing an id in
    /// progress, refused; a cancellation of nothing in progress).
    fn own_ids(
        &mut self,
        message: RxJsonRpcMessage<RoleServer>,
    ) -> Option<RxJsonRpcMessage<RoleServer>> {
        match message {
            JsonRpcMessage::Request(mut request) => match self.ids.start(&request.id) {
                Some(own) => {
                    request.id = own;
                    Some(JsonRpcMessage::Request(request))
                }
                None => {
                    let method = Some(request.request.method().to_owned());
                    let id = Some(request.id);
                    self.refuse(&Refused { id, method, problem: Problem::IdInUse });
                    None
                }
            },
            JsonRpcMessage::Notification(mut notification) => {
                if let ClientNotification::CancelledNotification(cancelled) =
                    &mut notification.notification
                {
                    // Named by the client's id: an own id it names by chance is not it.
                    let named = cancelled.params.request_id.as_ref()?;
                    cancelled.params.request_id = Some(self.ids.cancel(named)?);
                }
                Some(JsonRpcMessage::Notification(notification))
            }
            other => Some(other),
        }
    }
}

impl Transport<RoleServer> for Guarded {
    type Error = io::Error;

    fn send(
        &mut self,
        mut item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        // An answer goes back under the client's id of its request.
        match &mut item {
            JsonRpcMessage::Response(response) => {
                if let Some(id) = self.ids.answered(&response.id) {
                    response.id = id;
                }
            }
            JsonRpcMessage::Error(error) => {
                if let Some(id) = error.id.as_ref().and_then(|own| self.ids.answered(own)) {
                    error.id = Some(id);
                }
            }
            JsonRpcMessage::Request(_) | JsonRpcMessage::Notification(_) => {}
        }
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
                message = inner.receive() => match self.own_ids(message?) {
                    Some(message) => return Some(message),
                    None => continue,
                },
            };
            self.refuse(&refused);
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}

/// Reads lines from `inner` and passes on those the gateway reads ([`check`]); another is
/// dropped and named on `refused`.
pub(crate) struct Guard<R> {
    inner: R,
    /// The line being read, not yet checked.
    line: Vec<u8>,
    /// Checked bytes, passed on from `ready_at`.
    ready: Vec<u8>,
    ready_at: usize,
    /// The rest of a line too long to read is dropped as it comes.
    discarding: bool,
    eof: bool,
    refused: mpsc::UnboundedSender<Refused>,
}

impl<R> Guard<R> {
    fn new(inner: R, refused: mpsc::UnboundedSender<Refused>) -> Guard<R> {
        Guard {
            inner,
            line: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            discarding: false,
            eof: false,
            refused,
        }
    }

    fn take_in(&mut self, bytes: &[u8]) {
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let complete = piece.ends_with(b"\n");
            if self.discarding {
                self.discarding = !complete;
                continue;
            }
            self.line.extend_from_slice(piece);
            if complete {
                let line = std::mem::take(&mut self.line);
                if line.len() > MAX_LINE {
                    let kept = line.get(..KEPT_OF_TOO_LONG).unwrap_or_default();
                    let _ = self.refused.send(Refused::of(kept, Problem::TooLarge));
                    continue;
                }
                match Refused::check(&line) {
                    // The receiving end lives as long as the transport reading this.
                    Some(refused) => drop(self.refused.send(refused)),
                    None => self.ready.extend_from_slice(&line),
                }
            } else if self.line.len() > MAX_LINE {
                // Refused now, with what its beginning says, rather than read to its end.
                let kept = self.line.get(..KEPT_OF_TOO_LONG).unwrap_or_default();
                let _ = self.refused.send(Refused::of(kept, Problem::TooLarge));
                self.line = Vec::new();
                self.discarding = true;
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

    use super::check::too_deep;
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
        let refused = Refused::check(deep(3000).as_bytes()).expect("refused");
        assert_eq!(refused.problem, Problem::TooDeep);
        assert_eq!(refused.id, Some(RequestId::Number(10)));
        assert_eq!(refused.method.as_deref(), Some("tools/call"));
        let answer = serde_json::to_value(refused.answer().unwrap()).unwrap();
        assert_eq!(answer["id"], 10);
        assert_eq!(answer["error"]["code"], -32600);
        // A notification gets no answer.
        let note = format!(r#"{{"method":"notifications/x","params":{}}}"#, "[".repeat(200));
        assert!(Refused::check(note.as_bytes()).unwrap().answer().is_none());
    }

    /// A batch, a number out of range, bytes that are not UTF-8 or not JSON: each answered
    /// (naming the request when it can be read) and given a reason to record.
    #[test]
    fn unreadable_messages_are_answered() {
        let big = r#"{"jsonrpc":"2.0","id":951,"method":"tools/call","params":{"name":"x","arguments":{"amount":1e400}}}"#;
        let refused = Refused::check(big.as_bytes()).expect("refused");
        let answer = serde_json::to_value(refused.answer().unwrap()).unwrap();
        assert_eq!(
            (answer["id"].clone(), answer["error"]["code"].clone()),
            (json!(951), json!(-32600))
        );
        assert!(refused.reason().starts_with("mcp.unreadable_message: a `tools/call` request"));

        let batch = format!("[{big}]");
        let answer = Refused::check(batch.as_bytes()).unwrap().answer().unwrap();
        let answer = serde_json::to_value(answer).unwrap();
        assert!(answer.get("id").is_none() && answer["error"]["code"] == -32600, "{answer}");

        let answer = Refused::check(b"{not json").unwrap().answer().unwrap();
        assert_eq!(serde_json::to_value(answer).unwrap()["error"]["code"], -32700);
        let bytes = b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\"}}";
        let refused = Refused::check(bytes).unwrap();
        assert_eq!(refused.problem, Problem::NotUtf8);
        let answer = serde_json::to_value(refused.answer().unwrap()).unwrap();
        assert_eq!(
            (answer["id"].clone(), answer["error"]["code"].clone()),
            (json!(3), json!(-32700))
        );
    }

    #[tokio::test]
    async fn the_guard_drops_a_refused_line_and_passes_the_others_as_they_were() {
        let first = json!({"jsonrpc": "2.0", "method": "ping", "id": 1}).to_string();
        let last = json!({"jsonrpc": "2.0", "method": "ping", "id": 2}).to_string();
        let input = format!("{first}\n{}\n[{first}]\n\n{last}\n", deep(3000));
        let (sender, mut refused) = mpsc::unbounded_channel();
        let mut guard = Guard::new(input.as_bytes(), sender);
        let mut passed = String::new();
        guard.read_to_string(&mut passed).await.unwrap();
        assert_eq!(passed, format!("{first}\n\n{last}\n"));
        assert_eq!(refused.try_recv().unwrap().id, Some(RequestId::Number(10)));
        assert_eq!(refused.try_recv().unwrap().problem, Problem::Batch);
    }

    #[tokio::test]
    async fn a_line_too_long_is_refused_when_it_passes_the_limit() {
        let head = r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"x","arguments":{"a":""#;
        let mut input = head.as_bytes().to_vec();
        input.resize(MAX_LINE + 10, b'a');
        input.extend_from_slice(b"\"}}}\n{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":5}\n");
        let (sender, mut refused) = mpsc::unbounded_channel();
        let mut guard = Guard::new(input.as_slice(), sender);
        let mut passed = String::new();
        guard.read_to_string(&mut passed).await.unwrap();
        assert_eq!(passed, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":5}\n");
        let refused = refused.try_recv().unwrap();
        assert_eq!((refused.problem, refused.id), (Problem::TooLarge, Some(RequestId::Number(4))));
    }
}
