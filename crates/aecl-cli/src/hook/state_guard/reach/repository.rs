//! The repository a `git` command finds, and what of it git runs. Git runs the programs
//! its repository's configuration names (`core.fsmonitor` at a `status`, a diff driver's
//! `textconv` at a `log -p`, a filter at a checkout) and its hooks (`post-index-change`
//! when a `status` refreshes the index). The project's own repository is the user's: the
//! guard keeps its configuration and hooks out of the agent's reach. Any other is not
//! (red team round 28, hooks H3): a test fixture's bare repository in the work tree, a
//! repository the agent wrote file by file (`HEAD`, `objects/`, `refs/`, `config`), one
//! elsewhere on the disk; `git -C DIR`, a `cd DIR`, or the agent's own `cd` of an earlier
//! call takes git there.
//!
//! So a git command whose repository is not the project's is refused when that
//! repository's configuration sets anything beyond what `git init`, `git clone` and a
//! submodule write and the everyday settings that run nothing (an allow-list: git has
//! dozens of keys that name a program, and a new release adds more), or when it has a
//! hook. The project is `$CLAUDE_PROJECT_DIR` when Claude Code names it, else the call's
//! working directory. A directory only known at run time may hold any repository.
//!
//! Discovery is git's own (`setup_git_directory_gently`): from the directory up, a
//! `.git` (a directory, or a file naming one) or the directory itself being a git
//! directory (`HEAD`, `objects/` and `refs/`), whose `commondir` names the shared one.

use std::path::{Path, PathBuf};

use aecl_core::shell::{Analysis, OpaqueCommand};
use aecl_engine::fs_paths::normalise;

use super::super::hooks_path::{Entry, parse, read};
use super::{Line, Refusal};

/// Keys of a section without a subsection that run nothing: what `git init` and `git
/// clone` write, and settings of formats and defaults.
const PLAIN_KEYS: &[(&str, &[&str])] = &[
    (
        "core",
        &[
            "repositoryformatversion",
            "filemode",
            "bare",
            "logallrefupdates",
            "ignorecase",
            "precomposeunicode",
            "symlinks",
            "autocrlf",
            "eol",
            "safecrlf",
            // A submodule's: where its work tree is (the tree writers' check reads it).
            "worktree",
            "quotepath",
            "sharedrepository",
            "sparsecheckout",
            "sparsecheckoutcone",
            "untrackedcache",
            "splitindex",
            "commitgraph",
            "multipackindex",
            "abbrev",
            "compression",
            "loosecompression",
            "checkstat",
            "trustctime",
            "whitespace",
            "longpaths",
            "protecthfs",
            "protectntfs",
        ],
    ),
    ("user", &["name", "email"]),
    ("init", &["defaultbranch"]),
    ("gc", &["auto", "autodetach", "autopacklimit"]),
    ("pull", &["rebase", "ff"]),
    ("push", &["default", "autosetupremote", "followtags"]),
    ("fetch", &["prune", "prunetags", "writecommitgraph", "recursesubmodules"]),
    ("merge", &["ff", "conflictstyle", "log", "renames"]),
    ("diff", &["algorithm", "renames", "mnemonicprefix", "noprefix", "indentheuristic"]),
    ("rebase", &["autosquash", "autostash", "updaterefs"]),
    ("index", &["version", "threads"]),
    ("lfs", &["repositoryformatversion"]),
    ("rerere", &["enabled", "autoupdate"]),
    ("feature", &["manyfiles", "experimental"]),
    ("i18n", &["commitencoding", "logoutputencoding"]),
    ("maintenance", &["auto", "strategy"]),
];

/// Keys of a section with a subsection that run nothing: a submodule's (its `update =
/// !CMD` runs one), git-lfs's per-URL settings. Every key of a remote but those that name a
/// program (a remote helper, the programs run on a local remote's side) and every key of a
/// branch run nothing: tools write their own there (`gh-resolved`, `vscode-merge-base`:
/// red team round 29, second pass FP1).
const NAMED_KEYS: &[(&str, &[&str])] = &[
    ("submodule", &["url", "active", "branch", "shallow", "ignore", "fetchrecursesubmodules"]),
    ("lfs", &["access", "locksverify"]),
];

/// A remote's keys that name a program.
const REMOTE_PROGRAMS: [&str; 3] = ["uploadpack", "receivepack", "vcs"];

/// Sections whose every key only sets how git shows things or formats its data.
const PLAIN_SECTIONS: [&str; 4] = ["color", "advice", "extensions", "status"];

