//! A cap on the size of what a wrapped server sends: an answer larger than the gateway
//! reads is replaced by a JSON-RPC error for the same request, so the call it answers
//! fails at once (its outcome recorded as unknown: the server may have done the work), the
//! run's history and the audit log do not keep megabytes of it, and the session goes on.
//! A request of the server's (an `elicitation/create`) or a notification larger than that
//! is not passed on at all: the server is answered with an error (for a request), the
//! refusal is recorded, and the session goes on.
//!
//! Before, an answer was read whole up to rmcp's own limit (16 MiB a line, or an HTTP
//! body), kept whole in the history and the audit log, and one over that limit was dropped
//! unanswered: its call was recorded timed out only when the engine's call timeout ended
//! it. A server's request was relayed to the agent's client whatever its size (a 12 MiB
//! elicitation reached the client and was recorded whole as untrusted content).

use std::sync::Arc;

use rmcp::RoleClient;
use rmcp::model::{
    ClientJsonRpcMessage, ConstString, ErrorCode, ErrorData, JsonRpcError, JsonRpcMessage,
    JsonRpcVersion2_0, ServerNotification, ServerRequest,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;

/// The largest answer read from a wrapped server, in bytes of its JSON: a tool's output a
/// model reads is far smaller, and the largest output worth keeping in a history. Requests
/// and notifications of the server's have the same bound.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// The error code of an answer dropped for its size (JSON-RPC's server-error range).
const TOO_LARGE: ErrorCode = ErrorCode(-32001);

/// Records the refusal of a server's message (its reason) in the audit log.
pub(crate) type Record = Arc<dyn Fn(String) + Send + Sync>;

/// A [`Record`] that records nothing (a connection with no audit log behind it, such as
/// `aecl mcp catalog`'s): the refusal is still logged.
pub(crate) fn unrecorded() -> Record {
    Arc::new(|_| {})
}

/// A transport to a wrapped server whose messages are at most `limit` bytes.
pub(crate) struct Capped<T> {
    inner: T,
    limit: usize,
    record: Record,
}

impl<T> Capped<T> {
    pub fn new(inner: T, limit: usize, record: Record) -> Capped<T> {
        Capped { inner, limit, record }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Capped<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        // rmcp polls this inside a `select!`: the only await is the inner receive, and the
        // answer to a dropped request is sent by a task of its own.
        loop {
            let message = self.inner.receive().await?;
            match capped(message, self.limit) {
                Taken::Passed(message) => return Some(message),
                Taken::Dropped { answer, reason } => {
                    if let Some(answer) = answer {
                        let sent = self.inner.send(answer);
                        tokio::spawn(async move {
                            if let Err(error) = sent.await {
                                tracing::warn!(%error, "answering an MCP server's request too large");
                            }
                        });
                    }
                    (self.record)(reason);
                }
            }
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// What becomes of a message from a server.
#[derive(Debug)]
enum Taken {
    /// Passed on (an answer over the limit as an error in its place).
    Passed(RxJsonRpcMessage<RoleClient>),
    /// A request or a notification over the limit: not passed on; the server's answer
    /// for a request, and the refusal's reason.
    Dropped { answer: Option<TxJsonRpcMessage<RoleClient>>, reason: String },
}

/// `message`, or what replaces it when it is larger than `limit` bytes.
fn capped(message: RxJsonRpcMessage<RoleClient>, limit: usize) -> Taken {
    match message {
        JsonRpcMessage::Request(request) if larger_than(&request, limit) => {
            let method = shown_method(request_method(&request.request));
            tracing::warn!(id = %request.id, method, limit, "an MCP server's request is too large: dropped");
            let error = ErrorData::new(
                TOO_LARGE,
                format!(
                    "aecl: the request is larger than {limit} bytes, which the gateway relays; it \
                     was dropped unread"
                ),
                None,
            );
            Taken::Dropped {
                answer: Some(ClientJsonRpcMessage::error(error, Some(request.id))),
                reason: format!(
                    "mcp.server_message_too_large: a `{method}` request of the MCP server is \
                     larger than {limit} bytes; not relayed, the server was answered with an error"
                ),
            }
        }
        JsonRpcMessage::Notification(notification) if larger_than(&notification, limit) => {
            let method = shown_method(notification_method(&notification.notification));
            tracing::warn!(method, limit, "an MCP server's notification is too large: dropped");
            Taken::Dropped {
                answer: None,
                reason: format!(
                    "mcp.server_message_too_large: a `{method}` notification of the MCP server is \
                     larger than {limit} bytes; dropped"
                ),
            }
        }
        message => Taken::Passed(capped_answer(message, limit)),
    }
}

/// A method name as a reason shows it: the server chose it, so it is escaped and cut.
fn shown_method(method: &str) -> String {
    method.escape_default().take(100).collect()
}

fn request_method(request: &ServerRequest) -> &str {
    match request {
        ServerRequest::PingRequest(r) => r.method.as_str(),
        ServerRequest::CreateMessageRequest(r) => r.method.as_str(),
        ServerRequest::ListRootsRequest(r) => r.method.as_str(),
        ServerRequest::ElicitRequest(r) => r.method.as_str(),
        ServerRequest::CustomRequest(r) => r.method.as_str(),
        _ => "(a kind of request unknown to aecl)",
    }
}

fn notification_method(notification: &ServerNotification) -> &str {
    match notification {
        ServerNotification::CancelledNotification(n) => n.method.as_str(),
        ServerNotification::ProgressNotification(n) => n.method.as_str(),
        ServerNotification::LoggingMessageNotification(n) => n.method.as_str(),
        ServerNotification::ResourceUpdatedNotification(n) => n.method.as_str(),
        ServerNotification::ResourceListChangedNotification(n) => n.method.as_str(),
        ServerNotification::ToolListChangedNotification(n) => n.method.as_str(),
        ServerNotification::PromptListChangedNotification(n) => n.method.as_str(),
        ServerNotification::CustomNotification(n) => n.method.as_str(),
        _ => "(a kind of notification unknown to aecl)",
    }
}

/// `message`, or an error in its place when it is an answer larger than `limit` bytes.
fn capped_answer(
    message: RxJsonRpcMessage<RoleClient>,
    limit: usize,
) -> RxJsonRpcMessage<RoleClient> {
    match message {
        JsonRpcMessage::Response(response) if larger_than(&response.result, limit) => {
            tracing::warn!(id = %response.id, limit, "an MCP server's answer is too large: dropped");
            let error = ErrorData::new(
                TOO_LARGE,
                format!(
                    "aecl: the answer is larger than {limit} bytes, which the gateway reads; it was dropped unread"
                ),
                None,
            );
            JsonRpcMessage::Error(JsonRpcError {
                jsonrpc: JsonRpcVersion2_0,
                id: Some(response.id),
                error,
            })
        }
        // An error answer is the call's output too (`forward.rs`): the same bound.
        JsonRpcMessage::Error(error) if larger_than(&error.error, limit) => {
            tracing::warn!(limit, "an MCP server's error answer is too large: dropped");
            let message = format!(
                "aecl: the error answer is larger than {limit} bytes, which the gateway reads; it \
                 was dropped unread"
            );
            JsonRpcMessage::Error(JsonRpcError {
                jsonrpc: JsonRpcVersion2_0,
                id: error.id,
                error: ErrorData::new(TOO_LARGE, message, None),
            })
        }
        message => message,
    }
}

/// Whether `value`'s JSON is longer than `limit` bytes: written to a counter that stops
/// the writing once past it.
fn larger_than(value: &impl serde::Serialize, limit: usize) -> bool {
    struct Counter {
        written: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.written = self.written.saturating_add(bytes.len());
            if self.written > self.limit {
                return Err(std::io::Error::other("over the limit"));
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { written: 0, limit };
    serde_json::to_writer(&mut counter, value).is_err() && counter.written > limit
}

#[cfg(test)]
mod tests {
    use rmcp::model::{CallToolResult, ContentBlock, JsonRpcResponse, RequestId, ServerResult};
    use serde_json::json;

    use super::*;

    fn answer(text: &str) -> RxJsonRpcMessage<RoleClient> {
        let result = CallToolResult::success(vec![ContentBlock::text(text)]);
        JsonRpcMessage::Response(JsonRpcResponse {
            jsonrpc: JsonRpcVersion2_0,
            id: RequestId::Number(7),
            result: ServerResult::CallToolResult(result),
        })
    }

    #[test]
    fn an_answer_over_the_limit_is_an_error_for_its_request() {
        let small = capped_answer(answer("fine"), 1000);
        assert!(matches!(small, JsonRpcMessage::Response(_)));
        let large = capped_answer(answer(&"x".repeat(2000)), 1000);
        let JsonRpcMessage::Error(error) = large else { unreachable!("an error") };
        assert_eq!(error.id, Some(RequestId::Number(7)));
        assert_eq!(error.error.code, TOO_LARGE);
        assert!(error.error.message.contains("larger than 1000 bytes"), "{:?}", error.error);
    }

    /// An error answer is the call's output as well (red-team round 10, second pass: a
    /// 12 MiB error went around the cap): bounded the same way.
    #[test]
    fn an_error_answer_over_the_limit_is_cut_to_a_short_one() {
        let error = |message: String| {
            JsonRpcMessage::Error(JsonRpcError {
                jsonrpc: JsonRpcVersion2_0,
                id: Some(RequestId::Number(9)),
                error: ErrorData::new(ErrorCode(-32000), message, None),
            })
        };
        let JsonRpcMessage::Error(small) = capped_answer(error("failed".into()), 1000) else {
            unreachable!("an error")
        };
        assert_eq!(small.error.message, "failed");
        let JsonRpcMessage::Error(large) = capped_answer(error("x".repeat(2000)), 1000) else {
            unreachable!("an error")
        };
        assert_eq!(large.id, Some(RequestId::Number(9)));
        assert_eq!(large.error.code, TOO_LARGE);
        assert!(large.error.message.len() < 200, "{}", large.error.message);
    }

    /// A server's request or notification over the limit is not passed on (red-team: a
    /// 12 MiB `elicitation/create` reached the client): a request is answered with an
    /// error under its id; both are given a reason to record.
    #[test]
    fn a_request_or_a_notification_over_the_limit_is_dropped() {
        let elicit = |message: String| -> RxJsonRpcMessage<RoleClient> {
            serde_json::from_value(json!({"jsonrpc": "2.0", "id": "e1",
                "method": "elicitation/create", "params": {"mode": "form", "message": message,
                "requestedSchema": {"type": "object", "properties": {}}}}))
            .expect("an elicitation request")
        };
        assert!(matches!(capped(elicit("fine".into()), 1000), Taken::Passed(_)));
        let Taken::Dropped { answer: Some(answer), reason } =
            capped(elicit("x".repeat(2000)), 1000)
        else {
            unreachable!("dropped and answered")
        };
        let answer = serde_json::to_value(answer).unwrap();
        assert_eq!((&answer["id"], &answer["error"]["code"]), (&json!("e1"), &json!(-32001)));
        assert!(reason.starts_with("mcp.server_message_too_large: a `elicitation/create` request"));

        let log = |data: String| -> RxJsonRpcMessage<RoleClient> {
            serde_json::from_value(json!({"jsonrpc": "2.0", "method": "notifications/message",
                "params": {"level": "info", "data": data}}))
            .expect("a notification")
        };
        assert!(matches!(capped(log("fine".into()), 1000), Taken::Passed(_)));
        let Taken::Dropped { answer: None, reason } = capped(log("x".repeat(2000)), 1000) else {
            unreachable!("dropped")
        };
        assert!(reason.contains("`notifications/message` notification"), "{reason}");
    }
}
