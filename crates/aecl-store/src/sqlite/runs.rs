//! Runs on SQLite: loading a run, and the two writes of a call's path, each one job of
//! the writer (one savepoint, one group commit): the commit that records a decision with
//! its admissions, call-id check, grant, effect and record, and the end of an executed
//! call.

use std::sync::Arc;

use aecl_core::limits::gcra;
use aecl_engine::{Admission, CallEnd, Committed, RunCommit, RunSnapshot, StoreError};
use rusqlite::{OptionalExtension, params};

use super::audit::append;
use super::effects::{executed_call, finish, insert_effect};
use super::grants::spend_grant;
use super::{SqliteStore, exec, query_row};
use crate::event_seal::EventSeal;
use crate::{backend, corrupt, to_i64, to_u64};

pub(super) async fn load_run(store: &SqliteStore, run: &str) -> Result<RunSnapshot, StoreError> {
    let run = run.to_owned();
    let seal = store.events().clone();
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
                    .prepare_cached(
                        "SELECT version, event FROM run_events WHERE run = ?1 ORDER BY version",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([&run], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                    .map_err(backend)?;
                for row in rows {
                    let (version, text) = row.map_err(backend)?;
                    events.push(crate::read_event(&seal, &run, events.len(), version, &text)?);
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
    mut commit: RunCommit,
) -> Result<Committed, StoreError> {
    let event = store.events().encode(&commit.run, commit.expected_version + 1, &commit.event)?;
    // Encoded here, on the producer's thread, as `append_audit` does.
    let audit = match &commit.audit {
        Some(record) => Some((record.time, record.to_unsequenced()?)),
        None => None,
    };
    let end = commit.end.take().map(|end| EncodedEnd::new(end, store.events())).transpose()?;
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
        // A read that already ran has its end's events right after its call's, and its
        // effect written ended: one job (a failure rolls back both).
        let mut version = commit.expected_version + 1;
        exec(conn,
            "INSERT INTO run_events (run, version, event) VALUES (?1, ?2, ?3)",
            params![commit.run, to_i64(version), event],
        )
        .map_err(backend)?;
        if let Some(end) = &end {
            version = end.append_events(conn, version)?;
        }
        exec(conn,
            "INSERT INTO runs (run, agent, version) VALUES (?1, ?2, ?3)
             ON CONFLICT (run) DO UPDATE SET version = excluded.version",
            params![commit.run, commit.agent, to_i64(version)],
        )
        .map_err(backend)?;
        match (&commit.effect, &end) {
            (Some(effect), Some(end)) => {
                if effect.id != end.end.effect_id {
                    return Err(corrupt(format!("the end of effect `{}` comes without it", end.end.effect_id)));
                }
                insert_effect(conn, effect, Some((&end.end.end, &end.result)), false)?;
                if commit.admission.iter().any(|a| matches!(a, Admission::Slot { .. })) {
                    exec(conn, "DELETE FROM slots WHERE holder = ?1", [&end.end.slot_holder]).map_err(backend)?;
                }
            }
            (Some(effect), None) => {
                insert_effect(conn, effect, None, false)?;
            }
            (None, Some(end)) => {
                return Err(corrupt(format!("the end of effect `{}` comes without it", end.end.effect_id)));
            }
            (None, None) => {}
        }
        // Last, when nothing of this job can fail any more: the log state cannot be
        // rolled back with the job's savepoint.
        let audit_seq = audit.map(|(time, unsequenced)| append(batch, time, &unsequenced));
        if let Some(end) = end {
            append(batch, end.time, &end.record);
        }
        Ok(Committed::Done { version, audit_seq })
    })
    .await
}

/// A call's end, encoded on the producer's thread as `append_audit` encodes.
/// Its events are sealed by the writer, which alone knows the versions they take.
struct EncodedEnd {
    end: Arc<CallEnd>,
    result: String,
    time: aecl_core::Timestamp,
    record: aecl_audit::Unsequenced,
    seal: EventSeal,
}

impl EncodedEnd {
    fn new(end: Arc<CallEnd>, seal: &EventSeal) -> Result<EncodedEnd, StoreError> {
        Ok(EncodedEnd {
            result: serde_json::to_string(&end.end.result).map_err(|e| corrupt(e.to_string()))?,
            time: end.audit.time,
            record: end.audit.to_unsequenced()?,
            seal: seal.clone(),
            end,
        })
    }

    /// Appends the end's events after `version` of its run; the run's version after them.
    fn append_events(&self, conn: &rusqlite::Connection, version: u64) -> Result<u64, StoreError> {
        let mut version = version;
        for event in &self.end.events {
            version += 1;
            let text = self.seal.encode(&self.end.run, version, event)?;
            exec(
                conn,
                "INSERT INTO run_events (run, version, event) VALUES (?1, ?2, ?3)",
                params![self.end.run, to_i64(version), text],
            )
            .map_err(backend)?;
        }
        Ok(version)
    }

    /// Ends the effect, releases its slots and appends its events after the run's last
    /// one; returns the run's version. Its record is the caller's to append, last.
    fn write(&self, conn: &rusqlite::Connection) -> Result<u64, StoreError> {
        let end = &self.end;
        finish(conn, &end.effect_id, &end.end, &self.result)?;
        exec(conn, "DELETE FROM slots WHERE holder = ?1", [&end.slot_holder]).map_err(backend)?;
        // The one writer: the version read here is the run's last.
        let current: i64 =
            query_row(conn, "SELECT version FROM runs WHERE run = ?1", [&end.run], |r| r.get(0))
                .optional()
                .map_err(backend)?
                .unwrap_or(0);
        let version = self.append_events(conn, to_u64(current)?)?;
        exec(
            conn,
            "INSERT INTO runs (run, agent, version) VALUES (?1, ?2, ?3)
             ON CONFLICT (run) DO UPDATE SET version = excluded.version",
            params![end.run, end.agent, to_i64(version)],
        )
        .map_err(backend)?;
        Ok(version)
    }
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
    let durability = end.durability;
    let end = EncodedEnd::new(Arc::new(end), store.events())?;
    store
        .write_as(durability, move |batch| {
            let version = end.write(batch.conn)?;
            // Last, when nothing of this job can fail any more: the log state cannot be
            // rolled back with the job's savepoint.
            append(batch, end.time, &end.record);
            Ok(version)
        })
        .await
}
