//! The crash test of the `fs` connector: an engine (this test binary, re-executed as a
//! worker, over the same store, policy and `connectors.toml` as `aecl serve`) dispatches a
//! write that lands and one that never starts, and is killed with SIGKILL before either
//! outcome is recorded. `aecl serve` restarts on its store, reconciles the first as
//! `succeeded` and the second as `failed` (fenced), `aecl rollback` restores the file, and a
//! second reconciliation records nothing.
//!
//! The worker's connector is the real registry wrapped so that it stops after the write
//! (or before the second one) and waits to be killed: a test-side hook, nothing in aecl.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aecl_connectors::{Connectors, ConnectorsFile};
use aecl_core::Call;
use aecl_engine::{
    BoxFuture, Connector, ConnectorOutcome, Engine, EngineConfig, Invocation, SystemClock,
};
use aecl_policy::{SourceFile, load};
use aecl_store::{AuditConfig, SqliteStore};
use rusqlite::Connection;
use serde_json::json;

use crate::serve::{issue, keys, serve};
use crate::{run, temp_dir, write};

const WORKER_ENV: &str = "AECL_RECONCILE_FS_WORKER_DIR";

const CATALOG: &str = r#"
[actions.write_note]
description = "Write a note under the notes folder."
effect = "write"
reversibility = "reversible"
compensation = "undo_file"
connector = "files"

[actions.write_note.schema]
type = "object"
required = ["path", "content"]
additionalProperties = false
properties = { path = { type = "string" }, content = { type = "string" } }

[actions.undo_file]
description = "Undo one write_note effect (called by the rollback engine)."
effect = "write"
reversibility = "irreversible"

[actions.undo_file.approval]
waive_irreversible = "restores a file only if it still holds what the write left"

[actions.undo_file.schema]
type = "object"
required = ["effect"]
additionalProperties = false
properties = { effect = { type = "string" } }
"#;

const AGENT: &str = r#"
agent_id = "ops_agent"
allowed_actions = ["write_note", "undo_file"]
token_ttl_seconds = 900
"#;

const CONNECTORS: &str = r#"
[connectors.files]
kind = "fs"
roots = ["notes"]
undo_dir = "undo"
"#;

/// The real connectors, stopped after the write of call `lands` and before the write of
/// any other call, each time saying so on standard output.
struct StopAround {
    inner: Connectors,
    lands: &'static str,
}

