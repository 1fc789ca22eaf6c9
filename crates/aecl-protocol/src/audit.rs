//! The audit log over the API (admin tokens): `GET /v1/audit/records` and
//! `GET /v1/audit/checkpoint`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The query of `GET /v1/audit/records`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordsQuery {
    /// The first sequence number to return (default 0).
    #[serde(default)]
    pub since: u64,
    /// How many records at most (default and maximum 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `GET /v1/audit/records`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AuditRecords {
    pub records: Vec<AuditRecord>,
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AuditRecord {
    pub seq: u64,
    /// The record (`docs/audit.md`), parsed from its canonical JSON; text when the stored
    /// bytes are not JSON (verification names such a record).
    #[schemars(with = "AuditRecordBody")]
    pub record: Value,
    /// The chain hash after this record, in hex.
    pub chain_hash: String,
}

/// The schema of a stored record: an object, or the text of bytes that are not JSON.
#[derive(JsonSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "only describes `AuditRecord::record` for the schema")]
enum AuditRecordBody {
    Record(Map<String, Value>),
    Unreadable(String),
}

/// `GET /v1/audit/checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AuditCheckpoint {
    /// The latest signed checkpoint, a C2SP signed note, to keep outside the store and
    /// check with `aecl audit verify --checkpoint`.
    pub checkpoint: String,
}
