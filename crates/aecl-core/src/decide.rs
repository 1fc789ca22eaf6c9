//! `decide`: the pipeline of design.md §3, steps 2 to 8, as one total and pure function.
//!
//! Each stage appends reasons; the verdict's decision is the strictest of them, so a stage
//! can only ever tighten what the stages before it found. Nothing here reads a clock, the
//! environment or a file; nothing panics on input, and if a bug panics anyway the panic is
//! caught and the call is blocked.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;

use crate::call::{Call, Timestamp};
use crate::class::EffectClass;
use crate::constraint::{Constraint, ValueFacts, Violation, writes_code_config};
use crate::policy::{ActionSpec, AgentManifest, ArgSpec, Policy, Reversibility};
use crate::risk::{self, RiskInputs};
use crate::rules::RuleInput;
use crate::run::RunState;
use crate::tier::{TierRequirement, required_tier};
use crate::verdict::{Decision, Mode, Reason, RiskBreakdown, Stage, Verdict};

mod flow;

use flow::Network;
mod values;

/// Decides one call. Total: every input gives a verdict, and any internal failure is
/// `Block` with the failure as its reason, never `Allow`.
pub fn decide(policy: &Policy, call: &Call, run: &RunState, now: Timestamp) -> Verdict {
    match catch_unwind(AssertUnwindSafe(|| Evaluation::new(policy, call, run, now).run())) {
        Ok(verdict) => verdict,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            let mut verdict = Evaluation::new(policy, call, run, now).finish();
            verdict.decision = Decision::Block;
            verdict.reasons.push(Reason {
                stage: Stage::Internal,
                rule: Cow::Borrowed("internal.panic"),
                decision: Decision::Block,
                field: None,
                message: format!("internal error while deciding: {message}"),
            });
            verdict
        }
    }
}

struct Evaluation<'a> {
    policy: &'a Policy,
    call: &'a Call,
    run: &'a RunState,
    #[expect(dead_code, reason = "grant expiry checks read the time from the approval stage on")]
    now: Timestamp,
    reasons: Vec<Reason>,
    risk: Option<RiskBreakdown>,
    mode: Mode,
    approval_expires_in_secs: Option<u64>,
    replay_of: Option<String>,
    sandbox: Option<TierRequirement>,
    spans: Vec<crate::verdict::ValueSpan>,
}

impl<'a> Evaluation<'a> {
    fn new(policy: &'a Policy, call: &'a Call, run: &'a RunState, now: Timestamp) -> Self {
        Evaluation {
            policy,
            call,
            run,
            now,
            reasons: Vec::new(),
            risk: None,
            mode: Mode::Enforce,
            approval_expires_in_secs: None,
            replay_of: None,
            sandbox: None,
            spans: Vec::new(),
        }
    }

    fn reason(
        &mut self,
        stage: Stage,
        rule: impl Into<Cow<'static, str>>,
        decision: Decision,
        field: Option<String>,
        message: String,
    ) {
        self.reasons.push(Reason { stage, rule: rule.into(), decision, field, message });
    }

    fn decision(&self) -> Decision {
        self.reasons.iter().map(|r| r.decision).max().unwrap_or(Decision::Allow)
    }

    fn finish(self) -> Verdict {
        let decision = self.decision();
        Verdict {
            decision,
            mode: self.mode,
            reasons: self.reasons,
            risk: self.risk.unwrap_or_else(|| RiskBreakdown::empty(0.6, None)),
            policy_revision: self.policy.revision.clone(),
            approval_expires_in_secs: if decision == Decision::RequireApproval {
                self.approval_expires_in_secs
            } else {
                None
            },
            replay_of: self.replay_of,
            sandbox: self.sandbox,
            spans: self.spans,
        }
    }

