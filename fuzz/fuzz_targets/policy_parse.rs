//! Fuzz target: any text, cut into the files of a policy directory, through
//! `aecl_policy::load`; a policy that loads also runs its embedded examples. Nothing may
//! panic: every bad input must come back as problems.
//!
//! The body is `aecl_fuzz_targets::policy_parse`, which the workspace tests also run.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aecl_fuzz_targets::policy_parse(data));
