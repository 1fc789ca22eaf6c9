//! The connector of one `tools/call`: forwards the call to the wrapped server when the
//! engine has decided it may run, relays the server's requests for input to the agent's
//! client until the tool completes, and keeps the server's exact answer for the client.

use std::sync::{Arc, Mutex};

use aecl_engine::{BoxFuture, Connector, ConnectorOutcome, Invocation};
use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock};
use serde_json::Value;

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
}

impl Forward {
    pub fn new(upstream: Arc<Upstream>, tool: String, relay: Relay) -> Forward {
        Forward { upstream, tool, answer: Mutex::new(None), relay }
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
            // A 2025-11-25 server's own requests during the call come to this relay.
            let _entered = self.upstream.relays().enter(self.relay.clone());
            for round in 0..MAX_INPUT_ROUNDS {
                let input = match self.upstream.call(params.clone()).await {
                    Ok(CallToolResponse::Complete(result)) => return self.complete(result),
                    Ok(CallToolResponse::InputRequired(input)) => input,
                    Ok(_) => {
                        return ConnectorOutcome::Unknown {
                            error: "the MCP server answered with a task, which the gateway does not follow".to_owned(),
                        };
                    }
                    // The request may have reached the server before the failure.
                    Err(error) => return ConnectorOutcome::Unknown { error: error.to_string() },
                };
                let requests = input.input_requests.unwrap_or_default();
                let answers = if requests.is_empty() {
                    Default::default()
                } else {
                    match self.relay.ask(requests).await {
                        Ok(answers) => answers,
                        // Asked before doing anything: nothing ran. After a round, the
                        // server may have started.
                        Err(error) if round == 0 => {
                            return ConnectorOutcome::Failed {
                                error: format!("the MCP server asked for input: {error}"),
                            };
                        }
                        Err(error) => {
                            return ConnectorOutcome::Unknown {
                                error: format!("the MCP server asked for input: {error}"),
                            };
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
}

impl Forward {
    /// The outcome of a completed call; its result kept for the client.
    fn complete(&self, result: CallToolResult) -> ConnectorOutcome {
        let outcome = if result.is_error == Some(true) {
            // The tool ran and reported an error: it may have done part of its work, so
            // the outcome is unknown rather than failed.
            ConnectorOutcome::Unknown {
                error: format!("the tool reported an error: {}", text_of(&result)),
            }
        } else {
            ConnectorOutcome::Succeeded { result: history_value(&result), rollback_token: None }
        };
        *self.answer.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
        outcome
    }
}

/// What a tool's output adds to the run's history: its structured content when it has
/// some (so the catalog's per-field trust applies to its fields), otherwise its text.
/// Other content (images, audio, resources) is kept as the MCP JSON it came in.
pub(crate) fn history_value(result: &CallToolResult) -> Value {
    if let Some(structured) = &result.structured_content {
        return structured.clone();
    }
    let all_text = result.content.iter().all(|c| c.as_text().is_some());
    if all_text {
        Value::String(text_of(result))
    } else {
        serde_json::to_value(&result.content).unwrap_or(Value::Null)
    }
}

/// The text content of a result, one block a line.
pub(crate) fn text_of(result: &CallToolResult) -> String {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(ContentBlock::as_text)
        .map(|text| text.text.as_str())
        .collect();
    texts.join("\n")
}
