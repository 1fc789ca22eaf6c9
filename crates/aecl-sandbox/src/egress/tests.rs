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

mod by_address {
    //! The proxy end to end over an in-memory stream, with names resolved from a table:
    //! allowed names that resolve to non-public addresses are refused before any
    //! connection, explicitly allowed ranges pass, and the name is resolved only once.

    use std::collections::HashMap;
    use std::future::Future;
    use std::net::{IpAddr, SocketAddr, TcpListener};
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::super::{HostPattern, Proxy, Resolve, parse_cidr};

    /// Names from a table; counts the look-ups.
    #[derive(Debug, Default)]
    struct Table {
        names: HashMap<String, Vec<IpAddr>>,
        lookups: AtomicUsize,
    }

    impl Resolve for Table {
        fn resolve<'a>(
            &'a self,
            name: &'a str,
            port: u16,
        ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let found = self.names.get(name).cloned().unwrap_or_default();
            Box::pin(
                async move { Ok(found.into_iter().map(|ip| SocketAddr::new(ip, port)).collect()) },
            )
        }
    }

    fn table(entries: &[(&str, &[&str])]) -> Arc<Table> {
        let names = entries
            .iter()
            .map(|(name, ips)| {
                (name.to_string(), ips.iter().map(|ip| ip.parse().unwrap()).collect())
            })
            .collect();
        Arc::new(Table { names, lookups: AtomicUsize::new(0) })
    }

    /// A listener on the host's loopback that counts the connections it accepts.
    fn listener() -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stream.is_ok() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        (port, count)
    }

    /// Sends `head` through the proxy; returns the first line of its answer.
    fn ask(proxy: &Proxy, head: &str) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let proxy = proxy.clone();
            let served = tokio::spawn(async move { proxy.serve(server).await });
            client.write_all(head.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            let mut chunk = [0u8; 1024];
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                match client.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&chunk[..n]),
                }
            }
            drop(client);
            let _ = served.await;
            String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
        })
    }

    fn patterns(texts: &[String]) -> Vec<HostPattern> {
        texts.iter().map(|t| HostPattern::parse(t).unwrap()).collect()
    }

    #[test]
    fn an_allowed_name_resolving_to_a_non_public_address_is_refused() {
        let (port, accepted) = listener();
        for address in ["127.0.0.1", "::1", "169.254.169.254", "10.0.0.7", "::ffff:127.0.0.1"] {
            let resolver = table(&[("api.example.com", &[address])]);
            let allow = patterns(&[format!("api.example.com:{port}")]);
            let proxy = Proxy::with_resolver(allow, Vec::new(), resolver.clone());
            let head = format!("CONNECT api.example.com:{port} HTTP/1.1\r\n\r\n");
            let answer = ask(&proxy, &head);
            assert!(answer.starts_with("HTTP/1.1 403"), "{address}: {answer}");
            let attempts = proxy.attempts();
            assert_eq!(attempts.len(), 1);
            assert!(!attempts[0].allowed);
            assert_eq!(attempts[0].address.as_deref(), Some(address), "{attempts:?}");
            assert!(attempts[0].refused.as_deref().unwrap().contains(address), "{attempts:?}");
        }
        // A wildcard pattern, and an absolute-form request, are checked the same way.
        let resolver = table(&[("a.example.com", &["127.0.0.1"])]);
        let proxy = Proxy::with_resolver(patterns(&["*.example.com".to_owned()]), vec![], resolver);
        let answer =
            ask(&proxy, "GET http://a.example.com/ HTTP/1.1\r\nHost: a.example.com\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "a refused address was connected to");
    }

    #[test]
    fn an_explicitly_allowed_range_passes_and_only_checked_addresses_are_used() {
        let (port, accepted) = listener();
        // 10.0.0.7 is refused; 127.0.0.1 is named by the policy: the proxy connects there.
        let resolver = table(&[("svc.internal", &["10.0.0.7", "127.0.0.1"])]);
        let allow = patterns(&[format!("svc.internal:{port}")]);
        let cidrs = vec![parse_cidr("127.0.0.1/32").unwrap()];
        let proxy = Proxy::with_resolver(allow, cidrs, resolver.clone());
        let answer = ask(&proxy, &format!("CONNECT svc.internal:{port} HTTP/1.1\r\n\r\n"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let attempts = proxy.attempts();
        assert!(attempts[0].allowed, "{attempts:?}");
        assert_eq!(attempts[0].address.as_deref(), Some("127.0.0.1"));
        // Resolved once: the connection goes to the address that was checked.
        assert_eq!(resolver.lookups.load(Ordering::SeqCst), 1);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while accepted.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn literal_addresses_in_any_spelling_are_the_address_they_mean() {
        let (port, accepted) = listener();
        let resolver = table(&[]);
        // A name pattern never lets a literal address through, however it is spelled.
        let proxy =
            Proxy::with_resolver(patterns(&["*.example.com".to_owned()]), vec![], resolver.clone());
        for spelling in ["127.0.0.1", "2130706433", "0x7f.1", "017700000001", "[::1]"] {
            let answer = ask(&proxy, &format!("CONNECT {spelling}:{port} HTTP/1.1\r\n\r\n"));
            assert!(answer.starts_with("HTTP/1.1 403"), "{spelling}: {answer}");
        }
        // A pattern naming the address allows it in every spelling, explicitly.
        let proxy = Proxy::with_resolver(
            patterns(&[format!("127.0.0.1:{port}")]),
            vec![],
            resolver.clone(),
        );
        for spelling in ["2130706433", "0x7f.1", "017700000001"] {
            let answer = ask(&proxy, &format!("CONNECT {spelling}:{port} HTTP/1.1\r\n\r\n"));
            assert!(answer.starts_with("HTTP/1.1 200"), "{spelling}: {answer}");
        }
        // The metadata address spelled in octal is refused unless named.
        let proxy =
            Proxy::with_resolver(patterns(&["*.example.com".to_owned()]), vec![], resolver.clone());
        let answer = ask(&proxy, "CONNECT 0251.0376.0251.0376:80 HTTP/1.1\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        assert_eq!(resolver.lookups.load(Ordering::SeqCst), 0, "a literal address was resolved");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while accepted.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }
}
