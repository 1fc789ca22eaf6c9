//! Authentication on every endpoint: a bearer JWT from one of three issuers, chosen by the
//! token's `iss` and then verified with that issuer's key only:
//!
//! - aecl's token key (`aecl token issue`, `--token-key`),
//! - the company's IdP (`--oidc-*`, `auth/idp.rs`): people's tokens,
//! - an agent's own key from its manifest (`public_keys`): short proof-of-possession tokens,
//!   each spent once (`Store::use_nonce`), so a replay within its life is refused.
//!
//! Then, for every request: the role's longest lifetime from the policy (`[tokens]
//! max_ttl`), revocation in the store (the token's `jti` and the agent key; one read, never
//! cached, so every replica refuses a revoked credential at its next request), the caller's
//! role per endpoint, and a rate limit per subject (an agent's from its manifest's
//! `rate_limit`, people's from `--rate-limit`). Every refusal is logged (subject and token
//! id, never the token), counted and recorded in the audit log, rate-limited per caller
//! (`refusals.rs`).

mod idp;

use std::sync::Arc;

use aecl_audit::VerifierKey;
use aecl_core::Timestamp;
use aecl_core::policy::DEFAULT_AGENT_REQUEST_RATE;
use aecl_engine::credentials::CredentialRefused;
use aecl_engine::identity::{self, Claims, Role, TokenError};
use aecl_engine::{Store, StoreError};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

pub use idp::{Idp, IdpError, JwksSource};

use crate::AppState;
use crate::error::ApiError;

/// An authenticated caller: the verified claims of its token.
#[derive(Debug, Clone)]
pub struct Caller(pub Claims);

impl Caller {
    /// The caller's subject: the agent id for agent tokens.
    pub fn subject(&self) -> &str {
        &self.0.sub
    }

    pub fn role(&self) -> Role {
        self.0.role
    }

    /// Refuses (403, recorded) unless the caller has one of `roles`.
    pub async fn require<S: Store>(
        &self,
        state: &AppState<S>,
        roles: &[Role],
        what: &str,
    ) -> Result<(), ApiError> {
        if roles.contains(&self.0.role) {
            return Ok(());
        }
        let wanted: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        let error = ApiError::Forbidden(format!(
            "{what} needs a token of role {}, not `{}`",
            wanted.join(" or "),
            self.0.role.as_str()
        ));
        Err(refuse(state, Some(&self.0), error).await)
    }
}

impl<S: Store> FromRequestParts<Arc<AppState<S>>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Caller, ApiError> {
        let token = match bearer(parts) {
            Ok(token) => token,
            Err(error) => return Err(refuse(state, None, error).await),
        };
        authenticate(state, token).await.map(Caller)
    }
}

/// Verifies `token` (any accepted issuer, lifetime, revocation, replay) and admits its
/// subject through the rate limit. Refusals are recorded.
pub async fn authenticate<S: Store>(state: &AppState<S>, token: &str) -> Result<Claims, ApiError> {
    let now = state.clock.now();
    let claims = match credentials(state, token, now).await {
        Ok(claims) => claims,
        Err(Refused::Token(e)) => {
            return Err(refuse(state, None, ApiError::Unauthenticated(e.to_string())).await);
        }
        Err(Refused::Store(e)) => {
            let error = ApiError::Unavailable(format!("the credential could not be checked: {e}"));
            return Err(refuse(state, None, error).await);
        }
    };
    let limit = match claims.role {
        Role::Agent => Some(
            state
                .engine
                .policy()
                .agents
                .get(&claims.sub)
                .map_or(DEFAULT_AGENT_REQUEST_RATE, |manifest| manifest.request_rate),
        ),
        Role::Approver | Role::Admin => state.config.rate_limit,
    };
    // Per subject, not per token: an agent minting a token per request shares one budget.
    let key = format!("{}:{}", claims.role.as_str(), claims.sub);
    if let Err(retry_after_ms) = state.limiter.admit_with(&key, limit.as_ref(), now) {
        let error = ApiError::RateLimited { retry_after_secs: retry_after_ms.div_ceil(1000) };
        return Err(refuse(state, Some(&claims), error).await);
    }
    Ok(claims)
}

