//! Unit tests of tokens: aecl's own JWTs, IdP tokens, agents' own tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use serde_json::json;

use super::*;

const NOW: Timestamp = Timestamp(1_764_000_000_000);

fn key() -> SignerKey {
    SignerKey::from_seed("aecl.test/tokens", [7; 32]).unwrap()
}

fn token(role: Role, ttl: u64) -> String {
    let key = key();
    issue(&key, &Claims::new(&key, "finance_agent", role, NOW, ttl, "t-1".into()))
}

/// A token signed by `key` with any header and claims (an IdP, or a forger holding a key).
fn signed(key: &SignerKey, header: &Header, claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_ed_der(&key.to_pkcs8_der())).unwrap()
}

#[test]
fn a_token_is_a_standard_jwt_and_round_trips_until_it_expires() {
    let verifier = key().verifier();
    let token = token(Role::Agent, 900);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(key_id(&verifier).as_str()));
    let payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap())
            .unwrap();
    for claim in ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "role"] {
        assert!(payload.get(claim).is_some(), "{claim} in {payload}");
    }
    let claims = verify(&verifier, &token, NOW).unwrap();
    assert_eq!((claims.sub.as_str(), claims.role), ("finance_agent", Role::Agent));
    assert_eq!(claims.exp_ms, NOW.0 + 900_000);
    assert_eq!(claims.ttl_seconds(), 900);
    assert!(verify(&verifier, &token, Timestamp(NOW.0 + 899_999)).is_ok());
    assert_eq!(verify(&verifier, &token, Timestamp(NOW.0 + 900_000)), Err(TokenError::Expired));
}

#[test]
fn the_old_aecl1_form_is_refused_naming_the_new_one() {
    let error = verify(&key().verifier(), "aecl1.e30.AAAA", NOW).unwrap_err();
    assert_eq!(error, TokenError::Legacy);
    assert!(error.to_string().contains("aecl token issue"), "{error}");
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
fn another_key_issuer_or_audience_is_refused() {
    let token = token(Role::Agent, 900);
    let other = SignerKey::from_seed("aecl.test/tokens", [8; 32]).unwrap();
    assert_eq!(verify(&other.verifier(), &token, NOW), Err(TokenError::BadSignature));
    let renamed = SignerKey::from_seed("aecl.test/other", [7; 32]).unwrap();
    assert_eq!(
        verify(&renamed.verifier(), &token, NOW),
        Err(TokenError::OtherIssuer("aecl.test/tokens".into()))
    );
    let key = key();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key_id(&key.verifier()));
    let claims = json!({"iss": "aecl.test/tokens", "sub": "a", "aud": "elsewhere", "role": "admin",
        "iat": NOW.0 / 1000, "exp": NOW.0 / 1000 + 60, "jti": "j"});
    assert_eq!(
        verify(&key.verifier(), &signed(&key, &header, &claims), NOW),
        Err(TokenError::WrongAudience)
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
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(forged), parts[2]);
    assert_eq!(verify(&verifier, &forged, NOW), Err(TokenError::BadSignature));
}

