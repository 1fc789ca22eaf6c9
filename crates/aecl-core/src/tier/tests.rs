//! The tier requirement: the strictest setting wins, run conditions switch rules on, and
//! nothing lowers a floor.

use super::*;
use crate::provenance::{SourceKind, SourceRef};

fn rule(
    actions: &[&str],
    effects: &[EffectClass],
    when: TierCondition,
    tier: SandboxTier,
) -> TierRule {
    TierRule {
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        effects: effects.iter().copied().collect(),
        when,
        tier,
    }
}

fn untrusted_run() -> RunState {
    let mut run = RunState::new("r1");
    run.read_untrusted = Some(SourceRef {
        kind: SourceKind::Untrusted,
        label: "c1 read_email.body".to_owned(),
        seq: 1,
    });
    run
}

#[test]
fn nothing_said_is_no_requirement() {
    let run = RunState::new("r1");
    assert_eq!(
        required_tier(&SandboxSettings::default(), "build", EffectClass::Exec, None, &run),
        None
    );
}

#[test]
fn exec_moves_to_gvisor_once_the_run_read_untrusted_content() {
    let settings = SandboxSettings {
        tier: None,
        rules: vec![rule(
            &[],
            &[EffectClass::Exec],
            TierCondition::AfterUntrusted,
            SandboxTier::Gvisor,
        )],
    };
    let clean = RunState::new("r1");
    assert_eq!(required_tier(&settings, "build", EffectClass::Exec, None, &clean), None);
    let tainted = untrusted_run();
    let required = required_tier(&settings, "build", EffectClass::Exec, None, &tainted).unwrap();
    assert_eq!(required.tier, SandboxTier::Gvisor);
    assert!(required.because.contains("c1 read_email.body"), "{}", required.because);
    // Another effect is not selected by the rule.
    assert_eq!(required_tier(&settings, "read", EffectClass::Read, None, &tainted), None);
}

#[test]
fn the_strictest_wins_and_a_rule_never_lowers_a_floor() {
    let settings = SandboxSettings {
        tier: Some(SandboxTier::Microvm),
        rules: vec![rule(&["build"], &[], TierCondition::Always, SandboxTier::Process)],
    };
    let run = RunState::new("r1");
    let required =
        required_tier(&settings, "build", EffectClass::Exec, Some(SandboxTier::Gvisor), &run)
            .unwrap();
    assert_eq!(required.tier, SandboxTier::Microvm);
    assert_eq!(required.because, "the agent's calls run in `microvm`");
}

#[test]
fn the_catalog_tier_applies_to_every_agent() {
    let run = RunState::new("r1");
    let required = required_tier(
        &SandboxSettings::default(),
        "build",
        EffectClass::Exec,
        Some(SandboxTier::Gvisor),
        &run,
    )
    .unwrap();
    assert_eq!(required.tier, SandboxTier::Gvisor);
    assert!(required.because.contains("catalog"), "{}", required.because);
}

#[test]
fn tiers_are_ordered_from_weakest_to_strongest() {
    assert!(
        SandboxTier::Process < SandboxTier::Gvisor && SandboxTier::Gvisor < SandboxTier::Microvm
    );
    for tier in SandboxTier::ALL {
        assert_eq!(SandboxTier::parse(tier.as_str()), Some(tier));
    }
}
