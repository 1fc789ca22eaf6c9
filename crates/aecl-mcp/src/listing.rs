//! Which tools the agent sees: listed means callable.
//!
//! A tool is listed when the policy could allow a call of it at all: its action is in the
//! catalog, in the agent's allowed actions, not in its blocked actions, and not blocked by
//! a context rule. Calls of a listed tool are still decided one by one (arguments, data
//! flow, budgets, risk); a tool that every call of would be blocked is not shown, so the
//! model does not plan around it. An agent in `monitor` mode sees every tool, since in that
//! mode nothing is refused.

use aecl_core::policy::Policy;
use aecl_core::{Decision, Mode};

/// The catalog action of an MCP tool: the tool's name after the gateway's prefix.
pub fn action_of(prefix: &str, tool: &str) -> String {
    [prefix, tool].concat()
}

/// Whether `agent` may call `action` at all under `policy`.
pub fn callable(policy: &Policy, agent: &str, action: &str) -> bool {
    let Some(manifest) = policy.agents.get(agent) else { return false };
    if manifest.mode == Mode::Monitor {
        return true;
    }
    policy.actions.contains_key(action)
        && manifest.allowed_actions.contains(action)
        && !manifest.blocked_actions.contains(action)
        && manifest.context_rules.get(action).is_none_or(|rule| rule.decision != Decision::Block)
}
