//! `[sandbox]` as written: floors add up across `policy.toml` and the manifest, rules name
//! catalog actions, and a misspelt tier or action is an error at its line.

use aecl_core::tier::{SandboxTier, TierCondition};

use crate::{PolicyError, SourceFile, load};

const CATALOG: &str = r#"
[actions.build]
effect = "exec"
reversibility = "irreversible"
connector = "sandbox"
sandbox = "gvisor"
[actions.build.approval]
waive_irreversible = "sandboxed"
"#;

fn files(settings: &str, manifest: &str) -> Vec<SourceFile> {
    vec![
        SourceFile { path: "policy.toml".to_owned(), text: settings.to_owned() },
        SourceFile { path: "catalog.toml".to_owned(), text: CATALOG.to_owned() },
        SourceFile { path: "agents/builder.toml".to_owned(), text: manifest.to_owned() },
    ]
}

const MANIFEST: &str = "agent_id = \"builder\"\nallowed_actions = [\"build\"]\n";

#[test]
fn the_directory_and_the_manifest_both_count_and_the_catalog_names_its_tier() {
    let settings = "[sandbox]\ntier = \"process\"\n\n[[sandbox.rules]]\neffects = [\"exec\"]\nwhen = \"untrusted_content\"\ntier = \"gvisor\"\n";
    let manifest = format!("{MANIFEST}\n[sandbox]\ntier = \"microvm\"\n");
    let policy = load(&files(settings, &manifest)).unwrap().policy;
    let builder = &policy.agents["builder"];
    assert_eq!(builder.sandbox.tier, Some(SandboxTier::Microvm));
    assert_eq!(builder.sandbox.rules.len(), 1);
    assert_eq!(builder.sandbox.rules[0].when, TierCondition::AfterUntrusted);
    assert_eq!(policy.actions["build"].sandbox, Some(SandboxTier::Gvisor));
}

#[test]
fn a_manifest_cannot_lower_the_directory_floor() {
    let manifest = format!("{MANIFEST}\n[sandbox]\ntier = \"process\"\n");
    let policy = load(&files("[sandbox]\ntier = \"gvisor\"\n", &manifest)).unwrap().policy;
    assert_eq!(policy.agents["builder"].sandbox.tier, Some(SandboxTier::Gvisor));
}

#[test]
fn unknown_actions_and_tiers_are_errors_at_their_line() {
    let manifest =
        format!("{MANIFEST}\n[[sandbox.rules]]\nactions = [\"biuld\"]\ntier = \"gvisor\"\n");
    let Err(PolicyError::Invalid(problems)) = load(&files("", &manifest)) else {
        panic!("a rule naming an unknown action must not load");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].file, "agents/builder.toml");
    assert_eq!(problems[0].line, 5, "{problems:?}");
    assert!(problems[0].message.contains("`biuld` is not in the action catalog"), "{problems:?}");

    let manifest = format!("{MANIFEST}\n[sandbox]\ntier = \"firecracker\"\n");
    let Err(PolicyError::Invalid(problems)) = load(&files("", &manifest)) else {
        panic!("an unknown tier must not load");
    };
    let message = &problems[0].message;
    assert!(message.contains("firecracker") && message.contains("microvm"), "{message}");
}
