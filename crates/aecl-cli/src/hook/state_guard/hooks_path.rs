//! The hooks directories git's configuration names (`core.hooksPath`), and the files
//! that configuration includes: many projects keep their hooks in the work tree
//! (`.githooks`, `scripts/git-hooks`), where an ordinary write then makes a hook the next
//! `git commit` runs (red team round 23, hooks F3: a `Write` of `.githooks/pre-commit`,
//! `chmod +x`, `git commit`). A project may also keep part of its configuration in the work
//! tree (`git config include.path ../tools/gitconfig`), where a write of that file sets
//! anything git's configuration can: a hooks path, an alias, `core.fsmonitor`.
//!
//! Read from the configuration files themselves rather than by running git, which would
//! cost every hook call a process: the repository's `config` (and `config.worktree`), the
//! user's (`$GIT_CONFIG_GLOBAL`, else `~/.gitconfig` and `$XDG_CONFIG_HOME/git/config`)
//! and the system's (`/etc/gitconfig`), each with the files it includes (`include.path`,
//! and `includeIf.*.path` whatever its condition: a hooks path is protected when some
//! branch or directory could make git use it). Every `hooksPath` found counts, not only the
//! one git would use last: protecting one more directory costs a refusal of writes there,
//! missing one costs code run at the next commit. A relative value is taken from the work
//! tree's top-level directory, as git takes it.
//!
//! The syntax read is git's (`git help config`, "Syntax"): sections `[core]`, `[core
//! "sub"]` and `[core.sub]`, a variable on the header's own line (`[core] hooksPath = x`),
//! names without case, values quoted in parts with `\"`, `\\`, `\n`, `\t` escapes,
//! comments after `#` or `;` outside quotes, and lines continued by a final `\`.

use std::path::{Path, PathBuf};

use aecl_engine::fs_paths::normalise;

/// The most bytes of a configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// How deep includes are followed (git's own limit is 10).
const MAX_INCLUDE_DEPTH: usize = 10;
/// The most configuration files read for one call.
const MAX_FILES: usize = 64;

/// What git's configuration, seen from a work tree, names that makes git run code.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Configured {
    /// Every hooks directory a configuration file names.
    pub hooks: Vec<PathBuf>,
    /// The files configuration files include (that exist), besides the repository's own
    /// `config` (which is under `.git`, refused by name) and the user's.
    pub includes: Vec<PathBuf>,
}

/// The hooks directories and included files configured for the repository holding `cwd`,
/// and the user's and system's configuration.
pub fn configured(cwd: &Path) -> Configured {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut roots: Vec<PathBuf> = Vec::new();
    let repository = repository(cwd);
    if let Some((_, git_dir)) = &repository {
        roots.push(git_dir.join("config"));
        roots.push(git_dir.join("config.worktree"));
    }
    match var("GIT_CONFIG_GLOBAL") {
        Some(global) => roots.push(global),
        None => {
            roots.extend(home.as_ref().map(|h| h.join(".gitconfig")));
            let xdg = var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
            roots.extend(xdg.map(|x| x.join("git/config")));
        }
    }
    roots.push(var("GIT_CONFIG_SYSTEM").unwrap_or_else(|| PathBuf::from("/etc/gitconfig")));

    let mut read = Reading { home: home.as_deref(), files: 0, found: Configured::default() };
    for root in &roots {
        read.file(root, 0);
    }
    let mut found = read.found;
    // The user's own files are configuration by name already; what they include is not.
    found.includes.retain(|file| !roots.contains(file));
    let top = repository.map(|(top, _)| top).unwrap_or_else(|| cwd.to_owned());
    found.hooks = found
        .hooks
        .iter()
        .filter_map(|value| match value.to_str().and_then(|v| v.strip_prefix("~/")) {
            Some(rest) => home.as_ref().map(|h| h.join(rest)),
            None => Some(top.join(value)),
        })
        .collect();
    found.hooks.sort();
    found.hooks.dedup();
    found
}

/// Configuration files being read, with what they name.
struct Reading<'a> {
    home: Option<&'a Path>,
    files: usize,
    found: Configured,
}

