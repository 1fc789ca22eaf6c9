//! Agent hooks: the input of a hook (Claude Code's and Codex's `PreToolUse`,
//! `PostToolUse` and `UserPromptSubmit`, Claude Code's `SessionEnd`; Gemini CLI's
//! `BeforeTool`, `AfterTool`, `BeforeAgent` and `SessionEnd`) as a run event, and a verdict
//! as the hook's decision and reason. Shared by `aecl serve`'s hook endpoint and the `aecl hook` command, so that an
//! agent's tool call maps to the same catalog action whichever way it is decided.
//!
//! Mapping: the session is the run, `tool_use_id` the call id (Gemini CLI sends none; the
//! caller supplies a fresh one), `tool_input` the arguments. A built-in tool name (`Bash`,
//! `Write`, `run_shell_command`, ...) is the catalog action of that name. An MCP tool
//! `mcp__SERVER__TOOL` is the catalog action `SERVER__TOOL`, never the bare `TOOL`:
//! otherwise any MCP server could name a tool after a harmless catalog action and be judged
//! as that action. Gemini CLI describes an MCP tool in `mcp_context` (server and tool
//! name); when present, that is the name used. Unknown actions are blocked (default deny),
//! as everywhere.

use aecl_core::{Decision, Mode, Verdict};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::collections::BTreeMap;

use crate::error::PolicyError;
use crate::trace::{CallEvent, ResolvedPathFile};

/// A hook's input. Unknown fields are accepted, since the agents add fields over time
/// (Codex sends `turn_id` and `model`, Gemini CLI `timestamp`). `tool_name` is empty for
/// the events that concern no tool.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct HookInput {
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<String>,
    pub hook_event_name: String,
    #[serde(default)]
    pub tool_name: String,
    #[serde(default)]
    pub tool_input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    /// What the tool returned (`PostToolUse`, `AfterTool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_response: Option<Value>,
    /// What a failed tool returned (Claude Code's `PostToolUseFailure`): the model reads it
    /// as it reads an output, so it is recorded as the call's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// The user's prompt (`UserPromptSubmit`, `BeforeAgent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Why the session ended (`SessionEnd`: Claude Code's `reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How the session started (`SessionStart`: `startup`, `clear`, `resume`, `compact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Gemini CLI's description of an MCP tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_context: Option<McpContext>,
    /// Codex's turn (Claude Code and Gemini CLI send none): tells a Codex `PostToolUse`
    /// from Claude Code's, since only Claude Code's hook can answer `ask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<Value>,
    /// Added by `aecl hook` on the agent's machine (the agents never send it): what each
    /// string of `tool_input` resolves to on the agent's filesystem, relative to `cwd`.
    /// Absent, path constraints are checked lexically alone (`CallEvent::resolved_paths`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aecl_resolved_paths: Option<BTreeMap<String, ResolvedPathFile>>,
    /// Set when the input was not valid JSON and only its top-level fields could be read
    /// (`lenient`): why. `tool_response` is then the whole text, to be recorded untrusted.
    #[serde(skip)]
    #[schemars(skip)]
    pub unreadable: Option<String>,
}

/// What a hook event is about, whichever agent sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEvent {
    /// Before a tool runs: decide it (`PreToolUse`, `BeforeTool`).
    PreTool,
    /// After a tool ran: its output (`PostToolUse`, `AfterTool`), or its failure
    /// (`PostToolUseFailure`).
    PostTool,
    /// The user's prompt (`UserPromptSubmit`, `BeforeAgent`).
    UserPrompt,
    /// The session is over (`SessionEnd`).
    SessionEnd,
    /// A session starts (`SessionStart`): afresh, or continuing a conversation (`source`
    /// `resume`, `compact`, or a fork) whose history the hook may not hold.
    SessionStart,
}

impl HookEvent {
    /// The event an agent's `hook_event_name` names, if aecl handles it.
    pub fn of(name: &str) -> Option<HookEvent> {
        match name {
            "PreToolUse" | "BeforeTool" => Some(HookEvent::PreTool),
            "PostToolUse" | "PostToolUseFailure" | "AfterTool" => Some(HookEvent::PostTool),
            "UserPromptSubmit" | "BeforeAgent" => Some(HookEvent::UserPrompt),
            "SessionEnd" => Some(HookEvent::SessionEnd),
            "SessionStart" => Some(HookEvent::SessionStart),
            _ => None,
        }
    }
}

/// Which MCP server a Gemini CLI tool comes from (its connection details are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct McpContext {
    pub server_name: String,
    pub tool_name: String,
}

