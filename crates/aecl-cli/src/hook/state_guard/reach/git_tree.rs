//! Git's tree writers over the agents' hook settings: `git clean` removes what git does
//! not track, `git stash`, `git checkout -- .`, `git restore`, `git reset --hard` restore
//! what it does over the changes made since, and `git checkout BRANCH`, `git merge`,
//! `git rebase`, `git revert`, `git cherry-pick`, `git stash pop` bring another commit's
//! version. Such a command is refused when a settings file (or aecl's own program) beneath
//! its work tree is in a state it would lose (`git_state`), or when a revision it names
//! holds another version of the file than HEAD.
//!
//! What git does is only read here when it is certain: a command whose repository, index
//! or configuration the line or the environment may move (`--git-dir`, `-c`, `GIT_*`), a
//! line with another git command that may change the index or HEAD first, or a settings
//! file inside a nested repository, is refused as only known at run time. Git's long
//! options are matched by any prefix (`--har` is `--hard`), as git reads them. An alias,
//! `bisect`, `sparse-checkout` and an orphan branch may put any version anywhere: refused
//! over settings beneath the work tree, and so is a `git pull` from a repository the line
//! names (a URL or a path) or after another git command of the line. Left: `git pull` from
//! a remote the user configured, and `git am`, bring versions only known when they run.

use std::path::{Path, PathBuf};

use aecl_core::shell::{OpaqueCommand, ShellArg, harmless_git_setting};
use aecl_engine::fs_paths::{normalise, resolve_physical};

use super::super::expand::env;
use super::super::git_state::{self, FileState};
use super::super::protected::Protected;
use super::git_line::{self, Other};
use super::{Line, Refusal};

/// `GIT_*` variables that change how git talks or what it shows, never which repository,
/// index, objects or configuration it reads (a value that runs a program, `GIT_EDITOR=vi`,
/// is the shell rules' to judge).
const UNMOVING_VARIABLES: [&str; 17] = [
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_PAGER",
    "GIT_TERMINAL_PROMPT",
    "GIT_LFS_SKIP_SMUDGE",
    "GIT_MERGE_AUTOEDIT",
    "GIT_OPTIONAL_LOCKS",
    "GIT_ADVICE",
    "GIT_PROGRESS_DELAY",
    "GIT_FLUSH",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "GIT_SSH_COMMAND",
];

/// Git commands that change neither the index nor HEAD: others on the same line may
/// change what the state check reads before the tree writer runs.
/// (`fetch`, `branch` and `tag` are not: they make the refs a later command names.)
const READERS: [&str; 12] = [
    "status",
    "log",
    "diff",
    "show",
    "grep",
    "blame",
    "ls-files",
    "ls-tree",
    "rev-parse",
    "describe",
    "shortlog",
    "help",
];