    fn run(mut self) -> Verdict {
        let Some(agent) = self.policy.agents.get(&self.call.agent).cloned() else {
            let message = format!("agent `{}` has no manifest", self.call.agent);
            self.reason(Stage::Manifest, "manifest.unknown_agent", Decision::Block, None, message);
            return self.finish();
        };
        self.mode = agent.mode;
        let Some(action) = self.policy.actions.get(&self.call.action).cloned() else {
            let message =
                format!("action `{}` is not in the catalog (default deny)", self.call.action);
            self.reason(Stage::Manifest, "manifest.unknown_action", Decision::Block, None, message);
            return self.finish();
        };
        self.approval_expires_in_secs = Some(action.approval.expires_secs);

        self.manifest(&agent);
        if self.idempotent_replay() {
            return self.finish();
        }
        let facts = self.arguments(&action);
        let environments = self.scope_and_intent(&agent, &action);
        let network = facts
            .network
            .as_deref()
            .map(|command| Network { command, project_code_only: facts.network_project_code_only });
        let untrusted_args = self.data_flow(&agent, &action, network);
        // Read once: the budgets and the amount risk factor both need it.
        let amount = action.amount(&self.call.args);
        self.budgets(&agent, &action, &amount);
        self.replay();
        let inputs = RiskInputs {
            environments,
            bulk: facts.bulk,
            untrusted_args,
            amount: amount.ok().flatten(),
        };
        self.risk(&agent, &action, &inputs);
        self.rules(&action, &inputs.untrusted_args);
        self.sandbox = required_tier(
            &agent.sandbox,
            &self.call.action,
            action.effect,
            action.sandbox,
            self.run,
        );
        self.finish()
    }

    /// Step 2: default deny, blocked and allowed actions, context rules.
    fn manifest(&mut self, agent: &AgentManifest) {
        let action = &self.call.action;
        if let Some(owner) = &self.run.agent
            && owner != &self.call.agent
        {
            let message = format!("run `{}` belongs to agent `{owner}`", self.run.run);
            self.reason(Stage::Manifest, "manifest.run_owner", Decision::Block, None, message);
        }
        if agent.blocked_actions.contains(action) {
            let message = format!("`{action}` is in the blocked actions of `{}`", agent.id);
            self.reason(
                Stage::Manifest,
                "manifest.blocked_actions",
                Decision::Block,
                None,
                message,
            );
        } else if !agent.allowed_actions.contains(action) {
            let message = format!("`{action}` is not in the allowed actions of `{}`", agent.id);
            self.reason(
                Stage::Manifest,
                "manifest.allowed_actions",
                Decision::Block,
                None,
                message,
            );
        }
        if let Some(rule) = agent.context_rules.get(action) {
            let message = ["context rule for `", action, "`: ", &rule.name].concat();
            self.reason(Stage::Manifest, "manifest.context_rules", rule.decision, None, message);
        }
    }

    /// A repeated idempotency key with the same call returns the first call's outcome.
    fn idempotent_replay(&mut self) -> bool {
        let Some(key) = &self.call.idempotency_key else { return false };
        let Some(first) = self.run.idempotency.get(key) else { return false };
        if self.decision() == Decision::Block || first.digest != self.call.digest() {
            return false;
        }
        let message = format!(
            "idempotency key `{key}` was used by call `{}`; its outcome is returned and nothing executes again",
            first.call_id
        );
        self.reason(Stage::Replay, "replay.idempotent_repeat", Decision::Allow, None, message);
        self.replay_of = Some(first.call_id.clone());
        true
    }

