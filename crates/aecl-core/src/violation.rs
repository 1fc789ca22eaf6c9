//! What checking one argument value finds: the violations that block a call or ask for
//! approval, and the facts about the value that later stages read.
//!
//! A leaf module: each validator (`constraint`, `path_glob`, `sql`, `shell`) reports in
//! these terms, and `constraint` gathers them, so they live below all of them.

use crate::decision::Decision;

/// What a constraint found wrong with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub rule: &'static str,
    pub decision: Decision,
    pub message: String,
}

/// Facts about a value that later stages use: the SQL analysis feeds the bulk risk factor,
/// the shell analysis the exfiltration pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueFacts {
    pub bulk: bool,
    /// A command of a shell argument that may reach other hosts: the call sends data out
    /// whether or not its action is `outward`.
    pub network: Option<String>,
    /// `network` reaches other hosts only through the project's code it runs.
    pub network_project_code_only: bool,
}
