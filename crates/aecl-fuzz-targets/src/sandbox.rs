//! Targets over what the sandbox reads from the code it confines: the egress proxy's
//! request heads and the microVM guest's answers, both written by whatever runs inside.

/// Bytes as a request head to the egress proxy, and as an allowlist pattern: a host the
/// proxy would reach is one the head names.
pub fn egress_request(data: &[u8]) {
    if let Some((host, _port)) = aecl_sandbox::proxy_target(data) {
        assert!(!host.is_empty(), "the proxy read an empty host");
        assert!(
            data.windows(host.len()).any(|w| w == host.as_bytes()),
            "the proxy invented `{host}`"
        );
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(pattern) = aecl_sandbox::HostPattern::parse(text)
    {
        let _ = pattern.allows(text, 443);
    }
}

/// A cap (the first byte) and bytes as a guest's answer: never more than the cap of either
/// stream handed back.
pub fn microvm_answer(data: &[u8]) {
    let Some((&cap, bytes)) = data.split_first() else { return };
    let cap = usize::from(cap);
    if let Ok((stdout, stderr)) = aecl_sandbox::parse_microvm_answer(bytes, cap) {
        assert!(stdout.len() <= cap && stderr.len() <= cap, "more than the cap {cap}");
    }
}
