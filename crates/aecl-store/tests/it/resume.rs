//! A writer resumes only a log whose stored head is exactly what the newest stored
//! checkpoint signed (red-team findings F1 and F2): an attacker who can write the database
//! but does not hold the key forges or edits records, recomputes the chain hashes and the
//! head with the crate's own chain and Merkle functions (they need no secret), removes or
//! swaps checkpoints, and restarts the store. Before, the writer resumed from the forged
//! head and signed a checkpoint over it at the next commit, and the log verified. Now the
//! store refuses to open, names the database and the check, and signs nothing; a
//! consistent cut-back to an older signed state is the one change the store alone cannot
//! see (published checkpoints do).
//!
//! Each case runs on SQLite and on PostgreSQL, at start and under a running writer.

use std::path::Path;

use aecl_audit::{AuditRecord, LogState, SignerKey, sign_checkpoint, verify_log};
use aecl_core::Decision;
use aecl_engine::{Store, StoreError};
use aecl_store::{PostgresStore, SqliteStore};

use crate::support::{ORIGIN, audit_config, record, verifier};

/// Records the honest writer appends: one commit, and one checkpoint, each.
const N: usize = 6;

/// The audit tables as stored: records (seq, bytes, chain hash), checkpoints (size,
/// note) and the head row (size, chain hash, Merkle nodes).
#[derive(Debug, Clone, PartialEq)]
struct Tables {
    records: Vec<(i64, Vec<u8>, Vec<u8>)>,
    checkpoints: Vec<(i64, String)>,
    head: Option<(i64, Vec<u8>, Vec<u8>)>,
}

/// The honest log's record `i`; record 2 was blocked.
fn honest(i: usize) -> AuditRecord {
    let mut r = record(0, i);
    if i == 2 {
        r.decision = Some(Decision::Block);
    }
    r
}

// ---- What the attacker can do without the key ----

/// Recomputes every chain hash and the head from the records' bytes, as a forger does.
fn rechain(t: &mut Tables) {
    let mut log = LogState::new();
    for (_, bytes, chain) in &mut t.records {
        *chain = log.append_canonical(bytes.clone()).chain_hash.to_vec();
    }
    t.head = Some(head_row(&log));
}

fn head_row(log: &LogState) -> (i64, Vec<u8>, Vec<u8>) {
    (log.next_seq() as i64, log.head().to_vec(), log.range().nodes().concat())
}

/// Record `seq`'s canonical bytes after `edit`, numbered `to`.
fn edited(t: &Tables, seq: usize, to: usize, edit: impl FnOnce(&mut AuditRecord)) -> Vec<u8> {
    let mut r = AuditRecord::from_canonical(&t.records[seq].1).unwrap();
    edit(&mut r);
    r.seq = to as u64;
    r.to_canonical().unwrap()
}

/// F1: an edited copy of record 2 (blocked) appended as record N, allowed.
fn forge_allow(t: &mut Tables) {
    let bytes = edited(t, 2, N, |r| r.decision = Some(Decision::Allow));
    t.records.push((N as i64, bytes, Vec::new()));
    rechain(t);
}

/// The state of the first `size` records, as their chain gives it.
fn state_of(t: &Tables, size: usize) -> LogState {
    let mut log = LogState::new();
    for (_, bytes, _) in &t.records[..size] {
        log.append_canonical(bytes.clone());
    }
    log
}

