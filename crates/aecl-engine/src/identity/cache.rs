//! Tokens whose signature has verified, so that an agent's every request does not pay an
//! Ed25519 verification (the largest cost of a request after the store's). Shared by the
//! HTTP API and the MCP gateway's HTTP front door.
//!
//! Only the signature check is skipped, and only for the same key: an entry remembers the
//! key that verified it, so a token verified under a key since replaced is verified again.
//! Expiry is checked again at every use, and a token that failed is never kept. Revocation
//! is not the cache's business: every front door reads it from the store at each request
//! (`Engine::check_credentials`). Bounded: when full it is emptied and refills from live
//! traffic.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use aecl_audit::VerifierKey;
use aecl_core::Timestamp;

use super::{Claims, TokenError, check_time, verify};

/// Tokens held at most.
const CACHED_TOKENS: usize = 10_000;

/// Verified tokens, by their text.
#[derive(Debug, Default)]
pub struct TokenCache {
    verified: Mutex<HashMap<String, Verified>>,
}

/// A token's claims and the key that verified its signature.
#[derive(Debug)]
struct Verified {
    key_name: String,
    public_key: [u8; 32],
    claims: Claims,
}

impl TokenCache {
    /// [`verify`], from the cache when `token` verified before with `key`.
    pub fn verify(
        &self,
        key: &VerifierKey,
        token: &str,
        now: Timestamp,
    ) -> Result<Claims, TokenError> {
        if let Some(cached) = self.cached(key, token, now) {
            return cached;
        }
        let claims = verify(key, token, now)?;
        let mut verified = self.lock();
        if verified.len() >= CACHED_TOKENS {
            verified.clear();
        }
        let entry = Verified {
            key_name: key.name().to_owned(),
            public_key: key.public_key(),
            claims: claims.clone(),
        };
        verified.insert(token.to_owned(), entry);
        Ok(claims)
    }

    /// The claims of `token` when it verified before with `key`, its expiry checked at
    /// `now`; `None` when it did not. A front door asks this first: a token seen before
    /// is then neither parsed nor verified again.
    pub fn cached(
        &self,
        key: &VerifierKey,
        token: &str,
        now: Timestamp,
    ) -> Option<Result<Claims, TokenError>> {
        let claims = self
            .lock()
            .get(token)
            .filter(|hit| hit.public_key == key.public_key() && hit.key_name == key.name())
            .map(|hit| hit.claims.clone())?;
        Some(check_time(&claims, now).map(|()| claims))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Verified>> {
        // Nothing panics while holding it: a poisoned map still holds whole entries.
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use aecl_audit::SignerKey;

    use super::*;
    use crate::identity::{Role, issue};

    fn signer(seed: u8) -> SignerKey {
        SignerKey::from_seed("aecl.test/tokens", [seed; 32]).unwrap()
    }

    /// An agent's token signed by `key`, issued at 1 s and expiring at 11 s, and its claims.
    fn token(key: &SignerKey) -> (Claims, String) {
        let claims = Claims::new(key, "a", Role::Agent, Timestamp(1_000), 10, "j".into());
        let token = issue(key, &claims);
        (claims, token)
    }

    #[test]
    fn the_cache_keeps_verified_tokens_only_and_checks_expiry_at_each_use() {
        let key = signer(3);
        let (claims, token) = token(&key);
        let cache = TokenCache::default();
        let verifier = key.verifier();
        assert_eq!(cache.verify(&verifier, &token, Timestamp(2_000)).unwrap(), claims);
        assert_eq!(cache.verify(&verifier, &token, Timestamp(3_000)).unwrap(), claims, "cached");
        assert_eq!(
            cache.verify(&verifier, &token, Timestamp(11_000)),
            Err(TokenError::Expired),
            "the cache does not outlive the token"
        );
        // A signature character that carries whole bytes (base64's last one may carry only
        // bits a decoder ignores).
        let signature = token.rfind('.').unwrap() + 1;
        let flipped = if token.as_bytes()[signature] == b'A' { "B" } else { "A" };
        let forged = format!("{}{flipped}{}", &token[..signature], &token[signature + 1..]);
        assert!(cache.verify(&verifier, &forged, Timestamp(2_000)).is_err());
        assert!(cache.verify(&verifier, &forged, Timestamp(2_000)).is_err(), "not cached");
    }

    /// `cached`, which the HTTP API asks before parsing a token, answers only for a token
    /// that verified under the same key, and checks its expiry.
    #[test]
    fn only_a_token_verified_under_the_key_asked_about_is_answered_from_the_cache() {
        let (key, other) = (signer(3), signer(4));
        let (claims, token) = token(&key);
        let cache = TokenCache::default();
        assert_eq!(cache.cached(&key.verifier(), &token, Timestamp(2_000)), None, "never seen");
        assert!(cache.verify(&key.verifier(), "not.a.token", Timestamp(2_000)).is_err());
        assert_eq!(cache.cached(&key.verifier(), "not.a.token", Timestamp(2_000)), None);
        cache.verify(&key.verifier(), &token, Timestamp(2_000)).unwrap();
        assert_eq!(cache.cached(&key.verifier(), &token, Timestamp(3_000)), Some(Ok(claims)));
        assert_eq!(cache.cached(&other.verifier(), &token, Timestamp(3_000)), None);
        assert_eq!(
            cache.cached(&key.verifier(), &token, Timestamp(11_000)),
            Some(Err(TokenError::Expired))
        );
    }

    #[test]
    fn a_token_cached_under_one_key_is_verified_again_under_another() {
        let (old, new) = (signer(3), signer(4));
        let (_, token) = token(&old);
        let cache = TokenCache::default();
        assert!(cache.verify(&old.verifier(), &token, Timestamp(2_000)).is_ok());
        // The token key replaced (a reload, a rotation): the cached entry vouches for nothing.
        assert_eq!(
            cache.verify(&new.verifier(), &token, Timestamp(2_000)),
            Err(TokenError::BadSignature)
        );
        // Nor for a key of another name with the same public key.
        let renamed = SignerKey::from_seed("aecl.other/tokens", [3; 32]).unwrap();
        assert!(cache.verify(&renamed.verifier(), &token, Timestamp(2_000)).is_err());
    }
}
