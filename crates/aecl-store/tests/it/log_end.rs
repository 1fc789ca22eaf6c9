//! The audit log must end where its writer's head does, on both stores: a record removed
//! from the end of `audit_log`, or one written past it, under a running store fails the
//! next append, whether the write probe or an append finds it first, and every append after
//! it, even once the change is undone (sticky), and the health report says why (naming both
//! ends and `aecl audit verify`) until the store is opened again. Nothing is appended
//! meanwhile. Before, the next append filled the hole (or, on PostgreSQL, wrote around a
//! record planted further on), the two ends agreed again, and the store said healthy over
//! a log that no longer verified (red-team round 10, finding 3: SQLite first, PostgreSQL
//! here; its committer appends from the shared head row, so its check runs under that
//! row's lock, in the batch's one statement). The same holds for the newest checkpoint,
//! deleted or replaced (stop 53): the next batch's checkpoint would have covered the records
//! again, and neither the store nor `aecl audit verify` would have shown it.

use std::path::PathBuf;
use std::time::Duration;

use aecl_engine::Store;
use aecl_store::PostgresStore;

use crate::support::{audit_config, plain_commit, record, sqlite_store};

/// `audit_log`'s rows: sequence number, record, chain hash.
type Row = (i64, Vec<u8>, Vec<u8>);

/// A log as stored: `audit_log`'s rows and `audit_checkpoints`' (size, note).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Log {
    rows: Vec<Row>,
    checkpoints: Vec<(i64, String)>,
}

/// A change made to a running store's log with SQL, as an attacker (or a careless
/// operator) with the database would: what it does to the log, and what the refusal must
/// say on SQLite and on PostgreSQL (where the honest log is records 0 and 1, appended one
/// at a time, so under checkpoints of sizes 1 and 2).
struct Case {
    what: &'static str,
    change: fn(&mut Log),
    sqlite: &'static str,
    postgres: &'static str,
}

/// Words of the PostgreSQL refusal for a checkpoint case.
const NEWEST_CHECKPOINT: &str = "the newest checkpoint of the audit log of";

const CASES: &[Case] = &[
    Case {
        what: "the last record removed",
        change: |log| drop(log.rows.pop()),
        sqlite: "ends at sequence 1 but this server's writer wrote it up to 2",
        postgres: "ends at record 0 (chain hash",
    },
    Case {
        what: "the last two records removed",
        change: |log| log.rows.clear(),
        sqlite: "ends at sequence 0 but this server's writer wrote it up to 2",
        postgres: "ends at no record (an empty log) but its head ends at record 1",
    },
    Case {
        what: "a record written just past the end",
        change: |log| log.rows.push((2, b"{}".to_vec(), vec![0])),
        sqlite: "ends at sequence 3 but this server's writer wrote it up to 2",
        postgres: "ends at record 2 (chain hash 00…) but its head ends at record 1",
    },
    Case {
        what: "a record written further on",
        change: |log| log.rows.push((9, b"{}".to_vec(), vec![0])),
        sqlite: "ends at sequence 10 but this server's writer wrote it up to 2",
        postgres: "ends at record 9 (chain hash 00…) but its head ends at record 1",
    },
    Case {
        what: "the last record's chain hash changed",
        change: |log| {
            if let Some(last) = log.rows.last_mut() {
                last.2 = vec![0];
            }
        },
        sqlite: "the chain hash of the audit log's last record (sequence 1) is not the one",
        postgres: "ends at record 1 (chain hash 00…) but its head ends at record 1 (chain hash",
    },
    Case {
        what: "the newest checkpoint removed",
        change: |log| drop(log.checkpoints.pop()),
        sqlite: "signed over its 2 records, but the store holds one of size 1 that this",
        postgres: "signed over its 2 records, but the store holds one of size 1 that it did",
    },
    Case {
        what: "every checkpoint removed",
        change: |log| log.checkpoints.clear(),
        sqlite: "signed over its 2 records, but the store holds none",
        postgres: "signed over its 2 records, but the store holds none",
    },
    Case {
        what: "the newest checkpoint replaced by the one before it",
        change: |log| {
            let older = log.checkpoints[0].1.clone();
            log.checkpoints[1].1 = older;
        },
        sqlite: "signed over its 2 records, but the store holds one of size 2 that this",
        postgres: "signed over its 2 records, but the store holds one of size 2 that it did",
    },
];

