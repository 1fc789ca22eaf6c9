//! The HTTP client the `http` and `webhook` connectors share: hyper-util's client over
//! rustls with the system's root certificates (the stack `aecl-server`'s notifier uses),
//! the egress allowlist ([`Egress`]), and the line between "not sent" and "may have been
//! sent".
//!
//! A URL must be `https://` or `http://`, without credentials, to a host and port that an
//! `allow_hosts` entry names:
//!
//! - `api.example.com`, or `*.example.com` for its subdomains: that name;
//! - `203.0.113.7`, `[2001:db8::7]`, or a range `10.20.0.0/16`: those addresses, in a URL
//!   (in any spelling a URL parser reads as that address) or as what a name resolves to;
//! - with `:PORT` (`api.example.com:8443`, `127.0.0.1:8080`, `[::1]:8080`): that port only;
//!   without, the scheme's default port only (443 for `https`, 80 for `http`).
//!
//! A name is then resolved once, and every address it resolved to is checked: a loopback,
//! private (RFC 1918), shared (CGNAT), link-local, unique-local, unspecified, multicast,
//! broadcast, documentation or other special-purpose address, or one of these carried in
//! an IPv6 address (IPv4-mapped, -compatible, NAT64, 6to4), is refused unless an address
//! entry names it (for that port). The connection goes only to the addresses checked: the
//! request's connector is given them and never resolves the name again, so a DNS answer
//! that changes in between (rebinding) changes nothing. These rules mirror the sandbox's
//! egress proxy (`aecl-sandbox`'s `egress/address.rs`), apart from its refusal of this
//! host's own public addresses.

use std::future::Ready;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aecl_engine::BoxFuture;
use aecl_sandbox::IpNet;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

use crate::error::ConnectorError;

/// Where requests may go, and how they get there.
#[derive(Debug, Clone)]
pub(crate) struct Egress {
    allow: Arc<[Allowed]>,
    tls: Arc<rustls::ClientConfig>,
    lookup: Arc<dyn Lookup>,
}

/// One `allow_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    /// A host name (lower-case, ASCII), or with `wildcard` its subdomains.
    Name { name: String, wildcard: bool, port: Option<u16> },
    /// An address or a range of them; an IPv4-mapped IPv6 address is kept as IPv4.
    Addresses { net: IpNet, port: Option<u16> },
}

/// A URL that passed the allowlist: where it goes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    uri: hyper::Uri,
    host: url::Host<String>,
    port: u16,
    https: bool,
}

impl Target {
    pub(crate) fn uri(&self) -> &hyper::Uri {
        &self.uri
    }
}

/// How a name becomes addresses: the system's resolver, or a table in tests.
pub(crate) trait Lookup: Send + Sync + std::fmt::Debug {
    fn lookup<'a>(
        &'a self,
        name: &'a str,
        port: u16,
    ) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>>;
}

/// `getaddrinfo` on tokio's blocking pool, as every program on the host resolves.
#[derive(Debug)]
struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup<'a>(
        &'a self,
        name: &'a str,
        port: u16,
    ) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
        let name = name.to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || (name.as_str(), port).to_socket_addrs())
                .await
                .map_err(std::io::Error::other)?
                .map(Iterator::collect)
        })
    }
}

/// Parses `allow_hosts` (see the module documentation); the message names the bad entry.
fn parse_allow(entries: &[String]) -> Result<Vec<Allowed>, String> {
    entries.iter().map(|entry| parse_entry(entry)).collect()
}

fn parse_entry(entry: &str) -> Result<Allowed, String> {
    let text = entry.trim().to_ascii_lowercase();
    let bad = |why: &str| format!("`{entry}`: {why}");
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let (inner, after) = bracketed.split_once(']').ok_or_else(|| bad("no closing `]`"))?;
        match after {
            "" => (inner.to_owned(), None),
            _ => (
                inner.to_owned(),
                Some(after.strip_prefix(':').ok_or_else(|| bad("expected `:PORT` after `]`"))?),
            ),
        }
    } else if text.matches(':').count() > 1 {
        // A bare IPv6 address or range: a port needs brackets.
        (text.clone(), None)
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (text.clone(), None),
        }
    };
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => Some(port),
            _ => return Err(bad("the port after `:` must be a number from 1 to 65535")),
        },
    };
    if host.contains('/') {
        let net = host.parse::<IpNet>().map_err(|_| bad("not an address range (`10.0.0.0/8`)"))?;
        return Ok(Allowed::Addresses { net: canonical_net(net.trunc()), port });
    }
    if let Ok(ip) = host.parse::<Ipv6Addr>() {
        return Ok(Allowed::Addresses { net: IpNet::from(canonical(IpAddr::V6(ip))), port });
    }
    let (wildcard, bare) = match host.strip_prefix("*.") {
        Some(domain) => (true, domain),
        None => (false, host.as_str()),
    };
    let expected = "expected a host name, `*.domain`, an address or a range";
    if bare.is_empty() || bare.contains('*') {
        return Err(bad(expected));
    }
    match url::Host::parse(bare).map_err(|_| bad(expected))? {
        url::Host::Domain(_)
            if bare
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))) =>
        {
            Err(bad(expected))
        }
        url::Host::Domain(name) => Ok(Allowed::Name { name, wildcard, port }),
        _ if wildcard => Err(bad("`*.` goes before a domain, not an address")),
        url::Host::Ipv4(ip) => Ok(Allowed::Addresses { net: IpNet::from(IpAddr::V4(ip)), port }),
        url::Host::Ipv6(ip) => {
            Ok(Allowed::Addresses { net: IpNet::from(canonical(IpAddr::V6(ip))), port })
        }
    }
}