impl Line<'_> {
    /// For a git tree writer run in `root` (its work tree): refuses it when a protected file
    /// beneath the work tree is in a state the subcommand would lose, or a revision it
    /// names holds another version of it.
    pub(super) fn check_git_tree<'p>(
        &self,
        command: &OpaqueCommand,
        root: &Path,
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        let dirs = self.absolute(".", &command.dirs).unwrap_or_default();
        let exists = |text: &str| dirs.iter().any(|dir| dir.join(text).exists());
        let words = &command.words;
        let loses = GitLoses::of(words, &exists);
        let mut revisions = revisions(words);
        // A pull after another git command of the line (`git remote add x URL && git
        // pull x`) may bring what that command pointed it at.
        let sub = git_subcommand(words);
        let is_pull = sub.and_then(|i| words.get(i)).is_some_and(|w| w.text == "pull");
        // Asked of git (a remote's URL, a branch) only where an answer is needed: a pull, or
        // a writer over protected files.
        let others = std::cell::OnceCell::new();
        let others = || others.get_or_init(|| self.other_git(words, root));
        let mut any = reaches_any(words);
        if is_pull && any.is_none() {
            any = self.pull_source(words, root, &mut revisions);
        }
        let any = any.or_else(|| {
            (is_pull && others().iter().any(|o| matches!(o, Other::Moves | Other::Switch(false))))
                .then(|| "`git pull` after another git command of the line".to_owned())
        });
        if loses.is_none() && revisions.is_empty() && any.is_none() {
            return Ok(());
        }
        // Settings git holds (in the index, HEAD or a revision named) that the work tree
        // does not have: the writer creates them (red team round 23, second pass, N1:
        // `git update-index --cacheinfo` put `.claude/settings.local.json` in the index,
        // a commit kept it, and `git stash` wrote it).
        // `git clean -fdx build`, `git checkout old -- src`: only what the pathspecs name.
        let scope: Option<Vec<PathBuf>> = pathspecs(words).map(|specs| {
            specs
                .iter()
                .flat_map(|spec| dirs.iter().map(move |dir| dir.join(spec)))
                .flat_map(|path| {
                    let physical = resolve_physical(self.cwd, &path.display().to_string()).ok();
                    [Some(normalise(&path)), physical.map(PathBuf::from)]
                })
                .flatten()
                .collect()
        });
        let in_scope = |file: &Path| {
            scope.as_ref().is_none_or(|scope| scope.iter().any(|p| file.starts_with(p)))
        };
        // `git clean` removes what git does not track; it writes no tracked file.
        let cleans =
            git_subcommand(words).and_then(|i| words.get(i)).is_some_and(|w| w.text == "clean");
        let restores = loses.is_some() && !cleans;
        if let Some(refusal) =
            self.brings_settings(root, &revisions, restores, protected, &in_scope)
        {
            return Err(refusal);
        }
        let all = |_: &Path| true;
        let mut files = protected.settings_beneath(root, &all);
        files.retain(|(_, file)| in_scope(file));
        let Some((first, _)) = files.first() else { return Ok(()) };
        let records_kept = || self.records_keep_protected(root, protected);
        if let Some(why) = self.moved_git(words, &revisions, others(), &records_kept) {
            return Err(Refusal::Touches {
                how: format!("runs `git` {why}, reaching"),
                what: "git".to_owned(),
                place: first,
            });
        }
        if let Some(why) = any {
            return Err(Refusal::Touches {
                how: format!("runs {why}, reaching"),
                what: "git".to_owned(),
                place: first,
            });
        }
        for (place, file) in &files {
            let unknown = |e: String| {
                Refusal::Unknown(format!(
                    "runs `git`, which may remove or restore `{}`, and what git holds of it cannot \
                 be told ({e})",
                    file.display()
                ))
            };
            let state = git_state::of(root, file).map_err(unknown)?;
            if let Some(loses) = &loses
                && loses.covers(state)
            {
                return Err(Refusal::Touches {
                    how: format!(
                        "runs `git`, which {} `{}` ({}), reaching",
                        loses.how,
                        file.display(),
                        state.describe()
                    ),
                    what: "git".to_owned(),
                    place,
                });
            }
            for (revision, parent) in &revisions {
                if git_state::differs(root, file, revision, *parent).map_err(unknown)? {
                    return Err(Refusal::Touches {
                        how: format!(
                            "runs `git`, which brings `{}` as `{revision}` holds it, reaching",
                            file.display()
                        ),
                        what: "git".to_owned(),
                        place,
                    });
                }
            }
        }
        Ok(())
    }

    /// A refusal when git holds an agent's hook settings (by name, anywhere in the tree)
    /// that the work tree `root` lacks, or configuration that runs code (or a file of the
    /// repository's hooks directory) otherwise than the work tree has it: a tree writer
    /// would write them.
    fn brings_settings<'p>(
        &self,
        root: &Path,
        revisions: &[(String, bool)],
        restores: bool,
        protected: &'p Protected,
        in_scope: &dyn Fn(&Path) -> bool,
    ) -> Option<Refusal<'p>> {
        let named: Vec<&str> = revisions.iter().map(|(r, _)| r.as_str()).collect();
        let held = match git_state::held_paths(root, &named) {
            Ok(held) => held,
            Err(e) => {
                return Some(Refusal::Unknown(format!(
                    "runs `git`, which may bring files into the work tree, and what git holds \
                     cannot be told ({e})"
                )));
            }
        };
        let settings = held.iter().find(|path| {
            protected.is_settings_name(Path::new(path))
                && std::fs::symlink_metadata(root.join(path)).is_err()
                && in_scope(&root.join(path))
        });
        if let Some(settings) = settings {
            let place = protected.settings_names()?;
            return Some(Refusal::Touches {
                how: format!(
                    "runs `git`, which may bring `{settings}` (git holds it, the work tree does \
                     not) into the work tree, reaching"
                ),
                what: "git".to_owned(),
                place,
            });
        }
        // Configuration that runs code, and files of the repository's hooks directory,
        // that the index, HEAD or a revision named holds otherwise than the work tree: the
        // writer puts them there with no word naming them (red team round 24, hooks E1,
        // E2: `git hash-object -w`, `git update-index --cacheinfo …,.mcp.json`, then `git
        // checkout -- .`; a branch holding `.githooks/post-checkout`, run by the checkout
        // itself).
        let mut seen = std::collections::BTreeSet::new();
        for path in held.iter().filter(|path| seen.insert(path.as_str())) {
            let file = root.join(path);
            if !in_scope(&file) {
                continue;
            }
            let Some(place) = protected.code_config(&file, path) else { continue };
            // What a restoring writer puts back over the work tree (the index's or HEAD's
            // version), and what each revision taken changes against HEAD (or its parent):
            // a branch that leaves the file as HEAD has it writes nothing there, and a local
            // edit of it is carried over (second pass, HF1).
            let brought = (|| -> Result<bool, String> {
                if restores && git_state::restores_otherwise(root, path)? {
                    return Ok(true);
                }
                for (revision, parent) in revisions {
                    if git_state::brings(root, path, revision, *parent)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            })();
            let brought = match brought {
                Ok(brought) => brought,
                Err(e) => {
                    return Some(Refusal::Unknown(format!(
                        "runs `git`, which may bring `{path}` into the work tree, and what git \
                         holds of it cannot be told ({e})"
                    )));
                }
            };
            if brought {
                return Some(Refusal::Touches {
                    how: format!(
                        "runs `git`, which may write `{path}` as git holds it (otherwise than the \
                         work tree has it), reaching"
                    ),
                    what: "git".to_owned(),
                    place,
                });
            }
        }
        None
    }

    /// Where a `git pull` (`words`) pulls from, as far as the check needs it (red team
    /// rounds 29 and 30): from this repository (a remote whose URL is `.`), the branches it
    /// names, or the current branch's upstream branch, are pushed onto `revisions` and
    /// checked as a merge's; from the network, what comes is left to run time; anything
    /// else (a path, a `file://` URL, a name no remote has, an option that may say where
    /// from, a remote or configuration the line's environment moves) is why it may bring
    /// any version.
    fn pull_source(
        &self,
        words: &[ShellArg],
        root: &Path,
        revisions: &mut Vec<(String, bool)>,
    ) -> Option<String> {
        if let Some(why) = self.moved_reading(words) {
            return Some(format!("`git pull` {why}"));
        }
        let rest = git_subcommand(words).and_then(|i| words.get(i + 1..)).unwrap_or_default();
        let from = match git_line::remote_words(rest) {
            Ok(from) if !from.all => from,
            Ok(_) => return Some("`git pull --all`, from every remote".to_owned()),
            Err(word) => {
                return Some(format!(
                    "`git pull` with `{word}`, which may say where it pulls from"
                ));
            }
        };
        match git_state::remote_url(root, from.remote.as_deref()) {
            Ok(url) if url == "." => {
                if from.branches.is_empty() {
                    match git_state::upstream_merge(root) {
                        Ok(merge) => revisions.extend(merge.map(|m| (m, false))),
                        Err(e) => {
                            return Some(format!(
                                "`git pull`, whose upstream cannot be told ({e})"
                            ));
                        }
                    }
                }
                revisions.extend(from.branches.into_iter().map(|b| (b, false)));
                None
            }
            Ok(url) if git_line::is_network_url(&url) => None,
            Ok(url) => Some(format!("`git pull` from `{url}`, a repository on this machine")),
            Err(e) => Some(format!("`git pull` from a remote that cannot be told ({e})")),
        }
    }

    /// What the line's other git commands that may change the index or HEAD may do to
    /// what `words`' check reads (`git_line`).
    fn other_git(&self, words: &[ShellArg], root: &Path) -> Vec<Other> {
        // Its own place, the last of an equal command's (the most run before it): on a
        // line run in order only the commands before it, otherwise all but itself.
        let own = self.git_writers.iter().rposition(|(_, other)| other == words);
        let before = own.and_then(|own| self.git_writers.get(own)).map(|(at, _)| *at);
        let others: Vec<&Vec<ShellArg>> = match before {
            Some(at) if self.in_order => {
                self.git_writers.iter().filter(|(i, _)| *i < at).map(|(_, w)| w).collect()
            }
            _ => self
                .git_writers
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != own)
                .map(|(_, (_, w))| w)
                .collect(),
        };
        let repository = Repository { root };
        others.iter().map(|other| git_line::other(other, &repository)).collect()
    }

    /// Why what git reads may not be what the state check reads: the repository, index or
    /// configuration moved by an option or a variable, or another git command of the line
    /// that may change the index or HEAD first (but those `git_line` answers for).
    fn moved_git(
        &self,
        words: &[ShellArg],
        revisions: &[(String, bool)],
        others: &[Other],
        records_kept: &dyn Fn() -> bool,
    ) -> Option<String> {
        if let Some(why) = self.moved_reading(words) {
            return Some(why);
        }
        // `cp x .git/refs/heads/main && git reset --hard`: git's own files written first;
        // and a line that names git's directory otherwise (`cd .git && cp …`, `ln -s
        // .git/refs/heads hd && cp … hd/x`: red team round 30, git F5).
        if self.writes_git {
            return Some("on a line that writes git's own files first".to_owned());
        }
        let records = others.contains(&Other::Records);
        let answered =
            others.iter().all(|o| {
                matches!(
                    o,
                    Other::Fetch | Other::Pull | Other::Stash | Other::Switch(_) | Other::Records
                )
            }) && !revisions.iter().any(|(revision, _)| git_line::moved_by(revision, others))
                && (!records || records_kept());
        (!answered).then(|| {
            "after another git command of the line that may change what git holds (run it as a \
             call of its own)"
                .to_owned()
        })
    }

    /// Whether the line's adds, commits and tags cannot change what HEAD and the index hold
    /// of a protected file (`git_line`): every agent setting in the work tree `root` is
    /// committed as it is, or ignored (an add without `--force` leaves it out), and every
    /// configuration that runs code git holds is as the work tree has it. Asked of git
    /// only for a line that has them.
    fn records_keep_protected(&self, root: &Path, protected: &Protected) -> bool {
        let all = |_: &Path| true;
        let settings_kept = protected.settings_beneath(root, &all).iter().all(|(_, file)| {
            matches!(git_state::of(root, file), Ok(FileState::Committed | FileState::Ignored))
        });
        settings_kept
            && git_state::held_paths(root, &[]).is_ok_and(|held| {
                held.iter().all(|path| {
                    protected.code_config(&root.join(path), path).is_none()
                        || git_state::restores_otherwise(root, path).is_ok_and(|differs| !differs)
                })
            })
    }

    /// Why the repository, index or configuration git reads may not be the one the check
    /// reads: an option of `words` or a variable the line or the environment sets
    /// (`HOME` and `XDG_CONFIG_HOME` name the user's configuration: round 30, git low).
    fn moved_reading(&self, words: &[ShellArg]) -> Option<String> {
        let sub = git_subcommand(words).unwrap_or(words.len());
        let before = words.get(..sub).unwrap_or_default();
        // `-c KEY=VALUE` of a setting that runs nothing and reads the repository as it is
        // (`-c advice.detachedHead=false`, `-c core.editor=true`: red team round 29, FP1).
        let harmless = |at: usize| {
            let word = before.get(at);
            let setting = match word.map(|w| w.text.as_str()) {
                Some("-c") => before.get(at + 1),
                _ => None,
            };
            setting.is_some_and(|s| s.is_known() && harmless_git_setting(&s.text))
        };
        let mut skip = false;
        for (at, word) in before.iter().enumerate() {
            if std::mem::take(&mut skip) {
                continue;
            }
            if word.is_known() && word.text == "-c" && harmless(at) {
                skip = true;
                continue;
            }
            let moves = !word.is_known()
                || ["-c", "--git-dir", "--config-env", "--namespace"]
                    .iter()
                    .any(|o| word.text == *o || word.text.starts_with(&format!("{o}=")));
            if moves {
                return Some(format!("with `{}`, which moves what git reads", word.raw));
            }
        }
        let variable = self
            .text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| {
                (word.starts_with("GIT_") && !UNMOVING_VARIABLES.contains(word))
                    || matches!(*word, "HOME" | "XDG_CONFIG_HOME")
            })
            .find(|name| self.setters().may_set(name))
            .map(str::to_owned)
            .or_else(|| {
                [
                    "GIT_INDEX_FILE",
                    "GIT_OBJECT_DIRECTORY",
                    "GIT_CONFIG_PARAMETERS",
                    "GIT_CONFIG_COUNT",
                ]
                .iter()
                .find(|name| env(name).is_some_and(|v| !v.is_empty()))
                .map(|name| (*name).to_owned())
            });
        variable.map(|name| format!("with `{name}` set, which moves what git reads"))
    }
}