/// Refuses an input (valid JSON) in which some object names a member twice. No agent
/// writes one (they serialise objects), and readers disagree on it: serde refuses a
/// repeated field, the lenient reader kept the first copy, `JSON.parse` keeps the last, so
/// `{"hook_event_name":"PostToolUse","hook_event_name":"PreToolUse"}` was answered as an
/// event after the tool, with no decision.
fn refuse_repeated_members(text: &str) -> Result<(), PolicyError> {
    // Only strict JSON is read for it (what does not parse, a lone surrogate escape among
    // others, fails the check's reader too, repeated member or not).
    if aecl_core::distinct::repeats_a_member(text.as_bytes())
        && serde_json::from_str::<Value>(text).is_ok()
    {
        return Err(PolicyError::Hook(
            "the input names a member of an object twice: refused, since readers disagree \
             on which copy counts"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Whether a prompt is a notification the agent's client wrote, not the user's words:
/// Claude Code submits `<task-notification>...` (a background command's description, a
/// subagent's result, both written by a model) as a `UserPromptSubmit` (red team round 20:
/// recorded as the user's, a value in it was trusted). Such text is recorded as untrusted
/// content the agent was shown.
pub fn is_client_notification(prompt: &str) -> bool {
    prompt.trim_start().starts_with("<task-notification>")
}

/// Where a client's notification is recorded as coming from.
pub const NOTIFICATION_SOURCE: &str = "the agent client's task notification";

/// The catalog action a hook's tool name stands for.
pub fn action_of(tool_name: &str) -> String {
    match tool_name.strip_prefix("mcp__") {
        Some(rest) => rest.to_owned(),
        None => tool_name.to_owned(),
    }
}

impl HookInput {
    /// Parses a hook's input and checks that it is the event `event` (`PreToolUse`,
    /// `BeforeTool`) of a session.
    pub fn parse(text: &str, event: &str) -> Result<HookInput, PolicyError> {
        refuse_repeated_members(text)?;
        let input: HookInput = serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            let message =
                message.rfind(" at line ").and_then(|cut| message.get(..cut)).unwrap_or(&message);
            PolicyError::Hook(message.to_owned())
        })?;
        input.check(event)?;
        Ok(input)
    }

    /// Parses any hook input aecl handles and checks it (`HookInput::event`). An event
    /// after a tool ran is read leniently (`lenient`): a lone surrogate escape is
    /// repaired, and an input that still does not parse keeps its top-level fields with
    /// the whole text as the tool's output, [`HookInput::unreadable`]. Anything else that
    /// does not parse is an error.
    pub fn parse_event(text: &str) -> Result<(HookInput, HookEvent), PolicyError> {
        refuse_repeated_members(text)?;
        let strict = serde_json::from_str::<HookInput>(text);
        let input = match strict {
            Ok(input) => input,
            Err(error) => {
                let message = error.to_string();
                let message = message
                    .rfind(" at line ")
                    .and_then(|cut| message.get(..cut))
                    .unwrap_or(&message)
                    .to_owned();
                // Keys that repair makes one (`"\ud800"` and `"\udc00"` both `\u{FFFD}`)
                // are not read strictly either: the event is salvaged below, its output
                // recorded whole (red team round 20, hooks HK7: it was refused, and the
                // page it carried went unrecorded).
                let repaired = lenient::repair_surrogates(text);
                let twice = repaired.as_deref().and_then(|r| refuse_repeated_members(r).err());
                let repaired = repaired
                    .filter(|_| twice.is_none())
                    .and_then(|t| serde_json::from_str::<HookInput>(&t).ok());
                match repaired {
                    Some(input) => input,
                    // Keys only the repair makes one (`"\ud800"` and `"\udc00"` in an
                    // output) leave the event to salvage, its whole text recorded (red team
                    // round 20, hooks HK7: it was refused and went unrecorded); a member
                    // named twice among the event's own fields salvages nothing.
                    None => match lenient::salvage(text, &message) {
                        Some(input)
                            if HookEvent::of(&input.hook_event_name)
                                == Some(HookEvent::PostTool) =>
                        {
                            input
                        }
                        _ => return Err(twice.unwrap_or(PolicyError::Hook(message))),
                    },
                }
            }
        };
        let mut input = input;
        let event = input.event()?;
        let empty = |value: &Value| match value {
            Value::Null | Value::Bool(false) => true,
            Value::String(text) => text.is_empty(),
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::Array(items) => items.is_empty(),
            Value::Object(members) => members.is_empty(),
            Value::Bool(true) => false,
        };
        if event == HookEvent::PostTool && input.tool_response.as_ref().is_none_or(empty) {
            // What the model read arrived under another member than `tool_response`, or
            // beside an empty one: a failure's `error`, or (an agent's format aecl does not
            // know) somewhere in the event. The whole event is then recorded: an output is
            // never left unrecorded for want of its member (red team, 2026-11-30).
            let unknown = || {
                // The members aecl reads are not the output (the call's own input, which
                // its decision saw, least of all).
                const READ: [&str; 15] = [
                    "session_id",
                    "transcript_path",
                    "cwd",
                    "permission_mode",
                    "hook_event_name",
                    "tool_name",
                    "tool_input",
                    "tool_use_id",
                    "tool_response",
                    "prompt",
                    "reason",
                    "mcp_context",
                    "turn_id",
                    "aecl_resolved_paths",
                    "error",
                ];
                let mut members = serde_json::from_str::<Value>(text).ok()?.as_object()?.clone();
                members.retain(|key, _| !READ.contains(&key.as_str()));
                (!members.is_empty()).then_some(Value::Object(members))
            };
            let recorded = match input.error.take() {
                Some(error) => Some(error),
                None => unknown(),
            };
            if let Some(recorded) = recorded {
                input.tool_response = Some(recorded);
            }
        } else if event == HookEvent::PostTool
            && let Some(error) = input.error.take()
        {
            // Both: the model read both.
            let response = input.tool_response.take().unwrap_or_default();
            input.tool_response = Some(serde_json::json!({ "response": response, "error": error }));
        }
        Ok((input, event))
    }

    /// The top-level fields (session, event, tool, call id, `cwd`) of the first part of an
    /// input too large to read whole, `why` it was cut; `tool_input` and `tool_response`
    /// are left empty, and so is `hook_event_name` when the part names none. `None` when
    /// it names no session.
    pub fn salvage_head(head: &str, why: &str) -> Option<HookInput> {
        let mut input = lenient::salvage_fields(head, why)?;
        input.tool_response = None;
        Some(input)
    }

    /// The `hook_event_name` of a hook input, also when the input is not valid JSON (read
    /// as `parse_event` would).
    pub fn event_name(text: &str) -> Option<String> {
        Self::parse_event(text).ok().map(|(input, _)| input.hook_event_name)
    }

    /// Which event this is, checked: a session, a tool for the tool events, a prompt for
    /// the prompt event.
    pub fn event(&self) -> Result<HookEvent, PolicyError> {
        let Some(event) = HookEvent::of(&self.hook_event_name) else {
            return Err(PolicyError::Hook(format!(
                "`hook_event_name` is `{}`: aecl answers PreToolUse, PostToolUse, \
                 PostToolUseFailure, UserPromptSubmit, SessionEnd, BeforeTool, AfterTool \
                 and BeforeAgent",
                self.hook_event_name
            )));
        };
        if self.session_id.trim().is_empty() {
            return Err(PolicyError::Hook("`session_id` is empty or blank".to_owned()));
        }
        match event {
            HookEvent::PreTool | HookEvent::PostTool if self.tool_name.is_empty() => {
                Err(PolicyError::Hook("`tool_name` is empty".to_owned()))
            }
            HookEvent::UserPrompt if self.prompt.is_none() => {
                Err(PolicyError::Hook("`prompt` is missing".to_owned()))
            }
            _ => Ok(event),
        }
    }

    /// Checks that this is the event `event` of a session.
    pub fn check(&self, event: &str) -> Result<(), PolicyError> {
        if self.hook_event_name != event {
            return Err(PolicyError::Hook(format!(
                "`hook_event_name` is `{}`: only `{event}` is answered",
                self.hook_event_name
            )));
        }
        if self.session_id.trim().is_empty() {
            return Err(PolicyError::Hook("`session_id` is empty or blank".to_owned()));
        }
        if self.tool_name.is_empty() {
            return Err(PolicyError::Hook("`tool_name` is empty".to_owned()));
        }
        Ok(())
    }

    /// The tool's name in Claude Code's spelling: `mcp__SERVER__TOOL` for an MCP tool that
    /// Gemini CLI describes in `mcp_context`, else `tool_name` as sent.
    pub fn qualified_tool_name(&self) -> String {
        match &self.mcp_context {
            Some(mcp) => format!("mcp__{}__{}", mcp.server_name, mcp.tool_name),
            None => self.tool_name.clone(),
        }
    }

    /// The catalog action this call is judged as.
    pub fn action(&self) -> String {
        action_of(&self.qualified_tool_name())
    }

    /// Whether the agent that sent this could have asked its user for approval when aecl
    /// answered `require_approval`: only Claude Code's hook answers `ask`. Codex's
    /// `PreToolUse` refuses `ask` and Gemini CLI's `BeforeTool` has none, so aecl denied
    /// such a call to them; a Codex input carries `turn_id`, a Gemini CLI one is named
    /// `BeforeTool`/`AfterTool`.
    pub fn agent_can_ask(&self) -> bool {
        self.turn_id.is_none()
            && matches!(
                self.hook_event_name.as_str(),
                "PreToolUse" | "PostToolUse" | "PostToolUseFailure"
            )
    }

    /// The call event: the session is the run, `tool_use_id` the call id (`new_id` when
    /// there is none), `tool_input` the arguments (`{}` when absent).
    pub fn into_call_event(self, new_id: impl FnOnce() -> String) -> CallEvent {
        let action = self.action();
        let args = match self.tool_input {
            Value::Null => Value::Object(serde_json::Map::new()),
            other => other,
        };
        CallEvent {
            run: self.session_id,
            id: self.tool_use_id.filter(|id| !id.is_empty()).unwrap_or_else(new_id),
            action,
            args,
            agent: None,
            idempotency_key: None,
            nonce: None,
            scope: None,
            provenance: Default::default(),
            resolved_paths: self.aecl_resolved_paths,
        }
    }
}

/// Why the agent's client may not run a call itself under `verdict`, when it may not: the
/// verdict requires a sandbox tier (the client runs the tool in no sandbox of aecl's), or
/// its action is `bound` to a connector the server has configured (aecl executes it,
/// keeping what undoes it, in its sandbox).
pub fn client_cannot_run(verdict: &Verdict, bound: Option<&str>) -> Option<String> {
    if let Some(bound) = bound {
        return Some(format!(
            "it is bound to connector `{bound}`: aecl executes it, and the agent's client may \
             not run it itself"
        ));
    }
    verdict.sandbox.as_ref().map(|required| {
        format!(
            "the policy requires the `{}` sandbox tier, and the agent's client runs the tool \
             itself, in no sandbox of aecl's",
            required.tier
        )
    })
}

/// A hook's answer: the enforced decision (a monitor-mode verdict allows) and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookOutcome {
    pub decision: Decision,
    pub reason: String,
}

impl HookOutcome {
    /// The answer to `action` under `verdict`: the reasons that decided it, or the decision
    /// and the policy revision when none did.
    pub fn of(action: &str, verdict: &Verdict) -> HookOutcome {
        let deciding: Vec<String> =
            verdict.deciding_reasons().map(|r| format!("{}: {}", r.rule, r.message)).collect();
        HookOutcome::new(action, verdict.enforced_decision(), &deciding, &verdict.policy_revision.0)
    }

    /// The answer to `action` decided `decision` (as enforced), for the deciding reasons
    /// (`rule: message`) of a verdict under the policy `revision`.
    pub fn new(
        action: &str,
        decision: Decision,
        deciding: &[String],
        revision: &str,
    ) -> HookOutcome {
        let reason = if deciding.is_empty() {
            format!("aecl: `{action}` {} (policy {revision})", decision.as_str())
        } else {
            format!("aecl: `{action}` {}: {}", decision.as_str(), deciding.join("; "))
        };
        HookOutcome { decision, reason }
    }

    /// The answer to a call the agent's client runs itself (every hook's): as
    /// [`HookOutcome::of`], and a block where the client cannot run it as the policy says
    /// ([`client_cannot_run`]); whether that made it stricter.
    pub fn for_client(action: &str, verdict: &Verdict, bound: Option<&str>) -> (HookOutcome, bool) {
        let outcome = HookOutcome::of(action, verdict);
        if outcome.decision == Decision::Block || verdict.mode != Mode::Enforce {
            return (outcome, false);
        }
        match client_cannot_run(verdict, bound) {
            Some(why) => {
                let reason = format!("aecl: `{action}` block: {why}");
                (HookOutcome { decision: Decision::Block, reason }, true)
            }
            None => (outcome, false),
        }
    }

    /// Claude Code's `permissionDecision` for this answer: `allow`, `ask` or `deny`.
    pub fn permission_decision(&self) -> &'static str {
        permission_decision(self.decision)
    }
}

/// Claude Code's `permissionDecision` for a decision: `allow`, `ask` (require approval) or
/// `deny` (block).
pub fn permission_decision(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "allow",
        Decision::RequireApproval => "ask",
        Decision::Block => "deny",
    }
}

mod exec_args;
mod lenient;
mod workdir;

pub use workdir::is_shell_tool;

#[cfg(test)]
mod tests;
