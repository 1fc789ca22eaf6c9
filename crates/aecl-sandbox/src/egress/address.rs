//! Which addresses the egress proxy may connect to. Names are checked by the allowlist;
//! this is the second question, asked of every address a name resolved to (and of a
//! literal address in the request): is it a public, globally routed address that is not
//! this host's own? Loopback, private, link-local, CGNAT, multicast, unspecified,
//! documentation and other special-purpose ranges (IANA's registries), cloud metadata
//! addresses, and the same hidden in IPv6 forms that carry an IPv4 address (mapped,
//! compatible, NAT64, 6to4) are refused unless the policy names the address or a range
//! holding it (`allow_cidrs`, or a host pattern that is itself that address).
//!
//! A host name is canonicalised the way browsers and curl read URLs (WHATWG): `2130706433`,
//! `0x7f.1` and `017700000001` are all `127.0.0.1`, so a number spelled differently is the
//! address it means, never a name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// A request's host, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    /// A literal address in any spelling a URL parser accepts.
    Ip(IpAddr),
    /// A domain name, lower-cased and in its ASCII form.
    Name(String),
}

impl Host {
    /// `None`: not a host at all (the request is refused).
    pub(crate) fn parse(raw: &str) -> Option<Host> {
        if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            return inner.parse::<Ipv6Addr>().ok().map(|ip| Host::Ip(IpAddr::V6(ip)));
        }
        // A bare IPv6 address (a pattern may be written without brackets).
        if let Ok(ip) = raw.parse::<Ipv6Addr>() {
            return Some(Host::Ip(IpAddr::V6(ip)));
        }
        match url::Host::parse(raw).ok()? {
            url::Host::Ipv4(ip) => Some(Host::Ip(IpAddr::V4(ip))),
            url::Host::Ipv6(ip) => Some(Host::Ip(IpAddr::V6(ip))),
            url::Host::Domain(name) if !name.is_empty() => Some(Host::Name(name)),
            url::Host::Domain(_) => None,
        }
    }
}

/// Parses an `allow_cidrs` entry: `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1`,
/// `::1`) for just that address.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!("`{text}`: expected an address or a CIDR range (`10.0.0.0/8`, `::1/128`)")
    })
}

/// Why the proxy may not connect to `ip`, or `None` when it may. `explicit` are the
/// ranges the policy allows by name; `own` are this host's addresses.
pub(crate) fn refusal(ip: IpAddr, explicit: &[IpNet], own: &[IpAddr]) -> Option<String> {
    let embedded = embedded_v4(ip);
    let named = |ip: IpAddr| explicit.iter().any(|net| net.contains(&ip));
    // `::ffff:127.0.0.1` is 127.0.0.1 on the wire: a range naming either allows it.
    if named(ip) || matches!(embedded, Some(Embedded::Mapped(v4)) if named(IpAddr::V4(v4))) {
        return None;
    }
    if let Some(kind) = special(ip) {
        return Some(format!("{ip} is a {kind} address"));
    }
    if let Some(inner) = embedded {
        let v4 = inner.address();
        if let Some(kind) = special_v4(v4) {
            return Some(format!("{ip} carries {v4}, a {kind} address ({})", inner.form()));
        }
    }
    let same = |a: &IpAddr| *a == ip || embedded.is_some_and(|e| *a == IpAddr::V4(e.address()));
    if own.iter().any(same) {
        return Some(format!("{ip} is an address of this host"));
    }
    None
}

/// Why `ip` is not a public, globally routed destination ("127.0.0.1 is a loopback
/// address"), or `None` when it is one: IANA's special-purpose registries, the clouds'
/// metadata addresses, and such an IPv4 address carried in an IPv6 one. The sandbox's
/// egress proxy and the `http` and `webhook` connectors share it.
pub fn non_public(ip: IpAddr) -> Option<String> {
    refusal(ip, &[], &[])
}

/// This host's own addresses (every interface's), read now: aecl's API and anything else
/// listening on the host are not destinations.
pub(crate) fn own_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    interfaces
        .filter_map(|interface| {
            let address = interface.address?;
            if let Some(v4) = address.as_sockaddr_in() {
                return Some(IpAddr::V4(v4.ip()));
            }
            address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        })
        .collect()
}

