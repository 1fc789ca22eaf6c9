//! Lowering of `[sandbox]` tables (tier floors and tier rules), shared by `policy.toml`
//! and the manifests, and of an action's `sandbox` tier.

use std::collections::HashMap;

use aecl_core::policy::{ActionSpec, EffectClass};
use aecl_core::tier::{SandboxSettings, SandboxTier, TierCondition, TierRule};

use crate::error::Problem;
use crate::format::{SandboxFile, TierName, TierWhen};
use crate::location::Step;
use crate::lower::{FileCtx, effect_class};

pub(crate) fn tier(name: TierName) -> SandboxTier {
    match name {
        TierName::Process => SandboxTier::Process,
        TierName::Gvisor => SandboxTier::Gvisor,
        TierName::Microvm => SandboxTier::Microvm,
    }
}

/// Adds the `[sandbox]` table `file` to `settings`: the stricter floor of the two, and
/// every rule. Nothing a manifest says can loosen what `policy.toml` says.
pub(crate) fn apply(
    settings: &mut SandboxSettings,
    file: &SandboxFile,
    actions: Option<&HashMap<String, ActionSpec>>,
    ctx: &FileCtx<'_>,
    problems: &mut Vec<Problem>,
) {
    if let Some(floor) = file.tier.map(tier) {
        settings.tier = Some(settings.tier.map_or(floor, |t| t.max(floor)));
    }
    for (i, rule) in file.rules.iter().enumerate() {
        for (j, name) in rule.actions.iter().enumerate() {
            if actions.is_some_and(|actions| !actions.contains_key(name)) {
                let path = [
                    Step::from("sandbox"),
                    Step::from("rules"),
                    Step::from(i),
                    Step::from("actions"),
                    Step::from(j),
                ];
                problems.push(
                    ctx.problem(&path, format!("action `{name}` is not in the action catalog")),
                );
            }
        }
        settings.rules.push(TierRule {
            actions: rule.actions.iter().cloned().collect(),
            effects: rule
                .effects
                .iter()
                .map(|e| effect_class(*e))
                .collect::<aecl_core::hash::HashSet<EffectClass>>(),
            when: match rule.when.unwrap_or(TierWhen::Always) {
                TierWhen::Always => TierCondition::Always,
                TierWhen::UntrustedContent => TierCondition::AfterUntrusted,
                TierWhen::PrivateData => TierCondition::AfterPrivate,
            },
            tier: tier(rule.tier),
        });
    }
}

#[cfg(test)]
mod tests;
