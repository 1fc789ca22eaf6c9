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
    /// git writes the work tree of the directory it works in (`-C DIR` when given). git
    /// writes no file through a link inside its tree, so a link another command of the
    /// line may make there does not move its writes; one at or above the directory does.
    WorkTree(Option<ShellArg>),
}
