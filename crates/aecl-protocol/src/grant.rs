//! Standing grants over the API (`/v1/standing-grants`): the body that gives one and the
//! view of one with its use count.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A condition on the values at one argument path; every value there must meet it, and a
/// path with no value fails it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ArgCondition {
    /// The value is exactly this JSON value.
    Equals(Value),
    /// The value is one of these.
    OneOf(Vec<Value>),
    /// The value is a string ending with this, compared without regard to ASCII case (a
    /// lexical check: a suffix with an `@` is refused, use `email_domain`).
    EndsWith(String),
    /// The value is exactly one e-mail address (`local@domain` or `Name <local@domain>`)
    /// whose domain is this one (`example.com`), or with `*.example.com` any subdomain.
    EmailDomain(String),
    /// The value is a number no greater than this.
    AtMost(f64),
}

/// The body of `POST /v1/standing-grants`: calls of `agent` to `action` whose arguments
/// meet `args` pass without asking, up to `max_uses` times, for `ttl_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    pub agent: String,
    pub action: String,
    /// Argument path → condition.
    pub args: BTreeMap<String, ArgCondition>,
    pub max_uses: u32,
    pub ttl_seconds: u64,
    pub reason: String,
}

/// A standing grant.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StandingGrant {
    pub id: String,
    pub agent: String,
    pub action: String,
    /// Argument path → condition.
    pub args: BTreeMap<String, ArgCondition>,
    pub max_uses: u32,
    pub used: u32,
    pub expires_ms: u64,
    pub revoked_ms: Option<u64>,
    pub created_by: String,
    pub reason: String,
    pub policy_revision: String,
    /// False when the signature does not verify: the grant permits nothing.
    pub signature_valid: bool,
}
