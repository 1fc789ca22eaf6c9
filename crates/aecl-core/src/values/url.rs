//! URLs: one value whatever the scheme (`www.x.test`, `http://www.x.test` and
//! `https://www.x.test/` are one), host case and IDNA, default port, trailing slash,
//! escapes of unreserved characters and user info.
//!
//! `www.` is NOT stripped: `www.x.test` and `x.test` are different hosts, which may be
//! served by different machines or, on shared hosting, belong to different people; folding
//! them would let a trusted mention of one vouch for the other. The query and fragment are
//! part of the value: a secret in `?q=` is different data.
//!
//! A host's [`site`] (its registrable domain, by the public suffix list) only ever counts
//! against it: whoever holds `x.test` holds `www.x.test`, `cdn.x.test` and any label an
//! agent writes data into (`secret.x.test`, DNS exfiltration), so a host nobody named whose
//! site only untrusted content named is that content's (`typed::host_source`). It never
//! makes a host trusted.

use url::Url;

/// The normal forms of one URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlForm {
    /// `host[:port]/path[?query][#fragment]`, lower case, for `http`, `https` and no
    /// scheme; other schemes keep theirs in front (`ftp://host/path`).
    pub full: String,
    /// The host alone (lower case, IDNA as punycode): where the request goes.
    pub host: String,
    /// The hosts other clients connect to for this spelling, where they read it otherwise
    /// than the WHATWG standard does (`host` above). curl, wget, git, httpx and Python's
    /// `urlsplit` end the authority at the first `/`, `?` or `#` only, so for
    /// `https://docs.test\@evil.test/` they go to `evil.test` while browsers and Node go
    /// to `docs.test`. Data flow checks every one of them.
    pub other_hosts: Vec<String>,
    /// `host:port` when the link names a port other than its scheme's (and the other web
    /// scheme's) default: another service than the host's default one.
    pub authority: Option<String>,
}

/// Shortest piece of a URL's path or query read as an identifier.
const MIN_IDENTIFIER: usize = 8;
/// Shortest compound name (words joined by `-` or `_`) read as an identifier.
const MIN_COMPOUND: usize = 6;
/// A piece this long is an identifier even without a digit (a token of letters).
const LONG_IDENTIFIER: usize = 20;

impl UrlForm {
    /// The pieces after the host (path segments, query names and values, the fragment)
    /// that look like identifiers: 8 characters or more with a digit, 20 and more, or a
    /// compound name of 6 and more (words joined by `-` or `_`: an ntfy topic
    /// `exfil-drop`, a repository `team_notes`). On an allowed host they say whose
    /// resource it is (a webhook's id, a topic, a repository), so whoever supplied them
    /// chose where the request lands (red team round 22, flow F3: a page's topic on the
    /// user's ntfy host). Words (`services`, `documentation`) are not identifiers.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        let after_scheme = self.full.split_once("://").map_or(self.full.as_str(), |(_, r)| r);
        let rest = after_scheme
            .find(['/', '?', '#'])
            .and_then(|start| after_scheme.get(start..))
            .unwrap_or_default();
        rest.split(['/', '?', '&', '=', '#', ';']).filter(|piece| {
            let length = piece.chars().count();
            let compound = piece
                .trim_matches(['-', '_'])
                .contains(['-', '_'])
                .then(|| piece.chars().filter(|c| c.is_alphanumeric()).count() >= MIN_COMPOUND);
            length >= LONG_IDENTIFIER
                || (length >= MIN_IDENTIFIER && piece.bytes().any(|b| b.is_ascii_digit()))
                || compound == Some(true)
        })
    }
}

