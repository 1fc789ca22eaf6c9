//! Unit tests of the egress allowlist and the proxy's request parsing.

use super::{HostPattern, Request};

#[test]
fn patterns_match_hosts_and_ports() {
    let exact = HostPattern::parse("api.example.com").unwrap();
    assert!(exact.allows("api.example.com", 443));
    assert!(exact.allows("API.example.com", 80));
    assert!(!exact.allows("api.example.com", 8080), "no port given: 80 and 443 only");
    assert!(!exact.allows("evil-api.example.com", 443));
    assert!(!exact.allows("api.example.com.evil.net", 443));

    let wildcard = HostPattern::parse("*.example.com").unwrap();
    assert!(wildcard.allows("a.example.com", 443));
    assert!(wildcard.allows("a.b.example.com", 443));
    assert!(!wildcard.allows("example.com", 443), "the wildcard covers subdomains only");
    assert!(!wildcard.allows("badexample.com", 443));

    let port = HostPattern::parse("127.0.0.1:8080").unwrap();
    assert!(port.allows("127.0.0.1", 8080));
    assert!(!port.allows("127.0.0.1", 8081));
}

#[test]
fn bad_patterns_are_refused_with_the_text() {
    for bad in ["", "*", "a.*.com", "host:port", "host:70000", "exa mple.com", "a/b"] {
        let error = HostPattern::parse(bad).unwrap_err();
        assert!(error.contains(&format!("`{bad}`")), "{error}");
    }
}

#[test]
fn connect_and_absolute_requests_are_understood() {
    let connect =
        Request::parse(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
    assert_eq!(
        (connect.host.as_str(), connect.port, connect.forward.is_none()),
        ("example.com", 443, true)
    );

    let get = Request::parse(
        b"GET http://example.com:8080/a?b HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: keep-alive\r\n\r\n",
    )
    .unwrap();
    assert_eq!((get.host.as_str(), get.port), ("example.com", 8080));
    let head = String::from_utf8(get.forward.unwrap()).unwrap();
    assert!(head.starts_with("GET /a?b HTTP/1.1\r\n"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("proxy-connection"), "{head}");

    // Origin-form requests, credentials in the authority, and junk are not proxy requests.
    assert!(Request::parse(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").is_none());
    assert!(Request::parse(b"GET http://user@example.com/ HTTP/1.1\r\n\r\n").is_none());
    assert!(Request::parse(b"\x00\x01garbage\r\n\r\n").is_none());
}
