//! Unit tests of the fallback's decisions: when Landlock is too old for it, what it says
//! is exposed, the proxy variables it hands the command, and the credentials its proxy
//! port accepts.

use base64::Engine;

use super::proxy_port::{ProxyPort, authorized};
use super::{exposures, landlock_refusal, with_fallback_proxy};
use crate::spec::{Command, Deadlines};

#[test]
fn landlock_too_old_for_what_the_fallback_relies_on_refuses_the_run() {
    // TCP rules (ABI 4) only matter with allowed hosts; the signal scope (ABI 6) only
    // under the launcher's own uid.
    assert!(landlock_refusal(3, true, true).unwrap().contains("ABI 4"));
    assert_eq!(landlock_refusal(3, false, true), None);
    assert!(landlock_refusal(5, false, false).unwrap().contains("ABI 6"));
    assert_eq!(landlock_refusal(5, true, true), None);
    assert_eq!(landlock_refusal(6, true, false), None);
}

#[test]
fn what_stays_exposed_is_named_with_its_remedy() {
    let open = exposures(false, false).join("\n");
    assert!(open.contains("host /proc") && open.contains("hidepid=invisible"), "{open}");
    assert!(open.contains("host network namespace"), "{open}");
    assert!(open.contains("aecl's uid"), "{open}");
    let root = exposures(true, true).join("\n");
    assert!(!root.contains("host /proc") && !root.contains("aecl's uid"), "{root}");
    assert!(root.contains("host network namespace"), "{root}");
}

#[test]
fn the_proxy_variables_carry_the_ports_credentials() {
    let command = Command {
        argv: vec!["true".into()],
        env: vec![
            ("HTTP_PROXY".into(), "http://127.0.0.1:3128".into()),
            ("PATH".into(), "/usr/bin".into()),
        ],
        deadlines: Deadlines { call_ms: 1, run_ms: None, lifetime_ms: 1 },
    };
    let proxy = ProxyPort { port: 40_123, secret: "0123abcd".into() };
    let rewritten = with_fallback_proxy(&command, Some(&proxy));
    assert_eq!(rewritten.env[0].1, "http://aecl:0123abcd@127.0.0.1:40123");
    assert_eq!(rewritten.env[1].1, "/usr/bin");
    assert_eq!(with_fallback_proxy(&command, None), command);
}

#[test]
fn the_proxy_port_opens_only_to_the_sandboxs_credentials() {
    let expected = b"aecl:0123abcd";
    let head = |authorization: &str| {
        format!("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n{authorization}\r\n")
    };
    let basic = |credentials: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(credentials);
        head(&format!("Proxy-Authorization: Basic {token}\r\n"))
    };
    assert!(authorized(basic("aecl:0123abcd").as_bytes(), expected));
    let lower = basic("aecl:0123abcd").replace("Basic", "basic");
    assert!(authorized(lower.as_bytes(), expected));
    for refused in [
        head(""),
        basic("aecl:0123abce"),
        basic("aecl:0123abcd0"),
        basic("root:0123abcd"),
        head("Proxy-Authorization: Bearer 0123abcd\r\n"),
        head("Authorization: Basic YWVjbDowMTIzYWJjZA==\r\n"),
        head("Proxy-Authorization: Basic !!!\r\n"),
    ] {
        assert!(!authorized(refused.as_bytes(), expected), "{refused}");
    }
}
