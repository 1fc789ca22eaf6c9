//! The policy's rules are on the arguments each connector really reads, in the dialect its
//! database reads: a policy otherwise is refused when checked against `connectors.toml`
//! (as `aecl serve` does at start-up and at a reload), and a call under one that was never
//! checked fails before anything runs. A move's destination is judged by the rules of its
//! source. The red team's F1 (dialect), F4 (`statement_arg`) and F4b (`to`).

use std::path::Path;
use std::sync::Arc;

use aecl_connectors::{Connectors, ConnectorsFile};
use aecl_core::policy::Policy;
use aecl_policy::{SourceFile, load};
use rusqlite::Connection;
use serde_json::json;

use crate::{Registry, execute, failed, succeeded};

/// A policy of `catalog`, every action of it allowed to agent `ops`.
fn policy(catalog: &str, actions: &[&str]) -> Arc<Policy> {
    let allowed: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    let files = [
        SourceFile { path: "policy.toml".into(), text: "mode = \"enforce\"\n".into() },
        SourceFile {
            path: "agents/ops.toml".into(),
            text: format!("agent_id = \"ops\"\nallowed_actions = [{}]\n", allowed.join(", ")),
        },
        SourceFile { path: "catalog.toml".into(), text: catalog.into() },
    ];
    match load(&files) {
        Ok(loaded) => Arc::new(loaded.policy),
        Err(e) => panic!("the test policy does not load: {e:?}"),
    }
}

/// The registry of `connectors` (a `connectors.toml` in `dir`) over `catalog`.
fn bound(dir: &Path, connectors: &str, catalog: &str, actions: &[&str]) -> Registry {
    let file = ConnectorsFile::parse(connectors, "connectors.toml", dir).unwrap();
    Registry {
        connectors: Connectors::from_config(&file).unwrap(),
        policy: policy(catalog, actions),
    }
}

/// `check_policy`'s answer, as `aecl serve` would print it.
fn checked(registry: &Registry) -> Result<(), String> {
    registry.check_policy(&registry.policy, "connectors.toml").map_err(|e| e.to_string())
}

fn sqlite(dir: &Path) -> String {
    let path = dir.join("app.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2);")
        .unwrap();
    format!("[connectors.db]\nkind = \"sql\"\ndatabase = \"{}\"\n", path.display())
}

