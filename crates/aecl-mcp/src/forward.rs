//! The connector of one `tools/call`: forwards the call to the wrapped server when the
//! engine has decided it may run (and its client has not cancelled it), relays the
//! server's requests for input to the agent's client until the tool completes, and keeps
//! the server's exact answer for the client.
//!
//! What the run's history and the audit log get of the answer is all the client is given
//! ([`history_value`]): every content block, `structuredContent` and the result's
//! `_meta`, so that no part of it reaches the agent untracked. An error answer
//! (`isError`) is output the client reads too: it goes to the history as untrusted output
//! ([`Connector::error_output`]). So does a call that failed on its way: a JSON-RPC error
//! the server answered with (its message and data are the server's text, as free as a
//! result's), or a transport's failure; the client is given it as an `isError` result,
//! which is what is recorded.

use std::sync::{Arc, Mutex};

use aecl_core::output::parse;
use aecl_engine::{BoxFuture, Connector, ConnectorOutcome, Invocation};
use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::relay::Relay;
use crate::upstream::Upstream;

/// How many `input_required` rounds one call may take: a server that keeps asking is
/// stopped rather than followed for ever.
const MAX_INPUT_ROUNDS: usize = 16;

/// Forwards one call. A new one is made per `tools/call`, so the answer it keeps is that
/// call's.
#[derive(Debug)]
pub(crate) struct Forward {
    pub upstream: Arc<Upstream>,
    /// The tool's name on the wrapped server (the action may carry a prefix).
    pub tool: String,
    /// The server's answer, when it gave one.
    pub answer: Mutex<Option<CallToolResult>>,
    /// Where the server's requests for input go (the agent's client).
    pub relay: Relay,
    /// Set when the agent's client cancels the call.
    pub cancel: Cancel,
}

impl Forward {
    pub fn new(upstream: Arc<Upstream>, tool: String, relay: Relay, cancel: Cancel) -> Forward {
        Forward { upstream, tool, answer: Mutex::new(None), relay, cancel }
    }

    /// The server's answer, taken out.
    pub fn take_answer(&self) -> Option<CallToolResult> {
        self.answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

impl Connector for Forward {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        let call = invocation.call;
        Box::pin(async move {
            let mut params = CallToolRequestParams::new(self.tool.clone());
            params.arguments = match &call.args {
                Value::Object(map) => Some(map.clone()),
                _ => None,
            };
            // INVARIANT: a call its client cancelled is never forwarded afterwards (it may
            // have waited for an approval, or been decided while the client gave up).
            if self.cancel.is_cancelled() {
                return ConnectorOutcome::Failed { error: CANCELLED.to_owned() };
            }
            // A 2025-11-25 server's own requests during the call come to this relay.
            let _entered = self.upstream.relays().enter(self.relay.clone());
            for round in 0..MAX_INPUT_ROUNDS {
                if round > 0 && self.cancel.is_cancelled() {
                    // The server has started the call: it may have done part of it.
                    return ConnectorOutcome::Unknown { error: CANCELLED.to_owned() };
                }
                // A cancellation while the server works drops the request, which sends it
                // `notifications/cancelled` (rmcp's `call_tool_once`): the server should
                // stop, but may have done part of the call.
                let answered = tokio::select! {
                    biased;
                    answered = self.upstream.call(params.clone()) => answered,
                    () = self.cancel.cancelled() => {
                        return ConnectorOutcome::Unknown { error: CANCELLED.to_owned() };
                    }
                };
                let input = match answered {
                    Ok(CallToolResponse::Complete(result)) => return self.complete(result),
                    Ok(CallToolResponse::InputRequired(input)) => input,
                    Ok(_) => {
                        return ConnectorOutcome::Unknown {
                            error: "the MCP server answered with a task, which the gateway does not follow".to_owned(),
                        };
                    }
                    // The request may have reached the server before the failure.
                    Err(error) => return self.failed(error.to_string(), true),
                };
                let requests = input.input_requests.unwrap_or_default();
                let answers = if requests.is_empty() {
                    Default::default()
                } else {
                    let asked = tokio::select! {
                        biased;
                        asked = self.relay.ask(requests) => asked,
                        // As below: before its first answer, the server has done nothing.
                        () = self.cancel.cancelled() => {
                            let error = CANCELLED.to_owned();
                            return if round == 0 {
                                ConnectorOutcome::Failed { error }
                            } else {
                                ConnectorOutcome::Unknown { error }
                            };
                        }
                    };
                    match asked {
                        Ok(answers) => answers,
                        // Asked before doing anything: nothing ran. After a round, the
                        // server may have started. The error names the server's request.
                        Err(error) => {
                            let what = format!("the MCP server asked for input: {error}");
                            return self.failed(what, round > 0);
                        }
                    }
                };
                params.input_responses = (!answers.is_empty()).then_some(answers);
                params.request_state = input.request_state;
            }
            ConnectorOutcome::Unknown {
                error: format!("the MCP server asked for input more than {MAX_INPUT_ROUNDS} times"),
            }
        })
    }

    /// The answer as the run's history records it, when the server answered an error.
    fn error_output(&self) -> Option<Value> {
        let answer = self.answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        answer.as_ref().filter(|result| result.is_error == Some(true)).map(history_value)
    }
}

/// The error of a call its client cancelled.
const CANCELLED: &str = "the agent's client cancelled the call";

impl Forward {
    /// The outcome of a call that failed on its way (`what`): unknown once the server had
    /// it (`sent`: it may have done part of it), else failed. What the client is told of
    /// the failure, which holds the server's own text when it answered an error (or named
    /// its request for input), is kept as the call's answer (an `isError` result) and so
    /// recorded as its output (`error_output`): never only in the outcome's error, which
    /// the run's history does not read.
    fn failed(&self, what: String, sent: bool) -> ConnectorOutcome {
        let shown = format!("aecl: `{}` failed: {what}", self.tool);
        let result = CallToolResult::error(vec![ContentBlock::text(shown)]);
        *self.answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
        let error = "the MCP server's `tools/call` failed; what the client is shown of the \
                     failure is recorded as the call's output"
            .to_owned();
        if sent { ConnectorOutcome::Unknown { error } } else { ConnectorOutcome::Failed { error } }
    }

