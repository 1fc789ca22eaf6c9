//! The changes that must not replace what they did not check, one by one: each either
//! makes its change or leaves every file as it found it (no temporary file left behind).

use std::path::Path;

use super::{ChangeError, Expected, Roots};
use crate::fs::meta::Ownership;
use crate::fs::sha256_hex;

/// What the files these tests write are given.
const NEW: Ownership = Ownership::New { mode: 0o600 };

/// Expects a file of content `bytes`, whatever its mode and owner.
fn content(bytes: &[u8]) -> Expected {
    Expected::content(&sha256_hex(bytes))
}

/// A root in a new temporary folder holding `files` (name, content).
fn root(files: &[(&str, &str)]) -> (tempfile::TempDir, Roots) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let roots = Roots::open(&[dir.path().to_owned()]).unwrap();
    (dir, roots)
}

/// The names in `dir` with their contents, sorted.
fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    names.sort();
    names
}

fn pairs(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files.iter().map(|(n, c)| ((*n).to_owned(), (*c).to_owned())).collect()
}

fn conflict(result: Result<(), ChangeError>) -> String {
    match result {
        Err(ChangeError::Conflict(detail)) => detail,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn create_puts_a_file_where_none_is_and_never_replaces_one() {
    let (dir, roots) = root(&[("there.txt", "theirs")]);
    let new = roots.locate("new.txt").unwrap();
    roots.beneath(&new).unwrap().create(b"mine", NEW).unwrap();
    let there = roots.locate("there.txt").unwrap();
    let detail = conflict(roots.beneath(&there).unwrap().create(b"mine", NEW));
    assert!(detail.contains("appeared"), "{detail}");
    assert_eq!(listing(dir.path()), pairs(&[("new.txt", "mine"), ("there.txt", "theirs")]));
}

#[test]
fn replace_checked_replaces_only_the_content_it_was_told_of() {
    let (dir, roots) = root(&[("a.txt", "v1")]);
    let a = roots.locate("a.txt").unwrap();
    let at = roots.beneath(&a).unwrap();
    let detail = conflict(at.replace_checked(b"v2", &content(b"something else"), NEW));
    assert!(detail.contains("changed"), "{detail}");
    assert_eq!(listing(dir.path()), pairs(&[("a.txt", "v1")]), "put back, nothing left over");
    at.replace_checked(b"v2", &content(b"v1"), NEW).unwrap();
    assert_eq!(listing(dir.path()), pairs(&[("a.txt", "v2")]));
    // A file removed since it was checked is not created again.
    std::fs::remove_file(dir.path().join("a.txt")).unwrap();
    conflict(at.replace_checked(b"v3", &content(b"v2"), NEW));
    assert_eq!(listing(dir.path()), []);
}

#[test]
fn remove_checked_removes_only_the_content_it_was_told_of() {
    let (dir, roots) = root(&[("a.txt", "v1")]);
    let a = roots.locate("a.txt").unwrap();
    let at = roots.beneath(&a).unwrap();
    conflict(at.remove_checked(&content(b"v0")));
    assert_eq!(listing(dir.path()), pairs(&[("a.txt", "v1")]), "put back, nothing left over");
    at.remove_checked(&content(b"v1")).unwrap();
    assert_eq!(listing(dir.path()), []);
    conflict(at.remove_checked(&content(b"v1")));
}

#[test]
fn rename_checked_never_replaces_and_moves_back_what_changed() {
    let (dir, roots) = root(&[("a.txt", "moving"), ("b.txt", "theirs")]);
    let (a, b, c) = (
        roots.locate("a.txt").unwrap(),
        roots.locate("b.txt").unwrap(),
        roots.locate("c.txt").unwrap(),
    );
    let (from, taken, free) =
        (roots.beneath(&a).unwrap(), roots.beneath(&b).unwrap(), roots.beneath(&c).unwrap());
    let detail = conflict(from.rename_checked(&taken, &sha256_hex(b"moving")));
    assert!(detail.contains("exists already"), "{detail}");
    // A file that is not the one checked is moved back.
    conflict(from.rename_checked(&free, &sha256_hex(b"other")));
    assert_eq!(listing(dir.path()), pairs(&[("a.txt", "moving"), ("b.txt", "theirs")]));
    from.rename_checked(&free, &sha256_hex(b"moving")).unwrap();
    assert_eq!(listing(dir.path()), pairs(&[("b.txt", "theirs"), ("c.txt", "moving")]));
}

#[test]
fn changes_in_a_subfolder_go_through_its_handle() {
    let (dir, roots) = root(&[]);
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let path = roots.locate("d/e.txt").unwrap();
    let at = roots.beneath(&path).unwrap();
    at.create(b"one", NEW).unwrap();
    at.replace_checked(b"two", &content(b"one"), NEW).unwrap();
    assert_eq!(listing(&dir.path().join("d")), pairs(&[("e.txt", "two")]));
    at.remove_checked(&content(b"two")).unwrap();
    assert_eq!(listing(&dir.path().join("d")), []);
}
