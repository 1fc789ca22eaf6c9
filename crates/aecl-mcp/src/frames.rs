//! Messages from the agent's client that the gateway answers before rmcp reads them, and
//! the client's request ids, which rmcp never sees.
//!
//! rmcp drops a message it cannot parse without an answer (over stdio): one nested deeper
//! than serde_json goes, one that is not UTF-8 or not JSON (a lone surrogate escape among
//! them), one holding a number out of range, a line over its size limit; JSON that is no
//! JSON-RPC message of MCP's (an `id` of `true`, no `method`) it answers with an error that
//! names no request and records nowhere; a JSON-RPC batch is no message it serves. A
//! `tools/call` among them left its client waiting for ever and the audit log without a
//! trace. Each is refused here, before rmcp ([`check`]): over stdio [`Guarded`] reads the
//! client's lines itself and parses each once, as rmcp would, handing rmcp the message it
//! parsed; a line it cannot read is answered (the request's `id`, read by scanning, or
//! `null`) with a JSON-RPC error. Over HTTP the body is checked and answered the same way
//! (`http.rs`). Either way the refusal is recorded (rate-limited, as every refusal the
//! gateway records).
//!
//! Over stdio, each request also reaches rmcp under an id of the gateway's own
//! ([`ids`]): a request reusing the id of one in progress is refused the same way, so a
//! cancellation names one call.

use std::future::Future;
use std::io;

use rmcp::RoleServer;
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ErrorData, JsonRpcMessage, RequestId,
    ServerJsonRpcMessage,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::stdio::{Reader, Writer};

mod check;
mod ids;

pub(crate) use check::Problem;
use check::{Envelope, Member};

/// The longest line read (rmcp's own limit, 16 MiB): a longer one is refused.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Bytes of a line too long to read that are kept to find its `id` and `method`.
const KEPT_OF_TOO_LONG: usize = 64 * 1024;

/// Bytes asked of the client's stream at a time.
const READ_CHUNK: usize = 64 * 1024;

/// A message refused before rmcp reads it: what its top level says (its id and method,
/// when it has them) and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refused {
    pub envelope: Envelope,
    pub problem: Problem,
}

impl Refused {
    /// `message` refused for `problem`, with what can be read of it.
    pub fn of(message: &[u8], problem: Problem) -> Refused {
        Refused { envelope: Envelope::of(message), problem }
    }

    /// A request `method` refused for reusing the id `id` of one still in progress.
    pub fn id_in_use(id: &RequestId, method: &str) -> Refused {
        let envelope = Envelope {
            id: Member::Valid(id.clone()),
            method: Member::Valid(method.to_owned()),
            answer: false,
        };
        Refused { envelope, problem: Problem::IdInUse }
    }

    /// The request's id, when it has a valid one.
    pub fn id(&self) -> Option<&RequestId> {
        self.envelope.id.valid()
    }

    /// The reason a refusal record gives.
    pub fn reason(&self) -> String {
        let what = match self.envelope.method.valid() {
            Some(method) => format!("a `{}` request", method.escape_default()),
            None => "a message".to_owned(),
        };
        format!("{}: {what} {}", self.problem.rule(), self.problem.detail())
    }

    /// The client's answer: a JSON-RPC error naming the request by its id when it has a
    /// valid one, else naming none (`null`), as JSON-RPC asks. `None` for a notification
    /// or an answer, which JSON-RPC never answers ([`Envelope::answered`]).
    pub fn answer(&self) -> Option<ServerJsonRpcMessage> {
        if !self.envelope.answered() {
            return None;
        }
        let message = format!("aecl: the message {}; refused", self.problem.detail());
        let error = if self.problem.is_parse_error() {
            ErrorData::parse_error(message, None)
        } else {
            ErrorData::invalid_request(message, None)
        };
        Some(ServerJsonRpcMessage::error(error, self.id().cloned()))
    }
}

/// `body` (a POST's, over HTTP) as the message rmcp's HTTP service parses, or its refusal.
pub(crate) fn read_body(body: &[u8]) -> Result<ClientJsonRpcMessage, Refused> {
    check::read(body).map_err(|problem| Refused::of(body, problem))
}

