//! A proposed tool call and the small value types that travel with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical::canonical_json;
use crate::resolved::PathView;

/// Milliseconds since the Unix epoch. The core never reads a clock: callers pass `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn from_secs(secs: u64) -> Timestamp {
        Timestamp(secs.saturating_mul(1000))
    }

    pub fn as_millis(self) -> u64 {
        self.0
    }
}

/// What a run declares it is for: the actions its task needs, the tenant and environment it
/// works in, and the resource prefixes it may touch. Empty fields constrain nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Scope {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
            && self.tenant.is_none()
            && self.environment.is_none()
            && self.resources.is_empty()
    }
}

/// Where a client says an argument value came from. A declaration can only make the
/// engine's own provenance stricter, never looser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredSource {
    User,
    TrustedTool,
    Untrusted,
}

/// One proposed invocation of an action.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Call {
    /// The caller's id for this call, unique within the run.
    pub id: String,
    pub agent: String,
    pub run: String,
    pub action: String,
    pub args: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// A single-use value: a call presenting a nonce already seen in the run is a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The tenant, environment and resources this call targets, when the client states them
    /// (the catalog can also name arguments that carry them).
    #[serde(skip_serializing_if = "Scope::is_empty")]
    pub scope: Scope,
    /// Client-declared provenance per argument path.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<String, DeclaredSource>,
    /// What path strings resolve to on the filesystem the call acts on, when the adapter
    /// that built the call could see it (`resolved.rs`). Not part of the digest: it is a
    /// fact about the filesystem, not about what the agent asked for.
    #[serde(skip_serializing_if = "PathView::is_unseen")]
    pub paths: PathView,
}

/// SHA-256 of the canonical JSON of the fields that identify what a call does: agent, run,
/// action and arguments. Grants and idempotency records are bound to it, so changing one
/// argument yields another digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallDigest(pub String);

impl Call {
    pub fn digest(&self) -> CallDigest {
        let identity = serde_json::json!({
            "agent": self.agent,
            "run": self.run,
            "action": self.action,
            "args": self.args,
        });
        let bytes = canonical_json(&identity);
        let hash = Sha256::digest(bytes.as_bytes());
        CallDigest(hex(&hash))
    }
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a `String` cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}
