//! The shell corpus: every `test_data/shell/cases/*.toml` lists commands with the
//! decision the policy in `test_data/shell/policy` must give them and why. Dangerous
//! spellings (code run through allowed programs, uploads, writes outside the write paths,
//! wrappers, abbreviations, environment tricks) must never come out allowed, and
//! everyday commands must.
//!
//! A case file:
//!
//! ```toml
//! [[case]]
//! command = "git status"
//! expect = "allow"                 # allow | require_approval | block | not_allow
//! why = "reads the repository"
//! action = "shell_allowlist"       # optional; default `shell`
//! ```

use std::fs;

use aecl_core::{Call, Decision, RunState, Timestamp, decide};
use serde::Deserialize;
use serde_json::json;

use crate::corpus::{load_policy_dir, workspace_root};

/// The corpus must keep at least this many cases, and this many that must not be allowed.
const MIN_CASES: usize = 300;
const MIN_NOT_ALLOWED: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    command: Command,
    expect: Expect,
    why: String,
    action: Option<String>,
}

/// A command line, or a command's words (an argv list: Codex's `shell`).
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(untagged)]
enum Command {
    Line(String),
    Argv(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Expect {
    Allow,
    RequireApproval,
    Block,
    /// `require_approval` or `block`: the case is about never being allowed.
    NotAllow,
}

impl Expect {
    fn accepts(self, decision: Decision) -> bool {
        match self {
            Expect::Allow => decision == Decision::Allow,
            Expect::RequireApproval => decision == Decision::RequireApproval,
            Expect::Block => decision == Decision::Block,
            Expect::NotAllow => decision != Decision::Allow,
        }
    }
}

#[test]
fn every_shell_case_gets_its_decision() {
    let root = workspace_root().join("test_data/shell");
    let loaded = load_policy_dir(&root.join("policy"));
    let mut paths: Vec<_> = fs::read_dir(root.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let (mut total, mut not_allowed) = (0, 0);
    let mut failures = Vec::new();
    for path in &paths {
        let file: CaseFile = toml::from_str(&fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for (i, case) in file.case.iter().enumerate() {
            assert!(!case.why.trim().is_empty(), "{name} case {i}: say why");
            total += 1;
            if case.expect != Expect::Allow {
                not_allowed += 1;
            }
            let action = case.action.as_deref().unwrap_or("shell");
            let call = Call {
                id: format!("{name}#{i}"),
                agent: "shell_agent".to_owned(),
                run: "shell-corpus".to_owned(),
                action: action.to_owned(),
                args: json!({ "command": case.command }),
                idempotency_key: None,
                nonce: None,
                scope: Default::default(),
                provenance: Default::default(),
                paths: Default::default(),
            };
            let run = RunState::new("shell-corpus");
            let verdict = decide(&loaded.policy, &call, &run, Timestamp(1_700_000_000_000));
            if !case.expect.accepts(verdict.decision) {
                let reasons: Vec<String> =
                    verdict.reasons.iter().map(|r| r.message.clone()).collect();
                failures.push(format!(
                    "{name} #{i}: `{:?}` expected {:?}, got {:?} ({})\n    reasons: {reasons:?}",
                    case.command, case.expect, verdict.decision, case.why
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} shell cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= MIN_CASES, "only {total} shell cases; keep at least {MIN_CASES}");
    assert!(not_allowed >= MIN_NOT_ALLOWED, "only {not_allowed} cases that must not be allowed");
}
