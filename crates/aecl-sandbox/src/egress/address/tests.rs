//! Unit tests of the address rules: every class of non-public address in every spelling,
//! explicit ranges, and the host's own addresses.

use std::net::IpAddr;

use super::{Host, parse_cidr, refusal};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn refused(text: &str) -> bool {
    refusal(ip(text), &[], &[]).is_some()
}

#[test]
fn every_non_public_class_is_refused_in_both_families() {
    for text in [
        // IPv4: loopback, private, link-local and metadata, CGNAT, "this network",
        // multicast, broadcast and reserved, documentation, benchmarking.
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.170.2",
        "169.254.1.1",
        "100.64.0.1",
        "100.100.100.200",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.0.192",
        "192.0.2.1",
        "198.18.0.1",
        // IPv6: unspecified, loopback, compatible, unique local (and AWS's metadata),
        // link-local, site-local, multicast, documentation, Teredo, discard.
        "::",
        "::1",
        "::127.0.0.1",
        "fd00:ec2::254",
        "fc00::1",
        "fdff:ffff::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "2001::1",
        "100::1",
        "64:ff9b:1::1",
        // IPv4 inside IPv6: mapped, NAT64, 6to4, SIIT.
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "2002:c0a8:101::",
        "::ffff:0:7f00:1",
    ] {
        assert!(refused(text), "{text} was not refused");
    }
}

#[test]
fn public_addresses_pass_in_every_form() {
    for text in [
        "93.184.215.14",
        "1.1.1.1",
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ] {
        assert_eq!(refusal(ip(text), &[], &[]), None, "{text}");
    }
}

#[test]
fn the_reason_names_the_address_and_its_class() {
    let why = refusal(ip("169.254.169.254"), &[], &[]).unwrap();
    assert!(why.contains("169.254.169.254") && why.contains("metadata"), "{why}");
    let why = refusal(ip("::ffff:127.0.0.1"), &[], &[]).unwrap();
    assert!(why.contains("127.0.0.1") && why.contains("loopback"), "{why}");
    let why = refusal(ip("64:ff9b::a00:1"), &[], &[]).unwrap();
    assert!(why.contains("10.0.0.1") && why.contains("NAT64"), "{why}");
}

#[test]
fn an_explicit_range_allows_exactly_what_it_holds() {
    let loopback = [parse_cidr("127.0.0.1/32").unwrap()];
    assert_eq!(refusal(ip("127.0.0.1"), &loopback, &[]), None);
    // The same address on a dual-stack socket.
    assert_eq!(refusal(ip("::ffff:127.0.0.1"), &loopback, &[]), None);
    assert!(refusal(ip("127.0.0.2"), &loopback, &[]).is_some());
    assert!(refusal(ip("::1"), &loopback, &[]).is_some());
    assert!(refusal(ip("169.254.169.254"), &loopback, &[]).is_some());
    let private = [parse_cidr("10.0.0.0/8").unwrap(), parse_cidr("fd00::/8").unwrap()];
    assert_eq!(refusal(ip("10.9.8.7"), &private, &[]), None);
    assert_eq!(refusal(ip("fd12::1"), &private, &[]), None);
    assert!(refusal(ip("192.168.0.1"), &private, &[]).is_some());
    // One address without a prefix is that address; host bits are cleared.
    assert_eq!(parse_cidr("::1").unwrap().to_string(), "::1/128");
    assert_eq!(parse_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
    for bad in ["", "10.0.0.0/33", "example.com", "10.0.0/8", "1.2.3.4/x"] {
        let error = parse_cidr(bad).unwrap_err();
        assert!(error.contains(&format!("`{bad}`")), "{error}");
    }
}

#[test]
fn the_hosts_own_public_addresses_are_refused() {
    let own = [ip("203.0.114.7"), ip("2a01:4f8::7")];
    assert!(refusal(ip("203.0.114.7"), &[], &own).unwrap().contains("this host"));
    assert!(refusal(ip("::ffff:203.0.114.7"), &[], &own).unwrap().contains("this host"));
    assert!(refusal(ip("2a01:4f8::7"), &[], &own).unwrap().contains("this host"));
    assert_eq!(refusal(ip("203.0.114.8"), &[], &own), None);
}

#[test]
fn numbers_spelled_any_way_are_the_address_they_mean() {
    let loopback = Host::Ip(ip("127.0.0.1"));
    for spelling in ["127.0.0.1", "2130706433", "0x7f.1", "017700000001", "0x7f000001", "127.1"] {
        assert_eq!(Host::parse(spelling), Some(loopback.clone()), "{spelling}");
    }
    assert_eq!(Host::parse("0251.0376.0251.0376"), Some(Host::Ip(ip("169.254.169.254"))));
    assert_eq!(Host::parse("[::1]"), Some(Host::Ip(ip("::1"))));
    assert_eq!(Host::parse("[::ffff:7f00:1]"), Some(Host::Ip(ip("::ffff:127.0.0.1"))));
    assert_eq!(Host::parse("Example.COM"), Some(Host::Name("example.com".to_owned())));
    for bad in ["", "[::1", "a b", "[example.com]", "exa%mple.com"] {
        assert_eq!(Host::parse(bad), None, "{bad}");
    }
}
