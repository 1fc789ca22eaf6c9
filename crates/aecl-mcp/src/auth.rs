//! Who the client of an HTTP gateway is: an aecl agent token (`aecl token issue --agent`)
//! in `Authorization: Bearer`, checked with the same code as `aecl serve`
//! (`aecl_engine::identity::verify`, through its cache of verified tokens), whose subject
//! is the agent every call of the request is made as. A refusal is a 401 with a
//! `WWW-Authenticate: Bearer` challenge naming the protected-resource metadata (RFC 9728),
//! as the MCP authorization spec asks.
//!
//! INVARIANT: the agent comes from a verified token only, never from the request's body or
//! another header; and a session started by one agent is never continued by another.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aecl_audit::VerifierKey;
use aecl_core::Timestamp;
use aecl_engine::identity::{Claims, Role, TokenCache};

/// Why a client was refused; the message never repeats the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No usable credential: 401.
    Unauthenticated(String),
    /// A valid token that may not do this (another agent's session, an asserted agent):
    /// 403.
    Forbidden(String),
}

impl Refusal {
    /// Why, in words (never the credential).
    pub fn why(&self) -> &str {
        match self {
            Refusal::Unauthenticated(why) | Refusal::Forbidden(why) => why,
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unauthenticated(_) => 401,
            Refusal::Forbidden(_) => 403,
        }
    }
}

/// How HTTP clients are authenticated.
#[derive(Debug)]
pub struct ClientAuth {
    key: VerifierKey,
    /// Tokens verified before: a client sends its token with every request.
    verified: TokenCache,
    /// The one agent this gateway serves, when `--agent` asserted it.
    only: Option<String>,
    /// The agent of each open session, by session id.
    sessions: Mutex<HashMap<String, String>>,
}

/// Sessions held at most; past it the oldest are not tracked and their requests are
/// refused (404, as for an unknown session), so memory stays bounded.
const MAX_SESSIONS: usize = 10_000;

impl ClientAuth {
    /// Tokens verified by `key`; `only`, when given, is the one agent accepted.
    pub fn new(key: VerifierKey, only: Option<String>) -> ClientAuth {
        ClientAuth { key, verified: TokenCache::default(), only, sessions: Mutex::default() }
    }

    /// The claims of the agent an `Authorization` header value authenticates at `now`;
    /// `has_manifest` says whether the policy in force has a manifest for an agent. The
    /// caller then checks them against the policy's lifetime limit and the revoked
    /// credentials, as every front end does (`Engine::check_credentials`).
    pub fn agent(
        &self,
        authorization: Option<&[u8]>,
        has_manifest: impl Fn(&str) -> bool,
        now: Timestamp,
    ) -> Result<Claims, Refusal> {
        let token = bearer(authorization)?;
        let claims = self
            .verified
            .verify(&self.key, token, now)
            .map_err(|e| Refusal::Unauthenticated(e.to_string()))?;
        if claims.role != Role::Agent {
            return Err(Refusal::Unauthenticated(format!(
                "an agent token is needed, not one of role `{}`",
                claims.role.as_str()
            )));
        }
        if !has_manifest(&claims.sub) {
            return Err(Refusal::Unauthenticated(format!(
                "the token's agent `{}` has no manifest in the policy",
                claims.sub
            )));
        }
        if let Some(only) = &self.only
            && *only != claims.sub
        {
            return Err(Refusal::Forbidden(format!(
                "this gateway serves agent `{only}` only, not `{}`",
                claims.sub
            )));
        }
        Ok(claims)
    }

    /// Binds a new session to `agent`.
    pub fn open(&self, session: &str, agent: &str) {
        let mut sessions = self.lock();
        if sessions.len() < MAX_SESSIONS {
            sessions.insert(session.to_owned(), agent.to_owned());
        }
    }