/// The database behind a store, reached beside it.
enum Db {
    Sqlite(PathBuf),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn read(&self) -> Log {
        let rows = "SELECT seq, record, chain_hash FROM audit_log ORDER BY seq";
        let checkpoints = "SELECT size, note FROM audit_checkpoints ORDER BY size";
        match self {
            Db::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(rows).unwrap();
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
                let rows = rows.unwrap().map(Result::unwrap).collect();
                let mut stmt = conn.prepare(checkpoints).unwrap();
                let checkpoints = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)));
                Log { rows, checkpoints: checkpoints.unwrap().map(Result::unwrap).collect() }
            }
            Db::Postgres(pool) => Log {
                rows: sqlx::query_as(rows).fetch_all(pool).await.unwrap(),
                checkpoints: sqlx::query_as(checkpoints).fetch_all(pool).await.unwrap(),
            },
        }
    }

    /// How many rows `table` holds.
    async fn count(&self, table: &str) -> i64 {
        let select = format!("SELECT COUNT(*) FROM {table}");
        match self {
            Db::Sqlite(path) => rusqlite::Connection::open(path)
                .unwrap()
                .query_row(&select, [], |r| r.get(0))
                .unwrap(),
            Db::Postgres(pool) => sqlx::query_scalar(&select).fetch_one(pool).await.unwrap(),
        }
    }

    /// Makes `audit_log` and `audit_checkpoints` hold exactly `log`, in one transaction.
    async fn write(&self, log: &Log) {
        match self {
            Db::Sqlite(path) => {
                let mut conn = rusqlite::Connection::open(path).unwrap();
                let tx = conn.transaction().unwrap();
                tx.execute("DELETE FROM audit_log", []).unwrap();
                tx.execute("DELETE FROM audit_checkpoints", []).unwrap();
                for row in &log.rows {
                    tx.execute(
                        "INSERT INTO audit_log (seq, record, chain_hash) VALUES (?1, ?2, ?3)",
                        row.clone(),
                    )
                    .unwrap();
                }
                for checkpoint in &log.checkpoints {
                    tx.execute(
                        "INSERT INTO audit_checkpoints (size, note) VALUES (?1, ?2)",
                        checkpoint.clone(),
                    )
                    .unwrap();
                }
                tx.commit().unwrap();
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                for table in ["audit_log", "audit_checkpoints"] {
                    let delete = format!("DELETE FROM {table}");
                    sqlx::query(&delete).execute(&mut *tx).await.unwrap();
                }
                for (seq, record, chain) in &log.rows {
                    sqlx::query(
                        "INSERT INTO audit_log (seq, record, chain_hash) VALUES ($1, $2, $3)",
                    )
                    .bind(seq)
                    .bind(record)
                    .bind(chain)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                for (size, note) in &log.checkpoints {
                    sqlx::query("INSERT INTO audit_checkpoints (size, note) VALUES ($1, $2)")
                        .bind(size)
                        .bind(note)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                tx.commit().await.unwrap();
            }
        }
    }
}

/// `error` says that the log changed, with the case's words, and what to run.
fn says(error: &str, words: &[&str]) {
    let always = ["something else wrote to or removed from the log", "aecl audit verify"];
    for part in words.iter().chain(&always) {
        assert!(error.contains(part), "`{part}` not in: {error}");
    }
}

/// Past the second for which a write probe's success is reused.
async fn probe_again() {
    tokio::time::sleep(Duration::from_millis(1_100)).await;
}

/// Records 0 and 1 appended by `store`, then `case` made to its log. The next append finds
/// it or, with `probe_first`, the write probe does, and the log is put back at once (so only
/// the probe's finding can stop what follows). From then on every append fails with the
/// case's words, the health report too, and nothing is appended; and it stays so once the
/// log is put back as it was.
async fn stops_every_append_for_good(
    store: &impl Store,
    db: &Db,
    case: &Case,
    words: &[&str],
    probe_first: bool,
) {
    let what = case.what;
    for i in 0..2 {
        store.append_audit(record(0, i)).await.unwrap();
    }
    assert!(store.health().await.is_healthy(), "{what}");
    let honest = db.read().await;
    assert_eq!(honest.checkpoints.len(), 2, "{what}");
    let mut changed = honest.clone();
    (case.change)(&mut changed);
    db.write(&changed).await;
    let mut expected = changed.clone();
    if probe_first {
        probe_again().await;
        let health = store.health().await;
        says(&health.write_probe.clone().unwrap_err(), words);
        db.write(&honest).await;
        expected.clone_from(&honest);
    }
    for i in 2..5 {
        let refused = store.append_audit(record(0, i)).await.unwrap_err().to_string();
        says(&refused, words);
        let health = store.health().await;
        assert!(!health.is_healthy(), "{what}: {health:?}");
        says(health.failed.as_deref().unwrap_or_default(), words);
        says(&health.write_probe.clone().unwrap_err(), words);
    }
    // A decision is refused too (its record could not be appended), and writes nothing.
    let decision = aecl_engine::RunCommit { audit: Some(record(0, 9)), ..plain_commit("r-late") };
    says(&store.commit_run_event(decision).await.unwrap_err().to_string(), words);
    assert_eq!(db.count("runs").await, 0, "{what}: a run was written");
    assert_eq!(db.read().await, expected, "{what}: something was appended or signed");
    // Sticky: the log put back as it was does not make the store trust it again.
    db.write(&honest).await;
    probe_again().await;
    says(&store.append_audit(record(0, 5)).await.unwrap_err().to_string(), words);
    let health = store.health().await;
    says(health.failed.as_deref().unwrap_or_default(), words);
    assert_eq!(db.read().await, honest, "{what}: something was appended or signed");
}

async fn on_sqlite(probe_first: bool) {
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path());
        let db = Db::Sqlite(dir.path().join("aecl.db"));
        stops_every_append_for_good(&store, &db, case, &[case.sqlite], probe_first).await;
    }
}

