//! The egress proxy, on the host side of the sandbox: the one way out of its network
//! namespace. It speaks HTTP proxying: `CONNECT host:port` (for HTTPS and anything
//! tunnelled) and absolute-form requests (`GET http://host/path`). A host not on the
//! allowlist gets `403` and no connection is made. An allowed name is then resolved once,
//! every address it resolved to is checked (`address.rs`: no loopback, private,
//! link-local, metadata or other non-public address, none of this host's own, unless the
//! policy names it), and the proxy connects to an address it checked, never to the name
//! again: a DNS answer that changes between the check and the connection (rebinding)
//! changes nothing. Every attempt is recorded for the audit record.
//!
//! A plain request is the only one of its connection (`plain.rs`): every request the
//! sandbox makes through the proxy is parsed, checked and recorded, and its `Host` header
//! must name its target. What is not a request it serves (a head it cannot read, one that
//! never ends, a connection over the cap) is recorded too, as refused.
//!
//! The proxy runs in the process that launched the sandbox (`aecl serve`, shared by every
//! agent), whose descriptors and memory no limit of the sandbox's covers: so a sandbox may
//! hold at most [`MAX_CONNECTIONS`] connections through it at once, and at most
//! [`MAX_RECORDED`] attempts are kept (the rest counted).

mod address;
mod plain;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use address::{Host, own_addresses, refusal};
pub use address::{non_public, parse_cidr};
use plain::Plain;

/// The longest request head read from the sandbox.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// How long a connection has to send its whole request head (one deadline for all its
/// reads, so a client sending a byte at a time cannot hold the connection open).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections one sandbox may hold open through the proxy at once. Each costs the host
/// process a descriptor (two once connected) and up to a request head's buffer: without a
/// cap, one sandbox of 256 processes of 256 files each held 20,000 of `aecl serve`'s
/// descriptors, and the server could accept no request and reload no policy.
pub const MAX_CONNECTIONS: usize = 64;

/// Attempts one sandbox's record keeps; past it they are counted in one last entry.
pub const MAX_RECORDED: usize = 4096;

/// The longest request target kept of a head the proxy cannot read.
const MAX_TARGET_KEPT: usize = 256;

/// A pause after a failed accept (out of descriptors, say): not a spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// How long a name may take to resolve, and one address to answer.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A host the sandbox may reach: `example.com`, `*.example.com` (subdomains only), an
/// address (`127.0.0.1`, `[::1]`, in any spelling a URL may use) or any of these with
/// `:port`. Without a port, 80 and 443 for a plain request and 443 alone for a `CONNECT`
/// tunnel: a tunnel carries bytes unread, so a tunnel to port 80 would carry plain
/// requests past the checks a plain request gets (any `Host`, pipelined); a tunnel to
/// another port needs the pattern to name it. A name must also resolve to addresses the proxy
/// may connect to (see the module's documentation); an address pattern names its
/// address explicitly, so that address is allowed whatever its class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPattern {
    /// Lower-cased; an address in its canonical form.
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
        // `2130706433` or `0x7f.1` names 127.0.0.1: keep the address it means.
        let host = match Host::parse(&host) {
            Some(Host::Ip(ip)) if !host.starts_with("*.") => ip.to_string(),
            _ => host,
        };
        Ok(HostPattern { host, port })
    }

    /// Whether a plain request for `host` (as the sandbox wrote it) and `port` matches.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        Host::parse(host).is_some_and(|host| self.allows_host(&host, port, false))
    }

    /// Whether a `CONNECT` tunnel to `host` and `port` matches.
    pub fn allows_tunnel(&self, host: &str, port: u16) -> bool {
        Host::parse(host).is_some_and(|host| self.allows_host(&host, port, true))
    }

    /// The address this pattern names, when it is one.
    fn address(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    fn allows_host(&self, host: &Host, port: u16, tunnel: bool) -> bool {
        let host_ok = match (host, self.address()) {
            (Host::Ip(ip), Some(named)) => *ip == named,
            (Host::Ip(_), None) | (Host::Name(_), Some(_)) => false,
            (Host::Name(name), None) => match self.host.strip_prefix("*.") {
                Some(domain) => {
                    name.len() > domain.len() + 1 && name.ends_with(&format!(".{domain}"))
                }
                None => *name == self.host,
            },
        };
        let port_ok = match self.port {
            Some(p) => p == port,
            None if tunnel => port == 443,
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
    /// The proxy connected (or tried to connect) to a checked address.
    pub allowed: bool,
    /// The address connected to, or the first one refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// How the proxy turns a name into addresses: the system's resolver, or a fixed table in
/// tests.
pub(crate) trait Resolve: Send + Sync + std::fmt::Debug {
    fn resolve<'a>(
        &'a self,
        name: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// `getaddrinfo` (through tokio's blocking pool), as every program on the host resolves.
#[derive(Debug)]
struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        name: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((name, port)).await?.collect()) })
    }
}

