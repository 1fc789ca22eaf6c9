//! Where a command line may write, for the guard: the paths it names as writes, and what
//! the commands whose writes the program table cannot list may reach.
//!
//! - A write word (`WriteWord`) is expanded, joined to each directory the line may be in,
//!   listed on the filesystem when it is a glob, and resolved through links.
//! - `{}` is a path `find` found (under its starting points) or one `xargs` reads at run
//!   time (anywhere).
//! - An opaque command (`OpaqueCommand`: unknown, named by its path, only known at run
//!   time, running code, an interpreter's script) may write what its words name: each
//!   word, the value of each option word (`--out=F`, `-oF`), and the pieces inside them
//!   (`SRC:DST`, `key=PATH`, `file://PATH`: `aecl_core::shell::word_paths`) are taken as
//!   paths. What
//!   it computes for itself (`python3 -c 'open(...)'`) is not seen: the shell rules'
//!   `unknown` and `runs_code` judge those programs.
//! - A tree writer (`git checkout`, `git clean`, `tar -x`) may write anything under its
//!   work tree (git's top-level directory, found on the filesystem) or working directory:
//!   refused when that holds the state or policy directory.
//! - `cd` through `CDPATH` (set on the line or in the environment) goes somewhere the line
//!   does not say: relative paths after it are only known at run time.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use aecl_core::shell::{Analysis, OpaqueCommand, ShellArg, SimpleCommand, WriteWord, word_paths};
use aecl_engine::fs_paths::resolve_physical;

use super::expand::{Setters, env, expand, glob, has_glob};
use super::globstar::has_globstar;
use super::protected::{Place, Protected};
use find_expr::Names;
pub use repository::project as project_repository;

mod directories;
mod find_expr;
mod git_line;
mod git_tree;
mod landings;
mod patches;
pub(super) mod plain_list;
mod recursive;
mod repository;
mod trees;
mod unknown_reads;
mod unnamed;
mod work_tree;

/// Why a write is refused.
pub enum Refusal<'p> {
    /// It touches `place`: `how` (a verb phrase) and `what` (the word).
    Touches { how: String, what: String, place: &'p Place },
    /// Where it lands is only known at run time: `what` says what is unknown.
    Unknown(String),
    /// It runs programs the line does not name (`what` says whose), which may write
    /// anything.
    RunsCode(String),
}

/// A command of a chain of `&&` (its program and words), with the one directory it runs in.
struct Chained {
    program: String,
    words: Vec<ShellArg>,
    dir: Option<String>,
}

/// One command line, with what the checks need of it.
pub struct Line<'a> {
    text: &'a str,
    cwd: &'a Path,
    /// `{}` stands for paths under these starting points (`find`, with the names its
    /// expression selects), or anywhere (`None`, `xargs`); no `{}` is special when the
    /// line has neither.
    found: Option<Option<Vec<(ShellArg, Names)>>>,
    /// A `cd` may go through `CDPATH`: relative paths are only known at run time.
    cdpath: bool,
    /// `$PWD`: `cwd`, unless a command of the line changes directory.
    pwd: Option<&'a Path>,
    /// The words of the line's git commands that may change the index or HEAD, each with
    /// its place among the line's commands.
    git_writers: Vec<(usize, Vec<ShellArg>)>,
    /// The line's commands run in the order the analysis lists them (`plain_list`).
    in_order: bool,
    /// On a line of commands joined by `&&` only, each command (program and words) with
    /// the one directory it runs in (`plain_list::chain_dirs`).
    chain: Option<Vec<Chained>>,
    /// A write of the line lands in a `.git` directory, or a command other than git names
    /// one (`Line::noting_writes`).
    writes_git: bool,
    /// The destinations of its copies, moves and links (`cp a.py ~/`): where such a
    /// destination is a directory, what lands in it is checked (`check_landings`), not
    /// the directory itself.
    destinations: Vec<String>,
    /// The patch file the line's `patch` or `git apply` reads, and the files it names
    /// (`Line::noting_writes`: unless the line may write it first).
    patch: Option<patches::PatchInput>,
    patched: Option<Vec<String>>,
    /// The line starts with a `cd` to a directory that exists: the commands after it run
    /// there (or not at all), never in `cwd` (`cd build && tar xzf ../a.tgz`).
    leaves_cwd: bool,
    /// The texts of the scripts the line sources that the hook read (`sourced.rs`): the
    /// variables they set are the line's.
    sourced: &'a [String],
    /// A script the line sources was not read: it may set any variable.
    unread_source: bool,
}