impl Line<'_> {
    /// Refuses a `git` command that may find a repository other than `project` (the
    /// project's own, its common git directory resolved) whose configuration or hooks
    /// may run a program.
    pub fn check_repository<'p>(
        &self,
        command: &OpaqueCommand,
        analysis: &Analysis,
        project: Option<&Path>,
    ) -> Result<(), Refusal<'p>> {
        // `rev-parse` and `version` read what git needs to find a repository and run
        // nothing its configuration names.
        let sub = command.words.iter().find(|w| !w.text.starts_with('-'));
        if sub.is_some_and(|w| matches!(w.text.as_str(), "rev-parse" | "version")) {
            return Ok(());
        }
        let unknown = || {
            Refusal::RunsCode(
                "runs `git` in a directory only known at run time, where git may find another \
                 repository whose configuration runs programs (name the directory)"
                    .to_owned(),
            )
        };
        let dirs = match self.git_dirs(command, false) {
            Ok(dirs) => dirs,
            // The line's only such directory is `cd "$(git rev-parse --show-toplevel)"`:
            // the work tree the agent is in (`Line::unknown_cd`).
            Err(_) if self.unknown_cd(analysis).is_none() => {
                let top = work_tree_top(self.cwd);
                let known: Vec<Option<String>> = command
                    .dirs
                    .iter()
                    .map(|d| d.clone().or_else(|| top.as_ref()?.to_str().map(str::to_owned)))
                    .collect();
                let command = OpaqueCommand { dirs: known, ..command.clone() };
                self.git_dirs(&command, false).map_err(|_| unknown())?
            }
            Err(_) => return Err(unknown()),
        };
        for dir in dirs {
            let Some(found) = discover(&dir) else { continue };
            if project.is_some_and(|project| project == found.common) {
                continue;
            }
            if let Some(why) = runs_programs(&found) {
                return Err(Refusal::RunsCode(format!(
                    "runs `git` in `{}`, whose repository `{}` is not the project's and {why}, \
                     which git runs",
                    normalise(&dir).display(),
                    found.common.display()
                )));
            }
        }
        Ok(())
    }
}

/// The project's repository: its common git directory, resolved.
pub fn project(cwd: &Path) -> Option<PathBuf> {
    let named = std::env::var_os("CLAUDE_PROJECT_DIR").map(PathBuf::from);
    let dir = named.filter(|d| d.is_absolute()).unwrap_or_else(|| cwd.to_owned());
    discover(&dir).map(|found| found.common)
}

/// The top of the work tree git finds from `dir`, if any (`git rev-parse --show-toplevel`).
pub(super) fn work_tree_top(dir: &Path) -> Option<PathBuf> {
    discover(dir)?.work_tree
}

/// A repository git finds.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    /// Its git directory (`.git`, a linked work tree's `.git/worktrees/NAME`).
    git_dir: PathBuf,
    /// The directory shared by its work trees, holding `config` and `hooks`, resolved.
    common: PathBuf,
    /// Its work tree's top, when it has one (not a bare repository).
    work_tree: Option<PathBuf>,
}

/// How deep submodules of submodules are followed, and how many directories of `modules/`
/// are looked at, at most: past either the repository is taken as running programs.
const MAX_DEPTH: usize = 8;
const MAX_MODULE_DIRS: usize = 4096;

/// The repository git finds from `dir`, as git looks for it.
fn discover(dir: &Path) -> Option<Found> {
    // A directory the line makes first (`mkdir d && cd d && git log`) is in its parent's
    // repository.
    let start = dir.ancestors().find_map(|d| std::fs::canonicalize(d).ok())?;
    for candidate in start.ancestors() {
        let dot_git = candidate.join(".git");
        if let Ok(meta) = std::fs::metadata(&dot_git) {
            let git_dir = if meta.is_dir() { dot_git } else { linked(candidate)? };
            return Some(found(git_dir, Some(candidate.to_owned())));
        }
        if is_git_directory(candidate) {
            return Some(found(candidate.to_owned(), None));
        }
    }
    None
}

/// The git directory a `.git` file in `top` names (`gitdir: PATH`, relative to `top`).
fn linked(top: &Path) -> Option<PathBuf> {
    let text = read(&top.join(".git"))?;
    Some(top.join(text.trim().strip_prefix("gitdir:")?.trim()))
}

fn found(git_dir: PathBuf, work_tree: Option<PathBuf>) -> Found {
    let common = read(&git_dir.join("commondir"))
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or_else(|| git_dir.clone());
    let common = std::fs::canonicalize(&common).unwrap_or(common);
    Found { git_dir, common, work_tree }
}