    /// Step 3: the JSON Schema and the argument constraints.
    fn arguments(&mut self, action: &ActionSpec) -> ValueFacts {
        let mut facts = ValueFacts::default();
        let args = &self.call.args;
        if !args.is_object() {
            let message = format!("arguments must be a JSON object, got {}", kind_of(args));
            self.reason(Stage::Arguments, "arguments.object", Decision::Block, None, message);
            return facts;
        }
        // A schema is compiled on its action's first call; one that does not compile checks
        // nothing, so the call is blocked (fail closed), never let through unchecked.
        let schema_errors = match action.schema.as_ref().map(|schema| schema.errors(args)) {
            None => Vec::new(),
            Some(Ok(errors)) => errors,
            Some(Err(e)) => {
                vec![(
                    None,
                    format!("the argument schema of `{}` does not compile: {e}", action.name),
                )]
            }
        };
        for (field, message) in schema_errors {
            self.reason(Stage::Arguments, "arguments.schema", Decision::Block, field, message);
        }
        let mut violations: Vec<Violation> = Vec::new();
        for arg in action.args.iter().filter(|a| !a.constraints.is_empty()) {
            // A list of words under a shell rule is one command's argv (Codex's `shell`:
            // `["rm", "-rf", "x"]`): its shell rules read the line the words make, once,
            // and never a word as a command of its own (red team round 25, hooks H1).
            let is_shell = |c: &Constraint| matches!(c, Constraint::Shell(_));
            let argv = match arg.constraints.iter().any(is_shell) {
                true => arg.path.whole(args).and_then(crate::shell::argv_line).map(Value::String),
                false => None,
            };
            if let Some(line) = &argv {
                let rules = arg.constraints.iter().filter(|c| is_shell(c));
                self.check_constraints(action, arg, line, rules, &mut violations, &mut facts);
            }
            arg.path.for_each_value(args, &mut |value| {
                // A value over its length limit is blocked by it already: the parsers of
                // the other constraints (shell, SQL), the costliest, never see it.
                let too_long = arg.constraints.iter().any(|c| {
                    matches!(c, Constraint::MaxLength(limit)
                        if value.as_str().is_some_and(|s| s.chars().count() > *limit))
                });
                let checked = arg
                    .constraints
                    .iter()
                    .filter(|c| !too_long || matches!(c, Constraint::MaxLength(_)))
                    .filter(|c| argv.is_none() || !is_shell(c));
                self.check_constraints(action, arg, value, checked, &mut violations, &mut facts);
            });
        }
        // The operation is the catalog's: a call asking for another one is refused here,
        // before any connector could be tempted to obey it.
        for mismatch in crate::operation::check::mismatches(action, args) {
            self.reason(
                Stage::Arguments,
                "arguments.operation_mismatch",
                Decision::Block,
                Some(mismatch.field),
                mismatch.message,
            );
        }
        facts
    }

