//! The HTTP client the `http` and `webhook` connectors share: hyper-util's client over
//! rustls with the system's root certificates (the stack `aecl-server`'s notifier uses),
//! the egress host allowlist, and the line between "not sent" and "may have been sent".

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::ConnectorError;

pub(crate) type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub(crate) fn client() -> Result<HttpsClient, ConnectorError> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(ConnectorError::Tls)?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// `raw` as a URI if it is `http(s)://` to a host of `allow` (exact, case aside, or a
/// `*.example.com` pattern for subdomains), without credentials in it.
pub(crate) fn allowed_uri(raw: &str, allow: &[String]) -> Result<hyper::Uri, String> {
    let url =
        url::Url::parse(raw).map_err(|e| format!("bad_request: `{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("bad_request: `{raw}`: only http and https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("bad_request: `{raw}`: credentials in a URL are refused"));
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let allowed = allow.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == pattern,
        }
    });
    if !allowed {
        return Err(format!("egress_denied: host `{host}` is not in the connector's allow_hosts"));
    }
    url.as_str().parse().map_err(|e| format!("bad_request: `{raw}`: {e}"))
}

/// How a request ended.
#[derive(Debug)]
pub(crate) enum Sent {
    Response {
        status: u16,
        body: Bytes,
        truncated: bool,
    },
    /// It never left (the connection was refused or could not be made).
    Unsent(String),
    /// It may have arrived (the connection broke after sending, or timed out).
    Broken(String),
}

pub(crate) async fn send(
    client: &HttpsClient,
    request: hyper::Request<Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
) -> Sent {
    let exchange = async {
        let response = match client.request(request).await {
            Ok(response) => response,
            Err(e) if e.is_connect() => return Sent::Unsent(format!("connection failed: {e}")),
            Err(e) => return Sent::Broken(format!("the request broke after sending: {e}")),
        };
        let status = response.status().as_u16();
        match Limited::new(response.into_body(), max_body).collect().await {
            Ok(body) => Sent::Response { status, body: body.to_bytes(), truncated: false },
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                Sent::Response { status, body: Bytes::new(), truncated: true }
            }
            Err(e) => Sent::Broken(format!("reading the response: {e}")),
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(sent) => sent,
        Err(_) => Sent::Broken(format!("no complete answer within {timeout:?}")),
    }
}
