//! The SQL corpus: every `test_data/sql/<dialect>.toml` holds cases, each an SQL text with
//! the decision it must get and why, decided through the whole pipeline against the policy
//! in `test_data/sql/policy/` (whose actions differ only in their SQL rules, so the
//! decision is the SQL analysis's, plus the `bulk` risk factor).
//!
//! ```toml
//! action = "pg"                 # the file's default action
//!
//! [[case]]
//! sql = "SELECT pg_read_file('/etc/passwd')"
//! expect = "block"              # allow | require_approval | block
//! why = "reads a server file"
//! action = "pg_writer"          # optional: another action of the policy
//! ```

use std::fs;

use aecl_core::{Call, Decision, Timestamp, decide};
use aecl_policy::format::DecisionName;
use aecl_policy::run_from_history;
use serde::Deserialize;
use serde_json::json;

use crate::corpus::{load_policy_dir, workspace_root};

const NOW: Timestamp = Timestamp(1_700_000_000_000);

/// The acceptance floor of the corpus, and of each of the two dialects it must cover.
const MIN_CASES: usize = 120;
const MIN_PER_DIALECT: usize = 40;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    action: String,
    #[serde(rename = "case")]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    sql: String,
    expect: DecisionName,
    why: String,
    action: Option<String>,
}

fn decision(name: DecisionName) -> Decision {
    match name {
        DecisionName::Allow => Decision::Allow,
        DecisionName::RequireApproval => Decision::RequireApproval,
        DecisionName::Block => Decision::Block,
    }
}

#[test]
fn every_sql_case_gets_its_decision() {
    let root = workspace_root().join("test_data/sql");
    let loaded = load_policy_dir(&root.join("policy"));
    let mut files: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut total = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file: CaseFile = toml::from_str(&fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: not a valid case file: {e}"));
        if ["postgres.toml", "sqlite.toml"].contains(&name.as_str()) {
            assert!(file.cases.len() >= MIN_PER_DIALECT, "{name}: too few cases");
        }
        assert!(
            file.cases.iter().any(|c| c.expect == DecisionName::Allow),
            "{name}: no benign case that must stay allowed"
        );
        for (i, case) in file.cases.iter().enumerate() {
            total += 1;
            assert!(!case.why.trim().is_empty(), "{name} case {}: say why", i + 1);
            let action = case.action.clone().unwrap_or_else(|| file.action.clone());
            let run_id = format!("{name}-{i}");
            let run = run_from_history(&loaded.policy, &run_id, "sql", None, None, &[], NOW);
            let call = Call {
                id: "call".to_owned(),
                agent: "sql".to_owned(),
                run: run_id.clone(),
                action: action.clone(),
                args: json!({ "sql": case.sql }),
                ..Call::default()
            };
            let verdict = decide(&loaded.policy, &call, &run, NOW);
            let reasons: Vec<String> =
                verdict.reasons.iter().map(|r| format!("{}: {}", r.rule, r.message)).collect();
            let expected = decision(case.expect);
            // A refusal must come from the SQL analysis (or the bulk risk it feeds), not
            // from an unrelated stage that happened to give the same answer.
            let from_sql = verdict.reasons.iter().any(|r| {
                r.decision > Decision::Allow
                    && (r.rule == "arguments.sql" || r.rule.starts_with("risk."))
            });
            if verdict.decision != expected || (expected > Decision::Allow && !from_sql) {
                failures.push(format!(
                    "{name} case {} [{action}] `{}`: expected `{expected}` ({}), got `{}`: [{}]",
                    i + 1,
                    case.sql,
                    case.why,
                    verdict.decision,
                    reasons.join("; ")
                ));
            }
        }
    }
    assert!(total >= MIN_CASES, "the SQL corpus holds {total} cases, fewer than {MIN_CASES}");
    assert!(
        failures.is_empty(),
        "{} of {total} SQL cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