impl Connector for StopAround {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        let call = invocation.call;
        let effect_id = invocation.effect_id;
        Box::pin(async move {
            if call.id == self.lands {
                let outcome = self.inner.execute(invocation).await;
                say(&format!(
                    "LANDED {effect_id} {}",
                    matches!(outcome, ConnectorOutcome::Succeeded { .. })
                ));
            } else {
                say(&format!("DISPATCHED {effect_id}"));
            }
            std::future::pending::<ConnectorOutcome>().await
        })
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

/// Worker mode: the engine over `dir`'s store, two calls, then waiting to be killed.
fn worker(dir: &Path) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let files = [
            SourceFile { path: "policy.toml".into(), text: "mode = \"enforce\"\n".into() },
            SourceFile { path: "agents/ops_agent.toml".into(), text: AGENT.into() },
            SourceFile { path: "catalog.toml".into(), text: CATALOG.into() },
        ];
        let policy = Arc::new(load(&files).unwrap().policy);
        let key = std::fs::read_to_string(dir.join("audit/audit.key")).unwrap();
        let signer = aecl_audit::SignerKey::parse(key.trim()).unwrap();
        let audit = AuditConfig { origin: signer.name().to_owned(), signer, publish: None };
        let store = SqliteStore::open(&dir.join("aecl.db"), audit).unwrap();
        let config = EngineConfig { node: "local".into(), ..EngineConfig::default() };
        let engine =
            Arc::new(Engine::new(Arc::new(store), policy.clone(), Arc::new(SystemClock), config));
        let file = ConnectorsFile::load(&dir.join("connectors.toml")).unwrap();
        let inner = Connectors::from_config(&file).unwrap();
        let connector = Arc::new(StopAround { inner, lands: "c1" });
        let calls = [("c1", "a.txt", "new"), ("c2", "c.txt", "never")];
        let mut tasks = Vec::new();
        for (id, path, content) in calls {
            let (engine, connector) = (engine.clone(), connector.clone());
            let call = Call {
                id: id.into(),
                agent: "ops_agent".into(),
                run: "r1".into(),
                action: "write_note".into(),
                args: json!({ "path": path, "content": content }),
                ..Call::default()
            };
            tasks.push(tokio::spawn(async move {
                let _ = engine.execute(call, connector.as_ref()).await;
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
}

fn effect_state(store: &Path, call_id: &str) -> (String, String, serde_json::Value) {
    let conn = Connection::open(store).unwrap();
    conn.query_row("SELECT id, state, result FROM effects WHERE call_id = ?1", [call_id], |r| {
        let result: String = r.get(2)?;
        Ok((r.get(0)?, r.get(1)?, serde_json::from_str(&result).unwrap()))
    })
    .unwrap()
}

#[test]
fn an_fs_write_killed_before_its_outcome_is_reconciled_at_restart_and_rolled_back() {
    if let Ok(dir) = std::env::var(WORKER_ENV) {
        return worker(Path::new(&dir));
    }
    let dir = temp_dir();
    let d = dir.path();
    keys(d);
    write(d, "policy/policy.toml", "mode = \"enforce\"\n");
    write(d, "policy/catalog.toml", CATALOG);
    write(d, "policy/agents/ops_agent.toml", AGENT);
    let connectors = write(d, "connectors.toml", CONNECTORS).display().to_string();
    let notes = d.join("notes");
    write(d, "notes/a.txt", "old");

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "reconcile_fs::an_fs_write_killed_before_its_outcome_is_reconciled_at_restart_and_rolled_back",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WORKER_ENV, d)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (told, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = told.send(line);
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = heard.recv_timeout(Duration::from_secs(120)).expect("the worker's calls");
        // The harness prints the test's name before the worker's first line, on that line.
        if let Some(at) = line.find("LANDED ").or_else(|| line.find("DISPATCHED ")) {
            seen.push(line[at..].to_owned());
        }
    }
    child.kill().unwrap(); // SIGKILL, with both effects dispatched and no outcome recorded
    child.wait().unwrap();
    assert!(seen.iter().any(|l| l.starts_with("LANDED") && l.ends_with("true")), "{seen:?}");
    assert_eq!(std::fs::read_to_string(notes.join("a.txt")).unwrap(), "new");
    assert!(!notes.join("c.txt").exists());
    let store = d.join("aecl.db");
    assert_eq!(effect_state(&store, "c1").1, "dispatched");
    assert_eq!(effect_state(&store, "c2").1, "dispatched");

    // The restart recovers and reconciles before it listens.
    let policy = d.join("policy").display().to_string();
    let (_server, address) = serve(d, &policy, &["--connectors", &connectors]);
    let (written, state, result) = effect_state(&store, "c1");
    assert_eq!(state, "succeeded", "{result}");
    assert_eq!(result["evidence"]["intent"], "found", "{result}");
    let (never, state, result) = effect_state(&store, "c2");
    assert_eq!(state, "failed", "{result}");
    assert_eq!(result["evidence"]["fence"], "written", "{result}");

    let approver = write(d, "alice.token", &issue(d, &["--approver", "alice"]));
    let server_url = format!("http://{address}");
    let token_file = approver.display().to_string();
    let base = ["--server", server_url.as_str(), "--token-file", token_file.as_str()];
    let out = run(["rollback", written.as_str()].iter().chain(&base));
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with(&format!("restored {written}")), "{out:#?}");
    assert_eq!(std::fs::read_to_string(notes.join("a.txt")).unwrap(), "old");
    let out = run(["rollback", never.as_str()].iter().chain(&base));
    assert!(out.stdout.starts_with(&format!("nothing_to_undo {never}")), "{out:#?}");
    assert!(!notes.join("c.txt").exists(), "the fenced write never happened");

    let out = run(["effects", "reconcile"].iter().chain(&base));
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim(), "nothing to reconcile", "{out:#?}");

    let path = |name: &str| d.join(name).display().to_string();
    let out = run(["audit", "verify", "--db", &path("aecl.db"), "--key", &path("audit/audit.pub")]);
    assert_eq!(out.code, Some(0), "{out:#?}");
}
