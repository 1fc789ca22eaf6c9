//! An action's operation is its catalog entry's, end to end through `aecl serve` and the
//! `fs` connector: an action declared `read` reads, and a call passing `op: "delete"` or
//! `op: "write"` is blocked at validation (`arguments.operation_mismatch`) with the file
//! untouched. Under a `monitor` manifest, which lets blocked calls run, the connector
//! itself refuses the other operation: the file is still untouched.

use std::path::Path;

use serde_json::{Value, json};

use crate::rollback::http;
use crate::serve::{issue, keys, serve};
use crate::{temp_dir, write};

const CATALOG: &str = r#"
[actions.read_file]
description = "Read one file of the shared folder."
effect = "read"
connector = "files"

[actions.read_file.output]
trust = "trusted"
"#;

const READER: &str = r#"
agent_id = "reader"
allowed_actions = ["read_file"]
"#;

const WATCHED: &str = r#"
agent_id = "watched"
mode = "monitor"
allowed_actions = ["read_file"]
"#;

/// `DIR/connectors.toml`: one `fs` connector, `files`, rooted at `root`, keeping undo records.
pub(crate) fn fs_connectors(dir: &Path, root: &Path) -> std::path::PathBuf {
    let text = format!(
        "[connectors.files]\nkind = \"fs\"\nroots = [\"{}\"]\nundo_dir = \"undo\"\n",
        root.display()
    );
    write(dir, "connectors.toml", &text)
}

fn execute(address: &str, token: &str, id: &str, args: Value) -> Value {
    let call = json!({ "run": format!("run-{id}"), "id": id, "action": "read_file", "args": args });
    let (status, answer) = http(address, "/v1/execute", token, &[], &call);
    assert_eq!(status, 200, "{answer}");
    answer
}

fn policy(dir: &Path) -> (String, String) {
    let policy = dir.join("policy");
    write(&policy, "policy.toml", "mode = \"enforce\"\n");
    write(&policy, "catalog.toml", CATALOG);
    write(&policy, "agents/reader.toml", READER);
    write(&policy, "agents/watched.toml", WATCHED);
    let root = dir.join("shared");
    std::fs::create_dir_all(&root).unwrap();
    let connectors = fs_connectors(dir, &root);
    (policy.display().to_string(), connectors.display().to_string())
}

