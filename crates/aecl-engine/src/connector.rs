//! The connector port: what executes an allowed call. Real connectors (shell, http, fs,
//! sql, webhook) live in `aecl-connectors`; the engine only needs this trait.

use std::future::Future;
use std::pin::Pin;

use aecl_core::Call;
use serde_json::Value;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a connector reports of one execution.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorOutcome {
    /// It happened: the result, and how to undo it when the action is reversible.
    Succeeded { result: Value, rollback_token: Option<String> },
    /// It did not happen (refused by the target, bad request, connection refused before
    /// sending): the call's budget reservation is released.
    Failed { error: String },
    /// It may have happened (the connection broke after sending): recorded as
    /// `outcome_unknown`, never retried by aecl.
    Unknown { error: String },
}

/// Executes calls of the actions bound to it. `effect_id` is unique per execution and
/// stable across retries of the same idempotency key: connectors forward it (or the
/// call's idempotency key) to targets that deduplicate.
pub trait Connector: Send + Sync {
    fn execute<'a>(&'a self, call: &'a Call, effect_id: &'a str)
    -> BoxFuture<'a, ConnectorOutcome>;
}
