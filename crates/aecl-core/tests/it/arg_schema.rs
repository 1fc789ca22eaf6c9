//! An action's argument schema compiled at the action's first call (`ArgSchema::lazy`): a
//! schema that does not compile then is found only while deciding, and must block the call
//! rather than let it through unchecked.

use std::sync::Arc;

use aecl_core::policy::ArgSchema;
use aecl_core::{Call, Decision, Policy, RunState, Timestamp, decide};
use aecl_policy::{SourceFile, load};
use serde_json::{Value, json};

const NOW: Timestamp = Timestamp(1_700_000_000_000);

/// A policy whose one agent may call `lookup`, a read whose schema any object passes.
fn policy() -> Policy {
    let files = [
        SourceFile {
            path: "catalog.toml".to_owned(),
            text: "[actions.lookup]\neffect = \"read\"\n\n[actions.lookup.schema]\ntype = \"object\"\n"
                .to_owned(),
        },
        SourceFile {
            path: "agents/reader.toml".to_owned(),
            text: "agent_id = \"reader\"\nallowed_actions = [\"lookup\"]\n".to_owned(),
        },
    ];
    load(&files).unwrap_or_else(|e| panic!("{e}")).policy
}

fn decide_lookup(policy: &Policy, args: Value) -> aecl_core::Verdict {
    let call = Call {
        id: "call".to_owned(),
        agent: "reader".to_owned(),
        run: "run".to_owned(),
        action: "lookup".to_owned(),
        args,
        idempotency_key: None,
        nonce: None,
        scope: Default::default(),
        provenance: Default::default(),
        paths: Default::default(),
    };
    decide(policy, &call, &RunState::new("run"), NOW)
}

fn with_schema(mut policy: Policy, schema: ArgSchema) -> Policy {
    let mut action = (*policy.actions["lookup"]).clone();
    action.schema = Some(schema);
    policy.actions.insert("lookup".to_owned(), Arc::new(action));
    policy
}

#[test]
fn a_lazy_schema_validates_at_the_first_call() {
    let schema = ArgSchema::lazy(json!({"type": "object", "required": ["id"]}));
    let policy = with_schema(policy(), schema);
    assert_eq!(decide_lookup(&policy, json!({"id": "42"})).decision, Decision::Allow);
    let verdict = decide_lookup(&policy, json!({}));
    assert_eq!(verdict.decision, Decision::Block, "{verdict:?}");
    assert!(verdict.reasons.iter().any(|r| r.rule == "arguments.schema"), "{verdict:?}");
}

#[test]
fn a_schema_that_does_not_compile_at_the_call_blocks_it() {
    let policy = with_schema(policy(), ArgSchema::lazy(json!({"type": "no-such-type"})));
    // Arguments any compiled schema of this action would pass: only the failure to
    // compile can block them.
    for _ in 0..2 {
        let verdict = decide_lookup(&policy, json!({}));
        assert_eq!(verdict.decision, Decision::Block, "{verdict:?}");
        let reason = verdict
            .reasons
            .iter()
            .find(|r| r.rule == "arguments.schema" && r.decision == Decision::Block)
            .unwrap_or_else(|| panic!("no schema reason: {verdict:?}"));
        assert!(reason.message.contains("`lookup`"), "names the action: {}", reason.message);
        assert!(reason.message.contains("no-such-type"), "names the error: {}", reason.message);
    }
}
