//! Linking a tool's output to the call it belongs to when the agent names no call id
//! (Gemini CLI's `AfterTool`): the call of the same action with the same arguments
//! (compared as canonical JSON) that aecl decided `allow` or `require_approval` in that
//! run and whose result is not recorded yet; of several, the oldest (an agent runs
//! identical calls in the order it proposed them). Nothing matching: no link, and the
//! output is recorded as unguarded.
//!
//! A link can only attach an output to a call aecl let through (or asked about), with
//! exactly those arguments, once: never to a blocked call, a dry run, a replay, or a call
//! that already has its result.

use aecl_core::canonical::canonical_json;
use aecl_core::{Decision, Mode};
use serde_json::Value;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::run_event::RunEvent;
use crate::store::Store;

/// The id of the call an output of `action` with `args` belongs to, among `events`.
pub fn link_call(events: &[RunEvent], action: &str, args: &Value) -> Option<String> {
    let wanted = canonical_json(&empty_as_object(args));
    let has_result =
        |id: &str| events.iter().any(|e| matches!(e, RunEvent::Result { id: r, .. } if r == id));
    // The last decision of an id counts (a call retried under its id is decided again).
    let mut candidates: Vec<&str> = Vec::new();
    for event in events {
        let RunEvent::Call { call, decision, mode, replay_of } = event else { continue };
        candidates.retain(|id| *id != call.id);
        let (Some(decision), Some(mode)) = (Decision::parse(decision), Mode::parse(mode)) else {
            continue;
        };
        let enforced = if mode == Mode::Monitor { Decision::Allow } else { decision };
        let linkable = enforced != Decision::Block && mode != Mode::DryRun && replay_of.is_none();
        if linkable
            && call.action == action
            && canonical_json(&empty_as_object(&call.args)) == wanted
        {
            candidates.push(&call.id);
        }
    }
    candidates.into_iter().find(|id| !has_result(id)).map(str::to_owned)
}

/// A hook's missing `tool_input` is `{}`, as the call event makes it.
fn empty_as_object(args: &Value) -> Value {
    match args {
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other.clone(),
    }
}

impl<S: Store> Engine<S> {
    /// The call of `run` an output of `action` with `args` belongs to ([`link_call`]), on
    /// the run as stored now.
    pub async fn linked_call(
        &self,
        run: &str,
        action: &str,
        args: &Value,
    ) -> Result<Option<String>, EngineError> {
        let _run_guard = self.lock_run(run).await;
        let snapshot = self.store().load_run(run).await?;
        Ok(link_call(&snapshot.events, action, args))
    }
}

#[cfg(test)]
mod tests {
    use aecl_policy::trace::CallEvent;
    use serde_json::json;

    use super::*;

    fn call(id: &str, action: &str, args: Value, decision: &str) -> RunEvent {
        let call = CallEvent {
            run: "r".to_owned(),
            id: id.to_owned(),
            action: action.to_owned(),
            args,
            agent: None,
            idempotency_key: None,
            nonce: None,
            scope: None,
            provenance: Default::default(),
            resolved_paths: None,
        };
        RunEvent::Call {
            call: Box::new(call),
            decision: decision.to_owned(),
            mode: "enforce".to_owned(),
            replay_of: None,
        }
    }

    fn result(id: &str) -> RunEvent {
        RunEvent::Result { id: id.to_owned(), output: json!("out"), untrusted: false }
    }

    #[test]
    fn an_output_links_to_the_oldest_undecided_result_call_with_the_same_input() {
        let ls = json!({"command": "ls", "description": "list"});
        let same_reordered = json!({"description": "list", "command": "ls"});
        let events = vec![
            call("c1", "run_shell_command", ls.clone(), "allow"),
            call("c2", "run_shell_command", ls.clone(), "allow"),
            call("c3", "run_shell_command", json!({"command": "pwd"}), "allow"),
        ];
        assert_eq!(link_call(&events, "run_shell_command", &same_reordered).as_deref(), Some("c1"));
        let mut done = events.clone();
        done.push(result("c1"));
        assert_eq!(link_call(&done, "run_shell_command", &ls).as_deref(), Some("c2"));
        done.push(result("c2"));
        assert_eq!(link_call(&done, "run_shell_command", &ls), None, "every one has its result");
        // Another tool, or other arguments, link to nothing.
        assert_eq!(link_call(&events, "write_file", &ls), None);
        assert_eq!(link_call(&events, "run_shell_command", &json!({"command": "ls"})), None);
    }

    #[test]
    fn only_calls_aecl_let_through_or_asked_about_can_be_linked() {
        let rm = json!({"command": "rm -rf /"});
        let blocked = vec![call("c1", "run_shell_command", rm.clone(), "block")];
        assert_eq!(link_call(&blocked, "run_shell_command", &rm), None);
        let asked = vec![call("c1", "run_shell_command", rm.clone(), "require_approval")];
        assert_eq!(link_call(&asked, "run_shell_command", &rm).as_deref(), Some("c1"));
        // Decided again under its id (a retry that was blocked): the last decision counts.
        let retried = vec![
            call("c1", "run_shell_command", rm.clone(), "allow"),
            call("c1", "run_shell_command", rm.clone(), "block"),
        ];
        assert_eq!(link_call(&retried, "run_shell_command", &rm), None);
        let mut dry = call("c1", "run_shell_command", rm.clone(), "allow");
        if let RunEvent::Call { mode, .. } = &mut dry {
            *mode = "dry-run".to_owned();
        }
        assert_eq!(link_call(&[dry], "run_shell_command", &rm), None);
        // No input stands for `{}`, as the call event makes it.
        let bare = vec![call("c1", "list_tools", json!({}), "allow")];
        assert_eq!(link_call(&bare, "list_tools", &Value::Null).as_deref(), Some("c1"));
    }
}
