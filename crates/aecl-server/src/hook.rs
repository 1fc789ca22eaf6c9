//! `POST /v1/hooks/claude-code`: Claude Code's HTTP hook. The body is the hook input
//! exactly as Claude Code sends it (unknown fields are accepted, since Claude Code adds
//! fields over time), dispatched on `hook_event_name`:
//! - `PreToolUse`: the answer is its `hookSpecificOutput` with a `permissionDecision` of
//!   `allow`, `ask` or `deny` and a reason;
//! - `PostToolUse`: `tool_response` is recorded as the result of the call `tool_use_id`
//!   names (with its action's catalog trust); after an `ask`, an `approved_in_client`
//!   record says the agent's user approved it. A call aecl never allowed is recorded as
//!   `unguarded`, counted in `/metrics` and notified;
//! - `UserPromptSubmit`: `prompt` is recorded as the user's words (trusted), unless it is
//!   the client's own notification (`<task-notification>`: untrusted content);
//! - `SessionEnd`: the run's end is recorded.
//!
//! The last three answer `{}` (with a `systemMessage` when something is wrong): they cannot
//! stop anything that already happened. `aecl hook claude-code --server` posts here too.
//!
//! Mapping (`aecl_policy::hook`, shared with `aecl hook`): the session is the run,
//! `tool_use_id` the call id, `tool_input` the arguments, the token's subject the agent. A
//! built-in tool name (`Bash`, `Write`, ...) is the catalog action of that name. An MCP tool
//! `mcp__SERVER__TOOL` is the catalog action `SERVER__TOOL`, never the bare `TOOL`. Unknown
//! actions are blocked (default deny), as everywhere.
//!
//! The call is evaluated and recorded, not executed (Claude Code executes it). When the
//! engine fails, or the request is refused (no valid token, wrong role, bad body, rate
//! limit), the answer is `deny` with status 200: Claude Code runs the tool after any
//! non-2xx answer, so only a 2xx `deny` fails closed.

use std::sync::Arc;
use std::time::Instant;

use aecl_core::{Call, Decision, Verdict};
use aecl_engine::identity::Role;
use aecl_engine::{Reported, Reporter};
use aecl_engine::{Store, new_id};
use aecl_policy::hook::{HookEvent, HookInput, HookOutcome};
use aecl_protocol::{HookAnswer, HookNotice, HookReply, HookSpecificOutput, PermissionDecision};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde_json::Value;

use crate::calls::{body_bytes, failure_verdict, own_call};
use crate::error::ApiError;
use crate::{AppState, Caller};

/// Every refusal is answered `deny` with status 200 (and still logged, counted and
/// audited like on the other endpoints): Claude Code treats any other status as a
/// non-blocking error and would run the tool, so a 401 here would fail open.
pub async fn claude_code<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Json<HookReply> {
    // Which event this is decides the shape of every answer, refusals included.
    let event = body
        .as_ref()
        .ok()
        .map(|bytes| lossy(bytes))
        .and_then(|text| HookInput::event_name(&text))
        .and_then(|name| HookEvent::of(&name))
        .unwrap_or(HookEvent::PreTool);
    let (claims, answer) = match caller {
        Ok(caller) => (Some(caller.0.clone()), handle(&state, caller, body, event).await),
        Err(error) => (None, Err(error)),
    };
    if let Err(error) = &answer {
        // A 200 `deny` passes the refusal layer by: recorded here (once).
        crate::auth::refuse(&state, claims.as_ref(), error.clone()).await;
    }
    Json(answer.unwrap_or_else(|error| {
        tracing::warn!(code = error.code(), "claude code hook: request refused");
        let reason = format!("aecl refused the request ({}): {error}", error.code());
        match event {
            HookEvent::PreTool => HookReply::Decision(deny(reason)),
            _ => notice(reason),
        }
    }))
}

