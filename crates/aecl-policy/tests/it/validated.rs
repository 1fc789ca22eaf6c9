//! `load_validated` (the hook's policy cache) builds the policy `load` builds: for every
//! policy directory of the repository, the same revision, agents, actions and rules; and
//! every case of the decision corpus gets the same verdict from either.

use std::fs;
use std::path::{Path, PathBuf};

use aecl_core::{Call, Timestamp, decide};
use aecl_policy::format::{HistoryFile, ScopeFile};
use aecl_policy::{LoadedPolicy, SourceFile, is_policy_file, load, load_validated};
use serde::Deserialize;
use serde_json::Value;

use crate::corpus::workspace_root;

const NOW: Timestamp = Timestamp(1_700_000_000_000);

fn policy_files(dir: &Path) -> Vec<SourceFile> {
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
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
            path: path.strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
            text: fs::read_to_string(path).unwrap(),
        })
        .collect()
}

/// Both loads of `dir`, checked to agree on everything but the compiled objects.
fn both(dir: &Path) -> (LoadedPolicy, LoadedPolicy) {
    let files = policy_files(dir);
    let full = load(&files).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let quick = load_validated(&files).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let (a, b) = (&full.policy, &quick.policy);
    assert_eq!(a.revision, b.revision, "{}", dir.display());
    let keys = |p: &aecl_core::Policy| {
        let mut agents: Vec<String> = p.agents.keys().cloned().collect();
        let mut actions: Vec<String> = p.actions.keys().cloned().collect();
        agents.sort();
        actions.sort();
        (agents, actions, p.rules.is_some())
    };
    assert_eq!(keys(a), keys(b), "{}", dir.display());
    assert_eq!(full.runs, quick.runs, "{}", dir.display());
    assert_eq!(full.audit_redact, quick.audit_redact, "{}", dir.display());
    (full, quick)
}

#[test]
fn every_policy_of_the_repository_loads_the_same_validated() {
    let root = workspace_root();
    let mut dirs = Vec::new();
    for parent in ["test_data/policies", "examples/policies"] {
        for entry in fs::read_dir(root.join(parent)).unwrap() {
            dirs.push(entry.unwrap().path());
        }
    }
    dirs.push(root.join("crates/aecl-cli/tests/claude_code/policy"));
    assert!(dirs.len() > 5);
    for dir in dirs {
        both(&dir);
    }
}

/// The part of a corpus case (`corpus.rs`) a decision needs.
#[derive(Debug, Deserialize)]
struct Case {
    policy: String,
    agent: String,
    goal: Option<String>,
    scope: Option<ScopeFile>,
    #[serde(default)]
    history: Vec<HistoryFile>,
    call: CaseCall,
}

#[derive(Debug, Deserialize)]
struct CaseCall {
    action: String,
    #[serde(default)]
    args: Value,
    agent: Option<String>,
    idempotency_key: Option<String>,
    nonce: Option<String>,
}

fn decide_case(loaded: &LoadedPolicy, case: &Case) -> aecl_core::Verdict {
    let policy = &loaded.policy;
    let run = aecl_policy::run_from_history(
        policy,
        "run",
        &case.agent,
        case.goal.as_deref(),
        case.scope.as_ref(),
        &case.history,
        NOW,
    );
    let call = Call {
        id: "call".to_owned(),
        agent: case.call.agent.clone().unwrap_or_else(|| case.agent.clone()),
        run: "run".to_owned(),
        action: case.call.action.clone(),
        args: case.call.args.clone(),
        idempotency_key: case.call.idempotency_key.clone(),
        nonce: case.call.nonce.clone(),
        scope: Default::default(),
        provenance: Default::default(),
        paths: Default::default(),
    };
    decide(policy, &call, &run, NOW)
}

#[test]
fn every_corpus_case_is_decided_the_same_from_a_validated_load() {
    fn cases(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                cases(&path, out);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    let root = workspace_root();
    let mut paths = Vec::new();
    cases(&root.join("test_data/cases"), &mut paths);
    let mut policies = std::collections::HashMap::new();
    let mut compared = 0;
    for path in paths {
        let case: Case = toml::from_str(&fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (full, quick) = policies
            .entry(case.policy.clone())
            .or_insert_with(|| both(&root.join("test_data/policies").join(&case.policy)));
        assert_eq!(decide_case(full, &case), decide_case(quick, &case), "{}", path.display());
        compared += 1;
    }
    assert!(compared > 100, "{compared} cases");
}

/// A catalog whose action's schema does not compile (`load` refuses it). `load_validated`
/// compiles no argument schema, so given such files against its invariant (as a cache hit
/// could be, were the schema to compile differently in this build) it accepts them: the
/// call of the action must still be blocked, by the schema's failure to compile then.
#[test]
fn a_schema_that_does_not_compile_blocks_its_calls_after_a_validated_load() {
    let files = [
        SourceFile {
            path: "catalog.toml".to_owned(),
            text: "[actions.lookup]\neffect = \"read\"\n\n[actions.lookup.schema]\n\
                   type = \"no-such-type\"\n"
                .to_owned(),
        },
        SourceFile {
            path: "agents/reader.toml".to_owned(),
            text: "agent_id = \"reader\"\nallowed_actions = [\"lookup\"]\n".to_owned(),
        },
    ];
    let refused = load(&files).unwrap_err().to_string();
    assert!(refused.contains("catalog.toml"), "{refused}");
    assert!(refused.contains("invalid JSON Schema"), "{refused}");
    assert!(refused.contains("no-such-type"), "{refused}");

    let loaded = load_validated(&files).unwrap_or_else(|e| panic!("{e}"));
    let case: Case = toml::from_str(
        "policy = \"\"\nagent = \"reader\"\n[call]\naction = \"lookup\"\nargs = { id = \"42\" }\n",
    )
    .unwrap();
    let verdict = decide_case(&loaded, &case);
    assert_eq!(verdict.decision, aecl_core::Decision::Block, "{verdict:?}");
    let reason = verdict.reasons.iter().find(|r| r.rule == "arguments.schema").unwrap();
    assert!(reason.message.contains("`lookup`"), "{}", reason.message);
    assert!(reason.message.contains("no-such-type"), "{}", reason.message);
}
