//! SQLite reads the revocation check on the request's own thread, through a connection
//! that never waits for a lock (`SqliteStore::read_here`, whose fallback is tested beside
//! it). It must still see what the file holds, whoever wrote it.

use aecl_engine::Store as _;

use crate::support::sqlite_store;

const ID: &str = "jti:t-1";

#[tokio::test]
async fn a_revocation_written_to_the_file_by_another_connection_is_seen_at_the_next_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path());
    let ids = vec![ID.to_owned()];
    assert_eq!(store.revoked_credential(&ids).await.unwrap(), None);
    let other = rusqlite::Connection::open(dir.path().join("aecl.db")).unwrap();
    other
        .execute(
            "INSERT INTO revoked_credentials (id, revoked_at, revoked_by) VALUES (?1, 0, 'root')",
            [ID],
        )
        .unwrap();
    assert_eq!(store.revoked_credential(&ids).await.unwrap().as_deref(), Some(ID));
}
