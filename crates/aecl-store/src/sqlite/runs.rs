//! Runs on SQLite: loading a run, and the two writes of a call's path, each one job of
//! the writer (one savepoint, one group commit): the commit that records a decision with
//! its admissions, call-id check, grant, effect and record, and the end of an executed
//! call.

use aecl_core::limits::gcra;
use aecl_engine::{Admission, CallEnd, Committed, RunCommit, RunSnapshot, StoreError};
use rusqlite::{OptionalExtension, params};

use super::audit::append;
use super::effects::{executed_call, finish, insert_effect};
use super::grants::spend_grant;
use super::{SqliteStore, exec, query_row};
use crate::{backend, corrupt, to_i64, to_u64};

pub(super) async fn load_run(store: &SqliteStore, run: &str) -> Result<RunSnapshot, StoreError> {
    let run = run.to_owned();
    store
        .read(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let agent: Option<String> = tx
                .query_row("SELECT agent FROM runs WHERE run = ?1", [&run], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            let mut events = Vec::new();
            {
                let mut stmt = tx
                    .prepare_cached("SELECT event FROM run_events WHERE run = ?1 ORDER BY version")
                    .map_err(backend)?;
                let rows = stmt.query_map([&run], |r| r.get::<_, String>(0)).map_err(backend)?;
                for row in rows {
                    events.push(crate::decode_event(&row.map_err(backend)?)?);
                }
            }
            tx.commit().map_err(backend)?;
            let version = u64::try_from(events.len()).unwrap_or(u64::MAX);
            Ok(RunSnapshot { agent, version, events })
        })
        .await
}

pub(super) async fn commit_run_event(
    store: &SqliteStore,
    commit: RunCommit,
) -> Result<Committed, StoreError> {
    let event = crate::encode_event(&commit.event)?;
    // Encoded here, on the producer's thread, as `append_audit` does.
    let audit = match &commit.audit {
        Some(record) => Some((record.time, record.to_unsequenced()?)),
        None => None,
    };
    store.write_as(commit.durability, move |batch| {
        let conn = batch.conn;
        let current: i64 = query_row(conn, "SELECT version FROM runs WHERE run = ?1", [&commit.run], |r| r.get(0))
            .optional()
            .map_err(backend)?
            .unwrap_or(0);
        if to_u64(current)? != commit.expected_version {
            return Ok(Committed::Conflict);
        }
        // Check every limit before writing any, so a refusal writes nothing.
        let mut rate_updates = Vec::new();
        for (index, admission) in commit.admission.iter().enumerate() {
            match admission {
                Admission::Rate { key, limit, now } => {
                    let tat: Option<i64> = query_row(conn, "SELECT tat FROM rate_limits WHERE key = ?1", [key], |r| r.get(0))
                        .optional()
                        .map_err(backend)?;
                    let tat = tat.map(to_u64).transpose()?;
                    match gcra(limit, tat, now.0) {
                        Ok(next) => rate_updates.push((key.clone(), next)),
                        Err(wait) => {
                            return Ok(Committed::Refused { index, retry_after_ms: Some(wait) });
                        }
                    }
                }
                Admission::Slot { key, limit, holder, now, .. } => {
                    let held: i64 = query_row(conn,
                            "SELECT COUNT(*) FROM slots WHERE key = ?1 AND expires > ?2 AND holder <> ?3",
                            params![key, to_i64(now.0), holder],
                            |r| r.get(0),
                        )
                        .map_err(backend)?;
                    if to_u64(held)? >= u64::from(*limit) {
                        return Ok(Committed::Refused { index, retry_after_ms: None });
                    }
                }
            }
        }
        // The call's id against the run's executed calls, then its grant: both refuse
        // before anything of this commit is written.
        if let Some(check) = &commit.call_id
            && let Some((effect_id, digest)) = executed_call(conn, &commit.run, &check.call_id)?
        {
            return Ok(Committed::CallIdTaken { effect_id, digest });
        }
        if let Some(grant) = &commit.grant
            && let Err(refusal) = spend_grant(conn, &grant.id, &grant.digest, &grant.revision, grant.at)?
        {
            return Ok(Committed::GrantRefused(refusal));
        }
        for (key, tat) in rate_updates {
            exec(conn,
                "INSERT INTO rate_limits (key, tat) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET tat = excluded.tat",
                params![key, to_i64(tat)],
            )
            .map_err(backend)?;
        }
        for admission in &commit.admission {
            if let Admission::Slot { key, holder, now, expires, .. } = admission {
                exec(conn,
                    "DELETE FROM slots WHERE key = ?1 AND expires <= ?2",
                    params![key, to_i64(now.0)],
                )
                .map_err(backend)?;
                exec(conn,
                    "INSERT OR REPLACE INTO slots (key, holder, expires) VALUES (?1, ?2, ?3)",
                    params![key, holder, to_i64(expires.0)],
                )
                .map_err(backend)?;
            }
        }
        let version = commit.expected_version + 1;
        exec(conn,
            "INSERT INTO run_events (run, version, event) VALUES (?1, ?2, ?3)",
            params![commit.run, to_i64(version), event],
        )
        .map_err(backend)?;
        exec(conn,
            "INSERT INTO runs (run, agent, version) VALUES (?1, ?2, ?3)
             ON CONFLICT (run) DO UPDATE SET version = excluded.version",
            params![commit.run, commit.agent, to_i64(version)],
        )
        .map_err(backend)?;
        if let Some(effect) = &commit.effect {
            insert_effect(conn, effect, false)?;
        }
        // Last, when nothing of this job can fail any more: the log state cannot be
        // rolled back with the job's savepoint.
        let audit_seq = audit.map(|(time, unsequenced)| append(batch, time, &unsequenced));
        Ok(Committed::Done { version, audit_seq })
    })
    .await
}

