//! Runs and the limits taken with them: a run's events are appended only at the version
//! they were decided against, with every rate limit and concurrency slot checked and taken
//! in the same transaction.
//!
//! Several instances commit to one database, so every check holds a lock until the commit:
//! the run's row (`FOR UPDATE`), each rate limit's row (`FOR UPDATE`) and, for the slots of
//! a key, a transaction-scoped advisory lock on the key (slots are several rows that may not
//! exist yet, so there is no row to lock). Locks are always taken in the same order (the
//! run, then rate keys sorted, then slot keys sorted), so two commits never wait on each
//! other in a cycle.

use std::collections::{BTreeMap, BTreeSet};

use aecl_core::CallDigest;
use aecl_core::limits::gcra;
use aecl_engine::{Admission, CallEnd, Committed, Durability, RunCommit, RunSnapshot, StoreError};
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::batch::{Batcher, Dedicated, STATEMENT_DEADLINE, every, unanswered};
use crate::event_seal::EventSeal;
use crate::{backend, corrupt, to_i64, to_u64};

/// The run's events in order, read in one statement (so one snapshot).
pub(super) async fn load_run(
    pool: &PgPool,
    seal: &EventSeal,
    run: &str,
) -> Result<RunSnapshot, StoreError> {
    let rows = sqlx::query(
        "SELECT r.agent, e.event, e.version FROM runs r LEFT JOIN run_events e ON e.run = r.run
         WHERE r.run = $1 ORDER BY e.version",
    )
    .bind(run)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut agent = None;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        agent = Some(row.try_get::<String, _>(0).map_err(backend)?);
        if let Some(text) = row.try_get::<Option<String>, _>(1).map_err(backend)? {
            let version: i64 = row.try_get(2).map_err(backend)?;
            events.push(crate::read_event(seal, run, events.len(), version, &text)?);
        }
    }
    let version = u64::try_from(events.len()).unwrap_or(u64::MAX);
    Ok(RunSnapshot { agent, version, events })
}

