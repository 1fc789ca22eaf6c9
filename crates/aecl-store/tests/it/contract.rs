//! The store contract (`aecl_testkit::contract`) on SQLite (with and without caller
//! commits) and on PostgreSQL: every case on a fresh store of each.

mod sqlite {
    /// A store on a new file in a temporary directory, kept as long as the test.
    async fn open() -> (aecl_store::SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (crate::support::sqlite_store(dir.path()), dir)
    }

    aecl_testkit::store_contract!(open());
}

/// The same on SQLite with caller commits on (`writer.rs`): producers that find the writer
/// idle commit their own jobs, the others go through the writer thread, concurrently.
mod sqlite_caller_commits {
    async fn open() -> (aecl_store::SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::support::sqlite_store(dir.path());
        store.set_caller_commits(true);
        (store, dir)
    }

    aecl_testkit::store_contract!(open());
}

mod postgres {
    /// A store on a fresh database of the test PostgreSQL.
    async fn open() -> (aecl_store::PostgresStore, ()) {
        (crate::support::postgres_store().await, ())
    }

    aecl_testkit::store_contract!(open());
}
