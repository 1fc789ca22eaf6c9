//! The SQLite store notices when its file is gone from under it: deleted, replaced by
//! another file, or made unwritable. From then on it is unhealthy and refuses every write
//! (so every call is blocked) until it is opened again; before, a deleted file kept taking
//! commits into the unlinked inode and `/healthz` said ok.

use std::path::Path;
use std::process::Command;

use aecl_engine::{Store, StoreError};
use aecl_store::SqliteStore;

use crate::support::{record, sqlite_store};

async fn healthy(store: &SqliteStore) {
    let health = store.health().await;
    assert!(health.is_healthy(), "{health:?}");
    store.append_audit(record(0, 0)).await.unwrap();
}

/// The store refuses writes and reads and says why, in its health and its errors.
async fn gone(store: &SqliteStore, why: &str) {
    let refused = store.append_audit(record(0, 1)).await.unwrap_err();
    assert!(matches!(refused, StoreError::Backend(_)), "{refused}");
    assert!(refused.to_string().contains(why), "{refused}");
    let health = store.health().await;
    assert!(!health.is_healthy());
    assert!(health.failed.as_deref().is_some_and(|f| f.contains(why)), "{health:?}");
    assert!(health.write_probe.is_err(), "{health:?}");
    assert!(store.audit_records(0, 10).await.is_err(), "reads refused too");
    // The revocation check, read on the caller's thread (`read_here`), refuses too.
    let unchecked = store.revoked_credential(&["jti:t-1".to_owned()]).await.unwrap_err();
    assert!(unchecked.to_string().contains(why), "{unchecked}");
    // Sticky: the file coming back does not make the store trust it again.
    let again = store.append_audit(record(0, 2)).await.unwrap_err();
    assert!(again.to_string().contains(why), "{again}");
}

#[tokio::test]
async fn a_deleted_database_file_stops_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path());
    healthy(&store).await;
    std::fs::remove_file(dir.path().join("aecl.db")).unwrap();
    gone(&store, "was deleted").await;
    assert!(!dir.path().join("aecl.db").exists(), "no empty database made in its place");
}

#[tokio::test]
async fn a_replaced_database_file_stops_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path());
    healthy(&store).await;
    // Another database moved over the path (what a restore from a backup does).
    let other = tempfile::tempdir().unwrap();
    drop(sqlite_store(other.path()));
    std::fs::rename(other.path().join("aecl.db"), dir.path().join("aecl.db")).unwrap();
    gone(&store, "was replaced").await;
}

#[tokio::test]
async fn a_deleted_write_ahead_log_stops_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path());
    healthy(&store).await;
    healthy(&store).await;
    std::fs::remove_file(dir.path().join("aecl.db-wal")).unwrap();
    gone(&store, "write-ahead log").await;
}

/// An immutable file (`chattr +i`, which binds root too) cannot be written: the store
/// stops. Needs root and a file system with attributes (ext4, xfs, btrfs, as CI's);
/// elsewhere only the healthy part runs.
#[tokio::test]
async fn an_immutable_database_file_stops_every_write() {
    let dir = tempfile::tempdir_in(std::env::var_os("CARGO_TARGET_TMPDIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        std::path::PathBuf::from,
    ))
    .unwrap();
    let store = sqlite_store(dir.path());
    healthy(&store).await;
    let path = dir.path().join("aecl.db");
    if !chattr(&path, "+i") {
        // Not root, or a file system without attributes: only the healthy part ran.
        return;
    }
    let stopped = store.append_audit(record(0, 1)).await;
    chattr(&path, "-i");
    let refused = stopped.unwrap_err();
    assert!(refused.to_string().contains("can no longer be written"), "{refused}");
    gone(&store, "can no longer be written").await;
}

fn chattr(path: &Path, flag: &str) -> bool {
    Command::new("chattr").arg(flag).arg(path).status().is_ok_and(|s| s.success())
}

/// A SQLite file has one writing process: a second store opened on it (in this process or
/// another) is refused at once, naming the file, and the file opens again once the first
/// is closed. Readers (`aecl audit verify`) are not writers and are never refused.
#[tokio::test]
async fn a_second_writer_of_a_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = sqlite_store(dir.path());
    healthy(&first).await;
    let second = SqliteStore::open(&dir.path().join("aecl.db"), crate::support::audit_config());
    let Err(StoreError::Backend(why)) = second else { panic!("a second writer opened") };
    assert!(
        why.contains("another store of this process writes") && why.contains("aecl.db"),
        "{why}"
    );
    assert!(SqliteStore::open_read_only(&dir.path().join("aecl.db")).is_ok());
    drop(first);
    let again = sqlite_store(dir.path());
    healthy(&again).await;
}

/// A connector that runs its call and then takes the store's file away, as a disk filling
/// up or an operator's mistake would between a call's dispatch and its end.
struct RunsThenLosesTheStore(std::path::PathBuf);

impl aecl_engine::Connector for RunsThenLosesTheStore {
    fn execute<'a>(
        &'a self,
        _: aecl_engine::Invocation<'a>,
    ) -> aecl_engine::BoxFuture<'a, aecl_engine::ConnectorOutcome> {
        let _ = std::fs::remove_file(&self.0);
        Box::pin(async move {
            aecl_engine::ConnectorOutcome::Succeeded {
                result: serde_json::json!({"written": true}),
                rollback_token: None,
            }
        })
    }
}

/// A call that ran is never answered as blocked, whatever happens to the store after its
/// dispatch: its end cannot be recorded, so it is answered allowed with an unknown
/// outcome, which says why (the agent must not think nothing happened).
#[tokio::test]
async fn a_call_that_ran_is_answered_as_unknown_when_its_end_cannot_be_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path());
    let engine = aecl_engine::Engine::new(
        std::sync::Arc::new(store),
        crate::support::policy(10, ""),
        crate::support::clock(),
        aecl_engine::EngineConfig::default(),
    );
    let connector = RunsThenLosesTheStore(dir.path().join("aecl.db"));
    let done = engine.execute(crate::support::call("r1", "c1", None), &connector).await.unwrap();
    assert_eq!(done.decided.verdict.decision, aecl_core::Decision::Allow);
    let effect = done.effect.unwrap();
    assert_eq!(effect.state, aecl_engine::EffectState::OutcomeUnknown, "{effect:?}");
    let error = effect.error.unwrap_or_default();
    assert!(error.contains("ran") && error.contains("could not be recorded"), "{error}");
}