type Case = (&'static str, fn(&mut Tables));

/// Each change must stop the store from opening.
const REFUSED: &[Case] = &[
    ("F1: a forged record appended, chain and head recomputed", forge_allow),
    ("F2: a record edited, checkpoints deleted, chain and head recomputed", |t| {
        t.records[1].1 = edited(t, 1, 1, |r| r.decision = Some(Decision::Allow));
        t.checkpoints.clear();
        rechain(t);
    }),
    ("a record edited, chain and head recomputed, checkpoints kept", |t| {
        t.records[1].1 = edited(t, 1, 1, |r| r.agent = "someone-else".into());
        rechain(t);
    }),
    ("a forged record appended and its checkpoint signed by another key", |t| {
        forge_allow(t);
        let forger = SignerKey::from_seed(ORIGIN, [0x66; 32]).unwrap();
        let log = state_of(t, N + 1);
        let note = sign_checkpoint(&log.checkpoint(ORIGIN, None), &forger).unwrap();
        t.checkpoints.push((N as i64 + 1, note));
    }),
    ("a forged record appended and every checkpoint deleted", |t| {
        forge_allow(t);
        t.checkpoints.clear();
    }),
    ("the newest checkpoint deleted", |t| {
        t.checkpoints.pop();
    }),
    ("the head rolled back to an older checkpoint's state, records kept", |t| {
        t.head = Some(head_row(&state_of(t, 3)));
    }),
    ("head and checkpoints rolled back, records beyond kept", |t| {
        t.head = Some(head_row(&state_of(t, 3)));
        t.checkpoints.truncate(3);
    }),
    ("the head row deleted", |t| t.head = None),
    ("the checkpoints emptied, records and head kept", |t| t.checkpoints.clear()),
    ("a record appended past the head, the head kept", |t| {
        let bytes = edited(t, 2, N, |r| r.decision = Some(Decision::Allow));
        let chain = state_of(t, N).append_canonical(bytes.clone()).chain_hash.to_vec();
        t.records.push((N as i64, bytes, chain));
    }),
    ("the last record deleted", |t| {
        t.records.pop();
    }),
    ("the head's chain hash changed", |t| {
        if let Some(head) = &mut t.head {
            head.1 = vec![7; 32];
        }
    }),
];

/// Changes the store alone cannot tell from an honest log.
const ACCEPTED: &[Case] = &[
    ("nothing changed", |_| {}),
    // A restored older copy: `--checkpoint-dir` and `aecl audit verify --checkpoints` see it.
    ("a consistent cut back to an older checkpoint's state", |t| {
        t.records.truncate(3);
        t.checkpoints.truncate(3);
        t.head = Some(head_row(&state_of(t, 3)));
    }),
];

fn assert_refused(result: Result<(), StoreError>, db: &str, what: &str) {
    let Err(StoreError::Corrupt(why)) = result else { panic!("{what}: not refused: {result:?}") };
    for part in ["refusing to resume the audit log of", db, "aecl audit verify", "restore"] {
        assert!(why.contains(part), "{what}: `{part}` not in: {why}");
    }
}

/// No checkpoint covers more than the honest writer appended.
fn nothing_signed_past(t: &Tables, size: usize, what: &str) {
    assert!(t.checkpoints.iter().all(|(s, _)| *s as usize <= size), "{what}: {:?}", t.checkpoints);
}

// ---- SQLite ----

fn sqlite_tables(path: &Path) -> Tables {
    let conn = rusqlite::Connection::open(path).unwrap();
    let records = conn
        .prepare("SELECT seq, record, chain_hash FROM audit_log ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let checkpoints = conn
        .prepare("SELECT size, note FROM audit_checkpoints ORDER BY size")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let head = conn
        .query_row("SELECT size, head, nodes FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .ok();
    Tables { records, checkpoints, head }
}

fn sqlite_write(path: &Path, t: &Tables) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "DELETE FROM audit_log; DELETE FROM audit_checkpoints; DELETE FROM audit_head",
    )
    .unwrap();
    for row in &t.records {
        tx.execute(
            "INSERT INTO audit_log (seq, record, chain_hash) VALUES (?1, ?2, ?3)",
            row.clone(),
        )
        .unwrap();
    }
    for row in &t.checkpoints {
        tx.execute("INSERT INTO audit_checkpoints (size, note) VALUES (?1, ?2)", row.clone())
            .unwrap();
    }
    if let Some(head) = &t.head {
        tx.execute(
            "INSERT INTO audit_head (id, size, head, nodes) VALUES (1, ?1, ?2, ?3)",
            head.clone(),
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// An accepted store takes an honest record on top of the log, and the whole verifies.
async fn extends_honestly(store: &impl Store, what: &str) {
    store.append_audit(honest_record()).await.unwrap();
    let records = store.audit_records(0, 100).await.unwrap();
    let report = verify_log(records, &store.audit_checkpoints().await.unwrap(), &verifier());
    assert!(report.is_ok(), "{what}: {report:?}");
}

async fn append_honest(store: &impl Store) {
    for i in 0..N {
        store.append_audit(honest(i)).await.unwrap();
    }
}

#[tokio::test]
async fn a_sqlite_log_changed_outside_aecl_is_refused_at_start_and_nothing_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("aecl.db");
    append_honest(&SqliteStore::open(&original, audit_config()).unwrap()).await;
    let honest = sqlite_tables(&original);
    assert_eq!(honest.checkpoints.len(), N);
    for (n, (what, change)) in REFUSED.iter().chain(ACCEPTED).enumerate() {
        let path = dir.path().join(format!("case-{n}.db"));
        let conn = rusqlite::Connection::open(&original).unwrap();
        conn.execute("VACUUM INTO ?1", [path.display().to_string()]).unwrap();
        let mut tampered = honest.clone();
        change(&mut tampered);
        sqlite_write(&path, &tampered);
        let opened = SqliteStore::open(&path, audit_config());
        if n < REFUSED.len() {
            assert_refused(opened.map(drop), &path.display().to_string(), what);
            assert_eq!(sqlite_tables(&path), tampered, "{what}: the refused store wrote");
        } else {
            extends_honestly(&opened.unwrap_or_else(|e| panic!("{what}: {e}")), what).await;
        }
    }
}

fn honest_record() -> AuditRecord {
    record(1, 0)
}

/// Rows written by another process while the writer runs never end up inside a checkpoint
/// it signs: it appends to its own state in memory, never to what the file says, and at
/// the next start the head no longer matches.
#[tokio::test]
async fn a_record_forged_under_a_running_sqlite_writer_is_never_signed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aecl.db");
    let store = SqliteStore::open(&path, audit_config()).unwrap();
    append_honest(&store).await;
    let mut tables = sqlite_tables(&path);
    forge_allow(&mut tables);
    sqlite_write(&path, &tables);
    // Its number is taken: the writer's commit fails rather than skip or cover it.
    assert!(store.append_audit(honest_record()).await.is_err());
    nothing_signed_past(&sqlite_tables(&path), N, "under a running writer");
    drop(store);
    let reopened = SqliteStore::open(&path, audit_config()).map(drop);
    assert_refused(reopened, &path.display().to_string(), "after a restart");
    nothing_signed_past(&sqlite_tables(&path), N, "after a restart");
}

// ---- PostgreSQL ----

async fn pg_tables(pool: &sqlx::PgPool) -> Tables {
    let records = sqlx::query_as("SELECT seq, record, chain_hash FROM audit_log ORDER BY seq")
        .fetch_all(pool)
        .await
        .unwrap();
    let checkpoints = sqlx::query_as("SELECT size, note FROM audit_checkpoints ORDER BY size")
        .fetch_all(pool)
        .await
        .unwrap();
    let head = sqlx::query_as("SELECT size, head, nodes FROM audit_head WHERE id = 1")
        .fetch_optional(pool)
        .await
        .unwrap();
    Tables { records, checkpoints, head }
}

async fn pg_write(pool: &sqlx::PgPool, t: &Tables) {
    let mut tx = pool.begin().await.unwrap();
    for table in ["audit_log", "audit_checkpoints", "audit_head"] {
        sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await.unwrap();
    }
    for (seq, bytes, chain) in &t.records {
        sqlx::query("INSERT INTO audit_log (seq, record, chain_hash) VALUES ($1, $2, $3)")
            .bind(seq)
            .bind(bytes)
            .bind(chain)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for (size, note) in &t.checkpoints {
        sqlx::query("INSERT INTO audit_checkpoints (size, note) VALUES ($1, $2)")
            .bind(size)
            .bind(note)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    if let Some((size, head, nodes)) = &t.head {
        sqlx::query("INSERT INTO audit_head (id, size, head, nodes) VALUES (1, $1, $2, $3)")
            .bind(size)
            .bind(head)
            .bind(nodes)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_postgres_log_changed_outside_aecl_is_refused_at_start_and_nothing_is_signed() {
    let url = crate::pg::postgres_url().await;
    let shown = url.rsplit('/').next().unwrap().to_owned();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    append_honest(&PostgresStore::open(&url, audit_config()).await.unwrap()).await;
    let honest = pg_tables(&pool).await;
    assert_eq!(honest.checkpoints.len(), N);
    for (n, (what, change)) in REFUSED.iter().chain(ACCEPTED).enumerate() {
        let mut tampered = honest.clone();
        change(&mut tampered);
        pg_write(&pool, &tampered).await;
        let opened = PostgresStore::open(&url, audit_config()).await;
        if n < REFUSED.len() {
            assert_refused(opened.map(drop), &shown, what);
            assert_eq!(pg_tables(&pool).await, tampered, "{what}: the refused store wrote");
        } else {
            extends_honestly(&opened.unwrap_or_else(|e| panic!("{what}: {e}")), what).await;
        }
    }
}

/// PostgreSQL's committer resumes from the head row at every batch (replicas append in
/// turn): a head recomputed under it by anyone but an instance holding the key fails the
/// batch, and nothing is signed over it.
#[tokio::test]
async fn a_head_recomputed_under_a_running_postgres_committer_is_refused() {
    let url = crate::pg::postgres_url().await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let store = PostgresStore::open(&url, audit_config()).await.unwrap();
    append_honest(&store).await;
    let mut tables = pg_tables(&pool).await;
    let (what, change) = REFUSED[0];
    change(&mut tables);
    pg_write(&pool, &tables).await;
    let Err(StoreError::Backend(why)) = store.append_audit(honest_record()).await else {
        panic!("{what}: appended over a forged head")
    };
    assert!(why.contains("refusing to resume") && why.contains("covers 6 records"), "{why}");
    nothing_signed_past(&pg_tables(&pool).await, N, what);
    // Another instance appending in between is not a forger: its checkpoint vouches for
    // the head it leaves.
    let mut honest = tables.clone();
    honest.records.pop();
    rechain(&mut honest);
    pg_write(&pool, &honest).await;
    let other = PostgresStore::open(&url, audit_config()).await.unwrap();
    other.append_audit(honest_record()).await.unwrap();
    store.append_audit(honest_record()).await.unwrap();
    let records = store.audit_records(0, 100).await.unwrap();
    assert_eq!(records.len(), N + 2);
    let report = verify_log(records, &store.audit_checkpoints().await.unwrap(), &verifier());
    assert!(report.is_ok(), "{report:?}");
}
