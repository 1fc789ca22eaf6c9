//! Integration tests of aecl-core.

mod shell_bypass;
