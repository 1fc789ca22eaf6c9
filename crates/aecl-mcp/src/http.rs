//! The gateway over streamable HTTP: `POST /mcp` (and the `GET` and `DELETE` of a
//! 2025-11-25 session) served by rmcp's streamable HTTP service on a plain hyper HTTP/1
//! connection per client.
//!
//! A request from a page in a browser (an `Origin` not on an accepted host) is refused
//! first, as the MCP transport spec asks. Every request is authenticated then ([`crate::auth`]): its agent token's subject is the
//! agent, and each session (or each request of a sessionless 2026-07-28 client) is served by
//! the gateway made for that agent. A session is bound to the agent that opened it.
//! Session termination answers as the spec says: 204 when closed, 404 for a session that is
//! not open. Each session has its own server connections ([`crate::servers`]), ended with
//! it ([`crate::sessions`]). A POST's message is read before rmcp's service is given it:
//! one rmcp cannot take is answered and recorded here (`frames.rs`), and so is a request
//! under the id of one in progress in its session ([`crate::sessions`]).

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use aecl_engine::Store;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, ORIGIN, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcMessage};
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::auth::{ClientAuth, Refusal};
use crate::error::McpError;
use crate::frames::Refused;
use crate::gateway::Gateway;
use crate::servers::Connections;
use crate::sessions::{Answering, SessionLimits, Sessions, sweep_interval};
use aecl_core::policy::DEFAULT_AGENT_REQUEST_RATE;
use aecl_engine::credentials::{CredentialRefused, Limiter};

/// The one path MCP is served on.
pub const MCP_PATH: &str = "/mcp";

/// Where the protected-resource metadata (RFC 9728) of [`MCP_PATH`] is served.
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

/// The session header of streamable HTTP.
const SESSION_HEADER: &str = "mcp-session-id";

tokio::task_local! {
    /// The request being handled: rmcp makes a session's (or a sessionless request's)
    /// handler inside the request's handling, so the factory reads its authenticated agent
    /// and leaves the new handler's connections for the session's registration.
    static REQUEST: Scope;
}

/// What the handler factory reads and leaves for one request.
#[derive(Clone)]
struct Scope {
    agent: String,
    /// The connections a sessionless request's handler uses: its agent's.
    reuse: Option<Arc<Connections>>,
    opened: Arc<Mutex<Option<Arc<Connections>>>>,
}

/// The largest request body read: MCP messages are small.
const MAX_BODY: usize = 16 * 1024 * 1024;

type Body = BoxBody<Bytes, Infallible>;

impl<S: Store + 'static> Gateway<S> {
    /// Serves MCP over streamable HTTP on `listener` until `shutdown` resolves, to the
    /// clients `auth` authenticates. `allowed_hosts` are the `Host` header values accepted
    /// (DNS-rebinding protection); loopback names are always accepted. At shutdown every
    /// server process is ended before this returns.
    pub async fn serve_http(
        self,
        listener: tokio::net::TcpListener,
        allowed_hosts: Vec<String>,
        auth: ClientAuth,
        limits: SessionLimits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), McpError> {
        let mut hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        hosts.extend(allowed_hosts);
        let config = StreamableHttpServerConfig::default().with_allowed_hosts(hosts.clone());
        let gateway = self;
        let factory = gateway.clone();
        // rmcp's own idle limit is a backstop, later than ours, which also ends the
        // session's servers.
        let mut manager = LocalSessionManager::default();
        manager.session_config.keep_alive = Some(limits.idle + std::time::Duration::from_secs(60));
        let manager = Arc::new(manager);
        let service = StreamableHttpService::new(
            move || {
                // Fail closed: a handler is never made without an authenticated agent.
                let scope = REQUEST
                    .try_with(Clone::clone)
                    .map_err(|_| std::io::Error::other("no authenticated agent"))?;
                let handler = match scope.reuse {
                    Some(connections) => factory.for_agent_with(&scope.agent, connections),
                    None => factory.for_agent(&scope.agent),
                };
                *scope.opened.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(handler.connections().clone());
                Ok(handler)
            },
            manager.clone(),
            config,
        );
        let front = Arc::new(Front {
            service,
            auth,
            gateway: gateway.clone(),
            hosts,
            sessions: Arc::default(),
            limits,
            requests: Limiter::new(None),
        });
        let sweeper = tokio::spawn(sweep(front.clone(), manager));
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accepting an MCP connection");
                        continue;
                    }
                },
                () = &mut shutdown => {
                    sweeper.abort();
                    gateway.connections().servers().close_all().await;
                    return Ok(());
                }
            };
            // Small request and answer frames, each awaited: never held back for more.
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%peer, %error, "TCP_NODELAY");
            }
            let front = front.clone();
            tokio::spawn(async move {
                let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let front = front.clone();
                    async move { Ok::<_, Infallible>(front.handle(request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), handler);
                if let Err(error) = connection.await {
                    tracing::debug!(%peer, %error, "MCP connection ended");
                }
            });
        }
    }
}