/// Whether git takes `dir` itself for a git directory (a bare repository, or a `.git`
/// the command runs inside).
fn is_git_directory(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}

/// What of `repository` runs a program, if anything: a configured key outside the
/// allow-list, a line of its configuration not read as git syntax, or a hook; or the same
/// of a submodule's repository, which git enters (`status` refreshes each submodule's
/// index, running its `core.fsmonitor` and hooks: red team round 29, second pass H2).
fn runs_programs(repository: &Found) -> Option<String> {
    let mut budget = MAX_MODULE_DIRS;
    runs_programs_within(repository, 0, &mut budget)
}

fn runs_programs_within(repository: &Found, depth: usize, budget: &mut usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return Some("its submodules nest deeper than aecl follows".to_owned());
    }
    let configs = [
        repository.common.join("config"),
        repository.common.join("config.worktree"),
        repository.git_dir.join("config.worktree"),
    ];
    for config in &configs {
        let Some(text) = read(config) else { continue };
        let (entries, unread) = parse(&text);
        if let Some(line) = unread {
            return Some(format!(
                "its configuration `{}` has a line aecl does not read as git would (`{}`)",
                config.display(),
                line.chars().take(80).collect::<String>()
            ));
        }
        if let Some(entry) = entries.iter().find(|entry| !runs_nothing(entry)) {
            let name = match &entry.subsection {
                Some(sub) => format!("{}.{sub}.{}", entry.section, entry.key),
                None => format!("{}.{}", entry.section, entry.key),
            };
            return Some(format!("its configuration `{}` sets `{name}`", config.display()));
        }
    }
    if let Ok(hooks) = std::fs::read_dir(repository.common.join("hooks"))
        && let Some(hook) = hooks
            .flatten()
            .map(|entry| entry.file_name())
            .find(|name| !name.to_string_lossy().ends_with(".sample"))
    {
        return Some(format!(
            "`{}` has the hook `hooks/{}`",
            repository.common.display(),
            hook.to_string_lossy()
        ));
    }
    let Some(modules) = submodules(repository, budget) else {
        return Some("it has more submodule directories than aecl looks at".to_owned());
    };
    for module in modules {
        if let Some(why) = runs_programs_within(&module, depth + 1, budget) {
            return Some(why);
        }
    }
    None
}

/// The repositories of `repository`'s submodules: each git directory beneath its
/// `modules/` (a submodule's, and a submodule's submodule's), and the one each `.git` file
/// of a path its `.gitmodules` names points to, wherever that is. `None` (as a reason)
/// past the budget of directories looked at.
fn submodules(repository: &Found, budget: &mut usize) -> Option<Vec<Found>> {
    let mut out = Vec::new();
    let mut pending = vec![repository.common.join("modules")];
    while let Some(dir) = pending.pop() {
        let Ok(children) = std::fs::read_dir(&dir) else { continue };
        for child in children.flatten() {
            *budget = budget.checked_sub(1)?;
            let path = child.path();
            if !child.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if path.join("config").is_file() || is_git_directory(&path) {
                out.push(found(path, None));
            } else {
                // A submodule named `a/b` keeps its repository in `modules/a/b`.
                pending.push(path);
            }
        }
    }
    let work_tree = repository.work_tree.as_ref();
    let declared = work_tree.and_then(|top| read(&top.join(".gitmodules")));
    for entry in declared.map(|text| parse(&text).0).unwrap_or_default() {
        if entry.section != "submodule" || entry.key != "path" {
            continue;
        }
        let Some(top) = work_tree.map(|t| t.join(&entry.value)) else { continue };
        if let Some(git_dir) = linked(&top)
            && !out.iter().any(|m| m.git_dir == git_dir)
        {
            *budget = budget.checked_sub(1)?;
            out.push(found(git_dir, Some(top)));
        }
    }
    Some(out)
}

