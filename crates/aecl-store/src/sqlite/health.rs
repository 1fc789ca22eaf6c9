//! Whether the SQLite file the writer commits to is still the database.
//!
//! The writer keeps one open connection. If the file is deleted (or renamed, or replaced
//! by another file) under a running server, SQLite keeps writing to the open, unlinked
//! inode: every commit "succeeds", nothing reaches the path, and after a restart a fresh,
//! empty log starts at sequence 0 and verifies. So the writer compares, after every
//! commit, the device and inode behind the path (and behind its `-wal` file) with those it
//! opened, and asks the kernel whether the path may still be written (`access`: a
//! read-only mount, an immutable file, a removed write permission). The commit that finds
//! the file gone went to the unlinked inode and is answered as failed, so no acknowledged
//! record is lost. Two `stat`s and an `access` cost a few microseconds against a commit's
//! fsync, so no rate limit is needed. The first failure is sticky: every later batch is
//! refused before it writes, every call is blocked, and the reason is logged once at
//! `error`, until the operator restarts aecl.
//! (Nothing can be appended to the audit log about it: the log is what is gone.)
//!
//! The audit log itself is checked the same way: before a batch appends, the stored log
//! must end where the writer's own does (`log_ends_where_the_writer_left_it`). A row
//! deleted from the end, or one written past it by something else, is a failure that is
//! just as sticky: otherwise the next append would fill the hole, the two ends would
//! agree again, and the health check would say ok over a log that no longer verifies.
//!
//! The file is never opened again to check it: closing a second descriptor of a SQLite
//! file would drop the process's POSIX locks on it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use aecl_engine::StoreError;

use super::{SqliteStore, exec};
use crate::backend;

/// A file's identity: device and inode.
type FileId = (u64, u64);

#[derive(Debug)]
pub(crate) struct FileHealth {
    path: PathBuf,
    wal: PathBuf,
    identity: FileId,
    /// The `-wal` file's identity, learnt when it is first seen (SQLite creates it at the
    /// first transaction and keeps it while a connection is open).
    wal_identity: Mutex<Option<FileId>>,
    /// Why every write is refused, once something was found wrong.
    failed: Mutex<Option<String>>,
    /// The last commit's error, `None` after a commit that succeeded.
    last_commit_error: Mutex<Option<String>>,
    /// The last write probe and when it ran (`/healthz` probes at most once a second).
    pub(crate) probe: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl FileHealth {
    /// The health of the database at `path`, just opened by the writer.
    pub(crate) fn new(path: &Path) -> Result<FileHealth, StoreError> {
        let meta = std::fs::metadata(path)
            .map_err(|e| StoreError::Backend(format!("cannot stat {}: {e}", path.display())))?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(FileHealth {
            path: path.to_owned(),
            wal: PathBuf::from(wal),
            identity: (meta.dev(), meta.ino()),
            wal_identity: Mutex::new(None),
            failed: Mutex::new(None),
            last_commit_error: Mutex::new(None),
            probe: tokio::sync::Mutex::new(None),
        })
    }

    /// The device and inode of the database file as opened.
    pub(crate) fn identity(&self) -> FileId {
        self.identity
    }

    /// Why every write is refused, if it is.
    pub(crate) fn failed(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn last_commit_error(&self) -> Option<String> {
        self.last_commit_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Records how the last commit ended.
    pub(crate) fn committed(&self, error: Option<&str>) {
        *self.last_commit_error.lock().unwrap_or_else(PoisonError::into_inner) =
            error.map(str::to_owned);
    }

    /// Makes every later write fail with `reason` (sticky, as for a file found gone),
    /// logged once. For a log found changed under the writer.
    pub(crate) fn fail(&self, reason: &str) {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        if failed.is_none() {
            tracing::error!(
                path = %self.path.display(),
                %reason,
                "the audit log was changed under aecl's writer: every call is blocked until \
                 the log is restored and aecl restarted"
            );
            *failed = Some(reason.to_owned());
        }
    }

    /// Ok while the path is still the database the writer writes and may be written;
    /// otherwise the (sticky) reason.
    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(reason) = self.failed() {
            return Err(reason);
        }
        let Some(reason) = self.problem() else { return Ok(()) };
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        if failed.is_none() {
            tracing::error!(
                path = %self.path.display(),
                %reason,
                "the SQLite database is gone from under aecl: every call is blocked until \
                 aecl is restarted (this cannot be recorded in the audit log, which is in \
                 that file)"
            );
            *failed = Some(reason.clone());
        }
        Err(failed.clone().unwrap_or(reason))
    }

    fn problem(&self) -> Option<String> {
        let path = self.path.display();
        match std::fs::metadata(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Some(format!("the database file {path} was deleted or moved"));
            }
            Err(e) => return Some(format!("cannot stat the database file {path}: {e}")),
            Ok(meta) if (meta.dev(), meta.ino()) != self.identity => {
                return Some(format!(
                    "the database file {path} was replaced by another file (device and inode \
                     differ from the file aecl opened)"
                ));
            }
            Ok(_) => {}
        }
        if let Some(problem) = self.wal_problem() {
            return Some(problem);
        }
        writable(&self.path).err().map(|why| {
            format!("the database file {path} can no longer be written ({why}): a restart could not open it")
        })
    }

    /// The `-wal` file deleted or replaced once it existed.
    fn wal_problem(&self) -> Option<String> {
        let mut known = self.wal_identity.lock().unwrap_or_else(PoisonError::into_inner);
        let found = std::fs::metadata(&self.wal).ok().map(|m| (m.dev(), m.ino()));
        match (*known, found) {
            (None, found) => {
                *known = found;
                None
            }
            (Some(_), None) => {
                Some(format!("the database's write-ahead log {} was deleted", self.wal.display()))
            }
            (Some(was), Some(now)) if was != now => Some(format!(
                "the database's write-ahead log {} was replaced by another file",
                self.wal.display()
            )),
            (Some(_), Some(_)) => None,
        }
    }
}

/// Whether the kernel would let this process open `path` for writing (`access(2)`, which
/// opens nothing).
#[cfg(target_os = "linux")]
fn writable(path: &Path) -> Result<(), &'static str> {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).map_err(|errno| errno.desc())
}