/// A token whose issuer signed a claim twice is refused: parsers that keep different
/// copies would read different roles from one signed token.
#[test]
fn a_signed_token_naming_a_claim_twice_is_refused() {
    let key = key();
    let verifier = key.verifier();
    let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#, key_id(&verifier));
    let (iat, exp) = (NOW.0 / 1000, NOW.0 / 1000 + 60);
    let claims = |extra: &str| {
        format!(
            r#"{{"iss":"aecl.test/tokens","sub":"finance_agent","aud":"{AUDIENCE}","role":"agent","iat":{iat},"nbf":{iat},"exp":{exp},"jti":"j"{extra}}}"#
        )
    };
    let sign = |header: &str, claims: &str| {
        let message =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
        let der = EncodingKey::from_ed_der(&key.to_pkcs8_der());
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &der, Algorithm::EdDSA);
        format!("{message}.{}", signature.unwrap())
    };
    let once = verify(&verifier, &sign(&header, &claims("")), NOW).unwrap();
    assert_eq!(once.role, Role::Agent, "the same token with each claim once verifies");
    for token in [
        sign(&header, &claims(r#","role":"admin""#)),
        sign(&header, &claims(r#","sub":"someone_else""#)),
        sign(&header.replace(r#""typ""#, r#""alg":"none","typ""#), &claims("")),
        // Nested role claims (an IdP's `realm_access.roles`) are read two ways as well.
        sign(&header, &claims(r#","realm_access":{"roles":["a"],"roles":["admin"]}"#)),
        sign(&header, &claims(r#","groups":[{"name":"a","name":"b"}]"#)),
    ] {
        let refused = verify(&verifier, &token, NOW);
        assert_eq!(refused, Err(TokenError::Malformed("a member of the token is named twice")));
    }
}

#[test]
fn an_unsigned_or_hmac_token_is_refused() {
    let verifier = key().verifier();
    let claims = json!({"iss": "aecl.test/tokens", "sub": "a", "aud": "aecl", "role": "admin",
        "iat": NOW.0 / 1000, "exp": NOW.0 / 1000 + 60, "jti": "j"});
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let none = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
    assert!(verify(&verifier, &none, NOW).is_err());
    // HMAC keyed with the public key: the classic confusion.
    let hmac = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&verifier.public_key()),
    )
    .unwrap();
    assert!(matches!(verify(&verifier, &hmac, NOW), Err(TokenError::Algorithm(_))));
    let crit = format!("{}.{body}.AAAA", URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","crit":["x"]}"#));
    assert!(matches!(verify(&verifier, &crit, NOW), Err(TokenError::Malformed(_))));
}

#[test]
fn malformed_tokens_are_named() {
    let verifier = key().verifier();
    for bad in ["", "abc", "a.b", "jwt.abc.def", "e30.e30.!!!", "..", "a.b.c.d"] {
        assert!(matches!(verify(&verifier, bad, NOW), Err(TokenError::Malformed(_))), "{bad}");
    }
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(verify(&verifier, &long, NOW), Err(TokenError::Malformed("too long")));
}

#[test]
fn errors_never_repeat_the_token() {
    let token = token(Role::Agent, 900);
    let message =
        verify(&key().verifier(), &token, Timestamp(NOW.0 + 10_000_000)).unwrap_err().to_string();
    assert!(!message.contains(&token[6..20]), "{message}");
}

#[test]
fn a_lifetime_past_the_role_maximum_is_refused() {
    let claims = verify(&key().verifier(), &token(Role::Admin, 7200), NOW).unwrap();
    assert!(check_ttl(&claims, 7200).is_ok());
    assert_eq!(
        check_ttl(&claims, 3600),
        Err(TokenError::TooLong { role: "admin", ttl: 7200, max: 3600 })
    );
}

#[test]
fn the_jwks_publishes_the_public_key_only() {
    let verifier = key().verifier();
    let jwks = jwks(&[&verifier]);
    let text = jwks.to_string();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["kid"], key_id(&verifier).as_str());
    assert!(!text.contains("\"d\""), "{text}");
    // The published key verifies aecl's tokens as an IdP key would.
    let keys = IdpKeys::parse(text.as_bytes()).unwrap();
    assert_eq!(keys.len(), 1);
}

// --- IdP tokens -------------------------------------------------------------------------

fn idp_key() -> SignerKey {
    SignerKey::from_seed("idp.test", [9; 32]).unwrap()
}

fn idp_jwks() -> IdpKeys {
    let key = idp_key().verifier();
    let doc = json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "kid": "k1", "use": "sig",
         "x": URL_SAFE_NO_PAD.encode(key.public_key())},
        {"kty": "oct", "kid": "secret", "k": URL_SAFE_NO_PAD.encode(b"sixteen byte key")},
        {"kty": "OKP", "crv": "Ed25519", "kid": "short", "x": "AAAA"},
    ]});
    IdpKeys::parse(doc.to_string().as_bytes()).unwrap()
}

fn oidc() -> OidcConfig {
    OidcConfig {
        issuer: "https://idp.example.com/".into(),
        audience: "aecl-prod".into(),
        role_claim: "groups".into(),
        role_map: vec![
            ("aecl-approvers".into(), Role::Approver),
            ("aecl-admins".into(), Role::Admin),
        ],
        subject_claim: "sub".into(),
    }
}

fn idp_token(kid: &str, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    signed(&idp_key(), &header, &claims)
}

fn person(groups: serde_json::Value) -> serde_json::Value {
    json!({"iss": "https://idp.example.com/", "aud": ["aecl-prod", "other"], "sub": "alice",
        "iat": NOW.0 / 1000, "exp": NOW.0 / 1000 + 3600, "groups": groups, "jti": "idp-1"})
}

#[test]
fn an_idp_token_maps_its_group_to_a_role() {
    let token = idp_token("k1", person(json!(["staff", "aecl-approvers"])));
    let claims = verify_idp(&oidc(), &idp_jwks(), &token, NOW).unwrap();
    assert_eq!((claims.sub.as_str(), claims.role), ("alice", Role::Approver));
    assert_eq!(claims.credential, Credential::Idp);
    let admin = idp_token("k1", person(json!("aecl-admins")));
    assert_eq!(verify_idp(&oidc(), &idp_jwks(), &admin, NOW).unwrap().role, Role::Admin);
    let nested = OidcConfig { role_claim: "realm_access.roles".into(), ..oidc() };
    let mut claims = person(json!([]));
    claims["realm_access"] = json!({"roles": ["aecl-admins"]});
    let token = idp_token("k1", claims);
    assert_eq!(verify_idp(&nested, &idp_jwks(), &token, NOW).unwrap().role, Role::Admin);
}

#[test]
fn an_idp_token_is_refused_for_issuer_audience_time_key_or_role() {
    let keys = idp_jwks();
    let refused = |claims: serde_json::Value, kid: &str| {
        verify_idp(&oidc(), &keys, &idp_token(kid, claims), NOW).unwrap_err()
    };
    let mut wrong_issuer = person(json!("aecl-approvers"));
    wrong_issuer["iss"] = json!("https://evil.example.com/");
    assert!(matches!(refused(wrong_issuer, "k1"), TokenError::OtherIssuer(_)));
    let mut wrong_audience = person(json!("aecl-approvers"));
    wrong_audience["aud"] = json!("someone-else");
    assert_eq!(refused(wrong_audience, "k1"), TokenError::WrongAudience);
    let mut expired = person(json!("aecl-approvers"));
    expired["exp"] = json!(NOW.0 / 1000 - 61);
    expired["iat"] = json!(NOW.0 / 1000 - 3600);
    assert_eq!(refused(expired, "k1"), TokenError::Expired);
    let mut within_skew = person(json!("aecl-approvers"));
    within_skew["exp"] = json!(NOW.0 / 1000 - 30);
    within_skew["iat"] = json!(NOW.0 / 1000 - 3600);
    assert!(verify_idp(&oidc(), &keys, &idp_token("k1", within_skew), NOW).is_ok());
    let mut future = person(json!("aecl-approvers"));
    future["nbf"] = json!(NOW.0 / 1000 + 120);
    assert_eq!(refused(future, "k1"), TokenError::NotYetValid);
    assert_eq!(refused(person(json!("aecl-approvers")), "k9"), TokenError::UnknownKey("k9".into()));
    assert!(matches!(refused(person(json!("staff")), "k1"), TokenError::NoRole { .. }));
    // The malformed and symmetric keys of the set are never used.
    assert!(refused(person(json!("aecl-approvers")), "short").to_string().contains("short"));
    let hmac = jsonwebtoken::encode(
        &Header { kid: Some("secret".into()), ..Header::new(Algorithm::HS256) },
        &person(json!("aecl-approvers")),
        &EncodingKey::from_secret(b"sixteen byte key"),
    )
    .unwrap();
    assert_eq!(
        verify_idp(&oidc(), &keys, &hmac, NOW).unwrap_err(),
        TokenError::UnknownKey("secret".into())
    );
    // Another key's signature under the right kid.
    let forger = SignerKey::from_seed("idp.test", [10; 32]).unwrap();
    let forged = signed(
        &forger,
        &Header { kid: Some("k1".into()), ..Header::new(Algorithm::EdDSA) },
        &person(json!("aecl-admins")),
    );
    assert_eq!(verify_idp(&oidc(), &keys, &forged, NOW).unwrap_err(), TokenError::BadSignature);
}

#[test]
fn an_idp_token_is_an_agent_only_when_mapped() {
    let token = idp_token("k1", person(json!(["ci-agents"])));
    assert!(verify_idp(&oidc(), &idp_jwks(), &token, NOW).is_err());
    let mut config = oidc();
    config.role_map.push(("ci-agents".into(), Role::Agent));
    assert_eq!(verify_idp(&config, &idp_jwks(), &token, NOW).unwrap().role, Role::Agent);
}

#[test]
fn a_jwks_without_usable_keys_is_an_error() {
    assert!(IdpKeys::parse(b"{}").is_err());
    assert!(IdpKeys::parse(b"not json").is_err());
    assert!(IdpKeys::parse(br#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#).is_err());
}

// --- agents' own tokens -----------------------------------------------------------------

fn agent_key() -> SignerKey {
    SignerKey::from_seed("finance_agent", [11; 32]).unwrap()
}

#[test]
fn an_agent_token_verifies_with_its_manifest_key_only() {
    let key = agent_key();
    let token = mint_agent_assertion(&key, "finance_agent", NOW, 60, "p-1".into());
    let claims = verify_agent_assertion(&[key.verifier()], "finance_agent", &token, NOW).unwrap();
    assert_eq!(claims.role, Role::Agent);
    assert_eq!(claims.credential, Credential::AgentKey(agent_key_id(&key.verifier())));
    // Another agent's key, another agent's name, no key at all.
    let other = SignerKey::from_seed("finance_agent", [12; 32]).unwrap();
    assert!(matches!(
        verify_agent_assertion(&[other.verifier()], "finance_agent", &token, NOW),
        Err(TokenError::UnknownKey(_))
    ));
    assert!(verify_agent_assertion(&[key.verifier()], "ops_agent", &token, NOW).is_err());
    assert_eq!(
        verify_agent_assertion(&[], "finance_agent", &token, NOW),
        Err(TokenError::NoAgentKey("finance_agent".into()))
    );
    assert_eq!(
        verify_agent_assertion(
            &[key.verifier()],
            "finance_agent",
            &token,
            Timestamp(NOW.0 + 60_000)
        ),
        Err(TokenError::Expired)
    );
}

#[test]
fn an_agent_token_lives_five_minutes_at_most_and_names_itself() {
    let key = agent_key();
    let capped = mint_agent_assertion(&key, "finance_agent", NOW, 86_400, "p-2".into());
    let claims = verify_agent_assertion(&[key.verifier()], "finance_agent", &capped, NOW).unwrap();
    assert_eq!(claims.ttl_seconds(), AGENT_ASSERTION_MAX_SECONDS);
    // Hand-made with the agent's key: a long life, a subject other than the issuer.
    let header =
        Header { kid: Some(agent_key_id(&key.verifier())), ..Header::new(Algorithm::EdDSA) };
    let long = json!({"iss": "finance_agent", "sub": "finance_agent", "aud": "aecl",
        "iat": NOW.0 / 1000, "exp": NOW.0 / 1000 + 3600, "jti": "p-3"});
    assert!(matches!(
        verify_agent_assertion(
            &[key.verifier()],
            "finance_agent",
            &signed(&key, &header, &long),
            NOW
        ),
        Err(TokenError::TooLong { .. })
    ));
    let other_sub = json!({"iss": "finance_agent", "sub": "ops_agent", "aud": "aecl",
        "iat": NOW.0 / 1000, "exp": NOW.0 / 1000 + 60, "jti": "p-4"});
    assert!(
        verify_agent_assertion(
            &[key.verifier()],
            "finance_agent",
            &signed(&key, &header, &other_sub),
            NOW
        )
        .is_err()
    );
    let approver = json!({"iss": "finance_agent", "sub": "finance_agent", "aud": "aecl",
        "iat": NOW.0 / 1000, "exp": NOW.0 / 1000 + 60, "jti": "p-5", "role": "approver"});
    assert!(
        verify_agent_assertion(
            &[key.verifier()],
            "finance_agent",
            &signed(&key, &header, &approver),
            NOW
        )
        .is_err()
    );
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
            // base64url's last character carries spare bits: a change there may decode to
            // the same bytes, which is the same token.
            let same = changed.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>()
                == token.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>();
            prop_assume!(!same);
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
