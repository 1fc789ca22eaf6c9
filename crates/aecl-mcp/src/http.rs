//! The gateway over streamable HTTP: `POST /mcp` (and the `GET` and `DELETE` of a
//! 2025-11-25 session) served by rmcp's streamable HTTP service on a plain hyper HTTP/1
//! connection per client. Every session is the same gateway: one agent, one run.

use std::convert::Infallible;
use std::future::Future;

use aecl_engine::Store;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::error::McpError;
use crate::gateway::Gateway;

/// The one path MCP is served on.
pub const MCP_PATH: &str = "/mcp";

impl<S: Store + 'static> Gateway<S> {
    /// Serves MCP over streamable HTTP on `listener` until `shutdown` resolves.
    /// `allowed_hosts` are the `Host` header values accepted (DNS-rebinding protection);
    /// loopback names are always accepted.
    pub async fn serve_http(
        self,
        listener: tokio::net::TcpListener,
        allowed_hosts: Vec<String>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), McpError> {
        let mut hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        hosts.extend(allowed_hosts);
        let config = StreamableHttpServerConfig::default().with_allowed_hosts(hosts);
        let gateway = self;
        let service = StreamableHttpService::new(
            move || Ok(gateway.clone()),
            LocalSessionManager::default().into(),
            config,
        );
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
                () = &mut shutdown => return Ok(()),
            };
            // Small request and answer frames, each awaited: never held back for more.
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%peer, %error, "TCP_NODELAY");
            }
            let service = service.clone();
            tokio::spawn(async move {
                let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let service = service.clone();
                    async move {
                        if request.uri().path() != MCP_PATH {
                            let body = format!("MCP is served on {MCP_PATH}");
                            let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
                            *response.status_mut() = StatusCode::NOT_FOUND;
                            return Ok::<_, Infallible>(response);
                        }
                        let response = service.handle(request).await;
                        Ok(response.map(|body| body.boxed()))
                    }
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