/// The gateway's stdio transport: reads the client's lines ([`Lines`]) and parses each
/// once ([`check::read`]), answering and recording those it cannot read; writes through
/// rmcp's line transport; gives rmcp its own request ids ([`ids`]).
pub(crate) struct Guarded {
    /// rmcp's line transport, used to write only: it is given no input, since what it
    /// would read is read here.
    writer: AsyncRwTransport<RoleServer, NoInput, Writer>,
    lines: Lines<Reader>,
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
    Guarded {
        writer: AsyncRwTransport::new(NoInput, writer),
        lines: Lines::new(reader),
        record: Box::new(record),
        ids: ids::Ids::default(),
    }
}

impl Guarded {
    /// Answers and records a refused message.
    fn refuse(&mut self, refused: &Refused) {
        if let Some(answer) = refused.answer() {
            let sent = self.writer.send(answer);
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
                    self.refuse(&Refused::id_in_use(&request.id, request.request.method()));
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

    /// The message of one line, or `None` when the line is refused (answered and
    /// recorded) or empty.
    fn message_of(&mut self, line: Line) -> Option<RxJsonRpcMessage<RoleServer>> {
        let refused = match line {
            Line::TooLong(kept) => Refused::of(&kept, Problem::TooLarge),
            Line::Whole(line) => {
                let message = framed(&line);
                // An empty line is no message (rmcp skips it too).
                if message.is_empty() {
                    return None;
                }
                match check::read(message) {
                    Ok(message) => return self.own_ids(message),
                    Err(problem) => Refused::of(message, problem),
                }
            }
        };
        self.refuse(&refused);
        None
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
        self.writer.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        // rmcp polls this inside a `select!` and may drop it at any await: the only one is
        // in `Lines::next`, which keeps whatever it read; an answer is sent by a task of
        // its own.
        loop {
            let line = self.lines.next().await?;
            if let Some(message) = self.message_of(line) {
                return Some(message);
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.writer.close().await
    }
}

/// A line as rmcp's line transport parses it: without a carriage return before its line
/// break, nor a byte order mark (RFC 8259 lets a parser ignore one) at its start.
fn framed(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// The input of the transport that only writes: at its end at once.
#[derive(Debug)]
pub(crate) struct NoInput;

impl AsyncRead for NoInput {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// One line from the client.
#[derive(Debug, PartialEq)]
enum Line {
    /// A whole line, without its line break (the last one, at the end of input, may have
    /// none).
    Whole(Vec<u8>),
    /// The first bytes of a line longer than [`MAX_LINE`], refused as soon as it passes
    /// the limit rather than read to its end; the rest of it is dropped as it comes.
    TooLong(Vec<u8>),
}

/// Reads lines from `inner`, never holding more than [`MAX_LINE`] bytes of one.
///
/// INVARIANT: everything read from `inner` is in `buffer` until taken as a line, so that
/// [`Lines::next`] dropped at its await loses nothing.
struct Lines<R> {
    inner: R,
    buffer: Vec<u8>,
    /// Where the bytes not yet taken start in `buffer`.
    start: usize,
    /// How many bytes from `start` are known to hold no line break.
    searched: usize,
    /// Dropping the rest of a line too long to read.
    discarding: bool,
    eof: bool,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    fn new(inner: R) -> Lines<R> {
        Lines { inner, buffer: Vec::new(), start: 0, searched: 0, discarding: false, eof: false }
    }

    /// The next line; `None` at the end of input or on a read error.
    async fn next(&mut self) -> Option<Line> {
        loop {
            if let Some(line) = self.take() {
                return Some(line);
            }
            if self.eof {
                // An unterminated last line is a line all the same (rmcp dropped it).
                let rest = self.buffer.get(self.start..).unwrap_or_default().to_vec();
                self.start = self.buffer.len();
                return (!rest.is_empty() && !std::mem::take(&mut self.discarding))
                    .then_some(Line::Whole(rest));
            }
            // What was taken makes room, so that the buffer holds at most one line.
            self.buffer.drain(..self.start);
            self.start = 0;
            self.buffer.reserve(READ_CHUNK);
            // Cancel-safe: nothing is read unless this completes.
            match self.inner.read_buf(&mut self.buffer).await {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "reading the MCP client's input");
                    return None;
                }
            }
        }
    }

    /// A line from what is buffered, if a whole one (or one too long) is there.
    fn take(&mut self) -> Option<Line> {
        loop {
            let unread = self.buffer.get(self.start..).unwrap_or_default();
            let from = self.searched.min(unread.len());
            let found = unread.get(from..).and_then(|rest| rest.iter().position(|b| *b == b'\n'));
            let Some(at) = found.map(|at| from + at) else {
                if self.discarding {
                    self.start = self.buffer.len();
                    self.searched = 0;
                    return None;
                }
                if unread.len() > MAX_LINE {
                    // Refused now, with what its beginning says, rather than read to its end.
                    let kept = unread.get(..KEPT_OF_TOO_LONG).unwrap_or_default().to_vec();
                    self.start = self.buffer.len();
                    self.searched = 0;
                    self.discarding = true;
                    return Some(Line::TooLong(kept));
                }
                self.searched = unread.len();
                return None;
            };
            let line = unread.get(..at).unwrap_or_default();
            let taken = if std::mem::take(&mut self.discarding) {
                None
            } else if line.len() > MAX_LINE {
                Some(Line::TooLong(line.get(..KEPT_OF_TOO_LONG).unwrap_or_default().to_vec()))
            } else {
                Some(Line::Whole(line.to_vec()))
            };
            self.start += at + 1;
            self.searched = 0;
            if taken.is_some() {
                return taken;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use tokio::io::AsyncBufReadExt;

    use super::check::too_deep;
    use super::*;

    fn deep(levels: usize) -> String {
        let args = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
        format!(
            r#"{{"jsonrpc":"2.0","method":"tools/call","params":{{"name":"echo","arguments":{{"a":{args}}}}},"id":10}}"#
        )
    }

    fn refused_body(body: &[u8]) -> Option<Refused> {
        read_body(body).err()
    }

    fn answer_of(refused: &Refused) -> Value {
        serde_json::to_value(refused.answer().expect("an answer")).unwrap()
    }

    #[test]
    fn depth_is_counted_outside_strings_and_the_id_is_found_after_the_depth() {
        assert!(too_deep(deep(3000).as_bytes()));
        assert!(!too_deep(deep(90).as_bytes()));
        let quoted = format!(r#"{{"a":"{}"}}"#, "[".repeat(500));
        assert!(!too_deep(quoted.as_bytes()), "brackets in a string are text");
        let refused = refused_body(deep(3000).as_bytes()).expect("refused");
        assert_eq!(refused.problem, Problem::TooDeep);
        assert_eq!(refused.id(), Some(&RequestId::Number(10)));
        assert_eq!(refused.envelope.method.valid().map(String::as_str), Some("tools/call"));
        let answer = answer_of(&refused);
        assert_eq!(answer["id"], 10);
        assert_eq!(answer["error"]["code"], -32600);
        // A notification gets no answer.
        let note = format!(r#"{{"method":"notifications/x","params":{}}}"#, "[".repeat(200));
        assert!(refused_body(note.as_bytes()).unwrap().answer().is_none());
    }

    /// A batch, a number out of range, bytes that are not UTF-8 or not JSON: each answered
    /// (naming the request when it can be read) and given a reason to record.
    #[test]
    fn unreadable_messages_are_answered() {
        let big = r#"{"jsonrpc":"2.0","id":951,"method":"tools/call","params":{"name":"x","arguments":{"amount":1e400}}}"#;
        let refused = refused_body(big.as_bytes()).expect("refused");
        let answer = answer_of(&refused);
        assert_eq!(
            (answer["id"].clone(), answer["error"]["code"].clone()),
            (json!(951), json!(-32600))
        );
        assert!(refused.reason().starts_with("mcp.unreadable_message: a `tools/call` request"));

        let answer = answer_of(&refused_body(format!("[{big}]").as_bytes()).unwrap());
        assert!(answer["id"].is_null() && answer["error"]["code"] == -32600, "{answer}");

        let answer = answer_of(&refused_body(b"{not json").unwrap());
        assert_eq!(answer["error"]["code"], -32700);
        let bytes = b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\"}}";
        let refused = refused_body(bytes).unwrap();
        assert_eq!(refused.problem, Problem::NotUtf8);
        let answer = answer_of(&refused);
        assert_eq!(
            (answer["id"].clone(), answer["error"]["code"].clone()),
            (json!(3), json!(-32700))
        );
    }

    /// Every line the stdio transport takes: what it passes to rmcp, what it answers and
    /// what it records, per line.
    struct Served {
        /// The messages rmcp was given.
        passed: Vec<Value>,
        /// The answers the client was sent.
        answers: Vec<Value>,
        /// The reasons recorded.
        recorded: Vec<String>,
    }

    async fn serve(input: Vec<u8>) -> Served {
        let (client, gateway) = tokio::io::duplex(1024 * 1024);
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let kept = recorded.clone();
        let record = move |reason: String| kept.lock().unwrap().push(reason);
        let mut transport = guarded((Box::new(io::Cursor::new(input)), Box::new(gateway)), record);
        let mut passed = Vec::new();
        while let Some(message) = transport.receive().await {
            passed.push(serde_json::to_value(message).unwrap());
        }
        // The answers are sent by tasks of their own: let them run, then close.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        transport.close().await.unwrap();
        drop(transport);
        let mut answers = Vec::new();
        let mut lines = tokio::io::BufReader::new(client).lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            answers.push(serde_json::from_str(&line).unwrap());
        }
        let recorded = recorded.lock().unwrap().clone();
        Served { passed, answers, recorded }
    }

    /// Each line rmcp would drop (or answer without an id or a record) is answered with
    /// the right code and id and recorded under the right rule; the others pass as they
    /// were, and the session goes on after each. The table covers the ways serde_json and
    /// rmcp fail to take a line: lone surrogates in keys and values, invalid escapes, a
    /// raw control character, trailing text, a second byte order mark, nothing but spaces,
    /// invalid ids, no method, a method that is no string, another `jsonrpc`, `params`
    /// that are no object, duplicate members (top-level, or in a call's arguments), a bare
    /// value.
    #[tokio::test(flavor = "current_thread")]
    async fn every_line_rmcp_cannot_take_is_answered_and_recorded() {
        let refused: &[(&[u8], Value, i64, &str)] = &[
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"x":"\ud800"}}"#, json!(7), -32700, "mcp.unreadable_message"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"\udc00":1}}"#, json!(7), -32700, "mcp.unreadable_message"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"x":"\ud800\u0041"}}"#, json!(7), -32700, "mcp.unreadable_message"),
            (br#"{"jsonrpc":"2.0","id":"\ud800","method":"tools/list"}"#, Value::Null, -32700, "mcp.unreadable_message"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"x":"\q"}}"#, json!(7), -32700, "mcp.unreadable_message"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"x":"\u12"}}"#, json!(7), -32700, "mcp.unreadable_message"),
            (b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{\"x\":\"a\x01b\"}}", json!(7), -32700, "mcp.unreadable_message"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/list"} x"#, json!(7), -32700, "mcp.unreadable_message"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}{}"#, json!(7), -32700, "mcp.unreadable_message"),
            (b"\xEF\xBB\xBF\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", Value::Null, -32700, "mcp.unreadable_message"),
            (b"   \t ", Value::Null, -32700, "mcp.unreadable_message"),
            (br#"{"jsonrpc":"2.0","id":true,"method":"tools/list"}"#, Value::Null, -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#, Value::Null, -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}"#, Value::Null, -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#, Value::Null, -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":7}"#, json!(7), -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":7,"method":5}"#, json!(7), -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"1.0","id":7,"method":"tools/list"}"#, json!(7), -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":"x"}"#, json!(7), -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":7,"id":8,"method":"tools/list"}"#, Value::Null, -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/list","method":"ping"}"#, json!(7), -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"pay","arguments":{"to":"a","amount":2,"to":"b"}}}"#, json!(7), -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","method":5,"params":"x"}"#, Value::Null, -32600, "mcp.invalid_request"),
            (br#"{"jsonrpc":"2.0","id":7,"method":"ping","result":{}}"#, json!(7), -32600, "mcp.invalid_request"),
            (b"7", Value::Null, -32600, "mcp.invalid_request"),
            (b"{}", Value::Null, -32600, "mcp.invalid_request"),
        ];
        let ping = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "ping"}).to_string();
        let mut input = Vec::new();
        for (at, (line, ..)) in refused.iter().enumerate() {
            input.extend_from_slice(line);
            input.extend_from_slice(if at % 2 == 0 { b"\n" } else { b"\r\n" });
            input.extend_from_slice(ping(1000 + at as u64).as_bytes());
            input.push(b'\n');
        }
        let served = serve(input).await;
        assert_eq!(served.answers.len(), refused.len(), "{:#?}", served.answers);
        assert_eq!(served.recorded.len(), refused.len(), "{:#?}", served.recorded);
        for (at, (line, id, code, rule)) in refused.iter().enumerate() {
            let line = String::from_utf8_lossy(line);
            let answer = &served.answers[at];
            assert_eq!(
                (&answer["id"], &answer["error"]["code"]),
                (id, &json!(code)),
                "{line}: {answer}"
            );
            assert!(served.recorded[at].starts_with(rule), "{line}: {}", served.recorded[at]);
            // The session went on: the ping after it reached rmcp.
            assert_eq!(served.passed[at]["method"], "ping", "{line}");
        }
        assert_eq!(served.passed.len(), refused.len());
    }

    /// Refused notifications and answers are recorded but never answered (JSON-RPC); an
    /// empty line is no message; a line with a byte order mark or a carriage return, and an
    /// escaped NUL, are read; a last line without a line break is read.
    #[tokio::test(flavor = "current_thread")]
    async fn notifications_and_answers_are_recorded_unanswered_and_fine_lines_pass() {
        let input = [
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":"x"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/x","params":{"a":"\ud800"}}"#,
            r#"{"jsonrpc":"2.0","id":"elicit-1","result":"\ud800"}"#,
            "",
            "\r",
            "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r",
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a\u0000b"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#,
        ]
        .join("\n");
        let served = serve(input.into_bytes()).await;
        assert!(served.answers.is_empty(), "{:#?}", served.answers);
        assert_eq!(served.recorded.len(), 3, "{:#?}", served.recorded);
        assert!(served.recorded[0].starts_with("mcp.invalid_request"), "{:?}", served.recorded);
        assert!(served.recorded[1].starts_with("mcp.unreadable_message"), "{:?}", served.recorded);
        let ids: Vec<&Value> = served.passed.iter().map(|m| &m["id"]).collect();
        // Own ids (0, 1, 2): rmcp never sees the client's.
        assert_eq!(ids, [&json!(0), &json!(1), &json!(2)], "{:#?}", served.passed);
        assert_eq!(served.passed[1]["params"]["name"], "a\u{0}b");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_line_too_long_is_refused_when_it_passes_the_limit() {
        let head = r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"x","arguments":{"a":""#;
        let mut input = head.as_bytes().to_vec();
        input.resize(MAX_LINE + 10, b'a');
        input.extend_from_slice(b"\"}}}\n{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":5}\n");
        let mut lines = Lines::new(input.as_slice());
        let Some(Line::TooLong(kept)) = lines.next().await else { unreachable!("too long") };
        assert_eq!(kept.len(), KEPT_OF_TOO_LONG);
        assert_eq!(Envelope::of(&kept).id, Member::Valid(RequestId::Number(4)));
        let next = lines.next().await;
        assert_eq!(
            next,
            Some(Line::Whole(br#"{"jsonrpc":"2.0","method":"ping","id":5}"#.to_vec()))
        );
        assert_eq!(lines.next().await, None);

        let served = serve(input).await;
        assert_eq!(served.answers.len(), 1);
        assert_eq!(
            (&served.answers[0]["id"], &served.answers[0]["error"]["code"]),
            (&json!(4), &json!(-32600))
        );
        assert!(served.recorded[0].starts_with("mcp.message_too_large"), "{:?}", served.recorded);
        assert_eq!(served.passed.len(), 1);
    }
}
