//! The egress proxy, on the host side of the sandbox: the one way out of its network
//! namespace. It speaks HTTP proxying: `CONNECT host:port` (for HTTPS and anything
//! tunnelled) and absolute-form requests (`GET http://host/path`). A host not on the
//! allowlist gets `403` and no connection is made. Every attempt is recorded for the audit
//! record.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest request head read from the sandbox.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A host the sandbox may reach: `example.com`, `*.example.com` (subdomains only) or
/// either with `:port`. Without a port, 80 and 443.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let text = text.trim();
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port = port.parse::<u16>().map_err(|_| {
                    format!("`{text}`: the port after `:` must be a number from 1 to 65535")
                })?;
                (host, Some(port).filter(|p| *p != 0))
            }
            _ => (text, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let bare = host.strip_prefix("*.").unwrap_or(&host);
        if bare.is_empty()
            || bare.contains('*')
            || !bare.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        {
            return Err(format!("`{text}`: expected a host name, `*.domain` or an address"));
        }
        Ok(HostPattern { host, port })
    }

    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let host_ok = match self.host.strip_prefix("*.") {
            Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
            None => host == self.host,
        };
        let port_ok = match self.port {
            Some(p) => p == port,
            None => port == 80 || port == 443,
        };
        host_ok && port_ok
    }
}

/// One attempt to leave the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressAttempt {
    pub host: String,
    pub port: u16,
    pub allowed: bool,
}

/// The proxy's rules and what it saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxy {
    allow: Arc<Vec<HostPattern>>,
    seen: Arc<Mutex<Vec<EgressAttempt>>>,
}

impl Proxy {
    pub(crate) fn new(allow: Vec<HostPattern>) -> Proxy {
        Proxy { allow: Arc::new(allow), seen: Arc::default() }
    }

    pub(crate) fn attempts(&self) -> Vec<EgressAttempt> {
        self.seen.lock().map(|seen| seen.clone()).unwrap_or_default()
    }

    /// Serves one connection from the sandbox to its end.
    pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, mut client: S) {
        let Some((head, rest)) = read_head(&mut client).await else { return };
        let Some(request) = Request::parse(&head) else {
            let _ = respond(&mut client, 400, "aecl egress: not an HTTP proxy request").await;
            return;
        };
        let allowed = self.allow.iter().any(|p| p.allows(&request.host, request.port));
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(EgressAttempt { host: request.host.clone(), port: request.port, allowed });
        }
        if !allowed {
            let message =
                format!("aecl egress: `{}:{}` is not an allowed host", request.host, request.port);
            let _ = respond(&mut client, 403, &message).await;
            return;
        }
        let Ok(mut upstream) = TcpStream::connect((request.host.as_str(), request.port)).await
        else {
            let _ = respond(&mut client, 502, "aecl egress: the host did not answer").await;
            return;
        };
        let sent = match &request.forward {
            // A tunnel: tell the client, then carry bytes both ways.
            None => client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await,
            // A plain request: the same head in origin form, then the rest.
            Some(head) => upstream.write_all(head).await,
        };
        if sent.is_err() || upstream.write_all(&rest).await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

/// The host and port a proxy request head asks to reach, as the proxy reads it (`None`:
/// not a request it serves). Public for the fuzz target: the head comes from inside the
/// sandbox.
pub fn proxy_target(head: &[u8]) -> Option<(String, u16)> {
    Request::parse(head).map(|r| (r.host, r.port))
}

/// What the proxy needs of a request head.
struct Request {
    host: String,
    port: u16,
    /// The head to send upstream for a plain request; `None` for `CONNECT`.
    forward: Option<Vec<u8>>,
}

impl Request {
    fn parse(head: &[u8]) -> Option<Request> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(_) = parsed.parse(head).ok()? else { return None };
        let method = parsed.method?;
        let target = parsed.path?;
        if method.eq_ignore_ascii_case("CONNECT") {
            let (host, port) = target.rsplit_once(':')?;
            return Some(Request {
                host: host.to_owned(),
                port: port.parse().ok()?,
                forward: None,
            });
        }
        // Only `http://` in absolute form: `https://` goes through CONNECT.
        let rest = target.strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, p.parse().ok()?),
            _ => (authority, 80),
        };
        if host.is_empty() {
            return None;
        }
        let mut forward = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
        for header in parsed.headers.iter() {
            // Hop-by-hop proxy headers stay here.
            if header.name.eq_ignore_ascii_case("proxy-connection")
                || header.name.eq_ignore_ascii_case("proxy-authorization")
            {
                continue;
            }
            forward.extend_from_slice(header.name.as_bytes());
            forward.extend_from_slice(b": ");
            forward.extend_from_slice(header.value);
            forward.extend_from_slice(b"\r\n");
        }
        forward.extend_from_slice(b"\r\n");
        Some(Request { host: host.to_owned(), port, forward: Some(forward) })
    }
}

/// Reads up to the end of the request head; returns the head and what came after it.
async fn read_head<S: AsyncRead + Unpin>(client: &mut S) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Some((buffer, rest));
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return None;
        }
    }
}

async fn respond<S: AsyncWrite + Unpin>(
    client: &mut S,
    status: u16,
    message: &str,
) -> std::io::Result<()> {
    let reason = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        _ => "Bad Gateway",
    };
    let body = format!("{message}\n");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}

#[cfg(test)]
mod tests;