    /// Checks `value` of `arg` against `constraints`, each finding a reason of the
    /// argument's.
    fn check_constraints<'c>(
        &mut self,
        action: &ActionSpec,
        arg: &ArgSpec,
        value: &Value,
        constraints: impl Iterator<Item = &'c Constraint>,
        violations: &mut Vec<Violation>,
        facts: &mut ValueFacts,
    ) {
        for constraint in constraints {
            violations.clear();
            constraint.check_with(value, &self.call.paths, violations, facts);
            if let (Constraint::PathUnder(roots), Some(text)) = (constraint, value.as_str())
                && action.effect != EffectClass::Read
            {
                // Each file a patch writes; one that does not parse is refused already.
                let targets = match crate::patch::targets(text) {
                    None => vec![text],
                    Some(Ok(targets)) => targets.iter().map(|t| t.path).collect(),
                    Some(Err(_)) => Vec::new(),
                };
                for path in targets {
                    violations.extend(writes_code_config(roots, path, &self.call.paths));
                }
            }
            for v in violations.drain(..) {
                let rule = format!("arguments.{}", v.rule);
                let field = Some(arg.path.to_string());
                self.reason(Stage::Arguments, rule, v.decision, field, v.message);
            }
        }
    }

    /// Step 6: tool-call count and money budgets.
    fn budgets(
        &mut self,
        agent: &AgentManifest,
        action: &ActionSpec,
        amount: &Result<Option<f64>, String>,
    ) {
        if let Some(max) = agent.max_tool_calls_per_run
            && self.run.calls_allowed >= max
        {
            let message = format!("run `{}` has used all {max} tool calls", self.run.run);
            self.reason(
                Stage::Budget,
                "budget.max_tool_calls_per_run",
                Decision::Block,
                None,
                message,
            );
        }
        let Some(path) = &action.amount_arg else { return };
        let amount = match amount {
            Ok(Some(amount)) => *amount,
            Ok(None) => return,
            Err(message) => {
                let message = message.clone();
                self.reason(
                    Stage::Budget,
                    "budget.amount",
                    Decision::Block,
                    Some(path.to_string()),
                    message,
                );
                return;
            }
        };
        if let Some(max) = agent.budgets.max_amount_per_call
            && amount > max
        {
            let message = format!("amount {amount} is above the per-call budget {max}");
            self.reason(
                Stage::Budget,
                "budget.max_amount_per_call",
                Decision::Block,
                Some(path.to_string()),
                message,
            );
        }
        if let Some(max) = agent.budgets.max_amount_per_run
            && self.run.amount_spent + amount > max
        {
            let message = format!(
                "amount {amount} on top of {} already spent exceeds the run budget {max}",
                self.run.amount_spent
            );
            self.reason(
                Stage::Budget,
                "budget.max_amount_per_run",
                Decision::Block,
                Some(path.to_string()),
                message,
            );
        }
    }

    /// Step 7: single-use nonces, and idempotency keys reused for another call.
    fn replay(&mut self) {
        if let Some(nonce) = &self.call.nonce
            && self.run.nonces.contains(nonce)
        {
            let message = format!("nonce `{nonce}` was already used in this run");
            self.reason(Stage::Replay, "replay.nonce", Decision::Block, None, message);
        }
        if let Some(key) = &self.call.idempotency_key
            && let Some(first) = self.run.idempotency.get(key)
            && first.digest != self.call.digest()
        {
            let message = format!(
                "idempotency key `{key}` was used by call `{}` with other arguments",
                first.call_id
            );
            self.reason(
                Stage::Replay,
                "replay.idempotency_key_reused",
                Decision::Block,
                None,
                message,
            );
        }
    }

    /// Step 8: the risk score and the action's approval settings.
    fn risk(&mut self, agent: &AgentManifest, action: &ActionSpec, inputs: &RiskInputs) {
        let breakdown = risk::score(agent, action, self.call, self.run, inputs);
        if let Some(limit) = breakdown.block_threshold
            && breakdown.score > limit
        {
            let message =
                format!("risk {:.2} is above the block threshold {limit:.2}", breakdown.score);
            self.reason(Stage::Risk, "risk.block_threshold", Decision::Block, None, message);
        }
        if breakdown.score > breakdown.approval_threshold {
            let message = format!(
                "risk {:.2} is above the approval threshold {:.2}",
                breakdown.score, breakdown.approval_threshold
            );
            self.reason(
                Stage::Risk,
                "risk.approval_threshold",
                Decision::RequireApproval,
                None,
                message,
            );
        }
        if action.approval.always {
            let message = ["`", &action.name, "` always needs a human's approval"].concat();
            self.reason(Stage::Risk, "approval.always", Decision::RequireApproval, None, message);
        }
        // `approval.when`: any condition that holds asks for a human (each one named).
        for condition in &action.approval.when {
            if let Some(detail) = condition.holds(&self.call.args) {
                let field = Some(condition.path.to_string());
                let message = format!("approval when `{}`: {detail}", condition.text);
                self.reason(
                    Stage::Risk,
                    "approval.when",
                    Decision::RequireApproval,
                    field,
                    message,
                );
            }
        }
        if action.reversibility == Reversibility::Irreversible
            && !action.approval.waive_irreversible
        {
            let message = ["`", &action.name, "` is irreversible and has no compensation"].concat();
            self.reason(Stage::Risk, "risk.irreversible", Decision::RequireApproval, None, message);
        }
        self.risk = Some(breakdown);
    }

    /// The Cedar escape hatch: findings only tighten.
    fn rules(&mut self, action: &ActionSpec, untrusted_args: &[String]) {
        let Some(rules) = self.policy.rules.clone() else { return };
        let input = RuleInput {
            call: self.call,
            action,
            run: self.run,
            risk_score: self.risk.as_ref().map_or(0.0, |r| r.score),
            decision_so_far: self.decision(),
            untrusted_args,
        };
        for finding in rules.evaluate(&input) {
            // Only tighten: a rule may not answer `allow` over an earlier finding.
            if finding.decision > Decision::Allow {
                self.reason(Stage::Rules, finding.rule, finding.decision, None, finding.message);
            }
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for a message: at most 80 characters.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}
