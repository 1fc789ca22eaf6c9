//! Commands that remove, move or change everything beneath a directory, for the agents'
//! hook settings.
//!
//! A settings file (`.claude/settings.json`) is protected as a file with its folder, not
//! with the directories above it: the project's own directory is written by every
//! ordinary command (`touch notes.md` writes it). But some commands reach every file
//! beneath a directory they name, and one that names the project takes the settings with
//! it: `rm -rf .`, `find . -delete`, `find . -exec sed -i … {} +`, `mv ../proj /tmp`,
//! `rsync --delete x/ .`, `chmod -R a-r .`, `tar --remove-files`, `git rm -r .`, `git
//! worktree remove .`. Such a command is refused when a settings file (or aecl's own
//! program) exists beneath its directory.
//!
//! Git's tree writers (`git clean`, `git stash`, `git checkout -- .`) are `git_tree`'s.
//! `find` is narrowed by `find_expr`.

use std::path::{Path, PathBuf};

use aecl_core::shell::{Analysis, ShellArg, SimpleCommand};
use aecl_engine::fs_paths::resolve_physical;

use super::super::expand::{expand, glob};
use super::super::protected::{Place, Protected};
use super::find_expr::{self, Names};
use super::{Line, Refusal, find_reach, find_starts};

/// One directory a command reaches everything beneath.
struct Root<'c> {
    /// The command's index on the line.
    index: usize,
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
        // A link the line makes, copies or moves in (`ln -s . c && rm -rf c/`, `cp -P
        // /tmp/l c && rm -rf c/`) does not exist yet: a root that does not exist either
        // may lead through it anywhere.
        const MAKERS: [&str; 11] =
            ["ln", "link", "cp", "mv", "rsync", "install", "tar", "unzip", "cpio", "7z", "bsdtar"];
        let makers: Vec<usize> = (analysis.commands.iter().enumerate())
            .filter(|(_, c)| {
                MAKERS.contains(&c.program.as_str())
                    || (c.program == "git" && super::git_tree::makes_links(&c.words))
            })
            .map(|(i, _)| i)
            .collect();
        for root in roots(&analysis.commands) {
            if root.word.text.contains("{}") || root.word.raw.contains("{}") {
                // A path `find` or `xargs` supplies: `placeholder`'s.
                continue;
            }
            let texts = expand(&root.word, &self.setters(), self.pwd).map_err(|e| {
                Refusal::Unknown(format!("runs `{}`, which {} {e}", root.program, root.how))
            })?;
            for text in texts {
                for path in self.absolute(&text, dirs)? {
                    let found = glob(&path).map_err(|e| {
                        Refusal::Unknown(format!("runs `{}`, which {} {e}", root.program, root.how))
                    })?;
                    for dir in found {
                        let links = makers.iter().any(|i| *i != root.index);
                        if links && std::fs::symlink_metadata(&dir).is_err() {
                            return Err(Refusal::Unknown(format!(
                                "runs `{}`, which {} `{}`, through a link the line makes",
                                root.program,
                                root.how,
                                dir.display()
                            )));
                        }
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
    /// links) whose path from `dir` has a name that `names` selects. `find` tests its
    /// starting point too: when `dir`'s own name is selected, everything beneath it is.
    pub(super) fn settings_beneath<'p>(
        &self,
        dir: &Path,
        names: &Names,
        protected: &'p Protected,
    ) -> Option<&'p Place> {
        let resolved =
            resolve_physical(self.cwd, &dir.display().to_string()).ok().map(PathBuf::from);
        let own = |dir: &Path| {
            let written = dir.to_str().and_then(|d| d.rsplit('/').find(|c| !c.is_empty()));
            written
                .into_iter()
                .map(str::to_owned)
                .chain(dir.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect::<Vec<String>>()
        };
        let whole = |names: &[Vec<find_expr::Pattern>]| {
            std::iter::once(dir)
                .chain(resolved.as_deref())
                .any(|d| own(d).iter().any(|n| find_expr::selected(names, n)))
        };
        let selects = |below: &Path| match names {
            None => true,
            Some(names) => {
                whole(names)
                    || below.iter().any(|name| find_expr::selected(names, &name.to_string_lossy()))
            }
        };
        std::iter::once(dir.to_owned()).chain(resolved.clone()).find_map(|dir| {
            protected.settings_beneath(&dir, &selects).into_iter().next().map(|(place, _)| place)
        })
    }
}

/// The names `find`'s expression (its words from `expression` on) reaches an action for.
pub(super) fn find_names(command: &SimpleCommand, expression: usize) -> Names {
    find_expr::names(command.words.get(expression..).unwrap_or_default())
}

/// The directories the line's commands reach everything beneath.
fn roots(commands: &[SimpleCommand]) -> Vec<Root<'_>> {
    let mut out = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let program = command.program.as_str();
        let mut add = |words: Vec<ShellArg>, how: &'static str| {
            out.extend(words.into_iter().map(|word| Root {
                index: i,
                word,
                program,
                how,
                names: None,
            }));
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
                // Starting points only known at run time: anywhere.
                let reach = find_reach(command, false)
                    .unwrap_or_else(|| vec![(ShellArg::known("/"), None)]);
                out.extend(reach.into_iter().map(|(word, names)| Root {
                    index: i,
                    word,
                    program,
                    how: "removes what it finds under",
                    names,
                }));
            }
            "mv" => add(sources(words), "moves everything under"),
            "rsync" => {
                if words.iter().any(|w| w.is_known() && w.text.starts_with("--del")) {
                    add(positionals(words).into_iter().last().into_iter().collect(), "deletes");
                }
                // `--remove-source-files`, its old name `--remove-sent-files`, prefixes.
                if words.iter().any(|w| w.is_known() && w.text.starts_with("--remove-s")) {
                    add(sources(words), "removes the files it sends under");
                }
            }
            // Recursive or not: a directory the agent cannot read hides what is beneath.
            // The first operand of chmod, chown, chgrp and chattr is the mode, owner or
            // attributes, not a file, unless `--reference` gives it (red team round 23:
            // `chmod +x f && git commit` read `+x` as a path the commit could link).
            "chmod" | "chown" | "chgrp" | "chattr" => {
                let mut files = positionals(words);
                let referenced = words.iter().any(|w| w.text.starts_with("--reference"));
                // chmod's `-w` and chattr's `-i` are modes written like options: then the
                // first operand is a file.
                let dashed_mode = matches!(program, "chmod" | "chattr")
                    && words.iter().any(|w| {
                        w.text.len() > 1
                            && w.text.strip_prefix('-').is_some_and(|m| {
                                m.chars().all(|c| "rwxXstugoaiAcdDeEjsStTu".contains(c))
                            })
                    });
                let first_is_mode = files.first().is_some_and(|first| match program {
                    "chattr" => first.text.starts_with(['+', '=']),
                    _ => first.is_known(),
                });
                if !referenced && !dashed_mode && first_is_mode {
                    files.remove(0);
                }
                add(files, "changes the mode or owner of")
            }
            "setfacl" | "chcon" => add(positionals(words), "changes the mode or owner of"),
            "tar"
                if words
                    .iter()
                    .any(|w| w.is_known() && prefix_of(&w.text, "--remove-files", 5)) =>
            {
                add(positionals(words), "removes what it archives under");
            }
            "zip"
                if words.iter().any(|w| {
                    w.is_known()
                        && (prefix_of(&w.text, "--move", 4)
                            || (w.text.starts_with('-')
                                && !w.text.starts_with("--")
                                && w.text.contains('m')))
                }) =>
            {
                add(positionals(words), "removes what it archives under")
            }
            "7z" | "7za" | "7zz" | "7zr" if has(&["-sdel"]) => {
                add(positionals(words), "removes what it archives under")
            }
            "git" => {
                if let Some(sub) = super::git_tree::git_subcommand(words) {
                    let rest = words.get(sub + 1..).unwrap_or_default();
                    match words.get(sub).map(|w| w.text.as_str()) {
                        Some("rm") if !rest.iter().any(|w| w.text == "--cached") => {
                            // A pathspec of git's own globs or magic (`'*'`, `:/`,
                            // `:(top)`) may name any path of the work tree.
                            let paths = positionals(rest)
                                .into_iter()
                                .map(|w| {
                                    let magic = w.is_known()
                                        && (w.text.starts_with(':')
                                            || w.text.contains(['*', '?', '[']));
                                    if magic { ShellArg::known("/") } else { w }
                                })
                                .collect();
                            add(paths, "removes everything under");
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

/// Whether `given` is the long option `full` or a prefix of it of at least `min` bytes, as
/// GNU tools take them.
pub(super) fn prefix_of(given: &str, full: &str, min: usize) -> bool {
    let name = given.split_once('=').map_or(given, |(name, _)| name);
    name.len() >= min && full.starts_with(name)
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
        // The mode, owner or attributes are no file (red team round 23: `chmod +x f && git
        // commit` took `+x` for a path); a mode written like an option leaves every operand
        // a file, and so does `--reference`.
        assert_eq!(roots_of("chmod -R a-r ."), [plain("chmod", ".")]);
        assert_eq!(roots_of("chmod 000 ."), [plain("chmod", ".")]);
        assert_eq!(roots_of("chmod +x run.sh"), [plain("chmod", "run.sh")]);
        assert_eq!(roots_of("chmod -w .claude"), [plain("chmod", ".claude")]);
        assert_eq!(roots_of("chown -R me:me ."), [plain("chown", ".")]);
        assert_eq!(roots_of("chown --reference=x .claude"), [plain("chown", ".claude")]);
        assert_eq!(roots_of("chattr +i .claude"), [plain("chattr", ".claude")]);
        assert_eq!(roots_of("chattr -i .claude"), [plain("chattr", ".claude")]);
        assert_eq!(roots_of("zip -rmq x.zip ."), [plain("zip", "x.zip"), plain("zip", ".")]);
        // `--remove-files` is also an `rm -rf` of the operands (the core's reading).
        assert_eq!(
            roots_of("tar --remove -cf x.tar ."),
            [plain("rm", "x.tar"), plain("rm", "."), plain("tar", "x.tar"), plain("tar", ".")]
        );
        assert_eq!(roots_of("git rm -r ':/'"), [plain("git", "/")]);
        assert_eq!(roots_of("git rm -r -q ."), [plain("git", ".")]);
        assert!(roots_of("git rm --cached -r .").is_empty());
        assert_eq!(roots_of("git -C x worktree remove --force ."), [plain("git", ".")]);
        assert_eq!(
            roots_of("tar czf a.tgz --remove-files ."),
            [
                plain("rm", "czf"),
                plain("rm", "a.tgz"),
                plain("rm", "."),
                plain("tar", "czf"),
                plain("tar", "a.tgz"),
                plain("tar", ".")
            ]
        );
        assert_eq!(roots_of("find . -delete"), [("find".to_owned(), ".".to_owned(), None)]);
        assert_eq!(
            roots_of("find src . -name '*.pyc' -delete"),
            [
                (
                    "find".to_owned(),
                    "src".to_owned(),
                    Some(vec![vec![("*.pyc".to_owned(), false)]])
                ),
                ("find".to_owned(), ".".to_owned(), Some(vec![vec![("*.pyc".to_owned(), false)]])),
            ]
        );
    }
}