async fn handle<S: Store>(
    state: &Arc<AppState<S>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
    event: HookEvent,
) -> Result<HookReply, ApiError> {
    caller.require(state, &[Role::Agent], "/v1/hooks/claude-code").await?;
    let bytes = body_bytes(body, state.config.body_limit)?;
    // Leniently: a tool's output that is not valid JSON, or not even UTF-8, is still
    // recorded (untrusted). A call to decide must be exactly what runs: UTF-8 only.
    let text = lossy(&bytes);
    if event == HookEvent::PreTool && std::str::from_utf8(without_bom(&bytes)).is_err() {
        return Err(ApiError::BadRequest("the request body is not UTF-8".to_owned()));
    }
    let (input, checked) =
        HookInput::parse_event(&text).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if checked != event {
        return Err(ApiError::BadRequest("`hook_event_name` is ambiguous".to_owned()));
    }
    // The session is the run: one no log line can show as it is is the caller's mistake,
    // answered and recorded as one, never a store failure (red team round 29, tamper L1).
    if let Some(why) = aecl_engine::origin::reserved(&input.session_id) {
        return Err(crate::auth::refuse(state, Some(&caller.0), ApiError::BadRequest(why)).await);
    }
    tracing::debug!(
        session = %input.session_id,
        event = %input.hook_event_name,
        tool = %input.tool_name,
        "claude code hook"
    );
    match event {
        HookEvent::PreTool => decide(state, &caller, input).await.map(HookReply::Decision),
        HookEvent::PostTool => post_tool(state, &caller, input).await,
        HookEvent::UserPrompt => {
            let (run, prompt) = (&input.session_id, input.prompt.as_deref().unwrap_or_default());
            if aecl_policy::hook::is_client_notification(prompt) {
                let source = aecl_policy::hook::NOTIFICATION_SOURCE;
                let content = Value::String(prompt.to_owned());
                let engine = &state.engine;
                let recorded =
                    engine.record_untrusted_read(run, caller.subject(), source, content).await;
                return settled(state, &caller, recorded.map(|_| Ok(()))).await;
            }
            let reported = state.engine.report_user(run, caller.subject(), prompt).await;
            settled(state, &caller, reported.map(|r| r.map(|_| ()))).await
        }
        HookEvent::SessionEnd => {
            let reason = input.reason.as_deref().unwrap_or("the session ended");
            let ended = state.engine.end_run(&input.session_id, caller.subject(), reason).await;
            settled(state, &caller, ended.map(|r| r.map(|_| ()))).await
        }
        // The server keeps a run past its session's end, so a resumed session continues it;
        // a forked one under a new id is not recognised here (docs/hooks.md).
        HookEvent::SessionStart => Ok(HookReply::Notice(HookNotice::default())),
    }
}

/// A body without a byte order mark in front.
fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// A body as text, each byte that is not UTF-8 read as U+FFFD.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(without_bom(bytes)).into_owned()
}

/// A tool's output: the result of the call it decided, or an unguarded call.
async fn post_tool<S: Store>(
    state: &Arc<AppState<S>>,
    caller: &Caller,
    input: HookInput,
) -> Result<HookReply, ApiError> {
    let action = input.action();
    let run = input.session_id.clone();
    // Claude Code's hook answers `ask`: an output after one is its user's approval. Codex's
    // and Gemini CLI's hooks were answered `deny`: an output after one ran unguarded.
    let reporter = match () {
        _ if input.unreadable.is_some() => Reporter::HookUnreadable,
        _ if input.agent_can_ask() => Reporter::Hook,
        _ => Reporter::HookWithoutAsk,
    };
    let call_id = match input.tool_use_id.clone().filter(|id| !id.is_empty()) {
        Some(id) => id,
        // No id (Gemini CLI's `AfterTool`): the call of this tool with this input that aecl
        // let through and that has no result yet; none, and it is unguarded under an id of
        // its own.
        None => match state.engine.linked_call(&run, &action, &input.tool_input).await {
            Ok(linked) => linked.unwrap_or_else(new_id),
            Err(error) => {
                tracing::error!(%error, "hook event not recorded: engine failure");
                return Err(ApiError::Unavailable(format!("the event was not recorded: {error}")));
            }
        },
    };
    let output = input.tool_response.unwrap_or(Value::Null);
    let reported = state
        .engine
        .report_result(&run, caller.subject(), &call_id, output, reporter, Some(&action))
        .await;
    if let Ok(Ok(Reported::Unguarded { action, reason, .. })) = &reported {
        let known = state.engine.policy().actions.contains_key(action);
        state.metrics.unguarded(caller.subject(), action, known);
        tracing::warn!(%run, call = %call_id, %action, %reason, "unguarded call");
        return Ok(notice(format!(
            "aecl: `{action}` ran without aecl's allow ({reason}); it is recorded as unguarded"
        )));
    }
    settled(state, caller, reported.map(|r| r.map(|_| ()))).await
}

