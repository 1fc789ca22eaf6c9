//! Whether git holds a file committed as it is, for the guard's git tree writers (`git
//! clean`, `git stash`, `git checkout -- .`): they remove what git does not track, or
//! restore what it does over the changes made since.
//!
//! Git is asked only what it reads from its own objects, index and ignore rules:
//! `ls-tree HEAD`, `hash-object --no-filters`, `ls-files --stage`, `check-ignore`. None
//! of them runs a filter, a hook or `core.fsmonitor` (set off besides), so asking never
//! runs a command a repository's configuration names. The agent's `GIT_*` variables are
//! not passed on: the file's own directory decides the repository.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// What git holds of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// HEAD holds it, as it is in the work tree.
    Committed,
    /// Git tracks it, but HEAD holds another version or none (a change, a staged file).
    Changed,
    /// Git does not track it, and no ignore rule names it.
    Untracked,
    /// Git does not track it, and an ignore rule names it.
    Ignored,
}

impl FileState {
    /// How a reason says it.
    pub fn describe(self) -> &'static str {
        match self {
            FileState::Committed => "committed as it is",
            FileState::Changed => "changed since its last commit",
            FileState::Untracked => "not tracked by git",
            FileState::Ignored => "ignored by git",
        }
    }
}

/// What git holds of `file` (an existing file in a work tree).
pub fn of(file: &Path) -> Result<FileState, String> {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Err(format!("`{}` names no file", file.display()));
    };
    let name = name.to_str().ok_or_else(|| format!("`{}` is not UTF-8", file.display()))?;
    // `<mode> blob <id>\t<name>`; nothing when HEAD does not hold it (or there is no
    // commit yet, which `ls-tree` reports as a failure).
    let head = git(dir, &["ls-tree", "-z", "HEAD", "--", name])?;
    let entry = head.status.success().then(|| head.stdout).unwrap_or_default();
    let entry = String::from_utf8_lossy(&entry);
    if let Some((meta, _)) = entry.split_once('\t') {
        let id = meta.rsplit(' ').next().unwrap_or_default();
        // A link is hashed through to its target's bytes, and so never matches: changed.
        let link = std::fs::symlink_metadata(file).map_err(|e| e.to_string())?.is_symlink();
        let work = succeeded(git(dir, &["hash-object", "--no-filters", "--", name])?)?;
        let same = !link && meta.starts_with("100") && String::from_utf8_lossy(&work).trim() == id;
        return Ok(if same { FileState::Committed } else { FileState::Changed });
    }
    let staged = succeeded(git(dir, &["ls-files", "-z", "--stage", "--", name])?)?;
    if !staged.is_empty() {
        return Ok(FileState::Changed);
    }
    let ignore = git(dir, &["check-ignore", "-q", "--", name])?;
    match ignore.status.code() {
        Some(0) => Ok(FileState::Ignored),
        Some(1) => Ok(FileState::Untracked),
        _ => Err(failure(&ignore)),
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<Output, String> {
    let mut command = Command::new("git");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GIT_") {
            command.env_remove(name);
        }
    }
    command
        .args(["-c", "core.fsmonitor=false", "--no-pager"])
        .args(args)
        .current_dir(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))
}

fn succeeded(output: Output) -> Result<Vec<u8>, String> {
    if output.status.success() { Ok(output.stdout) } else { Err(failure(&output)) }
}

fn failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    format!("git: {}", stderr.lines().next().unwrap_or("failed").trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .args(["-c", "user.email=t@t", "-c", "user.name=t"])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn a_file_is_committed_changed_untracked_or_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        run(root, &["init", "-q", "."]);
        std::fs::create_dir(root.join(".claude")).unwrap();
        let settings = root.join(".claude/settings.json");
        let local = root.join(".claude/settings.local.json");
        std::fs::write(&settings, "{}\n").unwrap();
        // No commit yet: untracked, then staged.
        assert_eq!(of(&settings), Ok(FileState::Untracked));
        run(root, &["add", ".claude/settings.json"]);
        assert_eq!(of(&settings), Ok(FileState::Changed));
        run(root, &["commit", "-qm", "x"]);
        assert_eq!(of(&settings), Ok(FileState::Committed));
        std::fs::write(&settings, "{\"hooks\": {}}\n").unwrap();
        assert_eq!(of(&settings), Ok(FileState::Changed));
        std::fs::write(root.join(".gitignore"), "settings.local.json\n").unwrap();
        std::fs::write(&local, "{}\n").unwrap();
        assert_eq!(of(&local), Ok(FileState::Ignored));
    }
}
