//! The microvm tier's parser of a guest's answer (written by a machine that ran untrusted
//! code): never a panic, and never more than the cap of either stream handed back. The
//! first byte chooses the cap.
//!
//! The body is `aecl_fuzz_targets::microvm_answer`, which the workspace tests also run.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aecl_fuzz_targets::microvm_answer(data));