/// The normal form of `text` as a URL, or `None` when it is not one (white space inside,
/// no host, a scheme that has no host such as `mailto:`).
pub fn normal(text: &str) -> Option<UrlForm> {
    let folded = super::fold(text);
    // What browsers and Node do first (the WHATWG URL standard): C0 controls and spaces at
    // either end are dropped, tabs and newlines anywhere removed.
    let cleaned: String = folded
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let text = cleaned.trim_start_matches('<').trim_end_matches('>');
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return None;
    }
    let unzoned = without_zone(text);
    let text = unzoned.as_ref();
    let explicit = scheme_of(text);
    // `https:evil.test`, `https:/evil.test`, `https:\\evil.test`: a web scheme needs no
    // `//` to name a host, for browsers and Node alike.
    let special = explicit.is_none()
        && text
            .split_once(':')
            .is_some_and(|(head, _)| SPECIAL_SCHEMES.contains(&head.to_ascii_lowercase().as_str()));
    // User info in front of a host, without a scheme (`user:pw@evil.test/x`,
    // `:@evil.test`): curl and wget take the word for `http://` and the host after the `@`.
    let authority = text.split(['/', '?', '#']).next().unwrap_or_default();
    let user_info = explicit.is_none()
        && !special
        && authority.contains('@')
        && !text
            .split_once(':')
            .is_some_and(|(head, _)| HOSTLESS_SCHEMES.iter().any(|s| head.eq_ignore_ascii_case(s)));
    // `mailto:`, `tel:`, `javascript:`: a scheme without `//` names no host (while
    // `host:8080/path` is a host and a port).
    if explicit.is_none()
        && !special
        && !user_info
        && let Some((head, tail)) = text.split_once(':')
        && head.starts_with(|c: char| c.is_ascii_alphabetic())
        && head.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
        && !tail.as_bytes().first().is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    let parsed = match explicit {
        _ if special => Url::parse(text).ok()?,
        Some(_) => Url::parse(text).ok()?,
        None if text.starts_with("//") => Url::parse(&format!("http:{text}")).ok()?,
        None => Url::parse(&format!("http://{}", scp_as_path(text))).ok()?,
    };
    let host = match parsed.host() {
        Some(url::Host::Ipv6(v6)) => match carried_ipv4(v6) {
            Some(v4) => v4.to_string(),
            None => parsed.host_str()?.to_owned(),
        },
        _ => parsed.host_str()?.trim_end_matches('.').to_ascii_lowercase(),
    };
    if host.is_empty() {
        return None;
    }
    let other_hosts: Vec<String> =
        authority_host(text).into_iter().filter(|other| *other != host).collect();
    let scheme = parsed.scheme();
    let mut full = String::with_capacity(text.len());
    if scheme != "http" && scheme != "https" {
        full.push_str(scheme);
        full.push_str("://");
    }
    full.push_str(&host);
    let mut authority = None;
    // `port()` is `None` for the scheme's default port.
    if let Some(port) = parsed.port() {
        // The other web scheme's default is not this one's: `http://x:443` is `https://x`.
        let other_default = (scheme == "http" && port == 443) || (scheme == "https" && port == 80);
        if !other_default {
            full.push(':');
            full.push_str(&port.to_string());
            authority = Some(format!("{host}:{port}"));
        }
    }
    let path = super::decode_unreserved(parsed.path());
    full.push_str(path.trim_end_matches('/'));
    if let Some(query) = parsed.query().filter(|q| !q.is_empty()) {
        full.push('?');
        full.push_str(&super::decode_unreserved(query));
    }
    if let Some(fragment) = parsed.fragment().filter(|f| !f.is_empty()) {
        full.push('#');
        full.push_str(&super::decode_unreserved(fragment));
    }
    Some(UrlForm { full: full.to_lowercase(), host, other_hosts, authority })
}

/// `text` without the zone of an IPv6 literal in its authority (`[fe80::1%25eth0]`,
/// `[fe80::1%eth0]`, as curl takes both): the zone picks the interface, the address is the
/// host. The URL standard refuses zones, so such a link was no link at all, and the host
/// it sends to was not traced (red team round 27, flow D4).
fn without_zone(text: &str) -> std::borrow::Cow<'_, str> {
    let start = text.find("//").map_or(0, |at| at + 2);
    let rest = text.get(start..).unwrap_or_default();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(authority) = rest.get(..end) else { return text.into() };
    let (Some(open), Some(close)) = (authority.find('['), authority.rfind(']')) else {
        return text.into();
    };
    let Some(zone) = authority.get(open..close).and_then(|literal| literal.find('%')) else {
        return text.into();
    };
    let (from, to) = (start + open + zone, start + close);
    match (text.get(..from), text.get(to..)) {
        (Some(head), Some(tail)) => format!("{head}{tail}").into(),
        _ => text.into(),
    }
}

/// Schemes written without `//` whose value holds an `@` but names no host to connect to
/// (`mailto:eve@evil.test` is an address).
const HOSTLESS_SCHEMES: [&str; 9] =
    ["mailto", "tel", "sms", "callto", "sip", "sips", "xmpp", "im", "urn"];

