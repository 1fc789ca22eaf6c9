//! The egress rules one by one: `allow_hosts` entries, ports, the addresses a name resolves
//! to (through a fixed table instead of DNS), when credentials may go in clear text, and
//! that a request connects to the addresses checked without resolving the name again.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aecl_engine::BoxFuture;
use http_body_util::Full;
use hyper::body::Bytes;

use super::{Egress, Lookup, Sent, parse_entry};

/// Names answered from a table; `answers` counts the lookups made.
#[derive(Debug, Default)]
struct Table {
    names: Mutex<BTreeMap<String, Vec<Vec<&'static str>>>>,
    answers: AtomicUsize,
}

impl Table {
    /// `name` answers `first`, then `later` on every lookup after the first (a rebinding).
    fn with(entries: &[(&str, &[&'static str])]) -> Arc<Table> {
        let table = Table::default();
        for (name, addresses) in entries {
            table.names.lock().unwrap().insert((*name).to_owned(), vec![addresses.to_vec()]);
        }
        Arc::new(table)
    }

    fn then(&self, name: &str, later: &[&'static str]) {
        self.names.lock().unwrap().get_mut(name).unwrap().push(later.to_vec());
    }
}

impl Lookup for Table {
    fn lookup<'a>(
        &'a self,
        name: &'a str,
        port: u16,
    ) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
        let seen = self.answers.fetch_add(1, Ordering::SeqCst);
        let answer = self.names.lock().unwrap().get(name).map(|answers| {
            let addresses = answers.get(seen).or(answers.last()).cloned().unwrap_or_default();
            addresses.iter().map(|a| SocketAddr::new(a.parse().unwrap(), port)).collect()
        });
        Box::pin(async move {
            answer.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "unknown name"))
        })
    }
}

fn egress(allow: &[&str], table: Arc<Table>) -> Egress {
    let allow: Vec<String> = allow.iter().map(|h| (*h).to_owned()).collect();
    Egress::with_lookup(&allow, table).unwrap()
}

