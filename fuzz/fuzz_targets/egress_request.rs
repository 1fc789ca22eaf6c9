//! The egress proxy's reading of a request head (written by whatever runs in the sandbox)
//! and the allowlist patterns: never a panic, and a host the proxy would reach is one it
//! read from the head.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((host, _port)) = aecl_sandbox::proxy_target(data) {
        assert!(!host.is_empty());
        assert!(data.windows(host.len()).any(|w| w == host.as_bytes()), "the proxy invented `{host}`");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(pattern) = aecl_sandbox::HostPattern::parse(text) {
            let _ = pattern.allows(text, 443);
        }
    }
});
