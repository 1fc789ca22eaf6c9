//! Revoked credentials on SQLite: one insert to revoke, one indexed read per request (on
//! the request's own thread: `SqliteStore::read_here`).

use aecl_core::Timestamp;
use aecl_engine::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{backend, to_i64};

pub(super) fn revoke(
    conn: &Connection,
    id: &str,
    at: Timestamp,
    by: &str,
) -> Result<bool, StoreError> {
    let n = conn
        .execute(
            "INSERT INTO revoked_credentials (id, revoked_at, revoked_by) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![id, to_i64(at.0), by],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

pub(super) fn first_revoked(conn: &Connection, ids: &[String]) -> rusqlite::Result<Option<String>> {
    let mut statement = conn.prepare_cached("SELECT id FROM revoked_credentials WHERE id = ?1")?;
    for id in ids {
        let found: Option<String> =
            statement.query_row(params![id], |row| row.get(0)).optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread::{self, ThreadId};

    use aecl_testkit::audit::{ORIGIN, signer};
    use rusqlite::ffi;

    use crate::AuditConfig;
    use crate::sqlite::SqliteStore;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    /// `read_here` reads on the caller's thread; a busy database sends the read to the
    /// blocking pool (whose connections wait for locks), and any other error is the answer.
    #[tokio::test]
    async fn an_inline_read_that_meets_a_lock_is_read_again_where_it_may_wait() {
        let dir = tempfile::tempdir().unwrap();
        let config = AuditConfig { origin: ORIGIN.to_owned(), signer: signer(), publish: None };
        let store = SqliteStore::open(&dir.path().join("aecl.db"), config).unwrap();
        let here = thread::current().id();
        let thread_of = |fail: Option<i32>| {
            let tries = Arc::new(AtomicUsize::new(0));
            let counted = tries.clone();
            let read = move |_: &rusqlite::Connection| -> rusqlite::Result<ThreadId> {
                match fail {
                    Some(code) if counted.fetch_add(1, Ordering::SeqCst) == 0 => Err(failure(code)),
                    _ => Ok(thread::current().id()),
                }
            };
            (read, tries)
        };

        let (read, _) = thread_of(None);
        assert_eq!(store.read_here(read).await.unwrap(), here);
        for busy in [ffi::SQLITE_BUSY, ffi::SQLITE_LOCKED] {
            let (read, tries) = thread_of(Some(busy));
            assert_ne!(store.read_here(read).await.unwrap(), here, "read again elsewhere");
            assert_eq!(tries.load(Ordering::SeqCst), 2);
        }
        let (read, tries) = thread_of(Some(ffi::SQLITE_CORRUPT));
        assert!(store.read_here(read).await.is_err(), "not retried");
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }
}