fn rows(dir: &Path) -> i64 {
    Connection::open(dir.join("app.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
        .unwrap()
}

const SQL_ACTION: &str = "[actions.run_sql]\neffect = \"write\"\nreversibility = \
                          \"irreversible\"\nconnector = \"db\"\n[actions.run_sql.approval]\n\
                          waive_irreversible = \"test\"\n";

fn sql_rules(arg: &str, dialect: Option<&str>) -> String {
    let dialect = dialect.map(|d| format!("dialect = \"{d}\"\n")).unwrap_or_default();
    format!("{SQL_ACTION}[actions.run_sql.args.{arg}.sql]\n{dialect}allow = [\"select\"]\n")
}

/// F1: SQL rules judged in another dialect than the one the database reads are refused,
/// naming the connectors file, the action, the field and the dialect to write; `generic`
/// and the backend's own are taken.
#[test]
fn sql_rules_in_a_dialect_the_database_does_not_read_keep_the_policy_out() {
    let dir = tempfile::tempdir().unwrap();
    let on_sqlite = sqlite(dir.path());
    let on_postgres =
        "[connectors.db]\nkind = \"sql\"\ndatabase = \"postgres://aecl@127.0.0.1:1/none\"\n";
    for (connectors, dialect, expected) in [
        (on_sqlite.as_str(), "mysql", "sqlite"),
        (on_sqlite.as_str(), "postgres", "sqlite"),
        (on_postgres, "sqlite", "postgres"),
        (on_postgres, "mysql", "postgres"),
    ] {
        let catalog = sql_rules("query", Some(dialect));
        let error =
            checked(&bound(dir.path(), connectors, &catalog, &["run_sql"])).expect_err(dialect);
        for part in [
            "connectors.toml",
            "`run_sql`",
            "`[actions.run_sql.args.query.sql]`",
            &format!("dialect `{dialect}`"),
            &format!("`dialect = \"{expected}\"`"),
        ] {
            assert!(error.contains(part), "{dialect} over {expected}: {part}: {error}");
        }
    }
    for (connectors, dialect) in [
        (on_sqlite.as_str(), Some("sqlite")),
        (on_sqlite.as_str(), Some("generic")),
        (on_sqlite.as_str(), None),
        (on_postgres, Some("postgres")),
        (on_postgres, Some("postgresql")),
        (on_postgres, None),
    ] {
        let catalog = sql_rules("query", dialect);
        checked(&bound(dir.path(), connectors, &catalog, &["run_sql"]))
            .unwrap_or_else(|e| panic!("{dialect:?}: {e}"));
    }
}

/// F1 at dispatch: under a policy never checked, a statement judged in another dialect
/// does not run.
#[tokio::test]
async fn a_call_judged_in_another_dialect_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = sql_rules("query", Some("mysql"));
    let registry = bound(dir.path(), &sqlite(dir.path()), &catalog, &["run_sql"]);
    let (outcome, _) =
        execute(&registry, "run_sql", json!({ "query": "DELETE FROM t WHERE id = 1" })).await;
    let error = failed(&outcome);
    assert!(error.starts_with("not_configured:") && error.contains("dialect `mysql`"), "{error}");
    assert_eq!(rows(dir.path()), 2);
}

/// F4: SQL rules on `sql` while the connector runs `query` are refused, naming both and
/// the two ways out; a call under such a policy never checked runs nothing.
#[tokio::test]
async fn sql_rules_off_the_statement_argument_keep_the_policy_out_and_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = sql_rules("sql", Some("sqlite"));
    let connectors = sqlite(dir.path());
    let registry = bound(dir.path(), &connectors, &catalog, &["run_sql"]);
    let error = checked(&registry).unwrap_err();
    for part in
        ["`run_sql`", "`args.sql`", "`args.query` (`statement_arg`)", "statement_arg = \"sql\""]
    {
        assert!(error.contains(part), "{part}: {error}");
    }
    let args = json!({ "sql": "SELECT 1", "query": "DELETE FROM t" });
    let (outcome, _) = execute(&registry, "run_sql", args).await;
    assert!(failed(&outcome).starts_with("not_configured:"), "{outcome:?}");
    assert_eq!(rows(dir.path()), 2, "nothing was deleted");

    // The connector reading `sql`, the same policy is taken and runs what it judged.
    let moved = format!("{connectors}statement_arg = \"sql\"\n");
    let moved = bound(dir.path(), &moved, &catalog, &["run_sql"]);
    checked(&moved).unwrap();
    let (outcome, _) =
        execute(&moved, "run_sql", json!({ "sql": "SELECT count(*) AS n FROM t" })).await;
    assert_eq!(succeeded(&outcome)["rows"], json!([{ "n": 2 }]));
    // Rules on a nested field are not on the statement either.
    let nested =
        format!("{SQL_ACTION}[actions.run_sql.args.\"query.text\".sql]\nallow = [\"select\"]\n");
    let error = checked(&bound(dir.path(), &connectors, &nested, &["run_sql"]));
    assert!(error.is_err_and(|e| e.contains("`args.query.text`")));
}

/// An action with no SQL rules at all says nothing about statements: it is taken, as
/// before (the connector's own refusals, undo and `read` bound still hold).
#[test]
fn an_sql_action_without_sql_rules_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    checked(&bound(dir.path(), &sqlite(dir.path()), SQL_ACTION, &["run_sql"])).unwrap();
}

fn files(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("ws/.git/hooks")).unwrap();
    format!(
        "[connectors.files]\nkind = \"fs\"\nroots = [\"{}\"]\nundo_dir = \"{}\"\n",
        dir.join("ws").display(),
        dir.join("undo").display()
    )
}

fn fs_action(name: &str, operation: &str, rules: &str) -> String {
    format!(
        "[actions.{name}]\neffect = \"write\"\noperation = \"{operation}\"\nreversibility = \
         \"irreversible\"\nconnector = \"files\"\n[actions.{name}.approval]\n\
         waive_irreversible = \"test\"\n{rules}"
    )
}

/// Path rules only on arguments the fs connector does not read are refused.
#[test]
fn path_rules_off_the_path_arguments_keep_the_policy_out() {
    let dir = tempfile::tempdir().unwrap();
    let rules = "[actions.w.args.file]\npath_glob = { block = [\"*/.git/*\"] }\n";
    let catalog = fs_action("w", "write", rules);
    let error = checked(&bound(dir.path(), &files(dir.path()), &catalog, &["w"])).unwrap_err();
    assert!(error.contains("`args.file`") && error.contains("`args.path` (`path_arg`)"), "{error}");
    // A move reads `to` too: rules there alone are on an argument it reads.
    let rules = "[actions.m.args.to]\npath_glob = { block = [\"*/.git/*\"] }\n";
    let catalog = fs_action("m", "move", rules);
    checked(&bound(dir.path(), &files(dir.path()), &catalog, &["m"])).unwrap();
}

