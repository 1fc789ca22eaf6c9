//! The `fs` connector keeps files' permissions (red team F5): a write keeps the mode, owner
//! and group of the file it replaces, an undo restores those of the pre-image, new files get
//! `new_file_mode`, and what is kept for undo is readable by aecl's user only.
//!
//! CI runs as root, where files are given to another user (`nobody`, 65534) and the owner is
//! checked too; run as another user, the same tests check the modes with the user's own
//! files, and that a file of another user is refused.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use aecl_connectors::fs::{FsConfig, FsConnector};
use aecl_engine::Compensated;
use serde_json::json;

use crate::fs::{config as fs_config, files};
use crate::{execute, failed, registry, succeeded, undo};

/// The user and group files are given to when the tests run as root.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Mode bits, owner and group of `path` (not followed).
fn meta(path: &Path) -> (u32, u32, u32) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    (meta.mode() & 0o7777, meta.uid(), meta.gid())
}

/// Writes `content` at `path` with `mode`, given to `nobody` when running as root: the
/// mode, owner and group it then has.
fn secret_file(path: &Path, content: &str, mode: u32) -> (u32, u32, u32) {
    std::fs::write(path, content).unwrap();
    if is_root() {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    let kept = meta(path);
    assert_eq!(kept.0, mode);
    kept
}

/// Every folder and file under `dir` (itself included) is closed to group and others.
fn assert_private(dir: &Path) {
    let mode = meta(dir).0;
    assert_eq!(mode & 0o077, 0, "`{}` is {mode:04o}", dir.display());
    if std::fs::symlink_metadata(dir).unwrap().is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            assert_private(&entry.unwrap().path());
        }
    }
}

#[tokio::test]
async fn a_write_keeps_the_mode_and_owner_of_the_file_it_replaces_and_its_undo_restores_them() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let file = root.join("creds.env");
    let before = secret_file(&file, "DB_PASSWORD=hunter2\n", 0o640);

    let args = json!({ "path": "creds.env", "content": "placeholder\n" });
    let (outcome, written) = execute(&registry, "file", args).await;
    succeeded(&outcome);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "placeholder\n");
    assert_eq!(meta(&file), before, "the new file has the old one's mode, owner and group");

    // The pre-image and the intent are aecl's user's alone.
    assert_private(&dir.path().join("undo"));

    assert!(matches!(undo(&registry, &written).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "DB_PASSWORD=hunter2\n");
    assert_eq!(meta(&file), before, "the restored file has its mode, owner and group");
}

#[tokio::test]
async fn a_delete_and_its_restore_keep_the_mode_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let file = root.join("docs/key.pem");
    let before = secret_file(&file, "-----BEGIN KEY-----\n", 0o600);

    let (outcome, deleted) =
        execute(&registry, "file_delete", json!({ "path": "docs/key.pem" })).await;
    succeeded(&outcome);
    assert!(!file.exists());
    assert_private(&dir.path().join("undo"));

    assert!(matches!(undo(&registry, &deleted).await, Compensated::Restored { .. }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "-----BEGIN KEY-----\n");
    assert_eq!(meta(&file), before);
}

#[tokio::test]
async fn written_content_loses_set_id_bits_and_its_undo_gives_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let file = root.join("tool");
    let before = secret_file(&file, "#!/bin/sh\n", 0o6755);

    let args = json!({ "path": "tool", "content": "#!/bin/sh\nid\n" });
    let (outcome, written) = execute(&registry, "file", args).await;
    succeeded(&outcome);
    let (mode, uid, gid) = meta(&file);
    assert_eq!(mode, 0o755, "content an agent wrote never runs as the file's owner");
    assert_eq!((uid, gid), (before.1, before.2));

    assert!(matches!(undo(&registry, &written).await, Compensated::Restored { .. }));
    assert_eq!(meta(&file), before, "the original content gets its set-id bits back");
}

#[tokio::test]
async fn a_new_file_gets_new_file_mode_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let args = json!({ "path": "docs/new.txt", "content": "token=abc" });
    succeeded(&execute(&registry, "file", args).await.0);
    assert_eq!(meta(&root.join("docs/new.txt")).0, 0o600, "the default is private");

    let open = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(open.path().join("root")).unwrap();
    let config = FsConfig { new_file_mode: 0o644, ..fs_config(open.path()) };
    let connector = FsConnector::with(config).unwrap();
    let shared = crate::registry(vec![("files", Arc::new(connector))]);
    let args = json!({ "path": "shared.txt", "content": "hello" });
    succeeded(&execute(&shared, "file", args).await.0);
    assert_eq!(meta(&open.path().join("root/shared.txt")).0, 0o644);

    // Set-id bits (or anything but permission bits) are refused at start-up.
    let error = FsConnector::with(FsConfig { new_file_mode: 0o4755, ..fs_config(open.path()) });
    assert!(error.unwrap_err().contains("new_file_mode"));
}