/// An IPv4 address inside an IPv6 one, and the form that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embedded {
    /// `::ffff:a.b.c.d`: the IPv4 address itself, on a dual-stack socket.
    Mapped(Ipv4Addr),
    /// `64:ff9b::a.b.c.d`: reached through a NAT64 gateway.
    Nat64(Ipv4Addr),
    /// `2002:aabb:ccdd::/48`: reached through a 6to4 relay.
    SixToFour(Ipv4Addr),
}

impl Embedded {
    fn address(self) -> Ipv4Addr {
        match self {
            Embedded::Mapped(a) | Embedded::Nat64(a) | Embedded::SixToFour(a) => a,
        }
    }

    fn form(self) -> &'static str {
        match self {
            Embedded::Mapped(_) => "IPv4-mapped",
            Embedded::Nat64(_) => "NAT64",
            Embedded::SixToFour(_) => "6to4",
        }
    }
}

fn embedded_v4(ip: IpAddr) -> Option<Embedded> {
    let IpAddr::V6(v6) = ip else { return None };
    let s = v6.segments();
    // The low 32 bits (truncation intended).
    let low = Ipv4Addr::from(v6.to_bits() as u32);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(Embedded::Mapped(v4));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(Embedded::Nat64(low));
    }
    if s[0] == 0x2002 {
        let v4 = (u32::from(s[1]) << 16) | u32::from(s[2]);
        return Some(Embedded::SixToFour(Ipv4Addr::from(v4)));
    }
    None
}

/// The kind of special-purpose address `ip` is, if it is one.
fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

/// IANA's IPv4 special-purpose registry, and the metadata addresses of the clouds.
fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u8, &str)] = &[
        ([169, 254, 169, 254], 32, "cloud metadata"),
        ([169, 254, 170, 2], 32, "cloud metadata"),
        ([100, 100, 100, 200], 32, "cloud metadata"),
        ([0, 0, 0, 0], 8, "\"this network\" (unspecified)"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "shared (CGNAT)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "IETF protocol assignment"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 31, 196, 0], 24, "AS112"),
        ([192, 52, 193, 0], 24, "AMT"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast"),
        ([192, 168, 0, 0], 16, "private"),
        ([192, 175, 48, 0], 24, "direct delegation AS112"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved (or broadcast)"),
    ];
    let bits = u32::from(ip);
    RANGES.iter().find_map(|(base, prefix, kind)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
        (bits & mask == u32::from(Ipv4Addr::from(*base)) & mask).then_some(*kind)
    })
}

/// IANA's IPv6 special-purpose registry and the other non-global ranges. Ranges that
/// carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address as well.
fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    const RANGES: &[(u128, u8, &str)] = &[
        (0xfd00_0ec2_0000_0000_0000_0000_0000_0254, 128, "cloud metadata"),
        (0, 128, "unspecified"),
        (1, 128, "loopback"),
        (0, 96, "IPv4-compatible (deprecated)"),
        (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48, "local-use NAT64"),
        (0x0100_0000_0000_0000_0000_0000_0000_0000, 64, "discard-only"),
        (0x2001_0000_0000_0000_0000_0000_0000_0000, 23, "IETF protocol assignment (Teredo...)"),
        (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32, "documentation"),
        (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20, "documentation"),
        (0x5f00_0000_0000_0000_0000_0000_0000_0000, 16, "segment routing (SRv6)"),
        (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, "unique local (private)"),
        (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, "link-local"),
        (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10, "site-local"),
        (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, "multicast"),
    ];
    let bits = ip.to_bits();
    if let Some(kind) = RANGES.iter().find_map(|(base, prefix, kind)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
        (bits & mask == base & mask).then_some(*kind)
    }) {
        return Some(kind);
    }
    // `::ffff:0:0:0/96` (SIIT) is no destination of its own; `::ffff:a.b.c.d` (mapped)
    // is judged by its IPv4 address.
    let s = ip.segments();
    if s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0 {
        return Some("IPv4-translated (SIIT)");
    }
    None
}

#[cfg(test)]
mod tests;