/// Why a credential was not accepted.
enum Refused {
    Token(TokenError),
    /// Revocation or replay could not be checked: refused (fail closed), as a 503.
    Store(StoreError),
}

impl From<TokenError> for Refused {
    fn from(error: TokenError) -> Refused {
        Refused::Token(error)
    }
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Refused {
        Refused::Store(error)
    }
}

/// The claims of a token every check accepts at `now`.
async fn credentials<S: Store>(
    state: &AppState<S>,
    token: &str,
    now: Timestamp,
) -> Result<Claims, Refused> {
    let claims = match state.tokens.cached(&state.token_key, token, now) {
        Some(cached) => cached?,
        None => verified(state, token, now).await?,
    };
    match state.engine.check_credentials(&claims, now).await {
        Ok(()) => {}
        Err(CredentialRefused::Token(error)) => return Err(error.into()),
        Err(CredentialRefused::Store(error)) => return Err(error.into()),
    }
    Ok(claims)
}

/// The claims of a token not in the cache, verified by whoever issued it: aecl itself (then
/// cached), the identity provider, or an agent's own key.
async fn verified<S: Store>(
    state: &AppState<S>,
    token: &str,
    now: Timestamp,
) -> Result<Claims, TokenError> {
    let issuer = identity::peek(token)?.iss.unwrap_or_default();
    let policy = state.engine.policy();
    Ok(if issuer == state.token_key.name() {
        state.tokens.verify(&state.token_key, token, now)?
    } else if let Some(idp) = state.idp.as_ref().filter(|idp| idp.config.issuer == issuer) {
        idp.verify(token, now).await?
    } else if let Some(manifest) = policy.agents.get(&issuer) {
        let keys = agent_keys(&issuer, &manifest.public_keys);
        identity::verify_agent_assertion(&keys, &issuer, token, now)?
    } else {
        return Err(TokenError::OtherIssuer(issuer));
    })
}

/// `GET /.well-known/jwks.json`: the public key that verifies aecl's own tokens, for any
/// JWT library (unauthenticated: a public key is no secret).
pub async fn jwks<S: Store>(
    axum::extract::State(state): axum::extract::State<Arc<AppState<S>>>,
) -> axum::Json<serde_json::Value> {
    axum::Json(identity::jwks(&[&state.token_key]))
}

/// The agent's public keys that parse; one that does not is logged and never used.
fn agent_keys(agent: &str, texts: &[String]) -> Vec<VerifierKey> {
    texts
        .iter()
        .filter_map(|text| match VerifierKey::parse(text) {
            Ok(key) => Some(key),
            Err(error) => {
                tracing::error!(agent, %error, "an agent public key in the policy does not parse");
                None
            }
        })
        .collect()
}

pub use aecl_engine::credentials::{revocation_id_of_agent_key, revocation_id_of_token};

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Err(ApiError::Unauthenticated(
            "no `Authorization: Bearer <token>` header (make a token with `aecl token issue`)"
                .to_owned(),
        ));
    };
    let value = value.to_str().map_err(|_| {
        ApiError::Unauthenticated("the Authorization header is not text".to_owned())
    })?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(ApiError::Unauthenticated(
            "expected `Authorization: Bearer <token>`".to_owned(),
        ));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthenticated(
            "expected `Authorization: Bearer <token>`".to_owned(),
        ));
    }
    Ok(token.trim())
}

/// Logs, counts and audits a refused request (see `refusals.rs`), and returns its error.
/// `claims` are those of a valid token refused for its role or subject; `None` when no
/// valid token was shown.
pub async fn refuse<S: Store>(
    state: &AppState<S>,
    claims: Option<&Claims>,
    error: ApiError,
) -> ApiError {
    crate::refusals::record(state, claims, &error).await;
    error
}

pub use aecl_engine::credentials::Limiter;
pub use aecl_engine::identity::TokenCache;