/// F4b: `path_glob.block` on `path` keeps a move's destination out of `.git` as it keeps
/// the source; the move is refused before anything moves. A destination with the same
/// rules, even one that needs an approval, moves (the decision asked for it).
#[tokio::test]
async fn a_move_is_judged_by_the_rules_of_its_source_at_its_destination() {
    let dir = tempfile::tempdir().unwrap();
    let source = "[actions.m.args.path]\npath_glob = { block = [\"*/.git/*\"], require_approval \
                  = [\"*.md\"] }\n";
    let catalog = fs_action("m", "move", source);
    let registry = bound(dir.path(), &files(dir.path()), &catalog, &["m"]);
    checked(&registry).unwrap();
    let ws = dir.path().join("ws");
    std::fs::write(ws.join("x.sh"), "#!/bin/sh\nid\n").unwrap();
    let hook = ws.join(".git/hooks/pre-commit");
    for to in [hook.display().to_string(), ws.join("notes.md").display().to_string()] {
        let args = json!({ "path": ws.join("x.sh"), "to": to });
        let (outcome, _) = execute(&registry, "m", args).await;
        let error = failed(&outcome);
        assert!(error.starts_with("blocked:") && error.contains("`args.to`"), "{to}: {error}");
    }
    assert!(!hook.exists() && ws.join("x.sh").exists(), "nothing was moved");
    let args = json!({ "path": ws.join("x.sh"), "to": ws.join("y.sh") });
    succeeded(&execute(&registry, "m", args).await.0);

    // The same rules on `to`: what needs an approval was approved, so it moves; what
    // they block is still refused.
    let both = format!(
        "{source}[actions.m.args.to]\npath_glob = {{ block = [\"*/.git/*\"], require_approval = [\"*.md\"] }}\n"
    );
    let catalog = fs_action("m", "move", &both);
    let registry = bound(dir.path(), &files(dir.path()), &catalog, &["m"]);
    let args = json!({ "path": ws.join("y.sh"), "to": ws.join("notes.md") });
    succeeded(&execute(&registry, "m", args).await.0);
    assert!(ws.join("notes.md").exists());
}

/// The URL and the command: `url_hosts` and shell rules off the arguments the http,
/// webhook and shell connectors read are refused; a webhook with a fixed `url` reads none.
#[test]
fn url_and_command_rules_off_the_arguments_read_keep_the_policy_out() {
    let dir = tempfile::tempdir().unwrap();
    let connectors = "[connectors.api]\nkind = \"http\"\nallow_hosts = [\"api.example.com\"]\n\
                      [connectors.hook]\nkind = \"webhook\"\nallow_hosts = [\"hooks.example.com\"]\n\
                      [connectors.fixed]\nkind = \"webhook\"\nurl = \"https://hooks.example.com/x\"\n\
                      allow_hosts = [\"hooks.example.com\"]\n\
                      [connectors.sh]\nkind = \"shell\"\nwarm = 0\n";
    let action = |name: &str, connector: &str, arg: &str, rule: &str| {
        format!(
            "[actions.{name}]\neffect = \"send\"\nreversibility = \"irreversible\"\nconnector = \
             \"{connector}\"\n[actions.{name}.approval]\nwaive_irreversible = \"test\"\n\
             [actions.{name}.args.{arg}]\n{rule}\n"
        )
    };
    let hosts = "url_hosts = [\"api.example.com\"]";
    let shell = "shell = { block = [\"sudo\"] }";
    for (connector, wrong, right, key, rule) in [
        ("api", "target", "url", "url_arg", hosts),
        ("hook", "target", "url", "url_arg", hosts),
        ("sh", "cmd", "command", "command_arg", shell),
    ] {
        let catalog = action("a", connector, wrong, rule);
        let error = checked(&bound(dir.path(), connectors, &catalog, &["a"])).unwrap_err();
        let target = format!("`args.{right}` (`{key}`)");
        assert!(error.contains(&format!("`args.{wrong}`")) && error.contains(&target), "{error}");
        let catalog = action("a", connector, right, rule);
        checked(&bound(dir.path(), connectors, &catalog, &["a"]))
            .unwrap_or_else(|e| panic!("{connector}: {e}"));
    }
    let catalog = action("a", "fixed", "callback", hosts);
    checked(&bound(dir.path(), connectors, &catalog, &["a"])).unwrap();
}
