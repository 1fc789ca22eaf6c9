//! A SQLite database has one writing process, whatever name it is opened by (red-team
//! finding F4). The lock was a file beside the path, `PATH-writer`: a second `aecl serve`
//! on a symbolic link to the database started (its writes then failed), and one on a hard
//! link started with a write-ahead log of its own, a second history in the same file, and
//! lost acknowledged records. The lock is now on the database file itself, and a file with
//! more than one hard link is refused; readers still read while a writer runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use aecl_engine::{Store as _, StoreError};
use aecl_store::SqliteStore;

use crate::support::{audit_config, record, sqlite_store};

const HOLDER_ENV: &str = "AECL_TEST_WRITER_LOCK_DB";
const HELD: &str = "the writer lock is held";
const HOLDER_TEST: &str = "writer_lock::a_writer_in_another_process_holds_its_file_by_any_name";

fn refused(path: &Path, why: &str) {
    let Err(StoreError::Backend(message)) = SqliteStore::open(path, audit_config()) else {
        panic!("a second writer opened {}", path.display())
    };
    assert!(message.contains(why) && message.contains(&path.display().to_string()), "{message}");
}

/// Readers are no writers: they read the log through any name while a writer runs.
fn readable(path: &Path, records: usize) {
    let reader = SqliteStore::open_read_only(path).unwrap();
    assert_eq!(reader.audit_records(0, 100).unwrap().len(), records, "{}", path.display());
}

#[tokio::test]
async fn a_second_store_of_this_process_is_refused_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("aecl.db");
    let first = sqlite_store(dir.path());
    first.append_audit(record(0, 0)).await.unwrap();
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    refused(&link, "another store of this process writes");
    let hard = dir.path().join("hard.db");
    std::fs::hard_link(&db, &hard).unwrap();
    refused(&hard, "another store of this process writes");
    readable(&link, 1);
    // The first store's locks survived the refusals: it still commits.
    first.append_audit(record(0, 1)).await.unwrap();
    drop(first);
    // Closed, the file is still refused while it has two names; through a symbolic link
    // it is the same file and opens.
    refused(&db, "has 2 hard links");
    std::fs::remove_file(&hard).unwrap();
    let again = SqliteStore::open(&link, audit_config()).unwrap();
    again.append_audit(record(0, 2)).await.unwrap();
    assert_eq!(again.audit_records(0, 100).await.unwrap().len(), 3);
}

/// The red team's case: a writer in another process (`aecl serve --db aecl.db`), and a
/// second one started on a symbolic link and on a hard link to its file.
#[tokio::test]
async fn a_writer_in_another_process_holds_its_file_by_any_name() {
    if let Ok(db) = std::env::var(HOLDER_ENV) {
        return hold(Path::new(&db)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("aecl.db");
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args([HOLDER_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(HOLDER_ENV, &db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    assert!(
        // The harness prints the test's name on the same line first.
        lines.by_ref().map_while(Result::ok).any(|line| line.ends_with(HELD)),
        "the holder did not open the store"
    );
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let hard = dir.path().join("hard.db");
    std::fs::hard_link(&db, &hard).unwrap();
    for path in [&db, &link, &hard] {
        refused(path, "another process writes");
    }
    // (Through the hard link a reader sees no log at all: the writer's commits are in
    // `aecl.db-wal`, and SQLite looks for `hard.db-wal`. That is why a writer is refused
    // a file with two names.)
    for path in [&db, &link] {
        readable(path, 1);
    }
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    // The holder is gone, but a file with two names would give each its own log.
    for path in [&db, &hard] {
        refused(path, "has 2 hard links");
    }
    std::fs::remove_file(&hard).unwrap();
    let store = SqliteStore::open(&link, audit_config()).unwrap();
    store.append_audit(record(0, 1)).await.unwrap();
    assert_eq!(store.audit_records(0, 100).await.unwrap().len(), 2);
}

/// The holder: opens the store, appends a record, says so, and keeps it open until its
/// standard input closes.
async fn hold(db: &Path) {
    let store = SqliteStore::open(db, audit_config()).unwrap();
    store.append_audit(record(0, 0)).await.unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{HELD}").unwrap();
    out.flush().unwrap();
    drop(out);
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(store);
}
