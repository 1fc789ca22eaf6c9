//! A checkpoint directory and the start-up check against a store rolled back or forked
//! (red-team round 10, finding 1), and their benign neighbours: a directory that missed
//! checkpoints, or was added later, catches up with a proof from the store.

use std::path::Path;
use std::sync::{Arc, Mutex};

use aecl_audit::{AddCheckpoint, CheckpointSink, parse_and_verify_checkpoint};
use aecl_engine::Store as _;
use aecl_store::{AuditConfig, SqliteStore};
use aecl_testkit::audit::{ORIGIN, record, signer, verifier};

use super::super::Destination;
use super::check_store_extends;

/// The checkpoints a store's writer hands over, kept in order.
#[derive(Debug, Default)]
struct Collected(Mutex<Vec<AddCheckpoint>>);

impl CheckpointSink for Collected {
    fn publish(&self, request: AddCheckpoint) {
        self.0.lock().unwrap().push(request);
    }
}

/// Appends the records `from..to` of producer `producer` to the store at `db`, one commit
/// each; the checkpoints its writer published.
async fn append(db: &Path, producer: usize, from: usize, to: usize) -> Vec<AddCheckpoint> {
    let sink = Arc::new(Collected::default());
    let config =
        AuditConfig { origin: ORIGIN.to_owned(), signer: signer(), publish: Some(sink.clone()) };
    let store = SqliteStore::open(db, config).unwrap();
    for i in from..to {
        store.append_audit(record(producer, i)).await.unwrap();
    }
    drop(store);
    // The writer publishes after its commit answered: wait for the last one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sink.0.lock().unwrap().len() < to - from {
        assert!(std::time::Instant::now() < deadline, "checkpoints not handed over");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::mem::take(&mut *sink.0.lock().unwrap())
}

fn size_of(request: &AddCheckpoint) -> u64 {
    parse_and_verify_checkpoint(&request.checkpoint, &verifier()).unwrap().size
}

fn directory(dir: &Path, db: &Path) -> Destination {
    Destination::Dir { dir: dir.to_owned(), held: None, db: db.display().to_string() }
}

fn held_size(destination: &Destination) -> Option<u64> {
    match destination {
        Destination::Dir { held, .. } => held.as_ref().map(|c| c.size),
        Destination::Witness { .. } => None,
    }
}

fn published_sizes(dir: &Path) -> Vec<u64> {
    let mut sizes: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".add-checkpoint")?.parse().ok())
        .collect();
    sizes.sort_unstable();
    sizes
}

/// Puts a copy of the store taken earlier back in its place.
fn roll_back(db: &Path, copy: &Path) {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(copy, db).unwrap();
}

fn snapshot(db: &Path, to: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute("VACUUM INTO ?1", [to.display().to_string()]).unwrap();
}

#[tokio::test]
async fn a_directory_refuses_a_fork_that_starts_past_its_size_and_a_restart_refuses_the_store() {
    let temp = tempfile::tempdir().unwrap();
    let (db, dir) = (temp.path().join("aecl.db"), temp.path().join("published"));
    std::fs::create_dir(&dir).unwrap();
    let key = verifier();
    let mut destination = directory(&dir, &db);

    let first = append(&db, 1, 0, 3).await;
    snapshot(&db, &temp.path().join("older.db"));
    let second = append(&db, 1, 3, 6).await;
    for request in first.iter().chain(&second) {
        destination.publish(request, &key, ORIGIN).unwrap();
    }
    assert_eq!(held_size(&destination), Some(6));
    let held = match &destination {
        Destination::Dir { held, .. } => held.clone().unwrap(),
        Destination::Witness { .. } => unreachable!(),
    };
    let target = dir.display().to_string();
    check_store_extends(&db.display().to_string(), &held, &target).unwrap();

    // The older copy put back: behind what the directory holds, and a restart says so.
    roll_back(&db, &temp.path().join("older.db"));
    let behind = check_store_extends(&db.display().to_string(), &held, &target).unwrap_err();
    let behind = format!("{behind:#}");
    for part in ["refusing to start", "(size 3, root", "is behind", "(size 6, root", &target] {
        assert!(behind.contains(part), "`{part}` not in: {behind}");
    }

    // Resumed anyway (as before the check) and grown past the directory's size with other
    // records: the directory takes none of its checkpoints, including those whose proof
    // starts past the size it holds, and stays on the published history.
    let fork = append(&db, 2, 3, 8).await;
    assert_eq!(fork.iter().map(size_of).collect::<Vec<_>>(), [4, 5, 6, 7, 8]);
    let mut last = String::new();
    for request in &fork {
        last = format!("{:#}", destination.publish(request, &key, ORIGIN).unwrap_err());
    }
    assert!(last.contains("not consistent with the held one of size 6"), "{last}");
    assert_eq!(held_size(&destination), Some(6));
    assert_eq!(published_sizes(&dir), [1, 2, 3, 4, 5, 6]);
    let forked = check_store_extends(&db.display().to_string(), &held, &target).unwrap_err();
    let forked = format!("{forked:#}");
    for part in ["(size 8, root", "does not extend", "(size 6, root"] {
        assert!(forked.contains(part), "`{part}` not in: {forked}");
    }
}

#[tokio::test]
async fn a_directory_that_missed_checkpoints_takes_the_next_with_a_proof_from_the_store() {
    let temp = tempfile::tempdir().unwrap();
    let (db, dir) = (temp.path().join("aecl.db"), temp.path().join("published"));
    std::fs::create_dir(&dir).unwrap();
    let key = verifier();
    let requests = append(&db, 1, 0, 6).await;
    let mut destination = directory(&dir, &db);
    // Sizes 1 and 2, then 3 to 5 missed: size 6's own proof starts at 5.
    for request in requests.iter().take(2) {
        destination.publish(request, &key, ORIGIN).unwrap();
    }
    destination.publish(&requests[5], &key, ORIGIN).unwrap();
    assert_eq!(held_size(&destination), Some(6));
    assert_eq!(published_sizes(&dir), [1, 2, 6]);
    // The file kept carries the proof from the size the directory held.
    let kept = std::fs::read_to_string(dir.join(super::super::file_name(6))).unwrap();
    assert!(kept.starts_with("old 2\n"), "{kept}");

    // A directory added later takes the newest at once (the empty tree is a prefix).
    let later = temp.path().join("later");
    std::fs::create_dir(&later).unwrap();
    let mut destination = directory(&later, &db);
    destination.publish(&requests[5], &key, ORIGIN).unwrap();
    assert_eq!(published_sizes(&later), [6]);

    // The store extends what either holds: equal, and then grown.
    let held = parse_and_verify_checkpoint(&requests[5].checkpoint, &key).unwrap();
    let target = dir.display().to_string();
    check_store_extends(&db.display().to_string(), &held, &target).unwrap();
    append(&db, 1, 6, 9).await;
    check_store_extends(&db.display().to_string(), &held, &target).unwrap();
}

#[test]
fn a_missing_store_is_behind_a_held_checkpoint() {
    let temp = tempfile::tempdir().unwrap();
    let held = aecl_audit::Checkpoint {
        origin: ORIGIN.to_owned(),
        size: 4,
        root: [7; 32],
        time: None,
        previous: None,
        extensions: Vec::new(),
    };
    let db = temp.path().join("none.db").display().to_string();
    let error = format!("{:#}", check_store_extends(&db, &held, "DIR").unwrap_err());
    assert!(error.contains("does not exist"), "{error}");
    assert!(error.contains("a checkpoint of 4 records"), "{error}");
}