async fn on_postgres(probe_first: bool) {
    for case in CASES {
        let url = crate::pg::postgres_url().await;
        let store = PostgresStore::open(&url, audit_config()).await.unwrap();
        let db = Db::Postgres(sqlx::PgPool::connect(&url).await.unwrap());
        // The database is named, and both ends are: the head's is the honest record 1.
        let shown = url.rsplit('/').next().unwrap_or_default();
        let ends = if case.postgres.starts_with("signed over") {
            NEWEST_CHECKPOINT
        } else {
            "but its head ends at record 1 (chain hash"
        };
        let words = [case.postgres, ends, shown];
        stops_every_append_for_good(&store, &db, case, &words, probe_first).await;
    }
}

#[tokio::test]
async fn a_sqlite_log_whose_end_moved_stops_every_append_for_good_from_the_next_append() {
    on_sqlite(false).await;
}

#[tokio::test]
async fn a_sqlite_log_whose_end_moved_stops_every_append_for_good_from_the_write_probe() {
    on_sqlite(true).await;
}

#[tokio::test]
async fn a_postgres_log_whose_end_moved_stops_every_append_for_good_from_the_next_append() {
    on_postgres(false).await;
}

#[tokio::test]
async fn a_postgres_log_whose_end_moved_stops_every_append_for_good_from_the_write_probe() {
    on_postgres(true).await;
}