/// The answer to an event that records something: `{}`, or a refusal (recorded).
async fn settled<S: Store>(
    state: &Arc<AppState<S>>,
    caller: &Caller,
    outcome: Result<Result<(), aecl_engine::ReportRefused>, aecl_engine::EngineError>,
) -> Result<HookReply, ApiError> {
    match outcome {
        Ok(Ok(())) => Ok(HookReply::Notice(HookNotice::default())),
        Ok(Err(refused)) => {
            Err(crate::auth::refuse(state, Some(&caller.0), crate::events::refusal(refused)).await)
        }
        Err(error @ aecl_engine::EngineError::ReservedId(_)) => Err(crate::auth::refuse(
            state,
            Some(&caller.0),
            ApiError::BadRequest(error.to_string()),
        )
        .await),
        Err(error) => {
            tracing::error!(%error, "hook event not recorded: engine failure");
            Err(ApiError::Unavailable(format!("the event was not recorded: {error}")))
        }
    }
}

/// The answer to an event other than `PreToolUse` that tells the user something.
fn notice(message: String) -> HookReply {
    HookReply::Notice(HookNotice { system_message: Some(message) })
}

async fn decide<S: Store>(
    state: &Arc<AppState<S>>,
    caller: &Caller,
    input: HookInput,
) -> Result<HookAnswer, ApiError> {
    let state = state.clone();
    tracing::debug!(
        session = %input.session_id,
        cwd = ?input.cwd,
        transcript = ?input.transcript_path,
        permission_mode = ?input.permission_mode,
        tool = %input.tool_name,
        "claude code PreToolUse"
    );
    let event = input.into_call_event(new_id);
    let call = match own_call(&state, caller, &event, None).await? {
        Ok(call) => call,
        Err(_) => return Ok(failed(&state, &event.to_call(caller.subject()))),
    };
    let started = Instant::now();
    let result = state.engine.evaluate(call.clone()).await;
    state.metrics.observe_latency(started.elapsed().as_secs_f64());
    let verdict = match result {
        Ok(decided) => decided.verdict,
        Err(e) => {
            tracing::error!(run = %call.run, error = %e, "hook call denied: engine failure");
            return Ok(failed(&state, &call));
        }
    };
    let policy = state.engine.policy();
    let known = policy.actions.contains_key(&call.action);
    state.metrics.decided(verdict.decision, &call.agent, &call.action, known);
    // Claude Code runs the tool itself: not one bound to a connector, nor one the policy
    // wants sandboxed. The decision record says what the policy decided; the refusal
    // record says why the hook denied it nevertheless.
    let bound = crate::calls::bound_connector(&state, &call.action);
    let (outcome, stricter) = HookOutcome::for_client(&call.action, &verdict, bound.as_deref());
    if stricter {
        let error = ApiError::Forbidden(outcome.reason.clone());
        drop(crate::auth::refuse(&state, Some(&caller.0), error).await);
    }
    Ok(answer_of(outcome))
}

fn deny(reason: String) -> HookAnswer {
    HookAnswer {
        hook_specific_output: HookSpecificOutput {
            hook_event_name: "PreToolUse",
            permission_decision: PermissionDecision::Deny,
            permission_decision_reason: reason,
        },
    }
}

fn failed<S: Store>(state: &AppState<S>, call: &Call) -> HookAnswer {
    let policy = state.engine.policy();
    let known = policy.actions.contains_key(&call.action);
    state.metrics.decided(Decision::Block, &call.agent, &call.action, known);
    hook_answer(call, &failure_verdict(&policy.revision, "the store or engine is unavailable"))
}

fn hook_answer(call: &Call, verdict: &Verdict) -> HookAnswer {
    answer_of(HookOutcome::of(&call.action, verdict))
}

fn answer_of(outcome: HookOutcome) -> HookAnswer {
    HookAnswer {
        hook_specific_output: HookSpecificOutput {
            hook_event_name: "PreToolUse",
            permission_decision: match outcome.decision {
                Decision::Allow => PermissionDecision::Allow,
                Decision::RequireApproval => PermissionDecision::Ask,
                Decision::Block => PermissionDecision::Deny,
            },
            permission_decision_reason: outcome.reason,
        },
    }
}