impl<'a> Line<'a> {
    /// Where the line's variables may be set.
    fn setters(&self) -> Setters<'_> {
        Setters::sourcing(self.text, self.sourced, self.unread_source)
    }

    /// The line with the texts of the scripts it sources that were read.
    pub fn sourcing(self, read: &'a [String]) -> Line<'a> {
        Line { sourced: read, ..self }
    }

    pub fn new(text: &'a str, analysis: &Analysis, cwd: &'a Path) -> Line<'a> {
        let commands = &analysis.commands;
        // `find -files0-from F` starts where F says: like `xargs`, anywhere. But `find ...
        // -print0 | xargs -0 CMD` (the line's one find first, piped to its one xargs, which
        // reads no file) hands CMD the names find prints, whole: without `-0`, xargs splits
        // a name at blanks (`a .claude b.txt`).
        // xargs's own options, as written (its words are what it runs).
        let xargs_options: Vec<&str> =
            text.split_once("xargs").map_or_else(Vec::new, |(_, after)| {
                after.split_whitespace().take_while(|t| t.starts_with('-')).collect()
            });
        let short = |o: &&str, letter: char| !o.starts_with("--") && o.contains(letter);
        let whole = xargs_options.iter().any(|o| *o == "--null" || short(o, '0'));
        let reads_elsewhere = xargs_options.iter().any(|o| {
            o.starts_with("--arg") || o.starts_with("--delim") || short(o, 'a') || short(o, 'd')
        });
        let piped_find = commands
            .first()
            .is_some_and(|c| c.program == "find" && c.words.iter().any(|w| w.text == "-print0"))
            && commands.iter().filter(|c| c.program == "find").count() == 1
            && commands
                .iter()
                .filter(|c| matches!(c.program.as_str(), "xargs" | "parallel"))
                .count()
                == 1
            && commands.get(1).is_some_and(|c| c.program == "xargs")
            && whole
            && !reads_elsewhere
            && analysis.redirections.iter().all(|r| !r.operator.starts_with('<'))
            && text.split_once("xargs").is_some_and(|(before, _)| before.trim_end().ends_with('|'));
        let reaches: Vec<Option<Vec<(ShellArg, Names)>>> = commands
            .iter()
            .filter(|c| c.program == "find")
            .map(|c| find_reach(c, piped_find))
            .collect();
        let xargs = (!piped_find
            && commands.iter().any(|c| matches!(c.program.as_str(), "xargs" | "parallel")))
            || reaches.iter().any(Option::is_none);
        let finds: Vec<(ShellArg, Names)> = reaches.into_iter().flatten().flatten().collect();
        let found = if xargs {
            Some(None)
        } else if commands.iter().any(|c| c.program == "find") {
            Some(Some(finds))
        } else {
            None
        };
        let cdpath_set = env("CDPATH").is_some_and(|v| !v.is_empty()) || text.contains("CDPATH");
        let relative_cd = commands.iter().any(|c| {
            matches!(c.program.as_str(), "cd" | "pushd")
                && c.words.iter().any(|w| {
                    !w.is_known() || !(w.text.starts_with(['/', '.', '-']) || w.text.is_empty())
                })
        });
        let moves = commands.iter().any(|c| matches!(c.program.as_str(), "cd" | "pushd" | "popd"));
        let git_writers = commands
            .iter()
            .enumerate()
            .filter(|(_, c)| c.program == "git" && git_tree::changes_git(&c.words))
            .map(|(at, c)| (at, c.words.clone()))
            .collect();
        Line {
            text,
            cwd,
            found,
            cdpath: cdpath_set && relative_cd,
            pwd: (!moves).then_some(cwd),
            git_writers,
            in_order: plain_list::in_order(text, commands.len()),
            chain: plain_list::chain_dirs(text, commands, cwd).map(|dirs| {
                commands
                    .iter()
                    .zip(dirs)
                    .map(|(c, dir)| Chained {
                        program: c.program.clone(),
                        words: c.words.clone(),
                        dir,
                    })
                    .collect()
            }),
            // `cd .git && cp …`, `ln -s .git/refs/heads hd && cp … hd/x` (red team round 30,
            // git F5): what such a line writes there is not spelled with `.git`. (A reader
            // naming it, `cat .git/HEAD`, writes nothing.)
            writes_git: commands
                .iter()
                .filter(|c| GIT_DIR_MOVERS.contains(&c.program.as_str()))
                .any(|c| {
                    c.words.iter().any(|w| {
                        w.text.split('/').any(|part| part == ".git")
                            || (!w.is_known() && w.raw.contains(".gi"))
                    })
                }),
            destinations: commands.iter().filter_map(destination).collect(),
            patch: patches::input(analysis, cwd),
            patched: None,
            leaves_cwd: leaves_cwd(text, commands, cwd),
            sourced: &[],
            unread_source: commands.iter().any(|c| c.sourced),
        }
    }

    /// The line with what its write words say: whether one may land in a `.git` directory
    /// (a component that is `.git`, or a pattern that matches it: `".git"/x`, `.gi[t]/x`).
    pub fn noting_writes(mut self, writes: &[WriteWord]) -> Self {
        // Where a write lands, from each directory the line may be in and through the links
        // that exist: `f` written where `f` links to `.git/refs/heads/main`.
        let in_git = |path: &Path| path.components().any(|c| c.as_os_str() == ".git");
        let lands_in_git = |write: &WriteWord| {
            write.word.is_known()
                && self.absolute(&write.word.text, &write.dirs).is_ok_and(|paths| {
                    paths.iter().any(|path| {
                        in_git(&aecl_engine::fs_paths::normalise(path))
                            || resolve_physical(self.cwd, &path.display().to_string())
                                .is_ok_and(|real| in_git(Path::new(&real)))
                    })
                })
        };
        self.writes_git |= writes.iter().any(lands_in_git);
        self.writes_git |= writes.iter().any(|write| {
            (!write.word.is_known() && write.word.raw.contains(".gi"))
                || write.word.text.split('/').any(|part| part == ".git")
                || (write.word.pattern
                    && write.word.raw.split('/').any(|part| {
                        let part = part.replace(['"', '\''], "");
                        super::expand::fnmatch(&part, ".git")
                    }))
        });
        self.patched = self.patch.as_ref().and_then(|input| patches::files(input, writes));
        self
    }

    /// Checks one write word of the line.
    pub fn check_write<'p>(
        &self,
        write: &WriteWord,
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        if let Some(depth) = write.unnamed {
            return self.check_unnamed(write, depth, protected);
        }
        if let Some(files) = &self.patched
            && write.word.raw == aecl_core::shell::PATCHED_FILES
        {
            for file in files {
                let how = "patches";
                self.check_path(file, &write.dirs, how, &write.word.raw, protected)?;
            }
            return Ok(());
        }
        // What `find ... | xargs` appends: a path find found.
        if write.word.raw == aecl_core::shell::APPENDED_ARGUMENTS
            && matches!(self.found, Some(Some(_)))
        {
            let found = ShellArg::known("{}");
            return self.placeholder(&found, &write.dirs, protected).unwrap_or(Ok(()));
        }
        if let Some(refusal) = self.placeholder(&write.word, &write.dirs, protected) {
            return refusal;
        }
        let words = expand(&write.word, &self.setters(), self.pwd)
            .map_err(|e| Refusal::Unknown(format!("writes {e}")))?;
        let into = self.destinations.contains(&write.word.raw);
        for word in words {
            if into && self.is_tree_free_directory(&word, &write.dirs, protected) {
                continue;
            }
            self.check_path(&word, &write.dirs, "writes or removes", &write.word.raw, protected)?;
        }
        Ok(())
    }

    /// Whether `text` is a directory that exists wherever the line may be, outside the
    /// state and policy directories: a copy into it writes only what lands there. A
    /// directory that holds them is such a one (`cp a.py ~/`).
    fn is_tree_free_directory(
        &self,
        text: &str,
        dirs: &[Option<String>],
        protected: &Protected,
    ) -> bool {
        let Ok(paths) = self.absolute(text, dirs) else { return false };
        !paths.is_empty()
            && paths.iter().all(|path| {
                path.is_dir()
                    && !has_glob(&path.display().to_string())
                    && protected.inside_tree(path).is_none()
                    && std::fs::canonicalize(path)
                        .is_ok_and(|real| protected.inside_tree(&real).is_none())
            })
    }

    /// Checks what an opaque command may reach.
    pub fn check_opaque<'p>(
        &self,
        command: &OpaqueCommand,
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        let program = &command.program;
        // Arguments only known at run time are also those built from an expansion, which
        // the words below show; `xargs` (or `parallel`) appends ones no word shows.
        if command.appended && matches!(self.found, Some(None)) {
            return Err(Refusal::Unknown(format!(
                "gives `{program}`, whose writes aecl cannot list, arguments only known at run \
                 time (`xargs`)"
            )));
        }
        if command.tree {
            for root in self.tree_roots(command)? {
                if let Some(place) = protected.reached_under(&root) {
                    return Err(Refusal::Touches {
                        how: format!(
                            "runs `{program}`, which may write anything under `{}`, reaching",
                            root.display()
                        ),
                        what: program.clone(),
                        place,
                    });
                }
                if program == "git" {
                    self.check_git_tree(command, &root, protected)?;
                }
            }
        }
        let how = format!("gives `{program}` (whose writes aecl cannot list) a path reaching");
        // gpg writes the name stored in the file (round 30, second pass: `cd .claude &&
        // gpg --use-embedded-filename ../x.gpg` wrote the settings).
        if matches!(program.as_str(), "gpg" | "gpg2")
            && command.words.iter().any(|w| !w.is_known() || w.text.starts_with("--use-embed"))
        {
            return Err(Refusal::Unknown(format!(
                "runs `{program}` with the file name stored in the file it reads, a path only \
                 known at run time"
            )));
        }
        let dirs = self.dirs_of(command);
        for word in &command.words {
            if let Some(refusal) = self.placeholder(word, &dirs, protected) {
                return refusal;
            }
            let texts = expand(word, &self.setters(), self.pwd).map_err(|e| {
                Refusal::Unknown(format!("gives `{program}`, whose writes aecl cannot list, {e}"))
            })?;
            for text in texts {
                let mut found = word_paths(&text);
                // An editor's or a database shell's own commands in one word (`vim -c 'w
                // .claude/settings.json'`, `sqlite3 db '.output F'`): each piece may be a
                // path, `~/` the home directory as they expand it. (Not an interpreter's
                // code, whose `..` and `/` are no paths.)
                if COMMAND_TEXT.contains(&program.as_str()) {
                    let home = env("HOME");
                    let pieces = text
                        .split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ';'))
                        .filter(|piece| !piece.is_empty() && *piece != text)
                        .flat_map(word_paths);
                    for piece in pieces {
                        match (piece.strip_prefix("~/"), &home) {
                            (Some(rest), Some(home)) => found.push(format!("{home}/{rest}")),
                            _ => found.push(piece.to_owned()),
                        }
                    }
                }
                for candidate in &found {
                    self.check_path(candidate, &dirs, &how, &word.raw, protected)?;
                    // What a decrypter or decompressor the table does not know writes: the
                    // operand without its suffix (red team round 30, shell F2: `gpg
                    // --decrypt-files .claude/settings.json.gpg` wrote the settings).
                    if let Some(stem) = without_suffix(candidate) {
                        self.check_path(stem, &dirs, &how, &word.raw, protected)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Refuses a word of the line that names a path inside the state directory, however
    /// spelled: quoted, a glob or braces, `~`, `..`, through a link, relative to the
    /// agent's `cwd` or to a directory a `cd` of the line goes to. Reads too: a session
    /// file is what the agent read, and reading it shows the agent what the hook
    /// remembers. A word whose expansion is past the limits (too many brace words or glob
    /// matches), or a line past its budget of paths, is refused. Not caught: a word built
    /// at run time (`$(...)`, a variable the environment sets otherwise; the shell rules
    /// judge programs, not such reads), and a relative path after a `cd` to a directory
    /// only known at run time. A recursive reader (`grep -r`, `rg`, `find -exec`, `tar`:
    /// `recursive.rs`) given a directory that holds the state directory is refused too.
    pub fn check_reads<'p>(
        &self,
        analysis: &Analysis,
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        /// Paths looked at for one line at most (each globbed and resolved).
        const MAX_PATHS: usize = 16_384;
        if protected.state().is_none() {
            return Ok(());
        }
        let dirs = self.cd_targets(analysis);
        let words = analysis
            .commands
            .iter()
            .flat_map(|c| c.words.iter())
            .chain(analysis.redirections.iter().map(|r| &r.target))
            // A value the line assigns may be read through its variable (`d=../state; cat
            // $d/F`), which `expand` leaves unknown.
            .chain(analysis.assignments.iter().map(|a| &a.value));
        // The words of the commands that read every file beneath a directory they name.
        let piped = analysis.commands.iter().any(|c| c.program == "xargs");
        let walks =
            |c: &&SimpleCommand| recursive::reads_recursively(c) || (piped && c.program == "find");
        let recursive: HashSet<&str> = analysis
            .commands
            .iter()
            .filter(walks)
            .flat_map(|c| c.words.iter().map(|w| w.raw.as_str()))
            .collect();
        // A `cd` to a directory only known at run time (`cd ${PWD%/*}`): relative reads
        // after it may be anywhere (second pass, H3).
        let unknown_cd = self.unknown_cd(analysis);
        // One with no directory named walks the one it runs in (`rg x`, `find -name x`).
        if let Some(walker) = analysis.commands.iter().find(walks)
            && let Some(place) = dirs
                .iter()
                .find_map(|dir| protected.state_beneath(dir))
                .or_else(|| unknown_cd.as_ref().and(protected.state()))
        {
            return Err(Refusal::Touches {
                how: format!("reads every file beneath the directory `{}` runs in", walker.program),
                what: walker.program.clone(),
                place,
            });
        }
        let mut budget = MAX_PATHS;
        let mut seen: HashSet<&str> = HashSet::new();
        for word in words {
            let walked = recursive.contains(word.raw.as_str());
            // A word repeated on the line (a 64 KiB line holds thousands) is read once.
            if !seen.insert(&word.raw) {
                continue;
            }
            // An option's attached value (`--file=PATH`), split where it was written.
            let value = word.raw.split_once('=').map(|(_, raw)| ShellArg {
                text: word.text.split_once('=').map_or_else(String::new, |(_, v)| v.to_owned()),
                raw: raw.to_owned(),
                tilde: raw.starts_with('~'),
                ..word.clone()
            });
            for word in std::iter::once(word).chain(value.as_ref()) {
                // `expand` reads globs, braces and `~`. A word with no expansion that it
                // cannot read went past its limits: refused, as a write would be.
                let texts = match expand(word, &self.setters(), self.pwd) {
                    Ok(texts) => texts,
                    Err(_) if word.expansion => {
                        self.unknown_read(word, &analysis.assignments, &dirs, protected)?
                    }
                    Err(e) => return Err(Refusal::Unknown(format!("reads {e}"))),
                };
                for text in texts {
                    if let Some(cd) = &unknown_cd
                        && !text.starts_with('/')
                        && (walked || text.contains('/') || has_glob(&text))
                        && let Some(place) = protected.state()
                    {
                        return Err(Refusal::Touches {
                            how: format!(
                                "reads `{text}` after `cd {cd}`, a directory only known at run \
                                 time, which may be"
                            ),
                            what: word.raw.clone(),
                            place,
                        });
                    }
                    let paths = if text.starts_with('/') {
                        vec![PathBuf::from(&text)]
                    } else {
                        dirs.iter().map(|dir| dir.join(&text)).collect()
                    };
                    for path in &paths {
                        if has_globstar(path)
                            && let Some(place) = protected.reached_by_pattern(path, false)
                        {
                            let what = word.raw.clone();
                            return Err(Refusal::Touches { how: "reads".to_owned(), what, place });
                        }
                        let found =
                            glob(path).map_err(|e| Refusal::Unknown(format!("reads {e}")))?;
                        for found in found {
                            budget = budget.checked_sub(1).ok_or_else(|| {
                                Refusal::Unknown(format!(
                                    "reads more than {MAX_PATHS} paths on one line"
                                ))
                            })?;
                            let shown = found.display().to_string();
                            let resolved = resolve_physical(self.cwd, &shown).ok();
                            let inside = |path: &Path| {
                                protected.inside_state(path).or_else(|| {
                                    walked.then(|| protected.state_beneath(path)).flatten()
                                })
                            };
                            let place = inside(&found)
                                .or_else(|| resolved.and_then(|r| inside(Path::new(&r))));
                            if let Some(place) = place {
                                return Err(Refusal::Touches {
                                    how: "reads".to_owned(),
                                    what: word.raw.clone(),
                                    place,
                                });
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// `{}` in `word`: the refusal it gets, if it stands for found paths.
    fn placeholder<'p>(
        &self,
        word: &ShellArg,
        dirs: &[Option<String>],
        protected: &'p Protected,
    ) -> Option<Result<(), Refusal<'p>>> {
        if !(word.text.contains("{}") || word.raw.contains("{}")) {
            return None;
        }
        let starts = self.found.as_ref()?;
        // `{}/../x`, `{}.json`, `x{}`: a path beside or inside each found one, anywhere.
        if starts.is_some() && !(word.is_known() && word.text == "{}") {
            return Some(Err(Refusal::Unknown(format!(
                "writes `{}`, a path built from what `find` finds",
                word.raw
            ))));
        }
        let starts = match starts {
            None => {
                return Some(Err(Refusal::Unknown(format!(
                    "writes `{}`, a path `xargs` reads at run time",
                    word.raw
                ))));
            }
            Some(starts) => starts,
        };
        for (start, names) in starts {
            let texts = match expand(start, &self.setters(), self.pwd) {
                Ok(texts) => texts,
                Err(e) => return Some(Err(Refusal::Unknown(format!("`find` starts at {e}")))),
            };
            for text in texts {
                let paths = match self.absolute(&text, dirs) {
                    Ok(paths) => paths,
                    Err(refusal) => return Some(Err(refusal)),
                };
                for path in paths {
                    let found = match glob(&path) {
                        Ok(found) => found,
                        Err(e) => {
                            return Some(Err(Refusal::Unknown(format!("`find` starts at {e}"))));
                        }
                    };
                    for root in found {
                        let resolved = resolve_physical(self.cwd, &root.display().to_string()).ok();
                        let place = protected
                            .reached_under(&root)
                            .or_else(|| {
                                resolved.and_then(|r| protected.reached_under(Path::new(&r)))
                            })
                            .or_else(|| self.settings_beneath(&root, names, protected));
                        if let Some(place) = place {
                            return Some(Err(Refusal::Touches {
                                how: format!(
                                    "writes `{}`, what `find` finds under `{}`, reaching",
                                    word.raw,
                                    root.display()
                                ),
                                what: start.raw.clone(),
                                place,
                            }));
                        }
                    }
                }
            }
        }
        Some(Ok(()))
    }

    /// Checks one expanded path `text` (glob characters escaped), relative to `dirs`.
    fn check_path<'p>(
        &self,
        text: &str,
        dirs: &[Option<String>],
        how: &str,
        what: &str,
        protected: &'p Protected,
    ) -> Result<(), Refusal<'p>> {
        for path in self.absolute(text, dirs)? {
            if has_globstar(&path)
                && let Some(place) = protected.reached_by_pattern(&path, true)
            {
                return Err(Refusal::Touches { how: how.to_owned(), what: what.to_owned(), place });
            }
            for found in glob(&path).map_err(|e| Refusal::Unknown(format!("writes {e}")))? {
                let shown = found.display().to_string();
                let resolved = resolve_physical(self.cwd, &shown).map_err(|e| {
                    Refusal::Unknown(format!("writes `{shown}`, which cannot be resolved ({e})"))
                })?;
                let place = protected
                    .touched_by(&found)
                    .or_else(|| protected.touched_by(Path::new(&resolved)));
                if let Some(place) = place {
                    return Err(Refusal::Touches {
                        how: how.to_owned(),
                        what: what.to_owned(),
                        place,
                    });
                }
            }
        }
        Ok(())
    }

    /// The directories `command` may run in: on a chain of `&&` (`mkdir -p build && cd
    /// build && cmake ..`), the one each command of its program and words runs in, a
    /// failed `cd` stopping the line (round 29, hooks FP1: `..` was also read from `cwd`);
    /// otherwise every directory the line may be in.
    fn dirs_of(&self, command: &OpaqueCommand) -> Vec<Option<String>> {
        let Some(chain) = &self.chain else { return command.dirs.clone() };
        let mut dirs: Vec<Option<String>> = Vec::new();
        for Chained { dir, .. } in
            chain.iter().filter(|c| c.program == command.program && c.words == command.words)
        {
            if !dirs.contains(dir) {
                dirs.push(dir.clone());
            }
        }
        if dirs.is_empty() || dirs.contains(&None) { command.dirs.clone() } else { dirs }
    }

    /// `text` as absolute paths: itself, or joined to each directory of `dirs`.
    fn absolute<'p>(
        &self,
        text: &str,
        dirs: &[Option<String>],
    ) -> Result<Vec<PathBuf>, Refusal<'p>> {
        if text.starts_with('/') {
            return Ok(vec![PathBuf::from(text)]);
        }
        if self.cdpath {
            return Err(Refusal::Unknown(format!(
                "writes `{text}` relative to a directory `cd` may find through `CDPATH`"
            )));
        }
        dirs.iter()
            .map(|dir| match dir {
                Some(dir) => Ok(Path::new(dir).join(text)),
                None => Err(Refusal::Unknown(format!(
                    "writes `{text}` relative to a directory only known at run time (give it as \
                     an absolute path)"
                ))),
            })
            .collect()
    }
}

/// `path` without the suffix of its file name (`a/x.json.gpg` is `a/x.json`); `None` when
/// the name has none (a leading dot starts no suffix).
fn without_suffix(path: &str) -> Option<&str> {
    let name_at = path.rfind('/').map_or(0, |i| i + 1);
    let dot = path.get(name_at..)?.rfind('.').filter(|&at| at > 0)?;
    path.get(..name_at + dot)
}

/// Programs that, given a path in `.git`, may make a later write land there under
/// another name: a directory change, a link, a copy or a move.
const GIT_DIR_MOVERS: [&str; 9] =
    ["cd", "pushd", "ln", "link", "cp", "mv", "rsync", "install", "tar"];

/// Whether the line's first command is a `cd` (or `pushd`) to one directory that exists
/// and can be entered: whatever follows it runs there, or after `&&` not at all, so never
/// in `cwd` unless another `cd` goes back (a directory of its own in the line's set).
fn leaves_cwd(text: &str, commands: &[SimpleCommand], cwd: &Path) -> bool {
    let Some(first) = commands.first().filter(|c| matches!(c.program.as_str(), "cd" | "pushd"))
    else {
        return false;
    };
    let [target] = first.words.as_slice() else { return false };
    if !target.is_known() || target.text.starts_with(['-', '+']) || text.contains("CDPATH") {
        return false;
    }
    let dir = cwd.join(&target.text);
    dir.is_dir() && std::fs::read_dir(&dir).is_ok()
}

/// Programs whose words may be commands of their own that name files (`:w FILE`,
/// `.output FILE`, `.import FILE`).
pub const COMMAND_TEXT: [&str; 9] =
    ["vim", "vi", "nvim", "ex", "view", "vimdiff", "sqlite3", "duckdb", "ed"];

/// The starting points of `find` (the words before its expression, `.` when none).
fn find_starts(command: &SimpleCommand) -> Vec<ShellArg> {
    find_parts(command).0
}

/// Where `find` may act and on which names: each starting point with the names its
/// expression reaches an action for; the root for every starting point when it follows
/// links (`-L`, `-follow`: a link beneath leads anywhere); `None` when its starting points
/// are only known at run time (`-files0-from`).
fn find_reach(command: &SimpleCommand, printed: bool) -> Option<Vec<(ShellArg, Names)>> {
    let known = |name: &str| command.words.iter().any(|w| w.is_known() && w.text == name);
    if known("-files0-from") {
        return None;
    }
    let (starts, expression) = find_parts(command);
    let names = if printed {
        find_expr::printed(command.words.get(expression..).unwrap_or_default())
    } else {
        trees::find_names(command, expression)
    };
    let follows = known("-L") || known("-follow");
    Some(
        starts
            .into_iter()
            .map(|start| (if follows { ShellArg::known("/") } else { start }, names.clone()))
            .collect(),
    )
}

/// The starting points of `find`, and the index of the first word of its expression.
fn find_parts(command: &SimpleCommand) -> (Vec<ShellArg>, usize) {
    let words = &command.words;
    let mut i = 0;
    while let Some(word) = words.get(i).filter(|w| w.is_known()) {
        match word.text.as_str() {
            "-H" | "-L" | "-P" => i += 1,
            "-D" => i += 2,
            text if text.starts_with("-O") => i += 1,
            _ => break,
        }
    }
    let starts: Vec<ShellArg> = words
        .iter()
        .skip(i)
        .take_while(|w| {
            !(w.is_known()
                && (w.text.starts_with('-') || matches!(w.text.as_str(), "(" | ")" | "!")))
        })
        .cloned()
        .collect();
    let expression = i + starts.len();
    if starts.is_empty() { (vec![ShellArg::known(".")], expression) } else { (starts, expression) }
}

/// The destination of a copy, move or link as written: `-t DIR` (`--target-directory`),
/// or the last of two or more operands; none with `-T` (`--no-target-directory`), which
/// replaces the destination itself (and backs it up under another name).
fn destination(command: &SimpleCommand) -> Option<String> {
    if !matches!(command.program.as_str(), "cp" | "mv" | "ln" | "install") {
        return None;
    }
    let words = &command.words;
    let replaces = words.iter().any(|w| {
        w.may_be_option()
            || (w.text.len() >= 6 && "--no-target-directory".starts_with(w.text.as_str()))
            || (w.text.starts_with('-') && !w.text.starts_with("--") && w.text.contains('T'))
    });
    if replaces {
        return None;
    }
    for (i, word) in words.iter().enumerate() {
        if let Some(dir) = word.raw.strip_prefix("--target-directory=") {
            return Some(dir.to_owned());
        }
        if matches!(word.raw.as_str(), "-t" | "--target-directory") {
            return words.get(i + 1).map(|w| w.raw.clone());
        }
    }
    let operands: Vec<&ShellArg> =
        words.iter().filter(|w| !w.is_known() || !w.text.starts_with('-')).collect();
    (operands.len() >= 2).then(|| operands.last().map(|w| w.raw.clone())).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_starts_before_its_expression() {
        let starts = |line: &str| -> Vec<String> {
            let analysis = aecl_core::shell::analyse_line(line).unwrap();
            let find = analysis.commands.iter().find(|c| c.program == "find").unwrap();
            find_starts(find).into_iter().map(|w| w.raw).collect()
        };
        assert_eq!(starts("find -L .. ~/x -name y -delete"), ["..", "~/x"]);
        assert_eq!(starts("find -name y -exec rm {} +"), ["."]);
        assert_eq!(starts("find -D tree a \\( -name b \\)"), ["a"]);
    }
}
