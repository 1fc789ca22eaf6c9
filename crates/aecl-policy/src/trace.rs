//! The trace format (design.md §5): JSON Lines, one event a line, read by `aecl replay` and
//! written by `aecl audit export`. The `call` event without its `type` is also the body of
//! the HTTP API's evaluate and execute requests.

use std::collections::BTreeMap;

use aecl_core::call::{Call, DeclaredSource, Scope};
use aecl_core::resolved::{PathView, Resolution};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PolicyError;
use crate::format::ScopeFile;

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TraceEvent {
    /// Opens a run: its agent, declared goal and declared scope.
    Run { run: String, agent: Option<String>, goal: Option<String>, scope: Option<ScopeFile> },
    /// The user's own words (trusted).
    User { run: String, text: String },
    /// A proposed call.
    Call(CallEvent),
    /// The verdict the call just before it (same run and id) got when it was decided live:
    /// `aecl hook` writes one after each call it lets into a session's history, so that
    /// its later calls rebuild the session from the decisions made, as the engine rebuilds
    /// a run from its stored verdicts, instead of deciding its past again. `aecl replay`
    /// and policy tests decide every call under the policy they are given and pass over it.
    Decided {
        run: String,
        id: String,
        /// `allow`, `block` or `require_approval`.
        decision: String,
        /// `enforce`, `monitor` or `dry_run`.
        mode: String,
        /// The earlier call whose outcome this one repeats (an idempotency key).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replay_of: Option<String>,
    },
    /// The output of an earlier call.
    Result { run: String, id: String, output: Value },
    /// Content the agent was shown beside any call's output (an MCP server's instructions,
    /// tool descriptions and requests for input, a tool's error answer): values in it are
    /// untrusted in the run's later calls. `source` says where it came from; `read`, that
    /// the agent read it as it reads an output (a client's task notification), which marks
    /// the run as having read untrusted content.
    Untrusted {
        run: String,
        source: String,
        content: Value,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        read: bool,
    },
    /// Closes a run and frees its state (an extension of design.md §5: without it a replay
    /// keeps every run open until the end of the trace).
    End { run: String },
    /// The run's state was dropped by a bound of `[runs]` (`reason`: `idle`,
    /// `max_open_runs` or `max_state_bytes`); should it go on, it starts again with no
    /// trusted history and fails closed on what it lost.
    Expired {
        run: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// A proposed call as it travels on the wire.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEvent {
    pub run: String,
    pub id: String,
    pub action: String,
    #[serde(default = "empty_object")]
    pub args: Value,
    /// The agent; default: the run's agent.
    pub agent: Option<String>,
    pub idempotency_key: Option<String>,
    pub nonce: Option<String>,
    /// The tenant, environment and resources this call targets.
    pub scope: Option<ScopeFile>,
    /// Client-declared provenance per argument path: `user`, `trusted_tool` or `untrusted`.
    #[serde(default)]
    pub provenance: BTreeMap<String, DeclaredSourceName>,
    /// What each path string in the arguments resolves to on the filesystem the call acts
    /// on, filled by an adapter that sees it (`aecl hook` on the agent's machine): the
    /// string as written → `{"path": "/physical/path"}` or `{"failed": "why"}`. Absent
    /// when no adapter resolved: path constraints are then checked lexically alone. Present,
    /// a path-constrained value without an entry or with `failed` is blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_paths: Option<BTreeMap<String, ResolvedPathFile>>,
}

/// One path string's resolution on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedPathFile {
    /// The absolute physical path.
    Path(String),
    /// Why it could not be resolved.
    Failed(String),
}

/// The core's view of resolutions read from the wire.
pub fn path_view(resolved: &Option<BTreeMap<String, ResolvedPathFile>>) -> PathView {
    match resolved {
        None => PathView::Unseen,
        Some(map) => PathView::Seen(
            map.iter()
                .map(|(written, file)| {
                    let resolution = match file {
                        ResolvedPathFile::Path(path) => Resolution::Path(path.clone()),
                        ResolvedPathFile::Failed(why) => Resolution::Failed(why.clone()),
                    };
                    (written.clone(), resolution)
                })
                .collect(),
        ),
    }
}

