//! Identity end to end (#22): a test IdP made here (a key, its JWKS served over loopback with
//! axum, standard tokens) whose approver approves, and whose wrong issuer, wrong audience,
//! expired token and unknown key are refused; aecl's JWKS verifying aecl's tokens with a
//! standard library; revocation of a token and of an agent key within one request on
//! SQLite and PostgreSQL; agents' own tokens, single-use; the policy's maximum lifetime;
//! and the per-agent request limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aecl_audit::SignerKey;
use aecl_core::limits::RateLimit;
use aecl_engine::identity::{OidcConfig, Role, agent_key_id, mint_agent_assertion};
use aecl_server::{Idp, JwksSource};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::{
    Backend, Server, call, finance_policy, now, start_with_idp, start_with_policy, token, token_at,
};

const ISSUER: &str = "https://idp.test/realms/corp";
const AUDIENCE: &str = "aecl-prod";
/// The test IdP's refetch interval (10 s in production).
const REFETCH: Duration = Duration::from_millis(1500);

/// The test IdP: its keys and how often its JWKS was fetched.
struct TestIdp {
    key: SignerKey,
    kid: String,
    url: String,
    fetches: Arc<AtomicUsize>,
    /// The kids the JWKS publishes (a rotation adds one).
    published: Arc<std::sync::Mutex<Vec<(String, SignerKey)>>>,
}

impl TestIdp {
    async fn start() -> TestIdp {
        let key = SignerKey::from_seed("idp.test", [0x51; 32]).unwrap();
        let kid = "idp-key-1".to_owned();
        let fetches = Arc::new(AtomicUsize::new(0));
        let published = Arc::new(std::sync::Mutex::new(vec![(kid.clone(), key.clone())]));
        let (count, keys) = (fetches.clone(), published.clone());
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (count, keys) = (count.clone(), keys.clone());
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    let keys: Vec<Value> = keys
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|(kid, key)| {
                            json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
                                "kid": kid, "x": URL_SAFE_NO_PAD.encode(key.verifier().public_key())})
                        })
                        .collect();
                    axum::Json(json!({ "keys": keys }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestIdp { key, kid, url, fetches, published }
    }

    async fn idp(&self) -> Idp {
        let config = OidcConfig {
            issuer: ISSUER.to_owned(),
            audience: AUDIENCE.to_owned(),
            role_claim: "groups".to_owned(),
            role_map: vec![
                ("aecl-approvers".to_owned(), Role::Approver),
                ("aecl-admins".to_owned(), Role::Admin),
            ],
            subject_claim: "preferred_username".to_owned(),
        };
        let idp = Idp::new(config, JwksSource::parse(&self.url).unwrap())
            .unwrap()
            .with_min_refetch(REFETCH);
        assert_eq!(idp.refresh().await, Ok(1));
        idp
    }

    /// A standard token: `claims` over the defaults of a valid approver's.
    fn token(&self, key: &SignerKey, kid: &str, changes: Value) -> String {
        let at = now().0 / 1000;
        let mut claims = json!({"iss": ISSUER, "aud": [AUDIENCE, "account"], "sub": "f81d4fae",
            "preferred_username": "carol", "iat": at, "nbf": at, "exp": at + 600,
            "jti": format!("idp-{at}-{kid}"), "groups": ["staff", "aecl-approvers"]});
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let header = Header { kid: Some(kid.to_owned()), ..Header::new(Algorithm::EdDSA) };
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&key.to_pkcs8_der()))
            .unwrap()
    }

    fn approver(&self, changes: Value) -> String {
        self.token(&self.key, &self.kid, changes)
    }
}

fn transfer() -> Value {
    json!({"vendor": "V-100", "iban": "DE89370400440532013000", "amount": 1200, "currency": "EUR"})
}

