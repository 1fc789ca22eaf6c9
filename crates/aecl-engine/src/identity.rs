//! Who is calling: short-lived tokens signed with Ed25519 that name a subject (an agent id,
//! or an approver's or administrator's name) and its role.
//!
//! Pure: the key, the claims and `now` come in, nothing is read from a clock, the
//! environment or a random source (the binary draws the token id).
//!
//! Compact form: `aecl1.<base64url(claims JSON)>.<base64url(signature)>`, without padding.
//! The signature is over `aecl-token-v1\n` followed by `aecl1.<claims part>`: the domain
//! line keeps a token signature from ever being valid as a signed note (audit checkpoints
//! start with a key name, which holds no white space), should one key be used for both.
//! Decoding is strict (canonical base64, `verify_strict`, no unknown claim), so a token has
//! exactly one spelling and any changed byte fails verification.

use aecl_audit::{SignerKey, VerifierKey};
use aecl_core::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The version prefix of the compact form.
const PREFIX: &str = "aecl1";

/// What is signed before the compact header and claims.
const DOMAIN: &[u8] = b"aecl-token-v1\n";

/// Longer inputs are refused before any decoding: a token is a few hundred bytes.
pub const MAX_TOKEN_LEN: usize = 4096;

/// How far a token's issue time may lie in the future (clocks of the issuer and the
/// server differ a little).
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
}

/// The signed content of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The signing key's name: a token of another deployment's key is refused.
    pub iss: String,
    /// The agent id (role `agent`) or the person's name.
    pub sub: String,
    pub role: Role,
    /// Issued at, in milliseconds since the Unix epoch.
    pub iat_ms: u64,
    /// Expires at (exclusive), in milliseconds since the Unix epoch.
    pub exp_ms: u64,
    /// A random id, unique per token: rate limits and logs name tokens by it.
    pub jti: String,
}

impl Claims {
    /// Claims for `sub` as `role`, valid from `now` for `ttl_seconds`. `jti` must be drawn
    /// from a secure random source.
    pub fn new(
        key: &SignerKey,
        sub: &str,
        role: Role,
        now: Timestamp,
        ttl_seconds: u64,
        jti: String,
    ) -> Claims {
        Claims {
            iss: key.name().to_owned(),
            sub: sub.to_owned(),
            role,
            iat_ms: now.0,
            exp_ms: now.0.saturating_add(ttl_seconds.saturating_mul(1000)),
            jti,
        }
    }
}

/// Why a token is refused. Messages never repeat the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The signature does not verify with the server's key.
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token was issued by key `{0}`, not by this server's key")]
    OtherIssuer(String),
    #[error("the token expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token has an empty subject")]
    EmptySubject,
}

/// Signs `claims` into the compact form. Encoding claims to JSON cannot fail (strings,
/// numbers and an enum).
pub fn issue(key: &SignerKey, claims: &Claims) -> String {
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let signed = format!("{PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
    let signature = key.sign(&signing_input(&signed));
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Checks a token's form, signature, issuer and validity at `now`, and returns its claims.
pub fn verify(key: &VerifierKey, token: &str, now: Timestamp) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("too long"));
    }
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return Err(TokenError::Malformed("expected `aecl1.<claims>.<signature>`"));
    };
    let Some((prefix, claims)) = signed.split_once('.') else {
        return Err(TokenError::Malformed("expected `aecl1.<claims>.<signature>`"));
    };
    if prefix != PREFIX {
        return Err(TokenError::Malformed("not an aecl token (version `aecl1`)"));
    }
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed("the signature is not base64url"))?
        .try_into()
        .map_err(|_| TokenError::Malformed("an Ed25519 signature is 64 bytes"))?;
    if !key.verify(&signing_input(signed), &signature) {
        return Err(TokenError::BadSignature);
    }
    // Only signed bytes are parsed from here on.
    let json = URL_SAFE_NO_PAD
        .decode(claims)
        .map_err(|_| TokenError::Malformed("the claims are not base64url"))?;
    let claims: Claims = serde_json::from_slice(&json)
        .map_err(|_| TokenError::Malformed("the claims are not the expected JSON"))?;
    if claims.iss != key.name() {
        return Err(TokenError::OtherIssuer(claims.iss));
    }
    if claims.sub.is_empty() {
        return Err(TokenError::EmptySubject);
    }
    check_time(&claims, now)?;
    Ok(claims)
}

