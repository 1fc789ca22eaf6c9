//! Where path arguments really point: what an adapter that sees the filesystem found each
//! path string to resolve to, carried into `decide` as an input (like the clock).
//!
//! The core does no I/O, so it cannot follow a symbolic link: `work/outlink/x` with
//! `work/outlink -> /outside` looks inside `work` to any lexical check. An adapter that
//! sees the filesystem the call will act on (the agent hook on the agent's machine, the MCP
//! gateway in front of a local server, a connector) resolves every path string first and
//! puts the answers in `Call::paths`. The path constraints then check both the path as
//! written and its resolution, so a resolution can only tighten a verdict.
//!
//! - `PathView::Unseen`: no adapter saw the filesystem (a remote server, a replayed trace
//!   without resolutions): the lexical check applies alone.
//! - `PathView::Seen(map)`: the adapter saw the filesystem. A path-constrained value with
//!   no entry, or whose resolution failed (a symlink loop, a path too long, an unreadable
//!   directory), is blocked with the reason.
//!
//! A shell command's write targets are resolved the same way: `ShellRules::targets` names
//! them as absolute strings joined to the directory the command writes from, without
//! lexical normalisation (so `link/..` stays physical), and the adapter adds an entry for
//! each. The key [`PathView::WORKING_DIR`] (which no path string can be) holds the
//! working directory the adapter resolved relative paths from. A directory a git command
//! writes the repository of has a second entry, under [`PathView::repository_key`]: the
//! directory git finds the repository in, walking up from it.

use std::collections::BTreeMap;

use serde::Serialize;

/// What the adapter that built a call saw of the filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathView {
    /// Nothing: path constraints are checked lexically alone.
    #[default]
    Unseen,
    /// The filesystem was visible: each path string as written (the argument value,
    /// byte for byte) and what it resolved to.
    Seen(BTreeMap<String, Resolution>),
}

/// What one path string resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The absolute physical path: symbolic links in the longest existing prefix followed,
    /// `..` taken physically, the components that do not exist appended lexically.
    Path(String),
    /// Why it could not be resolved; a path constraint on it blocks.
    Failed(String),
}

impl PathView {
    /// The key of the working directory entry: its value is the absolute directory (as
    /// the adapter was given it) that the call's relative paths start from. It holds a NUL
    /// byte, so no path argument (refused with a NUL) or shell target (absolute) is it,
    /// and [`PathView::lookup`] never answers with it.
    pub const WORKING_DIR: &'static str = "\0cwd";

    /// What the key of a repository entry starts with; the directory string follows, as
    /// [`ShellRules::targets`](crate::shell::ShellRules::targets) spelled it. It holds a
    /// NUL byte, like [`PathView::WORKING_DIR`], so no path string is such a key.
    pub const REPOSITORY: &'static str = "\0repository:";

    /// The key under which an adapter puts the root of the git repository that a command
    /// working in `dir` writes: the nearest directory at or above `dir`'s resolution that
    /// holds `.git` (or is a bare repository), else that resolution itself.
    pub fn repository_key(dir: &str) -> String {
        format!("{}{dir}", Self::REPOSITORY)
    }

    /// The repository root an adapter found for `dir` ([`PathView::repository_key`]):
    /// `Ok(None)` when no adapter saw the filesystem, `Err(reason)` when it saw it but did
    /// not find it.
    pub fn repository(&self, dir: &str) -> Result<Option<&str>, String> {
        match self {
            PathView::Unseen => Ok(None),
            PathView::Seen(map) => match map.get(&Self::repository_key(dir)) {
                Some(Resolution::Path(root)) => Ok(Some(root.as_str())),
                Some(Resolution::Failed(reason)) => {
                    Err(format!("the repository of `{dir}` could not be found: {reason}"))
                }
                None => Err(format!(
                    "the repository of `{dir}` was not looked for on the filesystem the call \
                     acts on, so where git writes is unknown"
                )),
            },
        }
    }

    /// The working directory the adapter resolved relative paths from, when it said.
    pub fn working_dir(&self) -> Option<&str> {
        match self {
            PathView::Seen(map) => match map.get(Self::WORKING_DIR) {
                Some(Resolution::Path(dir)) if dir.starts_with('/') => Some(dir.as_str()),
                _ => None,
            },
            PathView::Unseen => None,
        }
    }

    pub fn is_unseen(&self) -> bool {
        matches!(self, PathView::Unseen)
    }

    /// The resolution of `written`: `Ok(None)` when no adapter saw the filesystem,
    /// `Ok(Some(path))` when it resolved, and `Err(reason)` when the adapter saw the
    /// filesystem but could not resolve it (or did not try).
    pub fn lookup(&self, written: &str) -> Result<Option<&str>, String> {
        match self {
            PathView::Unseen => Ok(None),
            PathView::Seen(map) => match map.get(written).filter(|_| !written.contains('\0')) {
                Some(Resolution::Path(path)) => Ok(Some(path.as_str())),
                Some(Resolution::Failed(reason)) => {
                    Err(format!("`{written}` could not be resolved: {reason}"))
                }
                None => Err(format!(
                    "`{written}` was not resolved on the filesystem the call acts on, so where \
                     it points is unknown"
                )),
            },
        }
    }
}

/// Lexically normalises `path`: removes `.` and empty segments and resolves `..` against
/// the segments before it. Returns `None` when `..` climbs above the start.
pub fn normalise_path(path: &str) -> Option<String> {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    Some(if absolute { format!("/{joined}") } else { joined })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_tells_unseen_resolved_failed_and_missing_apart() {
        assert_eq!(PathView::Unseen.lookup("/a"), Ok(None));
        let view = PathView::Seen(BTreeMap::from([
            ("a".to_owned(), Resolution::Path("/w/a".to_owned())),
            ("l".to_owned(), Resolution::Failed("symlink loop".to_owned())),
        ]));
        assert_eq!(view.lookup("a"), Ok(Some("/w/a")));
        assert!(view.lookup("l").unwrap_err().contains("symlink loop"));
        assert!(view.lookup("b").unwrap_err().contains("not resolved"));
        // The working directory entry is not the resolution of any path string: an empty
        // path is unresolved, not the working directory.
        let view = PathView::Seen(BTreeMap::from([(
            PathView::WORKING_DIR.to_owned(),
            Resolution::Path("/w".to_owned()),
        )]));
        assert_eq!(view.working_dir(), Some("/w"));
        assert!(view.lookup("").is_err());
        assert!(view.lookup(PathView::WORKING_DIR).is_err());
    }
}
