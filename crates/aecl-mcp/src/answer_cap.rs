//! A cap on the size of a wrapped server's answers: an answer larger than the gateway
//! reads is replaced by a JSON-RPC error for the same request, so the call it answers
//! fails at once (its outcome recorded as unknown: the server may have done the work), the
//! run's history and the audit log do not keep megabytes of it, and the session goes on.
//!
//! Before, an answer was read whole up to rmcp's own limit (16 MiB a line, or an HTTP
//! body), kept whole in the history and the audit log, and one over that limit was dropped
//! unanswered: its call was recorded timed out only when the engine's call timeout ended
//! it.

use rmcp::RoleClient;
use rmcp::model::{ErrorCode, ErrorData, JsonRpcError, JsonRpcMessage, JsonRpcVersion2_0};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;

/// The largest answer read from a wrapped server, in bytes of its JSON: a tool's output a
/// model reads is far smaller, and the largest output worth keeping in a history.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// The error code of an answer dropped for its size (JSON-RPC's server-error range).
const TOO_LARGE: ErrorCode = ErrorCode(-32001);

/// A transport to a wrapped server whose answers are at most `limit` bytes.
pub(crate) struct Capped<T> {
    inner: T,
    limit: usize,
}

impl<T> Capped<T> {
    pub fn new(inner: T, limit: usize) -> Capped<T> {
        Capped { inner, limit }
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
        let message = self.inner.receive().await?;
        Some(capped(message, self.limit))
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// `message`, or an error in its place when it is an answer larger than `limit` bytes.
fn capped(message: RxJsonRpcMessage<RoleClient>, limit: usize) -> RxJsonRpcMessage<RoleClient> {
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
        let small = capped(answer("fine"), 1000);
        assert!(matches!(small, JsonRpcMessage::Response(_)));
        let large = capped(answer(&"x".repeat(2000)), 1000);
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
        let JsonRpcMessage::Error(small) = capped(error("failed".into()), 1000) else {
            unreachable!("an error")
        };
        assert_eq!(small.error.message, "failed");
        let JsonRpcMessage::Error(large) = capped(error("x".repeat(2000)), 1000) else {
            unreachable!("an error")
        };
        assert_eq!(large.id, Some(RequestId::Number(9)));
        assert_eq!(large.error.code, TOO_LARGE);
        assert!(large.error.message.len() < 200, "{}", large.error.message);
    }
}
