//! The audit records of an engine over a real store, verified, for the tests of approvals
//! and crashes. The engine's own behaviour (decision before dispatch, the effect ledger,
//! idempotent retries, budgets, limits, run ownership) is tested in `aecl-engine/tests/`
//! over the in-memory store.

use aecl_audit::{AuditRecord, verify_log};
use aecl_engine::Store;
use aecl_store::SqliteStore;

use crate::support::verifier;

pub(crate) async fn records(store: &SqliteStore) -> Vec<AuditRecord> {
    let stored = store.audit_records(0, usize::MAX).await.unwrap();
    let checkpoints = store.audit_checkpoints().await.unwrap();
    assert_eq!(verify_log(stored.clone(), &checkpoints, &verifier()).problem, None);
    stored.iter().map(|(_, bytes, _)| AuditRecord::from_canonical(bytes).unwrap()).collect()
}