/// What stands before rmcp's service: authentication, session binding, termination.
struct Front<S: Store + 'static> {
    service: StreamableHttpService<Gateway<S>, LocalSessionManager>,
    auth: ClientAuth,
    gateway: Gateway<S>,
    /// The accepted `Host` names: only these are written into the metadata's URLs.
    hosts: Vec<String>,
    /// The open sessions, their server connections and their requests in progress.
    sessions: Arc<Sessions>,
    limits: SessionLimits,
    /// Each agent's request rate (its manifest's `rate_limit`), as the API applies it.
    requests: Limiter,
}

/// Closes the sessions that have been idle too long, with their servers, until aborted.
async fn sweep<S: Store + 'static>(front: Arc<Front<S>>, manager: Arc<LocalSessionManager>) {
    use rmcp::transport::streamable_http_server::SessionManager as _;
    let mut every = tokio::time::interval(sweep_interval(front.limits.idle));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        for (id, connections) in front.sessions.take_idle(front.limits.idle) {
            tracing::info!(session = %id, "idle MCP session closed");
            front.auth.close(&id);
            if let Err(error) = manager.close_session(&id.as_str().into()).await {
                tracing::debug!(session = %id, %error, "closing an idle MCP session");
            }
            connections.close().await;
        }
    }
}

