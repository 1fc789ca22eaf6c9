//! `POST /v1/hooks/claude-code`: Claude Code's hook input (as it sends it, shared with
//! `aecl hook`) and the answers.

use schemars::JsonSchema;
use serde::Serialize;

/// Claude Code's hook input; unknown fields are accepted.
pub use aecl_policy::hook::HookInput;

/// What a hook answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PermissionDecision {
    Allow,
    /// Require approval (asked in the agent's own interface).
    Ask,
    /// Block.
    Deny,
}

/// The answer to `PreToolUse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookAnswer {
    pub hook_specific_output: HookSpecificOutput,
}

/// Claude Code's `hookSpecificOutput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookSpecificOutput {
    /// Always `PreToolUse`.
    #[schemars(with = "PreToolUse")]
    pub hook_event_name: &'static str,
    pub permission_decision: PermissionDecision,
    pub permission_decision_reason: String,
}

/// The only event whose answer is a `hookSpecificOutput`.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "only describes `hook_event_name` for the schema")]
enum PreToolUse {
    PreToolUse,
}

/// The answer to the other events (`PostToolUse`, `UserPromptSubmit`, `SessionEnd`), and
/// to a refused one: `{}`, or a message for the user when something is wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookNotice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_message: Option<String>,
}

/// Any answer of the hook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum HookReply {
    Decision(HookAnswer),
    Notice(HookNotice),
}