#[cfg(not(target_os = "linux"))]
fn writable(_: &Path) -> Result<(), &'static str> {
    Ok(())
}

/// Where the writer left the log: the sequence number after its last record, that
/// record's chain hash, and the checkpoint it signed over them (none for an empty log).
#[derive(Debug, Clone, Copy)]
pub(super) struct WriterEnd<'a> {
    pub size: u64,
    pub head: &'a aecl_audit::Hash,
    pub checkpoint: Option<&'a str>,
}

/// Whether the audit log as stored ends where the writer left it (before the rows of the
/// batch being committed): its last record is the writer's (sequence number and chain
/// hash) and its newest checkpoint is the one the writer signed last. A record past that
/// end was written by something else (an attacker with the file, a process that bypassed
/// the writer lock), a record missing before it or an edited chain hash was removed or
/// changed, and a missing or edited newest checkpoint was deleted or replaced: an append
/// would extend a log that no longer verifies, and its new checkpoint would cover the
/// records again, hiding the deletion. The writer runs this in every batch, the health
/// probe's included, and makes a mismatch sticky (`FileHealth::fail`). One statement of
/// index steps, however long the log.
pub(super) fn log_ends_where_the_writer_left_it(
    conn: &rusqlite::Connection,
    own: WriterEnd<'_>,
) -> Result<(), String> {
    type Ends = (Option<i64>, Option<Vec<u8>>, Option<i64>, Option<String>);
    let (last_seq, last_chain, checkpoint_size, checkpoint): Ends = conn
        .prepare_cached(
            "SELECT (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1),
                    (SELECT chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1),
                    (SELECT size FROM audit_checkpoints ORDER BY size DESC LIMIT 1),
                    (SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1)",
        )
        .and_then(|mut stmt| {
            stmt.query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        })
        .map_err(|e| format!("cannot read the end of the audit log: {e}"))?;
    let stored_end = last_seq.map_or(0, |seq| u64::try_from(seq).unwrap_or(0).saturating_add(1));
    let changed = if stored_end != own.size {
        format!(
            "the audit log ends at sequence {stored_end} but this server's writer wrote it up \
             to {}",
            own.size
        )
    } else if own.size > 0 && last_chain.as_deref() != Some(own.head.as_slice()) {
        format!(
            "the chain hash of the audit log's last record (sequence {}) is not the one this \
             server's writer wrote",
            own.size - 1
        )
    } else if checkpoint.as_deref() != own.checkpoint {
        let found = match checkpoint_size {
            Some(size) => format!("one of size {size} that this server's writer did not sign"),
            None => "none".to_owned(),
        };
        format!(
            "the newest checkpoint of the audit log should be the one this server's writer \
             signed over its {} records, but the store holds {found}",
            own.size
        )
    } else {
        return Ok(());
    };
    Err(format!(
        "{changed}: something else wrote to or removed from the log, so no record can be \
         appended; every call is blocked until the log is \
         restored and aecl restarted (check the log with `aecl audit verify`)"
    ))
}

/// `/healthz` runs a real write through the writer at most this often.
pub(super) const PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) async fn health(store: &SqliteStore) -> aecl_engine::StoreHealth {
    let health = &store.inner.health;
    // The file as it is now, even between commits.
    let _ = health.check();
    let write_probe = if let Some(reason) = health.failed() {
        Err(reason)
    } else {
        let mut probe = health.probe.lock().await;
        match &*probe {
            // Only a success is reused: a failing store is probed again every time,
            // so it is seen healthy as soon as it is.
            Some((at, Ok(()))) if at.elapsed() < PROBE_EVERY => Ok(()),
            _ => {
                // A real write through the writer, committed (with the writer's file
                // checks) like any call's: a row of its own in `rate_limits`, whose
                // keys are otherwise `agent:` and `action:`.
                let result = store
                    .write(|batch| {
                        exec(
                            batch.conn,
                            "INSERT INTO rate_limits (key, tat) VALUES ('aecl:healthz', 0)
                             ON CONFLICT (key) DO UPDATE SET tat = tat + 1",
                            [],
                        )
                        .map_err(backend)
                        .map(|_| ())
                    })
                    .await
                    .map_err(|e| e.to_string());
                // And a read, as every request makes one (the revocation check): the writer's
                // connection may still commit from pages it holds while the readers find the
                // file broken (red team round 20, audit F5: a `-wal` emptied in place left
                // every call blocked and the health check saying ok).
                let result = match result {
                    Ok(()) => store
                        .read_here(|conn| {
                            super::revocation::first_revoked(conn, &["aecl:healthz".to_owned()])
                        })
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("a read of the store failed: {e}")),
                    failed => failed,
                };
                *probe = Some((Instant::now(), result.clone()));
                result
            }
        }
    };
    aecl_engine::StoreHealth {
        failed: health.failed(),
        last_commit_error: health.last_commit_error(),
        write_probe,
    }
}