/// The repository a tree writer runs in, as `git_line` asks about it (git is asked; an
/// error answers no).
struct Repository<'a> {
    root: &'a Path,
}

impl git_line::Repository for Repository<'_> {
    fn network_remote(&self, remote: Option<&str>) -> bool {
        git_state::remote_url(self.root, remote).is_ok_and(|url| git_line::is_network_url(&url))
    }

    fn network_remotes(&self) -> bool {
        git_state::remotes(self.root)
            .is_ok_and(|remotes| remotes.iter().all(|remote| self.network_remote(Some(remote))))
    }

    fn branch_exists(&self, name: &str) -> bool {
        git_state::resolves(self.root, &format!("refs/heads/{name}"))
    }

    fn branch_pulls_from_network(&self, name: &str) -> bool {
        match git_state::config_value(self.root, &format!("branch.{name}.remote")) {
            // No upstream: a pull there fails.
            Ok(None) => true,
            Ok(Some(remote)) => self.network_remote(Some(&remote)),
            Err(_) => false,
        }
    }
}

/// Whether a git command's words may change the index or HEAD: its subcommand is not one
/// of [`READERS`].
pub(super) fn changes_git(words: &[ShellArg]) -> bool {
    let Some(sub) = git_subcommand(words) else { return !words.is_empty() };
    words.get(sub).is_none_or(|w| !w.is_known() || !READERS.contains(&w.text.as_str()))
}

