//! The decision corpus: every `test_data/cases/<stage>/**/<case>.toml` is one call decided
//! against one policy directory of `test_data/policies/`, after the run's history, with the
//! decision and rules it must get. The verdict is kept as a snapshot, so a change in a
//! reason's wording or a risk contribution shows up in review.
//!
//! A case file:
//!
//! ```toml
//! # What the case checks (becomes the snapshot's description).
//! policy = "constraints"          # a directory under test_data/policies
//! agent = "checker"
//! goal = "..."                    # optional: the run's declared goal
//! scope = { tenant = "acme" }     # optional: the run's declared scope
//! history = [                     # optional: events before the call, in order
//!   { type = "user", text = "..." },
//!   { type = "call", action = "x", args = {}, idempotency_key = "k", nonce = "n" },
//!   { type = "result", action = "x", output = "..." },
//! ]
//! expect = "block"                # allow | require_approval | block
//! expect_rules = ["arguments.path_under"]  # optional: rules that must be among the reasons
//! expect_mode = "monitor"         # optional: the verdict's mode
//! expect_replay_of = "h1"         # optional: the call whose outcome is returned
//!
//! [call]
//! action = "read_path"
//! args = { path = "/etc/passwd" }
//! # optional: agent, idempotency_key, nonce, scope, provenance
//! ```
//!
//! The run is built the way `aecl check` builds an example's run: history calls are decided
//! and recorded, results are recorded with the catalog entry of their action (history call
//! `N` has the id `hN`, counting every history event from 1).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use aecl_core::{Call, Decision, Scope, Timestamp, Verdict, decide};
use aecl_policy::format::{DecisionName, HistoryFile, ScopeFile};
use aecl_policy::trace::DeclaredSourceName;
use aecl_policy::{LoadedPolicy, SourceFile, is_policy_file, load, run_from_history};
use serde::Deserialize;
use serde_json::Value;

/// Every stage folder of `test_data/cases`; each must hold at least one case.
const STAGES: [&str; 9] =
    ["manifest", "arguments", "scope", "data_flow", "budget", "replay", "risk", "rules", "modes"];

/// Every constraint kind, a folder of `test_data/cases/arguments`.
const ARGUMENT_KINDS: [&str; 11] = [
    "schema",
    "range",
    "one_of",
    "max_length",
    "path_under",
    "url_hosts",
    "email_domains",
    "sql",
    "shell",
    "object",
    "operation",
];

const MIN_CASES: usize = 170;

/// The time every case is decided at.
const NOW: Timestamp = Timestamp(1_700_000_000_000);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    policy: String,
    agent: String,
    goal: Option<String>,
    scope: Option<ScopeFile>,
    #[serde(default)]
    history: Vec<HistoryFile>,
    call: CaseCall,
    expect: DecisionName,
    #[serde(default)]
    expect_rules: Vec<String>,
    expect_mode: Option<String>,
    expect_replay_of: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseCall {
    action: String,
    #[serde(default = "empty_object")]
    args: Value,
    /// The calling agent, when it is not the run's.
    agent: Option<String>,
    idempotency_key: Option<String>,
    nonce: Option<String>,
    scope: Option<ScopeFile>,
    #[serde(default)]
    provenance: BTreeMap<String, DeclaredSourceName>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

pub(crate) fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Canonical, like the paths `glob!` hands out, so that case names can be shown relative.
    root.canonicalize().unwrap_or(root)
}

fn decision(name: DecisionName) -> Decision {
    match name {
        DecisionName::Allow => Decision::Allow,
        DecisionName::RequireApproval => Decision::RequireApproval,
        DecisionName::Block => Decision::Block,
    }
}

/// The files of a policy directory as the CLI reads them: every `.toml`, `.json` and
/// `.cedar` file, recursively, in path order, named by its path relative to the directory.
pub(crate) fn policy_files(dir: &Path) -> Vec<SourceFile> {
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, out);
            } else if is_policy_file(&path) {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    collect(dir, &mut paths);
    paths.sort();
    paths
        .iter()
        .map(|path| SourceFile {
            path: path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"),
            text: fs::read_to_string(path).unwrap(),
        })
        .collect()
}

/// Loads a policy directory the way the CLI does ([`policy_files`]).
pub(crate) fn load_policy_dir(dir: &Path) -> LoadedPolicy {
    let files = policy_files(dir);
    load(&files).unwrap_or_else(|e| panic!("policy {} does not load: {e}", dir.display()))
}

