//! Project automation: `cargo xtask ci | tidy | codegen | demo`.

fn main() {}
