//! Replaying trace events against a policy: the run bookkeeping that `aecl replay`, the
//! catalog examples and the tests share. Pure: the caller reads the lines and writes the
//! answers.
//!
//! Memory is bounded: an `end` event drops a run's state, and runs that never end are
//! expired by the policy's `[runs]` bounds (`aecl_core::run_bounds`).

use std::collections::BTreeMap;

use aecl_core::run_bounds::{OpenRuns, RunLimits};

use aecl_core::{Call, Policy, Timestamp, Verdict, decide};
use serde::Serialize;
use serde_json::Value;

use crate::trace::{CallEvent, TraceEvent};

/// A decided call of a replay; `aecl_protocol::DecisionLine` is its output line.
#[derive(Debug, Clone)]
pub struct Decided {
    pub call: Call,
    pub verdict: Verdict,
}

/// The runs of a trace being replayed against one policy.
#[derive(Debug)]
pub struct Replayer<'p> {
    policy: &'p Policy,
    runs: OpenRuns,
    default_agent: Option<String>,
    now: Timestamp,
    /// Events applied so far: the replay's clock for the least-recently-used order.
    tick: u64,
}

impl<'p> Replayer<'p> {
    /// `default_agent` is used for runs whose events name no agent. Open runs are bounded
    /// by the default [`RunLimits`]; see [`Replayer::with_limits`].
    pub fn new(policy: &'p Policy, default_agent: Option<String>, now: Timestamp) -> Self {
        Replayer { policy, runs: OpenRuns::new(RunLimits::default()), default_agent, now, tick: 0 }
    }

    /// Bounds open runs by the policy's `[runs]` (a trace has no clock: idle expiry does
    /// not apply, the count and memory bounds do).
    #[must_use]
    pub fn with_limits(mut self, limits: RunLimits) -> Self {
        self.runs = OpenRuns::new(limits);
        self
    }

    /// Applies one event; a `call` is decided and returned. A `decided` event is passed
    /// over: a replay decides every call under its own policy.
    pub fn apply(&mut self, event: &TraceEvent) -> Result<Option<Decided>, String> {
        self.tick += 1;
        let tick = self.tick;
        let decided = match event {
            TraceEvent::Run { run, agent, goal, scope } => {
                let state = self.runs.get(run, tick);
                if agent.is_some() {
                    state.agent.clone_from(agent);
                }
                if goal.is_some() {
                    state.goal.clone_from(goal);
                }
                if let Some(scope) = scope {
                    state.scope = scope.into();
                }
                None
            }
            TraceEvent::User { run, text } => {
                self.runs.get(run, tick).record_user(text);
                None
            }
            TraceEvent::Result { run, id, output } => {
                let policy = self.policy;
                let state = self.runs.get(run, tick);
                let action = state.pending_action(id).and_then(|a| policy.actions.get(a)).cloned();
                state.record_result(id, action.as_deref(), output);
                None
            }
            TraceEvent::Untrusted { run, source, content } => {
                self.runs.get(run, tick).record_untrusted(source, content);
                None
            }
            TraceEvent::End { run } => {
                self.runs.close(run);
                return Ok(None);
            }
            TraceEvent::Expired { run, reason } => {
                self.runs.reset_expired(run, reason.as_deref().unwrap_or("expired"), tick);
                None
            }
            TraceEvent::Decided { .. } => return Ok(None),
            TraceEvent::Call(event) => Some(self.record_call(event, tick, None)?),
        };
        self.runs.settle(event.run());
        Ok(decided)
    }

    /// Applies `event` as the call it is, with `verdict`, the one it got when it was
    /// decided live (its `decided` event): recorded in its run as it was then, and not
    /// decided again, whatever this replay's policy or clock would say of it now.
    pub fn apply_recorded(
        &mut self,
        event: &CallEvent,
        verdict: Verdict,
    ) -> Result<Decided, String> {
        self.tick += 1;
        let decided = self.record_call(event, self.tick, Some(verdict))?;
        self.runs.settle(&event.run);
        Ok(decided)
    }

    /// Records `event` in its run, with `recorded` or else the verdict it gets now.
    fn record_call(
        &mut self,
        event: &CallEvent,
        tick: u64,
        recorded: Option<Verdict>,
    ) -> Result<Decided, String> {
        let default_agent = self.default_agent.clone();
        let (policy, now) = (self.policy, self.now);
        let state = self.runs.get(&event.run, tick);
        let Some(agent) = event.agent.clone().or_else(|| state.agent.clone()).or(default_agent)
        else {
            return Err(format!(
                "call `{}`: run `{}` has no agent (give it in a `run` event, the call, or --agent)",
                event.id, event.run
            ));
        };
        let call = event.to_call(&agent);
        let verdict = recorded.unwrap_or_else(|| decide(policy, &call, state, now));
        let action = policy.actions.get(&call.action).cloned();
        state.record_call(&call, &verdict, action.as_deref());
        Ok(Decided { call, verdict })
    }

    /// The runs still open.
    pub fn open_runs(&self) -> usize {
        self.runs.len()
    }