/// Whether verified `claims` are valid at `now`: not expired, not issued in the future.
/// [`verify`] checks it; a cache of verified tokens checks it again at every use.
pub fn check_time(claims: &Claims, now: Timestamp) -> Result<(), TokenError> {
    if now.0 >= claims.exp_ms {
        return Err(TokenError::Expired);
    }
    if claims.iat_ms > now.0.saturating_add(CLOCK_SKEW_MS) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

fn signing_input(signed: &str) -> Vec<u8> {
    let mut input = Vec::with_capacity(DOMAIN.len() + signed.len());
    input.extend_from_slice(DOMAIN);
    input.extend_from_slice(signed.as_bytes());
    input
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NOW: Timestamp = Timestamp(1_764_000_000_000);

    fn key() -> SignerKey {
        SignerKey::from_seed("aecl.test/tokens", [7; 32]).unwrap()
    }

    fn token(role: Role, ttl: u64) -> String {
        let key = key();
        issue(&key, &Claims::new(&key, "finance_agent", role, NOW, ttl, "t-1".into()))
    }

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let verifier = key().verifier();
        let token = token(Role::Agent, 900);
        assert!(token.starts_with("aecl1."));
        let claims = verify(&verifier, &token, NOW).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("finance_agent", Role::Agent));
        assert_eq!(claims.exp_ms, NOW.0 + 900_000);
        assert!(verify(&verifier, &token, Timestamp(NOW.0 + 899_999)).is_ok());
        assert_eq!(verify(&verifier, &token, Timestamp(NOW.0 + 900_000)), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_from_the_future_is_not_valid_yet() {
        let verifier = key().verifier();
        let token = token(Role::Admin, 900);
        assert!(verify(&verifier, &token, Timestamp(NOW.0 - CLOCK_SKEW_MS)).is_ok());
        assert_eq!(
            verify(&verifier, &token, Timestamp(NOW.0 - CLOCK_SKEW_MS - 1)),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn another_key_or_issuer_is_refused() {
        let token = token(Role::Agent, 900);
        let other = SignerKey::from_seed("aecl.test/tokens", [8; 32]).unwrap();
        assert_eq!(verify(&other.verifier(), &token, NOW), Err(TokenError::BadSignature));
        // The same key under another name: the key hash differs, the signature verifies,
        // the issuer does not match.
        let renamed = SignerKey::from_seed("aecl.test/other", [7; 32]).unwrap();
        assert_eq!(
            verify(&renamed.verifier(), &token, NOW),
            Err(TokenError::OtherIssuer("aecl.test/tokens".into()))
        );
    }

    #[test]
    fn a_forged_role_fails_the_signature() {
        let verifier = key().verifier();
        let token = token(Role::Agent, 900);
        let parts: Vec<&str> = token.split('.').collect();
        let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let forged = claims.replace("\"agent\"", "\"admin\"");
        assert_ne!(claims, forged);
        let forged = format!("aecl1.{}.{}", URL_SAFE_NO_PAD.encode(forged), parts[2]);
        assert_eq!(verify(&verifier, &forged, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn malformed_tokens_are_named() {
        let verifier = key().verifier();
        for bad in ["", "aecl1", "aecl1.abc", "jwt.abc.def", "aecl1.abc.!!!", "aecl1..AAAA"] {
            assert!(matches!(verify(&verifier, bad, NOW), Err(TokenError::Malformed(_))), "{bad}");
        }
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(verify(&verifier, &long, NOW), Err(TokenError::Malformed("too long")));
    }

    #[test]
    fn errors_never_repeat_the_token() {
        let token = token(Role::Agent, 900);
        let message = verify(&key().verifier(), &token, Timestamp(NOW.0 + 10_000_000))
            .unwrap_err()
            .to_string();
        assert!(!message.contains(&token[6..20]), "{message}");
    }

    proptest! {
        #[test]
        fn any_changed_byte_fails_verification(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let verifier = key().verifier();
            let token = token(Role::Approver, 900);
            let mut bytes = token.clone().into_bytes();
            let i = index.index(bytes.len());
            prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            if let Ok(changed) = String::from_utf8(bytes) {
                prop_assert!(verify(&verifier, &changed, NOW).is_err(), "{} verified", changed);
            }
        }

        #[test]
        fn a_truncated_or_extended_token_fails(cut in 1usize..40, extra in "[A-Za-z0-9_.-]{1,8}") {
            let verifier = key().verifier();
            let token = token(Role::Agent, 900);
            let extended = token.clone() + &extra;
            prop_assert!(verify(&verifier, &token[..token.len() - cut], NOW).is_err());
            prop_assert!(verify(&verifier, &extended, NOW).is_err());
        }
    }
}
