//! Fuzz target: any text as a tool's output, split into fields in every format
//! (`aecl_core::output::pieces`) under rules naming trusted and untrusted fields. Nothing
//! may panic, and nothing may be left of an output but its pieces.
//!
//! The body is `aecl_fuzz_targets::output_parse`, which the workspace tests also run.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aecl_fuzz_targets::output_parse(data));
