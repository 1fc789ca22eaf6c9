//! The `fs` connector in a temporary directory: containment (`..`, symlinks), and undo of
//! writes, deletes and moves with their conflicts.

use std::path::Path;
use std::sync::Arc;

use aecl_connectors::fs::{FsConfig, FsConnector};
use aecl_engine::Compensated;
use serde_json::json;

use crate::{execute, failed, registry, succeeded, undo};

fn files(dir: &Path) -> (aecl_connectors::Connectors, std::path::PathBuf) {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    let config = FsConfig {
        roots: vec![root.clone()],
        undo_dir: dir.join("undo"),
        op_arg: "op".into(),
        path_arg: "path".into(),
        content_arg: "content".into(),
        to_arg: "to".into(),
        max_read_bytes: 1024,
    };
    let connector = FsConnector::with(config).unwrap();
    (registry(vec![("files", Arc::new(connector))]), root)
}

#[tokio::test]
async fn escapes_through_dot_dot_and_symlinks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
    for path in [
        "../secret.txt".to_owned(),
        "docs/../../secret.txt".to_owned(),
        dir.path().join("secret.txt").display().to_string(),
        "up/secret.txt".to_owned(),
        "link.txt".to_owned(),
        "/etc/passwd".to_owned(),
    ] {
        for op in ["read", "write", "delete"] {
            let args = json!({ "op": op, "path": path, "content": "x" });
            let (outcome, _) = execute(&registry, "file", args).await;
            let error = failed(&outcome);
            assert!(error.contains("outside") || error.contains("symlink"), "{op} {path}: {error}");
        }
    }
    assert_eq!(std::fs::read_to_string(dir.path().join("secret.txt")).unwrap(), "outside");
    // A `..` that stays inside is fine.
    let args = json!({ "op": "write", "path": "docs/../docs/a.txt", "content": "in" });
    succeeded(&execute(&registry, "file", args).await.0);
    assert_eq!(std::fs::read_to_string(root.join("docs/a.txt")).unwrap(), "in");
}

#[tokio::test]
async fn writes_deletes_and_moves_are_undone_unless_the_file_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let file = root.join("docs/report.txt");
    std::fs::write(&file, "v1").unwrap();

    // Overwrite, then undo: the old content is back.
    let args = json!({ "op": "write", "path": "docs/report.txt", "content": "v2" });
    let (outcome, written) = execute(&registry, "file", args).await;
    succeeded(&outcome);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v2");
    assert!(matches!(undo(&registry, &written).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v1");

    // A new file, changed by someone after the write: conflict, nothing touched.
    let args = json!({ "op": "write", "path": "new.txt", "content": "mine" });
    let (_, created) = execute(&registry, "file", args).await;
    std::fs::write(root.join("new.txt"), "theirs").unwrap();
    assert!(matches!(undo(&registry, &created).await, Compensated::Conflict { .. }));
    assert_eq!(std::fs::read_to_string(root.join("new.txt")).unwrap(), "theirs");
    std::fs::write(root.join("new.txt"), "mine").unwrap();
    assert!(matches!(undo(&registry, &created).await, Compensated::Restored { .. }));
    assert!(!root.join("new.txt").exists(), "a file that did not exist is removed");

    // Delete, then undo; a path that exists again conflicts.
    let args = json!({ "op": "delete", "path": "docs/report.txt" });
    let (_, deleted) = execute(&registry, "file", args).await;
    assert!(!file.exists());
    std::fs::write(&file, "recreated").unwrap();
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Conflict { .. }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "recreated");
    std::fs::remove_file(&file).unwrap();
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v1");

    // Move, then undo.
    let args = json!({ "op": "move", "path": "docs/report.txt", "to": "moved.txt" });
    let (_, moved) = execute(&registry, "file", args).await;
    assert!(!file.exists() && root.join("moved.txt").exists());
    assert!(matches!(undo(&registry, &moved).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v1");
    assert!(!root.join("moved.txt").exists());

    // Read returns the content.
    let (outcome, _) =
        execute(&registry, "file", json!({ "op": "read", "path": "docs/report.txt" })).await;
    assert_eq!(succeeded(&outcome)["content"], "v1");
}
