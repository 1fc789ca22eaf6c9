//! The company's IdP as `aecl serve --oidc-*` configures it: its JWKS read from a file or
//! fetched over HTTPS (plain HTTP on loopback only) with a timeout, kept in memory, fetched
//! again when a token names a key not held (a rotation) at most once per
//! [`MIN_REFETCH`], and when older than [`MAX_AGE`] (a withdrawn key stops verifying).
//!
//! A JWKS that cannot be fetched leaves the keys held so far in force; with none held,
//! every IdP token is refused (fail closed) and aecl's own tokens still work.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use aecl_core::Timestamp;
use aecl_engine::identity::{Claims, IdpKeys, OidcConfig, TokenError, verify_idp};
use axum::http::{Request, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

/// The longest a JWKS fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Fetches prompted by unknown `kid`s are at least this far apart: a flood of tokens naming
/// made-up keys cannot make aecl hammer the IdP.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);
/// Keys older than this are fetched again before use.
pub const MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Where the IdP's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    File(PathBuf),
    Url(Uri),
}

impl JwksSource {
    /// `https://…` (or `http://` to a loopback host) is a URL; anything else a file.
    pub fn parse(text: &str) -> Result<JwksSource, IdpError> {
        if !(text.starts_with("http://") || text.starts_with("https://")) {
            return Ok(JwksSource::File(PathBuf::from(text)));
        }
        let uri: Uri =
            text.parse().map_err(|_| IdpError::Source(format!("`{text}` is not a URL")))?;
        let host = uri.host().unwrap_or_default();
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1");
        if uri.scheme_str() == Some("http") && !loopback {
            return Err(IdpError::Source(format!(
                "`{text}`: the IdP's keys are fetched over https:// (plain http only on loopback)"
            )));
        }
        Ok(JwksSource::Url(uri))
    }
}

/// Why the IdP cannot be set up or its keys read.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("--oidc-jwks: {0}")]
    Source(String),
    #[error("the IdP client's TLS set-up failed (system root certificates): {0}")]
    Tls(#[from] std::io::Error),
}

/// The IdP's settings and the keys held.
#[derive(Debug)]
pub struct Idp {
    pub config: OidcConfig,
    source: JwksSource,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    keys: RwLock<Held>,
    /// How far apart fetches prompted by unknown keys are at least.
    min_refetch: Duration,
    /// The last fetch attempt; also makes fetches one at a time.
    attempted: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Debug, Clone, Default)]
struct Held {
    keys: Arc<IdpKeys>,
    fetched: Option<Instant>,
}

impl Idp {
    pub fn new(config: OidcConfig, source: JwksSource) -> Result<Idp, IdpError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Idp {
            config,
            source,
            client,
            keys: RwLock::new(Held::default()),
            min_refetch: MIN_REFETCH,
            attempted: tokio::sync::Mutex::new(None),
        })
    }

    /// Fetches prompted by unknown keys at least `interval` apart (default [`MIN_REFETCH`]).
    #[must_use]
    pub fn with_min_refetch(mut self, interval: Duration) -> Idp {
        self.min_refetch = interval;
        self
    }

    /// Reads the JWKS now and holds its keys; returns how many are usable.
    pub async fn refresh(&self) -> Result<usize, String> {
        let mut attempted = self.attempted.lock().await;
        *attempted = Some(Instant::now());
        self.fetch_and_hold().await
    }

    async fn fetch_and_hold(&self) -> Result<usize, String> {
        let bytes = match &self.source {
            JwksSource::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| format!("reading `{}`: {e}", path.display()))?,
            JwksSource::Url(uri) => self.fetch(uri).await?,
        };
        let keys = IdpKeys::parse(&bytes)?;
        let count = keys.len();
        let mut held = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        *held = Held { keys: Arc::new(keys), fetched: Some(Instant::now()) };
        Ok(count)
    }

    async fn fetch(&self, uri: &Uri) -> Result<Vec<u8>, String> {
        let request = Request::get(uri.clone())
            .header("accept", "application/json")
            .body(Empty::new())
            .map_err(|e| format!("building the request: {e}"))?;
        let work = async {
            let response = self.client.request(request).await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("answered {}", response.status()));
            }
            let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the body: {e}"))?;
            Ok(body.to_bytes().to_vec())
        };
        match tokio::time::timeout(FETCH_TIMEOUT, work).await {
            Ok(result) => result.map_err(|e| format!("fetching {uri}: {e}")),
            Err(_) => {
                Err(format!("fetching {uri}: no answer within {} s", FETCH_TIMEOUT.as_secs()))
            }
        }
    }

    /// Fetches again if allowed now (none in the last `min_refetch`); false when not.
    async fn refetch(&self, why: &str) -> bool {
        let mut attempted = self.attempted.lock().await;
        if attempted.is_some_and(|at| at.elapsed() < self.min_refetch) {
            return false;
        }
        *attempted = Some(Instant::now());
        match self.fetch_and_hold().await {
            Ok(count) => {
                tracing::info!(keys = count, why, "IdP keys fetched");
                true
            }
            Err(error) => {
                tracing::error!(%error, why, "IdP keys could not be fetched");
                false
            }
        }
    }

    fn held(&self) -> Held {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Verifies an IdP token at `now`, fetching the keys again when they are old or the
    /// token names a key not held.
    pub async fn verify(&self, token: &str, now: Timestamp) -> Result<Claims, TokenError> {
        let held = self.held();
        if held.fetched.is_none_or(|at| at.elapsed() > MAX_AGE) {
            self.refetch("keys missing or old").await;
        }
        let keys = self.held().keys;
        match verify_idp(&self.config, &keys, token, now) {
            Err(TokenError::UnknownKey(kid)) => {
                if self.refetch("a token names an unknown key").await {
                    verify_idp(&self.config, &self.held().keys, token, now)
                } else {
                    Err(TokenError::UnknownKey(kid))
                }
            }
            result => result,
        }
    }
}
