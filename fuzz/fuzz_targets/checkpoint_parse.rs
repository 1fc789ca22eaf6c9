//! Fuzz target: a published checkpoint as a witness or `aecl audit verify --checkpoints`
//! reads it (a tlog-witness `add-checkpoint` body: old size, consistency proof, signed
//! note). Written by whoever can reach the witness or the directory, so it must never panic.
//!
//! The body is `aecl_fuzz_targets::checkpoint_parse`, which the workspace tests also run.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aecl_fuzz_targets::checkpoint_parse(data));
