//! Single-use values on SQLite: nonces, and grants spent once by the exact call under
//! the revision they were given for (alone, or with the dispatch of their call's effect),
//! unless a later answer about their call voided them.

use aecl_core::{CallDigest, Revision, Timestamp};
use aecl_engine::{Grant, GrantRefusal, StoreError, Voiding};
use rusqlite::{Connection, OptionalExtension, params};

use super::effects::dispatch;
use super::{SqliteStore, exec, query_row};
use crate::{GrantUsed, backend, to_i64, to_u64};

/// A stored grant: approval id, call digest, policy revision, expiry, when consumed,
/// when voided, signature.
pub(super) type GrantRow =
    (Option<String>, String, String, i64, Option<i64>, Option<i64>, Option<String>);

/// Spends grant `id` for the call with `digest` under `revision`, once.
pub(super) fn spend_grant(
    conn: &Connection,
    id: &str,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Result<Result<Grant, GrantRefusal>, StoreError> {
    let row: Option<GrantRow> = query_row(
        conn,
        "SELECT approval_id, call_digest, policy_revision, expires, consumed_at, voided_at,
                signature
             FROM grants WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
    )
    .optional()
    .map_err(backend)?;
    let Some((approval_id, call_digest, policy_revision, expires, consumed, voided, signature)) =
        row
    else {
        return Ok(Err(GrantRefusal::Unknown));
    };
    let grant = Grant {
        id: id.to_owned(),
        approval_id,
        call_digest: CallDigest(call_digest),
        policy_revision: Revision(policy_revision),
        expires: Timestamp(to_u64(expires)?),
        signature,
    };
    let used = GrantUsed { consumed: consumed.is_some(), voided: voided.is_some() };
    if let Some(refusal) = crate::grant_refusal(&grant, used, digest, revision, at) {
        return Ok(Err(refusal));
    }
    exec(
        conn,
        "UPDATE grants SET consumed_at = ?2
         WHERE id = ?1 AND consumed_at IS NULL AND voided_at IS NULL",
        params![id, to_i64(at.0)],
    )
    .map_err(backend)?;
    Ok(Ok(grant))
}

pub(super) async fn dispatch_effect_with_grant(
    store: &SqliteStore,
    id: &str,
    grant: &str,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Result<Result<(), GrantRefusal>, StoreError> {
    let (id, grant) = (id.to_owned(), grant.to_owned());
    let (digest, revision) = (digest.clone(), revision.clone());
    // INVARIANT: one savepoint: a dispatch that fails undoes the grant's spending.
    store
        .write(move |batch| match spend_grant(batch.conn, &grant, &digest, &revision, at)? {
            Ok(_) => dispatch(batch.conn, &id).map(Ok),
            Err(refusal) => Ok(Err(refusal)),
        })
        .await
}

pub(super) async fn use_nonce(
    store: &SqliteStore,
    scope: &str,
    nonce: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let (scope, nonce) = (scope.to_owned(), nonce.to_owned());
    store.write(move |batch| {
        let n = exec(batch.conn,
                "INSERT INTO nonces (scope, nonce, used_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![scope, nonce, to_i64(at.0)],
            )
            .map_err(backend)?;
        Ok(n == 1)
    })
    .await
}

pub(super) async fn put_grant(store: &SqliteStore, grant: Grant) -> Result<(), StoreError> {
    store.write(move |batch| insert_grant(batch.conn, &grant)).await
}

/// Inserts `grant` in the caller's transaction.
pub(super) fn insert_grant(conn: &Connection, grant: &Grant) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO grants (id, approval_id, call_digest, policy_revision, expires, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            grant.id,
            grant.approval_id,
            grant.call_digest.0,
            grant.policy_revision.0,
            to_i64(grant.expires.0),
            grant.signature
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) async fn consume_grant(
    store: &SqliteStore,
    id: &str,
    digest: &CallDigest,
    revision: &Revision,
    at: Timestamp,
) -> Result<Result<Grant, GrantRefusal>, StoreError> {
    let (id, digest, revision) = (id.to_owned(), digest.clone(), revision.clone());
    store.write(move |batch| spend_grant(batch.conn, &id, &digest, &revision, at)).await
}

pub(super) async fn spent_grant_for_call(
    store: &SqliteStore,
    digest: &CallDigest,
) -> Result<Option<(Grant, Timestamp)>, StoreError> {
    let digest = digest.clone();
    store
        .read(move |conn| {
            let row: Option<(Listed, i64)> = query_row(
                conn,
                "SELECT id, approval_id, policy_revision, expires, signature, consumed_at
                 FROM grants
                 WHERE call_digest = ?1 AND consumed_at IS NOT NULL
                 ORDER BY consumed_at DESC LIMIT 1",
                [&digest.0],
                |r| Ok((listed(r)?, r.get(5)?)),
            )
            .optional()
            .map_err(backend)?;
            row.map(|(listed, consumed)| {
                let grant = grant_of(listed, &digest)?;
                Ok((grant, Timestamp(to_u64(consumed)?)))
            })
            .transpose()
        })
        .await
}

pub(super) async fn grant_for_call(
    store: &SqliteStore,
    digest: &CallDigest,
) -> Result<Option<Grant>, StoreError> {
    let digest = digest.clone();
    store
        .read(move |conn| {
            let row: Option<Listed> = query_row(
                conn,
                "SELECT id, approval_id, policy_revision, expires, signature FROM grants
                 WHERE call_digest = ?1 AND consumed_at IS NULL AND voided_at IS NULL
                 ORDER BY expires DESC LIMIT 1",
                [&digest.0],
                listed,
            )
            .optional()
            .map_err(backend)?;
            row.map(|listed| grant_of(listed, &digest)).transpose()
        })
        .await
}

pub(super) async fn void_grants(
    store: &SqliteStore,
    digest: &CallDigest,
    voiding: Voiding,
) -> Result<Vec<Grant>, StoreError> {
    let digest = digest.clone();
    store.write(move |batch| void_in(batch.conn, &digest, &voiding)).await
}

/// Voids the live grants of the call with `digest` in the caller's transaction; returns
/// them. The one writer makes the read and the update one step.
pub(super) fn void_in(
    conn: &Connection,
    digest: &CallDigest,
    voiding: &Voiding,
) -> Result<Vec<Grant>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, approval_id, policy_revision, expires, signature FROM grants
             WHERE call_digest = ?1 AND consumed_at IS NULL AND voided_at IS NULL
             ORDER BY id",
        )
        .map_err(backend)?;
    let rows = stmt.query_map([&digest.0], listed).map_err(backend)?;
    let mut voided = Vec::new();
    for row in rows {
        voided.push(grant_of(row.map_err(backend)?, digest)?);
    }
    if !voided.is_empty() {
        exec(
            conn,
            "UPDATE grants SET voided_at = ?2, voided_why = ?3
             WHERE call_digest = ?1 AND consumed_at IS NULL AND voided_at IS NULL",
            params![digest.0, to_i64(voiding.at.0), voiding.why],
        )
        .map_err(backend)?;
    }
    Ok(voided)
}

/// A grant's row as the reads by call digest select it: id, approval id, policy revision,
/// expiry, signature.
type Listed = (String, Option<String>, String, i64, Option<String>);

/// Reads the first five columns of `row` as a [`Listed`] grant.
fn listed(row: &rusqlite::Row<'_>) -> rusqlite::Result<Listed> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

/// The grant of call `digest` that `listed` reads.
fn grant_of(listed: Listed, digest: &CallDigest) -> Result<Grant, StoreError> {
    let (id, approval_id, policy_revision, expires, signature) = listed;
    Ok(Grant {
        id,
        approval_id,
        call_digest: digest.clone(),
        policy_revision: Revision(policy_revision),
        expires: Timestamp(to_u64(expires)?),
        signature,
    })
}
