//! Fuzz target: any text as the lines of a trace, each parsed with
//! `aecl_policy::trace::parse_event` and the events replayed against the finance example.
//! Nothing may panic, and no call may be decided by `decide`'s panic fallback (libFuzzer's
//! panic hook aborts on a caught panic too).
//!
//! The body is `aecl_fuzz_targets::trace_parse`, which the workspace tests also run.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aecl_fuzz_targets::trace_parse(data));