    /// How many runs the bounds expired, per reason (`max_open_runs`, `max_state_bytes`).
    pub fn expired(&self) -> Vec<(&'static str, u64)> {
        self.runs.expired_counts().into_iter().map(|(r, n)| (r.as_str(), n)).collect()
    }
}

/// Counts per decision, per action and per rule, for `aecl replay --summary`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub calls: u64,
    pub decisions: BTreeMap<String, u64>,
    pub actions: BTreeMap<String, BTreeMap<String, u64>>,
    pub rules: BTreeMap<String, u64>,
}

impl Summary {
    pub fn add(&mut self, decided: &Decided) {
        self.calls += 1;
        let decision = decided.verdict.decision.as_str().to_owned();
        *self.decisions.entry(decision.clone()).or_default() += 1;
        *self
            .actions
            .entry(decided.call.action.clone())
            .or_default()
            .entry(decision)
            .or_default() += 1;
        for reason in &decided.verdict.reasons {
            *self.rules.entry(reason.rule.to_string()).or_default() += 1;
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use aecl_core::run_bounds::RunLimits;

    use super::*;
    use crate::trace::parse_event;
    use crate::{SourceFile, load};

    /// The finance example (its `transfer_funds.iban` is a control argument).
    fn finance() -> Policy {
        let files = [
            ("policy.toml", include_str!("../../../examples/policies/finance/policy.toml")),
            ("catalog.toml", include_str!("../../../examples/policies/finance/catalog.toml")),
            ("rules.cedar", include_str!("../../../examples/policies/finance/rules.cedar")),
            (
                "agents/finance_agent.toml",
                include_str!("../../../examples/policies/finance/agents/finance_agent.toml"),
            ),
            (
                "agents/finance_agent_v2.json",
                include_str!("../../../examples/policies/finance/agents/finance_agent_v2.json"),
            ),
        ]
        .map(|(path, text)| SourceFile { path: path.to_owned(), text: text.to_owned() });
        load(&files).expect("the finance example loads").policy
    }

    fn run_trace(replayer: &mut Replayer<'_>, lines: &[&str]) -> Vec<Decided> {
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let event = parse_event(line, i + 1).unwrap();
            out.extend(replayer.apply(&event).unwrap());
        }
        out
    }

    const READ: &str = r#"{"type":"call","run":"r1","id":"c1","action":"read_invoice","args":{"invoice_id":"INV-1"}}"#;
    const RESULT: &str = r#"{"type":"result","run":"r1","id":"c1","output":{"invoice_id":"INV-1","vendor":"V-118","amount":4200,"currency":"EUR","iban":"DE44500105175407324931"}}"#;
    const PAY: &str = r#"{"type":"call","run":"r1","id":"c2","action":"transfer_funds","args":{"vendor":"V-118","amount":4200,"currency":"EUR","iban":"DE44500105175407324931"}}"#;
    const OPEN: &str =
        r#"{"type":"run","run":"r1","agent":"finance_agent","goal":"pay invoice INV-1"}"#;
    const OTHER: &str = r#"{"type":"run","run":"r2","agent":"finance_agent"}"#;

    #[test]
    fn a_run_that_lost_its_history_fails_closed_on_control_arguments() {
        let policy = finance();
        let limits =
            RunLimits { idle_expiry_secs: None, max_open_runs: 1, max_state_bytes: 1 << 30 };
        let held = |verdict: &Verdict| {
            verdict.reasons.iter().any(|r| r.rule == "data_flow.untrusted_control_argument")
        };
        // Kept open: the IBAN came from a trusted invoice; data flow has nothing to say.
        let mut kept = Replayer::new(&policy, None, Timestamp(0)).with_limits(limits);
        let decided = run_trace(&mut kept, &[OPEN, READ, RESULT, PAY]);
        assert!(!held(&decided[1].verdict), "{:?}", decided[1].verdict);
        // Evicted by another run before paying: the IBAN can no longer be traced, and an
        // expired run takes that as untrusted, not as written by the model.
        let mut evicted = Replayer::new(&policy, None, Timestamp(0)).with_limits(limits);
        let decided = run_trace(&mut evicted, &[OPEN, READ, RESULT, OTHER, PAY]);
        let verdict = &decided[1].verdict;
        assert!(held(verdict), "{verdict:?}");
        let reason = verdict
            .reasons
            .iter()
            .find(|r| r.rule == "data_flow.untrusted_control_argument")
            .expect("the control argument is held");
        assert!(reason.message.contains("history lost when run `r1` expired"), "{reason:?}");
        // `r1` made way for `r2`, then `r2` for `r1` again.
        assert_eq!(evicted.expired(), vec![("max_open_runs", 2)]);
        // A recorded `expired` event does the same.
        let mut recorded = Replayer::new(&policy, None, Timestamp(0));
        let expired = r#"{"type":"expired","run":"r1","reason":"idle"}"#;
        let decided = run_trace(&mut recorded, &[OPEN, READ, RESULT, expired, PAY]);
        assert!(held(&decided[1].verdict), "{:?}", decided[1].verdict);
    }
}