    /// The outcome of a completed call; its result kept for the client.
    fn complete(&self, result: CallToolResult) -> ConnectorOutcome {
        let outcome = if result.is_error == Some(true) {
            // The tool ran and reported an error: it may have done part of its work, so
            // the outcome is unknown rather than failed. Its text is not copied into the
            // error: the answer itself is recorded beside it (`error_output`), where the
            // configured redact paths apply to it as to any output.
            ConnectorOutcome::Unknown {
                error: "the tool reported an error (`isError`); its answer is recorded as \
                        the call's output"
                    .to_owned(),
            }
        } else {
            ConnectorOutcome::Succeeded { result: history_value(&result), rollback_token: None }
        };
        *self.answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
        outcome
    }
}

/// What a tool's result adds to the run's history (and its outcome record): all of what
/// the client is given, as the MCP result it is (`content`, `structuredContent`, `_meta`,
/// `isError`), which the core reads part by part (`aecl_core::output`): the structured
/// content with the catalog's per-field trust, every text block, resource text and link,
/// and `_meta`. Recording `_meta` rather than removing it from the answer: a client may
/// hand it to the model, and servers use it for what clients need (UI resources, progress
/// details); its values are simply tracked as the rest's are.
///
/// The bytes of an image, an audio clip or a blob are no text a model copies into an
/// argument: each is kept as its SHA-256 and size, so the record stays small and still
/// names what was shown. A blob whose bytes are text is also kept as that text.
pub(crate) fn history_value(result: &CallToolResult) -> Value {
    let mut recorded = Map::new();
    let mut content = serde_json::to_value(&result.content).unwrap_or(Value::Null);
    for item in content.as_array_mut().into_iter().flatten() {
        if let Some(data) = item.get_mut("data") {
            digest_bytes(data);
        }
        if let Some(Value::Object(resource)) = item.get_mut("resource")
            && let Some(blob) = resource.get_mut("blob")
        {
            // A blob of text is recorded as the text it is (the core reads it so, from
            // the hook's results too): a model may be shown it, or decode it.
            let text = blob.as_str().and_then(aecl_core::values::base64_text);
            digest_bytes(blob);
            if let Some(text) = text {
                parse::add_resource_text(resource, text);
            }
        }
    }
    recorded.insert("content".to_owned(), content);
    if let Some(structured) = &result.structured_content {
        recorded.insert("structuredContent".to_owned(), structured.clone());
    }
    if result.is_error == Some(true) {
        recorded.insert("isError".to_owned(), Value::Bool(true));
    }
    if let Some(meta) = result.meta.as_ref().and_then(|meta| serde_json::to_value(meta).ok()) {
        recorded.insert("_meta".to_owned(), meta);
    }
    Value::Object(recorded)
}

/// Replaces base64 bytes by their digest and size.
fn digest_bytes(value: &mut Value) {
    if let Value::String(bytes) = value {
        let digest = Sha256::digest(bytes.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        *value = Value::String(format!("sha256:{hex} ({} base64 bytes)", bytes.len()));
    }
}

/// Set when the agent's client cancels a call (`notifications/cancelled`): the call then
/// waits for nothing more and is never forwarded afterwards. Shared by the request that
/// follows the call and the call's own task.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cancel(Arc<tokio::sync::watch::Sender<bool>>);

impl Cancel {
    /// The call is cancelled.
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once the call is cancelled.
    pub async fn cancelled(&self) {
        let mut cancelled = self.0.subscribe();
        // The sender lives as long as `self`: the wait ends only by a cancellation.
        let _ = cancelled.wait_for(|cancelled| *cancelled).await;
    }
}
