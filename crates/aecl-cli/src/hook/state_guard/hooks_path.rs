//! The hooks directory a repository's own configuration names (`core.hooksPath`): many
//! projects keep their hooks in the work tree (`.githooks`, `scripts/git-hooks`), where
//! an ordinary write then makes a hook the next `git commit` runs (red team round 23,
//! hooks F3: a `Write` of `.githooks/pre-commit`, `chmod +x`, `git commit`).
//!
//! Read from the repository's `config` file itself rather than by running git, which would
//! cost every hook call a process: the `[core]` section's last `hooksPath`, a relative
//! value taken from the work tree's top-level directory, as git takes it. Includes and
//! the user's global configuration are not followed (a hooks path there names a place
//! outside the project, which writes reach only through the write paths).

use std::path::{Path, PathBuf};

/// The most bytes of a `config` file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The hooks directory configured for the repository holding `cwd`, if any.
pub fn configured(cwd: &Path) -> Option<PathBuf> {
    let (top, git_dir) = repository(cwd)?;
    let config = read(&git_dir.join("config"))?;
    let value = hooks_path(&config)?;
    let path = match value.strip_prefix("~/") {
        Some(rest) => PathBuf::from(std::env::var_os("HOME")?).join(rest),
        None => top.join(value),
    };
    Some(path)
}

/// The work tree's top-level directory and its git directory: the nearest `.git` at or
/// above `cwd`, a directory or a `gitdir: PATH` file (a linked work tree, whose shared
/// `config` is in the directory its `commondir` names).
fn repository(cwd: &Path) -> Option<(PathBuf, PathBuf)> {
    for top in cwd.ancestors() {
        let dot_git = top.join(".git");
        let Ok(meta) = std::fs::metadata(&dot_git) else { continue };
        if meta.is_dir() {
            return Some((top.to_owned(), dot_git));
        }
        let text = read(&dot_git)?;
        let linked = top.join(text.strip_prefix("gitdir:")?.trim());
        let common =
            read(&linked.join("commondir")).map(|c| linked.join(c.trim())).unwrap_or(linked);
        return Some((top.to_owned(), common));
    }
    None
}

fn read(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path).ok()?.take(MAX_CONFIG_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The last `hooksPath` of a `[core]` section (names compared without case, as git does),
/// its quotes removed.
fn hooks_path(config: &str) -> Option<String> {
    let mut in_core = false;
    let mut found = None;
    for line in config.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let name = header.split(']').next().unwrap_or_default().trim();
            in_core = name.eq_ignore_ascii_case("core");
            continue;
        }
        if !in_core {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        if key.trim().eq_ignore_ascii_case("hookspath") {
            let value = value.split([';', '#']).next().unwrap_or_default().trim();
            let value = value.trim_matches('"').trim();
            found = (!value.is_empty()).then(|| value.to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_sections_last_hooks_path_is_read() {
        let config = "[core]\n\trepositoryformatversion = 0\n[user]\n\thooksPath = no\n\
                      [Core]\n\tHooksPath = \"scripts/git-hooks\" ; kept\n";
        assert_eq!(hooks_path(config).as_deref(), Some("scripts/git-hooks"));
        assert_eq!(hooks_path("[core]\n\tbare = false\n"), None);
        assert_eq!(hooks_path("[core \"x\"]\nhooksPath = y\n"), None);
    }

    #[test]
    fn a_relative_hooks_path_is_the_work_trees() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        std::fs::create_dir_all(top.join(".git")).unwrap();
        std::fs::create_dir_all(top.join("src/deep")).unwrap();
        assert_eq!(configured(&top.join("src/deep")), None);
        std::fs::write(top.join(".git/config"), "[core]\n\thooksPath = .githooks\n").unwrap();
        assert_eq!(configured(&top.join("src/deep")), Some(top.join(".githooks")));
        // A linked work tree reads the shared configuration.
        let linked = top.join("wt");
        std::fs::create_dir_all(top.join(".git/worktrees/wt")).unwrap();
        std::fs::write(top.join(".git/worktrees/wt/commondir"), "../..\n").unwrap();
        std::fs::create_dir_all(&linked).unwrap();
        std::fs::write(linked.join(".git"), "gitdir: ../.git/worktrees/wt\n").unwrap();
        let found = configured(&linked).unwrap();
        assert_eq!(found, linked.join(".githooks"));
    }
}
