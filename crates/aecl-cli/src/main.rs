//! The `aecl` binary.

fn main() {}