/// git's scp-like remote (`git@evil.test:tools/x.git`, `evil.test:repo`) as the path it
/// names on that host (`git@evil.test/tools/x.git`): a `:` after a host that no port
/// follows. Other text unchanged.
fn scp_as_path(text: &str) -> std::borrow::Cow<'_, str> {
    let before_path = text.split('/').next().unwrap_or_default();
    let host_at = before_path.rfind('@').map_or(0, |at| at + 1);
    let Some(colon) = before_path.get(host_at..).and_then(|h| h.find(':')).map(|c| c + host_at)
    else {
        return text.into();
    };
    let host = text.get(host_at..colon).unwrap_or_default();
    let after = text.get(colon + 1..).unwrap_or_default();
    let port = after.split(['/', '?', '#']).next().unwrap_or_default();
    let hostlike = host.contains('.') || host_at > 0 || super::ipv4::parse(host).is_some();
    if !hostlike || port.is_empty() || port.bytes().all(|b| b.is_ascii_digit()) {
        return text.into();
    }
    match (text.get(..colon), text.get(colon + 1..)) {
        (Some(head), Some(tail)) => format!("{head}/{tail}").into(),
        _ => text.into(),
    }
}

/// The host of `text` as RFC 3986 readers take it (curl, wget, git, httpx, Python's
/// `urlsplit`): after the scheme and any run of `/` or `\`, the authority ends at the
/// first `/`, `?` or `#`; the host follows its last `@` and ends at a port. A backslash is
/// no delimiter there, as it is for WHATWG readers. Normalised as `host` is; `None` when
/// that host is none a client connects to (a backslash in it, an empty one).
fn authority_host(text: &str) -> Option<String> {
    let rest = match text.split_once(':') {
        Some((head, tail))
            if head.starts_with(|c: char| c.is_ascii_alphabetic())
                && head.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                && !tail.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            tail.trim_start_matches(['/', '\\'])
        }
        _ => text.strip_prefix("//").unwrap_or(text),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(literal) => host_port.get(..literal.find(']')? + 2)?,
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    let key = match url::Host::parse(host).ok()? {
        url::Host::Ipv6(v6) => match carried_ipv4(v6) {
            Some(v4) => v4.to_string(),
            None => url::Host::<String>::Ipv6(v6).to_string(),
        },
        other => other.to_string().to_ascii_lowercase(),
    };
    Some(key)
}

/// The IPv4 address an IPv6 address reaches: `[::ffff:93.184.216.34]` is 93.184.216.34 on
/// the wire (IPv4-mapped), `[64:ff9b::5db8:d822]` through any NAT64 gateway (the
/// well-known prefix, RFC 6052, and the local-use `64:ff9b:1::/96`, RFC 8215), and
/// `[::93.184.216.34]` on stacks that still route IPv4-compatible addresses (`::` and
/// `::1` are not such).
fn carried_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let [a, b] = s[6].to_be_bytes();
    let [c, d] = s[7].to_be_bytes();
    let v4 = std::net::Ipv4Addr::new(a, b, c, d);
    let nat64 = matches!(s[..6], [0x64, 0xff9b, 0, 0, 0, 0] | [0x64, 0xff9b, 1, 0, 0, 0]);
    let compatible = s[..6] == [0; 6] && u32::from(v4) > 1;
    (nat64 || compatible).then_some(v4)
}

/// Schemes whose URLs always name a host, with or without `//` (WHATWG "special").
pub(crate) const SPECIAL_SCHEMES: [&str; 5] = ["http", "https", "ws", "wss", "ftp"];

/// The scheme of `text` when it starts with `scheme://`.
fn scheme_of(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
        .then_some(scheme)
}

/// The registrable domain of a host (`x.test` for `www.x.test`, `x.co.uk` for
/// `a.b.x.co.uk`, `alice.github.io` for itself: the list's private suffixes are sites of
/// their own), or `None` for an address or a public suffix alone (`co.uk`).
pub(crate) fn site(host: &str) -> Option<&str> {
    let host = host.trim_end_matches('.');
    // A top-level domain is never all digits: `203.0.113.7` is an address.
    let last = host.rsplit('.').next()?;
    if host.starts_with('[') || last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    psl::domain_str(host)
}