pub(super) async fn commit_run_event(
    pool: &PgPool,
    appends: &Batcher<Append, Committed>,
    seal: &EventSeal,
    commit: RunCommit,
) -> Result<Committed, StoreError> {
    // The version it takes if it commits at all: the one after the version decided on.
    let event = seal.encode(&commit.run, commit.expected_version + 1, &commit.event)?;
    if is_plain_append(&commit) {
        return appends.submit(Append::new(commit, event)).await;
    }
    let mut tx = pool.begin().await.map_err(backend)?;
    ordered(&mut tx, commit.durability).await?;
    let locked = lock_run(&mut tx, &commit.run, &commit.agent, commit.expected_version).await?;
    let decided = match locked {
        Some(current) if current == commit.expected_version => {
            admit(&mut tx, &commit.admission).await?
        }
        _ => Err(Committed::Conflict),
    };
    let rate_updates = match decided {
        Ok(updates) => updates,
        Err(refused) => {
            // A refusal (or a lost race) writes nothing.
            tx.rollback().await.map_err(backend)?;
            return Ok(refused);
        }
    };
    // Under the run's lock: the call's id against the run's executed calls, then its grant
    // (its row locked, after the run's, as everywhere); both refuse before any write.
    if let Some(check) = &commit.call_id {
        let taken: Option<(String, String)> =
            sqlx::query_as("SELECT id, call_digest FROM effects WHERE run = $1 AND call_id = $2")
                .bind(&commit.run)
                .bind(&check.call_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if let Some((effect_id, digest)) = taken {
            tx.rollback().await.map_err(backend)?;
            return Ok(Committed::CallIdTaken { effect_id, digest: CallDigest(digest) });
        }
    }
    if let Some(grant) = &commit.grant
        && let Err(refusal) =
            super::grants::spend_grant(&mut tx, &grant.id, &grant.digest, &grant.revision, grant.at)
                .await?
    {
        tx.rollback().await.map_err(backend)?;
        return Ok(Committed::GrantRefused(refusal));
    }
    for (key, tat) in rate_updates {
        sqlx::query("UPDATE rate_limits SET tat = $2 WHERE key = $1")
            .bind(key)
            .bind(to_i64(tat))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    for admission in &commit.admission {
        if let Admission::Slot { key, holder, now, expires, .. } = admission {
            sqlx::query("DELETE FROM slots WHERE key = $1 AND expires <= $2")
                .bind(key)
                .bind(to_i64(now.0))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query(
                "INSERT INTO slots (key, holder, expires) VALUES ($1, $2, $3)
                 ON CONFLICT (key, holder) DO UPDATE SET expires = excluded.expires",
            )
            .bind(key)
            .bind(holder)
            .bind(to_i64(expires.0))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
    }
    let version = commit.expected_version + 1;
    sqlx::query("INSERT INTO run_events (run, version, event) VALUES ($1, $2, $3)")
        .bind(&commit.run)
        .bind(to_i64(version))
        .bind(event)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sqlx::query("UPDATE runs SET version = $2 WHERE run = $1")
        .bind(&commit.run)
        .bind(to_i64(version))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    if let Some(effect) = &commit.effect {
        super::effects::insert_effect(&mut tx, effect, false).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(Committed::Done { version, audit_seq: None })
}

/// Whether `commit` is a run's next event with nothing else to take or write: no limit to
/// admit, no grant to spend, no effect to record.
fn is_plain_append(commit: &RunCommit) -> bool {
    commit.admission.is_empty() && commit.grant.is_none() && commit.effect.is_none()
}

/// A plain append (see [`is_plain_append`]) waiting for its batch.
#[derive(Debug)]
pub(super) struct Append {
    run: String,
    agent: String,
    expected: u64,
    event: String,
    call_id: Option<String>,
    ordered: bool,
}

impl Append {
    fn new(commit: RunCommit, event: String) -> Append {
        Append {
            run: commit.run,
            agent: commit.agent,
            expected: commit.expected_version,
            event,
            call_id: commit.call_id.map(|check| check.call_id),
            ordered: commit.durability == Durability::Ordered,
        }
    }

    /// The commit's answer from the outcome the database gave.
    fn committed(
        &self,
        outcome: &str,
        effect_id: Option<String>,
        digest: Option<String>,
    ) -> Result<Committed, StoreError> {
        match (outcome, effect_id, digest) {
            ("appended", None, None) => {
                Ok(Committed::Done { version: self.expected + 1, audit_seq: None })
            }
            ("conflict", None, None) => Ok(Committed::Conflict),
            ("call_id_taken", Some(effect_id), Some(digest)) => {
                Ok(Committed::CallIdTaken { effect_id, digest: CallDigest(digest) })
            }
            (outcome, ..) => Err(corrupt(format!("aecl_append_event answered `{outcome}`"))),
        }
    }
}

/// Starts the task that commits plain appends, those waiting together in one round trip
/// (`batch.rs`) instead of six to eight each (`BEGIN`, the run's lock, a new run's row, the
/// call id's check, the event, the version, `COMMIT`): the functions of migrations 007 and
/// 008 make the transaction's checks in the same order under the same locks. Most
/// decisions are such commits (every `/v1/evaluate`, every refusal).
pub(super) fn appender(pool: PgPool) -> Batcher<Append, Committed> {
    let answer = |mut conn: Dedicated, items: Vec<Append>| async move {
        let answers = append_events(&mut conn, &items).await;
        (conn, answers)
    };
    Batcher::spawn("the run-event append", Dedicated::new(pool), answer)
}

/// A row of `aecl_append_events`: the item (from 1), its outcome, and the effect and digest
/// of a call id found taken.
type ItemOutcome = (i32, String, Option<String>, Option<String>);

/// Commits `items`, one answer each in their order.
async fn append_events(
    conn: &mut Dedicated,
    items: &[Append],
) -> Vec<Result<Committed, StoreError>> {
    if let [item] = items {
        return vec![append_event(conn, item).await];
    }
    // Sorted by run: two batches lock their runs' rows in one order (migration 008).
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|a, b| items[*a].run.cmp(&items[*b].run));
    let column = |field: fn(&Append) -> &str| -> Vec<String> {
        order.iter().map(|i| field(&items[*i]).to_owned()).collect()
    };
    let expected: Vec<i64> = order.iter().map(|i| to_i64(items[*i].expected)).collect();
    let call_ids: Vec<Option<String>> = order.iter().map(|i| items[*i].call_id.clone()).collect();
    let rows = sqlx::query_as::<_, ItemOutcome>(
        "SELECT item, item_outcome, item_effect_id, item_digest
         FROM aecl_append_events($1, $2, $3, $4, $5, $6)",
    )
    .bind(column(|a| &a.run))
    .bind(column(|a| &a.agent))
    .bind(expected)
    .bind(column(|a| &a.event))
    .bind(call_ids)
    .bind(items.iter().all(|item| item.ordered));
    let connection = match conn.get().await {
        Ok(connection) => connection,
        Err(error) => return every(items.len(), &error),
    };
    let Ok(rows) = tokio::time::timeout(STATEMENT_DEADLINE, rows.fetch_all(connection)).await
    else {
        conn.discard();
        return every(items.len(), &unanswered());
    };
    match rows {
        Ok(rows) => {
            let mut answers: Vec<Result<Committed, StoreError>> = items
                .iter()
                .map(|_| Err(corrupt("aecl_append_events left an item unanswered")))
                .collect();
            for (item, outcome, effect_id, digest) in rows {
                let original = usize::try_from(item)
                    .ok()
                    .and_then(|i| i.checked_sub(1))
                    .and_then(|i| order.get(i).copied());
                if let Some(i) = original {
                    answers[i] = items[i].committed(&outcome, effect_id, digest);
                }
            }
            answers
        }
        // The database refused the statement: its transaction rolled back, nothing of the
        // batch is written. Each item is tried alone, so that one item's error (a deadlock,
        // a timeout) is not the others'.
        Err(error) if super::batch::refused(&error) => {
            let mut answers = Vec::with_capacity(items.len());
            for item in items {
                answers.push(append_event(conn, item).await);
            }
            answers
        }
        // The connection failed: whether the batch committed is unknown, so each item is
        // answered with the error (a refusal), as a lone commit would be.
        Err(error) => {
            conn.failed(&error);
            every(items.len(), &backend(error))
        }
    }
}

/// One plain append, alone: migration 007's function, its own transaction.
async fn append_event(conn: &mut Dedicated, item: &Append) -> Result<Committed, StoreError> {
    let statement = sqlx::query_as::<_, (String, Option<String>, Option<String>)>(
        "SELECT outcome, effect_id, digest FROM aecl_append_event($1, $2, $3, $4, $5, $6)",
    )
    .bind(&item.run)
    .bind(&item.agent)
    .bind(to_i64(item.expected))
    .bind(&item.event)
    .bind(item.call_id.as_deref())
    .bind(item.ordered)
    .fetch_one(conn.get().await?);
    let Ok(row) = tokio::time::timeout(STATEMENT_DEADLINE, statement).await else {
        conn.discard();
        return Err(unanswered());
    };
    let (outcome, effect_id, digest) = row.map_err(|error| {
        conn.failed(&error);
        backend(error)
    })?;
    item.committed(&outcome, effect_id, digest)
}

/// The end of an executed call, without its audit record (which the caller appends after
/// the commit): its events go after the run's last one, under the run's row lock.
pub(super) async fn finish_call(
    pool: &PgPool,
    seal: &EventSeal,
    end: &CallEnd,
) -> Result<u64, StoreError> {
    let result = serde_json::to_string(&end.end.result).map_err(|e| corrupt(e.to_string()))?;
    let mut tx = pool.begin().await.map_err(backend)?;
    ordered(&mut tx, end.durability).await?;
    let finished = super::effects::finish(&mut tx, &end.effect_id, &end.end, &result).await?;
    if finished != 1 {
        tx.rollback().await.map_err(backend)?;
        return Err(super::effects::transition_error(
            pool,
            &end.effect_id,
            "pending or dispatched",
        )
        .await);
    }
    sqlx::query("DELETE FROM slots WHERE holder = $1")
        .bind(&end.slot_holder)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    // Expecting version 0 makes the run's row if it is missing; either way it is locked.
    let locked = lock_run(&mut tx, &end.run, &end.agent, 0).await?;
    let mut version = locked.ok_or_else(|| corrupt(format!("run `{}` has no row", end.run)))?;
    for event in &end.events {
        version += 1;
        sqlx::query("INSERT INTO run_events (run, version, event) VALUES ($1, $2, $3)")
            .bind(&end.run)
            .bind(to_i64(version))
            .bind(seal.encode(&end.run, version, event)?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    sqlx::query("UPDATE runs SET version = $2 WHERE run = $1")
        .bind(&end.run)
        .bind(to_i64(version))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(version)
}

/// Locks the run's row and returns its version; `None` when the run does not exist and
/// the commit expected it to.
async fn lock_run(
    tx: &mut Transaction<'static, Postgres>,
    run: &str,
    agent: &str,
    expected_version: u64,
) -> Result<Option<u64>, StoreError> {
    let select = "SELECT version FROM runs WHERE run = $1 FOR UPDATE";
    let version: Option<i64> =
        sqlx::query_scalar(select).bind(run).fetch_optional(&mut **tx).await.map_err(backend)?;
    if let Some(version) = version {
        return to_u64(version).map(Some);
    }
    if expected_version != 0 {
        return Ok(None);
    }
    // A new run. Two instances creating it at once: the second insert waits for the first
    // transaction and then does nothing, and the select below sees the first one's version,
    // so only one of them appends at version 0.
    sqlx::query(
        "INSERT INTO runs (run, agent, version) VALUES ($1, $2, 0) ON CONFLICT (run) DO NOTHING",
    )
    .bind(run)
    .bind(agent)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    let version: i64 =
        sqlx::query_scalar(select).bind(run).fetch_one(&mut **tx).await.map_err(backend)?;
    to_u64(version).map(Some)
}

/// Locks every limit of the commit, then checks each in order. Returns the rate limits'
/// new theoretical arrival times to store, or the refusal.
async fn admit(
    tx: &mut Transaction<'static, Postgres>,
    admission: &[Admission],
) -> Result<Result<Vec<(String, u64)>, Committed>, StoreError> {
    let mut rate_keys = BTreeSet::new();
    let mut slot_keys = BTreeSet::new();
    for a in admission {
        match a {
            Admission::Rate { key, .. } => rate_keys.insert(key.as_str()),
            Admission::Slot { key, .. } => slot_keys.insert(key.as_str()),
        };
    }
    // A key never seen gets a row with arrival time 0, which GCRA reads as "no earlier
    // call" (it takes the later of the stored time and now), so that there is a row to lock.
    let mut tats = BTreeMap::new();
    for key in rate_keys {
        sqlx::query(
            "INSERT INTO rate_limits (key, tat) VALUES ($1, 0) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        let tat: i64 = sqlx::query_scalar("SELECT tat FROM rate_limits WHERE key = $1 FOR UPDATE")
            .bind(key)
            .fetch_one(&mut **tx)
            .await
            .map_err(backend)?;
        tats.insert(key, to_u64(tat)?);
    }
    for key in slot_keys {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('aecl.slots:' || $1, 0))")
            .bind(key)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
    }
    // Check every limit before writing any, so a refusal writes nothing. As in SQLite, each
    // check reads the stored state, not the state an earlier admission of this commit would
    // leave.
    let mut rate_updates = Vec::new();
    for (index, a) in admission.iter().enumerate() {
        match a {
            Admission::Rate { key, limit, now } => {
                let tat = tats.get(key.as_str()).copied();
                match gcra(limit, tat, now.0) {
                    Ok(next) => rate_updates.push((key.clone(), next)),
                    Err(wait) => {
                        return Ok(Err(Committed::Refused { index, retry_after_ms: Some(wait) }));
                    }
                }
            }
            Admission::Slot { key, limit, holder, now, .. } => {
                let held: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM slots WHERE key = $1 AND expires > $2 AND holder <> $3",
                )
                .bind(key)
                .bind(to_i64(now.0))
                .bind(holder)
                .fetch_one(&mut **tx)
                .await
                .map_err(backend)?;
                if to_u64(held)? >= u64::from(*limit) {
                    return Ok(Err(Committed::Refused { index, retry_after_ms: None }));
                }
            }
        }
    }
    Ok(Ok(rate_updates))
}

/// An ordered write commits without waiting for its WAL flush (PostgreSQL's asynchronous
/// commit): it is visible at once, and the WAL is flushed in order, so any later synchronous
/// commit is durable only with it.
async fn ordered(
    tx: &mut Transaction<'_, Postgres>,
    durability: Durability,
) -> Result<(), StoreError> {
    if durability == Durability::Ordered {
        sqlx::query("SET LOCAL synchronous_commit TO off")
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
    }
    Ok(())
}
