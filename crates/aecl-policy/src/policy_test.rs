//! Policy test files (`tests/*.toml` beside a policy), run by `aecl test DIR` and by
//! `aecl check` when the directory has `tests/`: calls with the decision and rules each
//! must get, after an optional run history (inline, or a trace file in the `aecl replay`
//! format). Pure: the caller reads the files, including the traces a test names.
//!
//! ```toml
//! [[tests]]
//! name = "a transfer to a payee read from an e-mail needs approval"
//! agent = "finance_agent"          # default: the only agent allowing the first call's action
//! goal = "pay the March invoices"  # optional, and `scope`
//! trace = "histories/email.jsonl"  # optional, relative to this file; `run` picks its run
//! history = [{ type = "user", text = "..." }]  # optional, after the trace
//!
//! [[tests.calls]]
//! action = "transfer_funds"
//! args = { vendor = "V-1", amount = 10, currency = "EUR", iban = "..." }
//! expect = "require_approval"
//! expect_rules = ["data_flow.untrusted_control_argument"]
//! output = "..."                   # optional: its result, seen by the calls after it
//! ```

use std::collections::BTreeMap;

use aecl_core::{Call, DeclaredSource, Policy, RunState, Scope, Timestamp, decide};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Problem;
use crate::format::{DecisionName, HistoryFile, ScopeFile};
use crate::location::{Step, TomlSpans, line_col};
use crate::lower::decision;
use crate::trace::{DeclaredSourceName, TraceEvent, parse_event};

/// A test file: `[[tests]]` entries.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    pub tests: Vec<TestCase>,
}

/// One test: a run's history, then calls decided in order.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: String,
    /// The agent making the calls; default: the agent of the trace's run, else the only
    /// agent that allows the first call's action.
    pub agent: Option<String>,
    /// The run's declared goal.
    pub goal: Option<String>,
    /// The run's declared scope.
    pub scope: Option<ScopeFile>,
    /// A trace file (JSON Lines, as `aecl replay` reads), relative to the test file: the
    /// events of the test's run come first.
    pub trace: Option<String>,
    /// The run of the trace the calls continue; default: the run of its first event.
    pub run: Option<String>,
    /// Events after the trace and before the calls, as in a catalog example.
    #[serde(default)]
    pub history: Vec<HistoryFile>,
    pub calls: Vec<TestCall>,
}

/// A call of a test and what it must get.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCall {
    pub action: String,
    #[serde(default = "empty_object")]
    pub args: Value,
    /// The tenant, environment and resources the call targets.
    pub scope: Option<ScopeFile>,
    pub idempotency_key: Option<String>,
    pub nonce: Option<String>,
    /// Client-declared provenance per argument path: `user`, `trusted_tool` or `untrusted`.
    #[serde(default)]
    pub provenance: BTreeMap<String, DeclaredSourceName>,
    pub expect: DecisionName,
    /// Rules that must be among the verdict's reasons.
    #[serde(default)]
    pub expect_rules: Vec<String>,
    /// The tool's output, recorded after the call for the calls after it.
    pub output: Option<Value>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A parsed test file, with where each test is written.
#[derive(Debug, Clone)]
pub struct ParsedTests {
    pub path: String,
    pub tests: Vec<(TestCase, (usize, usize))>,
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub name: String,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
}

impl TestOutcome {
    /// The failure as a problem at the test's place.
    pub fn problem(&self) -> Option<Problem> {
        self.failure.as_ref().map(|failure| Problem {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            message: format!("test `{}`: {failure}", self.name),
        })
    }
}

/// Parses a test file; the problem is at the place of what is wrong.
pub fn parse_tests(path: &str, text: &str) -> Result<ParsedTests, Problem> {
    let file: TestFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        Problem { file: path.to_owned(), line, column, message: e.message().to_owned() }
    })?;
    if file.tests.is_empty() {
        return Err(Problem {
            file: path.to_owned(),
            line: 1,
            column: 1,
            message: "no `[[tests]]` in the file".to_owned(),
        });
    }
    let spans = TomlSpans::new(text);
    let tests = file
        .tests
        .into_iter()
        .enumerate()
        .map(|(i, test)| (test, spans.locate(&[Step::from("tests"), Step::Index(i)])))
        .collect();
    Ok(ParsedTests { path: path.to_owned(), tests })
}

