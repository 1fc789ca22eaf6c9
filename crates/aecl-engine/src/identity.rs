//! Who is calling: JSON Web Tokens (RFC 7519) that name a subject (an agent id, or an
//! approver's or administrator's name) and its role. Three issuers are accepted:
//!
//! - aecl itself (`aecl token issue`): EdDSA (Ed25519) signed with the server's token key,
//!   `iss` = the key's name, `aud` = [`AUDIENCE`], a `role` claim; its public key is
//!   published as a JWKS ([`jwks`]).
//! - the company's IdP (`oidc.rs`): people's tokens, checked against the IdP's JWKS, issuer
//!   and audience; the role comes from a claim through a configured mapping.
//! - an agent's own key (`agent_key.rs`): short proof-of-possession tokens the agent mints
//!   per request, checked against the public key in its manifest.
//!
//! Pure: keys, claims and `now` come in; nothing is read from a clock, the environment or a
//! random source (the binary draws token ids). `jsonwebtoken` checks the signature,
//! algorithm, issuer and audience; times are checked here against the injected `now`
//! (the library would read the system clock).
//!
//! The old `aecl1.<claims>.<signature>` form is refused with an error naming the new one.

mod agent_key;
mod cache;
mod jwt;
mod oidc;

use aecl_audit::{SignerKey, VerifierKey};
use aecl_core::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

pub use agent_key::{
    AGENT_ASSERTION_MAX_SECONDS, agent_key_id, mint_agent_assertion, verify_agent_assertion,
};
pub use cache::TokenCache;
pub use jwt::{Unverified, peek};
pub use oidc::{IdpKeys, OidcConfig, verify_idp};

/// The audience of aecl's own tokens and of agents' proof-of-possession tokens.
pub const AUDIENCE: &str = "aecl";

/// Longer inputs are refused before any decoding (IdP tokens with many groups run to a few
/// kilobytes).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// How far clocks may disagree: a token issued up to this far in the future is accepted,
/// and an IdP's token this long after its `exp`.
pub const CLOCK_SKEW_MS: u64 = 60_000;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Proposes calls, only as itself.
    Agent,
    /// Decides approval requests, never for its own calls.
    Approver,
    /// Reads the audit log and metrics.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "agent" => Some(Role::Agent),
            "approver" => Some(Role::Approver),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Which issuer a verified token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Minted by `aecl token issue` with the server's token key.
    Aecl,
    /// Issued by the configured OpenID Connect provider.
    Idp,
    /// Minted by the agent with its own key, whose id ([`agent_key_id`]) this is.
    AgentKey(String),
}

/// The verified content of a token, whatever its issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The issuer: the token key's name, the IdP's URL, or the agent's id.
    pub iss: String,
    /// The agent id (role `agent`) or the person's name.
    pub sub: String,
    pub role: Role,
    /// Issued at, in milliseconds since the Unix epoch (whole seconds on the wire).
    pub iat_ms: u64,
    /// Expires at (exclusive), in milliseconds since the Unix epoch.
    pub exp_ms: u64,
    /// The token's id: `aecl token revoke` names it. Empty for an IdP token without `jti`.
    pub jti: String,
    pub credential: Credential,
}

impl Claims {
    /// Claims for `sub` as `role` from aecl's `key`, valid from `now` (whole seconds) for
    /// `ttl_seconds`. `jti` must be drawn from a secure random source.
    pub fn new(
        key: &SignerKey,
        sub: &str,
        role: Role,
        now: Timestamp,
        ttl_seconds: u64,
        jti: String,
    ) -> Claims {
        let iat = now.0 / 1000;
        Claims {
            iss: key.name().to_owned(),
            sub: sub.to_owned(),
            role,
            iat_ms: iat.saturating_mul(1000),
            exp_ms: iat.saturating_add(ttl_seconds).saturating_mul(1000),
            jti,
            credential: Credential::Aecl,
        }
    }

    /// The lifetime the token was given, in seconds.
    pub fn ttl_seconds(&self) -> u64 {
        self.exp_ms.saturating_sub(self.iat_ms) / 1000
    }
}

