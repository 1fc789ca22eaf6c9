//! The wire protocol's tests: the committed schemas are fresh, and the hand conversions
//! from the core's verdict write what the schemas describe.

mod schema;
mod verdict;