#[test]
fn a_read_action_never_deletes_or_writes_whatever_op_the_agent_passes() {
    let dir = temp_dir();
    keys(dir.path());
    let (policy, connectors) = policy(dir.path());
    let file = dir.path().join("shared/notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let reader = issue(dir.path(), &["--agent", "reader", "--policy", &policy]);
    let watched = issue(dir.path(), &["--agent", "watched", "--policy", &policy]);
    let (_server, address) = serve(dir.path(), &policy, &["--connectors", &connectors]);

    let read = execute(&address, &reader, "c1", json!({ "path": "notes.txt" }));
    assert_eq!(read["decision"], "allow", "{read}");
    assert_eq!(read["effect"]["result"]["content"], "keep me", "{read}");

    for (id, args) in [
        ("c2", json!({ "op": "delete", "path": "notes.txt" })),
        ("c3", json!({ "op": "write", "path": "notes.txt", "content": "pwned" })),
    ] {
        let answer = execute(&address, &reader, id, args.clone());
        assert_eq!(answer["decision"], "block", "{answer}");
        let reasons = answer["reasons"].as_array().unwrap();
        let mismatch = reasons
            .iter()
            .find(|r| r["rule"] == "arguments.operation_mismatch")
            .unwrap_or_else(|| panic!("no operation_mismatch reason: {answer}"));
        assert_eq!(mismatch["stage"], "arguments", "{answer}");
        let op = args["op"].as_str().unwrap();
        let message = mismatch["message"].as_str().unwrap();
        assert!(message.contains("`read`") && message.contains(op), "{answer}");
        assert!(answer.get("effect").is_none_or(Value::is_null), "nothing ran: {answer}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me", "{args}");
    }

    // Monitor mode records the block and lets the call through: the connector refuses.
    let answer = execute(&address, &watched, "c4", json!({ "op": "delete", "path": "notes.txt" }));
    assert_eq!(answer["effect"]["state"], "failed", "{answer}");
    let error = answer["effect"]["error"].as_str().unwrap();
    assert!(error.starts_with("operation_mismatch:"), "{answer}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    assert!(dir.path().join("shared/notes.txt").is_file());
}

pub(crate) const WRITER_CATALOG: &str = r#"
[actions.write_note]
description = "Write a note under the shared folder."
effect = "write"
reversibility = "reversible"
compensation = "undo_file"
connector = "files"

[actions.write_note.args.path]
path_under = ["ROOT"]

[actions.undo_file]
description = "Undo one write_note effect (called by the rollback engine)."
effect = "write"
reversibility = "irreversible"

[actions.undo_file.approval]
waive_irreversible = "restores a file only if it still holds what the write left"
"#;

pub(crate) const WRITER: &str = r#"
agent_id = "writer"
allowed_actions = ["write_note", "undo_file"]
"#;

/// Issue #19: the server resolves the path arguments of a call its `fs` connector runs on
/// the filesystem it acts on, before deciding. `shared/outlink -> outside`: a write to
/// `outlink/x` (relative, as the connector takes it from its first root, or absolute) is
/// blocked at decision by `path_under`, naming where it really points, whatever
/// resolutions the client claims; a write inside the root is allowed and runs.
#[test]
fn a_write_through_a_link_out_of_the_root_is_blocked_before_the_connector_runs() {
    let dir = temp_dir();
    keys(dir.path());
    let root = dir.path().join("shared");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("outlink")).unwrap();
    let policy = dir.path().join("policy");
    write(&policy, "policy.toml", "mode = \"enforce\"\n");
    let catalog = WRITER_CATALOG.replace("ROOT", &root.display().to_string());
    write(&policy, "catalog.toml", &catalog);
    write(&policy, "agents/writer.toml", WRITER);
    let connectors = fs_connectors(dir.path(), &root);
    let policy = policy.display().to_string();
    let connectors = connectors.display().to_string();
    let writer = issue(dir.path(), &["--agent", "writer", "--policy", &policy]);
    let (_server, address) = serve(dir.path(), &policy, &["--connectors", &connectors]);
    let absolute = root.join("outlink/x").display().to_string();
    // The client claims the link stays inside; the server's own resolution replaces it.
    let lie = json!({ "outlink/x": { "path": root.join("x").display().to_string() } });

    for (id, path, claimed) in [
        ("w1", "outlink/x", Value::Null),
        ("w2", absolute.as_str(), Value::Null),
        ("w3", "outlink/x", lie),
        ("w4", "sub/../outlink/x", Value::Null),
    ] {
        let mut call = json!({
            "run": "run-links", "id": id, "action": "write_note",
            "args": { "path": path, "content": "pwned" },
        });
        if !claimed.is_null() {
            call["resolved_paths"] = claimed;
        }
        let (status, answer) = http(&address, "/v1/execute", &writer, &[], &call);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["decision"], "block", "{path}: {answer}");
        let reasons = answer["reasons"].as_array().unwrap();
        let reason = reasons
            .iter()
            .find(|r| r["rule"] == "arguments.path_under")
            .unwrap_or_else(|| panic!("{path}: no path_under reason: {answer}"));
        let message = reason["message"].as_str().unwrap();
        let resolved = outside.join("x").display().to_string();
        assert!(message.contains(&resolved) && message.contains("symbolic link"), "{answer}");
        assert!(answer.get("effect").is_none_or(Value::is_null), "nothing ran: {answer}");
        assert!(!outside.join("x").exists(), "{path}: written outside the root");
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

    let call = json!({
        "run": "run-inside", "id": "w5", "action": "write_note",
        "args": { "path": "notes/today.txt", "content": "fine" },
    });
    std::fs::create_dir_all(root.join("notes")).unwrap();
    let (status, answer) = http(&address, "/v1/execute", &writer, &[], &call);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert_eq!(answer["effect"]["state"], "succeeded", "{answer}");
    assert_eq!(std::fs::read_to_string(root.join("notes/today.txt")).unwrap(), "fine");
}

/// The published checkpoints and the connectors file are aecl's own: a server whose `fs`
/// root holds either does not start (red team round 29, tamper M1: an agent overwrote
/// the checkpoints that catch a store cut back, through its `write_note`).
#[test]
fn a_connector_reaching_the_checkpoints_or_the_connectors_file_is_refused_at_start() {
    let dir = temp_dir();
    keys(dir.path());
    let (policy, connectors) = policy(dir.path());
    let path = |name: &str| dir.path().join(name).display().to_string();
    let start = |extra: &[&str]| {
        let base = ["serve", "--policy", &policy, "--db", &path("aecl.db")];
        let keys = ["--key", &path("audit/audit.key"), "--token-key", &path("tokens/audit.pub")];
        let listen = ["--listen", "127.0.0.1:0", "--connectors"];
        crate::run(base.iter().chain(&keys).chain(&listen).chain(extra))
    };
    let out = start(&[&connectors, "--checkpoint-dir", &path("shared/ckpts")]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("the checkpoint directory"), "{out:#?}");

    // The connectors file in the root it configures.
    let inside = dir.path().join("shared/connectors.toml");
    let text = std::fs::read_to_string(&connectors).unwrap();
    std::fs::write(&inside, text.replace("\"undo\"", &format!("{:?}", path("undo")))).unwrap();
    let out = start(&[&inside.display().to_string()]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("the connectors file"), "{out:#?}");
}