/// Whether a configuration entry is one that names no program.
fn runs_nothing(entry: &Entry) -> bool {
    let section = entry.section.as_str();
    let key = entry.key.as_str();
    if PLAIN_SECTIONS.contains(&section) {
        return true;
    }
    let listed = |table: &[(&str, &[&str])]| {
        table.iter().any(|(name, keys)| *name == section && keys.contains(&key))
    };
    match &entry.subsection {
        None => listed(PLAIN_KEYS),
        Some(_) if section == "remote" => !REMOTE_PROGRAMS.contains(&key),
        Some(_) if section == "branch" => true,
        Some(_) if section == "submodule" && key == "update" => {
            matches!(entry.value.as_str(), "checkout" | "rebase" | "merge" | "none")
        }
        Some(_) => listed(NAMED_KEYS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(section: &str, subsection: Option<&str>, key: &str, value: &str) -> Entry {
        Entry {
            section: section.to_owned(),
            subsection: subsection.map(str::to_owned),
            key: key.to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn what_init_and_clone_write_runs_nothing_and_program_keys_do() {
        let config = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\
                      \tlogallrefupdates = true\n[remote \"origin\"]\n\turl = https://x/y.git\n\
                      \tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"main\"]\n\
                      \tremote = origin\n\tmerge = refs/heads/main\n";
        assert!(parse(config).0.iter().all(runs_nothing));
        for (section, sub, key) in [
            ("core", None, "fsmonitor"),
            ("core", None, "pager"),
            ("core", None, "hookspath"),
            ("core", None, "sshcommand"),
            ("diff", Some("x"), "textconv"),
            ("diff", None, "external"),
            ("filter", Some("lfs"), "smudge"),
            ("remote", Some("origin"), "uploadpack"),
            ("include", None, "path"),
            ("pager", None, "log"),
            ("hook", Some("a"), "command"),
            ("alias", None, "st"),
        ] {
            assert!(!runs_nothing(&entry(section, sub, key, "x")), "{section}.{key}");
        }
        assert!(runs_nothing(&entry("submodule", Some("lib"), "update", "rebase")));
        assert!(!runs_nothing(&entry("submodule", Some("lib"), "update", "!sh x")));
    }

    #[test]
    fn discovery_finds_a_work_tree_a_bare_repository_and_a_linked_work_tree() {
        let root = tempfile::tempdir().unwrap();
        let top = root.path().join("proj");
        std::fs::create_dir_all(top.join(".git/objects")).unwrap();
        std::fs::create_dir_all(top.join(".git/refs")).unwrap();
        std::fs::write(top.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::create_dir_all(top.join("src/deep")).unwrap();
        let common = std::fs::canonicalize(top.join(".git")).unwrap();
        assert_eq!(discover(&top.join("src/deep")).unwrap().common, common);
        // Inside `.git`: that git directory itself.
        assert_eq!(discover(&top.join(".git/objects")).unwrap().common, common);
        // A bare repository inside the work tree is a repository of its own.
        let bare = top.join("fixtures/repo.git");
        std::fs::create_dir_all(bare.join("objects")).unwrap();
        std::fs::create_dir_all(bare.join("refs")).unwrap();
        std::fs::write(bare.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        let bare = std::fs::canonicalize(bare).unwrap();
        assert_eq!(discover(&bare.join("refs")).unwrap().common, bare);
        // A linked work tree: its `.git` file names a directory whose `commondir` is the
        // project's.
        let linked = root.path().join("linked");
        std::fs::create_dir_all(top.join(".git/worktrees/linked")).unwrap();
        std::fs::write(top.join(".git/worktrees/linked/commondir"), "../..\n").unwrap();
        std::fs::create_dir_all(&linked).unwrap();
        let gitdir = top.join(".git/worktrees/linked");
        std::fs::write(linked.join(".git"), format!("gitdir: {}\n", gitdir.display())).unwrap();
        assert_eq!(discover(&linked).unwrap().common, common);
    }

    #[test]
    fn a_hook_or_a_program_key_runs_and_samples_do_not() {
        let root = tempfile::tempdir().unwrap();
        let git_dir = root.path().join("r.git");
        std::fs::create_dir_all(git_dir.join("hooks")).unwrap();
        std::fs::write(git_dir.join("config"), "[core]\n\tbare = true\n").unwrap();
        std::fs::write(git_dir.join("hooks/pre-commit.sample"), "#!/bin/sh\n").unwrap();
        let repository = found(git_dir.clone(), None);
        assert_eq!(runs_programs(&repository), None);
        std::fs::write(git_dir.join("hooks/post-index-change"), "#!/bin/sh\n").unwrap();
        let why = runs_programs(&repository).unwrap();
        assert!(why.contains("hooks/post-index-change"), "{why}");
        std::fs::write(git_dir.join("config"), "[core]\n\tbare = true\n\tFSMonitor = x\n").unwrap();
        let why = runs_programs(&repository).unwrap();
        assert!(why.contains("`core.fsmonitor`"), "{why}");
    }
}
