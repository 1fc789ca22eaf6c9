//! Commands that remove, move or change everything beneath a directory, for the agents'
//! hook settings.
//!
//! A settings file (`.claude/settings.json`) is protected as a file with its folder, not
//! with the directories above it: the project's own directory is written by every
//! ordinary command (`touch notes.md` writes it). But some commands reach every file
//! beneath a directory they name, and one that names the project takes the settings with
//! it: `rm -rf .`, `find . -delete`, `find . -exec sed -i … {} +`, `mv ../proj /tmp`,
//! `rsync --delete x/ .`, `chmod -R a-r .`, `tar --remove-files`, `git rm -r .`, `git
//! worktree remove .`. Such a command is refused when a settings file exists beneath its
//! directory (what `find` selects by `-name`/`-iname` alone is narrowed to the names it
//! can match).
//!
//! Git's tree writers (`git clean`, `git stash`, `git checkout -- .`, `git reset --hard`)
//! remove or restore what git does not hold as committed: they are refused when a
//! settings file beneath their work tree is in a state they would lose (`git_state`),
//! and allowed when git holds it committed as it is (the common case: the project keeps
//! its settings in git). Left: a tree writer that moves the work tree to other commits
//! (`git checkout BRANCH`, `git pull`, `git merge`) replaces a committed settings file by
//! that commit's version, as git keeps both.

use std::path::{Path, PathBuf};

use aecl_core::shell::{Analysis, OpaqueCommand, ShellArg, SimpleCommand};
use aecl_engine::fs_paths::resolve_physical;

use super::super::expand::{expand, fnmatch, glob};
use super::super::git_state::{self, FileState};
use super::super::protected::{Place, Protected};
use super::{Line, Refusal, find_parts, find_starts};

/// What `find` selects by name: `None` when it may select any path (no name test, or an
/// expression this reading does not narrow: `-o`, `!`, `-path`, `-regex`, a word only
/// known at run time); else patterns every selected name matches, each with whether it
/// ignores case (`-iname`).
pub(super) type Names = Option<Vec<(String, bool)>>;

/// One directory a command reaches everything beneath.
struct Root<'c> {
    word: ShellArg,
    program: &'c str,
    /// A verb phrase: "removes everything under".
    how: &'static str,
    names: Names,
}

