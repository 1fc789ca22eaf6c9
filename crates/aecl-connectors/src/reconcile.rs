//! Reconciliation on the connectors' side: after a crash (or a timeout) left an effect
//! `outcome_unknown`, each connector that keeps a durable trace of its changes says from
//! the target whether the change landed (see `aecl_engine::reconcile`). Nothing here
//! executes a call again.
//!
//! - `sql`: the undo record a reversible write inserts into `aecl_undo` in the statement's
//!   own transaction is the proof: present (and matching its digest, for the same table
//!   and kind of statement) means the transaction committed; absent means it did not, and
//!   a fence row is written under the effect's id in its place so that a transaction
//!   still in flight can never commit later (its own insert collides with the fence). The
//!   target rows are compared with the record's post-image and the difference, if any,
//!   is part of the evidence (a later rollback then answers `undo_conflict`).
//! - `fs`: see `fs::FsConnector::reconcile_effect`: the intent record written before the
//!   change, compared with the file's content.
//! - everything else cannot tell (`Undecidable`): an HTTP request or a shell command leaves
//!   no trace aecl could read back.

use aecl_engine::Reconciled;
use serde_json::{Value, json};

use crate::sql::statement::Write;
use crate::sql::{UndoFound, UndoRecord, sha256_hex, token_for};

/// `Undecidable` with `reason` as its evidence.
pub(crate) fn undecidable(reason: &str) -> Reconciled {
    Reconciled::Undecidable { evidence: json!({ "reason": reason }) }
}

/// The verdict on a SQL effect from what its backend found in `aecl_undo`.
pub(crate) fn sql_evidence(
    effect_id: &str,
    write: &Write,
    found: Result<UndoFound, String>,
) -> Reconciled {
    let (text, digest, undone, changed) = match found {
        Err(error) => return undecidable(&format!("the database could not be read: {error}")),
        Ok(UndoFound::Fenced { now }) => {
            return Reconciled::NotLanded {
                evidence: json!({
                    "undo_record": "absent",
                    "fence": if now { "written" } else { "found" },
                    "detail": "the statement's transaction never committed; the fence keeps it from committing later",
                }),
            };
        }
        Ok(UndoFound::Record { text, digest, undone, changed }) => (text, digest, undone, changed),
    };
    if sha256_hex(text.as_bytes()) != digest {
        return undecidable("the undo record does not match its digest (edited in the database?)");
    }
    let record: UndoRecord<Value> = match serde_json::from_str(&text) {
        Ok(record) => record,
        Err(e) => return undecidable(&format!("the undo record cannot be read: {e}")),
    };
    // The record must be the one this statement would have written: the same kind of
    // write on the same table.
    if record.kind != write.kind || record.table != write.table {
        return undecidable("the undo record under this effect's id is for another statement");
    }
    let rows = record.pre.len().max(record.post.len());
    Reconciled::Landed {
        result: json!({ "rows_affected": rows }),
        rollback_token: Some(token_for(effect_id, &text)),
        evidence: json!({
            "undo_record": "found",
            "sha256": digest,
            "table": record.table,
            "rows": rows,
            "undone_since": undone,
            "target_rows": match &changed {
                None => "as the statement left them".to_owned(),
                Some(detail) => format!("changed since: {detail}"),
            },
        }),
    }
}