impl Reading<'_> {
    fn file(&mut self, path: &Path, depth: usize) {
        if depth > MAX_INCLUDE_DEPTH || self.files >= MAX_FILES {
            return;
        }
        let Some(text) = read(path) else { return };
        self.files += 1;
        let dir = path.parent().unwrap_or(Path::new("/"));
        for entry in entries(&text) {
            match (entry.section.as_str(), entry.key.as_str()) {
                ("core", "hookspath") if entry.subsection.is_none() && !entry.value.is_empty() => {
                    self.found.hooks.push(PathBuf::from(&entry.value));
                }
                ("include", "path") | ("includeif", "path") if !entry.value.is_empty() => {
                    let included = match entry.value.strip_prefix("~/") {
                        Some(rest) => match self.home {
                            Some(home) => normalise(&home.join(rest)),
                            None => continue,
                        },
                        None => normalise(&dir.join(&entry.value)),
                    };
                    if !self.found.includes.contains(&included) && included.is_file() {
                        self.found.includes.push(included.clone());
                        self.file(&included, depth + 1);
                    }
                }
                _ => {}
            }
        }
    }
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

pub(super) fn read(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path).ok()?.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// One variable of a configuration file: its section and key lower-cased (subsections
/// keep their case, as git's do).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub section: String,
    pub subsection: Option<String>,
    pub key: String,
    pub value: String,
}

/// The variables of a configuration file's text, in order. Text git would refuse is read
/// as far as it goes: what is found is protected either way.
pub(super) fn entries(text: &str) -> Vec<Entry> {
    parse(text).0
}

/// [`entries`], and the first line read as no comment, header or variable: a reader that
/// must see every variable (`reach/repository.rs`) takes such a file as unknown, since
/// git may read it otherwise (red team round 29, second pass H1: a second header on a
/// line, a byte order mark, each hid `core.fsmonitor` from a reading that skipped it).
pub(super) fn parse(text: &str) -> (Vec<Entry>, Option<String>) {
    let mut found = Vec::new();
    let mut unread = None;
    let mut section = String::new();
    let mut subsection: Option<String> = None;
    // git skips a UTF-8 byte order mark at the start.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut rest = line.trim_start();
        // Headers, several on a line if so written (`[color] [core] fsmonitor = x`).
        while let Some(header) = rest.strip_prefix('[') {
            let Some((name, after)) = header.split_once(']') else {
                unread.get_or_insert_with(|| line.to_owned());
                rest = "";
                break;
            };
            (section, subsection) = section_name(name);
            rest = after.trim_start();
        }
        if rest.is_empty() || rest.starts_with(['#', ';']) {
            continue;
        }
        let key_end =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
        let (key, after_key) = rest.split_at(key_end);
        let after_key = after_key.trim_start();
        let value = match after_key.strip_prefix('=') {
            Some(raw) => Some(value(raw, &mut lines)),
            // A variable with no `=` is a boolean true; anything else is not a variable.
            None if after_key.is_empty() || after_key.starts_with(['#', ';']) => {
                Some("true".to_owned())
            }
            None => None,
        };
        let named = key.starts_with(|c: char| c.is_ascii_alphabetic()) && !section.is_empty();
        match value {
            Some(value) if named => found.push(Entry {
                section: section.clone(),
                subsection: subsection.clone(),
                key: key.to_ascii_lowercase(),
                value,
            }),
            _ => {
                unread.get_or_insert_with(|| line.to_owned());
            }
        }
    }
    (found, unread)
}

/// A section header's name (between `[` and `]`): `core`, `core "sub"`, or the older
/// `core.sub`, the section lower-cased.
fn section_name(name: &str) -> (String, Option<String>) {
    let name = name.trim();
    if let Some((section, quoted)) = name.split_once(char::is_whitespace) {
        let sub = quoted.trim().trim_matches('"').replace("\\\"", "\"").replace("\\\\", "\\");
        return (section.to_ascii_lowercase(), Some(sub));
    }
    match name.split_once('.') {
        Some((section, sub)) => (section.to_ascii_lowercase(), Some(sub.to_ascii_lowercase())),
        None => (name.to_ascii_lowercase(), None),
    }
}

