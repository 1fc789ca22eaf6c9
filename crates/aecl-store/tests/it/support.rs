//! What the store tests share: fresh stores, a policy, a call, a clock and a counting
//! connector (the signing key and sample audit records come from `aecl-testkit`).

use std::path::Path;

use aecl_store::{AuditConfig, SqliteStore};
use serde_json::json;

pub use aecl_testkit::audit::{ORIGIN, record, signer, verifier};

pub fn audit_config() -> AuditConfig {
    AuditConfig { origin: ORIGIN.to_owned(), signer: signer(), publish: None }
}

/// A store on a fresh database of the test PostgreSQL.
pub async fn postgres_store() -> aecl_store::PostgresStore {
    let url = crate::pg::postgres_url().await;
    aecl_store::PostgresStore::open(&url, audit_config()).await.unwrap()
}

pub fn sqlite_store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("aecl.db"), audit_config()).unwrap()
}

/// A run's first commit with nothing to admit, spend or record (a plain append), ordered.
pub fn plain_commit(run: &str) -> aecl_engine::RunCommit {
    aecl_engine::RunCommit {
        run: run.to_owned(),
        agent: "finance".to_owned(),
        expected_version: 0,
        event: aecl_engine::RunEvent::User { text: format!("first of {run}") },
        admission: vec![],
        effect: None,
        audit: None,
        grant: None,
        call_id: None,
        durability: aecl_engine::Durability::Ordered,
        end: None,
    }
}

/// A one-action policy: agent `worker` may call `put_record` (a reversible write that
/// needs no approval) at most `max_calls` times per run, with `limits` (a TOML table body,
/// or empty) on the action.
pub fn policy(max_calls: u32, limits: &str) -> std::sync::Arc<aecl_core::Policy> {
    policy_with(max_calls, limits, "")
}

pub fn policy_with(
    max_calls: u32,
    limits: &str,
    manifest_extra: &str,
) -> std::sync::Arc<aecl_core::Policy> {
    let manifest = format!(
        "agent_id = \"worker\"\nallowed_actions = [\"put_record\"]\nmax_tool_calls_per_run = {max_calls}\n{manifest_extra}"
    );
    let catalog = format!(
        r#"
[actions.put_record]
effect = "write"
reversibility = "reversible"
compensation = "put_record"
connector = "test"
amount_arg = "value"

[actions.put_record.output]
trust = "trusted"
data_class = "public"

[actions.put_record.limits]
{limits}
"#
    );
    aecl_testkit::policy::load(&manifest, &catalog)
}

/// A connector that counts its executions, remembers their keys and succeeds.
#[derive(Debug, Default)]
pub struct Counting {
    pub executed: std::sync::Mutex<Vec<String>>,
    pub fail: bool,
}

impl aecl_engine::Connector for Counting {
    fn execute<'a>(
        &'a self,
        invocation: aecl_engine::Invocation<'a>,
    ) -> aecl_engine::BoxFuture<'a, aecl_engine::ConnectorOutcome> {
        let call = invocation.call;
        let effect_id = invocation.effect_id;
        Box::pin(async move {
            self.executed.lock().unwrap().push(call.idempotency_key.clone().unwrap_or_default());
            if self.fail {
                return aecl_engine::ConnectorOutcome::Failed { error: "HTTP 503".into() };
            }
            aecl_engine::ConnectorOutcome::Succeeded {
                result: json!({"stored": call.args, "effect": effect_id, "token": "Bearer abcdefghijklmnopqrstuvwxyz012345"}),
                rollback_token: Some(format!("undo:{effect_id}")),
            }
        })
    }
}

/// A call of `put_record` in `run`.
pub fn call(run: &str, id: &str, key: Option<&str>) -> aecl_core::Call {
    aecl_core::Call {
        id: id.into(),
        agent: "worker".into(),
        run: run.into(),
        action: "put_record".into(),
        // A retry under a new call id repeats the same arguments.
        args: json!({"id": key.unwrap_or(id), "value": 1}),
        idempotency_key: key.map(str::to_owned),
        ..aecl_core::Call::default()
    }
}

/// A call of run `r1` writing `value` to record `rec-1`; `id` is the caller's call id.
pub fn write(id: &str, value: i64) -> aecl_core::Call {
    aecl_core::Call {
        id: id.into(),
        agent: "worker".into(),
        run: "r1".into(),
        action: "put_record".into(),
        args: json!({"id": "rec-1", "value": value}),
        ..aecl_core::Call::default()
    }
}

/// A manual clock at a fixed start.
pub fn clock() -> std::sync::Arc<aecl_engine::ManualClock> {
    std::sync::Arc::new(aecl_engine::ManualClock::new(aecl_core::Timestamp(1_764_000_000_000)))
}
