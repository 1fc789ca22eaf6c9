//! Fuzz target: a policy glob and a path value a tool may read as a pattern, through brace
//! expansion, both glob readers, `path_glob` and `path_under`. Each must answer, never
//! panic, and a path the glob matches must be one the pattern reading may match.
//!
//! The body is `aecl_fuzz_targets::path_pattern`, which the workspace tests also run.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aecl_fuzz_targets::path_pattern(data));
