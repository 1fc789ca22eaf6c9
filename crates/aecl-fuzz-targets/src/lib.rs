//! The bodies of aecl's fuzz targets: one function per target, taking the fuzzer's bytes.
//! Each must return for every input (an error is an answer) and panics only when a
//! property it checks is broken, which is a finding.
//!
//! `fuzz/fuzz_targets/NAME.rs` calls `aecl_fuzz_targets::NAME` under libFuzzer for
//! coverage-guided runs; `tests/it.rs` here runs the same functions over the regression
//! inputs, the seed corpora and generated inputs on every `cargo test`. `fuzz/README.md`
//! says what each target feeds and what must hold.

mod parsers;
mod policy;
mod sandbox;

pub use parsers::{checkpoint_parse, output_parse, path_pattern, shell_sql};
pub use policy::{policy_parse, trace_parse};
pub use sandbox::{egress_request, microvm_answer};

/// A target's body: the fuzzer's bytes in, a panic only for a broken property.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/Cargo.toml` lists its binaries.
pub const TARGETS: [(&str, Target); 8] = [
    ("checkpoint_parse", checkpoint_parse),
    ("egress_request", egress_request),
    ("microvm_answer", microvm_answer),
    ("output_parse", output_parse),
    ("path_pattern", path_pattern),
    ("policy_parse", policy_parse),
    ("shell_sql", shell_sql),
    ("trace_parse", trace_parse),
];
