//! Unit tests of the egress allowlist and the proxy's request parsing.

use super::{HostPattern, Kind, Request};

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
fn a_tunnel_to_port_80_needs_a_pattern_naming_the_port() {
    // A tunnel carries bytes unread: through it, any Host could be pipelined to port 80.
    let bare = HostPattern::parse("allowed.com").unwrap();
    assert!(bare.allows_tunnel("allowed.com", 443));
    assert!(!bare.allows_tunnel("allowed.com", 80), "CONNECT allowed.com:80");
    assert!(bare.allows("allowed.com", 80), "a plain request to port 80 is checked");
    let named = HostPattern::parse("allowed.com:80").unwrap();
    assert!(named.allows_tunnel("allowed.com", 80));
    assert!(!named.allows_tunnel("allowed.com", 443));
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
    assert_eq!((connect.host.as_str(), connect.port), ("example.com", 443));
    assert!(matches!(connect.kind, Kind::Tunnel));

    let get = Request::parse(
        b"GET http://example.com:8080/a?b HTTP/1.1\r\nHost: example.com:8080\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\n\r\n",
    )
    .unwrap();
    assert_eq!((get.host.as_str(), get.port), ("example.com", 8080));
    let head = String::from_utf8(plain(get).head).unwrap();
    assert!(head.starts_with("GET /a?b HTTP/1.1\r\n"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("proxy-connection"), "{head}");
    // One request per connection upstream, whatever the client asked for.
    assert!(head.ends_with("Connection: close\r\n\r\n"), "{head}");
    assert!(!head.contains("keep-alive"), "{head}");

    // Origin-form requests, credentials in the authority, and junk are not proxy requests.
    assert!(Request::parse(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").is_none());
    assert!(Request::parse(b"GET http://user@example.com/ HTTP/1.1\r\n\r\n").is_none());
    assert!(Request::parse(b"\x00\x01garbage\r\n\r\n").is_none());
}

/// The request to send upstream, for a plain request the proxy accepts.
fn plain(request: Request) -> super::Plain {
    match request.kind {
        Kind::Plain(plain) => plain,
        Kind::Tunnel => panic!("a tunnel"),
        Kind::Refused(why) => panic!("refused: {why}"),
    }
}

/// Why the proxy refuses a plain request whose target it read.
fn refused(head: &str) -> String {
    match Request::parse(head.as_bytes()).map(|r| r.kind) {
        Some(Kind::Refused(why)) => why,
        Some(Kind::Plain(_) | Kind::Tunnel) => panic!("accepted: {head}"),
        None => panic!("not understood: {head}"),
    }
}

#[test]
fn a_host_header_naming_another_host_than_the_target_is_refused() {
    let why =
        refused("GET http://127.0.0.1:18099/third HTTP/1.1\r\nHost: evil-fronted.example\r\n\r\n");
    assert!(why.contains("`evil-fronted.example`") && why.contains("`127.0.0.1:18099`"), "{why}");
    // Another port of the same host, and a second Host header, are refused as well.
    refused("GET http://a.example/ HTTP/1.1\r\nHost: a.example:8080\r\n\r\n");
    refused("GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n");
    // The same host in another spelling, and no Host header (one is added), pass.
    let same = Request::parse(b"GET http://A.example:80/ HTTP/1.1\r\nHost: a.EXAMPLE\r\n\r\n");
    plain(same.unwrap());
    let number = Request::parse(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: 2130706433:80\r\n\r\n");
    plain(number.unwrap());
    let head = plain(Request::parse(b"GET http://a.example:81/x HTTP/1.1\r\n\r\n").unwrap()).head;
    assert!(String::from_utf8(head).unwrap().contains("\r\nHost: a.example:81\r\n"));
}

#[test]
fn chunk_sizes_are_read_strictly() {
    use super::plain::chunk_size;
    assert_eq!(chunk_size(b"5\r\n").unwrap(), 5);
    assert_eq!(chunk_size(b"00Ff\r\n").unwrap(), 255);
    assert_eq!(chunk_size(b"5;name=value\r\n").unwrap(), 5);
    for bad in [
        &b"5\n"[..],
        b"\r\n",
        b"+5\r\n",
        b" 5\r\n",
        b"5 \r\n",
        b"0x5\r\n",
        b"5;a\rb\r\n",
        b"10000000000000000\r\n",
    ] {
        assert!(chunk_size(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn a_body_framed_two_ways_is_refused() {
    for framing in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked",
        "Content-Length: 5\r\nContent-Length: 6",
        "Transfer-Encoding: gzip, chunked",
        "Content-Length: five",
    ] {
        refused(&format!(
            "POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\n{framing}\r\n\r\n"
        ));
    }
}

#[test]
fn a_content_length_other_than_one_plain_number_is_refused() {
    // `u64::from_str` would read `+5` as 5; another parser may not.
    for framing in [
        "Content-Length: +5",
        "Content-Length: -5",
        "Content-Length: 5, 5",
        "Content-Length: 0x5",
        "Content-Length: ",
        "Content-Length: 5\r\nContent-Length: 5",
        "Content-Length: 99999999999999999999999",
    ] {
        refused(&format!(
            "POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\n{framing}\r\n\r\n"
        ));
    }
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
    use std::time::Duration;

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
    fn a_tunnel_to_port_80_of_an_allowed_host_is_refused() {
        let (port, accepted) = listener();
        // `127.0.0.1` allowed without a port: 80 and 443 for plain requests, 443 alone
        // for a tunnel.
        let proxy = Proxy::new(patterns(&["127.0.0.1".to_owned()]), vec![]);
        let answer = ask(&proxy, "CONNECT 127.0.0.1:80 HTTP/1.1\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        let attempts = proxy.attempts();
        assert!(attempts.iter().all(|a| !a.allowed), "{attempts:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
        // Named with its port, the tunnel is allowed.
        let proxy = Proxy::new(patterns(&[format!("127.0.0.1:{port}")]), vec![]);
        let answer = ask(&proxy, &format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    #[test]
    fn a_head_sent_a_byte_at_a_time_has_one_deadline_in_all() {
        // Paused time: the runtime jumps to each timer when nothing else can run.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let proxy = Proxy::new(patterns(&["example.com".to_owned()]), vec![]);
        runtime.block_on(async {
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let served = tokio::spawn({
                let proxy = proxy.clone();
                async move { proxy.serve(server).await }
            });
            let started = tokio::time::Instant::now();
            // A byte every second, each read well within any per-read timeout; the head
            // never ends.
            for byte in b"CONNECT example.com:443 HTTP/1.1\r\nX-Slow: ".iter().cycle() {
                if served.is_finished() || client.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                assert!(started.elapsed().as_secs() < 60, "the slow head held the connection");
            }
            let elapsed = started.elapsed().as_secs();
            assert!((10..=12).contains(&elapsed), "ended after {elapsed} s");
        });
        // Recorded as an attempt that never said where it went.
        let attempts = proxy.attempts();
        assert_eq!(attempts.len(), 1, "{attempts:?}");
        assert!(!attempts[0].allowed);
        assert_eq!(attempts[0].refused.as_deref(), Some("no whole request head within 10 s"));
    }

    /// Red-team round 14: a head the proxy cannot serve was answered 400 and left no
    /// trace; `GET https://exfil.example/` is an attempt to leave whatever its form. So
    /// is a head that never ends, or is too long, or a connection closed half-way.
    #[test]
    fn heads_it_cannot_serve_are_recorded_with_their_target() {
        let (port, accepted) = listener();
        let proxy = Proxy::new(patterns(&[format!("127.0.0.1:{port}")]), vec![]);
        for (head, target) in [
            (
                "GET https://exfil.example/x?k=v HTTP/1.1\r\nHost: exfil.example\r\n\r\n",
                "https://exfil.example/x?k=v",
            ),
            ("GET / HTTP/1.1\r\nHost: exfil.example\r\n\r\n", "/"),
            ("BREW coffee://pot\x01/ HTTP/1.1\r\n\r\n", "coffee://pot?/"),
        ] {
            let answer = ask(&proxy, head);
            assert!(answer.starts_with("HTTP/1.1 400"), "{head}: {answer}");
            let attempts = proxy.attempts();
            let last = attempts.last().unwrap();
            assert_eq!((last.host.as_str(), last.allowed), (target, false), "{attempts:?}");
            assert!(last.refused.as_deref().unwrap().contains("not an HTTP proxy request"));
        }
        let long = format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\nX: {}", "a".repeat(20_000));
        let _ = ask(&proxy, &long);
        let attempts = proxy.attempts();
        assert!(attempts.last().unwrap().refused.as_deref().unwrap().contains("request head over"));
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
    }

    /// Past [`MAX_RECORDED`], attempts are counted, not kept: one sandbox cannot grow the
    /// host process's memory through its record.
    #[test]
    fn the_record_keeps_a_bounded_number_of_attempts_and_counts_the_rest() {
        let proxy = Proxy::new(patterns(&["example.com".to_owned()]), vec![]);
        for _ in 0..super::super::MAX_RECORDED + 5 {
            proxy.keep(super::super::unread("x".to_owned()));
        }
        let attempts = proxy.attempts();
        assert_eq!(attempts.len(), super::super::MAX_RECORDED + 1);
        let last = attempts.last().unwrap().refused.clone().unwrap();
        assert!(last.starts_with("5 more attempts, not kept"), "{last}");
    }

    /// Red-team round 14: connections to the egress socket cost the process hosting the
    /// proxy (`aecl serve`), not the sandbox; one sandbox held 20,000 of its descriptors.
    /// At most [`MAX_CONNECTIONS`] are served at once; one more is closed unread and
    /// recorded, and a slot is free again when a connection ends.
    #[test]
    fn connections_past_the_cap_are_closed_and_recorded() {
        use super::super::MAX_CONNECTIONS;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("egress.sock");
        let proxy = Proxy::new(patterns(&["example.com".to_owned()]), vec![]);
        runtime.block_on(async {
            let listener = tokio::net::UnixListener::bind(&socket).unwrap();
            let serving = tokio::spawn(proxy.clone().serve_all(listener));
            // Each holds its slot with a head that has not ended.
            let mut held = Vec::new();
            for _ in 0..MAX_CONNECTIONS {
                let mut stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
                stream.write_all(b"CONNECT example.com:443 HTTP/1.1\r\n").await.unwrap();
                held.push(stream);
            }
            for _ in 0..3 {
                let mut over = tokio::net::UnixStream::connect(&socket).await.unwrap();
                let mut byte = [0u8; 1];
                let read = tokio::time::timeout(Duration::from_secs(10), over.read(&mut byte));
                assert!(matches!(read.await, Ok(Ok(0) | Err(_))), "not closed at once");
            }
            let over: Vec<_> = proxy
                .attempts()
                .into_iter()
                .filter(|a| a.refused.as_deref().is_some_and(|r| r.contains("closed unread")))
                .collect();
            assert_eq!(over.len(), 3, "{over:?}");
            // One ends: a new connection is served (and refused by the rules, not the cap).
            drop(held.pop());
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut next = tokio::net::UnixStream::connect(&socket).await.unwrap();
            next.write_all(b"CONNECT evil.example:443 HTTP/1.1\r\n\r\n").await.unwrap();
            let mut answer = vec![0u8; 12];
            let read = tokio::time::timeout(Duration::from_secs(10), next.read_exact(&mut answer));
            read.await.unwrap().unwrap();
            assert_eq!(&answer, b"HTTP/1.1 403");
            serving.abort();
        });
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
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while accepted.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
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
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while accepted.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }
}

mod one_request_per_connection {
    //! A plain request is the only one its connection carries upstream: what a client
    //! pipelines behind it (another target, an origin-form request, another `Host`) never
    //! reaches the upstream unchecked and unrecorded.

    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::super::{HostPattern, Proxy};

    /// An upstream on the host's loopback that takes one connection, keeps what it
    /// received (until a pause), answers as a keep-alive server would, and closes.
    fn upstream() -> (u16, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, received) = mpsc::channel();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else { return };
            stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut chunk) {
                got.extend_from_slice(&chunk[..n]);
            }
            let _ = sender.send(String::from_utf8_lossy(&got).into_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nok",
            );
        });
        (port, received)
    }

    /// Sends `bytes` through the proxy on one connection; returns all of its answer.
    fn exchange(proxy: &Proxy, bytes: &str) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let proxy = proxy.clone();
            let served = tokio::spawn(async move { proxy.serve(server).await });
            client.write_all(bytes.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            let read = client.read_to_end(&mut answer);
            tokio::time::timeout(Duration::from_secs(10), read).await.unwrap().unwrap();
            drop(client);
            let _ = tokio::time::timeout(Duration::from_secs(5), served).await;
            String::from_utf8_lossy(&answer).into_owned()
        })
    }

    fn proxy_for(port: u16) -> Proxy {
        Proxy::new(vec![HostPattern::parse(&format!("127.0.0.1:{port}")).unwrap()], vec![])
    }

    #[test]
    fn pipelined_requests_after_the_first_never_reach_the_upstream() {
        let (port, received) = upstream();
        let proxy = proxy_for(port);
        let answer = exchange(
            &proxy,
            &format!(
                "GET http://127.0.0.1:{port}/first HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n\
                 GET http://forbidden.internal:8080/second HTTP/1.1\r\nHost: forbidden.internal\r\n\r\n\
                 GET /third HTTP/1.1\r\nHost: evil-fronted.example\r\n\r\n"
            ),
        );
        assert_eq!(answer.matches("HTTP/1.1 200").count(), 1, "{answer}");
        assert!(answer.contains("\r\nConnection: close\r\n") && answer.ends_with("ok"), "{answer}");
        assert!(!answer.contains("keep-alive") && !answer.contains("Keep-Alive"), "{answer}");
        let got = received.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(got.starts_with("GET /first HTTP/1.1\r\n"), "{got}");
        assert!(got.contains("\r\nConnection: close\r\n"), "{got}");
        assert!(!got.contains("second") && !got.contains("third"), "upstream got: {got}");
        let attempts = proxy.attempts();
        assert_eq!(attempts.len(), 1, "{attempts:?}");
        assert!(attempts[0].allowed && attempts[0].port == port, "{attempts:?}");
    }

    #[test]
    fn a_body_is_sent_as_its_framing_bounds_it_and_nothing_after() {
        let (port, received) = upstream();
        let proxy = proxy_for(port);
        let answer = exchange(
            &proxy,
            &format!(
                "POST http://127.0.0.1:{port}/up HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
                 Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n\
                 GET http://127.0.0.1:{port}/smuggled HTTP/1.1\r\n\r\n"
            ),
        );
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        let got = received.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(got.ends_with("\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "{got:?}");
        assert!(!got.contains("smuggled"), "{got}");

        let (port, received) = upstream();
        let proxy = proxy_for(port);
        exchange(
            &proxy,
            &format!(
                "POST http://127.0.0.1:{port}/up HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\n\r\n"
            ),
        );
        let got = received.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(got.ends_with("\r\n\r\nabc"), "{got:?}");
    }

    #[test]
    fn a_chunked_body_goes_upstream_in_canonical_framing() {
        let (port, received) = upstream();
        let proxy = proxy_for(port);
        let answer = exchange(
            &proxy,
            &format!(
                "POST http://127.0.0.1:{port}/up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                 005;ext=\"x\"\r\nhello\r\n0;last\r\nTrailer: x\r\n\r\n"
            ),
        );
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        let got = received.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(got.ends_with("\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "{got:?}");
        assert!(!got.contains("ext") && !got.contains("Trailer"), "{got:?}");
    }

    #[test]
    fn a_chunked_body_with_a_bare_lf_is_cut_off() {
        let (port, received) = upstream();
        let proxy = proxy_for(port);
        exchange(
            &proxy,
            &format!(
                "POST http://127.0.0.1:{port}/up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\nhello\r\n0\r\n\r\n"
            ),
        );
        let got = received.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(got.ends_with("Connection: close\r\n\r\n"), "{got:?}");
        assert!(!got.contains("hello"), "{got:?}");
    }

    #[test]
    fn a_fronted_request_is_refused_and_recorded_and_reaches_nothing() {
        let (port, received) = upstream();
        let proxy = proxy_for(port);
        let answer = exchange(
            &proxy,
            &format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: evil-fronted.example\r\n\r\n"),
        );
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let attempts = proxy.attempts();
        assert_eq!(attempts.len(), 1, "{attempts:?}");
        assert!(!attempts[0].allowed, "{attempts:?}");
        assert!(attempts[0].refused.as_deref().unwrap().contains("evil-fronted.example"));
        assert!(received.recv_timeout(Duration::from_millis(500)).is_err(), "upstream reached");
    }
}
