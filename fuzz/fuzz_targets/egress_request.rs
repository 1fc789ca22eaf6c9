//! The egress proxy's reading of a request head (written by whatever runs in the sandbox)
//! and the allowlist patterns: never a panic, and a host the proxy would reach is one it
//! read from the head.
//!
//! The body is `aecl_fuzz_targets::egress_request`, which the workspace tests also run.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aecl_fuzz_targets::egress_request(data));
