//! The red team's F6: a hard link beneath the root to a file outside it. Every operation
//! that opens a file's content refuses a file with more than one name, checked on the
//! descriptor opened: nothing of the outside file is read, kept as a pre-image (which an
//! undo would restore as a file of its own, readable), moved or changed.

use std::path::Path;

use serde_json::json;

use crate::fs::files;
use crate::{execute, failed, succeeded};

async fn refused(registry: &crate::Registry, action: &str, args: serde_json::Value) {
    let (outcome, _) = execute(registry, action, args.clone()).await;
    let error = failed(&outcome);
    assert!(error.contains("hard links"), "{action} {args}: {error}");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn a_hard_link_to_a_file_outside_the_root_is_neither_read_nor_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, root) = files(dir.path());
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "TOP-SECRET-OUTSIDE").unwrap();
    std::fs::hard_link(&secret, root.join("hl")).unwrap();

    refused(&registry, "file_read", json!({ "path": "hl" })).await;
    refused(&registry, "file", json!({ "path": "hl", "content": "junk" })).await;
    refused(&registry, "file_delete", json!({ "path": "hl" })).await;
    refused(&registry, "file_move", json!({ "path": "hl", "to": "moved" })).await;
    assert_eq!(read(&secret), "TOP-SECRET-OUTSIDE");
    assert_eq!(read(&root.join("hl")), "TOP-SECRET-OUTSIDE", "the link is left as it was");
    assert!(!root.join("moved").exists());

    // Two names inside the root are refused the same way: where the other is cannot be
    // known from the file.
    std::fs::write(root.join("a.txt"), "mine").unwrap();
    std::fs::hard_link(root.join("a.txt"), root.join("b.txt")).unwrap();
    refused(&registry, "file_read", json!({ "path": "a.txt" })).await;
    // Once it has one name again, it reads.
    std::fs::remove_file(root.join("b.txt")).unwrap();
    let (outcome, _) = execute(&registry, "file_read", json!({ "path": "a.txt" })).await;
    assert_eq!(succeeded(&outcome)["content"], "mine");
}