impl<S: Store + 'static> Front<S> {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path();
        if path == METADATA_PATH || path == "/.well-known/oauth-protected-resource" {
            return metadata(&self.base(&request));
        }
        if path != MCP_PATH {
            return plain(StatusCode::NOT_FOUND, format!("MCP is served on {MCP_PATH}"));
        }
        // The spec: an `Origin` that is present and not allowed is refused (a page in a
        // browser reaching the gateway, DNS rebinding); a client outside a browser sends
        // none.
        if let Some(origin) = request.headers().get(ORIGIN)
            && !allowed_origin(origin.as_bytes(), &self.hosts)
        {
            let shown: String =
                String::from_utf8_lossy(origin.as_bytes()).escape_default().take(200).collect();
            let why = format!("mcp.origin_refused: the `Origin` `{shown}` is not an allowed one");
            self.gateway.record_http_refusal("", &why, 403).await;
            return plain(StatusCode::FORBIDDEN, format!("aecl: {why}"));
        }
        let authorization = request.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes);
        let policy = self.gateway.policy();
        let now = self.gateway.now();
        let claims = match self.auth.agent(authorization, |a| policy.agents.contains_key(a), now) {
            Ok(claims) => claims,
            Err(refusal) => {
                drop(policy);
                self.gateway.record_http_refusal("", refusal.why(), refusal.status()).await;
                return refused(&self.base(&request), &refusal);
            }
        };
        drop(policy);
        // Every request, not only a session's first: a token revoked meanwhile stops here.
        match self.gateway.engine().check_credentials(&claims, now).await {
            Ok(()) => {}
            Err(CredentialRefused::Token(error)) => {
                let refusal = Refusal::Unauthenticated(error.to_string());
                self.gateway.record_http_refusal(&claims.sub, refusal.why(), 401).await;
                return refused(&self.base(&request), &refusal);
            }
            Err(CredentialRefused::Store(error)) => {
                tracing::error!(%error, "MCP request refused: its token could not be checked");
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "aecl: the token could not be checked".into(),
                );
            }
        }
        let rate = self
            .gateway
            .policy()
            .agents
            .get(&claims.sub)
            .map_or(DEFAULT_AGENT_REQUEST_RATE, |manifest| manifest.request_rate);
        let key = format!("agent:{}", claims.sub);
        if let Err(retry_after_ms) = self.requests.admit_with(&key, Some(&rate), now) {
            let why = "over its request rate";
            self.gateway.record_http_refusal(&claims.sub, why, 429).await;
            let mut response = plain(
                StatusCode::TOO_MANY_REQUESTS,
                format!("aecl: agent `{}` is over its request rate", claims.sub),
            );
            let seconds = retry_after_ms.div_ceil(1000).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(hyper::header::RETRY_AFTER, value);
            }
            return response;
        }
        let agent = claims.sub;
        let session =
            request.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if let Some(session) = &session {
            match self.auth.check(session, &agent) {
                Some(Ok(())) => self.sessions.seen(session),
                Some(Err(refusal)) => {
                    self.gateway.record_http_refusal(&agent, refusal.why(), refusal.status()).await;
                    return refused(&self.base(&request), &refusal);
                }
                // The spec: a session that is not open is answered 404 (the client starts
                // a new one).
                None => return plain(StatusCode::NOT_FOUND, "no such MCP session".to_owned()),
            }
        }
        let closing = request.method() == Method::DELETE;
        let (parts, body) = request.into_parts();
        let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "aecl: the request is too large".into(),
                );
            }
        };
        // A message rmcp could not read (too deep, not UTF-8 or not JSON, a number out of
        // range, a batch, JSON that is no JSON-RPC message of MCP's) would be answered 415
        // without its id or a record: answered here with the request's id, and recorded
        // (`frames.rs`). Only a POST carries a message (rmcp reads no other body).
        let message = match parts.method {
            Method::POST => match crate::frames::read_body(&body) {
                Ok(message) => Some(message),
                Err(refused) => {
                    self.gateway.record_refusal_of(&agent, &refused.reason()).await;
                    return refused_message(&refused);
                }
            },
            _ => None,
        };
        // In a session, an id names one request in progress (`sessions.rs`).
        let taken = match (&session, &message) {
            (Some(session), Some(message)) => self.sessions.take_in(session, message),
            _ => Ok(None),
        };
        let in_progress = match taken {
            Ok(in_progress) => in_progress,
            Err(request) => {
                let refused = Refused::id_in_use(&request.id, request.request.method());
                self.gateway.record_refusal_of(&agent, &refused.reason()).await;
                return refused_message(&refused);
            }
        };
        // A POST outside a session either opens one (`initialize`) or is a sessionless
        // (2026-07-28) request, served over its agent's own connections, kept between its
        // requests as a session's are.
        let opens = session.is_none() && message.as_ref().is_some_and(is_initialize);
        let reuse = (session.is_none() && parts.method == Method::POST && !opens)
            .then(|| self.sessions.sessionless(&agent, || self.gateway.connect_for(&agent)));
        let request = Request::from_parts(parts, Full::new(body));
        // A new session may start processes: an agent has a bounded number open, counted
        // with those being opened by `initialize`s in flight.
        let mut opening = None;
        if opens {
            opening = self.sessions.reserve(&agent, self.limits.per_agent);
            if opening.is_none() {
                tracing::warn!(agent, "MCP session refused: too many open");
                let mut response = plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "aecl: agent `{agent}` has {} MCP sessions open; close one",
                        self.limits.per_agent
                    ),
                );
                response
                    .headers_mut()
                    .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("30"));
                return response;
            }
        }
        let scope = Scope { agent: agent.clone(), reuse, opened: Arc::default() };
        let response = REQUEST.scope(scope.clone(), self.service.handle(request)).await;
        let mut response = response.map(|body| match in_progress {
            Some(request) => Answering::new(body.boxed(), self.sessions.clone(), request).boxed(),
            None => body.boxed(),
        });
        // The connections of a handler made for this request.
        let opened = scope.opened.lock().unwrap_or_else(PoisonError::into_inner).take();
        match (&session, closing) {
            (Some(session), true) if response.status().is_success() => {
                self.auth.close(session);
                // Its servers end (and their processes are reaped) before the answer.
                self.sessions.close(session).await;
                // rmcp answers 202; the spec (and the Python SDK) want 200 or 204.
                *response.status_mut() = StatusCode::NO_CONTENT;
                *response.body_mut() = Full::new(Bytes::new()).boxed();
            }
            (None, false) => {
                // A new session: bound to the agent that opened it.
                let id = response.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok());
                if let (Some(id), Some(connections)) = (id, opened) {
                    self.auth.open(id, &agent);
                    self.sessions.opened(id, &agent, connections);
                }
                // Kept (or failed): no longer counted as being opened.
                drop(opening);
            }
            _ => {}
        }
        response
    }
}