/// Runs every test of `file` against `policy`. `read_trace` returns the text of a trace
/// named by a test (its path as written, relative to the test file).
pub fn run_tests(
    policy: &Policy,
    file: &ParsedTests,
    read_trace: &mut dyn FnMut(&str) -> Result<String, String>,
    now: Timestamp,
) -> Vec<TestOutcome> {
    file.tests
        .iter()
        .map(|(test, (line, column))| TestOutcome {
            file: file.path.clone(),
            line: *line,
            column: *column,
            name: test.name.clone(),
            failure: run_test(policy, test, read_trace, now).err(),
        })
        .collect()
}

fn run_test(
    policy: &Policy,
    test: &TestCase,
    read_trace: &mut dyn FnMut(&str) -> Result<String, String>,
    now: Timestamp,
) -> Result<(), String> {
    let Some(first) = test.calls.first() else {
        return Err("no `[[tests.calls]]`: a test decides at least one call".to_owned());
    };
    let mut run = RunState::new(test.run.as_deref().unwrap_or("test"));
    if let Some(trace) = &test.trace {
        let text = read_trace(trace).map_err(|e| format!("trace `{trace}`: {e}"))?;
        run =
            replay_trace(policy, test, &text, now).map_err(|e| format!("trace `{trace}`: {e}"))?;
    }
    let agent = match test.agent.clone().or_else(|| run.agent.clone()) {
        Some(agent) => agent,
        None => only_agent_allowing(policy, &first.action)?,
    };
    if test.goal.is_some() {
        run.goal.clone_from(&test.goal);
    }
    if let Some(scope) = &test.scope {
        run.scope = scope.into();
    }
    if run.agent.is_none() {
        run.agent = Some(agent.clone());
    }
    // The inline history continues the run: its calls are decided and recorded, its results
    // fed, as for a catalog example.
    play_history(&mut run, &test.history, policy, &agent, now);
    for (i, spec) in test.calls.iter().enumerate() {
        let call = Call {
            id: format!("t{}", i + 1),
            agent: agent.clone(),
            run: run.run.clone(),
            action: spec.action.clone(),
            args: spec.args.clone(),
            idempotency_key: spec.idempotency_key.clone(),
            nonce: spec.nonce.clone(),
            scope: spec.scope.as_ref().map(Scope::from).unwrap_or_default(),
            provenance: declared(&spec.provenance),
            ..Call::default()
        };
        let verdict = decide(policy, &call, &run, now);
        let what = format!("call {} (`{}`)", i + 1, spec.action);
        let expected = decision(spec.expect);
        if verdict.decision != expected {
            let why: Vec<String> =
                verdict.reasons.iter().map(|r| format!("{}: {}", r.rule, r.message)).collect();
            return Err(format!(
                "{what}: expected `{expected}`, got `{}`{}",
                verdict.decision,
                if why.is_empty() { String::new() } else { format!(" ({})", why.join("; ")) }
            ));
        }
        let rules: Vec<&str> = verdict.reasons.iter().map(|r| r.rule.as_ref()).collect();
        for rule in &spec.expect_rules {
            if !rules.contains(&rule.as_str()) {
                return Err(format!(
                    "{what}: expected rule `{rule}` among the reasons, got [{}]",
                    rules.join(", ")
                ));
            }
        }
        let action = policy.actions.get(&spec.action).map(AsRef::as_ref);
        run.record_call(&call, &verdict, action);
        if let Some(output) = &spec.output {
            run.record_result(&call.id, action, output);
        }
    }
    Ok(())
}

