//! `load_compiled` (the hook's policy cache) builds the policy `load` builds: for every
//! policy directory of the repository, from the compiled form `load` made (through its JSON
//! text, as the hook keeps it), the same revision, agents, actions and rules; and every case
//! of the decision corpus gets the same verdict from either. A compiled form that is not the
//! files' (other files, an altered rule, another revision) is refused, never loaded.

use std::fs;
use std::path::{Path, PathBuf};

use aecl_core::{Call, Timestamp, decide};
use aecl_policy::format::{HistoryFile, ScopeFile};
use aecl_policy::{Compiled, LoadedPolicy, SourceFile, load, load_compiled};
use serde::Deserialize;
use serde_json::Value;

use crate::corpus::{policy_files, workspace_root};

const NOW: Timestamp = Timestamp(1_700_000_000_000);

/// `compiled` as the hook keeps it: through its JSON text.
fn kept(compiled: &Compiled) -> Compiled {
    let text = serde_json::to_string(compiled).expect("serialised");
    assert!(!text.contains('\n'), "one line");
    serde_json::from_str(&text).expect("read back")
}

/// Both loads of `dir`, checked to agree on everything but the compiled objects.
fn both(dir: &Path) -> (LoadedPolicy, LoadedPolicy) {
    let files = policy_files(dir);
    let full = load(&files).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let compiled = kept(&full.compiled);
    let quick = load_compiled(&files, compiled.clone())
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert_eq!(quick.compiled, compiled, "{}", dir.display());
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
fn every_policy_of_the_repository_loads_the_same_compiled() {
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
fn every_corpus_case_is_decided_the_same_from_a_compiled_load() {
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

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile { path: path.to_owned(), text: text.to_owned() }
}

const CATALOG: &str = "[actions.lookup]\neffect = \"read\"\n\n[actions.lookup.schema]\n\
                       type = \"object\"\nproperties = { id = { type = \"string\" } }\n";
const AGENT: &str = "agent_id = \"reader\"\nallowed_actions = [\"lookup\"]\n";
const RULE: &str = "@id(\"big\")\nforbid (principal, action, resource)\n\
                    when { context.args has id && context.args.id like \"*secret*\" };\n";

fn files(catalog: &str, rule: &str) -> Vec<SourceFile> {
    vec![
        file("agents/reader.toml", AGENT),
        file("catalog.toml", catalog),
        file("rules.cedar", rule),
    ]
}

/// The problems of a refused load, as text.
fn refused(files: &[SourceFile], compiled: Compiled) -> String {
    match load_compiled(files, compiled) {
        Ok(loaded) => panic!("loaded as {}", loaded.policy.revision.0),
        Err(e) => e.to_string(),
    }
}

/// The compiled form of one policy given with another policy's files: another catalog
/// (here one whose schema does not even compile, which `load` refuses), another rule, a
/// file more or less, a file renamed. Each is refused: the files are not the ones the form
/// was made from.
#[test]
fn a_compiled_form_of_other_files_is_refused() {
    let compiled = load(&files(CATALOG, RULE)).unwrap().compiled;
    let broken_schema = CATALOG.replace("\"object\"", "\"no-such-type\"");
    assert!(load(&files(&broken_schema, RULE)).is_err());
    let message = refused(&files(&broken_schema, RULE), compiled.clone());
    assert!(message.contains("other files"), "{message}");
    // The rule's text is not parsed, but its bytes are part of the digest.
    let other_rule = RULE.replace("secret", "public");
    let message = refused(&files(CATALOG, &other_rule), compiled.clone());
    assert!(message.contains("other files"), "{message}");
    let mut more = files(CATALOG, RULE);
    more.push(file("agents/other.toml", "agent_id = \"other\"\nallowed_actions = []\n"));
    assert!(refused(&more, compiled.clone()).contains("other files"));
    let fewer = &files(CATALOG, RULE)[..2];
    assert!(refused(fewer, compiled.clone()).contains("other files"));
    let mut renamed = files(CATALOG, RULE);
    renamed[2].path = "other.cedar".to_owned();
    assert!(refused(&renamed, compiled.clone()).contains("other files"));
    // The same files load.
    let loaded = load_compiled(&files(CATALOG, RULE), compiled).unwrap();
    assert!(loaded.policy.rules.is_some());
}

/// A compiled form altered where it is kept: a rule changed (its text), one more, its label, a
/// file's kind, its revision, the digest of its files. Each is refused: what is evaluated
/// and what a finding names are in the revision computed again; a wrong kind fails the
/// typed parse or the revision.
#[test]
fn an_altered_compiled_form_is_refused() {
    let files = files(CATALOG, RULE);
    let full = load(&files).unwrap();
    let text = serde_json::to_string(&full.compiled).unwrap();
    let altered = [
        ("the rule's pattern", text.replace("*secret*", "*nothing*")),
        ("the rule's effect", text.replace("forbid(", "permit(")),
        ("a rule more", text.replace(r#"};"}]"#, r#"};\nforbid(principal, action, resource);"}]"#)),
        ("the rule's label", text.replace("\"big\"", "\"small\"")),
        ("a file's kind", text.replace("\"catalog\"", "\"tests\"")),
        ("the revision", text.replace(&full.policy.revision.0, &"0".repeat(64))),
        ("the digest", {
            let mut value: Value = serde_json::from_str(&text).unwrap();
            value["sources"] = Value::String("0".repeat(64));
            value.to_string()
        }),
    ];
    for (what, text) in altered {
        assert_ne!(text, serde_json::to_string(&full.compiled).unwrap(), "{what}");
        let compiled: Compiled = serde_json::from_str(&text).unwrap();
        match load_compiled(&files, compiled) {
            Ok(loaded) => panic!("{what}: loaded as {}", loaded.policy.revision.0),
            Err(e) => assert!(!e.to_string().is_empty(), "{what}"),
        }
    }
    // Unknown fields are not read past.
    let extra = text.replacen('{', "{\"extra\":1,", 1);
    assert!(serde_json::from_str::<Compiled>(&extra).is_err());
}
