//! Proof-of-possession tokens: an agent holds an Ed25519 key pair whose public half is in its
//! manifest (`public_keys`), and mints a short JWT for every request (`aecl hook --agent-key`,
//! the Python and TypeScript clients). Nothing long-lived travels, so a session of hours
//! never meets an expiry, and withdrawing the key (`aecl token revoke --agent-key`) stops the
//! agent at its next request.
//!
//! Such a token is `iss` = `sub` = the agent id, `aud` = [`super::AUDIENCE`], lives
//! [`AGENT_ASSERTION_MAX_SECONDS`] at most, and carries a fresh `jti` that the server spends
//! (a replay within its lifetime is refused by the caller, which holds the spent ids).

use aecl_audit::{SignerKey, VerifierKey};
use aecl_core::Timestamp;

use super::jwt::{self, Payload};
use super::{AUDIENCE, Claims, Credential, Role, TokenError, check_time, key_id};

/// The longest life of an agent's own token, in seconds.
pub const AGENT_ASSERTION_MAX_SECONDS: u64 = 300;

/// The id of an agent key: what its tokens name as `kid` and what `aecl token revoke
/// --agent-key` takes.
pub fn agent_key_id(key: &VerifierKey) -> String {
    key_id(key)
}

/// A token for `agent` signed with its own `key`, valid from `now` for `ttl_seconds` (at
/// most [`AGENT_ASSERTION_MAX_SECONDS`]). `jti` must be fresh from a secure random source.
pub fn mint_agent_assertion(
    key: &SignerKey,
    agent: &str,
    now: Timestamp,
    ttl_seconds: u64,
    jti: String,
) -> String {
    let iat = now.0 / 1000;
    let payload = Payload {
        iss: agent.to_owned(),
        sub: agent.to_owned(),
        aud: AUDIENCE.to_owned(),
        iat,
        nbf: iat,
        exp: iat.saturating_add(ttl_seconds.clamp(1, AGENT_ASSERTION_MAX_SECONDS)),
        jti,
        role: Some(Role::Agent),
    };
    jwt::sign(key, &agent_key_id(&key.verifier()), &payload)
}

/// Checks a token `agent` minted with one of `keys` (its manifest's): the `kid` names one
/// of them, the signature verifies, `iss` and `sub` are the agent, it lives no longer than
/// [`AGENT_ASSERTION_MAX_SECONDS`], has a `jti`, and is valid at `now`.
pub fn verify_agent_assertion(
    keys: &[VerifierKey],
    agent: &str,
    token: &str,
    now: Timestamp,
) -> Result<Claims, TokenError> {
    let unverified = jwt::peek(token)?;
    if keys.is_empty() {
        return Err(TokenError::NoAgentKey(agent.to_owned()));
    }
    let Some(kid) = unverified.kid else {
        return Err(TokenError::Malformed("an agent's own token names its key (`kid`)"));
    };
    let Some(key) = keys.iter().find(|key| agent_key_id(key) == kid) else {
        return Err(TokenError::UnknownKey(kid));
    };
    let payload = jwt::verify_eddsa(key, agent, token)?;
    let role = payload.get("role").and_then(serde_json::Value::as_str);
    if role.is_some_and(|role| role != Role::Agent.as_str()) {
        return Err(TokenError::Malformed("an agent's own token is of role `agent`"));
    }
    let claims = jwt::claims(&payload, Role::Agent, Credential::AgentKey(kid))?;
    if claims.sub != agent {
        return Err(TokenError::Malformed("an agent's own token names the agent as `sub`"));
    }
    if claims.jti.is_empty() {
        return Err(TokenError::Malformed("an agent's own token has a `jti`"));
    }
    if claims.ttl_seconds() > AGENT_ASSERTION_MAX_SECONDS {
        return Err(TokenError::TooLong {
            role: "proof-of-possession",
            ttl: claims.ttl_seconds(),
            max: AGENT_ASSERTION_MAX_SECONDS,
        });
    }
    check_time(&claims, now)?;
    Ok(claims)
}