/// The wire form of the core's view of resolutions.
pub fn resolved_paths_file(view: &PathView) -> Option<BTreeMap<String, ResolvedPathFile>> {
    match view {
        PathView::Unseen => None,
        PathView::Seen(map) => Some(
            map.iter()
                .map(|(written, resolution)| {
                    let file = match resolution {
                        Resolution::Path(path) => ResolvedPathFile::Path(path.clone()),
                        Resolution::Failed(why) => ResolvedPathFile::Failed(why.clone()),
                    };
                    (written.clone(), file)
                })
                .collect(),
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredSourceName {
    User,
    TrustedTool,
    Untrusted,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl TraceEvent {
    /// The event recording that `call` was decided as `verdict`.
    pub fn decided(call: &Call, verdict: &aecl_core::Verdict) -> TraceEvent {
        TraceEvent::Decided {
            run: call.run.clone(),
            id: call.id.clone(),
            decision: verdict.decision.as_str().to_owned(),
            mode: verdict.mode.as_str().to_owned(),
            replay_of: verdict.replay_of.clone(),
        }
    }

    pub fn run(&self) -> &str {
        match self {
            TraceEvent::Run { run, .. }
            | TraceEvent::User { run, .. }
            | TraceEvent::Result { run, .. }
            | TraceEvent::Untrusted { run, .. }
            | TraceEvent::Decided { run, .. }
            | TraceEvent::End { run }
            | TraceEvent::Expired { run, .. } => run,
            TraceEvent::Call(call) => &call.run,
        }
    }
}

/// Parses one line of a trace; `line` (from 1) is used in the error.
pub fn parse_event(text: &str, line: usize) -> Result<TraceEvent, PolicyError> {
    serde_json::from_str(text).map_err(|e| {
        let message = without_position(&e.to_string()).to_owned();
        // Errors found after the tag of an event is read carry no column.
        let message =
            if e.column() > 0 { format!("{message} (column {})", e.column()) } else { message };
        PolicyError::Trace { line, message }
    })
}

fn without_position(message: &str) -> &str {
    message.rfind(" at line ").and_then(|cut| message.get(..cut)).unwrap_or(message)
}

impl From<&ScopeFile> for Scope {
    fn from(file: &ScopeFile) -> Scope {
        Scope {
            actions: file.actions.clone(),
            tenant: file.tenant.clone(),
            environment: file.environment.clone(),
            resources: file.resources.clone(),
        }
    }
}

impl CallEvent {
    /// The core call, with `agent` used when the event names none.
    pub fn to_call(&self, agent: &str) -> Call {
        Call {
            id: self.id.clone(),
            agent: self.agent.clone().unwrap_or_else(|| agent.to_owned()),
            run: self.run.clone(),
            action: self.action.clone(),
            args: self.args.clone(),
            idempotency_key: self.idempotency_key.clone(),
            nonce: self.nonce.clone(),
            scope: self.scope.as_ref().map(Scope::from).unwrap_or_default(),
            provenance: self
                .provenance
                .iter()
                .map(|(path, source)| {
                    let source = match source {
                        DeclaredSourceName::User => DeclaredSource::User,
                        DeclaredSourceName::TrustedTool => DeclaredSource::TrustedTool,
                        DeclaredSourceName::Untrusted => DeclaredSource::Untrusted,
                    };
                    (path.clone(), source)
                })
                .collect(),
            paths: path_view(&self.resolved_paths),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_parses() {
        let lines = [
            r#"{"type":"run","run":"r1","agent":"banking","goal":"Pay my March rent"}"#,
            r#"{"type":"user","run":"r1","text":"Pay the rent"}"#,
            r#"{"type":"call","run":"r1","id":"c1","action":"read_file","args":{"path":"lease.txt"}}"#,
            r#"{"type":"result","run":"r1","id":"c1","output":"text"}"#,
            r#"{"type":"end","run":"r1"}"#,
            r#"{"type":"expired","run":"r1","reason":"idle"}"#,
            r#"{"type":"expired","run":"r1"}"#,
        ];
        for (i, line) in lines.iter().enumerate() {
            let event = parse_event(line, i + 1).unwrap();
            assert_eq!(event.run(), "r1");
        }
    }

    #[test]
    fn unknown_fields_and_bad_types_name_the_line() {
        let err = parse_event(r#"{"type":"call","run":"r1","id":"c1","action":"x","argz":{}}"#, 7)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 7: unknown field `argz`"), "{err}");
        let err = parse_event(r#"{"type":"user","run":"r1","text":5}"#, 3).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("invalid type"), "{err}");
        let err = parse_event("{not json", 9).unwrap_err().to_string();
        assert!(err.starts_with("line 9:"), "{err}");
    }
}
