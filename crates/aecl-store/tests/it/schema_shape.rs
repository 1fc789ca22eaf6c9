//! A database whose schema was changed outside aecl where aecl reads it (red-team round
//! 10, finding 4): a recursive view in place of `audit_log` made `aecl audit verify` and
//! `aecl serve` run forever. Both the store and the reader now check the schema first and
//! refuse, naming what is wrong; a view of one's own under another name is left alone.

use aecl_engine::Store as _;
use aecl_store::SqliteStore;

use crate::support::{audit_config, record, sqlite_store};

const RECURSIVE_VIEW: &str = "ALTER TABLE audit_log RENAME TO audit_log_real;
    CREATE VIEW audit_log AS WITH RECURSIVE r(seq, record, chain_hash) AS
      (SELECT 0, x'7b7d', zeroblob(32) UNION ALL SELECT seq + 1, x'7b7d', zeroblob(32) FROM r)
    SELECT * FROM r";

/// A store with two records, changed by `statements` once closed.
async fn changed(statements: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path());
    store.append_audit(record(0, 0)).await.unwrap();
    store.append_audit(record(0, 1)).await.unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("aecl.db")).unwrap();
    conn.execute_batch(statements).unwrap();
    dir
}

#[tokio::test]
async fn a_view_or_a_trigger_in_aecls_schema_is_refused_before_anything_is_read() {
    for (statements, why) in [
        (RECURSIVE_VIEW, "`audit_log` is a view, not a table"),
        (
            "ALTER TABLE audit_checkpoints RENAME TO c; CREATE VIEW audit_checkpoints AS SELECT * FROM c",
            "`audit_checkpoints` is a view",
        ),
        (
            "CREATE TRIGGER hide AFTER INSERT ON audit_log BEGIN DELETE FROM audit_log; END",
            "it has a trigger, `hide`",
        ),
    ] {
        let dir = changed(statements).await;
        let path = dir.path().join("aecl.db");
        let read = SqliteStore::open_read_only(&path).map(|_| ()).unwrap_err().to_string();
        assert!(read.contains(why) && read.contains("changed outside aecl"), "{read}");
        let opened = SqliteStore::open(&path, audit_config()).map(|_| ()).unwrap_err().to_string();
        assert!(opened.contains(why) && opened.contains("refusing to open"), "{opened}");
    }
}

#[tokio::test]
async fn a_view_of_ones_own_under_another_name_is_left_alone() {
    let dir = changed("CREATE VIEW allowed AS SELECT seq FROM audit_log").await;
    let path = dir.path().join("aecl.db");
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.audit_records(0, 10).unwrap().len(), 2);
    drop(reader);
    let store = SqliteStore::open(&path, audit_config()).unwrap();
    store.append_audit(record(0, 2)).await.unwrap();
}