/// `ip`, an IPv4-mapped IPv6 address as the IPv4 address it is on the wire.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn canonical_net(net: IpNet) -> IpNet {
    match (net, canonical(net.addr())) {
        (IpNet::V6(v6), IpAddr::V4(v4)) if v6.prefix_len() >= 96 => {
            IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net)
        }
        _ => net,
    }
}

impl Allowed {
    fn port_allows(port: Option<u16>, target_port: u16, default: u16) -> bool {
        port.unwrap_or(default) == target_port
    }

    /// Whether this entry allows a URL to `host` and `port` (`default`: its scheme's).
    fn allows(&self, host: &url::Host<String>, port: u16, default: u16) -> bool {
        match (self, host) {
            (Allowed::Name { name, wildcard, port: p }, url::Host::Domain(host)) => {
                let named = if *wildcard {
                    host.len() > name.len() + 1 && host.ends_with(&format!(".{name}"))
                } else {
                    host == name
                };
                named && Allowed::port_allows(*p, port, default)
            }
            (Allowed::Addresses { net, port: p }, url::Host::Ipv4(ip)) => {
                net.contains(&IpAddr::V4(*ip)) && Allowed::port_allows(*p, port, default)
            }
            (Allowed::Addresses { net, port: p }, url::Host::Ipv6(ip)) => {
                net.contains(&canonical(IpAddr::V6(*ip))) && Allowed::port_allows(*p, port, default)
            }
            _ => false,
        }
    }

    /// Whether this entry names address `ip` for `port`, lifting its class check.
    fn names(&self, ip: IpAddr, port: u16, default: u16) -> bool {
        match self {
            Allowed::Addresses { net, port: p } => {
                net.contains(&canonical(ip)) && Allowed::port_allows(*p, port, default)
            }
            Allowed::Name { .. } => false,
        }
    }
}

impl Egress {
    /// An egress over `allow_hosts` (refused when an entry does not parse), resolving with
    /// the system's resolver.
    pub(crate) fn new(allow_hosts: &[String]) -> Result<Egress, ConnectorError> {
        Egress::with_lookup(allow_hosts, Arc::new(SystemLookup))
    }

    pub(crate) fn with_lookup(
        allow_hosts: &[String],
        lookup: Arc<dyn Lookup>,
    ) -> Result<Egress, ConnectorError> {
        let allow = parse_allow(allow_hosts).map_err(|message| ConnectorError::Config {
            file: "the connector's configuration".to_owned(),
            message: format!("allow_hosts: {message}"),
        })?;
        let tls = rustls::ClientConfig::builder()
            .with_native_roots()
            .map_err(ConnectorError::Tls)?
            .with_no_client_auth();
        Ok(Egress { allow: allow.into(), tls: Arc::new(tls), lookup })
    }

    /// Checks `allow_hosts` alone, for a configuration error that names its file.
    pub(crate) fn check_allow(allow_hosts: &[String]) -> Result<(), String> {
        parse_allow(allow_hosts).map(drop)
    }