/// The proxy's rules and what it saw.
#[derive(Debug, Clone)]
pub(crate) struct Proxy {
    allow: Arc<Vec<HostPattern>>,
    /// Address ranges the policy names: allowed even when not public.
    cidrs: Arc<Vec<IpNet>>,
    resolver: Arc<dyn Resolve>,
    seen: Arc<Mutex<Vec<EgressAttempt>>>,
    /// Attempts past [`MAX_RECORDED`].
    unrecorded: Arc<AtomicU64>,
}

/// Why the proxy answers instead of connecting: the status, the reason, and the address
/// refused when it was an address.
#[derive(Debug)]
struct Refused {
    status: u16,
    why: String,
    address: Option<IpAddr>,
}

impl Refused {
    fn new(status: u16, why: String) -> Refused {
        Refused { status, why, address: None }
    }
}

impl Proxy {
    pub(crate) fn new(allow: Vec<HostPattern>, cidrs: Vec<IpNet>) -> Proxy {
        Proxy::with_resolver(allow, cidrs, Arc::new(SystemResolver))
    }

    pub(crate) fn with_resolver(
        allow: Vec<HostPattern>,
        cidrs: Vec<IpNet>,
        resolver: Arc<dyn Resolve>,
    ) -> Proxy {
        Proxy {
            allow: Arc::new(allow),
            cidrs: Arc::new(cidrs),
            resolver,
            seen: Arc::default(),
            unrecorded: Arc::default(),
        }
    }

    /// Every attempt, in order; when more were made than are kept, a last entry says how
    /// many more.
    pub(crate) fn attempts(&self) -> Vec<EgressAttempt> {
        let mut attempts = self.seen.lock().map(|seen| seen.clone()).unwrap_or_default();
        let more = self.unrecorded.load(Ordering::Relaxed);
        if more > 0 {
            let why = format!("{more} more attempts, not kept (the record keeps {MAX_RECORDED})");
            attempts.push(unread(why));
        }
        attempts
    }

    fn record(&self, request: &Request, allowed: bool, address: Option<String>, why: Option<&str>) {
        self.keep(EgressAttempt {
            host: request.host.clone(),
            port: request.port,
            allowed,
            address,
            refused: why.map(str::to_owned),
        });
    }

    fn keep(&self, attempt: EgressAttempt) {
        if let Ok(mut seen) = self.seen.lock()
            && seen.len() < MAX_RECORDED
        {
            seen.push(attempt);
            return;
        }
        self.unrecorded.fetch_add(1, Ordering::Relaxed);
    }

