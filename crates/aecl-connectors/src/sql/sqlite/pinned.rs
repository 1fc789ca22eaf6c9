//! The SQLite file a `sql` connector was given, held to the file it was when first seen.
//!
//! The connector opens its database anew for every call, by name. The start-up check keeps
//! aecl's own files out of its reach (`private_places.rs`), but a name is only a name: an
//! agent that could write the database's directory (a shell connector's writable bind)
//! replaced the file by a link to aecl's store while the server ran, read every grant and
//! approval through its `select`s, and reset a spent grant with an `UPDATE` (red team round
//! 29, tamper H1). So the file's real path and identity (device and inode) are taken when
//! the connector is built (or at its first open, for a file made later), and every open
//! goes to that real path, refuses a link in its last component (`SQLITE_OPEN_NOFOLLOW`),
//! and checks, before and after SQLite opens it, that the file there is still the one
//! pinned. A database moved, replaced or linked is an error naming it, never another file.
//! So is a journal or WAL beside it that is a link (SQLite writes through it).

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rusqlite::{Connection, OpenFlags};

/// A SQLite database file, pinned to its first identity.
#[derive(Debug)]
pub struct SqliteFile {
    /// As configured.
    path: PathBuf,
    /// Where it really is, as the start-up check placed it (`real_path.rs`): a file made
    /// later must be there, and no link (second pass, T-H1: a database missing at start was
    /// made later as a link to aecl's store, and pinned as the store).
    placed: PathBuf,
    pin: OnceLock<Pin>,
}

/// Where the file really is, and which file it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pin {
    real: PathBuf,
    identity: (u64, u64),
}

/// The files SQLite keeps beside a database, by suffix.
const BESIDE: [&str; 3] = ["-journal", "-wal", "-shm"];

impl SqliteFile {
    /// The file at `path`, pinned now when it exists.
    pub fn new(path: PathBuf) -> SqliteFile {
        let placed = crate::real_path::real_path(&path);
        let file = SqliteFile { path, placed, pin: OnceLock::new() };
        if let Ok(pin) = file.look() {
            let _ = file.pin.set(pin);
        }
        file
    }

    /// The real path and identity of what is at the configured path now.
    fn look(&self) -> Result<Pin, String> {
        let real = std::fs::canonicalize(&self.path).map_err(|e| self.error(&e.to_string()))?;
        if real != self.placed {
            return Err(self.error(&format!(
                "it resolves to `{}`, not `{}` where it was at start; nothing was executed",
                real.display(),
                self.placed.display()
            )));
        }
        let meta = std::fs::symlink_metadata(&real).map_err(|e| self.error(&e.to_string()))?;
        if !meta.is_file() {
            return Err(self.error("not a regular file"));
        }
        Ok(Pin { real, identity: (meta.dev(), meta.ino()) })
    }

    fn error(&self, why: &str) -> String {
        format!("opening SQLite database `{}`: {why}", self.path.display())
    }

    /// Opens the pinned file for reading and writing (never creating one), or an error
    /// when the file there is not the one pinned.
    pub fn open(&self) -> Result<Connection, String> {
        let pin = match self.pin.get() {
            Some(pin) => pin.clone(),
            None => {
                let pin = self.look()?;
                self.pin.get_or_init(|| pin).clone()
            }
        };
        self.check(&pin)?;
        let conn = Connection::open_with_flags(
            &pin.real,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )
        .map_err(|e| self.error(&e.to_string()))?;
        // Again with the file open: a swap between the check and SQLite's own open is
        // seen here, before any statement reads or writes it.
        self.check(&pin)?;
        Ok(conn)
    }

    /// Whether the pinned path still holds the pinned file, with no link beside it.
    fn check(&self, pin: &Pin) -> Result<(), String> {
        let meta = std::fs::symlink_metadata(&pin.real).map_err(|e| self.error(&e.to_string()))?;
        if !meta.is_file() || (meta.dev(), meta.ino()) != pin.identity {
            return Err(self.error(&format!(
                "`{}` is no longer the file the connector started with (moved, replaced or \
                 linked); nothing was executed",
                pin.real.display()
            )));
        }
        for suffix in BESIDE {
            let mut beside = pin.real.clone().into_os_string();
            beside.push(suffix);
            if std::fs::symlink_metadata(&beside).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(self.error(&format!(
                    "`{}` is a symbolic link, which SQLite would write through; nothing was \
                     executed",
                    Path::new(&beside).display()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(path: &Path) {
        Connection::open(path).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    }

    #[test]
    fn a_database_replaced_by_a_link_or_another_file_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let (db, other) = (dir.path().join("users.db"), dir.path().join("store.db"));
        database(&db);
        database(&other);
        let file = SqliteFile::new(db.clone());
        file.open().unwrap();
        // Replaced by a link to another database.
        std::fs::rename(&db, dir.path().join("moved.db")).unwrap();
        std::os::unix::fs::symlink(&other, &db).unwrap();
        let error = file.open().unwrap_err();
        assert!(error.contains("no longer the file"), "{error}");
        // Replaced by another regular file.
        std::fs::remove_file(&db).unwrap();
        std::fs::copy(&other, &db).unwrap();
        assert!(file.open().unwrap_err().contains("no longer the file"));
        // The pinned file back in place opens again.
        std::fs::remove_file(&db).unwrap();
        std::fs::rename(dir.path().join("moved.db"), &db).unwrap();
        file.open().unwrap();
    }

    #[test]
    fn a_database_missing_at_start_and_made_later_as_a_link_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let (db, store) = (dir.path().join("users.db"), dir.path().join("store.db"));
        database(&store);
        let file = SqliteFile::new(db.clone());
        std::os::unix::fs::symlink(&store, &db).unwrap();
        let error = file.open().unwrap_err();
        assert!(error.contains("not `") && error.contains("where it was at start"), "{error}");
        // Made later as a file of its own, it is pinned then.
        std::fs::remove_file(&db).unwrap();
        database(&db);
        file.open().unwrap();
    }

    #[test]
    fn a_journal_that_is_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("users.db");
        database(&db);
        let file = SqliteFile::new(db.clone());
        std::os::unix::fs::symlink(
            dir.path().join("elsewhere"),
            dir.path().join("users.db-journal"),
        )
        .unwrap();
        let error = file.open().unwrap_err();
        assert!(error.contains("users.db-journal"), "{error}");
    }

    #[test]
    fn a_directory_link_in_the_path_is_followed_only_as_it_was_at_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("real")).unwrap();
        std::fs::create_dir_all(dir.path().join("store")).unwrap();
        database(&dir.path().join("real/users.db"));
        database(&dir.path().join("store/users.db"));
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("data")).unwrap();
        let file = SqliteFile::new(dir.path().join("data/users.db"));
        file.open().unwrap();
        // The directory link pointed elsewhere: the pinned real path is still opened.
        std::fs::remove_file(dir.path().join("data")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("store"), dir.path().join("data")).unwrap();
        let conn = file.open().unwrap();
        let path: String = conn.query_row("PRAGMA database_list", [], |row| row.get(2)).unwrap();
        assert!(path.ends_with("real/users.db"), "{path}");
    }
}
