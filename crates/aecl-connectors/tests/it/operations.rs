//! Connectors do what the catalog says, not what the agent asks: an action's operation is
//! bound by its catalog entry. A call naming another one is blocked by the policy at
//! validation, and, should it reach a connector anyway (a `monitor` policy), refused there
//! with nothing touched. A binding that contradicts the effect does not load, and one the
//! connector cannot honour keeps `aecl serve` from starting.

use std::path::Path;
use std::sync::Arc;

use aecl_connectors::sql::{SqlConfig, SqlConnector};
use aecl_connectors::{Connectors, ConnectorsFile};
use aecl_core::{Decision, RunState, Stage, Timestamp, decide};
use aecl_policy::{PolicyError, SourceFile, load};
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::fs::files;
use crate::{call, execute, failed, policy, registry, succeeded};

/// `(stage, rule, field)` of each reason of the verdict on `action` with `args`.
fn reasons(action: &str, args: Value) -> (Decision, Vec<(Stage, String, Option<String>)>) {
    let verdict = decide(&policy(), &call(action, args), &RunState::new("r1"), Timestamp(0));
    let reasons =
        verdict.reasons.iter().map(|r| (r.stage, r.rule.to_string(), r.field.clone())).collect();
    (verdict.decision, reasons)
}

#[test]
fn a_call_naming_another_operation_is_blocked_at_validation() {
    let mismatch = (Stage::Arguments, "arguments.operation_mismatch".to_owned(), Some("op".into()));
    for (action, args) in [
        ("file_read", json!({ "op": "delete", "path": "a.txt" })),
        ("file_read", json!({ "op": "write", "path": "a.txt", "content": "x" })),
        ("file_read", json!({ "op": "READ", "path": "a.txt" })),
        ("file_read", json!({ "op": ["read", "delete"], "path": "a.txt" })),
        ("file", json!({ "op": "delete", "path": "a.txt" })),
        ("file_delete", json!({ "op": "read", "path": "a.txt" })),
        ("file_move", json!({ "op": "write", "path": "a.txt", "to": "b.txt" })),
        // Bound by effect whatever the connector kind: an SQL read is no place for `op`.
        ("sql_read", json!({ "op": "delete", "query": "SELECT 1" })),
    ] {
        let (decision, reasons) = reasons(action, args.clone());
        assert_eq!(decision, Decision::Block, "{action} {args}");
        assert!(reasons.contains(&mismatch), "{action} {args}: {reasons:?}");
    }
    for (action, args) in [
        ("file_read", json!({ "path": "a.txt" })),
        ("file_read", json!({ "op": "read", "path": "a.txt" })),
        ("file_move", json!({ "op": "move", "path": "a.txt", "to": "b.txt" })),
        // No connector, no binding: `op` is the client's own argument.
        ("unbound", json!({ "op": "delete" })),
    ] {
        let (_, reasons) = reasons(action, args.clone());
        assert!(!reasons.iter().any(|r| r.1 == mismatch.1), "{action} {args}: {reasons:?}");
    }
}

#[tokio::test]
async fn the_fs_connector_does_its_bound_operation_and_refuses_another() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let file = root.join("docs/keep.txt");
    std::fs::write(&file, "keep me").unwrap();
    // What a `monitor` policy would let through: the connector itself refuses.
    for (action, args) in [
        ("file_read", json!({ "op": "delete", "path": "docs/keep.txt" })),
        ("file_read", json!({ "op": "write", "path": "docs/keep.txt", "content": "pwned" })),
        ("file", json!({ "op": "delete", "path": "docs/keep.txt", "content": "pwned" })),
        ("file_delete", json!({ "op": "write", "path": "docs/keep.txt", "content": "pwned" })),
        ("file_move", json!({ "op": "delete", "path": "docs/keep.txt", "to": "gone.txt" })),
    ] {
        let (outcome, _) = execute(&registry, action, args.clone()).await;
        let error = failed(&outcome);
        assert!(error.starts_with("operation_mismatch:"), "{action} {args}: {error}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me", "{action} {args}");
    }
    assert!(!root.join("gone.txt").exists());
    // Without `op`, the bound operation runs: a read reads, whatever else is passed.
    let args = json!({ "path": "docs/keep.txt", "content": "pwned", "to": "gone.txt" });
    let (outcome, _) = execute(&registry, "file_read", args).await;
    assert_eq!(succeeded(&outcome)["content"], "keep me");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// The problems of a policy whose catalog is `catalog`.
