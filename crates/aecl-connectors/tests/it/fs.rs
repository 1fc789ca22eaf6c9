//! The `fs` connector in a temporary directory: containment (`..`, symlinks), and undo of
//! writes, deletes and moves with their conflicts. Each operation is its own action
//! (`file_read`, `file` for writes, `file_delete`, `file_move`), as the catalog binds it.

use std::path::Path;
use std::sync::Arc;

use aecl_connectors::fs::{FsConfig, FsConnector};
use aecl_engine::Compensated;
use serde_json::json;

use crate::{execute, failed, registry, succeeded, undo};

/// The action the test catalog binds to `op`.
pub(crate) fn action_for(op: &str) -> &'static str {
    match op {
        "read" => "file_read",
        "delete" => "file_delete",
        "move" => "file_move",
        _ => "file",
    }
}

pub(crate) fn files(dir: &Path) -> (crate::Registry, std::path::PathBuf) {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    let connector = FsConnector::with(config(dir)).unwrap();
    (registry(vec![("files", Arc::new(connector))]), root)
}

/// The configuration [`files`] uses: root `dir/root`, undo directory `dir/undo`.
pub(crate) fn config(dir: &Path) -> FsConfig {
    FsConfig {
        roots: vec![dir.join("root")],
        undo_dir: dir.join("undo"),
        op_arg: "op".into(),
        path_arg: "path".into(),
        content_arg: "content".into(),
        to_arg: "to".into(),
        max_read_bytes: 1024,
        new_file_mode: 0o600,
    }
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
            let (outcome, _) = execute(&registry, action_for(op), args).await;
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
    let (_, deleted) = execute(&registry, "file_delete", args).await;
    assert!(!file.exists());
    std::fs::write(&file, "recreated").unwrap();
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Conflict { .. }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "recreated");
    std::fs::remove_file(&file).unwrap();
    assert!(matches!(undo(&registry, &deleted).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v1");

    // Move, then undo.
    let args = json!({ "path": "docs/report.txt", "to": "moved.txt" });
    let (_, moved) = execute(&registry, "file_move", args).await;
    assert!(!file.exists() && root.join("moved.txt").exists());
    assert!(matches!(undo(&registry, &moved).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v1");
    assert!(!root.join("moved.txt").exists());

    // Read returns the content.
    let (outcome, _) = execute(&registry, "file_read", json!({ "path": "docs/report.txt" })).await;
    assert_eq!(succeeded(&outcome)["content"], "v1");
}

#[tokio::test]
async fn undo_goes_through_the_root_handle_not_a_swapped_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    std::fs::write(root.join("docs/report.txt"), "v1").unwrap();
    let args = json!({ "path": "docs/report.txt", "content": "v2" });
    let (_, written) = execute(&registry, "file", args).await;
    let args = json!({ "path": "docs/report.txt" });
    // The folder is swapped for a symlink to an outside folder whose file holds exactly
    // what the write left: an undo by path would restore `v1` out there.
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("report.txt"), "v2").unwrap();
    std::fs::rename(root.join("docs"), root.join("docs.real")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("docs")).unwrap();
    assert!(!matches!(undo(&registry, &written).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(outside.join("report.txt")).unwrap(), "v2");
    // Nor does a read, a delete or a write go there.
    for (action, args) in [
        ("file_read", args.clone()),
        ("file_delete", args.clone()),
        ("file", json!({ "path": "docs/report.txt", "content": "v3" })),
        ("file", json!({ "path": "docs/new.txt", "content": "v3" })),
        ("file_move", json!({ "path": "docs.real/report.txt", "to": "docs/moved.txt" })),
    ] {
        let (outcome, _) = execute(&registry, action, args.clone()).await;
        let error = failed(&outcome);
        assert!(error.contains("outside"), "{action} {args}: {error}");
    }
    let names: Vec<_> =
        std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["report.txt"]);
    assert_eq!(std::fs::read_to_string(outside.join("report.txt")).unwrap(), "v2");
    // Back in place, the undo restores the inside file.
    std::fs::remove_file(root.join("docs")).unwrap();
    std::fs::rename(root.join("docs.real"), root.join("docs")).unwrap();
    assert!(matches!(undo(&registry, &written).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(root.join("docs/report.txt")).unwrap(), "v1");
}

#[tokio::test]
async fn a_symlink_as_the_last_component_is_refused_even_inside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    std::fs::write(root.join("docs/real.txt"), "real").unwrap();
    std::os::unix::fs::symlink(root.join("docs/real.txt"), root.join("docs/alias.txt")).unwrap();
    for (action, args) in [
        ("file_read", json!({ "path": "docs/alias.txt" })),
        ("file_delete", json!({ "path": "docs/alias.txt" })),
        ("file", json!({ "path": "docs/alias.txt", "content": "x" })),
        ("file_move", json!({ "path": "docs/alias.txt", "to": "docs/b.txt" })),
    ] {
        let (outcome, _) = execute(&registry, action, args.clone()).await;
        assert!(failed(&outcome).contains("symlink"), "{action} {args}");
    }
    assert_eq!(std::fs::read_to_string(root.join("docs/real.txt")).unwrap(), "real");
    assert!(std::fs::symlink_metadata(root.join("docs/alias.txt")).unwrap().is_symlink());
}

#[tokio::test]
async fn a_fifo_planted_in_the_root_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let status = std::process::Command::new("mkfifo").arg(root.join("docs/pipe")).status();
    assert!(status.unwrap().success(), "mkfifo");
    for (action, args) in [
        ("file_read", json!({ "path": "docs/pipe" })),
        ("file", json!({ "path": "docs/pipe", "content": "x" })),
        ("file_delete", json!({ "path": "docs/pipe" })),
    ] {
        let run = execute(&registry, action, args.clone());
        let (outcome, _) = tokio::time::timeout(std::time::Duration::from_secs(10), run)
            .await
            .unwrap_or_else(|_| panic!("{action} {args} hung on a FIFO"));
        assert!(failed(&outcome).contains("not a regular file"), "{action} {args}");
    }
}

