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

/// The same on PostgreSQL (red team of stop 53, F2): a trigger that drops the log's rows, or
/// the committer's function replaced by one that answers "appended" and writes nothing, had
/// calls acknowledged with no record stored, and `verify` pass over what was left. A store
/// refuses such a schema at open, the reader (`aecl audit verify`) too, and a running store
/// finds it within a second (its own check before a batch, and the write probe): every
/// later append is refused.
#[tokio::test]
async fn a_postgres_schema_changed_under_the_log_is_refused_and_stops_a_running_store() {
    use aecl_store::PostgresStore;
    let fake = "CREATE OR REPLACE FUNCTION aecl_append_audit_signed_end(
        p_size BIGINT, p_head BYTEA, p_nodes BYTEA, p_checkpoint TEXT, p_seqs BIGINT[],
        p_records BYTEA[], p_chain BYTEA[], p_new_size BIGINT, p_note TEXT, p_new_head BYTEA,
        p_new_nodes BYTEA, OUT outcome TEXT, OUT last_seq BIGINT, OUT last_chain BYTEA)
        LANGUAGE plpgsql AS $$ BEGIN outcome := 'appended'; END $$";
    let trigger = "CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RETURN NULL; END $$;
        CREATE TRIGGER keep_out BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION drop_row()";
    let elsewhere = format!(
        "CREATE SCHEMA evil; CREATE TABLE evil.aecl_schema AS TABLE public.aecl_schema;
         DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = evil, public',
             current_database()); END $$; {trigger}"
    );
    let settings = "ALTER FUNCTION aecl_append_audit_at_end(BIGINT, BYTEA, BYTEA, BIGINT[],
        BYTEA[], BYTEA[], BIGINT, TEXT, BYTEA, BYTEA) SET search_path = public";
    let unlogged = "ALTER TABLE audit_log SET UNLOGGED";
    // Red team of stop 53, second pass: the same through another search path (N1), a
    // function's own settings (N2), and an unlogged table (N5).
    for (change, why) in [
        (fake, "aecl_append_audit_signed_end was replaced"),
        (trigger, "triggers on audit_log (keep_out)"),
        (elsewhere.as_str(), "triggers on audit_log (keep_out)"),
        (settings, "aecl_append_audit_at_end is missing or has settings of its own"),
        (unlogged, "audit_log no longer ordinary, logged tables"),
    ] {
        let url = crate::pg::postgres_url().await;
        let store = PostgresStore::open(&url, audit_config()).await.unwrap();
        store.append_audit(record(0, 0)).await.unwrap();
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::raw_sql(change).execute(&pool).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        for i in 1..3 {
            let refused = store.append_audit(record(0, i)).await.unwrap_err().to_string();
            assert!(refused.contains(why), "{refused}");
        }
        let health = store.health().await;
        assert!(health.failed.as_deref().unwrap_or_default().contains(why), "{health:?}");
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM audit_log").fetch_one(&pool).await.unwrap();
        assert_eq!(count, 1, "{why}: a record was acknowledged");
        let opened = PostgresStore::open(&url, audit_config()).await.unwrap_err().to_string();
        assert!(opened.contains(why), "{opened}");
        let read = PostgresStore::open_reader(&url).await.unwrap_err().to_string();
        assert!(read.contains(why), "{read}");
    }
}