    /// Serves every connection `listener` accepts, [`MAX_CONNECTIONS`] at most at once:
    /// one more is recorded as refused and closed unread. Runs until the task is dropped
    /// (with the sandbox), and its connections with it.
    pub(crate) async fn serve_all(self, listener: UnixListener) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => match slots.clone().try_acquire_owned() {
                        Ok(slot) => {
                            let proxy = self.clone();
                            connections.spawn(async move {
                                proxy.serve(stream).await;
                                drop(slot);
                            });
                        }
                        Err(_) => self.keep(unread(format!(
                            "more than {MAX_CONNECTIONS} connections open through the proxy at \
                             once: closed unread"
                        ))),
                    },
                    Err(_) => tokio::time::sleep(ACCEPT_PAUSE).await,
                },
                // Finished connections are let go of as they end.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    }

    /// The addresses `request` may be connected to, in the resolver's order: the host is
    /// allowed, and each address is public or named by the policy.
    async fn check(&self, request: &Request) -> Result<Vec<SocketAddr>, Refused> {
        let target = format!("{}:{}", request.host, request.port);
        let Some(host) = Host::parse(&request.host) else {
            return Err(Refused::new(400, format!("`{target}` does not name a host")));
        };
        let tunnel = matches!(request.kind, Kind::Tunnel);
        let patterns: Vec<&HostPattern> =
            self.allow.iter().filter(|p| p.allows_host(&host, request.port, tunnel)).collect();
        if patterns.is_empty() {
            return Err(Refused::new(403, format!("`{target}` is not an allowed host")));
        }
        let resolved = match &host {
            Host::Ip(ip) => vec![SocketAddr::new(*ip, request.port)],
            Host::Name(name) => {
                let lookup = self.resolver.resolve(name, request.port);
                match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                    Ok(Ok(addresses)) if !addresses.is_empty() => addresses,
                    Ok(Ok(_)) => {
                        return Err(Refused::new(502, format!("`{name}` has no address")));
                    }
                    Ok(Err(e)) => {
                        return Err(Refused::new(502, format!("`{name}` did not resolve: {e}")));
                    }
                    Err(_) => {
                        return Err(Refused::new(502, format!("`{name}` did not resolve in time")));
                    }
                }
            }
        };
        // An address pattern names its address: that address is allowed explicitly.
        let mut explicit: Vec<IpNet> =
            patterns.iter().filter_map(|p| p.address()).map(IpNet::from).collect();
        explicit.extend(self.cidrs.iter().copied());
        let own = own_addresses();
        let mut first_refusal = None;
        let permitted: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|address| match refusal(address.ip(), &explicit, &own) {
                None => true,
                Some(why) => {
                    first_refusal.get_or_insert((address.ip(), why));
                    false
                }
            })
            .collect();
        match first_refusal {
            Some((address, why)) if permitted.is_empty() => Err(Refused {
                status: 403,
                why: format!("`{target}` is refused: {why} (name it in `allow_cidrs` to allow it)"),
                address: Some(address),
            }),
            _ => Ok(permitted),
        }
    }

    /// Serves one connection from the sandbox to its end.
    pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, mut client: S) {
        let read = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await;
        let (head, rest) = match read {
            Ok(Ok(read)) => read,
            Ok(Err(Unread::Closed(0))) => return,
            Ok(Err(unread_head)) => return self.keep(unread(unread_head.to_string())),
            Err(_) => {
                let why = format!("no whole request head within {} s", HEAD_TIMEOUT.as_secs());
                return self.keep(unread(why));
            }
        };
        let Some(request) = Request::parse(&head) else {
            // Recorded with the target it named, as far as it can be read: `GET
            // https://exfil.example/` is an attempt to leave, whatever its form.
            self.keep(EgressAttempt {
                host: target_text(&head),
                refused: Some("not an HTTP proxy request this proxy serves".to_owned()),
                ..unread(String::new())
            });
            let _ = respond(&mut client, 400, "aecl egress: not an HTTP proxy request").await;
            return;
        };
        let checked = match &request.kind {
            Kind::Refused(why) => Err(Refused::new(400, why.clone())),
            Kind::Tunnel | Kind::Plain(_) => self.check(&request).await,
        };
        let addresses = match checked {
            Ok(addresses) => addresses,
            Err(refused) => {
                let address = refused.address.map(|a| a.to_string());
                self.record(&request, false, address, Some(&refused.why));
                let message = format!("aecl egress: {}", refused.why);
                let _ = respond(&mut client, refused.status, &message).await;
                return;
            }
        };
        // INVARIANT: only addresses that passed `check` are connected to; the name is
        // never resolved again.
        let mut connected = None;
        for address in &addresses {
            if let Ok(Ok(stream)) =
                tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await
            {
                connected = Some((stream, *address));
                break;
            }
        }
        let first = addresses.first().map(|a| a.ip().to_string());
        let Some((mut upstream, address)) = connected else {
            self.record(&request, true, first, None);
            let _ = respond(&mut client, 502, "aecl egress: the host did not answer").await;
            return;
        };
        self.record(&request, true, Some(address.ip().to_string()), None);
        match &request.kind {
            // A tunnel: tell the client, then carry bytes both ways.
            Kind::Tunnel => {
                let sent = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                if sent.is_err() || upstream.write_all(&rest).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
            // A plain request: that request alone, then the connection ends.
            Kind::Plain(plain) => plain.exchange(client, upstream, rest).await,
            Kind::Refused(_) => {}
        }
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
    kind: Kind,
}

enum Kind {
    /// `CONNECT`.
    Tunnel,
    /// An absolute-form `http://` request, as it goes upstream.
    Plain(Plain),
    /// A plain request for a known target that cannot be sent as it is (its `Host`
    /// header names another host, its body is framed two ways): refused and recorded.
    Refused(String),
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
            let port = port.parse().ok()?;
            return Some(Request { host: host.to_owned(), port, kind: Kind::Tunnel });
        }
        // Only `http://` in absolute form: `https://` goes through CONNECT.
        let rest = target.strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match plain::authority(authority)? {
            (host, Some(port)) => (host, port),
            (host, None) => (host, 80),
        };
        let kind = match Plain::new(method, path, (host, port), parsed.headers) {
            Ok(plain) => Kind::Plain(plain),
            Err(why) => Kind::Refused(why),
        };
        Some(Request { host: host.to_owned(), port, kind })
    }
}

/// An attempt recorded before any host was read.
fn unread(why: String) -> EgressAttempt {
    EgressAttempt {
        host: String::new(),
        port: 0,
        allowed: false,
        address: None,
        refused: Some(why),
    }
}

/// The request target of a head's first line (its second word), as printable text cut to
/// [`MAX_TARGET_KEPT`] bytes.
fn target_text(head: &[u8]) -> String {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let target = line.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).nth(1);
    let text = String::from_utf8_lossy(target.unwrap_or_default());
    text.chars().map(|c| if c.is_control() { '?' } else { c }).take(MAX_TARGET_KEPT).collect()
}

/// Why no request head was read.
#[derive(Debug, thiserror::Error)]
enum Unread {
    #[error("the connection closed after {0} bytes, before a whole request head")]
    Closed(usize),
    #[error("a request head over {MAX_HEAD_BYTES} bytes")]
    TooLong,
}

/// Reads up to the end of the request head; returns the head and what came after it.
async fn read_head<S: AsyncRead + Unpin>(client: &mut S) -> Result<(Vec<u8>, Vec<u8>), Unread> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = client.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return Err(Unread::Closed(buffer.len()));
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((buffer, rest));
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(Unread::TooLong);
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
