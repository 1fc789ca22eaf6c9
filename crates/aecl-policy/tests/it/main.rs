//! Integration tests of aecl-policy.

mod corpus;
mod properties;
mod schema;
mod shell_corpus;
mod sql_corpus;
mod validated;
mod values;
