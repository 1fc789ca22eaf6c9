//! `POST /v1/hooks/claude-code`: Claude Code's HTTP hook on `PreToolUse`. The body is the
//! hook input exactly as Claude Code sends it (unknown fields are accepted, since Claude
//! Code adds fields over time); the answer is its `hookSpecificOutput` with a
//! `permissionDecision` of `allow`, `ask` or `deny` and a reason.
//!
//! Mapping: the session is the run, `tool_use_id` the call id, `tool_input` the arguments,
//! the token's subject the agent. A built-in tool name (`Bash`, `Write`, ...) is the
//! catalog action of that name. An MCP tool `mcp__SERVER__TOOL` is the catalog action
//! `SERVER__TOOL`, never the bare `TOOL`: otherwise any MCP server could name a tool after
//! a harmless catalog action and be judged as that action. Unknown actions are blocked
//! (default deny), as everywhere.
//!
//! The call is evaluated and recorded, not executed (Claude Code executes it). When the
//! engine fails, or the request is refused (no valid token, wrong role, bad body, rate
//! limit), the answer is `deny` with status 200: Claude Code runs the tool after any
//! non-2xx answer, so only a 2xx `deny` fails closed.

use std::sync::Arc;
use std::time::Instant;

use aecl_core::{Call, Decision, Verdict};
use aecl_engine::identity::Role;
use aecl_engine::{Store, new_id};
use aecl_policy::trace::CallEvent;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::calls::{failure_verdict, own_call, parse_json};
use crate::error::ApiError;
use crate::{AppState, Caller};

/// Claude Code's `PreToolUse` hook input. Other fields are ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PreToolUse {
    pub session_id: String,
    #[serde(default)]
    pub transcript_path: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub permission_mode: Option<String>,
    pub hook_event_name: String,
    pub tool_name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub tool_input: Value,
    #[serde(default)]
    pub tool_use_id: Option<String>,
}

/// The hook's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookAnswer {
    pub hook_specific_output: HookSpecificOutput,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookSpecificOutput {
    /// Always `PreToolUse`.
    pub hook_event_name: &'static str,
    /// `allow`, `ask` (require approval) or `deny` (block).
    pub permission_decision: &'static str,
    pub permission_decision_reason: String,
}

/// The catalog action a Claude Code tool name stands for.
pub fn action_of(tool_name: &str) -> String {
    match tool_name.strip_prefix("mcp__") {
        Some(rest) => rest.to_owned(),
        None => tool_name.to_owned(),
    }
}

/// Every refusal is answered `deny` with status 200 (and still logged, counted and
/// audited like on the other endpoints): Claude Code treats any other status as a
/// non-blocking error and would run the tool, so a 401 here would fail open.
pub async fn claude_code<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Json<HookAnswer> {
    let answer = match caller {
        Ok(caller) => decide(&state, caller, body).await,
        Err(error) => Err(error),
    };
    Json(answer.unwrap_or_else(|error| {
        tracing::warn!(code = error.code(), "claude code hook denied: request refused");
        deny(format!("aecl refused the request ({}): {error}", error.code()))
    }))
}

async fn decide<S: Store>(
    state: &Arc<AppState<S>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<HookAnswer, ApiError> {
    let state = state.clone();
    caller.require(&state, &[Role::Agent], "/v1/hooks/claude-code").await?;
    let input: PreToolUse = parse_json(body, state.config.body_limit)?;
    if input.hook_event_name != "PreToolUse" {
        return Err(ApiError::BadRequest(format!(
            "`hook_event_name` is `{}`: this endpoint answers `PreToolUse` only",
            input.hook_event_name
        )));
    }
    tracing::debug!(
        session = %input.session_id,
        cwd = ?input.cwd,
        transcript = ?input.transcript_path,
        permission_mode = ?input.permission_mode,
        tool = %input.tool_name,
        "claude code PreToolUse"
    );
    if input.session_id.is_empty() {
        return Err(ApiError::BadRequest("`session_id` is empty".to_owned()));
    }
    let args = match input.tool_input {
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other,
    };
    let event = CallEvent {
        run: input.session_id,
        id: input.tool_use_id.filter(|id| !id.is_empty()).unwrap_or_else(new_id),
        action: action_of(&input.tool_name),
        args,
        agent: None,
        idempotency_key: None,
        nonce: None,
        scope: None,
        provenance: Default::default(),
    };
    let call = match own_call(&state, &caller, &event, None).await? {
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
    let known = state.engine.policy().actions.contains_key(&call.action);
    state.metrics.decided(verdict.decision, &call.agent, &call.action, known);
    Ok(hook_answer(&call, &verdict))
}

fn deny(reason: String) -> HookAnswer {
    HookAnswer {
        hook_specific_output: HookSpecificOutput {
            hook_event_name: "PreToolUse",
            permission_decision: "deny",
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
    let decision = verdict.enforced_decision();
    let permission_decision = match decision {
        Decision::Allow => "allow",
        Decision::RequireApproval => "ask",
        Decision::Block => "deny",
    };
    let reasons: Vec<String> =
        verdict.deciding_reasons().map(|r| format!("{}: {}", r.rule, r.message)).collect();
    let reason = if reasons.is_empty() {
        format!(
            "aecl: `{}` {} (policy {})",
            call.action,
            decision.as_str(),
            verdict.policy_revision
        )
    } else {
        format!("aecl: `{}` {}: {}", call.action, decision.as_str(), reasons.join("; "))
    };
    HookAnswer {
        hook_specific_output: HookSpecificOutput {
            hook_event_name: "PreToolUse",
            permission_decision,
            permission_decision_reason: reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_tools_map_to_qualified_catalog_actions() {
        assert_eq!(action_of("Bash"), "Bash");
        assert_eq!(action_of("mcp__bank__transfer_funds"), "bank__transfer_funds");
        assert_eq!(action_of("mcp__fs__read__file"), "fs__read__file");
    }

    #[test]
    fn the_input_accepts_unknown_fields() {
        let input: PreToolUse = serde_json::from_value(serde_json::json!({
            "session_id": "s1", "transcript_path": "/t.jsonl", "cwd": "/w",
            "permission_mode": "default", "hook_event_name": "PreToolUse",
            "tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_1",
            "some_future_field": {"x": 1}
        }))
        .unwrap();
        assert_eq!(input.tool_use_id.as_deref(), Some("toolu_1"));
    }
}
