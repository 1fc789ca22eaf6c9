//! Which sandbox tier a call must run in: the policy's choice by action, effect and run
//! condition ("`exec` actions run in `gvisor` once the run has read untrusted content",
//! "always `microvm` for agent X").
//!
//! The requirement is a floor: the strictest of the catalog's tier for the action, the
//! agent's (and the directory's) `tier`, and every matching rule. Nothing here can lower
//! it. Whether the host can run that tier is not known here (no I/O): the engine asks the
//! connector and blocks the call when it cannot, so a call never runs in a weaker tier
//! than the policy requires.

use std::fmt;

use serde::Serialize;

use crate::class::EffectClass;
use crate::hash::HashSet;
use crate::run::RunState;

/// Isolation tiers, ordered from the weakest to the strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxTier {
    /// Namespaces, Landlock, seccomp: trusted internal work.
    Process,
    /// A user-space kernel (gVisor's runsc): semi-trusted work.
    Gvisor,
    /// A virtual machine with its own kernel: untrusted content.
    Microvm,
}

impl SandboxTier {
    pub const ALL: [SandboxTier; 3] =
        [SandboxTier::Process, SandboxTier::Gvisor, SandboxTier::Microvm];

    pub fn as_str(self) -> &'static str {
        match self {
            SandboxTier::Process => "process",
            SandboxTier::Gvisor => "gvisor",
            SandboxTier::Microvm => "microvm",
        }
    }

    pub fn parse(s: &str) -> Option<SandboxTier> {
        SandboxTier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for SandboxTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a tier rule applies, by what the run has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TierCondition {
    Always,
    /// The run has read content from an untrusted source.
    AfterUntrusted,
    /// The run has read private (secret-class) data.
    AfterPrivate,
}

impl TierCondition {
    pub const ALL: [TierCondition; 3] =
        [TierCondition::Always, TierCondition::AfterUntrusted, TierCondition::AfterPrivate];

    pub fn as_str(self) -> &'static str {
        match self {
            TierCondition::Always => "always",
            TierCondition::AfterUntrusted => "untrusted_content",
            TierCondition::AfterPrivate => "private_data",
        }
    }

    pub fn parse(s: &str) -> Option<TierCondition> {
        TierCondition::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One rule: calls of these actions or effects (any call when both are empty) run in at
/// least `tier` when `when` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRule {
    pub actions: HashSet<String>,
    pub effects: HashSet<EffectClass>,
    pub when: TierCondition,
    pub tier: SandboxTier,
}

/// An agent's sandbox settings (the directory's `policy.toml` ones included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxSettings {
    /// Every call of the agent runs in at least this tier.
    pub tier: Option<SandboxTier>,
    pub rules: Vec<TierRule>,
}

/// The tier a call must run in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRequirement {
    pub tier: SandboxTier,
    /// The setting that asked for this tier (the first, when several ask for it).
    pub because: String,
}

/// The strictest tier that the catalog, the agent's settings and its rules require for a
/// call of `action` (effect `effect`, catalog tier `catalog_tier`) in `run`; `None` when
/// none says anything.
pub fn required_tier(
    settings: &SandboxSettings,
    action: &str,
    effect: EffectClass,
    catalog_tier: Option<SandboxTier>,
    run: &RunState,
) -> Option<TierRequirement> {
    let mut best: Option<TierRequirement> = None;
    let mut offer = |tier: SandboxTier, because: &dyn Fn() -> String| {
        if best.as_ref().is_none_or(|b| tier > b.tier) {
            best = Some(TierRequirement { tier, because: because() });
        }
    };
    if let Some(tier) = catalog_tier {
        offer(tier, &|| format!("the catalog runs `{action}` in `{tier}`"));
    }
    if let Some(tier) = settings.tier {
        offer(tier, &|| format!("the agent's calls run in `{tier}`"));
    }
    for (index, rule) in settings.rules.iter().enumerate() {
        let selected = (rule.actions.is_empty() && rule.effects.is_empty())
            || rule.actions.contains(action)
            || rule.effects.contains(&effect);
        let holds = match rule.when {
            TierCondition::Always => Some(String::new()),
            TierCondition::AfterUntrusted => {
                run.read_untrusted.as_ref().map(|s| format!(" (untrusted content: {})", s.label))
            }
            TierCondition::AfterPrivate => {
                run.read_private.as_ref().map(|s| format!(" (private data: {})", s.label))
            }
        };
        if selected && let Some(detail) = holds {
            offer(rule.tier, &|| {
                format!(
                    "sandbox rule {} ({}): `{}`{detail}",
                    index + 1,
                    rule.when.as_str(),
                    rule.tier
                )
            });
        }
    }
    best
}

#[cfg(test)]
mod tests;
