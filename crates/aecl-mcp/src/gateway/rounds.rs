//! Calls that ask the client for input on a server's behalf ([`crate::relay`]): a
//! 2025-11-25 client is asked with its own requests while the call goes on; a 2026-07-28
//! client is answered `input_required`, and the call is suspended until the client retries
//! with the answers under the `requestState` it was given. A request for input is the
//! server's text the agent reads: it is recorded in the run as untrusted content before
//! the client sees it ([`crate::shown`]).
//!
//! A call runs in a task of its own; the request that follows it passes on the client's
//! cancellation (`notifications/cancelled`) to the call ([`Cancel`]).

use std::collections::HashMap;

use aecl_engine::{Store, new_id};
use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, InputRequiredResult, InputResponses,
    ProtocolVersion,
};
use rmcp::service::RequestContext;
use tracing::Instrument;

use super::{Gateway, tool_error};
use crate::forward::Cancel;
use crate::relay::{Relay, Round, ask_legacy_client};
use crate::shown;

/// A call in progress: the task running it and the rounds of input it asks for.
#[derive(Debug)]
pub(super) struct InProgress {
    done: tokio::task::JoinHandle<CallToolResult>,
    rounds: tokio::sync::mpsc::Receiver<Round>,
    /// Set when the client cancels the call.
    cancel: Cancel,
}

/// A call suspended until its client retries with the answers to a round.
#[derive(Debug)]
pub(super) struct Suspended {
    /// Only the agent that made the call may resume it.
    agent: String,
    tool: String,
    answer: tokio::sync::oneshot::Sender<Result<InputResponses, String>>,
    call: InProgress,
}

impl<S: Store + 'static> Gateway<S> {
    /// Answers a `tools/call`: a new call, or a suspended call's retry with its answers.
    pub(super) async fn answer_call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> CallToolResponse {
        // A 2026-07-28 client's retry with the answers to a suspended call's round: the
        // suspended call goes on (it was decided once; the retry is not a new call).
        if let Some(state) = &request.request_state {
            let suspended = self.lock_suspended().remove(state);
            // Another agent's suspended call is not this one's to resume (its state is
            // put back, so the right agent still can).
            let suspended = match suspended {
                Some(other) if other.agent != self.config.agent => {
                    self.lock_suspended().insert(state.clone(), other);
                    None
                }
                suspended => suspended,
            };
            let Some(suspended) = suspended else {
                return CallToolResponse::Complete(tool_error(format!(
                    "aecl: `{}`: no call is waiting for input under this requestState",
                    request.name
                )));
            };
            if suspended.tool != request.name {
                // Dropping the round's answer ends the suspended call without input.
                return CallToolResponse::Complete(tool_error(format!(
                    "aecl: the requestState belongs to a call of `{}`, not `{}`",
                    suspended.tool, request.name
                )));
            }
            let _ = suspended.answer.send(Ok(request.input_responses.unwrap_or_default()));
            return self.drive(suspended.tool, suspended.call, &context).await;
        }
        let tool = request.name.to_string();
        let (relay, rounds) = Relay::channel();
        let gateway = self.clone();
        let cancel = Cancel::default();
        let cancelled = cancel.clone();
        // The call runs in its own task, inside this request's span: its stages' spans are
        // this request's children, in the caller's trace.
        let done = tokio::spawn(
            async move { gateway.call(request, relay, cancelled).await }.in_current_span(),
        );
        self.drive(tool, InProgress { done, rounds, cancel }, &context).await
    }

    /// Follows a call in progress until it completes or asks for input: a 2025-11-25
    /// client is asked with its own requests and the call goes on; a 2026-07-28 client is
    /// answered `input_required` and the call waits for its retry.
    async fn drive(
        &self,
        tool: String,
        mut call: InProgress,
        context: &RequestContext<RoleServer>,
    ) -> CallToolResponse {
        let legacy = context.protocol_version().is_none_or(|v| v < ProtocolVersion::V_2026_07_28);
        loop {
            let (requests, answer) = tokio::select! {
                done = &mut call.done => {
                    return CallToolResponse::Complete(done.unwrap_or_else(|error| {
                        tool_error(format!("aecl: the call stopped: {error}"))
                    }));
                }
                Some(round) = call.rounds.recv() => round,
                // The client cancelled this request (or its session ended): the call stops
                // waiting, executes nothing more, and ends in its own task. rmcp sends no
                // answer to a cancelled request, so this one is only for the record.
                () = context.ct.cancelled() => {
                    call.cancel.cancel();
                    return CallToolResponse::Complete(tool_error(format!(
                        "aecl: `{tool}` was cancelled by the agent's client"
                    )));
                }
            };
            // Recorded before the client reads it; not recorded, not relayed (the server
            // hears an error).
            let asked = shown::requests(&tool, &requests);
            let (run, agent) = (&self.config.run, &self.config.agent);
            if let Err(error) =
                self.engine.record_untrusted(run, agent, &asked.source, asked.content).await
            {
                let _ = answer.send(Err(format!("aecl could not record the request: {error}")));
                continue;
            }
            if legacy {
                let _ = answer.send(ask_legacy_client(&context.peer, requests).await);
                continue;
            }
            let state = format!("aecl-{}", new_id());
            let asked = InputRequiredResult::new(Some(requests), Some(state.clone()));
            let mut suspended = self.lock_suspended();
            // Calls whose client never came back have ended by now (the engine's call
            // timeout): forget them.
            suspended.retain(|_, waiting| !waiting.call.done.is_finished());
            let agent = self.config.agent.clone();
            suspended.insert(state, Suspended { agent, tool, answer, call });
            return CallToolResponse::InputRequired(asked);
        }
    }

    fn lock_suspended(&self) -> std::sync::MutexGuard<'_, HashMap<String, Suspended>> {
        self.suspended.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
