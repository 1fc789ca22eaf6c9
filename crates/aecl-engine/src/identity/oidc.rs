//! People's tokens from the company's OpenID Connect provider (`aecl serve --oidc-*`): the
//! signature checked with a key of the IdP's JWKS, the issuer and audience required to be
//! the configured ones, clocks allowed to differ by [`super::CLOCK_SKEW_MS`], and the role
//! read from a claim through a configured mapping (`aecl-approvers=approver`).
//!
//! INVARIANT: a key's algorithm comes from the key (its `alg`, else its type and curve),
//! never from the token alone, and symmetric (`oct`) keys are never used: a token cannot
//! pick HMAC with a public key as the secret. An IdP token is an agent's only where the
//! mapping says so; by default people approve and agents act.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use aecl_core::Timestamp;

use super::jwt;
use super::{Claims, Credential, Role, TokenError, check_time};

/// What the server accepts from the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The `iss` every token must carry (the IdP's issuer URL, exactly).
    pub issuer: String,
    /// The `aud` every token must include (the client id aecl is registered as).
    pub audience: String,
    /// The claim holding the person's groups or roles: a string or an array of strings;
    /// a dotted path reaches into objects (`realm_access.roles`).
    pub role_claim: String,
    /// Claim values and the aecl role each grants, in order: the first value of the
    /// mapping that the token holds decides.
    pub role_map: Vec<(String, Role)>,
    /// The claim naming the person (default `sub`; `preferred_username` or `email` read
    /// better in the audit log, where the IdP guarantees them unique).
    pub subject_claim: String,
}

/// The keys of an IdP's JWKS that can verify a signature.
#[derive(Debug, Clone, Default)]
pub struct IdpKeys {
    keys: Vec<IdpKey>,
}

#[derive(Clone)]
struct IdpKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for IdpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish()
    }
}

impl IdpKeys {
    /// Parses a JWKS document. Keys aecl cannot use (encryption keys, symmetric keys,
    /// unknown types, malformed ones) are skipped; a document with none usable is an error.
    pub fn parse(json: &[u8]) -> Result<IdpKeys, String> {
        let document: Value =
            serde_json::from_slice(json).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
        let Some(entries) = document.get("keys").and_then(Value::as_array) else {
            return Err("the JWKS has no `keys` array".to_owned());
        };
        let keys: Vec<IdpKey> = entries.iter().filter_map(usable).collect();
        if keys.is_empty() {
            return Err(
                "the JWKS holds no signature key aecl can use (RSA, EC P-256/P-384, Ed25519)"
                    .to_owned(),
            );
        }
        Ok(IdpKeys { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a token naming `kid` has a key here (the server refetches the JWKS when not).
    pub fn has(&self, kid: Option<&str>) -> bool {
        self.find(kid).is_some()
    }

    fn find(&self, kid: Option<&str>) -> Option<&IdpKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|key| key.kid.as_deref() == Some(kid)),
            // A token without `kid` is checked only against a set of one key.
            None => match self.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }
}

/// A JWKS entry as a key aecl verifies with, or `None` when it cannot be one.
fn usable(entry: &Value) -> Option<IdpKey> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let by_type: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) => {
            // The library slices the first 32 bytes: anything else is refused here.
            let x = URL_SAFE_NO_PAD.decode(&okp.x).ok()?;
            if okp.curve != EllipticCurve::Ed25519 || x.len() != 32 {
                return None;
            }
            vec![Algorithm::EdDSA]
        }
        // Symmetric keys, and types the library may add later.
        _ => return None,
    };
    let algorithms = match jwk.common.key_algorithm {
        None => by_type,
        Some(named) => {
            let named = key_algorithm(named)?;
            if !by_type.contains(&named) {
                return None;
            }
            vec![named]
        }
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(IdpKey { kid: jwk.common.key_id.clone(), algorithms, key })
}

fn key_algorithm(named: KeyAlgorithm) -> Option<Algorithm> {
    Some(match named {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

fn algorithm_named(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Checks an IdP token against `keys` and `config` at `now`. [`TokenError::UnknownKey`]
/// means the JWKS may have rotated: the caller refetches it and tries once more.
pub fn verify_idp(
    config: &OidcConfig,
    keys: &IdpKeys,
    token: &str,
    now: Timestamp,
) -> Result<Claims, TokenError> {
    let unverified = jwt::peek(token)?;
    if unverified.iss.as_deref() != Some(config.issuer.as_str()) {
        return Err(TokenError::OtherIssuer(unverified.iss.unwrap_or_default()));
    }
    let Some(key) = keys.find(unverified.kid.as_deref()) else {
        return Err(TokenError::UnknownKey(unverified.kid.unwrap_or_else(|| "(none)".to_owned())));
    };
    let alg = algorithm_named(&unverified.alg)
        .filter(|alg| key.algorithms.contains(alg))
        .ok_or_else(|| TokenError::Algorithm(unverified.alg.clone()))?;
    let payload = jwt::decode(token, &key.key, alg, &config.issuer, &config.audience)?;
    let role = role_of(config, &payload)?;
    let mut claims = jwt::claims(&payload, role, Credential::Idp)?;
    if config.subject_claim != "sub" {
        match payload.get(&config.subject_claim).and_then(Value::as_str) {
            Some(name) if !name.trim().is_empty() => name.clone_into(&mut claims.sub),
            _ => return Err(TokenError::EmptySubject),
        }
    }
    check_time(&claims, now)?;
    Ok(claims)
}

/// The role the token's claim grants: the first mapping whose value the claim holds.
fn role_of(
    config: &OidcConfig,
    payload: &serde_json::Map<String, Value>,
) -> Result<Role, TokenError> {
    // A claim named with dots (`https://example.com/roles`) is read whole; otherwise a
    // dotted name is a path into objects.
    let value = payload.get(&config.role_claim).or_else(|| {
        let mut path = config.role_claim.split('.');
        let first = payload.get(path.next().unwrap_or_default());
        path.fold(first, |value, step| value.and_then(|v| v.get(step)))
    });
    let held: Vec<&str> = match value {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    config
        .role_map
        .iter()
        .find(|(value, _)| held.contains(&value.as_str()))
        .map(|(_, role)| *role)
        .ok_or_else(|| TokenError::NoRole { claim: config.role_claim.clone() })
}
