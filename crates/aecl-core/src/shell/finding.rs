//! What the program guard finds a command would do, as the readers of programs'
//! grammars (`special`, `git`) report it and `guard` judges it. A leaf: the readers
//! name it without naming the guard.

use super::ShellArg;

/// One thing a command line would do that the guard judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Finding {
    Unknown,
    RunsCode(String),
    Uploads(String),
    Writes(ShellArg),
    /// A write whose path is relative to `-C DIR`.
    WritesUnder(ShellArg, ShellArg),
}