#[test]
fn entries_parse_names_wildcards_addresses_ranges_and_ports() {
    for good in [
        "api.example.com",
        "API.Example.com:8443",
        "*.example.com",
        "*.example.com:444",
        "203.0.113.7",
        "127.0.0.1:8080",
        "[::1]",
        "[::1]:8080",
        "::1",
        "10.20.0.0/16",
        "10.20.0.0/16:5432",
        "fd00::/8",
        "[fd00::/8]:443",
        "0x7f.1:8080",
    ] {
        parse_entry(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in [
        "",
        "*",
        "*.",
        "a*.example.com",
        "example.com:0",
        "example.com:x",
        "example.com:70000",
        "[::1",
        "[::1]8080",
        "10.0.0.0/33",
        "bad host",
        "*.10.0.0.1",
        "ex/ample.com",
    ] {
        assert!(parse_entry(bad).is_err(), "{bad}");
    }
    // An address in any spelling is that address; a mapped one is its IPv4 address.
    assert_eq!(parse_entry("0x7f.1:8080"), parse_entry("127.0.0.1:8080"));
    assert_eq!(parse_entry("[::ffff:127.0.0.1]:8080"), parse_entry("127.0.0.1:8080"));
}

#[test]
fn an_entry_without_a_port_allows_the_schemes_default_port_only() {
    let egress =
        egress(&["api.example.com", "*.wild.test", "hooks.example.com:8443"], Table::with(&[]));
    for allowed in [
        "https://api.example.com/v1",
        "https://api.example.com:443/v1",
        "http://api.example.com/v1",
        "http://api.example.com:80/v1",
        "https://API.Example.COM/v1",
        "https://a.wild.test/",
        "https://hooks.example.com:8443/x",
        "http://hooks.example.com:8443/x",
    ] {
        egress.target(allowed).unwrap_or_else(|e| panic!("{allowed}: {e}"));
    }
    for denied in [
        "https://api.example.com:8443/",
        "http://api.example.com:443/",
        "https://api.example.com:80/",
        "http://allowed.test:18501/",
        "https://wild.test/",
        "https://evil.test/?a.wild.test",
        "https://hooks.example.com/x",
        "https://hooks.example.com:8444/x",
        "https://127.0.0.1/",
    ] {
        let error = egress.target(denied).unwrap_err();
        assert!(error.starts_with("egress_denied:"), "{denied}: {error}");
    }
    for bad in ["ftp://api.example.com/", "https://user:pw@api.example.com/", "not a url"] {
        assert!(egress.target(bad).unwrap_err().starts_with("bad_request:"), "{bad}");
    }
}

#[test]
fn address_entries_match_addresses_in_any_spelling_and_never_names() {
    let egress = egress(&["127.0.0.1:8080", "10.20.0.0/16", "[::1]:9000"], Table::with(&[]));
    for allowed in [
        "http://127.0.0.1:8080/",
        "http://0x7f.1:8080/",
        "http://2130706433:8080/",
        "http://[::ffff:127.0.0.1]:8080/",
        "https://10.20.3.4/",
        "http://[::1]:9000/",
    ] {
        egress.target(allowed).unwrap_or_else(|e| panic!("{allowed}: {e}"));
    }
    for denied in [
        "http://127.0.0.1:8081/",
        "http://127.0.0.2:8080/",
        "http://localhost:8080/",
        "https://10.21.0.1/",
        "https://10.20.3.4:8443/",
        "http://[::1]:9001/",
    ] {
        assert!(egress.target(denied).unwrap_err().starts_with("egress_denied:"), "{denied}");
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_non_public_address_is_refused() {
    let refused = [
        "127.0.0.1",
        "127.9.9.9",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "169.254.1.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::",
    ];
    for address in refused {
        let table = Table::with(&[("internal.wild.test", &[address])]);
        let egress = egress(&["*.wild.test"], table);
        let target = egress.target("https://internal.wild.test/").unwrap();
        let error = egress.addresses(&target).await.unwrap_err();
        assert!(error.starts_with("egress_denied:"), "{address}: {error}");
        assert!(error.contains("nothing was sent"), "{address}: {error}");
    }
    for public in ["93.184.216.34", "2606:2800:220:1::1", "::ffff:93.184.216.34", "1.1.1.1"] {
        let table = Table::with(&[("api.wild.test", &[public])]);
        let egress = egress(&["*.wild.test"], table);
        let target = egress.target("https://api.wild.test/").unwrap();
        let addresses = egress.addresses(&target).await.unwrap();
        assert_eq!(addresses, [SocketAddr::new(public.parse().unwrap(), 443)], "{public}");
    }
}

#[tokio::test]
async fn only_the_allowed_addresses_of_a_mixed_answer_are_kept() {
    let table = Table::with(&[("api.wild.test", &["10.0.0.1", "93.184.216.34", "::1"])]);
    let egress = egress(&["*.wild.test"], table);
    let target = egress.target("https://api.wild.test/").unwrap();
    let addresses = egress.addresses(&target).await.unwrap();
    assert_eq!(addresses, [SocketAddr::new("93.184.216.34".parse().unwrap(), 443)]);
}

#[tokio::test]
async fn an_address_entry_lifts_the_check_for_its_port_only() {
    let table = Table::with(&[("db.corp.test", &["10.20.0.5"])]);
    let egress = egress(&["db.corp.test", "db.corp.test:8443", "10.20.0.0/16:8443"], table);
    let on_named_port = egress.target("https://db.corp.test:8443/").unwrap();
    assert_eq!(egress.addresses(&on_named_port).await.unwrap().len(), 1);
    let on_default_port = egress.target("https://db.corp.test/").unwrap();
    assert!(egress.addresses(&on_default_port).await.unwrap_err().contains("private"));
}

#[test]
fn credentials_go_over_https_or_to_a_loopback_address_named_exactly() {
    let egress = egress(
        &[
            "api.example.com",
            "127.0.0.1:8080",
            "127.0.0.0/8:9090",
            "10.0.0.5:8080",
            "localhost:8080",
        ],
        Table::with(&[]),
    );
    let may = |url: &str| egress.may_carry_credentials(&egress.target(url).unwrap());
    assert!(may("https://api.example.com/"));
    assert!(may("http://127.0.0.1:8080/"));
    assert!(may("http://[::ffff:127.0.0.1]:8080/"));
    assert!(!may("http://api.example.com/"), "clear text to a name");
    assert!(!may("http://localhost:8080/"), "clear text to a name, even a local one");
    assert!(!may("http://127.0.0.2:9090/"), "clear text to an address named by a range");
    assert!(!may("http://10.0.0.5:8080/"), "clear text to a private network");
}

/// A server on 127.0.0.1 that answers every request `200` and counts them.
async fn counting_server() -> (u16, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer).await;
            let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (port, count)
}

fn get(url: &str) -> hyper::Request<Full<Bytes>> {
    hyper::Request::get(url).body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test]
async fn a_request_connects_to_the_addresses_checked_without_resolving_again() {
    let (port, count) = counting_server().await;
    // `rebind.test` resolves once to the allowed 127.0.0.1; any later lookup would answer
    // a refused address, and the system's resolver knows no such name.
    let table = Table::with(&[("rebind.test", &["127.0.0.1"])]);
    table.then("rebind.test", &["10.0.0.1"]);
    let egress =
        egress(&[&format!("rebind.test:{port}"), &format!("127.0.0.1:{port}")], table.clone());
    let url = format!("http://rebind.test:{port}/");
    let target = egress.target(&url).unwrap();
    let sent = egress.send(&target, get(&url), Duration::from_secs(10), 1024).await;
    assert!(matches!(sent, Sent::Response { status: 200, .. }), "{sent:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(table.answers.load(Ordering::SeqCst), 1, "the name was resolved once");
    // The next request resolves anew, and the answer changed: refused, never sent.
    let sent = egress.send(&target, get(&url), Duration::from_secs(10), 1024).await;
    assert!(matches!(&sent, Sent::Unsent(why) if why.starts_with("egress_denied:")), "{sent:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_wildcard_name_resolving_to_loopback_never_gets_a_connection() {
    let (port, count) = counting_server().await;
    let table = Table::with(&[("internal.wild.test", &["127.0.0.1"])]);
    let egress = egress(&[&format!("*.wild.test:{port}")], table);
    let url = format!("http://internal.wild.test:{port}/");
    let target = egress.target(&url).unwrap();
    let sent = egress.send(&target, get(&url), Duration::from_secs(10), 1024).await;
    assert!(matches!(&sent, Sent::Unsent(why) if why.contains("loopback")), "{sent:?}");
    assert_eq!(count.load(Ordering::SeqCst), 0);
}