/// A red-team finding: a root written relative (`roots = ["notes"]`, as the quickstart
/// writes it) was handed to the engine as the directory relative paths start from, and the
/// engine refused every relative path under a path rule ("the working directory `notes`
/// is not absolute"). It is the root as the connector opened it: canonical.
#[test]
fn relative_paths_start_at_the_canonical_root() {
    use aecl_engine::{Connector as _, Invocation};
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    // Cargo runs the tests from the package's directory, which holds `tests`.
    config.roots = vec![std::path::PathBuf::from("tests")];
    let connector = FsConnector::with(config).unwrap();
    let policy = crate::policy();
    let call = crate::call("file_read", json!({"op": "read", "path": "it/fs.rs"}));
    let cwd = connector.local_fs_cwd(Invocation::new(&policy, &call, "e1"));
    assert_eq!(cwd, Some(Path::new("tests").canonicalize().unwrap()));
}

/// A red-team finding: the engine judged `d/config` with `d` a link to `real`; another
/// process swapped `d` for a link to `.git` before the connector opened it, and the write
/// landed in `.git` (131 of 1,500 tries; reads of a blocked folder likewise). What the
/// connector opens must be where the call was decided to act (`Call::paths`).
#[tokio::test]
async fn a_link_swapped_in_after_the_decision_is_refused() {
    use aecl_core::resolved::{PathView, Resolution};
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    for (folder, content) in [("real", "mine"), (".git", "kept")] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        std::fs::write(root.join(folder).join("config"), content).unwrap();
    }
    std::os::unix::fs::symlink("real", root.join("d")).unwrap();
    let decided = root.canonicalize().unwrap().join("real/config").display().to_string();
    let run = |op: &str| {
        let mut call =
            crate::call(action_for(op), json!({"op": op, "path": "d/config", "content": "new"}));
        call.paths =
            PathView::Seen([("d/config".to_owned(), Resolution::Path(decided.clone()))].into());
        let registry = &registry;
        async move { registry.execute(&call, &uuid::Uuid::now_v7().to_string()).await }
    };
    // Where it was decided: read and write act there.
    assert_eq!(succeeded(&run("read").await)["content"], "mine");
    succeeded(&run("write").await);
    assert_eq!(std::fs::read_to_string(root.join("real/config")).unwrap(), "new");

    // The link now leads to `.git`: every operation is refused, nothing there is touched.
    std::fs::remove_file(root.join("d")).unwrap();
    std::os::unix::fs::symlink(".git", root.join("d")).unwrap();
    for op in ["read", "write", "delete"] {
        let outcome = run(op).await;
        let error = failed(&outcome);
        assert!(error.contains("a link changed since the call was judged"), "{op}: {error}");
    }
    assert_eq!(std::fs::read_to_string(root.join(".git/config")).unwrap(), "kept");
}