impl Line<'_> {
    /// Refuses a command of the line that reaches everything beneath a directory holding
    /// an existing agent hook settings file. `dirs` are the directories the line's
    /// commands may run in.
    pub fn check_trees<'p>(
        &self,
        analysis: &Analysis,
        dirs: &[Option<String>],
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        for root in roots(&analysis.commands) {
            if root.word.text.contains("{}") || root.word.raw.contains("{}") {
                // A path `find` or `xargs` supplies: `placeholder`'s.
                continue;
            }
            let texts = expand(&root.word, self.text, self.pwd).map_err(|e| {
                Refusal::Unknown(format!("runs `{}`, which {} {e}", root.program, root.how))
            })?;
            for text in texts {
                for path in self.absolute(&text, dirs)? {
                    let found = glob(&path).map_err(|e| {
                        Refusal::Unknown(format!("runs `{}`, which {} {e}", root.program, root.how))
                    })?;
                    for dir in found {
                        if let Some(place) = self.settings_beneath(&dir, &root.names, protected) {
                            return Err(Refusal::Touches {
                                how: format!(
                                    "runs `{}`, which {} `{}`, reaching",
                                    root.program,
                                    root.how,
                                    dir.display()
                                ),
                                what: root.word.raw.clone(),
                                place,
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The settings file existing beneath `dir` (as written, and as resolved through
    /// links) whose path from `dir` has a name that `names` selects.
    pub(super) fn settings_beneath<'p>(
        &self,
        dir: &Path,
        names: &Names,
        protected: &'p Protected,
    ) -> Option<&'p Place> {
        let resolved = resolve_physical(self.cwd, &dir.display().to_string()).ok();
        let selects = |below: &Path| match names {
            None => true,
            Some(patterns) => below.iter().any(|name| selected(patterns, &name.to_string_lossy())),
        };
        std::iter::once(dir.to_owned()).chain(resolved.map(PathBuf::from)).find_map(|dir| {
            protected.settings_beneath(&dir, &selects).into_iter().next().map(|(place, _)| place)
        })
    }

    /// For a git tree writer run in `root` (its work tree): refuses it when a settings file
    /// beneath the work tree is in a state the subcommand would lose.
    pub(super) fn check_git_tree<'p>(
        &self,
        command: &OpaqueCommand,
        root: &Path,
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        let dirs = self.absolute(".", &command.dirs).unwrap_or_default();
        let exists = |text: &str| dirs.iter().any(|dir| dir.join(text).exists());
        let Some(loses) = GitLoses::of(&command.words, &exists) else { return Ok(()) };
        let all = |_: &Path| true;
        for (place, file) in protected.settings_beneath(root, &all) {
            let state = git_state::of(&file).map_err(|e| {
                Refusal::Unknown(format!(
                    "runs `git`, which may remove or restore `{}`, and whether git holds it \
                     committed cannot be told ({e})",
                    file.display()
                ))
            })?;
            if loses.covers(state) {
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
        }
        Ok(())
    }
}

/// Whether `name` is selected by every pattern.
fn selected(patterns: &[(String, bool)], name: &str) -> bool {
    patterns.iter().all(|(pattern, fold)| {
        if *fold {
            fnmatch(&pattern.to_lowercase(), &name.to_lowercase())
        } else {
            fnmatch(pattern, name)
        }
    })
}

/// The names `find`'s expression (its words from `expression` on) selects.
pub(super) fn find_names(command: &SimpleCommand, expression: usize) -> Names {
    let mut patterns = Vec::new();
    let mut words = command.words.iter().skip(expression);
    while let Some(word) = words.next() {
        if !word.is_known() {
            return None;
        }
        match word.text.as_str() {
            "-name" | "-iname" => {
                let pattern = words.next().filter(|w| w.is_known())?;
                // A run of `*` matches what one does; one keeps the matcher linear in it.
                let mut text = String::new();
                for c in pattern.text.chars() {
                    if !(c == '*' && text.ends_with('*')) {
                        text.push(c);
                    }
                }
                patterns.push((text, word.text == "-iname"));
            }
            "-o" | "-or" | "!" | "-not" | "," | "-path" | "-ipath" | "-wholename"
            | "-iwholename" | "-regex" | "-iregex" | "-lname" | "-ilname" => return None,
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                // The command's words, to its `;` or `{} +`.
                let mut previous = String::new();
                for word in words.by_ref() {
                    if word.text == ";" || (word.text == "+" && previous == "{}") {
                        break;
                    }
                    previous.clone_from(&word.text);
                }
            }
            _ => {}
        }
    }
    (!patterns.is_empty()).then_some(patterns)
}

/// The directories the line's commands reach everything beneath.
fn roots(commands: &[SimpleCommand]) -> Vec<Root<'_>> {
    let mut out = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let program = command.program.as_str();
        let mut add = |words: Vec<ShellArg>, how: &'static str| {
            out.extend(words.into_iter().map(|word| Root { word, program, how, names: None }));
        };
        let words = &command.words;
        let has = |names: &[&str]| words.iter().any(|w| w.is_known() && names.contains(&&*w.text));
        match program {
            "rm" => {
                // `find -delete` is also analysed as an `rm -rf` of its starting points,
                // just before the `find`: that `find` narrows it by name.
                let from_find = commands.get(i + 1).is_some_and(|find| {
                    find.program == "find"
                        && find.flags.iter().any(|f| f == "delete")
                        && find_starts(find) == *words
                });
                let recursive = command.flags.iter().any(|f| f == "recursive")
                    || command.unknown_args.is_some();
                if recursive && !from_find {
                    add(positionals(words), "removes everything under");
                }
            }
            "trash" | "trash-put" | "gio" if program != "gio" || first_is(words, "trash") => {
                add(positionals(words), "removes everything under");
            }
            "find" if command.flags.iter().any(|f| f == "delete") => {
                let (starts, expression) = find_parts(command);
                let names = find_names(command, expression);
                out.extend(starts.into_iter().map(|word| Root {
                    word,
                    program,
                    how: "removes what it finds under",
                    names: names.clone(),
                }));
            }
            "mv" => add(sources(words), "moves everything under"),
            "rsync" => {
                if words.iter().any(|w| w.is_known() && w.text.starts_with("--del")) {
                    add(positionals(words).into_iter().last().into_iter().collect(), "deletes");
                }
                if has(&["--remove-source-files"]) {
                    add(sources(words), "removes the files it sends under");
                }
            }
            "chmod" | "chown" | "chgrp" | "chattr" | "setfacl" | "chcon"
                if words.iter().any(|w| {
                    w.is_known()
                        && (w.text == "--recursive"
                            || (w.text.starts_with('-')
                                && !w.text.starts_with("--")
                                && w.text.contains('R')))
                }) =>
            {
                add(positionals(words), "changes the mode or owner of everything under");
            }
            "tar" if words.iter().any(|w| w.is_known() && w.text.starts_with("--remove-f")) => {
                add(positionals(words), "removes what it archives under");
            }
            "zip" if has(&["-m", "--move"]) => {
                add(positionals(words), "removes what it archives under")
            }
            "git" => {
                if let Some(sub) = git_subcommand(words) {
                    let rest = words.get(sub + 1..).unwrap_or_default();
                    match words.get(sub).map(|w| w.text.as_str()) {
                        Some("rm") if !rest.iter().any(|w| w.text == "--cached") => {
                            add(positionals(rest), "removes everything under");
                        }
                        Some("mv") => add(sources(rest), "moves everything under"),
                        Some("worktree") if first_is(rest, "remove") => {
                            add(positionals(rest).into_iter().skip(1).collect(), "removes");
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether the first positional word of `words` is `name`.
fn first_is(words: &[ShellArg], name: &str) -> bool {
    positionals(words).first().is_some_and(|w| w.is_known() && w.text == name)
}

/// The words that are no options: every word after `--`, and before it those not
/// starting with `-` (an option's separate value is taken too: a path more is checked).
fn positionals(words: &[ShellArg]) -> Vec<ShellArg> {
    let mut out = Vec::new();
    let mut options = true;
    for word in words {
        if options && word.is_known() && word.text == "--" {
            options = false;
        } else if !options || !word.is_known() || !word.text.starts_with('-') || word.text == "-" {
            out.push(word.clone());
        }
    }
    out
}

/// The sources of `mv`, `rsync` and `git mv`: the positional words but the destination
/// (the last, or the value of `-t`/`--target-directory`).
fn sources(words: &[ShellArg]) -> Vec<ShellArg> {
    let named = |w: &ShellArg| {
        w.is_known() && (w.text.starts_with("--target-directory") || w.text.starts_with("-t"))
    };
    let Some(at) = words.iter().position(named) else {
        let mut sources = positionals(words);
        sources.pop();
        return sources;
    };
    // A separate value (`-t DIR`) is the destination too.
    let separate =
        words.get(at).is_some_and(|w| matches!(w.text.as_str(), "-t" | "--target-directory"));
    let rest: Vec<ShellArg> = words
        .iter()
        .enumerate()
        .filter(|(i, _)| !(separate && *i == at + 1))
        .map(|(_, w)| w.clone())
        .collect();
    positionals(&rest)
}

/// The index of git's subcommand in `words`, past its global options.
fn git_subcommand(words: &[ShellArg]) -> Option<usize> {
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
        // A long option, or a short one alone or in a cluster (`-fdx`).
        let has = |long: &[&str], short: Option<char>| {
            rest.iter().any(|w| {
                w.is_known()
                    && (long.contains(&w.text.as_str())
                        || short.is_some_and(|short| {
                            w.text.starts_with('-')
                                && !w.text.starts_with("--")
                                && w.text.contains(short)
                        }))
            })
        };
        let restores = GitLoses {
            untracked: false,
            ignored: false,
            changed: true,
            how: "restores from git, losing the changes to",
        };
        let loses = match words.get(sub)?.text.as_str() {
            "clean" if has(&["--dry-run"], Some('n')) => return None,
            "clean" => GitLoses {
                untracked: true,
                ignored: has(&[], Some('x')) || has(&[], Some('X')),
                changed: false,
                how: "removes",
            },
            "stash" => {
                let first = positionals(rest);
                let first = first.first().map(|w| w.text.as_str());
                if !matches!(first, None | Some("push" | "save")) {
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
            "reset" if has(&["--hard"], None) => restores,
            "restore" if !has(&["--staged"], Some('S')) || has(&["--worktree"], Some('W')) => {
                restores
            }
            "switch" if has(&["--discard-changes", "--force"], Some('f')) => restores,
            "checkout" => {
                // `checkout BRANCH` carries local changes over; a path (`-- .`, `BRANCH
                // FILE`, an existing path alone) or `-f` restores over them.
                let positionals = positionals(rest);
                let creates = has(&["--orphan", "--track"], Some('b'))
                    || has(&[], Some('B'))
                    || has(&[], Some('t'));
                let paths = rest.iter().any(|w| w.is_known() && w.text == "--")
                    || (!creates && positionals.len() >= 2)
                    || (!creates && positionals.iter().any(|w| w.is_known() && exists(&w.text)));
                if !(paths || has(&["--force"], Some('f'))) {
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

    fn roots_of(line: &str) -> Vec<(String, String, Names)> {
        let analysis = aecl_core::shell::analyse_line(line).unwrap();
        roots(&analysis.commands)
            .into_iter()
            .map(|r| (r.program.to_owned(), r.word.raw, r.names))
            .collect()
    }

    #[test]
    fn the_commands_that_reach_a_whole_tree_name_its_directory() {
        let plain = |p: &str, w: &str| (p.to_owned(), w.to_owned(), None);
        assert_eq!(roots_of("rm -rf ."), [plain("rm", ".")]);
        assert_eq!(roots_of("rm -r -- -x"), [plain("rm", "-x")]);
        assert!(roots_of("rm a b").is_empty());
        assert_eq!(roots_of("mv ../proj /tmp/x"), [plain("mv", "../proj")]);
        assert_eq!(roots_of("mv -t /tmp a b"), [plain("mv", "a"), plain("mv", "b")]);
        assert_eq!(roots_of("rsync -a --delete x/ ."), [plain("rsync", ".")]);
        assert_eq!(roots_of("chmod -R a-r ."), [plain("chmod", "a-r"), plain("chmod", ".")]);
        assert_eq!(roots_of("git rm -r -q ."), [plain("git", ".")]);
        assert!(roots_of("git rm --cached -r .").is_empty());
        assert_eq!(roots_of("git -C x worktree remove --force ."), [plain("git", ".")]);
        assert_eq!(
            roots_of("tar czf a.tgz --remove-files ."),
            [plain("tar", "czf"), plain("tar", "a.tgz"), plain("tar", ".")]
        );
        assert_eq!(roots_of("find . -delete"), [("find".to_owned(), ".".to_owned(), None)]);
        assert_eq!(
            roots_of("find src . -name '*.pyc' -delete"),
            [
                ("find".to_owned(), "src".to_owned(), Some(vec![("*.pyc".to_owned(), false)])),
                ("find".to_owned(), ".".to_owned(), Some(vec![("*.pyc".to_owned(), false)])),
            ]
        );
    }

    #[test]
    fn find_is_narrowed_by_its_name_tests_alone() {
        let names = |line: &str| {
            let analysis = aecl_core::shell::analyse_line(line).unwrap();
            let find = analysis.commands.iter().find(|c| c.program == "find").unwrap();
            find_names(find, find_parts(find).1)
        };
        assert_eq!(
            names("find . -type f -iname '*.PY' -delete"),
            Some(vec![("*.PY".to_owned(), true)])
        );
        assert_eq!(
            names("find -L . -name '**.py' -exec sed -i x {} +"),
            Some(vec![("*.py".to_owned(), false)])
        );
        for open in [
            "find . -delete",
            "find . -name '*.py' -o -name '*.json' -delete",
            "find . ! -name '*.py' -delete",
            "find . -path '*/x' -delete",
            "find . -name \"$P\" -delete",
            "find . -regex '.*' -delete",
        ] {
            assert_eq!(names(open), None, "{open}");
        }
        let patterns = names("find . -name '*.py' -name 'a*'").unwrap();
        assert!(selected(&patterns, "abc.py"));
        assert!(!selected(&patterns, "settings.json"));
        assert!(selected(&[("*.JSON".to_owned(), true)], "settings.json"));
    }

    #[test]
    fn git_loses_what_it_does_not_hold_committed() {
        let loses = |line: &str| {
            let analysis = aecl_core::shell::analyse_line(line).unwrap();
            GitLoses::of(&analysis.commands[0].words, &|text| text == ".")
                .map(|l| (l.untracked, l.ignored, l.changed))
        };
        assert_eq!(loses("git clean -fd"), Some((true, false, false)));
        assert_eq!(loses("git clean -fdx"), Some((true, true, false)));
        assert_eq!(loses("git clean -n -d"), None);
        assert_eq!(loses("git stash"), Some((false, false, true)));
        assert_eq!(loses("git stash push -u"), Some((true, false, true)));
        assert_eq!(loses("git stash -a"), Some((true, true, true)));
        assert_eq!(loses("git stash list"), None);
        assert_eq!(loses("git -C x reset --hard HEAD~1"), Some((false, false, true)));
        assert_eq!(loses("git reset HEAD~1"), None);
        assert_eq!(loses("git restore ."), Some((false, false, true)));
        assert_eq!(loses("git restore --staged x"), None);
        assert_eq!(loses("git checkout -- ."), Some((false, false, true)));
        assert_eq!(loses("git checkout -f main"), Some((false, false, true)));
        assert_eq!(loses("git checkout no-such-path-or-branch"), None);
        assert_eq!(loses("git switch main"), None);
        assert_eq!(loses("git checkout -b new origin/main"), None);
        assert_eq!(loses("git checkout main src/x.rs"), Some((false, false, true)));
        assert_eq!(loses("git switch --discard-changes main"), Some((false, false, true)));
    }
}
