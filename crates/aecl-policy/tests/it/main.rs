//! Integration tests of aecl-policy.

mod corpus;
mod properties;
mod schema;
mod sql_corpus;
