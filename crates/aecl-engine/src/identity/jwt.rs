//! The JWS compact form shared by the three issuers: signing aecl's own tokens, the look at
//! an unverified token that picks its issuer, and verification through `jsonwebtoken` with
//! the claims' times left to the caller (checked against the injected clock).

use aecl_audit::{SignerKey, VerifierKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Claims, Credential, MAX_TOKEN_LEN, Role, TokenError};

/// The claims aecl writes into the tokens it signs (and agents into theirs).
#[derive(Debug, Clone, Serialize)]
pub(super) struct Payload {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// What a token says of itself before any check: only used to choose the key that then
/// verifies it, never to decide anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub kid: Option<String>,
    pub alg: String,
}

/// Reads a token's header and issuer without verifying anything; refuses what no issuer
/// accepts (too long, the old `aecl1.` form, not three base64url parts, a `crit` header).
pub fn peek(token: &str) -> Result<Unverified, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("too long"));
    }
    if token.starts_with("aecl1.") {
        return Err(TokenError::Legacy);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("expected a JWT: `<header>.<claims>.<signature>`"));
    };
    let header = json_object(header, "the header is not base64url JSON")?;
    // RFC 7515 §4.1.11: an extension the recipient must understand; aecl understands none.
    if header.contains_key("crit") {
        return Err(TokenError::Malformed("the header has a `crit` extension"));
    }
    let Some(alg) = header.get("alg").and_then(Value::as_str) else {
        return Err(TokenError::Malformed("the header names no `alg`"));
    };
    let payload = json_object(payload, "the claims are not base64url JSON")?;
    let text = |map: &Map<String, Value>, key: &str| {
        map.get(key).and_then(Value::as_str).map(str::to_owned)
    };
    Ok(Unverified {
        iss: text(&payload, "iss"),
        sub: text(&payload, "sub"),
        kid: text(&header, "kid"),
        alg: alg.to_owned(),
    })
}

/// A part of the token as a JSON object. A member named twice, at any depth, refuses the
/// token (RFC 7519 §4 lets a parser refuse it): the signature covers both copies, and two
/// parsers that keep different ones (aecl, an IdP, a proxy in front) would disagree on its
/// `role`, its `sub` or a nested role claim. Every token goes through [`peek`] before it is
/// verified, so this holds for all.
fn json_object(part: &str, what: &'static str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed(what))?;
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(TokenError::Malformed(what));
    };
    if aecl_core::distinct::repeats_a_member(&bytes) {
        return Err(TokenError::Malformed("a member of the token is named twice"));
    }
    Ok(map)
}

/// Signs `payload` with `key` (EdDSA). Encoding a fixed set of strings and numbers cannot
/// fail; an empty string would be refused by every verifier.
pub(super) fn sign(key: &SignerKey, kid: &str, payload: &Payload) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_ed_der(&key.to_pkcs8_der());
    jsonwebtoken::encode(&header, payload, &key).unwrap_or_default()
}

/// Verifies `token`'s EdDSA signature with `key`, its `iss` (= `issuer`) and `aud`
/// ([`super::AUDIENCE`]), and returns its claims (times unchecked).
pub(super) fn verify_eddsa(
    key: &VerifierKey,
    issuer: &str,
    token: &str,
) -> Result<Map<String, Value>, TokenError> {
    let unverified = peek(token)?;
    if unverified.iss.as_deref() != Some(issuer) {
        return Err(TokenError::OtherIssuer(unverified.iss.unwrap_or_default()));
    }
    let decoding = DecodingKey::from_ed_der(&key.public_key());
    decode(token, &decoding, Algorithm::EdDSA, issuer, super::AUDIENCE)
}

/// `jsonwebtoken::decode` with `alg` the only algorithm, `issuer` and `audience` required,
/// and the time claims left to [`times`].
pub(super) fn decode(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    issuer: &str,
    audience: &str,
) -> Result<Map<String, Value>, TokenError> {
    let mut validation = Validation::new(alg);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // The library would read the system clock; `times` checks against the injected one.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| error(e.kind(), alg))
}

fn error(kind: &ErrorKind, alg: Algorithm) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidIssuer => TokenError::OtherIssuer(String::new()),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            TokenError::Algorithm(format!("{alg:?}"))
        }
        ErrorKind::MissingRequiredClaim(_) => {
            TokenError::Malformed("a JWT here names `iss`, `sub`, `aud` and `exp`")
        }
        ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidKeyFormat => TokenError::BadSignature,
        _ => TokenError::Malformed("not a well-formed JWT"),
    }
}

/// The token's validity window in milliseconds: from `max(iat, nbf)` to `exp`. `iat` and
/// `exp` are required whole seconds; `nbf` is optional.
pub(super) fn times(claims: &Map<String, Value>) -> Result<(u64, u64), TokenError> {
    let seconds = |name: &str| claims.get(name).map(Value::as_u64);
    let Some(Some(iat)) = seconds("iat") else {
        return Err(TokenError::Malformed("`iat` must be whole seconds"));
    };
    let Some(Some(exp)) = seconds("exp") else {
        return Err(TokenError::Malformed("`exp` must be whole seconds"));
    };
    let nbf = match seconds("nbf") {
        None => iat,
        Some(Some(nbf)) => nbf,
        Some(None) => return Err(TokenError::Malformed("`nbf` must be whole seconds")),
    };
    if exp <= iat {
        return Err(TokenError::Malformed("`exp` is not after `iat`"));
    }
    Ok((iat.max(nbf).saturating_mul(1000), exp.saturating_mul(1000)))
}

/// Verified `claims` as [`Claims`] with `role` and `credential`.
pub(super) fn claims(
    claims: &Map<String, Value>,
    role: Role,
    credential: Credential,
) -> Result<Claims, TokenError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let sub = text("sub");
    if sub.trim().is_empty() {
        return Err(TokenError::EmptySubject);
    }
    let (iat_ms, exp_ms) = times(claims)?;
    Ok(Claims {
        iss: text("iss").to_owned(),
        sub: sub.to_owned(),
        role,
        iat_ms,
        exp_ms,
        jti: text("jti").to_owned(),
        credential,
    })
}