/// Two instances on one database: an instance that last found another's head appends in a
/// transaction that locks the head row and checks it, not in the one-call batch. Both ways
/// through it check the log's end too: the head it left itself (`a`, which appended last)
/// and the head the other left (`b`). Each finds the removed record, and stays stopped.
#[tokio::test]
async fn replicas_that_find_a_postgres_log_whose_end_moved_stop_every_append_for_good() {
    let url = crate::pg::postgres_url().await;
    let db = Db::Postgres(sqlx::PgPool::connect(&url).await.unwrap());
    let a = PostgresStore::open(&url, audit_config()).await.unwrap();
    a.append_audit(record(0, 0)).await.unwrap();
    let b = PostgresStore::open(&url, audit_config()).await.unwrap();
    b.append_audit(record(1, 0)).await.unwrap();
    // `a` finds `b`'s head: from now on it takes the locked transaction.
    a.append_audit(record(0, 1)).await.unwrap();
    let honest = db.read().await;
    assert_eq!(honest.rows.len(), 3);
    let mut changed = honest.clone();
    changed.rows.pop();
    db.write(&changed).await;
    let words = ["ends at record 1 (chain hash", "but its head ends at record 2 (chain hash"];
    for store in [&a, &b] {
        says(&store.append_audit(record(2, 0)).await.unwrap_err().to_string(), &words);
    }
    assert_eq!(db.read().await, changed, "something was appended");
    db.write(&honest).await;
    for store in [&a, &b] {
        says(&store.append_audit(record(2, 1)).await.unwrap_err().to_string(), &words);
        says(store.health().await.failed.as_deref().unwrap_or_default(), &words);
    }
    assert_eq!(db.read().await, honest, "something was appended");
}

/// `audit_head`'s row: size, chain hash, Merkle nodes.
type Head = (i64, Vec<u8>, Vec<u8>);

impl Db {
    async fn head(&self) -> Head {
        let select = "SELECT size, head, nodes FROM audit_head WHERE id = 1";
        match self {
            Db::Sqlite(path) => rusqlite::Connection::open(path)
                .unwrap()
                .query_row(select, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap(),
            Db::Postgres(pool) => sqlx::query_as(select).fetch_one(pool).await.unwrap(),
        }
    }

    /// The whole log put back to `log` under `head`: a state the key signed.
    async fn roll_back(&self, log: &Log, head: &Head) {
        self.write(log).await;
        let update = "UPDATE audit_head SET size = $1, head = $2, nodes = $3 WHERE id = 1";
        match self {
            Db::Sqlite(path) => {
                let update = update.replace('$', "?");
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute(&update, head.clone()).unwrap();
            }
            Db::Postgres(pool) => {
                let (size, chain, nodes) = head;
                let query = sqlx::query(update).bind(size).bind(chain).bind(nodes);
                query.execute(pool).await.unwrap();
            }
        }
    }
}

/// Red team of stop 53 (F1): the log rolled back, while the store runs, to an older state
/// its key signed (records, checkpoints and head all put back as they were after record
/// 0), or emptied to the genesis head. On PostgreSQL the committer took the head for
/// another instance's and appended over it: the records removed were gone without a trace
/// (`verify` passed, a restart accepted it). Now the store refuses, for good, from the next
/// append or the write probe, and appends nothing.
async fn refuses_a_log_rolled_back_under_it(
    store: &impl Store,
    db: &Db,
    words: &str,
    emptied: bool,
    probe_first: bool,
) {
    store.append_audit(record(0, 0)).await.unwrap();
    let (older, older_head) = (db.read().await, db.head().await);
    store.append_audit(record(0, 1)).await.unwrap();
    store.append_audit(record(0, 2)).await.unwrap();
    let (log, head) = if emptied {
        (Log { rows: Vec::new(), checkpoints: Vec::new() }, (0, vec![0; 32], Vec::new()))
    } else {
        (older, older_head)
    };
    db.roll_back(&log, &head).await;
    if probe_first {
        probe_again().await;
        says(&store.health().await.write_probe.clone().unwrap_err(), &[words]);
    }
    for i in 3..5 {
        says(&store.append_audit(record(0, i)).await.unwrap_err().to_string(), &[words]);
    }
    says(store.health().await.failed.as_deref().unwrap_or_default(), &[words]);
    assert_eq!(db.read().await, log, "something was appended over the rolled-back log");
}

#[tokio::test]
async fn a_log_rolled_back_under_a_running_store_stops_every_append_for_good() {
    for (emptied, probe_first) in [(false, false), (true, false), (false, true)] {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path());
        let db = Db::Sqlite(dir.path().join("aecl.db"));
        let words = "this server's writer wrote it up to 3";
        refuses_a_log_rolled_back_under_it(&store, &db, words, emptied, probe_first).await;
        let url = crate::pg::postgres_url().await;
        let store = PostgresStore::open(&url, audit_config()).await.unwrap();
        let db = Db::Postgres(sqlx::PgPool::connect(&url).await.unwrap());
        let words = "no longer holds the history this instance appended: it left 3 records";
        refuses_a_log_rolled_back_under_it(&store, &db, words, emptied, probe_first).await;
    }
}