/// Git commands that write the index, refs or objects but nothing in the work tree: no
/// link appears there by them.
const BESIDE_THE_WORK_TREE: [&str; 10] =
    ["add", "commit", "tag", "branch", "fetch", "push", "notes", "remote", "gc", "reflog"];

/// Whether a git command's words may make a link in the work tree (a checkout of a
/// symbolic link): one that changes what git holds, but those of
/// [`BESIDE_THE_WORK_TREE`] (red team round 23: `chmod +x new.sh && git add new.sh` was
/// refused as if `git add` could make `new.sh` a link).
pub(super) fn makes_links(words: &[ShellArg]) -> bool {
    let beside = git_subcommand(words)
        .and_then(|sub| words.get(sub))
        .is_some_and(|w| w.is_known() && BESIDE_THE_WORK_TREE.contains(&w.text.as_str()));
    changes_git(words) && !beside
}

/// The index of git's subcommand in `words`, past its global options.
pub(super) fn git_subcommand(words: &[ShellArg]) -> Option<usize> {
    let mut i = 0;
    while let Some(word) = words.get(i) {
        if !word.is_known() {
            return None;
        }
        let text = word.text.as_str();
        if !text.starts_with('-') {
            return Some(i);
        }
        let takes_value = matches!(
            text,
            "-C" | "-c"
                | "--git-dir"
                | "--work-tree"
                | "--namespace"
                | "--config-env"
                | "--exec-path"
                | "--super-prefix"
                | "--attr-source"
        );
        i += if takes_value { 2 } else { 1 };
    }
    None
}

