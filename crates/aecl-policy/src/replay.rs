//! Replaying trace events against a policy: the run bookkeeping that `aecl replay`, the
//! catalog examples and the tests share. Pure: the caller reads the lines and writes the
//! answers.
//!
//! Memory is bounded by the runs still open: an `end` event drops a run's state.

use std::collections::{BTreeMap, HashMap};

use aecl_core::{
    Call, Decision, Policy, Reason, RiskBreakdown, RunState, TierRequirement, Timestamp, Verdict,
    decide,
};
use serde::Serialize;
use serde_json::Value;

use crate::trace::TraceEvent;

/// One line of `aecl replay` output; the HTTP API answers with the same fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionLine<'a> {
    pub id: &'a str,
    pub run: &'a str,
    pub action: &'a str,
    pub decision: Decision,
    pub mode: aecl_core::Mode,
    pub reasons: &'a [Reason],
    pub risk: &'a RiskBreakdown,
    pub policy_revision: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<&'a str>,
    /// The sandbox tier the policy requires for the call, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<&'a TierRequirement>,
}

/// A decided call of a replay.
#[derive(Debug, Clone)]
pub struct Decided {
    pub call: Call,
    pub verdict: Verdict,
}

impl Decided {
    pub fn line(&self) -> DecisionLine<'_> {
        DecisionLine {
            id: &self.call.id,
            run: &self.call.run,
            action: &self.call.action,
            decision: self.verdict.decision,
            mode: self.verdict.mode,
            reasons: &self.verdict.reasons,
            risk: &self.verdict.risk,
            policy_revision: &self.verdict.policy_revision.0,
            replay_of: self.verdict.replay_of.as_deref(),
            sandbox: self.verdict.sandbox.as_ref(),
        }
    }
}

/// The runs of a trace being replayed against one policy.
#[derive(Debug)]
pub struct Replayer<'p> {
    policy: &'p Policy,
    runs: HashMap<String, RunState>,
    default_agent: Option<String>,
    now: Timestamp,
}

impl<'p> Replayer<'p> {
    /// `default_agent` is used for runs whose events name no agent.
    pub fn new(policy: &'p Policy, default_agent: Option<String>, now: Timestamp) -> Self {
        Replayer { policy, runs: HashMap::new(), default_agent, now }
    }

    /// Applies one event; a `call` is decided and returned.
    pub fn apply(&mut self, event: &TraceEvent) -> Result<Option<Decided>, String> {
        match event {
            TraceEvent::Run { run, agent, goal, scope } => {
                let state = self.runs.entry(run.clone()).or_insert_with(|| RunState::new(run));
                if agent.is_some() {
                    state.agent.clone_from(agent);
                }
                if goal.is_some() {
                    state.goal.clone_from(goal);
                }
                if let Some(scope) = scope {
                    state.scope = scope.into();
                }
                Ok(None)
            }
            TraceEvent::User { run, text } => {
                self.run_mut(run).record_user(text);
                Ok(None)
            }
            TraceEvent::Result { run, id, output } => {
                let policy = self.policy;
                let state = self.run_mut(run);
                let action = state.pending_action(id).and_then(|a| policy.actions.get(a)).cloned();
                state.record_result(id, action.as_deref(), output);
                Ok(None)
            }
            TraceEvent::End { run } => {
                self.runs.remove(run);
                Ok(None)
            }
            TraceEvent::Call(event) => {
                let default_agent = self.default_agent.clone();
                let (policy, now) = (self.policy, self.now);
                let state = self.run_mut(&event.run);
                let Some(agent) =
                    event.agent.clone().or_else(|| state.agent.clone()).or(default_agent)
                else {
                    return Err(format!(
                        "call `{}`: run `{}` has no agent (give it in a `run` event, the call, or --agent)",
                        event.id, event.run
                    ));
                };
                let call = event.to_call(&agent);
                let verdict = decide(policy, &call, state, now);
                let action = policy.actions.get(&call.action).cloned();
                state.record_call(&call, &verdict, action.as_deref());
                Ok(Some(Decided { call, verdict }))
            }
        }
    }

    fn run_mut(&mut self, run: &str) -> &mut RunState {
        self.runs.entry(run.to_owned()).or_insert_with(|| RunState::new(run))
    }

    /// The runs still open.
    pub fn open_runs(&self) -> usize {
        self.runs.len()
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