/// The leading `#` lines of a case file: what it checks.
fn description(text: &str) -> String {
    text.lines()
        .take_while(|line| line.starts_with('#'))
        .map(|line| line.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds the run from the case's goal, scope and history, then decides the call.
fn decide_case(loaded: &LoadedPolicy, case: &Case, run_id: &str) -> Verdict {
    let policy = &loaded.policy;
    let run = run_from_history(
        policy,
        run_id,
        &case.agent,
        case.goal.as_deref(),
        case.scope.as_ref(),
        &case.history,
        NOW,
    );
    let spec = &case.call;
    let call = Call {
        id: "call".to_owned(),
        agent: spec.agent.clone().unwrap_or_else(|| case.agent.clone()),
        run: run_id.to_owned(),
        action: spec.action.clone(),
        args: spec.args.clone(),
        idempotency_key: spec.idempotency_key.clone(),
        nonce: spec.nonce.clone(),
        scope: spec.scope.as_ref().map(Scope::from).unwrap_or_default(),
        provenance: spec
            .provenance
            .iter()
            .map(|(path, source)| {
                let source = match source {
                    DeclaredSourceName::User => aecl_core::DeclaredSource::User,
                    DeclaredSourceName::TrustedTool => aecl_core::DeclaredSource::TrustedTool,
                    DeclaredSourceName::Untrusted => aecl_core::DeclaredSource::Untrusted,
                };
                (path.clone(), source)
            })
            .collect(),
        paths: Default::default(),
    };
    decide(policy, &call, &run, NOW)
}

/// What is wrong with a verdict, if anything.
fn mismatch(case: &Case, verdict: &Verdict) -> Option<String> {
    let mut problems = String::new();
    let expected = decision(case.expect);
    if verdict.decision != expected {
        let _ = write!(problems, "expected `{expected}`, got `{}`; ", verdict.decision);
    }
    let rules: Vec<&str> = verdict.reasons.iter().map(|r| r.rule.as_ref()).collect();
    for rule in &case.expect_rules {
        if !rules.contains(&rule.as_str()) {
            let _ = write!(problems, "expected rule `{rule}` among [{}]; ", rules.join(", "));
        }
    }
    if let Some(mode) = &case.expect_mode
        && verdict.mode.as_str() != mode
    {
        let _ = write!(problems, "expected mode `{mode}`, got `{}`; ", verdict.mode.as_str());
    }
    if case.expect_replay_of.as_deref() != verdict.replay_of.as_deref() {
        let _ = write!(
            problems,
            "expected replay_of {:?}, got {:?}; ",
            case.expect_replay_of, verdict.replay_of
        );
    }
    if problems.is_empty() {
        return None;
    }
    let why: Vec<String> =
        verdict.reasons.iter().map(|r| format!("{}: {}", r.rule, r.message)).collect();
    Some(format!("{problems}reasons: [{}]", why.join("; ")))
}

#[test]
fn cases() {
    let root = workspace_root();
    let mut policies: HashMap<String, LoadedPolicy> = HashMap::new();
    let mut failures: Vec<String> = Vec::new();
    insta::glob!("../../../../test_data/cases", "**/*.toml", |path| {
        let text = fs::read_to_string(path).unwrap();
        let name =
            path.strip_prefix(root.join("test_data/cases")).unwrap_or(path).display().to_string();
        let case: Case =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: not a valid case: {e}"));
        let loaded = policies.entry(case.policy.clone()).or_insert_with(|| {
            load_policy_dir(&root.join("test_data/policies").join(&case.policy))
        });
        let run_id = path.file_stem().unwrap().to_string_lossy().into_owned();
        let verdict = decide_case(loaded, &case, &run_id);
        if let Some(problem) = mismatch(&case, &verdict) {
            // Collected rather than panicking, so that one run reports every failing case;
            // no snapshot is written for a verdict known to be wrong.
            #[expect(
                clippy::print_stderr,
                reason = "a snapshot failure makes `glob!` panic before the list below is printed"
            )]
            {
                eprintln!("FAILED {name}: {problem}");
            }
            failures.push(format!("{name}: {problem}"));
            return;
        }
        let mut snapshot = serde_json::to_value(aecl_protocol::Verdict::from(&verdict)).unwrap();
        // The revision changes with every edit of the policy; the snapshot is about the
        // verdict.
        snapshot["policy_revision"] = Value::String("[revision]".to_owned());
        insta::with_settings!({ description => description(&text), omit_expression => true }, {
            insta::assert_json_snapshot!(snapshot);
        });
    });
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_corpus_covers_every_stage_and_constraint_kind() {
    fn count(dir: &Path) -> usize {
        let Ok(entries) = fs::read_dir(dir) else { return 0 };
        entries
            .map(|e| e.unwrap().path())
            .map(|p| {
                if p.is_dir() {
                    count(&p)
                } else {
                    usize::from(p.extension().is_some_and(|e| e == "toml"))
                }
            })
            .sum()
    }
    let cases = workspace_root().join("test_data/cases");
    let total = count(&cases);
    assert!(total >= MIN_CASES, "the corpus has {total} cases, fewer than {MIN_CASES}");
    for stage in STAGES {
        assert!(count(&cases.join(stage)) > 0, "no case for the stage `{stage}`");
    }
    for kind in ARGUMENT_KINDS {
        assert!(
            count(&cases.join("arguments").join(kind)) > 0,
            "no case for the constraint `{kind}`"
        );
    }
    let folders: Vec<String> = fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for folder in &folders {
        assert!(STAGES.contains(&folder.as_str()), "`{folder}` is not a stage folder");
    }
}
