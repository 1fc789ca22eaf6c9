//! Link flags of the `aecl` binary: linked as a position-dependent executable (`-no-pie`).
//!
//! Every tool call of an agent starts `aecl hook` anew, so the process start is on the
//! decision path. As a PIE, the dynamic loader applied about 97,000 relative relocations at
//! each start, writing into 1.5 MB of `.data.rel.ro`: some 400 copy-on-write page faults,
//! half of `aecl --version`'s time (bench/README.md, "Hook start-up"). A position-dependent
//! executable has none. The cost is that the executable's own code is not placed at a
//! random address (libraries, stack and heap still are): aecl's code is memory-safe Rust
//! (`unsafe` only in the sandbox crate), which is what ASLR would back up. Objects built as
//! position-independent code link into it unchanged; only the binaries are affected (test
//! binaries and libraries keep the target's defaults).
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
