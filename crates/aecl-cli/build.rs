//! Link options of the `aecl` binary.
//!
//! Every tool call of a hooked agent starts `aecl` anew, so its start-up is on the
//! decision path. A PIE binary of this size carries about 70,000 relative relocations;
//! as RELA entries that is a 1.7 MB table the loader reads, page by page, at every start.
//! `-z pack-relative-relocs` (GNU ld 2.38+, lld 15+; glibc 2.36+ at run time, which the
//! binary then requires by symbol version) packs them into a few kilobytes of DT_RELR.
//! The binary stays position-independent (ASLR is kept).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
