//! `POST /v1/tokens/revoke` (admin tokens): revoking a token or an agent key.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What to revoke: exactly one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// A token's `jti` (printed by `aecl token issue`).
    #[serde(default)]
    pub token: Option<String>,
    /// An agent key's id (its tokens' `kid`, printed by `aecl keys generate --agent`).
    #[serde(default)]
    pub agent_key: Option<String>,
}

/// The answer: the store's id of what was revoked, and whether it was new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Revoked {
    /// `jti:<id>` or `kid:<id>`.
    pub revoked: String,
    /// False when it was revoked already.
    pub new: bool,
}
