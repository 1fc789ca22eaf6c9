//! What the program guard finds a command would do, as the readers of programs'
//! grammars (`special`, `git`) report it and `guard` judges it. The readers name it
//! without naming the guard.

use super::ShellArg;
use super::writes::Directories;

/// One thing a command line would do that the guard judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Finding {
    Unknown,
    RunsCode(String),
    Uploads(String),
    Writes(ShellArg),
    /// A write whose path is relative to `-C DIR`.
    WritesUnder(ShellArg, ShellArg),
    /// git writes the work tree, or the repository, of the directory it works in (`-C DIR`
    /// when given). git writes no file through a link inside its tree, so a link another
    /// command of the line may make there does not move its writes; one at or above the
    /// directory does.
    WorkTree(Option<ShellArg>),
}

impl Finding {
    /// What a write finding writes, and the directories it is relative to (`dirs`, the
    /// line's, or `-C DIR` under them); git's work tree is the directory itself. `None` for
    /// a finding that writes nothing.
    pub(super) fn write_target(&self, dirs: &Directories) -> Option<(ShellArg, Directories)> {
        match self {
            Finding::Writes(target) => Some((target.clone(), dirs.clone())),
            Finding::WritesUnder(target, dir) => Some((target.clone(), dirs.under(dir))),
            Finding::WorkTree(dir) => Some((
                ShellArg::known("."),
                dir.as_ref().map_or_else(|| dirs.clone(), |dir| dirs.under(dir)),
            )),
            Finding::Unknown | Finding::RunsCode(_) | Finding::Uploads(_) => None,
        }
    }
}