pub(super) async fn release_slots(store: &SqliteStore, holder: &str) -> Result<(), StoreError> {
    let holder = holder.to_owned();
    store
        .write(move |batch| {
            exec(batch.conn, "DELETE FROM slots WHERE holder = ?1", [&holder]).map_err(backend)?;
            Ok(())
        })
        .await
}

pub(super) async fn finish_call(store: &SqliteStore, end: CallEnd) -> Result<u64, StoreError> {
    // Encoded here, on the producer's thread, as `append_audit` does.
    let result = serde_json::to_string(&end.end.result).map_err(|e| corrupt(e.to_string()))?;
    let events = end.events.iter().map(crate::encode_event).collect::<Result<Vec<_>, _>>()?;
    let (time, unsequenced) = (end.audit.time, end.audit.to_unsequenced()?);
    store
        .write_as(end.durability, move |batch| {
            let conn = batch.conn;
            finish(conn, &end.effect_id, &end.end, &result)?;
            exec(conn, "DELETE FROM slots WHERE holder = ?1", [&end.slot_holder])
                .map_err(backend)?;
            // The one writer: the version read here is the run's last.
            let current: i64 =
                query_row(conn, "SELECT version FROM runs WHERE run = ?1", [&end.run], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(backend)?
                .unwrap_or(0);
            let mut version = to_u64(current)?;
            for event in &events {
                version += 1;
                exec(
                    conn,
                    "INSERT INTO run_events (run, version, event) VALUES (?1, ?2, ?3)",
                    params![end.run, to_i64(version), event],
                )
                .map_err(backend)?;
            }
            exec(
                conn,
                "INSERT INTO runs (run, agent, version) VALUES (?1, ?2, ?3)
             ON CONFLICT (run) DO UPDATE SET version = excluded.version",
                params![end.run, end.agent, to_i64(version)],
            )
            .map_err(backend)?;
            // Last, when nothing of this job can fail any more: the log state cannot be
            // rolled back with the job's savepoint.
            append(batch, time, &unsequenced);
            Ok(version)
        })
        .await
}
