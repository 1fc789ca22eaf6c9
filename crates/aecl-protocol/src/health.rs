//! `GET /healthz` (the enforcement state) and `GET /.well-known/jwks.json` (the keys that
//! verify aecl's tokens): the two endpoints that need no token.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether the server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Enforcing (status 200).
    Ok,
    /// Enforcing, but an operator is needed (status 200): see `warnings`.
    Degraded,
    /// Enforcement is impaired and every call is blocked (status 503): see `error`.
    Unhealthy,
}

/// The store's writer of run events and audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditWriter {
    Running,
    /// The last commit failed (a full disk, an I/O error).
    LastCommitFailed,
    /// The write probe did not commit in time.
    Stuck,
    /// Its database file was deleted, replaced or made unwritable, or the writer ended:
    /// every call is blocked until aecl is restarted.
    Failed,
}

/// The enforcement state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Health {
    pub status: HealthStatus,
    /// The policy in force.
    pub policy_revision: String,
    /// Why the last policy reload was refused (the policy above stayed in force), until a
    /// reload succeeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_reload_error: Option<String>,
    /// A real write was just committed through the store (probed at most once a second).
    pub store_reachable: bool,
    /// `ok`, or why the write probe failed.
    pub write_probe: String,
    pub audit_writer: AuditWriter,
    pub signing_key_loaded: bool,
    /// Agent manifests in the policy in force (0: every call is blocked, unhealthy).
    pub agents: usize,
    /// Why the server is unhealthy, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the server is degraded, when it is (sentences; empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `GET /.well-known/jwks.json`: the public keys that verify aecl's own tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One Ed25519 public key (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// The key's id, the `kid` of the tokens it verifies.
    pub kid: String,
    /// The public key, base64url without padding.
    pub x: String,
}
