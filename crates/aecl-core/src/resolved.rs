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
//!
//! A relative path string is read from the working directory, and also from every
//! existing directory that a path argument of the same call names (the adapter's bases,
//! [`PathView::base_key`]): tools
//! take a relative pattern or name under a directory argument of their own (Claude Code's
//! `Glob` and `Grep` under `path`, an MCP server's `search_files` under `path`), which the
//! adapter cannot tell from a string that merely looks like a directory. Each such reading
//! is an entry under [`PathView::based_key`], and the path constraints check every one:
//! `Glob {"pattern": "l/secret", "path": "/ws/sub"}` with `/ws/sub/l -> /outside` is
//! refused though `l/secret` from the working directory names nothing.

use std::collections::BTreeMap;
use std::ops::Bound;

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

    /// What the key of a base starts with: a directory that another string of the call
    /// names, from which every relative path string is read too. Its value is the
    /// directory's resolution. It holds a NUL byte, like [`PathView::WORKING_DIR`].
    pub const BASE: &'static str = "\0base:";

    /// What the key of a based reading starts with ([`PathView::based_key`]).
    const BASED: &'static str = "\0from:";

    /// The key of the base `dir` (an absolute, resolved directory).
    pub fn base_key(dir: &str) -> String {
        [Self::BASE, dir].concat()
    }

    /// The key under which an adapter puts the resolution of the relative `written` read
    /// from the base `dir`. `dir` holds no NUL byte, so the key names one pair.
    pub fn based_key(dir: &str, written: &str) -> String {
        [Self::BASED, dir, "\0", written].concat()
    }

    /// The readings of the relative `written` from each base the adapter found: the base
    /// and the resolution from it, or why there is none (a base without an entry for
    /// `written` was not read from, so where the path points from it is unknown). Empty
    /// for an absolute path, and when no adapter saw the filesystem.
    pub fn based_readings<'a>(
        &'a self,
        written: &'a str,
    ) -> impl Iterator<Item = (&'a str, Result<&'a str, String>)> + 'a {
        let map = match self {
            PathView::Seen(map) if !written.starts_with('/') && !written.contains('\0') => {
                Some(map)
            }
            _ => None,
        };
        map.into_iter().flat_map(move |map| {
            let from = (Bound::Included(Self::BASE), Bound::Unbounded);
            let bases =
                map.range::<str, _>(from).take_while(|(key, _)| key.starts_with(Self::BASE));
            bases.map(move |(key, _)| {
                let dir = &key[Self::BASE.len()..];
                let reading = match map.get(&Self::based_key(dir, written)) {
                    Some(Resolution::Path(path)) => Ok(path.as_str()),
                    Some(Resolution::Failed(reason)) => Err(format!(
                        "`{written}` read from `{dir}` could not be resolved: {reason}"
                    )),
                    None => Err(format!(
                        "`{written}` was not read from `{dir}` (a directory another argument \
                         names), so where it points from there is unknown"
                    )),
                };
                (dir, reading)
            })
        })
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

    #[test]
    fn a_relative_path_is_read_from_every_base() {
        let view = PathView::Seen(BTreeMap::from([
            ("l/x".to_owned(), Resolution::Path("/w/l/x".to_owned())),
            (PathView::base_key("/w/sub"), Resolution::Path("/w/sub".to_owned())),
            (PathView::base_key("/w/other"), Resolution::Path("/w/other".to_owned())),
            (PathView::based_key("/w/sub", "l/x"), Resolution::Path("/out/x".to_owned())),
            (PathView::based_key("/w/other", "l/x"), Resolution::Failed("a loop".to_owned())),
        ]));
        let readings: Vec<_> = view.based_readings("l/x").collect();
        assert_eq!(readings.len(), 2, "{readings:?}");
        assert!(readings.contains(&("/w/sub", Ok("/out/x"))));
        assert!(
            readings
                .iter()
                .any(|(dir, r)| *dir == "/w/other"
                    && r.as_ref().is_err_and(|e| e.contains("a loop")))
        );
        // A relative string the adapter did not read from a base is unknown there.
        let missing: Vec<_> = view.based_readings("m").collect();
        assert_eq!(missing.len(), 2);
        assert!(missing.iter().all(|(_, r)| r.as_ref().is_err_and(|e| e.contains("not read"))));
        // Absolute paths and unseen filesystems have no other readings; nor do base keys
        // answer as the resolution of any string.
        assert_eq!(view.based_readings("/w/l/x").count(), 0);
        assert_eq!(PathView::Unseen.based_readings("l/x").count(), 0);
        assert!(view.lookup(&PathView::base_key("/w/sub")).is_err());
    }
}
