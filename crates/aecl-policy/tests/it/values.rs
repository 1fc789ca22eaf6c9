//! Typed-value cases (issue #20): `test_data/values/cases.toml`, decided against the policy
//! in `test_data/values/policy/`; and the load-time checks of the typed-value fields.

use std::fs;

use aecl_core::{Call, Decision, Timestamp, decide};
use aecl_policy::format::{DecisionName, HistoryFile};
use aecl_policy::{SourceFile, load, run_from_history};
use serde::Deserialize;
use serde_json::Value;

use crate::corpus::{load_policy_dir, workspace_root};

const NOW: Timestamp = Timestamp(1_700_000_000_000);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    agent: Option<String>,
    #[serde(default)]
    history: Vec<HistoryFile>,
    call: CaseCall,
    expect: DecisionName,
    #[serde(default)]
    rules: Vec<String>,
    message: Option<String>,
    /// Values `scan` found, with their positions (`Verdict::spans`): each must be there.
    #[serde(default)]
    spans: Vec<SpanCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpanCase {
    field: String,
    kind: String,
    offset: usize,
    length: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseCall {
    action: String,
    args: Value,
}

#[test]
fn typed_value_cases() {
    let dir = workspace_root().join("test_data/values");
    let loaded = load_policy_dir(&dir.join("policy"));
    let text = fs::read_to_string(dir.join("cases.toml")).unwrap();
    let cases: Cases = toml::from_str(&text).unwrap();
    assert!(cases.case.len() >= 40, "only {} cases", cases.case.len());
    let mut failures = Vec::new();
    for (i, case) in cases.case.iter().enumerate() {
        let agent = case.agent.as_deref().unwrap_or("assistant");
        let run_id = format!("values-{i}");
        let run = run_from_history(&loaded.policy, &run_id, agent, None, None, &case.history, NOW);
        let call = Call {
            id: "call".to_owned(),
            agent: agent.to_owned(),
            run: run_id,
            action: case.call.action.clone(),
            args: case.call.args.clone(),
            ..Call::default()
        };
        let verdict = decide(&loaded.policy, &call, &run, NOW);
        let expected = match case.expect {
            DecisionName::Allow => Decision::Allow,
            DecisionName::RequireApproval => Decision::RequireApproval,
            DecisionName::Block => Decision::Block,
        };
        let reasons: Vec<String> =
            verdict.reasons.iter().map(|r| format!("{}: {}", r.rule, r.message)).collect();
        let mut wrong = Vec::new();
        if verdict.decision != expected {
            wrong.push(format!("expected {expected}, got {}", verdict.decision));
        }
        for rule in &case.rules {
            if !verdict.reasons.iter().any(|r| r.rule == rule.as_str()) {
                wrong.push(format!("no `{rule}` reason"));
            }
        }
        if let Some(message) = &case.message
            && !verdict.reasons.iter().any(|r| r.message.contains(message.as_str()))
        {
            wrong.push(format!("no reason says `{message}`"));
        }
        // One span per value found in the text as written (not once decoded: that value
        // has no place in it), each within its argument and naming the call whose output
        // showed it.
        let in_text = verdict
            .reasons
            .iter()
            .filter(|r| {
                r.rule == "data_flow.untrusted_value_in_text" && !r.message.contains("once decoded")
            })
            .count();
        if verdict.spans.len() != in_text {
            wrong.push(format!("{} spans for {in_text} values in text", verdict.spans.len()));
        }
        for span in &verdict.spans {
            // A field beneath a list (`edits.new_string`) is each element's.
            let texts = aecl_core::path::FieldPath::parse(&span.field)
                .map(|path| path.values(&call.args))
                .unwrap_or_default();
            let within = texts
                .iter()
                .filter_map(|v| v.as_str())
                .any(|text| text.get(span.offset..span.offset + span.length).is_some());
            if !within || span.source_call.is_none() {
                wrong
                    .push(format!("span {span:?} is not within `{}` or names no call", span.field));
            }
        }
        for expected in &case.spans {
            let found = verdict.spans.iter().any(|s| {
                (s.field.as_str(), s.kind.as_str(), s.offset, s.length)
                    == (
                        expected.field.as_str(),
                        expected.kind.as_str(),
                        expected.offset,
                        expected.length,
                    )
            });
            if !found {
                wrong.push(format!("no span {expected:?} in {:?}", verdict.spans));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!("{}: {} [{}]", case.name, wrong.join("; "), reasons.join(" | ")));
        }
    }
    assert!(failures.is_empty(), "{} failing:\n{}", failures.len(), failures.join("\n"));
}

fn load_error(catalog: &str) -> String {
    let files = [
        SourceFile { path: "catalog.toml".to_owned(), text: catalog.to_owned() },
        SourceFile {
            path: "agents/a.toml".to_owned(),
            text: "agent_id = \"a\"\nallowed_actions = []\n".to_owned(),
        },
    ];
    match load(&files) {
        Ok(_) => panic!("the catalog loads:\n{catalog}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn authoritative_for_on_a_write_action_is_refused_naming_the_action() {
    let error = load_error(
        "[actions.save_member]\neffect = \"write\"\nreversibility = \"irreversible\"\n\
         authoritative_for = [\"slack_user\"]\n",
    );
    assert!(error.contains("save_member") && error.contains("authoritative_for"), "{error}");
    let error = load_error(
        "[actions.echo]\neffect = \"read\"\nreversibility = \"irreversible\"\nauthoritative_for = [\"email\"]\n",
    );
    assert!(error.contains("echo"), "{error}");
}

#[test]
fn bad_kinds_scans_and_copy_limits_are_refused() {
    let error = load_error("[actions.x]\neffect = \"read\"\nargs.body = { scan = [\"amount\"] }\n");
    assert!(error.contains("scan"), "{error}");
    let error = load_error("[actions.x]\neffect = \"read\"\nargs.to = { kind = \"E-Mail\" }\n");
    assert!(error.contains("not a kind"), "{error}");
    let error =
        load_error("[actions.x]\neffect = \"read\"\nargs.d = { max_copied_from_untrusted = 3 }\n");
    assert!(error.contains("max_copied_from_untrusted"), "{error}");
}

#[test]
fn an_unknown_phone_region_is_refused() {
    let files = [
        SourceFile { path: "catalog.toml".to_owned(), text: "[actions.x]\neffect = \"read\"\n".to_owned() },
        SourceFile {
            path: "agents/a.toml".to_owned(),
            text: "agent_id = \"a\"\nallowed_actions = [\"x\"]\n[data_flow]\ndefault_phone_region = \"XX\"\n"
                .to_owned(),
        },
    ];
    let error = load(&files).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("default_phone_region"), "{error}");
}

/// A `url_hosts` entry that cannot be read allowed nothing, silently: it is refused at
/// load, naming the entry and what is expected. The forms that read load.
#[test]
fn a_url_hosts_entry_that_is_no_host_pattern_is_refused() {
    for bad in ["api.good.test:https", "https://api.good.test", "api.good.test:99999", "[::1", ""] {
        let catalog =
            format!("[actions.x]\neffect = \"read\"\nargs.url = {{ url_hosts = [{bad:?}] }}\n");
        let error = load_error(&catalog);
        assert!(
            error.contains("catalog.toml:3:") && error.contains("is not a host pattern"),
            "{bad}: {error}"
        );
    }
    for good in
        ["api.good.test", "*.good.test", "api.good.test:8443", "api.good.test:*", "[::1]:8080"]
    {
        let files = [
            SourceFile {
                path: "catalog.toml".to_owned(),
                text: format!(
                    "[actions.x]\neffect = \"read\"\nargs.url = {{ url_hosts = [{good:?}] }}\n"
                ),
            },
            SourceFile {
                path: "agents/a.toml".to_owned(),
                text: "agent_id = \"a\"\nallowed_actions = [\"x\"]\n".to_owned(),
            },
        ];
        assert!(load(&files).is_ok(), "{good}");
    }
}
