//! `url_hosts`: an `http` or `https` URL, spelled so that every program reads the same host,
//! whose host and port a pattern lists.
//!
//! A pattern is `host`, `*.suffix` (any subdomain of `suffix`) or `[v6 address]`, then
//! optionally `:port` or `:*`. Without a port it allows the scheme's default port only (80
//! for `http`, 443 for `https`, written out or not): a listed host is a service, and the
//! same host's other ports are other services (an admin console on 8443, Redis on 6379,
//! SSH on 22). A pattern whose port is not a number is a policy mistake and allows nothing.

use url::Url;

use super::{Violation, block, host_matches};

/// One `url_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern<'a> {
    /// `host`, `*.suffix` or `[v6]`, as `host_matches` takes it.
    host: &'a str,
    port: PortRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortRule {
    /// The scheme's default port.
    Default,
    Exactly(u16),
    Any,
}

impl<'a> HostPattern<'a> {
    /// `None` when the part after the host is not `:port` or `:*`.
    fn parse(pattern: &'a str) -> Option<HostPattern<'a>> {
        let pattern = pattern.trim();
        // An IPv6 address holds colons of its own: its port follows the bracket.
        let (host, port) = if pattern.starts_with('[') {
            let close = pattern.find(']')?;
            let (host, rest) = (pattern.get(..=close)?, pattern.get(close + 1..)?);
            match rest {
                "" => (host, None),
                _ => (host, Some(rest.strip_prefix(':')?)),
            }
        } else {
            match pattern.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (pattern, None),
            }
        };
        let port = match port {
            None => PortRule::Default,
            Some("*") => PortRule::Any,
            Some(number) => PortRule::Exactly(number.parse().ok()?),
        };
        Some(HostPattern { host, port })
    }

    /// Whether the URL's port is one this pattern allows (its host already matched).
    fn allows(&self, url: &Url) -> bool {
        match self.port {
            // `Url` drops a port that is the scheme's default, written out or not.
            PortRule::Default => url.port().is_none(),
            PortRule::Exactly(port) => url.port_or_known_default() == Some(port),
            PortRule::Any => true,
        }
    }
}

/// Why `pattern` is not a `url_hosts` entry, for the policy loader: a pattern that cannot
/// be read allows nothing, which is safe but surely not what its author meant.
pub fn pattern_error(pattern: &str) -> Option<String> {
    let parsed = HostPattern::parse(pattern);
    match parsed {
        Some(HostPattern { host, .. }) if !host.is_empty() && !host.contains(['/', '@', ' ']) => {
            None
        }
        _ => Some(format!(
            "`{pattern}` is not a host pattern: expected `host`, `*.suffix` or `[v6 address]`, \
             optionally followed by `:port` or `:*`"
        )),
    }
}

pub(super) fn check_url(hosts: &[String], text: &str, out: &mut Vec<Violation>) {
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(e) => {
            out.push(block("url_hosts", format!("`{text}` is not a valid URL: {e}")));
            return;
        }
    };
    if url.scheme() != "https" && url.scheme() != "http" {
        out.push(block("url_hosts", format!("scheme `{}` is not http or https", url.scheme())));
        return;
    }
    if let Some(why) = ambiguous_url(text) {
        out.push(block(
            "url_hosts",
            format!(
                "`{text}` is spelled so that programs may disagree on its host ({why}): \
                 write it as `https://host/path`"
            ),
        ));
        return;
    }
    if !url.username().is_empty() || url.password().is_some() {
        out.push(block("url_hosts", "URLs with embedded credentials are refused".to_owned()));
    }
    let host = url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
    let (mut listed, mut allowed) = (false, false);
    for pattern in hosts.iter().filter_map(|p| HostPattern::parse(p)) {
        if host_matches(pattern.host, &host) {
            listed = true;
            allowed |= pattern.allows(&url);
        }
    }
    if !listed {
        out.push(block(
            "url_hosts",
            format!("host `{host}` is not in the allowed destinations {}", hosts.join(", ")),
        ));
        return;
    }
    if !allowed {
        let port = url.port_or_known_default().map_or_else(String::new, |p| p.to_string());
        out.push(block(
            "url_hosts",
            format!(
                "port `{port}` of `{host}` is not allowed: a listed host allows its scheme's \
                 default port only (write `{host}:{port}` to allow this one, `{host}:*` for any)"
            ),
        ));
    }
}

/// Why `text` may name one host to the URL parser aecl uses (WHATWG's, like browsers and
/// Node) and another to the program that fetches it: curl reads
/// `https://allowed.test\\@evil.test/` as user info and connects to `evil.test`, while
/// WHATWG reads a backslash as a slash. Only the plain spelling is accepted: `http://` or
/// `https://`, then a host of ASCII letters, digits, dots, dashes, a port, with no white
/// space, control character, backslash or percent-escape before the path.
fn ambiguous_url(text: &str) -> Option<&'static str> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("white space or a control character");
    }
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        text.get(8..)
    } else if lower.starts_with("http://") {
        text.get(7..)
    } else {
        return Some("no `//` after an http or https scheme");
    };
    let authority = rest.unwrap_or_default().split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('\\') {
        return Some("a backslash before the path");
    }
    if authority.contains('%') {
        return Some("a percent-escape in the host");
    }
    if !authority.is_ascii() {
        return Some("a host not in ASCII: write its punycode (`xn--`) form");
    }
    None
}
