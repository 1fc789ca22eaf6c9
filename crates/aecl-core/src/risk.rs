//! The risk score: a deterministic sum of declared factors, each with its contribution, so
//! an operator can see exactly why a call was routed to a human.

use std::borrow::Cow;

use crate::call::Call;
use crate::policy::{ActionSpec, AgentManifest, CustomRiskFactor, Reversibility, RiskCondition};
use crate::run::RunState;
use crate::text::leaf_text;
use crate::verdict::{RiskBreakdown, RiskContribution};

/// What the earlier stages found that the risk factors read.
#[derive(Debug, Clone, Default)]
pub struct RiskInputs {
    /// The environments the call targets: the one it declared and those its arguments
    /// name.
    pub environments: Vec<String>,
    /// The SQL analysis found a bulk statement.
    pub bulk: bool,
    /// Argument paths whose value came only from untrusted content.
    pub untrusted_args: Vec<String>,
    /// The money the call moves (`ActionSpec::amount`), when its amount argument holds numbers.
    pub amount: Option<f64>,
}

/// Scores a call. The score is the sum of the contributions, capped at 1.0.
pub fn score(
    agent: &AgentManifest,
    action: &ActionSpec,
    call: &Call,
    run: &RunState,
    inputs: &RiskInputs,
) -> RiskBreakdown {
    let settings = &agent.risk;
    let threshold = action.approval.risk_above.unwrap_or(settings.approval_threshold);
    let mut breakdown = RiskBreakdown::empty(threshold, settings.block_threshold);
    let mut add = |factor: Cow<'static, str>, weight: f64, detail: String| {
        if weight != 0.0 {
            breakdown.contributions.push(RiskContribution { factor, weight, detail });
        }
    };

    if let Some(amount) = inputs.amount
        && amount > settings.amount_threshold
    {
        add(
            Cow::Borrowed("amount"),
            settings.amount_weight,
            format!("amount {amount} is above {}", settings.amount_threshold),
        );
    }
    if action.reversibility == Reversibility::Irreversible {
        add(
            Cow::Borrowed("irreversible"),
            settings.irreversible_weight,
            ["`", &action.name, "` cannot be undone"].concat(),
        );
    }
    if let Some(env) = inputs
        .environments
        .iter()
        .find(|env| settings.production_environments.iter().any(|p| p.eq_ignore_ascii_case(env)))
    {
        add(
            Cow::Borrowed("production"),
            settings.production_weight,
            ["targets environment `", env, "`"].concat(),
        );
    }
    if inputs.bulk {
        add(
            Cow::Borrowed("bulk"),
            settings.bulk_weight,
            "a statement without a row filter".to_owned(),
        );
    }
    if let Some(first) = inputs.untrusted_args.first() {
        add(
            Cow::Borrowed("untrusted_input"),
            settings.untrusted_input_weight,
            ["argument `", first, "` comes only from untrusted content"].concat(),
        );
    } else if let Some(source) = &run.read_untrusted {
        add(
            Cow::Borrowed("untrusted_input"),
            settings.untrusted_input_weight,
            ["the run has read untrusted content (", &source.label, ")"].concat(),
        );
    }
    for factor in &action.risk_factors {
        if let Some(detail) = custom_factor_holds(factor, action, call, run) {
            add(Cow::Owned(factor.name.clone()), factor.weight, detail);
        }
    }

    // Folded from +0.0: an empty `sum()` of floats is -0.0.
    let sum = breakdown.contributions.iter().fold(0.0, |acc, c| acc + c.weight);
    // Round to micro-units so that 0.1 + 0.2 compares as 0.3 against thresholds.
    breakdown.score = ((sum.clamp(0.0, 1.0)) * 1e6).round() / 1e6;
    breakdown
}

fn custom_factor_holds(
    factor: &CustomRiskFactor,
    action: &ActionSpec,
    call: &Call,
    run: &RunState,
) -> Option<String> {
    let values = factor.arg.values(&call.args);
    let arg = &factor.arg;
    match &factor.condition {
        RiskCondition::Present => (!values.is_empty()).then(|| format!("`{arg}` is present")),
        RiskCondition::GreaterThan(limit) => values
            .iter()
            .filter_map(|v| v.as_f64())
            .find(|n| n > limit)
            .map(|n| format!("`{arg}` = {n} is above {limit}")),
        RiskCondition::LessThan(limit) => values
            .iter()
            .filter_map(|v| v.as_f64())
            .find(|n| n < limit)
            .map(|n| format!("`{arg}` = {n} is below {limit}")),
        RiskCondition::Equals(expected) => {
            values.contains(&expected).then(|| format!("`{arg}` is {expected}"))
        }
        RiskCondition::OneOf(list) => values
            .iter()
            .find(|v| list.contains(v))
            .map(|v| format!("`{arg}` = {v} is one of the listed values")),
        RiskCondition::NotOneOf(list) => values
            .iter()
            .find(|v| !list.contains(v))
            .map(|v| format!("`{arg}` = {v} is not one of the listed values")),
        RiskCondition::FirstSeen => {
            // Built by hand, not with `format!`: this runs on every call of an action that
            // has the factor.
            let mut key = String::with_capacity(action.name.len() + 1 + 16);
            key.push_str(&action.name);
            key.push('.');
            arg.push_to(&mut key);
            let seen = run.seen_values.get(&key);
            values
                .iter()
                .filter_map(|v| leaf_text(v))
                .find(|t| !seen.is_some_and(|s| s.contains(t.as_ref())))
                .map(|t| {
                    let mut detail = String::with_capacity(64 + t.len());
                    detail.push('`');
                    arg.push_to(&mut detail);
                    detail.push_str("` = `");
                    detail.push_str(&t);
                    detail.push_str("` was not used earlier in this run");
                    detail
                })
        }
    }
}