fn load_problems(catalog: &str) -> Vec<String> {
    let files = [
        SourceFile { path: "policy.toml".into(), text: "mode = \"enforce\"\n".into() },
        SourceFile {
            path: "agents/ops.toml".into(),
            text: "agent_id = \"ops\"\nallowed_actions = [\"x\"]\n".into(),
        },
        SourceFile { path: "catalog.toml".into(), text: catalog.into() },
    ];
    match load(&files) {
        Ok(_) => Vec::new(),
        Err(PolicyError::Invalid(problems)) => problems.iter().map(|p| p.to_string()).collect(),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn a_binding_that_contradicts_the_effect_is_a_load_error_with_its_place() {
    let problems = load_problems(
        "[actions.x]\neffect = \"read\"\nconnector = \"files\"\noperation = \"delete\"\n",
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("catalog.toml:4:"), "{problems:?}");
    assert!(problems[0].contains("operation `delete`"), "{problems:?}");
    assert!(problems[0].contains("effect `read`"), "{problems:?}");
    for (effect, operation) in
        [("read", "write"), ("read", "move"), ("write", "delete"), ("delete", "read")]
    {
        let reversibility =
            if effect == "read" { "" } else { "reversibility = \"irreversible\"\n" };
        let problems = load_problems(&format!(
            "[actions.x]\neffect = \"{effect}\"\n{reversibility}connector = \"files\"\n\
             operation = \"{operation}\"\n"
        ));
        assert!(
            problems.iter().any(|p| p.contains(&format!("operation `{operation}`"))),
            "{effect} {operation}: {problems:?}"
        );
    }
    let unknown = load_problems("[actions.x]\neffect = \"read\"\noperation = \"truncate\"\n");
    assert!(unknown.iter().any(|p| p.contains("truncate")), "{unknown:?}");
    let stray = load_problems(
        "[actions.x]\neffect = \"send\"\nreversibility = \"irreversible\"\noperation_arg = \"mode\"\n",
    );
    assert!(stray.iter().any(|p| p.contains("`operation_arg` needs an operation")), "{stray:?}");
    assert!(
        load_problems("[actions.x]\neffect = \"write\"\nreversibility = \"irreversible\"\nconnector = \"files\"\noperation = \"move\"\n")
            .is_empty()
    );
}

#[test]
fn an_fs_action_its_connector_cannot_do_keeps_the_policy_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let text = format!(
        "[connectors.files]\nkind = \"fs\"\nroots = [\"{}\"]\nundo_dir = \"undo\"\n",
        root.display()
    );
    let file = ConnectorsFile::parse(&text, "connectors.toml", dir.path()).unwrap();
    let check = |catalog: &str| {
        let files = [
            SourceFile { path: "policy.toml".into(), text: "mode = \"enforce\"\n".into() },
            SourceFile {
                path: "agents/ops.toml".into(),
                text: "agent_id = \"ops\"\nallowed_actions = [\"x\"]\n".into(),
            },
            SourceFile { path: "catalog.toml".into(), text: catalog.into() },
        ];
        let policy = Arc::new(load(&files).unwrap().policy);
        let registry = Connectors::from_config(&file).unwrap();
        registry.check_policy(&policy, "connectors.toml").map_err(|e| e.to_string())
    };
    check("[actions.x]\neffect = \"read\"\nconnector = \"files\"\n").unwrap();
    let error = check(
        "[actions.x]\neffect = \"send\"\nreversibility = \"irreversible\"\nconnector = \"files\"\n",
    )
    .unwrap_err();
    assert!(
        error.contains("connectors.toml") && error.contains("implies no file operation"),
        "{error}"
    );
    let error =
        check("[actions.x]\neffect = \"read\"\nconnector = \"files\"\noperation_arg = \"mode\"\n")
            .unwrap_err();
    assert!(error.contains("`mode`") && error.contains("`op`"), "{error}");
}

#[tokio::test]
async fn a_read_action_on_sql_runs_only_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY); INSERT INTO users VALUES (1);")
        .unwrap();
    let config = SqlConfig { max_rows: 10, ..SqlConfig::new("") };
    let registry = registry(vec![("db", Arc::new(SqlConnector::sqlite(path.clone(), &config)))]);
    for query in [
        "DELETE FROM users",
        "INSERT INTO users VALUES (2)",
        "UPDATE users SET id = 3",
        "DROP TABLE users",
        "WITH gone AS (DELETE FROM users RETURNING id) SELECT * FROM gone",
    ] {
        let (outcome, _) = execute(&registry, "sql_read", json!({ "query": query })).await;
        let error = failed(&outcome);
        assert!(error.starts_with("operation_mismatch:"), "{query}: {error}");
        assert_eq!(count(&path), 1, "{query}");
    }
    let (outcome, _) =
        execute(&registry, "sql_read", json!({ "query": "SELECT id FROM users" })).await;
    assert_eq!(succeeded(&outcome)["rows"], json!([{ "id": 1 }]));
}

fn count(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .unwrap_or(-1)
}