fn status_and_message(answer: &crate::support::Answer) -> (u16, String) {
    (answer.status, answer.body["error"]["message"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_approver_approves_and_bad_idp_tokens_are_refused() {
    let idp = TestIdp::start().await;
    let server = start_with_idp(Backend::Sqlite, finance_policy(), Some(idp.idp().await)).await;
    let agent = token("finance_agent", Role::Agent);
    let asked = server
        .post("/v1/execute", Some(&agent), &call("r1", "c1", "transfer_funds", transfer()))
        .await;
    assert_eq!(asked.body["decision"], "require_approval", "{}", asked.text);
    let id = asked.body["approval_id"].as_str().unwrap().to_owned();
    let approve = format!("/v1/approvals/{id}/approve");

    let refusals = [
        (json!({"iss": "https://evil.test/"}), "evil.test"),
        (json!({"aud": "someone-else"}), "audience"),
        (
            json!({"iat": now().0 / 1000 - 7200, "nbf": now().0 / 1000 - 7200,
                "exp": now().0 / 1000 - 120}),
            "expired",
        ),
        (json!({"groups": ["staff"]}), "maps to no aecl role"),
    ];
    for (changes, why) in refusals {
        let answer = server.post(&approve, Some(&idp.approver(changes.clone())), &json!({})).await;
        let (status, message) = status_and_message(&answer);
        assert_eq!(status, 401, "{changes}: {}", answer.text);
        assert!(message.contains(why), "{changes}: {message}");
    }
    // A key the IdP never published: refused, after one fetch of the JWKS.
    tokio::time::sleep(REFETCH + Duration::from_millis(100)).await;
    let stranger = SignerKey::from_seed("idp.test", [0x52; 32]).unwrap();
    let fetched = idp.fetches.load(Ordering::SeqCst);
    let answer = server
        .post(&approve, Some(&idp.token(&stranger, "idp-key-9", json!({}))), &json!({}))
        .await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    assert!(answer.text.contains("idp-key-9"), "{}", answer.text);
    assert_eq!(idp.fetches.load(Ordering::SeqCst), fetched + 1, "refetched once for the kid");
    // A flood of unknown kids does not hammer the IdP: fetches are rate-limited.
    for _ in 0..5 {
        let forged = idp.token(&stranger, "idp-key-9", json!({}));
        assert_eq!(server.post(&approve, Some(&forged), &json!({})).await.status, 401);
    }
    assert_eq!(idp.fetches.load(Ordering::SeqCst), fetched + 1, "no fetch within the interval");
    // Signed by a stranger under the real kid.
    let forged = idp.token(&stranger, &idp.kid, json!({}));
    assert_eq!(server.post(&approve, Some(&forged), &json!({})).await.status, 401);
    // An IdP person is not an agent.
    let as_agent = server
        .post(
            "/v1/evaluate",
            Some(&idp.approver(json!({}))),
            &call("r2", "c1", "read_invoice", json!({"invoice_id": "INV-1"})),
        )
        .await;
    assert_eq!(as_agent.status, 403, "{}", as_agent.text);

    let answer = server.post(&approve, Some(&idp.approver(json!({}))), &json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["approval"]["status"], "approved", "{}", answer.text);
    assert!(answer.text.contains("carol"), "the subject claim names the approver: {}", answer.text);

    // The IdP rotates to a new key: a token naming it is accepted after one refetch.
    tokio::time::sleep(REFETCH + Duration::from_millis(100)).await;
    let rotated = SignerKey::from_seed("idp.test", [0x53; 32]).unwrap();
    idp.published.lock().unwrap().push(("idp-key-2".to_owned(), rotated.clone()));
    let listed =
        server.get("/v1/approvals", Some(&idp.token(&rotated, "idp-key-2", json!({})))).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aecl_publishes_its_jwks_and_its_tokens_verify_with_a_standard_library() {
    let server = start_with_policy(Backend::Sqlite, finance_policy()).await;
    let jwks = server.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200, "{}", jwks.text);
    assert!(!jwks.text.contains("\"d\""), "public keys only: {}", jwks.text);
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.body.clone()).unwrap();
    let agent = token("finance_agent", Role::Agent);
    let kid = jsonwebtoken::decode_header(&agent).unwrap().kid.unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["aecl"]);
    validation.set_issuer(&[crate::support::TOKEN_ORIGIN]);
    let data = jsonwebtoken::decode::<Value>(&agent, &key, &validation).unwrap();
    assert_eq!(data.claims["sub"], "finance_agent");
    assert_eq!(data.claims["role"], "agent");
    // The old form is refused, naming the new one.
    let old = server.post("/v1/evaluate", Some("aecl1.e30.AAAA"), &json!({})).await;
    assert_eq!(old.status, 401);
    assert!(old.text.contains("aecl token issue"), "{}", old.text);
}

on_both!(a_revoked_token_is_refused_at_its_next_request, an_agent_signs_its_own_tokens);

async fn a_revoked_token_is_refused_at_its_next_request(backend: Backend) {
    let server = start_with_policy(backend, finance_policy()).await;
    let agent = token_at("finance_agent", Role::Agent, now(), 900);
    let other = token_at("finance_agent", Role::Agent, now(), 900);
    let jti = jti_of(&agent);
    let read = call("r1", "c1", "read_invoice", json!({"invoice_id": "INV-1"}));
    assert_eq!(server.post("/v1/evaluate", Some(&agent), &read).await.status, 200);
    // Only administrators revoke.
    let body = json!({"token": jti});
    let by_approver =
        server.post("/v1/tokens/revoke", Some(&token("alice", Role::Approver)), &body).await;
    assert_eq!(by_approver.status, 403, "{}", by_approver.text);
    let admin = token("root", Role::Admin);
    let revoked = server.post("/v1/tokens/revoke", Some(&admin), &body).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.body["new"], true);
    let again = server.post("/v1/tokens/revoke", Some(&admin), &body).await;
    assert_eq!(again.body["new"], false, "{}", again.text);
    // The log says who withdrew which token, each time it was asked.
    let revocations: Vec<Value> = server
        .audit()
        .await
        .into_iter()
        .filter(|r| r["input"]["revoked_credential"].is_string())
        .map(|r| r["input"].clone())
        .collect();
    let id = format!("jti:{jti}");
    assert_eq!(
        revocations,
        [
            json!({"revoked_credential": id, "by": "root", "new": true}),
            json!({"revoked_credential": id, "by": "root", "new": false}),
        ]
    );

    let read = call("r1", "c2", "read_invoice", json!({"invoice_id": "INV-1"}));
    let (status, message) =
        status_and_message(&server.post("/v1/evaluate", Some(&agent), &read).await);
    assert_eq!((status, message.as_str()), (401, "the token was revoked"));
    assert_eq!(server.post("/v1/evaluate", Some(&other), &read).await.status, 200, "others work");
    let bad = server
        .post("/v1/tokens/revoke", Some(&admin), &json!({"token": "a", "agent_key": "b"}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

async fn evaluate(server: &Server, token: String, id: &str) -> crate::support::Answer {
    let body = call("r1", id, "read_invoice", json!({"invoice_id": "INV-1"}));
    server.post("/v1/evaluate", Some(&token), &body).await
}

fn jti_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

/// The finance policy with an agent key for `finance_agent`, agent tokens of an hour at
/// most, and the agent's requests limited to bursts of `burst`.
fn keyed_policy(key: &SignerKey, burst: u32) -> Arc<aecl_core::Policy> {
    let mut policy = (*finance_policy()).clone();
    let mut manifest = (*policy.agents["finance_agent"]).clone();
    manifest.public_keys = vec![key.verifier().to_text()];
    manifest.request_rate = RateLimit { count: 60, per_ms: 60_000, burst };
    policy.agents.insert("finance_agent".to_owned(), Arc::new(manifest));
    policy.tokens.agent_max_ttl_secs = 3600;
    Arc::new(policy)
}

async fn an_agent_signs_its_own_tokens(backend: Backend) {
    let key = SignerKey::from_seed("finance_agent", [0x61; 32]).unwrap();
    let server = start_with_policy(backend, keyed_policy(&key, 4)).await;
    let mint = |jti: &str| mint_agent_assertion(&key, "finance_agent", now(), 60, jti.to_owned());
    let first = mint("p-1");
    assert_eq!(evaluate(&server, first.clone(), "c1").await.status, 200);
    // The same token again: a replay.
    let (status, message) = status_and_message(&evaluate(&server, first, "c2").await);
    assert_eq!(status, 401);
    assert!(message.contains("used before"), "{message}");
    // Another key under the agent's name.
    let thief = SignerKey::from_seed("finance_agent", [0x62; 32]).unwrap();
    let stolen = mint_agent_assertion(&thief, "finance_agent", now(), 60, "p-2".to_owned());
    assert_eq!(evaluate(&server, stolen, "c3").await.status, 401);
    // A bearer token longer than the policy's hour.
    let long = token_at("finance_agent", Role::Agent, now(), 7200);
    let (status, message) = status_and_message(&evaluate(&server, long, "c4").await);
    assert_eq!(status, 401);
    assert!(message.contains("3600"), "{message}");
    // The agent's request limit holds over fresh tokens (4 in a burst, 1 used above: refusals take none).
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(evaluate(&server, mint(&format!("q-{i}")), &format!("d{i}")).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429], "per agent, not per token");

    // Revoking the key stops the agent at once (after the limit refills).
    let server = start_with_policy(backend, keyed_policy(&key, 400)).await;
    assert_eq!(evaluate(&server, mint("r-1"), "e1").await.status, 200);
    let admin = token("root", Role::Admin);
    let kid = agent_key_id(&key.verifier());
    let revoked = server.post("/v1/tokens/revoke", Some(&admin), &json!({"agent_key": kid})).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let (status, message) = status_and_message(&evaluate(&server, mint("r-2"), "e2").await);
    assert_eq!((status, message.as_str()), (401, "the token was revoked"));
}
