//! aecl's policy files: agent manifests, the action catalog, Cedar rules and the trace format.
//!
//! Formats are kept apart from meaning: the serde types of `format` and `trace` describe
//! what users write, and `lower` converts them by hand into the validated types of
//! `aecl-core`. Nothing here reads files: callers pass names and texts.

mod approval;
mod approval_when;
pub mod cedar;
mod compiled;
mod error;
mod examples;
pub mod format;
pub mod hook;
mod identity;
mod keystrokes;
mod limits;
mod load;
mod location;
mod lower;
mod operation;
pub mod policy_test;
pub mod replay;
mod runs;
mod sandbox;
pub mod schema;
pub mod trace;
mod values;
mod written_text;

pub use compiled::Compiled;
pub use error::{PolicyError, Problem};
pub use examples::{run_examples, run_from_history};
pub use load::{
    Example, LoadedPolicy, SourceFile, cedar_schema, is_policy_file, load, load_compiled,
};
