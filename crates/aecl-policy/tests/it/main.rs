//! Integration tests of aecl-policy.

mod compiled;
mod corpus;
mod properties;
mod schema;
mod shell_corpus;
mod sql_corpus;
mod values;