#[tokio::test]
async fn an_undo_dir_open_to_others_is_tightened_and_one_of_another_user_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("root")).unwrap();
    let undo_dir = dir.path().join("undo");
    std::fs::create_dir(&undo_dir).unwrap();
    std::fs::set_permissions(&undo_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    FsConnector::with(fs_config(dir.path())).unwrap();
    assert_eq!(meta(&undo_dir).0, 0o700, "an earlier version's 0755 is tightened");

    // A missing undo_dir is created private, and so is any folder above it made with it.
    let nested = FsConfig { undo_dir: dir.path().join("state/undo"), ..fs_config(dir.path()) };
    FsConnector::with(nested).unwrap();
    assert_eq!(meta(&dir.path().join("state")).0, 0o700);
    assert_eq!(meta(&dir.path().join("state/undo")).0, 0o700);

    if is_root() {
        std::os::unix::fs::chown(&undo_dir, Some(NOBODY), Some(NOBODY)).unwrap();
        let error = FsConnector::with(fs_config(dir.path())).unwrap_err();
        assert!(error.contains("belongs to uid 65534"), "{error}");
    }
}

#[tokio::test]
async fn an_effect_folder_of_another_user_in_the_undo_dir_is_refused() {
    if !is_root() {
        // Only root can make a folder of another user there.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    std::fs::write(root.join("a.txt"), "v1").unwrap();
    let call = crate::call("file", json!({ "path": "a.txt", "content": "v2" }));
    let effect = uuid::Uuid::now_v7().to_string();
    let planted = dir.path().join("undo").join(&effect);
    std::fs::create_dir(&planted).unwrap();
    std::os::unix::fs::chown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
    let outcome = registry.execute(&call, &effect).await;
    assert!(failed(&outcome).contains("belongs to uid 65534"), "{outcome:?}");
    assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), "v1");
    assert!(!planted.join("before").exists());
}

#[tokio::test]
async fn an_undo_dir_inside_a_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("root")).unwrap();
    for undo_dir in [dir.path().join("root/.undo"), dir.path().to_owned()] {
        let error = FsConnector::with(FsConfig { undo_dir, ..fs_config(dir.path()) }).unwrap_err();
        assert!(error.contains("overlap"), "{error}");
    }
}

#[tokio::test]
async fn a_file_with_an_access_acl_is_neither_written_nor_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let file = root.join("shared.txt");
    std::fs::write(&file, "v1").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    // user::rw-, user:65534:r--, group::---, mask::r--, other::--- (posix_acl_xattr, v2).
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in
        [(0x01u16, 6u16, u32::MAX), (0x02, 4, NOBODY), (0x04, 0, u32::MAX), (0x10, 4, u32::MAX)]
            .into_iter()
            .chain([(0x20, 0, u32::MAX)])
    {
        acl.extend(tag.to_le_bytes());
        acl.extend(perm.to_le_bytes());
        acl.extend(id.to_le_bytes());
    }
    let flags = rustix::fs::XattrFlags::empty();
    if let Err(e) = rustix::fs::setxattr(&file, "system.posix_acl_access", &acl, flags) {
        // A file system without ACLs cannot hold such a file.
        assert_eq!(e, rustix::io::Errno::NOTSUP, "setting the ACL");
        return;
    }
    let write = json!({ "path": "shared.txt", "content": "v2" });
    let delete = json!({ "path": "shared.txt" });
    for (action, args) in [("file", write), ("file_delete", delete)] {
        let (outcome, _) = execute(&registry, action, args).await;
        assert!(failed(&outcome).contains("POSIX ACL"), "{action}: {outcome:?}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v1");
}

#[tokio::test]
async fn run_as_another_user_a_file_it_could_not_give_back_is_not_changed() {
    if is_root() {
        // Root may give any owner; the refusal is `meta.rs`'s unit test.
        return;
    }
    // A root holding files of another user (root's): aecl may read them, not give them back.
    let dir = tempfile::tempdir().unwrap();
    let config = FsConfig { roots: vec!["/etc".into()], ..fs_config(dir.path()) };
    let registry = registry(vec![("files", Arc::new(FsConnector::with(config).unwrap()))]);
    let before = std::fs::read("/etc/passwd").unwrap();
    for (action, args) in [
        ("file", json!({ "path": "/etc/passwd", "content": "x" })),
        ("file_delete", json!({ "path": "/etc/passwd" })),
    ] {
        let (outcome, _) = execute(&registry, action, args).await;
        assert!(failed(&outcome).contains("cannot give a file"), "{action}: {outcome:?}");
    }
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), before);
}
