//! Fuzz target: any text through the shell analyser, the whole shell check (program table,
//! redirections and write paths included), the command-pattern parser and the SQL analyser
//! in every dialect. Each must answer (an error is an answer), never panic.
//!
//! The body is `aecl_fuzz_targets::shell_sql`, which the workspace tests also run.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aecl_fuzz_targets::shell_sql(data));
