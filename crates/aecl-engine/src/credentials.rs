//! What every front end checks of a verified token's claims before acting on them, with
//! the policy and the store: the policy's lifetime limit for the token's role, revocation
//! of the token or of the agent key that made it, and single use of an agent's own
//! proof-of-possession token. One function, so that the HTTP API, the MCP gateway over
//! HTTP and the approval UI cannot differ: a gateway that checked only the signature
//! honoured revoked tokens and tokens longer-lived than the policy allows.

use aecl_core::Timestamp;

use crate::engine::Engine;
use crate::error::StoreError;
use crate::identity::{Claims, Credential, Role, TokenError, check_ttl};
use crate::store::Store;

/// Why verified claims are not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CredentialRefused {
    /// The token may not be used (401).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Revocation or single use could not be checked: refused, closed (503).
    #[error("the token could not be checked: {0}")]
    Store(#[from] StoreError),
}

/// The store's id of a revoked token.
pub fn revocation_id_of_token(jti: &str) -> String {
    format!("jti:{jti}")
}

/// The store's id of a revoked agent key.
pub fn revocation_id_of_agent_key(kid: &str) -> String {
    format!("agent_key:{kid}")
}

impl<S: Store> Engine<S> {
    /// Accepts `claims` (their signature, issuer, audience and times already verified) at
    /// `now`, or says why not.
    pub async fn check_credentials(
        &self,
        claims: &Claims,
        now: Timestamp,
    ) -> Result<(), CredentialRefused> {
        let policy = self.policy();
        let max = match claims.role {
            Role::Agent => policy.tokens.agent_max_ttl_secs,
            Role::Approver => policy.tokens.approver_max_ttl_secs,
            Role::Admin => policy.tokens.admin_max_ttl_secs,
        };
        check_ttl(claims, max)?;
        let mut ids = Vec::with_capacity(2);
        if !claims.jti.is_empty() {
            ids.push(revocation_id_of_token(&claims.jti));
        }
        if let Credential::AgentKey(kid) = &claims.credential {
            ids.push(revocation_id_of_agent_key(kid));
        }
        if self.store().revoked_credential(&ids).await?.is_some() {
            return Err(TokenError::Revoked.into());
        }
        if matches!(claims.credential, Credential::AgentKey(_)) {
            // Spent after the other checks: a refused token does not use up its id.
            let scope = format!("aecl-token:{}", claims.sub);
            if !self.store().use_nonce(&scope, &claims.jti, now).await? {
                return Err(TokenError::Replayed.into());
            }
        }
        Ok(())
    }
}
