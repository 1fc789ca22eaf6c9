//! Integration tests of aecl-core.

mod arg_schema;
mod shell_bypass;
mod shell_differentials;