/// Whether `origin` (an `Origin` header's value) is a web origin on one of the accepted
/// `Host` names (`hosts`: loopback names and `--allowed-host`s), over `http` or `https`, on
/// any port. `null` and anything else is not.
fn allowed_origin(origin: &[u8], hosts: &[String]) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else { return false };
    let Ok(uri) = origin.trim().parse::<hyper::Uri>() else { return false };
    let web = matches!(uri.scheme_str(), Some("http" | "https"));
    let bare = uri.path_and_query().is_none_or(|p| p.as_str().is_empty() || p.as_str() == "/");
    let Some(host) = uri.host() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    web && bare && hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host))
}

/// Whether a message is an `initialize` request.
fn is_initialize(message: &ClientJsonRpcMessage) -> bool {
    matches!(message, JsonRpcMessage::Request(request)
        if matches!(request.request, ClientRequest::InitializeRequest(_)))
}

/// The answer to a message refused before rmcp reads it: a JSON-RPC error naming the
/// request, as rmcp answers a request it cannot take (400).
fn refused_message(refused: &Refused) -> Response<Body> {
    let answer = match refused.answer() {
        Some(answer) => serde_json::to_string(&answer).ok(),
        None => None,
    };
    let body = answer.unwrap_or_else(|| {
        serde_json::json!({
            "jsonrpc": "2.0",
            "error": {"code": -32600, "message": "aecl: the message cannot be read; refused"},
        })
        .to_string()
    });
    let mut response = plain(StatusCode::BAD_REQUEST, body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn plain(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
    *response.status_mut() = status;
    response
}

impl<S: Store + 'static> Front<S> {
    /// The base URL the client reached us at: its `Host` when that names an accepted host
    /// (never a name a rebinding page chose), else `localhost`.
    fn base<B>(&self, request: &Request<B>) -> String {
        let host = request.headers().get(HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            format!("http://{host}")
        } else {
            "http://localhost".to_owned()
        }
    }
}

/// 401 (or 403) with the `WWW-Authenticate` challenge of the MCP authorization spec.
fn refused(base: &str, refusal: &Refusal) -> Response<Body> {
    let (status, error, why) = match refusal {
        Refusal::Unauthenticated(why) => (StatusCode::UNAUTHORIZED, "invalid_token", why),
        Refusal::Forbidden(why) => (StatusCode::FORBIDDEN, "insufficient_scope", why),
    };
    let mut response = plain(status, format!("aecl: {why}"));
    // Quotes and backslashes would end the quoted string early: left out of the header.
    let description: String = why.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
    let challenge = format!(
        "Bearer realm=\"aecl\", error=\"{error}\", error_description=\"{description}\", \
         resource_metadata=\"{base}{METADATA_PATH}\""
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    } else {
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"aecl\""));
    }
    response
}

/// The protected-resource metadata (RFC 9728): this resource takes bearer tokens in the
/// header; they are aecl's own (`aecl token issue --agent`), so no authorization server is
/// named.
fn metadata(base: &str) -> Response<Body> {
    let body = serde_json::json!({
        "resource": format!("{base}{MCP_PATH}"),
        "bearer_methods_supported": ["header"],
        "resource_name": "aecl MCP gateway",
    });
    let mut response = plain(StatusCode::OK, body.to_string());
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::allowed_origin;

    #[test]
    fn an_origin_is_allowed_on_an_accepted_host_only() {
        let hosts: Vec<String> =
            ["localhost", "127.0.0.1", "::1", "mcp.internal"].map(str::to_owned).to_vec();
        for origin in [
            "http://localhost",
            "http://localhost:5173",
            "https://LOCALHOST:8443",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
            "https://mcp.internal",
        ] {
            assert!(allowed_origin(origin.as_bytes(), &hosts), "{origin}");
        }
        for origin in [
            "http://evil.example",
            "http://localhost.evil.example",
            "null",
            "file://localhost",
            "http://localhost/path",
            "",
            "localhost",
        ] {
            assert!(!allowed_origin(origin.as_bytes(), &hosts), "{origin}");
        }
        assert!(!allowed_origin(b"http://local\xffhost", &hosts));
    }
}
