//! The connectors act only on what the policy judged, end to end through `aecl serve`:
//! it refuses to start with SQL rules off the connector's `statement_arg` (the red team's
//! F4) or in a dialect its database does not read (F1); a move's destination is judged
//! by the rules of its source (F4b); a hard link to a file outside the root is not read
//! (F6); a statement sqlparser would print otherwise is not run (F3).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::rollback::http;
use crate::serve::{Running, issue, keys, serve};
use crate::{aecl, temp_dir, write};

/// A policy of `catalog` whose agent `a` may call `actions`, in `dir/policy`.
fn policy(dir: &Path, catalog: &str, actions: &[&str]) -> String {
    let policy = dir.join("policy");
    let allowed: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    write(&policy, "policy.toml", "mode = \"enforce\"\n");
    write(&policy, "catalog.toml", catalog);
    write(
        &policy,
        "agents/a.toml",
        &format!("agent_id = \"a\"\nallowed_actions = [{}]\n", allowed.join(", ")),
    );
    policy.display().to_string()
}

/// `aecl serve` that is expected to refuse to start: its standard error. One that starts
/// instead is stopped, and the test fails rather than wait for it.
fn refused_start(dir: &Path, policy: &str, connectors: &Path) -> String {
    let path = |name: &str| dir.join(name).display().to_string();
    let log = dir.join("refused.log");
    let child = aecl()
        .args(["serve", "--policy", policy, "--db", &path("aecl.db"), "--listen", "127.0.0.1:0"])
        .args(["--key", &path("audit/audit.key"), "--token-key", &path("tokens/audit.pub")])
        .args(["--connectors", &connectors.display().to_string()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawning aecl serve");
    let mut server = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "aecl serve started: the policy was taken");
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    stderr
}

fn execute(address: &str, token: &str, id: &str, action: &str, args: Value) -> Value {
    let call = json!({ "run": "r1", "id": id, "action": action, "args": args });
    let (status, answer) = http(address, "/v1/execute", token, &[], &call);
    assert_eq!(status, 200, "{answer}");
    answer
}

const RUN_SQL: &str = r#"
[actions.run_sql]
description = "Run SQL"
effect = "write"
reversibility = "irreversible"
connector = "db"

[actions.run_sql.approval]
waive_irreversible = "test"
"#;

#[test]
fn serve_refuses_sql_rules_off_the_statement_or_in_another_dialect() {
    let dir = temp_dir();
    keys(dir.path());
    Connection::open(dir.path().join("app.db"))
        .unwrap()
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY);")
        .unwrap();
    let connectors = write(
        dir.path(),
        "connectors.toml",
        "[connectors.db]\nkind = \"sql\"\ndatabase = \"app.db\"\n",
    );

    let off = format!(
        "{RUN_SQL}[actions.run_sql.args.sql.sql]\ndialect = \"sqlite\"\nallow = [\"select\"]\n"
    );
    let stderr = refused_start(dir.path(), &policy(dir.path(), &off, &["run_sql"]), &connectors);
    for part in ["connectors.toml", "`run_sql`", "`args.sql`", "`args.query` (`statement_arg`)"] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }

    let mysql = format!(
        "{RUN_SQL}[actions.run_sql.args.query.sql]\ndialect = \"mysql\"\nallow = [\"select\"]\n"
    );
    let stderr = refused_start(dir.path(), &policy(dir.path(), &mysql, &["run_sql"]), &connectors);
    for part in [
        "connectors.toml",
        "`[actions.run_sql.args.query.sql]`",
        "dialect `mysql`",
        "`dialect = \"sqlite\"`",
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
}

const FILES: &str = r#"
[actions.write_doc]
description = "write"
effect = "write"
reversibility = "irreversible"
connector = "files"

[actions.write_doc.approval]
waive_irreversible = "t"

[actions.write_doc.args.path]
path_glob = { block = ["*/.git/*"] }

[actions.move_doc]
description = "move"
effect = "write"
operation = "move"
reversibility = "irreversible"
connector = "files"

[actions.move_doc.approval]
waive_irreversible = "t"

[actions.move_doc.args.path]
path_glob = { block = ["*/.git/*"] }

[actions.read_doc]
description = "read"
effect = "read"
connector = "files"

[actions.q]
description = "read"
effect = "read"
connector = "db"

[actions.q.args.query.sql]
dialect = "sqlite"
allow = ["select"]
"#;

#[test]
fn moves_hard_links_and_reprinted_statements_act_only_on_what_was_judged() {
    let dir = temp_dir();
    keys(dir.path());
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
    std::fs::create_dir_all(dir.path().join("outside")).unwrap();
    std::fs::write(dir.path().join("outside/secret"), "TOP-SECRET-OUTSIDE").unwrap();
    std::fs::hard_link(dir.path().join("outside/secret"), ws.join("hl")).unwrap();
    Connection::open(dir.path().join("app.db"))
        .unwrap()
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (16);")
        .unwrap();
    let connectors = write(
        dir.path(),
        "connectors.toml",
        &format!(
            "[connectors.files]\nkind = \"fs\"\nroots = [\"{}\"]\nundo_dir = \"undo\"\n\
             [connectors.db]\nkind = \"sql\"\ndatabase = \"app.db\"\n",
            ws.display()
        ),
    );
    let actions = ["write_doc", "move_doc", "read_doc", "q"];
    let policy = policy(dir.path(), FILES, &actions);
    let token = issue(dir.path(), &["--agent", "a", "--policy", &policy]);
    let connectors = connectors.display().to_string();
    let (_server, address) = serve(dir.path(), &policy, &["--connectors", &connectors]);

    // F4b: the write into `.git` is blocked by the policy; the move there, by the rules of
    // its source applied to its destination.
    let script = json!({ "path": "x.sh", "content": "#!/bin/sh\nid\n" });
    let written = execute(&address, &token, "c1", "write_doc", script);
    assert_eq!(written["effect"]["state"], "succeeded", "{written}");
    let args = json!({ "path": "x.sh", "to": ".git/hooks/pre-commit" });
    let moved = execute(&address, &token, "c2", "move_doc", args);
    assert_eq!(moved["effect"]["state"], "failed", "{moved}");
    let error = moved["effect"]["error"].as_str().unwrap();
    assert!(error.starts_with("blocked:") && error.contains("`args.to`"), "{moved}");
    assert!(!ws.join(".git/hooks/pre-commit").exists() && ws.join("x.sh").is_file());

    // F6: the hard link is not read.
    let read = execute(&address, &token, "c3", "read_doc", json!({ "path": "hl" }));
    assert_eq!(read["effect"]["state"], "failed", "{read}");
    assert!(!read.to_string().contains("TOP-SECRET"), "{read}");

    // F3: `0x10` would have run as the blob `X'10'`.
    let query = json!({ "query": "SELECT count(*) AS v FROM t WHERE id = 0x10" });
    let answer = execute(&address, &token, "c4", "q", query);
    assert_eq!(answer["effect"]["state"], "failed", "{answer}");
    assert!(answer["effect"]["error"].as_str().unwrap().contains("`0x10`"), "{answer}");
}
