//! A run over the API: `GET /v1/runs/{id}` (its events, calls with their verdicts) and
//! `POST /v1/runs/{id}/events` (what a client reports around the calls it ran itself).

use aecl_policy::format::ScopeFile;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::CallRequest;
use crate::verdict::{Decision, Mode};

/// `GET /v1/runs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RunView {
    pub run: String,
    /// The agent that opened the run.
    pub agent: Option<String>,
    /// How many events the run holds (each commit adds one).
    pub version: u64,
    pub events: Vec<RunEvent>,
}

/// One event of a run, as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run opened with a declared goal and scope.
    Run { agent: String, goal: Option<String>, scope: Option<ScopeFile> },
    /// The user's own words.
    User { text: String },
    /// A decided call and the verdict it got.
    Call {
        call: Box<CallRequest>,
        #[schemars(with = "Decision")]
        decision: String,
        #[schemars(with = "Mode")]
        mode: String,
        replay_of: Option<String>,
    },
    /// A tool's output. `untrusted`: all of it is untrusted whatever the catalog says (a
    /// tool's error answer).
    Result {
        id: String,
        output: Value,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        untrusted: bool,
    },
    /// Content the agent was shown beside any call's output (an MCP server's instructions
    /// and tool descriptions, its request for input during a call): values in it are
    /// untrusted in the run's later calls. `source` says where it came from; `read`, that
    /// the agent read it as an output (a client's task notification), which marks the run
    /// as having read untrusted content.
    Untrusted {
        source: String,
        content: Value,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        read: bool,
    },
    /// How an allowed call's execution ended.
    Outcome { id: String, executed: bool },
    /// `[runs]` expired the run: `idle`, `max_open_runs` or `max_state_bytes`.
    Expired { reason: String },
}

/// The body of `POST /v1/runs/{id}/events`: one trace event, `run` optional (the path
/// names it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventRequest {
    /// The user's own words (trusted).
    User {
        #[serde(default)]
        run: Option<String>,
        text: String,
    },
    /// The output of a call the client ran, with its action's catalog trust.
    Result {
        #[serde(default)]
        run: Option<String>,
        id: String,
        #[serde(default)]
        output: Value,
    },
}

/// Which kind of event was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordedKind {
    User,
    Result,
}

/// The answer: the event is recorded in the run, and `seq` is its audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct EventRecorded {
    pub run: String,
    pub recorded: RecordedKind,
    /// The sequence number of the event's audit record.
    pub seq: u64,
}