/// Whether `given` is the long option `full`, or a prefix of it as git takes one (at least
/// `--` and two letters), its `=VALUE` aside.
fn long(given: &str, full: &str) -> bool {
    given.starts_with("--") && super::trees::prefix_of(given, full, 4)
}

/// The words after the subcommand, and a test for an option by its long names (any git
/// prefix) or its short letter (alone or in a cluster).
fn has(rest: &[ShellArg], longs: &[&str], short: Option<char>) -> bool {
    rest.iter().take_while(|w| !(w.is_known() && w.text == "--")).any(|w| {
        w.is_known()
            && (longs.iter().any(|l| long(&w.text, l))
                || short.is_some_and(|short| {
                    w.text.starts_with('-') && !w.text.starts_with("--") && w.text.contains(short)
                }))
    })
}

/// The positional words of `rest` before a `--`.
fn positionals(rest: &[ShellArg]) -> Vec<&ShellArg> {
    rest.iter()
        .take_while(|w| !(w.is_known() && w.text == "--"))
        .filter(|w| !w.is_known() || !w.text.starts_with('-') || w.text == "-")
        .collect()
}

/// The words `git WORDS` may take a revision from, each with whether its change is taken
/// against its parent (`revert`, `cherry-pick`, `stash pop`), for the subcommands that
/// write the work tree from other commits: every positional word and every `--opt=VALUE`'s
/// value (a path too: git may read a word as either, and one that names no revision is
/// dropped by the check itself); stash's `N` is `stash@{N}`. `git pull` is read only
/// from `.` (this repository); from a remote, what it brings is only known when it runs.
fn revisions(words: &[ShellArg]) -> Vec<(String, bool)> {
    let Some(sub) = git_subcommand(words) else { return Vec::new() };
    let rest = words.get(sub + 1..).unwrap_or_default();
    let mut named: Vec<String> = Vec::new();
    for word in rest.iter().filter(|w| w.is_known() && w.text != "--") {
        match word.text.split_once('=') {
            Some((option, value)) if option.starts_with("--") => named.push(value.to_owned()),
            _ if word.text == "-" => named.push("@{-1}".to_owned()),
            _ if !word.text.starts_with('-') => named.push(word.text.clone()),
            _ => {}
        }
    }
    let plain = |named: Vec<String>| named.into_iter().map(|r| (r, false)).collect();
    match words.get(sub).map(|w| w.text.as_str()) {
        Some("checkout" | "switch" | "reset" | "restore" | "merge" | "rebase" | "read-tree") => {
            let mut out: Vec<(String, bool)> = plain(named);
            let control = |flags: &[&str]| rest.iter().any(|w| flags.contains(&w.text.as_str()));
            if words.get(sub).is_some_and(|w| w.text == "rebase") {
                // A rebase under way (red team round 25, hooks FP3: these were read as a new
                // rebase over the upstream): `--abort` goes back to the branch as it was,
                // `--continue` and `--skip` replay the commits left, from the one it
                // stopped at; the others write nothing. A ref that does not exist (no rebase
                // under way) names nothing, and git refuses the command.
                if control(&["--abort"]) {
                    return vec![("ORIG_HEAD".to_owned(), false)];
                }
                if control(&["--continue", "--skip"]) {
                    let left = ["REBASE_HEAD", "REBASE_HEAD..ORIG_HEAD"];
                    return left.into_iter().map(|r| (r.to_owned(), false)).collect();
                }
                if control(&["--quit", "--edit-todo", "--show-current-patch"]) {
                    return Vec::new();
                }
                // Rebasing replays the branch's commits one by one over the upstream: each
                // one's change is written on the way (second pass, H1: an intermediate
                // commit's `.githooks/post-commit` ran during `git rebase master tr`).
                let positional: Vec<String> = out.iter().map(|(r, _)| r.clone()).collect();
                let upstream = positional.first().cloned().unwrap_or_else(|| "@{upstream}".into());
                let branch = positional.get(1).cloned().unwrap_or_else(|| "HEAD".into());
                out.push((format!("{upstream}..{branch}"), false));
                out.push(("@{upstream}".to_owned(), false));
            }
            out
        }
        Some("revert" | "cherry-pick") => named.into_iter().map(|r| (r, true)).collect(),
        Some("stash") => match named.split_first() {
            Some((first, rest)) if matches!(first.as_str(), "pop" | "apply" | "branch") => {
                // `stash branch NAME [STASH]`.
                let given = if first == "branch" { rest.get(1) } else { rest.first() };
                let stash = match given {
                    Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => format!("stash@{{{n}}}"),
                    Some(given) => given.clone(),
                    None => "stash@{0}".to_owned(),
                };
                // Its third parent holds the untracked files it saved, which it writes too
                // (second pass, H1: a stash built with plumbing brought `.envrc` so).
                vec![(format!("{stash}^3"), false), (stash, true)]
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The pathspecs that bound what `git WORDS` touches, when they are plain paths: `git
/// clean`'s positional words, and the words after `--` of `checkout`, `restore`, `reset`
/// and `stash`. `None` when there are none, or one is git's glob or magic (`'*.json'`,
/// `:/`), which may name anything.
fn pathspecs(words: &[ShellArg]) -> Option<Vec<String>> {
    let sub = git_subcommand(words)?;
    let rest = words.get(sub + 1..).unwrap_or_default();
    let specs: Vec<&ShellArg> = match words.get(sub)?.text.as_str() {
        // Its positional words before `--` but `-e`'s values, and every word after it.
        "clean" => {
            let mut specs = Vec::new();
            let mut after = false;
            let mut value = false;
            for word in rest {
                let text = word.text.as_str();
                if after {
                    specs.push(word);
                } else if word.is_known() && text == "--" {
                    after = true;
                } else if value {
                    value = false;
                } else if word.is_known() && text.starts_with('-') {
                    value = text == "--exclude" || (!text.starts_with("--") && text.ends_with('e'));
                } else {
                    specs.push(word);
                }
            }
            specs
        }
        // `git restore` takes no revision as a word: each positional is a path (second
        // pass, HF2: `git restore src/main.rs`).
        "restore" if !rest.iter().any(|w| w.is_known() && w.text == "--") => {
            rest.iter().filter(|w| !w.is_known() || !w.text.starts_with('-')).collect()
        }
        "checkout" | "restore" | "reset" | "stash" => {
            let dashes = rest.iter().position(|w| w.is_known() && w.text == "--")?;
            rest.get(dashes + 1..).unwrap_or_default().iter().collect()
        }
        _ => return None,
    };
    let plain = |w: &&ShellArg| {
        w.is_known() && !w.text.starts_with(':') && !w.text.contains(['*', '?', '[', '\\'])
    };
    (!specs.is_empty() && specs.iter().all(plain))
        .then(|| specs.iter().map(|w| w.text.clone()).collect())
}

/// Why `git WORDS` may put any version of any tracked file in the work tree, whatever it
/// names: an alias or a `git-NAME` program, `bisect`, `sparse-checkout`, an orphan branch,
/// the `--abort` of a cherry-pick, a revert or `am`,
/// a `pull` from a remote (what it brings is only known when it runs: left allowed, see
/// the module's header).
fn reaches_any(words: &[ShellArg]) -> Option<String> {
    let sub = words.get(git_subcommand(words)?)?;
    let rest = words.get(git_subcommand(words)? + 1..).unwrap_or_default();
    let first = positionals(rest).first().map(|w| w.text.clone());
    let text = sub.text.as_str();
    if !sub.is_known() || !aecl_core::shell::is_git_subcommand(text) {
        return Some(format!(
            "`git {}`, an alias or a `git-{}` program, which may do anything to the work tree",
            sub.raw, sub.raw
        ));
    }
    // Revisions or paths read from standard input or a file: only known when it runs.
    if let Some(word) = rest.iter().find(|w| {
        w.is_known() && (w.text == "--stdin" || w.text.starts_with("--pathspec-from-file"))
    }) {
        return Some(format!("`git {text}`, which reads `{}` only when it runs", word.raw));
    }
    let any = match text {
        // `bisect start` with no revisions checks nothing out yet.
        "bisect" => match first.as_deref() {
            None | Some("log" | "visualize" | "view" | "terms" | "help") => false,
            Some("start") => positionals(rest).len() > 1,
            Some(_) => true,
        },
        "sparse-checkout" => first.as_deref() != Some("list"),
        "checkout" | "switch" => has(rest, &["--orphan"], None),
        // Back to where a sequence of picks (or a mailbox's patches) started, which no ref
        // names (round 28, hooks H1).
        "cherry-pick" | "revert" | "am" => has(rest, &["--abort"], None),
        // From a repository the line names (a URL, a path, `host:path`) rather than a
        // remote the user configured: whatever that repository holds.
        "pull" => first.as_deref().is_some_and(|r| {
            r != "." && !r.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        }),
        _ => false,
    };
    any.then(|| format!("`git {text}`, which may remove or replace any tracked file"))
}

/// What a git tree writer loses of a file beneath its work tree.
struct GitLoses {
    untracked: bool,
    ignored: bool,
    changed: bool,
    how: &'static str,
}

impl GitLoses {
    /// What `git WORDS` loses, for the subcommands that remove what git does not hold
    /// (`clean`, `stash -u`) or restore what it holds (`stash`, `checkout -- .`,
    /// `restore`, `reset --hard`); `None` for the others.
    fn of(words: &[ShellArg], exists: &dyn Fn(&str) -> bool) -> Option<GitLoses> {
        let sub = git_subcommand(words)?;
        let rest = words.get(sub + 1..).unwrap_or_default();
        let has = |longs: &[&str], short: Option<char>| has(rest, longs, short);
        let restores = GitLoses {
            untracked: false,
            ignored: false,
            changed: true,
            how: "restores from git, losing the changes to",
        };
        let patch = has(&["--patch"], Some('p'));
        let loses = match words.get(sub)?.text.as_str() {
            "clean" if has(&["--dry-run"], Some('n')) => return None,
            "clean" => GitLoses {
                untracked: true,
                // `-e '!x'` takes an ignored file out of the ignore rules.
                ignored: has(&["--exclude"], Some('x'))
                    || has(&[], Some('X'))
                    || has(&[], Some('e')),
                changed: false,
                how: "removes",
            },
            "stash" => {
                let first = positionals(rest).first().map(|w| w.text.clone());
                if !matches!(first.as_deref(), None | Some("push" | "save")) {
                    return None;
                }
                let all = has(&["--all"], Some('a'));
                GitLoses {
                    untracked: all || has(&["--include-untracked"], Some('u')),
                    ignored: all,
                    changed: true,
                    how: "stashes away",
                }
            }
            // `--merge` and `--keep` write what HEAD holds where the index and the work
            // tree lack it, with no revision named (red team round 28, hooks H1: a HEAD
            // built with plumbing wrote `.claude/settings.local.json` so); `merge --abort`
            // is `reset --merge`.
            "reset" if has(&["--hard", "--merge", "--keep"], None) || patch => restores,
            "merge" if has(&["--abort"], None) => restores,
            "restore" if !has(&["--staged"], Some('S')) || has(&["--worktree"], Some('W')) => {
                restores
            }
            "switch" if has(&["--discard-changes", "--force"], Some('f')) => restores,
            "checkout" => {
                // `checkout BRANCH` carries local changes over; a path (`-- .`, `BRANCH
                // FILE`, an existing path alone), `-p` or `-f` restores over them.
                let positionals = positionals(rest);
                let creates = has(&["--orphan", "--track"], Some('b'))
                    || has(&[], Some('B'))
                    || has(&[], Some('t'));
                let paths = rest.iter().any(|w| w.is_known() && w.text == "--")
                    || (!creates && positionals.len() >= 2)
                    || (!creates && positionals.iter().any(|w| w.is_known() && exists(&w.text)));
                if !(paths || patch || has(&["--force"], Some('f'))) {
                    return None;
                }
                restores
            }
            "checkout-index" | "read-tree" => restores,
            _ => return None,
        };
        Some(loses)
    }

    fn covers(&self, state: FileState) -> bool {
        match state {
            FileState::Committed => false,
            FileState::Changed => self.changed,
            FileState::Untracked => self.untracked,
            FileState::Ignored => self.ignored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<ShellArg> {
        let analysis = aecl_core::shell::analyse_line(line).unwrap();
        analysis.commands[0].words.clone()
    }

    #[test]
    fn git_loses_what_it_does_not_hold_committed() {
        let loses = |line: &str| {
            GitLoses::of(&words(line), &|text| text == ".")
                .map(|l| (l.untracked, l.ignored, l.changed))
        };
        assert_eq!(loses("git clean -fd"), Some((true, false, false)));
        assert_eq!(loses("git clean -fdx"), Some((true, true, false)));
        assert_eq!(loses("git clean -fd -e !x"), Some((true, true, false)));
        assert_eq!(loses("git clean -n -d"), None);
        assert_eq!(loses("git stash"), Some((false, false, true)));
        assert_eq!(loses("git stash push -u"), Some((true, false, true)));
        assert_eq!(loses("git stash --include-u"), Some((true, false, true)));
        assert_eq!(loses("git stash --al"), Some((true, true, true)));
        assert_eq!(loses("git stash list"), None);
        assert_eq!(loses("git -C x reset --hard HEAD~1"), Some((false, false, true)));
        assert_eq!(loses("git reset --har"), Some((false, false, true)));
        assert_eq!(loses("git reset HEAD~1"), None);
        assert_eq!(loses("git restore ."), Some((false, false, true)));
        assert_eq!(loses("git restore --staged x"), None);
        assert_eq!(loses("git checkout -- ."), Some((false, false, true)));
        assert_eq!(loses("git checkout -f main"), Some((false, false, true)));
        assert_eq!(loses("git checkout --for main"), Some((false, false, true)));
        assert_eq!(loses("git checkout -p"), Some((false, false, true)));
        assert_eq!(loses("git checkout no-such-path-or-branch"), None);
        assert_eq!(loses("git switch main"), None);
        assert_eq!(loses("git switch --discard main"), Some((false, false, true)));
        assert_eq!(loses("git checkout -b new origin/main"), None);
        assert_eq!(loses("git checkout main src/x.rs"), Some((false, false, true)));
    }

    #[test]
    fn the_revisions_a_command_brings_versions_from() {
        let revisions = |line: &str| revisions(&words(line));
        let plain = |r: &str| (r.to_owned(), false);
        assert_eq!(revisions("git checkout main"), [plain("main")]);
        assert_eq!(revisions("git checkout -"), [plain("@{-1}")]);
        assert_eq!(revisions("git checkout old -- ."), [plain("old"), plain(".")]);
        assert_eq!(revisions("git reset --hard HEAD~1"), [plain("HEAD~1")]);
        assert_eq!(revisions("git checkout :/nohook"), [plain(":/nohook")]);
        assert_eq!(revisions("git restore -Ws old ."), [plain("old"), plain(".")]);
        assert_eq!(revisions("git restore --sour=old ."), [plain("old"), plain(".")]);
        // A rebase under way: what is left of it, or the branch as it was.
        assert_eq!(
            revisions("git rebase --continue"),
            [plain("REBASE_HEAD"), plain("REBASE_HEAD..ORIG_HEAD")]
        );
        assert_eq!(revisions("git rebase --abort"), [plain("ORIG_HEAD")]);
        assert!(revisions("git rebase --quit").is_empty());
        // A rebase replays a range, read commit by commit (second pass, H1).
        assert_eq!(
            revisions("git rebase --onto=old HEAD"),
            [plain("old"), plain("HEAD"), plain("old..HEAD"), plain("@{upstream}")]
        );
        assert_eq!(
            revisions("git rebase master tr"),
            [plain("master"), plain("tr"), plain("master..tr"), plain("@{upstream}")]
        );
        assert_eq!(revisions("git revert HEAD"), [("HEAD".to_owned(), true)]);
        // A stash's untracked files are its third parent's tree.
        let stash = |n: u8| [plain(&format!("stash@{{{n}}}^3")), (format!("stash@{{{n}}}"), true)];
        assert_eq!(revisions("git stash pop"), stash(0));
        assert_eq!(revisions("git stash apply 1"), stash(1));
        assert_eq!(revisions("git stash branch nb"), stash(0));
        // A pull's are read where git says what its remote is (`pull_source`).
        assert!(revisions("git pull --no-rebase . feature").is_empty());
        assert!(revisions("git pull origin main").is_empty());
        assert!(revisions("git stash").is_empty());
        assert!(revisions("git clean -fd").is_empty());
    }

    #[test]
    fn what_may_put_any_version_anywhere() {
        let any = |line: &str| reaches_any(&words(line)).is_some();
        assert!(any("git co old"));
        assert!(any("git switch --orphan nb"));
        assert!(any("git checkout --orph nb"));
        assert!(any("git bisect start HEAD HEAD~2"));
        assert!(any("git sparse-checkout set --no-cone src"));
        assert!(!any("git sparse-checkout list"));
        assert!(!any("git bisect log"));
        assert!(!any("git checkout main"));
    }
}