    /// Whether `agent` may use `session`: `None` when the session is unknown.
    pub fn check(&self, session: &str, agent: &str) -> Option<Result<(), Refusal>> {
        let sessions = self.lock();
        let owner = sessions.get(session)?;
        Some(if owner == agent {
            Ok(())
        } else {
            Err(Refusal::Forbidden(format!(
                "this session belongs to another agent than the token's `{agent}`"
            )))
        })
    }

    /// Forgets a closed session.
    pub fn close(&self, session: &str) {
        self.lock().remove(session);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The token of a `Bearer` header value.
fn bearer(value: Option<&[u8]>) -> Result<&str, Refusal> {
    let refuse = |why: &str| Err(Refusal::Unauthenticated(why.to_owned()));
    let Some(value) = value else {
        return refuse(
            "no `Authorization: Bearer <token>` header (make an agent token with `aecl token issue --agent`)",
        );
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return refuse("the Authorization header is not text");
    };
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => refuse("expected `Authorization: Bearer <token>`"),
    }
}

#[cfg(test)]
mod tests {
    use aecl_audit::SignerKey;
    use aecl_engine::identity::Claims;

    use super::*;

    fn policy(agent: &str) -> bool {
        ["a", "b"].contains(&agent)
    }

    fn token(key: &SignerKey, subject: &str, role: Role) -> String {
        let claims = Claims::new(key, subject, role, Timestamp(1_000), 60, format!("j-{subject}"));
        format!("Bearer {}", aecl_engine::identity::issue(key, &claims))
    }

    #[test]
    fn only_a_valid_agent_token_of_a_known_agent_is_an_agent() {
        let key = SignerKey::from_seed("aecl.test/mcp", [5; 32]).expect("a key");
        let auth = ClientAuth::new(key.verifier(), None);
        let now = Timestamp(2_000);
        let agent = |value: &str| auth.agent(Some(value.as_bytes()), policy, now);
        assert_eq!(agent(&token(&key, "a", Role::Agent)).map(|c| c.sub), Ok("a".to_owned()));
        let lower = token(&key, "a", Role::Agent).replacen("Bearer", "bearer", 1);
        assert_eq!(agent(&lower).map(|c| c.sub), Ok("a".to_owned()));
        let refused = [
            token(&key, "nobody", Role::Agent),
            token(&key, "a", Role::Approver),
            token(&key, "a", Role::Admin),
            token(
                &SignerKey::from_seed("aecl.test/mcp", [6; 32]).expect("a key"),
                "a",
                Role::Agent,
            ),
            token(&key, "a", Role::Agent).replacen("Bearer ", "Basic ", 1),
            "Bearer ".to_owned(),
            "Bearer aecl1.e30.AAAA".to_owned(),
        ];
        for value in refused {
            assert!(matches!(agent(&value), Err(Refusal::Unauthenticated(_))), "{value}");
        }
        assert!(matches!(auth.agent(None, policy, now), Err(Refusal::Unauthenticated(_))));
        let late = Timestamp(62_000);
        let expired = auth.agent(Some(token(&key, "a", Role::Agent).as_bytes()), policy, late);
        assert!(matches!(expired, Err(Refusal::Unauthenticated(_))));
        let only = ClientAuth::new(key.verifier(), Some("b".to_owned()));
        let other = only.agent(Some(token(&key, "a", Role::Agent).as_bytes()), policy, now);
        assert!(matches!(other, Err(Refusal::Forbidden(_))));
    }

    #[test]
    fn a_session_is_continued_by_its_own_agent_only() {
        let key = SignerKey::from_seed("aecl.test/mcp", [5; 32]).expect("a key");
        let auth = ClientAuth::new(key.verifier(), None);
        auth.open("s1", "a");
        assert_eq!(auth.check("s1", "a"), Some(Ok(())));
        assert!(matches!(auth.check("s1", "b"), Some(Err(Refusal::Forbidden(_)))));
        assert_eq!(auth.check("s2", "a"), None);
        auth.close("s1");
        assert_eq!(auth.check("s1", "a"), None);
    }
}
