//! Errors of this crate: problems in policy files, each with its place, and bad trace lines.

use std::fmt;

/// One problem in a policy file, at a line and column (both from 1; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy has problems; all of them are listed, in file order.
    #[error("{} problem(s) in the policy:\n{}", .0.len(), list(.0))]
    Invalid(Vec<Problem>),
    /// A trace line is not a valid event.
    #[error("line {line}: {message}")]
    Trace { line: usize, message: String },
    /// An agent hook's input is not a call aecl can decide.
    #[error("hook input: {0}")]
    Hook(String),
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}
