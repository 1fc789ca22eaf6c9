//! Revoked credentials on PostgreSQL: one insert to revoke, one indexed read per batch of
//! requests.

use std::collections::{BTreeSet, HashSet};

use aecl_core::Timestamp;
use aecl_engine::StoreError;
use sqlx::PgPool;

use super::batch::{Batcher, Dedicated, STATEMENT_DEADLINE, every, unanswered};
use crate::{backend, to_i64};

pub(super) async fn revoke(
    pool: &PgPool,
    id: &str,
    at: Timestamp,
    by: &str,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO revoked_credentials (id, revoked_at, revoked_by) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(to_i64(at.0))
    .bind(by)
    .execute(pool)
    .await
    .map_err(backend)?
    .rows_affected();
    Ok(n == 1)
}

/// Starts the task that answers revocation checks, those waiting together with one
/// statement (`batch.rs`): every request of the API and the gateway is checked, so this is
/// on the decision path of each. Each request gets the first of its own ids that is
/// revoked (in its order, as the other stores answer); a request's statement starts after
/// it arrived, so a revocation committed before the request is seen, as before.
pub(super) fn checker(pool: PgPool) -> Batcher<Vec<String>, Option<String>> {
    let answer = |mut conn: Dedicated, requests: Vec<Vec<String>>| async move {
        let answers = match revoked_among(&mut conn, &requests).await {
            Ok(revoked) => {
                let first = |ids: &Vec<String>| -> Option<String> {
                    ids.iter().find(|id| revoked.contains(*id)).cloned()
                };
                requests.iter().map(|ids| Ok(first(ids))).collect()
            }
            Err(error) => every(requests.len(), &error),
        };
        (conn, answers)
    };
    Batcher::spawn("the revocation check", Dedicated::new(pool), answer)
}

/// The ids of `requests` that are revoked, in one statement.
async fn revoked_among(
    conn: &mut Dedicated,
    requests: &[Vec<String>],
) -> Result<HashSet<String>, StoreError> {
    let asked: BTreeSet<&String> = requests.iter().flatten().collect();
    let asked: Vec<&str> = asked.into_iter().map(String::as_str).collect();
    let statement = sqlx::query_scalar("SELECT id FROM revoked_credentials WHERE id = ANY($1)")
        .bind(asked)
        .fetch_all(conn.get().await?);
    let Ok(revoked) = tokio::time::timeout(STATEMENT_DEADLINE, statement).await else {
        conn.discard();
        return Err(unanswered());
    };
    match revoked {
        Ok(revoked) => Ok(revoked.into_iter().collect()),
        Err(error) => {
            conn.failed(&error);
            Err(backend(error))
        }
    }
}

/// The first of `ids` that is revoked, if any.
pub(super) async fn first_revoked(
    checks: &Batcher<Vec<String>, Option<String>>,
    ids: &[String],
) -> Result<Option<String>, StoreError> {
    if ids.is_empty() {
        return Ok(None);
    }
    checks.submit(ids.to_vec()).await
}