/// The run state after the trace's events of the test's run (`run`, else the run of the
/// first event), decided and recorded as `aecl replay` does.
fn replay_trace(
    policy: &Policy,
    test: &TestCase,
    text: &str,
    now: Timestamp,
) -> Result<RunState, String> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            events.push(parse_event(line, i + 1).map_err(|e| e.to_string())?);
        }
    }
    let run_id = match (&test.run, events.first()) {
        (Some(run), _) => run.clone(),
        (None, Some(event)) => event.run().to_owned(),
        (None, None) => return Err("the trace has no events".to_owned()),
    };
    if !events.iter().any(|e| e.run() == run_id) {
        return Err(format!("the trace has no event of run `{run_id}`"));
    }
    let mut run = RunState::new(&run_id);
    for event in events.iter().filter(|e| e.run() == run_id) {
        match event {
            TraceEvent::Run { agent, goal, scope, .. } => {
                if agent.is_some() {
                    run.agent.clone_from(agent);
                }
                if goal.is_some() {
                    run.goal.clone_from(goal);
                }
                if let Some(scope) = scope {
                    run.scope = scope.into();
                }
            }
            TraceEvent::User { text, .. } => run.record_user(text),
            TraceEvent::Untrusted { source, content, read: false, .. } => {
                run.record_untrusted(source, content);
            }
            TraceEvent::Untrusted { source, content, read: true, .. } => {
                run.record_untrusted_read(source, content);
            }
            TraceEvent::Result { id, output, .. } => {
                let action = run.pending_action(id).and_then(|a| policy.actions.get(a)).cloned();
                run.record_result(id, action.as_deref(), output);
            }
            TraceEvent::Call(event) => {
                let agent = event
                    .agent
                    .clone()
                    .or_else(|| run.agent.clone())
                    .or_else(|| test.agent.clone())
                    .ok_or_else(|| {
                        format!(
                            "call `{}`: run `{run_id}` has no agent (name one with `agent`)",
                            event.id
                        )
                    })?;
                let call = event.to_call(&agent);
                let verdict = decide(policy, &call, &run, now);
                let action = policy.actions.get(&call.action).cloned();
                run.record_call(&call, &verdict, action.as_deref());
            }
            // A test decides its calls under the policy it tests.
            TraceEvent::Decided { .. } => {}
            TraceEvent::End { .. } | TraceEvent::Expired { .. } => {
                return Err(format!("run `{run_id}` ends in the trace before the test's calls"));
            }
        }
    }
    Ok(run)
}

/// Plays `history` onto `run`: user messages, calls (decided and recorded) and results.
fn play_history(
    run: &mut RunState,
    history: &[HistoryFile],
    policy: &Policy,
    agent: &str,
    now: Timestamp,
) {
    for (i, event) in history.iter().enumerate() {
        let id = format!("h{}", i + 1);
        match event {
            HistoryFile::User { text } => run.record_user(text),
            HistoryFile::Call { action, args, idempotency_key, nonce } => {
                let call = Call {
                    id,
                    agent: agent.to_owned(),
                    run: run.run.clone(),
                    action: action.clone(),
                    args: args.clone(),
                    idempotency_key: idempotency_key.clone(),
                    nonce: nonce.clone(),
                    ..Call::default()
                };
                let verdict = decide(policy, &call, run, now);
                run.record_call(&call, &verdict, policy.actions.get(action).map(AsRef::as_ref));
            }
            HistoryFile::Result { action, output } => {
                run.record_result(&id, policy.actions.get(action).map(AsRef::as_ref), output);
            }
        }
    }
}

fn only_agent_allowing(policy: &Policy, action: &str) -> Result<String, String> {
    let mut allowing: Vec<&String> = policy
        .agents
        .values()
        .filter(|a| a.allowed_actions.iter().any(|x| x == action))
        .map(|a| &a.id)
        .collect();
    allowing.sort();
    match allowing.as_slice() {
        [only] => Ok((*only).clone()),
        [] => Err(format!("no agent allows `{action}`; name one with `agent`")),
        _ => Err(format!("several agents allow `{action}`; name one with `agent`")),
    }
}

fn declared(provenance: &BTreeMap<String, DeclaredSourceName>) -> BTreeMap<String, DeclaredSource> {
    provenance
        .iter()
        .map(|(path, source)| {
            let source = match source {
                DeclaredSourceName::User => DeclaredSource::User,
                DeclaredSourceName::TrustedTool => DeclaredSource::TrustedTool,
                DeclaredSourceName::Untrusted => DeclaredSource::Untrusted,
            };
            (path.clone(), source)
        })
        .collect()
}

/// Counts of a test run, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
}

impl Tally {
    pub fn of(outcomes: &[TestOutcome]) -> Tally {
        let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
        Tally { passed: outcomes.len() - failed, failed }
    }
}

#[cfg(test)]
mod tests;
