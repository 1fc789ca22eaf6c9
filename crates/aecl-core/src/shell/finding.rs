//! What the program guard finds a command would do, as the readers of programs'
//! grammars (`special`, `git`) report it and `guard` judges it. The readers name it
//! without naming the guard.

use super::writes::Directories;
use super::{ShellArg, Unnamed};

/// One thing a command line would do that the guard judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Finding {
    Unknown,
    /// Runs code the table does not know, as an unknown program would (`why` says which):
    /// judged as `Unknown` is, under its own name (`python3 -m app.cli`).
    Unlisted(String),
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
    /// A path given to a program the table does not know that `allow_programs` lists: it
    /// may write it (`docker cp c:/x .envrc`), so it is refused when it is configuration
    /// that makes programs run code; anything else it names is the program's to use.
    Names(ShellArg),
    /// Files only the run names (`what` says which), in the directory the command works in
    /// or `dir`: directly there, or anywhere beneath it ([`Unnamed`]).
    Unnamed {
        what: String,
        dir: Option<ShellArg>,
        depth: Unnamed,
    },
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
            Finding::Unnamed { what, dir, .. } => Some((
                ShellArg { raw: what.clone(), expansion: true, ..ShellArg::default() },
                dir.as_ref().map_or_else(|| dirs.clone(), |dir| dirs.under(dir)),
            )),
            Finding::Unknown
            | Finding::Unlisted(_)
            | Finding::RunsCode(_)
            | Finding::Uploads(_)
            | Finding::Names(_) => None,
        }
    }

    /// How deep beneath its directory an [`Finding::Unnamed`] write lands.
    pub(super) fn unnamed(&self) -> Option<Unnamed> {
        match self {
            Finding::Unnamed { depth, .. } => Some(*depth),
            _ => None,
        }
    }
}