/// A value after its `=`: quoted parts joined, escapes read, a comment outside quotes
/// dropped, unquoted spaces at either end trimmed, and the next lines joined while one
/// ends in a `\`.
fn value<'a>(raw: &'a str, lines: &mut impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    // Bytes of `out` that are quoted or escaped: trailing spaces before them stay.
    let mut kept = 0;
    let mut quoted = false;
    let mut text = raw.trim_start();
    loop {
        let mut chars = text.chars();
        let mut continued = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => quoted = !quoted,
                '\\' => match chars.next() {
                    None => continued = true,
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('b') => out.push('\u{8}'),
                    Some(other) => out.push(other),
                },
                '#' | ';' if !quoted => break,
                c => out.push(c),
            }
            if quoted || c == '\\' {
                kept = out.len();
            }
        }
        if !continued {
            break;
        }
        match lines.next() {
            Some(next) => text = next,
            None => break,
        }
    }
    let trimmed = out.trim_end().len().max(kept).min(out.len());
    out.truncate(trimmed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks_paths(config: &str) -> Vec<String> {
        entries(config)
            .into_iter()
            .filter(|e| e.section == "core" && e.subsection.is_none() && e.key == "hookspath")
            .map(|e| e.value)
            .collect()
    }

    #[test]
    fn every_hooks_path_of_a_core_section_is_read_in_gits_syntax() {
        let config = "[core]\n\trepositoryformatversion = 0\n[user]\n\thooksPath = no\n\
                      [Core]\n\tHooksPath = \"scripts/git-hooks\" ; kept\n\
                      [core] hooksPath = one-line # comment\n\
                      [core]\nhooksPath = \"a b\"c\\\n  d\n\
                      [core \"x\"]\nhooksPath = y\n[core.x]\nhooksPath = z\n";
        assert_eq!(
            hooks_paths(config),
            ["scripts/git-hooks", "one-line", "a bc  d"],
            "{:?}",
            entries(config)
        );
        assert!(hooks_paths("[core]\n\tbare = false\n").is_empty());
        // Quoted spaces stay; escapes are read.
        assert_eq!(hooks_paths("[core]hooksPath=\" h \\\"q\\\" \"\n"), [" h \"q\" "]);
    }

    #[test]
    fn includes_are_read_as_git_reads_them() {
        let found = entries(
            "[include]\n\tpath = ../tools/gitconfig\n[includeIf \"gitdir:~/w/\"]\n\
             path = x.cfg\n[include] path=~/y\n",
        );
        let paths: Vec<_> =
            found.iter().map(|e| (e.section.as_str(), e.key.as_str(), e.value.as_str())).collect();
        assert_eq!(
            paths,
            [
                ("include", "path", "../tools/gitconfig"),
                ("includeif", "path", "x.cfg"),
                ("include", "path", "~/y")
            ]
        );
    }

    #[test]
    fn a_relative_hooks_path_is_the_work_trees() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        std::fs::create_dir_all(top.join(".git")).unwrap();
        std::fs::create_dir_all(top.join("src/deep")).unwrap();
        assert!(configured(&top.join("src/deep")).hooks.iter().all(|h| !h.starts_with(top)));
        std::fs::write(top.join(".git/config"), "[core]\n\thooksPath = .githooks\n").unwrap();
        assert!(configured(&top.join("src/deep")).hooks.contains(&top.join(".githooks")));
        // A linked work tree reads the shared configuration.
        let linked = top.join("wt");
        std::fs::create_dir_all(top.join(".git/worktrees/wt")).unwrap();
        std::fs::write(top.join(".git/worktrees/wt/commondir"), "../..\n").unwrap();
        std::fs::create_dir_all(&linked).unwrap();
        std::fs::write(linked.join(".git"), "gitdir: ../.git/worktrees/wt\n").unwrap();
        assert!(configured(&linked).hooks.contains(&linked.join(".githooks")));
    }

    #[test]
    fn included_files_are_followed_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        std::fs::create_dir_all(top.join(".git")).unwrap();
        std::fs::create_dir_all(top.join("tools")).unwrap();
        std::fs::write(
            top.join(".git/config"),
            "[include]\n\tpath = ../tools/gitconfig\n\tpath = ../missing\n",
        )
        .unwrap();
        std::fs::write(
            top.join("tools/gitconfig"),
            "[includeIf \"onbranch:main\"]\npath = more\n[core]\n",
        )
        .unwrap();
        std::fs::write(top.join("tools/more"), "[core] hooksPath = hooks\n").unwrap();
        let found = configured(top);
        assert_eq!(found.includes[..2], [top.join("tools/gitconfig"), top.join("tools/more")]);
        assert!(found.hooks.contains(&top.join("hooks")));
        // An include of itself ends.
        std::fs::write(top.join("tools/more"), "[include]\npath = more\n").unwrap();
        let includes = configured(top).includes;
        assert_eq!(includes.iter().filter(|p| p.starts_with(top)).count(), 2);
    }
}