    /// `raw` as a target if it is `http(s)://` to a host and port of the allowlist, without
    /// credentials in it; else why not (`bad_request:` or `egress_denied:`).
    pub(crate) fn target(&self, raw: &str) -> Result<Target, String> {
        let url =
            url::Url::parse(raw).map_err(|e| format!("bad_request: `{raw}` is not a URL: {e}"))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(format!("bad_request: `{raw}`: only http and https")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("bad_request: `{raw}`: credentials in a URL are refused"));
        }
        let host = url
            .host()
            .map(|h| h.to_owned())
            .ok_or_else(|| format!("bad_request: `{raw}` names no host"))?;
        let default = if https { 443 } else { 80 };
        let port = url.port().unwrap_or(default);
        if !self.allow.iter().any(|entry| entry.allows(&host, port, default)) {
            let without = if url.port().is_some() { "" } else { " (no port: the default)" };
            return Err(format!(
                "egress_denied: host `{host}` port {port}{without} is not in the connector's \
                 allow_hosts (an entry without a port allows {default} only)"
            ));
        }
        let uri = url.as_str().parse().map_err(|e| format!("bad_request: `{raw}`: {e}"))?;
        Ok(Target { uri, host, port, https })
    }

    /// Whether credentials may go to `target`: over `https`, or in clear text only to a
    /// loopback address that an entry names exactly (a local proxy or test server), never
    /// to a name or a range.
    pub(crate) fn may_carry_credentials(&self, target: &Target) -> bool {
        if target.https {
            return true;
        }
        let ip = match &target.host {
            url::Host::Ipv4(ip) => IpAddr::V4(*ip),
            url::Host::Ipv6(ip) => canonical(IpAddr::V6(*ip)),
            url::Host::Domain(_) => return false,
        };
        ip.is_loopback()
            && self.allow.iter().any(|entry| {
                matches!(entry, Allowed::Addresses { net, port }
                    if net.prefix_len() == net.max_prefix_len()
                        && net.addr() == ip
                        && Allowed::port_allows(*port, target.port, 80))
            })
    }

    /// The addresses `target` may be connected to: its literal address, or those its name
    /// resolved to (once) that are public or named by an entry, in the resolver's order;
    /// or why there are none (`egress_denied:` when refused).
    pub(crate) async fn addresses(&self, target: &Target) -> Result<Vec<SocketAddr>, String> {
        let default = if target.https { 443 } else { 80 };
        let resolved = match &target.host {
            url::Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), target.port)],
            url::Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), target.port)],
            url::Host::Domain(name) => match self.lookup.lookup(name, target.port).await {
                Ok(addresses) if !addresses.is_empty() => addresses,
                Ok(_) => return Err(format!("connection failed: `{name}` has no address")),
                Err(e) => return Err(format!("connection failed: `{name}` did not resolve: {e}")),
            },
        };
        let mut first_refusal = None;
        let permitted: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|address| {
                let ip = address.ip();
                if self.allow.iter().any(|entry| entry.names(ip, address.port(), default)) {
                    return true;
                }
                match special(ip) {
                    None => true,
                    Some(kind) => {
                        first_refusal.get_or_insert(kind);
                        false
                    }
                }
            })
            .collect();
        match first_refusal {
            Some(why) if permitted.is_empty() => Err(format!(
                "egress_denied: `{}` {why}; an address other than a public one is reached only \
                 when allow_hosts names it (`ADDRESS:PORT` or a range); nothing was sent",
                target.host
            )),
            _ => Ok(permitted),
        }
    }

    /// Sends `request` to `target` (its URI is set to the target's), connecting only to
    /// the addresses [`Egress::addresses`] allows, within `timeout` in all.
    pub(crate) async fn send(
        &self,
        target: &Target,
        mut request: hyper::Request<Full<Bytes>>,
        timeout: Duration,
        max_body: usize,
    ) -> Sent {
        *request.uri_mut() = target.uri.clone();
        let exchange = async {
            let addresses = match self.addresses(target).await {
                Ok(addresses) => addresses,
                Err(why) => return Sent::Unsent(why),
            };
            // INVARIANT: this request's connector knows only the addresses checked above;
            // the name is never resolved again.
            let mut http = HttpConnector::new_with_resolver(Pinned(addresses));
            http.enforce_http(false);
            let connector = HttpsConnector::from((http, Arc::clone(&self.tls)));
            let client: Client<_, Full<Bytes>> =
                Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector);
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
}

/// The resolver of one request's connector: the addresses already checked, whatever the
/// name.
#[derive(Debug, Clone)]
struct Pinned(Vec<SocketAddr>);

impl tower_service::Service<Name> for Pinned {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        std::future::ready(Ok(self.0.clone().into_iter()))
    }
}

/// How a request ended.
#[derive(Debug)]
pub(crate) enum Sent {
    Response {
        status: u16,
        body: Bytes,
        truncated: bool,
    },
    /// It never left (refused by the allowlist, or the connection could not be made).
    Unsent(String),
    /// It may have arrived (the connection broke after sending, or timed out).
    Broken(String),
}

/// Why `ip` is not a public destination, or `None` when it is (`aecl_sandbox::non_public`,
/// the egress proxy's own check).
fn special(ip: IpAddr) -> Option<String> {
    aecl_sandbox::non_public(ip).map(|why| format!("resolved to {why}"))
}

#[cfg(test)]
mod tests;