/// Red-team round 10: an undo followed a directory the agent swapped for a link inside the
/// root (to a folder its calls may not touch) and created an agent-written file there, or
/// deleted a protected file whose content it had copied, while the record named the old
/// place. An undo acts where its change was made, or not at all.
#[tokio::test]
async fn an_undo_never_acts_through_a_link_swapped_in_since_its_change() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    for folder in ["a", "protected"] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
    }
    std::fs::write(root.join("protected/settings.conf"), "trusted config\n").unwrap();
    let hook = json!({ "path": "a/pre-commit", "content": "#!/bin/sh\necho PWNED\n" });
    execute(&registry, "file", hook).await;
    let (_, deleted) = execute(&registry, "file_delete", json!({ "path": "a/pre-commit" })).await;
    let copy = json!({ "path": "a/settings.conf", "content": "trusted config\n" });
    let (_, written) = execute(&registry, "file", copy).await;
    let (_, moved) =
        execute(&registry, "file_move", json!({ "path": "a/settings.conf", "to": "a/moved" }))
            .await;
    std::fs::rename(root.join("a"), root.join("a.old")).unwrap();
    std::os::unix::fs::symlink("protected", root.join("a")).unwrap();
    std::fs::write(root.join("protected/moved"), "trusted config\n").unwrap();
    for effect in [&deleted, &moved, &written] {
        let outcome = undo(&registry, effect).await;
        assert!(!matches!(outcome, Compensated::Restored { .. }), "{outcome:?}");
    }
    let mut names: Vec<_> = std::fs::read_dir(root.join("protected"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["moved", "settings.conf"], "the protected folder was changed");
    assert_eq!(
        std::fs::read_to_string(root.join("protected/settings.conf")).unwrap(),
        "trusted config\n"
    );
}

/// A change made through a link inside the root (where the engine decided it) is undone
/// where it was made, through no link: the token names the physical path.
#[tokio::test]
async fn an_undo_acts_where_a_change_through_a_link_was_made() {
    use aecl_core::resolved::{PathView, Resolution};
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    std::fs::create_dir_all(root.join("real")).unwrap();
    std::fs::write(root.join("real/config"), "v1").unwrap();
    std::os::unix::fs::symlink("real", root.join("d")).unwrap();
    let decided = root.canonicalize().unwrap().join("real/config").display().to_string();
    let mut call = crate::call("file", json!({"op": "write", "path": "d/config", "content": "v2"}));
    call.paths = PathView::Seen([("d/config".to_owned(), Resolution::Path(decided))].into());
    let (outcome, effect) = crate::execute_call(&registry, call).await;
    succeeded(&outcome);
    let token = effect.rollback_token.clone().unwrap_or_default();
    assert!(token.contains("real/config") && !token.contains("d/config"), "{token}");
    assert!(matches!(undo(&registry, &effect).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(root.join("real/config")).unwrap(), "v1");
}
