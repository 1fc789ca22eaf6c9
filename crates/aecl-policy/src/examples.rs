//! Running the examples embedded in the catalog (`[[actions.NAME.examples]]`), as
//! `aecl check` does: each is decided and compared with its expected decision.

use aecl_core::{Call, Policy, RunState, Scope, Timestamp, decide};

use crate::error::Problem;
use crate::format::{HistoryFile, ScopeFile};
use crate::load::{Example, LoadedPolicy};
use crate::lower::decision;

/// Decides every example; a problem for each one whose verdict differs from `expect`.
pub fn run_examples(loaded: &LoadedPolicy, now: Timestamp) -> Vec<Problem> {
    let mut problems = Vec::new();
    for example in &loaded.examples {
        if let Err(message) = run_example(loaded, example, now) {
            problems.push(Problem {
                file: example.file.clone(),
                line: example.line,
                column: example.column,
                message: format!(
                    "example `{}` of `{}`: {message}",
                    example.spec.name, example.action
                ),
            });
        }
    }
    problems
}

/// Builds a run from an example's declared goal and scope and its history: user messages,
/// earlier calls (decided and recorded as live traffic would be) and tool results. Shared
/// by `aecl check` and the test corpus.
pub fn run_from_history(
    policy: &Policy,
    run_id: &str,
    agent: &str,
    goal: Option<&str>,
    scope: Option<&ScopeFile>,
    history: &[HistoryFile],
    now: Timestamp,
) -> RunState {
    let mut run = RunState::new(run_id);
    run.agent = Some(agent.to_owned());
    run.goal = goal.map(str::to_owned);
    if let Some(scope) = scope {
        run.scope = scope.into();
    }
    for (i, event) in history.iter().enumerate() {
        let id = format!("h{}", i + 1);
        match event {
            HistoryFile::User { text } => run.record_user(text),
            HistoryFile::Call { action, args, idempotency_key, nonce } => {
                let call = Call {
                    id,
                    agent: agent.to_owned(),
                    run: run_id.to_owned(),
                    action: action.clone(),
                    args: args.clone(),
                    idempotency_key: idempotency_key.clone(),
                    nonce: nonce.clone(),
                    ..Call::default()
                };
                let verdict = decide(policy, &call, &run, now);
                run.record_call(&call, &verdict, policy.actions.get(action).map(|a| a.as_ref()));
            }
            HistoryFile::Result { action, output } => {
                run.record_result(&id, policy.actions.get(action).map(|a| a.as_ref()), output);
            }
        }
    }
    run
}

fn run_example(loaded: &LoadedPolicy, example: &Example, now: Timestamp) -> Result<(), String> {
    let policy = &loaded.policy;
    let spec = &example.spec;
    let agent = match &spec.agent {
        Some(agent) => agent.clone(),
        None => {
            let mut allowing: Vec<&String> = policy
                .agents
                .values()
                .filter(|a| a.allowed_actions.contains(&example.action))
                .map(|a| &a.id)
                .collect();
            allowing.sort();
            match allowing.as_slice() {
                [only] => (*only).clone(),
                [] => return Err("no agent allows this action; name one with `agent`".to_owned()),
                _ => {
                    return Err(
                        "several agents allow this action; name one with `agent`".to_owned()
                    );
                }
            }
        }
    };
    let run_id = format!("example:{}", spec.name);
    let run = run_from_history(
        policy,
        &run_id,
        &agent,
        spec.goal.as_deref(),
        spec.scope.as_ref(),
        &spec.history,
        now,
    );
    let call = Call {
        id: "example".to_owned(),
        agent,
        run: run_id,
        action: example.action.clone(),
        args: spec.args.clone(),
        scope: spec.call_scope.as_ref().map(Scope::from).unwrap_or_default(),
        ..Call::default()
    };
    let verdict = decide(policy, &call, &run, now);
    let expected = decision(spec.expect);
    let rules: Vec<&str> = verdict.reasons.iter().map(|r| r.rule.as_ref()).collect();
    if verdict.decision != expected {
        let why: Vec<String> =
            verdict.reasons.iter().map(|r| format!("{}: {}", r.rule, r.message)).collect();
        return Err(format!(
            "expected `{expected}`, got `{}`{}",
            verdict.decision,
            if why.is_empty() { String::new() } else { format!(" ({})", why.join("; ")) }
        ));
    }
    for rule in &spec.expect_rules {
        if !rules.contains(&rule.as_str()) {
            return Err(format!(
                "expected rule `{rule}` among the reasons, got [{}]",
                rules.join(", ")
            ));
        }
    }
    Ok(())
}
