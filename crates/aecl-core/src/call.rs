//! A proposed tool call and the small value types that travel with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical;
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
        // The canonical text of `{"agent", "run", "action", "args"}`, written in its key
        // order without building that object: cloning the arguments into one cost more than
        // hashing them, on every call of every front end.
        let mut text = Vec::with_capacity(96 + self.action.len() + self.run.len());
        text.extend_from_slice(b"{\"action\":");
        canonical::write_scalar(self.action.as_str(), &mut text);
        text.extend_from_slice(b",\"agent\":");
        canonical::write_scalar(self.agent.as_str(), &mut text);
        text.extend_from_slice(b",\"args\":");
        canonical::write_value(&self.args, &mut text);
        text.extend_from_slice(b",\"run\":");
        canonical::write_scalar(self.run.as_str(), &mut text);
        text.push(b'}');
        CallDigest(hex(&Sha256::digest(&text)))
    }

    /// What a rejection's cool-down is kept for: the agent, the action and the arguments,
    /// numbers by their value (`5` and `5.0` are one amount), in any run. The run is the
    /// agent's to choose, and keyed by the call's digest a rejected call asked again in a
    /// new run, or with `5.0` for `5`, filed a new request at once (red team, 2026-11-30):
    /// a looping agent could flood its approvers.
    pub fn cooldown_digest(&self) -> CallDigest {
        let mut text = Vec::with_capacity(64 + self.action.len());
        text.extend_from_slice(b"{\"action\":");
        canonical::write_scalar(self.action.as_str(), &mut text);
        text.extend_from_slice(b",\"agent\":");
        canonical::write_scalar(self.agent.as_str(), &mut text);
        text.extend_from_slice(b",\"args\":");
        canonical::write_value(&by_value(&self.args), &mut text);
        text.push(b'}');
        CallDigest(hex(&Sha256::digest(&text)))
    }

    /// The idempotency key a connector forwards to a target that deduplicates: the
    /// agent's key scoped to its agent and run (`aecl-` and the SHA-256 of the three, in
    /// canonical JSON). Keys are the run's own: forwarded as sent, another agent's call
    /// with the same key, in another run, was dropped by the receiver as a repeat (red
    /// team, 2026-11-30), while a retry of one call still forwards one key.
    pub fn forwarded_key(&self) -> Option<String> {
        let key = self.idempotency_key.as_deref()?;
        let mut text = Vec::with_capacity(16 + self.agent.len() + self.run.len() + key.len());
        text.push(b'[');
        canonical::write_scalar(self.agent.as_str(), &mut text);
        text.push(b',');
        canonical::write_scalar(self.run.as_str(), &mut text);
        text.push(b',');
        canonical::write_scalar(key, &mut text);
        text.push(b']');
        Some(format!("aecl-{}", hex(&Sha256::digest(&text))))
    }
}

/// `value` with each whole number written as an integer (`5.0`, `-0.0`, `1e2`), as far as
/// a double holds integers exactly, and without its `null` members.
fn by_value(value: &Value) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            #[expect(clippy::cast_possible_truncation, reason = "a whole number under 2^53")]
            Some(f) if f.fract() == 0.0 && f.abs() < EXACT => Value::from(f as i64),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(by_value).collect()),
        // A member given as `null` says what leaving it out says (`"note": null`).
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), by_value(v)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            // A nibble is always a hexadecimal digit (lower case from `from_digit`).
            out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;
    use sha2::{Digest, Sha256};

    use super::{Call, hex};
    use crate::canonical::canonical_json;
    use crate::canonical::tests::value;

    proptest! {
        /// The digest is the SHA-256 of the canonical text of the call's identity object,
        /// as it was first defined: grants and idempotency records written before stay bound.
        #[test]
        fn the_digest_is_that_of_the_canonical_identity_object(
            agent in "[a-z_\"é]{0,8}",
            run in "[a-z0-9\\-]{0,12}",
            action in "[a-z._\u{1}]{0,10}",
            args in value(),
        ) {
            let call = Call {
                id: "c".into(),
                agent: agent.clone(),
                run: run.clone(),
                action: action.clone(),
                args: args.clone(),
                idempotency_key: None,
                nonce: None,
                scope: Default::default(),
                provenance: Default::default(),
                paths: Default::default(),
            };
            let identity = json!({"agent": agent, "run": run, "action": action, "args": args});
            let reference = Sha256::digest(canonical_json(&identity).as_bytes());
            let reference: String = reference.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(call.digest().0, reference);
        }

        #[test]
        fn hex_is_lower_case_two_digits_a_byte(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let reference: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(hex(&bytes), reference);
        }
    }
}
