//! The lock that makes a store the one writing process of its SQLite database: an
//! exclusive `flock` on the database file itself, so it follows the file (device and
//! inode), whatever name opened it.
//!
//! The audit log's head and sequence live in the writer's memory: a second writer would
//! fork the chain, or fail every commit after running what it decided. A lock on a file
//! beside the path (`PATH-writer`, as before) let a second server in through a symbolic
//! link (its commits then failed) or a hard link, whose name gives SQLite a write-ahead log
//! of its own: two histories in one file, and acknowledged records lost. So the lock is
//! taken on the database file, and a file with more than one hard link is refused (SQLite
//! finds its log by the name it was given: after a crash, opening the file by its other
//! name would not see the committed frames of the first name's log).
//!
//! `flock` and the POSIX (`fcntl`) locks SQLite takes are independent on Linux, but closing
//! *any* descriptor of a file drops every POSIX lock the process holds on it, SQLite's
//! included. So the descriptor is opened before SQLite's connections and kept until after
//! the last of them has closed (the store and its writer each hold it, each dropping its
//! connection first), and a second store of this process on the same file is refused
//! before a descriptor is opened (`OPEN`). (On NFS, Linux emulates `flock` with POSIX
//! locks; SQLite's WAL mode does not work there anyway.)

use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use aecl_engine::StoreError;
use nix::fcntl::{Flock, FlockArg};

/// A file's identity: device and inode.
pub(crate) type FileId = (u64, u64);

/// The databases this process holds a writer lock on.
static OPEN: Mutex<Vec<FileId>> = Mutex::new(Vec::new());

/// The held lock; released (and the descriptor closed) when dropped.
#[derive(Debug)]
pub(crate) struct WriterLock {
    file: Option<Flock<File>>,
    identity: FileId,
}

impl WriterLock {
    /// The identity of the locked file.
    pub(crate) fn identity(&self) -> FileId {
        self.identity
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Taken off `OPEN` while the descriptor still holds the inode: once it is closed, a
        // new file may get the same inode number, and must not be taken for this one.
        OPEN.lock().unwrap_or_else(PoisonError::into_inner).retain(|id| *id != self.identity);
        drop(self.file.take());
    }
}

/// Takes the writer lock of the database at `path`, creating the file (empty, as SQLite
/// would) when there is none.
pub(crate) fn lock_writer(path: &Path) -> Result<WriterLock, StoreError> {
    let shown = path.display();
    // Before any descriptor is opened: closing one would drop this process's POSIX locks,
    // which its other store holds.
    if let Ok(meta) = std::fs::metadata(path)
        && is_open((meta.dev(), meta.ino()))
    {
        return Err(writing_here(path));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        // SQLite's own default for a new database file.
        .mode(0o644)
        .open(path)
        .map_err(|e| StoreError::Backend(format!("cannot open {shown}: {e}")))?;
    let meta =
        file.metadata().map_err(|e| StoreError::Backend(format!("cannot stat {shown}: {e}")))?;
    let identity = (meta.dev(), meta.ino());
    let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    if open.contains(&identity) {
        // The path was changed to that file since it was looked at: this descriptor cannot
        // be closed without dropping the other store's locks, so it is kept, unused.
        std::mem::forget(file);
        return Err(writing_here(path));
    }
    let file = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        // Closing this descriptor drops no lock of this process's: it has no store on
        // this file (`OPEN`), and aecl reads a database (`open_read_only`) only in the
        // `aecl audit` commands, which open no writer.
        StoreError::Backend(format!(
            "another process writes {shown} ({}): a SQLite store has one writing process, \
             whatever name it opens the file by (a symbolic or hard link is the same file); \
             stop it, or use PostgreSQL for several",
            errno.desc()
        ))
    })?;
    if meta.nlink() > 1 {
        return Err(StoreError::Backend(format!(
            "the database file {shown} has {} hard links: SQLite keeps its write-ahead log by \
             the name it was opened with, so each name would have a log of its own (and a \
             crash's committed records would be missed under the other); remove the other \
             links (`find / -samefile {shown}`) and start again",
            meta.nlink()
        )));
    }
    open.push(identity);
    Ok(WriterLock { file: Some(file), identity })
}

fn is_open(identity: FileId) -> bool {
    OPEN.lock().unwrap_or_else(PoisonError::into_inner).contains(&identity)
}

fn writing_here(path: &Path) -> StoreError {
    StoreError::Backend(format!(
        "another store of this process writes {}, perhaps by another name (a symbolic or hard \
         link is the same file): a SQLite database has one writer; close it first, or use \
         PostgreSQL for several",
        path.display()
    ))
}
