//! Where a git tree writer writes: its work tree, as git finds it from the directory it
//! runs in, `-C` and `--work-tree`; refused as unknown when the environment, `-c
//! core.worktree` or the repository's configuration may move it elsewhere.

use std::path::{Path, PathBuf};

use aecl_core::shell::{OpaqueCommand, ShellArg};
use aecl_engine::fs_paths::resolve_physical;

use super::super::expand::{env, expand, unescape};
use super::{Line, Refusal};

impl Line<'_> {
    /// The directories a tree writer may write anything under: git's top-level directory
    /// (from `-C` and `--work-tree` too), else the directory it runs in.
    pub(super) fn tree_roots<'p>(
        &self,
        command: &OpaqueCommand,
    ) -> Result<Vec<PathBuf>, Refusal<'p>> {
        if command.program != "git" {
            return self.absolute(".", &command.dirs);
        }
        // Git takes its work tree from these too, and `work_tree` does not follow them.
        let moved = ["GIT_WORK_TREE", "GIT_DIR", "GIT_COMMON_DIR"]
            .iter()
            .find(|name| self.setters().may_set(name) || env(name).is_some_and(|v| !v.is_empty()));
        if let Some(name) = moved {
            return Err(Refusal::Unknown(format!(
                "runs `git`, which may write anything under the work tree `{name}` names \
                 (name it with `-C` instead)"
            )));
        }
        let dirs: Vec<PathBuf> =
            self.git_dirs(command, true)?.iter().map(|d| work_tree(d)).collect();
        if let Some(dir) = dirs.iter().find(|d| moves_work_tree(d)) {
            return Err(Refusal::Unknown(format!(
                "runs `git` in `{}`, whose configuration names another work tree \
                 (`core.worktree`)",
                dir.display()
            )));
        }
        Ok(dirs)
    }

    /// The directories `git` starts from: each directory the line may be in, joined to
    /// its `-C` options in order (and to `--work-tree` with `work_tree`, for a tree
    /// writer's root).
    pub(super) fn git_dirs<'p>(
        &self,
        command: &OpaqueCommand,
        with_work_tree: bool,
    ) -> Result<Vec<PathBuf>, Refusal<'p>> {
        let mut dirs: Vec<PathBuf> = self.absolute(".", &command.dirs)?;
        let mut words = command.words.iter();
        while let Some(word) = words.next().filter(|w| w.text.starts_with('-')) {
            let (name, value) = match word.text.split_once('=') {
                Some((name, value)) => (
                    name,
                    Some(ShellArg {
                        text: value.to_owned(),
                        raw: value.to_owned(),
                        ..word.clone()
                    }),
                ),
                None => (word.text.as_str(), None),
            };
            if !matches!(
                name,
                "-C" | "--work-tree"
                    | "-c"
                    | "--git-dir"
                    | "--namespace"
                    | "--config-env"
                    | "--exec-path"
                    | "--super-prefix"
                    | "--attr-source"
            ) {
                continue;
            }
            let value = match value {
                Some(value) => value,
                None => match words.next() {
                    Some(value) => value.clone(),
                    None => break,
                },
            };
            if name == "-c" && value.text.to_ascii_lowercase().starts_with("core.worktree") {
                return Err(Refusal::Unknown(
                    "runs `git` with a work tree `core.worktree` names (name it with `-C` \
                     instead)"
                        .to_owned(),
                ));
            }
            if !(name == "-C" || (with_work_tree && name == "--work-tree")) {
                continue;
            }
            let texts = expand(&value, &self.setters(), self.pwd)
                .map_err(|e| Refusal::Unknown(format!("runs `git` in {e}")))?;
            let mut next = Vec::new();
            for text in texts {
                let text = unescape(&text);
                for dir in &dirs {
                    next.push(dir.join(&text));
                }
            }
            dirs = next;
        }
        Ok(dirs)
    }
}

/// Whether the repository at `top` (a directory holding `.git`) sets `core.worktree`, which
/// moves git's work tree elsewhere: any mention of `worktree` in its configuration counts
/// (for a `.git` file, that of the directory it names, and of its common directory).
fn moves_work_tree(top: &Path) -> bool {
    let dot_git = top.join(".git");
    let mut git_dirs = vec![dot_git.clone()];
    if let Ok(text) = std::fs::read_to_string(&dot_git)
        && let Some(dir) = text.trim().strip_prefix("gitdir:")
    {
        let dir = top.join(dir.trim());
        if let Ok(common) = std::fs::read_to_string(dir.join("commondir")) {
            git_dirs.push(dir.join(common.trim()));
        }
        git_dirs.push(dir);
    }
    git_dirs.iter().any(|dir| {
        std::fs::read_to_string(dir.join("config"))
            .is_ok_and(|config| config.to_ascii_lowercase().contains("worktree"))
    })
}

/// The top-level directory of the git work tree holding `dir`: the nearest directory with
/// a `.git`, else `dir` itself.
fn work_tree(dir: &Path) -> PathBuf {
    let resolved =
        dir.to_str().and_then(|d| resolve_physical(Path::new("/"), d).ok()).map(PathBuf::from);
    let start = resolved.unwrap_or_else(|| dir.to_owned());
    start
        .ancestors()
        .find(|d| std::fs::symlink_metadata(d.join(".git")).is_ok())
        .map_or_else(|| start.clone(), Path::to_path_buf)
}