/// Why a token is refused. Messages never repeat the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error(
        "`aecl1.` tokens are no longer accepted: aecl tokens are JWTs now (`eyJ...`); mint a new one with `aecl token issue`"
    )]
    Legacy,
    /// The signature does not verify with the issuer's key.
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token was issued by `{0}`, which this server does not accept")]
    OtherIssuer(String),
    #[error("the token is not meant for this server (audience)")]
    WrongAudience,
    #[error("the token's signing algorithm `{0}` is not accepted for its key")]
    Algorithm(String),
    #[error("the token names key `{0}`, which its issuer does not publish")]
    UnknownKey(String),
    #[error("the token expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token has an empty subject")]
    EmptySubject,
    #[error("the token's `{claim}` claim maps to no aecl role")]
    NoRole { claim: String },
    #[error("a {role} token may live {max} s at most; this one lives {ttl} s")]
    TooLong { role: &'static str, ttl: u64, max: u64 },
    #[error("the token was revoked")]
    Revoked,
    #[error("the token was used before: a proof-of-possession token is single-use")]
    Replayed,
    #[error("agent `{0}` has no key in its manifest to check its own tokens with")]
    NoAgentKey(String),
}

/// Signs `claims` into a JWT with aecl's `key` (EdDSA, `kid` = [`key_id`]).
pub fn issue(key: &SignerKey, claims: &Claims) -> String {
    let payload = jwt::Payload {
        iss: claims.iss.clone(),
        sub: claims.sub.clone(),
        aud: AUDIENCE.to_owned(),
        iat: claims.iat_ms / 1000,
        nbf: claims.iat_ms / 1000,
        exp: claims.exp_ms / 1000,
        jti: claims.jti.clone(),
        role: Some(claims.role),
    };
    jwt::sign(key, &key_id(&key.verifier()), &payload)
}

/// Checks an aecl token's form, signature, issuer, audience and validity at `now`, and
/// returns its claims.
pub fn verify(key: &VerifierKey, token: &str, now: Timestamp) -> Result<Claims, TokenError> {
    let payload = jwt::verify_eddsa(key, key.name(), token)?;
    let Some(role) = payload.get("role").and_then(serde_json::Value::as_str).and_then(Role::parse)
    else {
        return Err(TokenError::Malformed("an aecl token names its `role`"));
    };
    let claims = jwt::claims(&payload, role, Credential::Aecl)?;
    if claims.jti.is_empty() {
        return Err(TokenError::Malformed("an aecl token has a `jti`"));
    }
    check_time(&claims, now)?;
    Ok(claims)
}

/// Whether verified `claims` are valid at `now`: not expired, not issued in the future.
/// [`verify`] checks it; a cache of verified tokens checks it again at every use.
pub fn check_time(claims: &Claims, now: Timestamp) -> Result<(), TokenError> {
    let leeway = if claims.credential == Credential::Idp { CLOCK_SKEW_MS } else { 0 };
    if now.0 >= claims.exp_ms.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if claims.iat_ms > now.0.saturating_add(CLOCK_SKEW_MS) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// Refuses claims whose lifetime is longer than `max_seconds` for their role (the policy's
/// `[tokens] max_ttl`): a token minted by an old binary or by hand is not honoured for
/// longer than the policy allows any token to live.
pub fn check_ttl(claims: &Claims, max_seconds: u64) -> Result<(), TokenError> {
    let ttl = claims.ttl_seconds();
    if ttl > max_seconds {
        return Err(TokenError::TooLong { role: claims.role.as_str(), ttl, max: max_seconds });
    }
    Ok(())
}

/// The `kid` of a key: the hex of its C2SP key hash (the name and the public key).
pub fn key_id(key: &VerifierKey) -> String {
    aecl_core::call::hex(&key.key_hash())
}

/// The JSON Web Key Set (RFC 7517) of `keys`: public keys only, as `/.well-known/jwks.json`
/// publishes them.
pub fn jwks(keys: &[&VerifierKey]) -> serde_json::Value {
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": key_id(key),
                "x": URL_SAFE_NO_PAD.encode(key.public_key()),
            })
        })
        .collect();
    serde_json::json!({ "keys": keys })
}

#[cfg(test)]
mod tests;