/// Two instances on one PostgreSQL log, rolled back under both to a state signed before
/// either's last batch: both refuse.
#[tokio::test]
async fn replicas_refuse_a_postgres_log_rolled_back_under_them() {
    let url = crate::pg::postgres_url().await;
    let db = Db::Postgres(sqlx::PgPool::connect(&url).await.unwrap());
    let a = PostgresStore::open(&url, audit_config()).await.unwrap();
    a.append_audit(record(0, 0)).await.unwrap();
    let (older, older_head) = (db.read().await, db.head().await);
    let b = PostgresStore::open(&url, audit_config()).await.unwrap();
    b.append_audit(record(1, 0)).await.unwrap();
    a.append_audit(record(0, 1)).await.unwrap();
    db.roll_back(&older, &older_head).await;
    for store in [&a, &b] {
        let refused = store.append_audit(record(2, 0)).await.unwrap_err().to_string();
        says(&refused, &["no longer holds the history this instance appended"]);
    }
    assert_eq!(db.read().await, older, "something was appended");
}

/// Red team of stop 53 (F5): triggers that drop the rows a batch writes (`RAISE(IGNORE)`)
/// had the batch's record acknowledged and never stored. The writer now checks the log's
/// end after its own writes, before it commits: the append fails, and every later one.
#[tokio::test]
async fn a_sqlite_trigger_dropping_the_batchs_rows_fails_the_append() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path());
    let db = Db::Sqlite(dir.path().join("aecl.db"));
    store.append_audit(record(0, 0)).await.unwrap();
    let honest = db.read().await;
    let conn = rusqlite::Connection::open(dir.path().join("aecl.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER skip_log BEFORE INSERT ON audit_log BEGIN SELECT RAISE(IGNORE); END;
         CREATE TRIGGER skip_checkpoint BEFORE INSERT ON audit_checkpoints
             BEGIN SELECT RAISE(IGNORE); END;
         CREATE TRIGGER skip_head BEFORE UPDATE ON audit_head BEGIN SELECT RAISE(IGNORE); END;",
    )
    .unwrap();
    for i in 1..3 {
        let refused = store.append_audit(record(0, i)).await.unwrap_err().to_string();
        says(&refused, &["this server's writer wrote it up to 2"]);
    }
    conn.execute_batch(
        "DROP TRIGGER skip_log; DROP TRIGGER skip_checkpoint; DROP TRIGGER skip_head;",
    )
    .unwrap();
    says(&store.append_audit(record(0, 3)).await.unwrap_err().to_string(), &["wrote it up to"]);
    assert_eq!(db.read().await, honest, "a record was acknowledged or kept");
}
