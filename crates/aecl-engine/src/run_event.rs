//! What the store keeps of a run: its events, from which the engine rebuilds the
//! `RunState` that `decide` reads.
//!
//! Calls are stored with the verdict they got, and rebuilding records that verdict again;
//! nothing is re-decided, so a policy change never rewrites a run's past.

use aecl_core::policy::Policy;
use aecl_core::{Call, RunState, Verdict};
use aecl_policy::format::ScopeFile;
use aecl_policy::trace::CallEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event of a run, stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RunEvent {
    /// The run opened with a declared goal and scope.
    Run { agent: String, goal: Option<String>, scope: Option<ScopeFile> },
    /// The user's own words.
    User { text: String },
    /// A decided call and the verdict it got.
    Call { call: Box<CallEvent>, decision: String, mode: String, replay_of: Option<String> },
    /// A tool's output. `untrusted`: the whole output is untrusted whatever the catalog
    /// says of the action's output (a target's error answer, which is not the output the
    /// catalog describes; `RunState::record_untrusted_result`).
    Result {
        id: String,
        output: Value,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        untrusted: bool,
    },
    /// Content the agent was shown beside any call's output, which no catalog describes
    /// (an MCP server's instructions and tool descriptions, a server's request for input
    /// during a call): its values are untrusted in the run's later calls, `source` naming
    /// where it came from (`RunState::record_untrusted`). `read`: the agent read it as it
    /// reads an output (a client's task notification), which marks the run as having read
    /// untrusted content.
    Untrusted {
        source: String,
        content: Value,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        read: bool,
    },
    /// How an allowed call's execution ended: settles or releases its budget reservation.
    Outcome { id: String, executed: bool },
    /// `[runs]` expired the run (`reason`: `idle`, `max_open_runs`, `max_state_bytes`):
    /// rebuilding continues from `RunState::expire` here, as `aecl replay` does at a trace's
    /// `expired` event.
    Expired { reason: String },
}

impl RunEvent {
    /// The event that records `call` decided as `verdict`.
    pub fn call(call: &Call, verdict: &Verdict) -> RunEvent {
        RunEvent::Call {
            call: Box::new(call_event(call)),
            decision: verdict.decision.as_str().to_owned(),
            mode: verdict.mode.as_str().to_owned(),
            replay_of: verdict.replay_of.clone(),
        }
    }
}

/// The trace form of a call (what `aecl replay` reads and `aecl audit export` writes).
pub fn call_event(call: &Call) -> CallEvent {
    let provenance = call
        .provenance
        .iter()
        .map(|(path, source)| {
            let name = match source {
                aecl_core::DeclaredSource::User => aecl_policy::trace::DeclaredSourceName::User,
                aecl_core::DeclaredSource::TrustedTool => {
                    aecl_policy::trace::DeclaredSourceName::TrustedTool
                }
                aecl_core::DeclaredSource::Untrusted => {
                    aecl_policy::trace::DeclaredSourceName::Untrusted
                }
            };
            (path.clone(), name)
        })
        .collect();
    let scope = (!call.scope.is_empty()).then(|| ScopeFile {
        actions: call.scope.actions.clone(),
        tenant: call.scope.tenant.clone(),
        environment: call.scope.environment.clone(),
        resources: call.scope.resources.clone(),
    });
    CallEvent {
        run: call.run.clone(),
        id: call.id.clone(),
        action: call.action.clone(),
        args: call.args.clone(),
        agent: Some(call.agent.clone()),
        idempotency_key: call.idempotency_key.clone(),
        nonce: call.nonce.clone(),
        scope,
        provenance,
        resolved_paths: aecl_policy::trace::resolved_paths_file(&call.paths),
    }
}

/// Rebuilds a run's state from its events. Events this version cannot read are an error:
/// a run whose past is unknown cannot be judged.
pub fn rebuild(policy: &Policy, run: &str, events: &[RunEvent]) -> Result<RunState, String> {
    let mut state = RunState::new(run);
    for (i, event) in events.iter().enumerate() {
        apply(policy, &mut state, i, event)?;
    }
    Ok(state)
}

/// Records event number `i` of a run in its state, as rebuilding does.
pub fn apply(
    policy: &Policy,
    state: &mut RunState,
    i: usize,
    event: &RunEvent,
) -> Result<(), String> {
    match event {
        RunEvent::Run { agent, goal, scope } => {
            state.agent = Some(agent.clone());
            state.goal.clone_from(goal);
            if let Some(scope) = scope {
                state.scope = scope.into();
            }
        }
        RunEvent::User { text } => state.record_user(text),
        RunEvent::Call { call, decision, mode, replay_of } => {
            let agent = state.agent.clone().unwrap_or_default();
            let call = call.to_call(&agent);
            let Some(verdict) = Verdict::parse_recorded(decision, mode, replay_of.clone()) else {
                return Err(format!("run `{}` event {i}: unknown decision or mode", state.run));
            };
            let action = policy.actions.get(&call.action).map(AsRef::as_ref);
            state.record_call(&call, &verdict, action);
        }
        RunEvent::Result { id, output, untrusted } => {
            let action =
                state.pending_action(id).and_then(|name| policy.actions.get(name)).cloned();
            if *untrusted {
                state.record_untrusted_result(id, action.as_deref(), output);
            } else {
                state.record_result(id, action.as_deref(), output);
            }
        }
        RunEvent::Untrusted { source, content, read: false } => {
            state.record_untrusted(source, content);
        }
        RunEvent::Untrusted { source, content, read: true } => {
            state.record_untrusted_read(source, content);
        }
        RunEvent::Outcome { id, executed } => state.record_outcome(id, *executed),
        RunEvent::Expired { reason } => *state = state.expire(reason),
    }
    Ok(())
}
