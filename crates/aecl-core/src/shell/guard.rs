//! The program guard: what each command of a line can do according to the program table
//! (run code, send data, write files), what its redirections and assignments do, and
//! the decisions the policy gives each finding.
//!
//! A command's words are read with its table entry (`scan.rs`). A word only known at run
//! time where an option could be may be any option, so a program with dangerous options
//! gets the finding of the most dangerous one.

use std::collections::{BTreeMap, BTreeSet};

use super::finding::Finding;
use super::link_makers;
use super::network;
use super::programs::{self, ProgramSpec, Special, Writes};
use super::scan::scan;
use super::variables::{
    CODE_VARIABLE_PREFIXES, CODE_VARIABLES, PATH_VARIABLES, PROXY_VARIABLES, WRITE_VARIABLES,
    ZSH_CODE_PARAMETERS,
};
use super::word_paths;
use super::writes::{self, Directories, WriteProblem};
use super::{
    Analysis, HARMLESS_BUILTINS, ShellArg, SimpleCommand, creates, special, spellings, subcommands,
    user_state, variable_values,
};
use crate::decision::Decision;
use crate::resolved::PathView;

/// The most distinct places one line may make links in (`ln -s`, `git clone`): far more
/// than any real line, and a bound on the cost of checking every write against them.
const MAX_LINK_PLACES: usize = 256;

/// How the policy treats what programs can do, and its additions to the program table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramGuard {
    /// Entries added to or replacing the built-in table, by program name.
    pub programs: BTreeMap<String, ProgramSpec>,
    /// For a program in neither table (and not in `allow_programs`). Default
    /// `require_approval`.
    pub unknown: Decision,
    /// For a command that runs code of the caller's choosing through an allowed program:
    /// an option, subcommand, script, configuration or environment variable. Default
    /// `block`.
    pub runs_code: Decision,
    /// For a command that sends local data over the network. Default `require_approval`.
    pub uploads: Decision,
    /// For a write outside `write_paths`, or to a path only known at run time. Default
    /// `block`.
    pub writes_outside: Decision,
    /// Absolute directories the command may write under.
    pub write_paths: Vec<String>,
    /// Where relative paths start; by default the first write path.
    pub working_dir: Option<String>,
}

impl Default for ProgramGuard {
    fn default() -> ProgramGuard {
        ProgramGuard {
            programs: BTreeMap::new(),
            unknown: Decision::RequireApproval,
            runs_code: Decision::Block,
            uploads: Decision::RequireApproval,
            writes_outside: Decision::Block,
            write_paths: Vec::new(),
            working_dir: None,
        }
    }
}

/// What the guard found in a line.
#[derive(Debug, Clone, Default)]
pub(super) struct Assessed {
    /// Each finding's decision and message.
    pub findings: Vec<(Decision, String)>,
    /// The absolute strings to resolve on the filesystem: the write paths and every write
    /// target joined to each directory the line may be in.
    pub targets: Vec<String>,
    /// Every write as written, with the directories the line may be in for it.
    pub writes: Vec<super::WriteWord>,
    /// The commands whose writes the table cannot list.
    pub opaque: Vec<super::OpaqueCommand>,
    /// Every `git` command of the line (see [`super::LineWrites::git`]).
    pub git: Vec<super::OpaqueCommand>,
    /// The first command (or redirection) that may reach other hosts (`network.rs`).
    pub network: Option<String>,
    /// The first command that may reach other hosts only through the project's code it
    /// runs (`cargo test`, `make`), when no command reaches them otherwise.
    pub project_network: Option<String>,
}

impl ProgramGuard {
    /// The table entry of a program: the policy's, else the built-in one.
    fn spec<'a>(&'a self, program: &str) -> Option<&'a ProgramSpec> {
        self.programs.get(program).or_else(|| programs::builtin(program))
    }

    /// The directory a line starts in: the one the adapter that saw the filesystem ran
    /// the call from (the agent's `cwd`, the connector's), else `working_dir`, else the
    /// first write path.
    fn start_dir<'a>(&'a self, view: &'a PathView) -> Option<&'a str> {
        view.working_dir()
            .or(self.working_dir.as_deref())
            .or(self.write_paths.first().map(String::as_str))
    }

    /// Every finding of a line, with its decision and message, and the absolute strings of
    /// its write targets (and of the write paths), which an adapter resolves on the
    /// filesystem for `view` (`writes::spelled_targets`).
    /// `asked`: whether the policy's own `require_approval` pattern names a command (its
    /// program and subcommand as written): code it runs of the caller's choosing then goes
    /// to a person rather than the `runs_code` default (`npm install jest` under
    /// `require_approval = ["npm install *"]`: red team round 23, hooks FP2).
    pub(super) fn assess(
        &self,
        analysis: &Analysis,
        listed: &dyn Fn(&str) -> bool,
        asked: &dyn Fn(&SimpleCommand) -> bool,
        view: &PathView,
    ) -> Assessed {
        let dirs = Directories::of(analysis, self.start_dir(view));
        let mut out = Assessed {
            findings: Vec::new(),
            targets: self.write_paths.clone(),
            writes: Vec::new(),
            opaque: Vec::new(),
            git: Vec::new(),
            network: None,
            project_network: None,
        };
        let mut findings: Vec<Vec<Finding>> =
            analysis.commands.iter().map(|c| self.command_findings(c, listed)).collect();
        // A proxy set on the line sends even a loopback request elsewhere.
        let proxied =
            analysis.assignments.iter().any(|a| a.name.to_ascii_lowercase().contains("proxy"));
        make_environment(analysis, &mut findings);
        self.repository_copies(analysis, &dirs, &mut findings);
        let link_places = link_makers::places(&analysis.commands, &findings, &dirs);
        // Each distinct place where the line may make links, with how many commands may
        // make them there: looked up per command, so the cost grows with the distinct
        // places, not with the commands (collecting every other command's places for each
        // one was quadratic: `a;` 20,000 times took 0.6 s).
        let mut counts: BTreeMap<&str, usize> = Default::default();
        // The places some command may make a link at (not only below).
        let mut at: BTreeSet<&str> = BTreeSet::new();
        for places in &link_places {
            let distinct: BTreeSet<&str> = places.iter().map(|p| p.path.as_str()).collect();
            for place in distinct {
                *counts.entry(place).or_default() += 1;
            }
            at.extend(places.iter().filter(|p| !p.below).map(|p| p.path.as_str()));
        }
        if counts.len() > MAX_LINK_PLACES {
            out.findings.push((
                Decision::Block,
                format!(
                    "the line makes links in {} places, more than the {MAX_LINK_PLACES} aecl \
                     follows",
                    counts.len()
                ),
            ));
            counts.clear();
        }
        // The places where a command of the line other than the `i`-th may make links.
        // Each with whether a link may be made at the place itself.
        let others = |i: Option<usize>| -> Vec<(&str, bool)> {
            let own: BTreeSet<&str> = i
                .and_then(|i| link_places.get(i))
                .map(|places| places.iter().map(|p| p.path.as_str()).collect())
                .unwrap_or_default();
            let by_others =
                counts.iter().filter(|(place, n)| **n > usize::from(own.contains(*place)));
            by_others.map(|(place, _)| (*place, at.contains(place))).collect()
        };
        for (i, (command, found)) in analysis.commands.iter().zip(findings).enumerate() {
            let interpreter = self.spec(&command.program).is_some_and(|s| s.stdin_code);
            if let Some(opaque) = opaque(command, &found, interpreter, &dirs) {
                out.opaque.push(opaque);
            }
            if command.program == "git" && !command.dynamic {
                out.git.push(super::OpaqueCommand {
                    program: command.program.clone(),
                    words: command.words.clone(),
                    dirs: dirs.spelled(),
                    appended: command.unknown_args.is_some(),
                    tree: link_makers::writes_tree(command),
                });
            }
            match network::reaches(command, self.spec(&command.program), &found, proxied) {
                network::Reached::Yes if out.network.is_none() => {
                    out.network = Some(command.to_string());
                }
                network::Reached::ProjectCode if out.project_network.is_none() => {
                    out.project_network = Some(command.to_string());
                }
                _ => {}
            }
            if found.is_empty() {
                continue;
            }
            let links = others(Some(i));
            // Only what the named subcommand itself runs (its packages' scripts): an option
            // that makes it run other code (`--script-shell=./x`) is not what the pattern
            // asked a person about, and leaves every finding as it is (second pass, N6).
            let by_subcommand = |why: &str| {
                why.starts_with("subcommand `")
                    || why.ends_with("with packages runs their install scripts")
            };
            let asked = asked(command)
                && found
                    .iter()
                    .all(|f| !matches!(f, Finding::RunsCode(why) if !by_subcommand(why)));
            for finding in found {
                match finding {
                    Finding::RunsCode(why) if asked => out.findings.push((
                        self.runs_code.min(Decision::RequireApproval),
                        format!(
                            "`{command}` runs code of the caller's choosing: {why} (the \
                             policy's approval pattern for it asks a person)"
                        ),
                    )),
                    finding => {
                        self.judge(&command.to_string(), finding, &dirs, view, &links, &mut out)
                    }
                }
            }
        }
        let links = others(None);
        for redirection in &analysis.redirections {
            let op = redirection.operator;
            let target = &redirection.target;
            let writes = matches!(op, ">" | ">>" | ">|" | "&>" | "&>>" | "<>");
            // `>&2` and `<&0` duplicate descriptors; `>&word` that is not a number writes.
            let duplicates = matches!(op, ">&" | "<&")
                && target.is_known()
                && (target.text == "-"
                    || target.text.bytes().all(|b| b.is_ascii_digit())
                    || target.text.ends_with('-'));
            if (writes || op == ">&") && target.pattern {
                // A redirection to a glob writes the one file it matches, maybe a link; an
                // adapter that lists the filesystem can still tell which files it may be.
                out.writes.push(super::WriteWord {
                    word: target.clone(),
                    dirs: dirs.spelled(),
                    unnamed: None,
                });
                out.findings.push((
                    self.writes_outside,
                    format!(
                        "`{op} {}` writes to a pattern: which file is only known at run time",
                        target.raw
                    ),
                ));
            } else if writes || (op == ">&" && !duplicates) {
                self.judge(
                    &format!("{op} {}", target.raw),
                    Finding::Writes(target.clone()),
                    &dirs,
                    view,
                    &links,
                    &mut out,
                );
            } else if matches!(op, "<" | "<&")
                && (target.text.starts_with("/dev/tcp/") || target.text.starts_with("/dev/udp/"))
            {
                out.findings.push((
                    self.uploads,
                    format!("`{op} {}` opens a network connection", target.raw),
                ));
                out.network.get_or_insert_with(|| format!("{op} {}", target.raw));
            }
        }
        // Variables the line declares integers (`declare -i n`): like `RANDOM`, each later
        // assignment is evaluated as arithmetic.
        let integers: Vec<String> = analysis
            .commands
            .iter()
            .filter(|c| matches!(c.program.as_str(), "declare" | "typeset" | "local"))
            .filter(|c| c.words.iter().any(|w| short_flag(w, 'i')))
            .flat_map(variables_set_by)
            .collect();
        for assignment in &analysis.assignments {
            self.variable(&assignment.name, Some(&assignment.value), &mut out.findings);
            if PATH_VARIABLES.contains(&assignment.name.to_ascii_uppercase().as_str()) {
                let what = format!("{}={}", assignment.name, assignment.value.raw);
                let value = assignment.value.clone();
                self.path_variable(&what, &assignment.name, value, &dirs, view, &links, &mut out);
            }
            if let Some(subscript) = &assignment.subscript {
                self.subscript(&assignment.name, subscript, &mut out.findings);
            }
            let value = &assignment.value;
            let literal = value.is_known()
                && !value.text.is_empty()
                && value.text.bytes().all(|b| b.is_ascii_digit());
            if !literal {
                self.integer_variable(&assignment.name, &integers, &mut out.findings);
            }
        }
        for command in &analysis.commands {
            let declares = matches!(command.program.as_str(), "declare" | "typeset" | "local");
            self.declared_arithmetic(command, &integers, &mut out.findings);
            for target in targets_set_by(command).into_iter().chain(names_evaluated_by(command)) {
                if let Some((name, subscript)) = target.split_once('[') {
                    self.subscript(name, subscript.trim_end_matches(']'), &mut out.findings);
                }
            }
            // `unset PATH`: bash then looks for programs in the current directory.
            if command.program == "unset"
                && command.words.iter().any(|w| !w.is_known() || w.text == "PATH")
            {
                out.findings.push((
                    self.runs_code,
                    "unsetting `PATH` makes bash run programs from the current directory"
                        .to_owned(),
                ));
            }
            for name in variables_set_by(command) {
                self.variable(&name, None, &mut out.findings);
                if PATH_VARIABLES.contains(&name.to_ascii_uppercase().as_str()) {
                    self.path_variable_set_by(command, &name, &dirs, view, &links, &mut out);
                }
                // `declare -i n` itself sets no run-time text (its value, if any, is judged
                // by `unwrap.rs`).
                if !declares {
                    self.integer_variable(&name, &integers, &mut out.findings);
                }
            }
        }
        out
    }

    /// Bash evaluates what is assigned to `RANDOM`, `SRANDOM`, `HISTCMD`, `OPTIND` and a
    /// variable declared `-i` as arithmetic, which runs the command substitutions of a
    /// subscript (`a[$(cmd)]`) in text read at run time.
    fn integer_variable(&self, name: &str, integers: &[String], out: &mut Vec<(Decision, String)>) {
        if matches!(name, "RANDOM" | "SRANDOM" | "HISTCMD" | "OPTIND")
            || integers.iter().any(|i| i == name)
        {
            out.push((
                self.runs_code,
                format!("setting `{name}` to text known only at run time evaluates it as code"),
            ));
        }
    }

    /// What a declaration built-in's operands give bash to evaluate as arithmetic: the value
    /// of an integer (`declare -i b=x`, `b=(x)`, or `b` made one earlier on the line) and
    /// the subscripts of an indexed array's compound value (`declare b=([x]=1)`, `export`,
    /// `readonly`, `local`, quoted or not). A variable named there is read as an expression,
    /// which runs the command substitutions of a subscript in its text (`x='a[$(cmd)]'`,
    /// its `$` joined at run time): only numbers are known to be harmless (red team round
    /// 22, R22-01). An associative array's keys (`-A` on the same command) are not
    /// evaluated.
    fn declared_arithmetic(
        &self,
        command: &SimpleCommand,
        integers: &[String],
        out: &mut Vec<(Decision, String)>,
    ) {
        if !matches!(
            command.program.as_str(),
            "declare" | "typeset" | "local" | "readonly" | "export"
        ) {
            return;
        }
        let integer_here = command.words.iter().any(|w| short_flag(w, 'i'));
        let associative = command.words.iter().any(|w| short_flag(w, 'A'));
        let array = associative || command.words.iter().any(|w| short_flag(w, 'a'));
        for word in &command.words {
            if word.text.starts_with(['-', '+']) {
                continue;
            }
            // With `-a` or `-A`, a compound value the word only spells after its quotes or
            // escapes (`"b=($x)"`, `b="($x)"`, `b=\($x\)`) is parsed again from the
            // expanded text, which runs the substitutions that text holds, as `eval` would
            // (red team round 22, second pass S1). Unquoted, bash parses it once.
            if array && !word.is_known() && respelled_compound(&word.raw) {
                out.push((
                    self.runs_code,
                    format!(
                        "`{} {}` has bash parse an array value from text only known at run \
                         time, which runs the commands that text holds",
                        command.program, word.raw
                    ),
                ));
                continue;
            }
            // A compound value's elements are in the word as written only (`raw`); a
            // quoted operand (`'b=([x]=1)'`) is read the same by the built-in.
            let spellings = [word.text.as_str(), word.raw.as_str()];
            let Some((name, _)) = spellings.iter().find_map(|s| s.split_once('=')) else {
                continue;
            };
            let name = name.trim_end_matches('+');
            let base = name.split('[').next().unwrap_or_default();
            let integer = integer_here || integers.iter().any(|i| i == base);
            let compound = spellings.iter().find_map(|s| compound_elements(s));
            let refused = match &compound {
                Some(elements) => {
                    let subscript = !associative
                        && spellings.iter().any(|s| super::compound_subscript(s).is_some());
                    subscript || (integer && !elements.iter().all(|e| is_number(element_value(e))))
                }
                None => {
                    let value = word.text.split_once('=').map_or("", |(_, v)| v);
                    integer && !(word.is_known() && is_number(value))
                }
            };
            if refused {
                out.push((
                    self.runs_code,
                    format!(
                        "`{} {}` gives bash text other than a number to evaluate as arithmetic, \
                         which runs code held in a variable's text",
                        command.program, word.raw
                    ),
                ));
            }
        }
    }

    /// An indexed array's subscript is evaluated as arithmetic, and arithmetic reads a
    /// variable's text as an expression, running the command substitutions of a subscript
    /// inside it: `x=$(cat f); a[x]=1` runs what `f` holds (`b[$(cmd)]`), as do the
    /// compound `a=([$(cat f)]=1)`, `declare a[x]=1`, `printf -v 'a[x]'` and `read 'a[x]'`.
    /// A subscript other than a number is refused, for associative arrays too (whether an
    /// array is one depends on what ran before, which the line may not show).
    fn subscript(&self, name: &str, subscript: &str, out: &mut Vec<(Decision, String)>) {
        let subscript = subscript.trim();
        if subscript.is_empty() || !subscript.bytes().all(|b| b.is_ascii_digit()) {
            out.push((
                self.runs_code,
                format!(
                    "`{name}[{subscript}]` is indexed by an expression: bash evaluates it as \
                     arithmetic, which runs code held in a variable's text"
                ),
            ));
        }
    }

    /// Judges setting the variable `name` (to `value` where the line shows it).
    fn variable(&self, name: &str, value: Option<&ShellArg>, out: &mut Vec<(Decision, String)>) {
        let upper = name.to_ascii_uppercase();
        if ZSH_CODE_PARAMETERS.contains(&name)
            || !variable_values::harmless(&upper, value)
                && (CODE_VARIABLES.contains(&upper.as_str())
                    || CODE_VARIABLE_PREFIXES.iter().any(|p| upper.starts_with(p)))
        {
            out.push((
                self.runs_code,
                format!("setting `{name}` changes which program runs or what it runs"),
            ));
        }
        if WRITE_VARIABLES.contains(&upper.as_str()) {
            out.push((
                self.writes_outside,
                format!("setting `{name}` names a file the program writes, wherever it says"),
            ));
        }
        if PROXY_VARIABLES.contains(&upper.as_str()) {
            out.push((
                self.uploads,
                format!(
                    "setting `{name}` sends the program's requests through a host, a trust \
                     or credentials of the caller's choosing"
                ),
            ));
        }
    }

    /// `export TMPDIR=DIR` (`declare`, `local`, `readonly`): the value written is judged
    /// as a write; `read TMPDIR` and the like set one only known at run time. `export
    /// TMPDIR` alone keeps the value it had.
    fn path_variable_set_by(
        &self,
        command: &SimpleCommand,
        name: &str,
        dirs: &Directories,
        view: &PathView,
        links: &[(&str, bool)],
        out: &mut Assessed,
    ) {
        let declares = matches!(
            command.program.as_str(),
            "export" | "declare" | "typeset" | "local" | "readonly"
        );
        if !declares {
            out.findings.push((
                self.writes_outside,
                format!(
                    "`{}` sets `{name}`, a directory programs write under, to a value only \
                     known at run time",
                    command.program
                ),
            ));
            return;
        }
        for word in &command.words {
            let Some((set, value)) = word.text.split_once('=') else { continue };
            if set.trim_end_matches('+') != name {
                continue;
            }
            let raw = word.raw.split_once('=').map_or("", |(_, v)| v).to_owned();
            let value = ShellArg { text: value.to_owned(), raw, ..word.clone() };
            let what = format!("{} {}", command.program, word.raw);
            self.path_variable(&what, name, value, dirs, view, links, out);
        }
    }

    /// The value of a variable naming where programs write, judged as a write; `TAPE`'s
    /// `HOST:PATH` is opened through a remote shell.
    #[expect(clippy::too_many_arguments, reason = "the judge's context, passed through")]
    fn path_variable(
        &self,
        what: &str,
        name: &str,
        value: ShellArg,
        dirs: &Directories,
        view: &PathView,
        links: &[(&str, bool)],
        out: &mut Assessed,
    ) {
        if name.eq_ignore_ascii_case("TAPE") && (!value.is_known() || value.text.contains(':')) {
            out.findings.push((
                self.runs_code,
                format!("`{what}`: tar opens a `HOST:PATH` archive through a remote shell"),
            ));
        } else {
            self.judge(what, Finding::Writes(value), dirs, view, links, out);
        }
    }

    fn judge(
        &self,
        what: &str,
        finding: Finding,
        dirs: &Directories,
        view: &PathView,
        links: &[(&str, bool)],
        assessed: &mut Assessed,
    ) {
        if let Finding::Names(word) = &finding {
            assessed.targets.extend(writes::spelled_targets(word, dirs));
            let anywhere = ["/".to_owned()];
            if let Some(WriteProblem::Protected(path)) = writes::check(word, &anywhere, dirs, view)
            {
                assessed.findings.push((
                    self.runs_code,
                    format!(
                        "`{what}` gives `{path}`, configuration that makes programs run code, to \
                         a program the table does not know (listed in `allow_programs`): what it \
                         does with it is not known"
                    ),
                ));
            }
            return;
        }
        let out = &mut assessed.findings;
        // git follows no link inside its own work tree (`Finding::WorkTree`): only a link
        // made at or above the directory moves its writes.
        let tree = matches!(finding, Finding::WorkTree(_));
        let unnamed = finding.unnamed();
        let Some((target, dirs)) = finding.write_target(dirs) else {
            out.push(match finding {
                Finding::RunsCode(why) => {
                    (self.runs_code, format!("`{what}` runs code of the caller's choosing: {why}"))
                }
                Finding::Uploads(why) => {
                    (self.uploads, format!("`{what}` sends data over the network: {why}"))
                }
                Finding::Unlisted(why) => (
                    self.unknown,
                    format!("`{what}` runs {why}, which is not in the program table"),
                ),
                // `Unknown` (the write findings have a target).
                _ => (self.unknown, format!("`{what}`: the program is not in the program table")),
            });
            return;
        };
        assessed.targets.extend(writes::spelled_targets(&target, &dirs));
        if tree {
            assessed.targets.extend(writes::repository_keys(&target, &dirs));
        }
        assessed.writes.push(super::WriteWord {
            word: target.clone(),
            dirs: dirs.spelled(),
            unnamed,
        });
        // `mkdir` makes the entry it names or leaves what is there (`-p`): never through a
        // link made at that place, whichever runs first (red team round 27, hooks FP1:
        // `mkdir -p dist && cp -r assets dist/` was refused).
        let mkdir = what.split_whitespace().next() == Some("mkdir");
        let through_link =
            writes::normals(&target, &dirs).unwrap_or_default().into_iter().find_map(|path| {
                links
                    .iter()
                    .find(|(place, at)| {
                        let at_place = path == *place;
                        writes::within(&path, place)
                            && (*at || !tree || !at_place)
                            && (!mkdir || !at_place)
                    })
                    .map(|(place, _)| *place)
            });
        if let Some(place) = through_link {
            out.push((
                self.writes_outside,
                format!(
                    "`{what}` writes `{}` under `{place}`, where this line may make a symbolic \
                     link: where it lands is only known when the line runs",
                    target.raw
                ),
            ));
            return;
        }
        let problem = writes::check(&target, &self.write_paths, &dirs, view).or_else(|| {
            tree.then(|| writes::check_repository(&target, &self.write_paths, &dirs, view))
                .flatten()
        });
        match problem {
            None => {}
            Some(WriteProblem::Outside(path)) => out.push((
                self.writes_outside,
                format!("`{what}` writes `{path}`, outside the write paths"),
            )),
            Some(WriteProblem::OutsideResolved { spelled, resolved }) => out.push((
                self.writes_outside,
                format!(
                    "`{what}` writes `{spelled}`, which resolves on the filesystem to \
                     `{resolved}` (through a symbolic link), outside the write paths"
                ),
            )),
            Some(WriteProblem::OutsideRepository { dir, root }) => out.push((
                self.writes_outside,
                format!(
                    "`{what}` works in `{dir}`, whose repository git finds at `{root}`, \
                     outside the write paths: the history and the work tree it writes are \
                     that repository's"
                ),
            )),
            Some(WriteProblem::RepositoryUnknown(reason)) => {
                out.push((self.writes_outside, format!("`{what}`: {reason}")))
            }
            Some(WriteProblem::Unknown(path)) => out.push((
                self.writes_outside,
                format!("`{what}` writes `{path}`, a path only known at run time"),
            )),
            Some(WriteProblem::Protected(path)) => out.push((
                self.runs_code,
                format!("`{what}` writes `{path}`, configuration that makes programs run code"),
            )),
            Some(WriteProblem::Network(path)) => {
                out.push((self.uploads, format!("`{what}` opens the network connection `{path}`")));
                assessed.network.get_or_insert_with(|| what.to_owned());
            }
        }
    }

    /// What one command can do.
    fn command_findings(
        &self,
        command: &SimpleCommand,
        listed: &dyn Fn(&str) -> bool,
    ) -> Vec<Finding> {
        if command.dynamic {
            // Reported as dynamic already; its arguments say nothing reliable.
            return Vec::new();
        }
        if command.path.is_some() {
            // A file named by its path: the table's entry of that name is not it.
            return vec![Finding::Unknown];
        }
        let Some(spec) = self.spec(&command.program) else {
            if command.wrapper || HARMLESS_BUILTINS.contains(&command.program.as_str()) {
                return Vec::new();
            }
            return if listed(&command.program) {
                listed_unknown(command)
            } else {
                vec![Finding::Unknown]
            };
        };
        let mut words = spellings::prepare(spec.special, &command.words);
        // Arguments appended at run time after the written ones (`xargs curl < list`):
        // read as one more word only known then, which may be any option, URL or path.
        let appended = command.appended;
        if appended {
            words.to_mut().push(appended_word());
        }
        let scanned = scan(spec, &words);
        let mut out = Vec::new();
        if spec.runs_code && !command.runs_known_tool {
            out.push(Finding::RunsCode(format!("`{}` runs other code", command.program)));
        }
        if spec.uploads {
            out.push(Finding::Uploads(format!("`{}` connects to other hosts", command.program)));
        }
        let mut in_place = false;
        for option in &scanned.options {
            for name in &option.names {
                let has = |list: &[String]| list.iter().any(|o| o == name);
                // An entry ending in `.` names every option it starts (`--config.`).
                let prefixed = |list: &[String]| {
                    list.iter().any(|o| o.ends_with('.') && name.starts_with(o.as_str()))
                };
                if has(&spec.runs_code_options) || prefixed(&spec.runs_code_options) {
                    out.push(Finding::RunsCode(format!("option `{name}`")));
                }
                // An entry ending in `/` runs code when its value is a path, or only known
                // at run time (`uv --python ./x`; not `--python 3.12`).
                let path_valued =
                    spec.runs_code_options.iter().any(|o| o.strip_suffix('/') == Some(name));
                if path_valued
                    && option.value.as_ref().is_none_or(|v| !v.is_known() || v.text.contains('/'))
                {
                    out.push(Finding::RunsCode(format!("option `{name}` naming a program")));
                }
                if has(&spec.upload_options) {
                    out.push(Finding::Uploads(format!("option `{name}`")));
                }
                if has(&spec.write_options)
                    && let Some(value) = &option.value
                {
                    out.push(Finding::Writes(value.clone()));
                }
                in_place |= has(&spec.in_place_options);
            }
        }
        if scanned.unknown_option {
            let why = "an argument only known at run time may be any option".to_owned();
            if !spec.runs_code_options.is_empty() {
                out.push(Finding::RunsCode(why));
            } else if !spec.upload_options.is_empty() {
                out.push(Finding::Uploads(why));
            } else if let Some(first) = spec.write_options.first() {
                out.push(Finding::Writes(ShellArg {
                    raw: format!("{first} <run-time value>"),
                    expansion: true,
                    ..ShellArg::default()
                }));
            }
        }
        match subcommands::words(&command.program, &scanned.positionals) {
            Err(why) => out.push(Finding::RunsCode(why)),
            Ok(names) => {
                if let Some(base) =
                    super::project_install::user_base_written(&command.program, &names, &scanned)
                {
                    out.push(Finding::Writes(base));
                }
                // A first word only known at run time may be any subcommand.
                let unknown = scanned.positionals.first().is_some_and(|f| !f.is_known());
                let sub = |list: &[String]| {
                    unknown && !list.is_empty() || names.iter().any(|n| list.contains(n))
                };
                let said = || {
                    let words = scanned.positionals.iter().take(names.len());
                    words.map(|w| w.raw.as_str()).collect::<Vec<_>>().join(" ")
                };
                if sub(&spec.runs_code_subcommands)
                    && !super::project_install::installs_the_project(
                        &command.program,
                        &names,
                        &scanned,
                    )
                {
                    out.push(Finding::RunsCode(format!("subcommand `{}`", said())));
                }
                if sub(&spec.upload_subcommands) {
                    out.push(Finding::Uploads(format!("subcommand `{}`", said())));
                }
            }
        }
        let informational = scanned.options.iter().any(|o| {
            o.names.iter().any(|n| matches!(n.as_str(), "--version" | "-V" | "--help" | "-h"))
        });
        let code_option = scanned
            .options
            .iter()
            .any(|o| o.names.iter().any(|n| spec.runs_code_options.contains(n)));
        // A script that is standard input under another name (`/dev/stdin`,
        // `/proc/self/fd/0`, a `<(...)` descriptor), and Python's `-i`, which reads
        // standard input after the script, are code from standard input too.
        // node's `-v` is its version, and `--test` runs the project's test files: neither
        // reads code from standard input (round 26, hooks FP2).
        let node_own = spec.special == Some(Special::Node) && scanned.has(&["-v", "--test"]);
        let stdin = (!node_own && scanned.positionals.is_empty())
            || scanned.positionals.first().is_some_and(|p| spellings::is_standard_input(&p.text))
            || (spec.special == Some(Special::Python) && scanned.has(&["-i"]));
        if spec.stdin_code
            && stdin
            && !informational
            && !code_option
            && !special::runs_module(spec.special, &scanned)
        {
            out.push(Finding::RunsCode("it reads code from its standard input".to_owned()));
        }
        let positionals = &scanned.positionals;
        // An option's value that starts with `-` was read both as the value and as options
        // (`scan.rs`): then which operand a program writes by position is not known either
        // (`cp -S -t payload /etc/cron.d/x` writes the last: second pass, N01).
        let ambiguous = scanned.options.iter().any(|o| {
            o.value
                .as_ref()
                .is_some_and(|v| v.is_known() && v.text.starts_with('-') && v.text != "-")
        });
        let written: Vec<&ShellArg> = if in_place || (ambiguous && spec.writes != Writes::None) {
            positionals.iter().collect()
        } else {
            match spec.writes {
                Writes::None => Vec::new(),
                Writes::All => positionals.iter().collect(),
                // A glob or brace expansion may become no word or several (`nullglob`), so
                // the operand that lands in the written position is not known: where one
                // stands there or before it, every operand up to it may be written (red team
                // round 20, F16: `shopt -s nullglob; cp payload /etc/cron.d/x none*`).
                Writes::Last if positionals.last().is_some_and(|p| p.pattern) => {
                    positionals.iter().collect()
                }
                Writes::Last if positionals.len() >= 2 => positionals.last().into_iter().collect(),
                Writes::Last => Vec::new(),
                Writes::AfterFirst => positionals.iter().skip(1).collect(),
                Writes::Second if positionals.iter().take(2).any(|p| p.pattern) => {
                    positionals.iter().collect()
                }
                Writes::Second => positionals.get(1).into_iter().collect(),
            }
        };
        // The options come first, up to `--` or the first word that is none.
        let set_options = command
            .words
            .iter()
            .take_while(|w| !w.is_known() || (w.text.starts_with(['-', '+']) && w.text != "--"));
        if command.program == "set"
            && set_options.into_iter().any(|w| !w.is_known() || w.text.contains('A'))
        {
            // zsh's `set -A NAME VALUES` assigns an array (`set -A path /tmp/evil ...`
            // changes where programs are found); bash refuses the option (round 21).
            out.push(Finding::RunsCode("zsh's `set -A` assigns a variable".to_owned()));
        }
        if let Some(repository) = copied_repository(&command.program, &scanned) {
            // The copy is a repository whose configuration and hooks git runs, by any
            // name (red team round 20, F07: `cp -r .git /tmp/g`, then its `config`).
            out.push(Finding::RunsCode(format!(
                "it copies the git directory `{}`: the copy is a repository whose \
                 configuration and hooks git runs",
                repository.raw
            )));
        }
        // `ln`'s options and target directory, read once for both of its ends.
        let ln = (command.program == "ln").then(|| {
            let names: Vec<&str> =
                scanned.options.iter().flat_map(|o| &o.names).map(String::as_str).collect();
            (names, scanned.values(&["-t", "--target-directory"]).next())
        });
        // A relative target of `ln -s` is written only where the link's directory reads it
        // (`symlink_targets`), not as written from here (red team round 24, hooks F3).
        let written: Vec<&ShellArg> = match &ln {
            Some((names, directory)) if !in_place => written
                .into_iter()
                .filter(|w| {
                    !link_makers::target_read_from_link(
                        names,
                        *directory,
                        positionals,
                        scanned.unknown_option,
                        w,
                    )
                })
                .collect(),
            _ => written,
        };
        if spec.special != Some(Special::Sed) {
            out.extend(written.into_iter().map(|w| Finding::Writes(w.clone())));
        }
        if let Some((names, directory)) = &ln {
            let targets = link_makers::symlink_targets(
                names,
                *directory,
                &scanned.positionals,
                scanned.unknown_option,
            );
            out.extend(targets.into_iter().map(Finding::Writes));
        }
        if command.program == "cp" {
            out.extend(parents_targets(&scanned).into_iter().map(Finding::Writes));
        }
        if matches!(command.program.as_str(), "cp" | "mv" | "install") {
            out.extend(landing_targets(&scanned).into_iter().map(Finding::Writes));
        }
        // Without a prefix, `split` writes `xaa`... and `csplit` `xx00`... in the working
        // directory; without a directory, `busybox --install` writes in the system's.
        let default_output = match command.program.as_str() {
            "split" if scanned.positionals.len() < 2 => Some("x"),
            "csplit" if !scanned.has(&["-f", "--prefix"]) => Some("xx"),
            "busybox" if in_place && scanned.positionals.is_empty() => Some("/usr/bin"),
            _ => None,
        };
        out.extend(default_output.map(|p| Finding::Writes(ShellArg::known(p))));
        let has_grammar = matches!(
            spec.special,
            Some(Special::Git | Special::Sed | Special::Awk | Special::Tar | Special::Make)
        );
        if appended && (!spec.runs_code_options.is_empty() || has_grammar) {
            // `echo alias.x '!sh' | xargs git config`: appended words may be anything.
            out.push(Finding::RunsCode(
                "arguments appended at run time may be options or code".to_owned(),
            ));
        }
        if appended && spec.writes != Writes::None {
            // Arguments appended at run time (`xargs rm`) are written too.
            out.push(Finding::Writes(appended_word()));
        }
        // A response file holds more options (`rustc @args`, `pytest @args`, `tsc @args`):
        // any of them, a plugin or an output among them.
        if RESPONSE_FILES.contains(&command.program.as_str())
            && let Some(file) = scanned.positionals.iter().find(|w| w.raw.starts_with('@'))
        {
            out.push(Finding::RunsCode(format!("`{}` reads options from a file", file.raw)));
        }
        if let Some(kind) = spec.special {
            special::read(kind, &command.program, &words, &scanned, in_place, &mut out);
        }
        user_state::read(&command.program, &scanned, &mut out);
        creates::read(&command.program, &scanned, &mut out);
        out
    }
}

/// Options that, by their common meaning, make a program load code or configuration that
/// may run code (`pre-commit run --config F`, `webpack --config F`, `node --require M`).
const CODE_OPTIONS: [&str; 26] = [
    "--config",
    "--config-file",
    "--configfile",
    "--rcfile",
    "--init-file",
    "--plugin",
    "--plugins",
    "--require",
    "--preload",
    "--loader",
    "--import",
    "--exec",
    "--eval",
    "--hook",
    "--hooks",
    "--script",
    // Variables for the command it runs, read from a file: `LD_PRELOAD`, `PATH`,
    // `GIT_CONFIG_PARAMETERS` among them (`dotenv -e F -- CMD`, `honcho run -e F`: red
    // team round 29, hooks H4).
    "--env-file",
    "--dotenv",
    // Plugins and start-up code by other names (`pylint --load-plugins M`,
    // `--init-hook CODE`, `clang-tidy --load LIB`, round 29 hooks H6).
    "--load-plugins",
    "--init-hook",
    "--load",
    "--profile-dir",
    // pandoc's filters (programs, Lua scripts), sqlite3's `-cmd`, OpenSSL's engines
    // (shared objects it loads): red team round 31, shell F9.
    "--filter",
    "--lua-filter",
    "--cmd",
    "--engine",
];

/// Words that make a database shell or another program the table does not know run a
/// command or load code: sqlite3's dot-commands (`.shell`, `.system`, `.load`) and
/// `load_extension(...)`, psql's `\!` and `COPY ... TO PROGRAM` (red team round 31,
/// shell F9), as a statement's start or anywhere in one word.
fn runs_code_word(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let starts = |prefix: &str| {
        lower.split([';', '\n']).any(|statement| statement.trim_start().starts_with(prefix))
    };
    // A dot-command or a meta-command that pipes to a command (`.once '|cmd'`, `.output
    // |cmd`, `.read '|cmd'`, psql's `\o |cmd`, `\g |cmd`), or that reads commands from a
    // file (psql's `\i`, `\ir`): second pass, P2-6.
    let dot_pipes = lower.split([';', '\n']).any(|statement| {
        let statement = statement.trim_start();
        statement.starts_with('.') && statement.contains('|')
    });
    // A meta-command anywhere in the text (`select 1 \g |cmd`).
    let meta_pipes = lower.split('\\').skip(1).any(|after| {
        let rest = after.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        rest.len() < after.len() && rest.trim_start().starts_with('|')
    });
    let pipes = dot_pipes || meta_pipes;
    let includes = lower
        .split_whitespace()
        .any(|w| matches!(w, "\\i" | "\\ir" | "\\include" | "\\include_relative"));
    starts(".sh")
        || starts(".system")
        || starts(".load")
        || pipes
        || includes
        || lower.contains("\\!")
        || lower.contains("load_extension")
        || lower.contains("edit(")
        || (lower.contains("program") && (lower.contains("copy") || lower.contains("\\copy")))
}

/// Options of programs the table does not know, often listed, that run code or read it
/// from a file: sqlite3's start-up file and commands, psql's script file, pandoc's
/// filters, defaults file and PDF engine, OpenSSL's providers and engines (red team round
/// 31, second pass, P2-6). An option's value may be attached (`-Ffilter`, `--defaults=x`).
const PROGRAM_CODE_OPTIONS: [(&str, &[&str]); 4] = [
    ("sqlite3", &["-init", "-cmd"]),
    ("psql", &["-f", "--file"]),
    ("pandoc", &["-F", "-L", "-d", "--defaults", "--pdf-engine", "--filter", "--lua-filter"]),
    ("openssl", &["-provider", "-provider-path", "-engine"]),
];

/// Whether `name` is one of [`CODE_OPTIONS`] as programs accept it: with one dash as LLVM's
/// and Go's tools read long options (`-load=x`), or as an unambiguous prefix as argparse
/// and click do (`--load-p`, `--init-h`: second pass, M1), from seven characters on (not
/// `--init`, a flag of many tools).
fn is_code_option(name: &str) -> bool {
    let long = match name.strip_prefix("--") {
        Some(_) => name.to_owned(),
        None if name.starts_with('-') && name.len() > 2 => format!("-{name}"),
        None => return false,
    };
    CODE_OPTIONS.contains(&long.as_str())
        || (long.len() >= 7 && CODE_OPTIONS.iter().any(|o| o.starts_with(long.as_str())))
}

/// What a program the table does not know, which `allow_programs` lists, is judged on:
/// the policy trusts it to run, not to take code from where the caller says or to write
/// configuration that runs code (red team round 26, hooks M3). Each word's paths
/// ([`super::word_paths`]) are [`Finding::Names`]; an option of [`CODE_OPTIONS`] runs code.
fn listed_unknown(command: &SimpleCommand) -> Vec<Finding> {
    let mut out = Vec::new();
    // Runners of a command with an env file, whose short options say so (`dotenv -e F`,
    // `honcho run -e F`, `foreman start -e F`); ipython's `-c CODE`; pre-commit's
    // `try-repo`, which runs another repository's hooks.
    let program = command.program.as_str();
    // They load `.env` (or the file an option names) into what they run, whatever their
    // options (`dotenv run git status` with `GIT_CONFIG_*` in `.env`: second pass, H4);
    // IPython runs code from its options in many spellings (`--c=`, traitlets'
    // `--InteractiveShellApp.exec_lines=`, `--ext`): an interpreter, as `python3` is.
    if matches!(
        program,
        "dotenv" | "dotenvx" | "honcho" | "foreman" | "forego" | "ipython" | "ipython3"
    ) {
        out.push(Finding::RunsCode(format!(
            "`{program}` runs code or sets the variables of what it runs from a file"
        )));
    }
    if let Some((_, options)) = PROGRAM_CODE_OPTIONS.iter().find(|(name, _)| *name == program)
        && let Some(word) = command.words.iter().find(|w| {
            options.iter().any(|o| {
                w.text == *o
                    || w.text.strip_prefix(o).is_some_and(|rest| {
                        rest.starts_with('=') || (!o.starts_with("--") && o.len() == 2)
                    })
            })
        })
    {
        out.push(Finding::RunsCode(format!(
            "`{program} {}` runs code or reads it from a file",
            word.raw
        )));
    }
    if program == "openssl" && command.words.first().is_some_and(|w| w.text == "engine") {
        out.push(Finding::RunsCode("`openssl engine` loads the engine it names".to_owned()));
    }
    if let Some(word) = command.words.iter().find(|w| runs_code_word(&w.text)) {
        out.push(Finding::RunsCode(format!(
            "`{}` makes a program the table does not know run a command or load code",
            word.raw
        )));
    }
    if program == "pre-commit" && command.words.iter().any(|w| w.text == "try-repo") {
        out.push(Finding::RunsCode(
            "`pre-commit try-repo` runs another repository's hooks".to_owned(),
        ));
    }
    // A word built at run time (`$X/.envrc`) is not read: any word may be one.
    for word in command.words.iter().filter(|w| !w.expansion && !w.pattern) {
        let name = word.text.split_once('=').map_or(word.text.as_str(), |(name, _)| name);
        if is_code_option(name) {
            out.push(Finding::RunsCode(format!(
                "option `{name}` of a program the table does not know, which may load code from \
                 what it names"
            )));
        }
        for path in word_paths(&word.text) {
            // Under a home directory (`~/.bashrc`), whichever: configuration is known by
            // its names, not by where the home is.
            let path = match path.strip_prefix('~').filter(|_| word.tilde) {
                Some(rest) => match rest.split_once('/') {
                    Some((_, below)) if !below.is_empty() => below.to_owned(),
                    _ => continue,
                },
                None => path,
            };
            out.push(Finding::Names(ShellArg::known(&path)));
        }
    }
    out
}

/// Programs in the table that read options from `@FILE` (the C compilers' reader says so
/// itself, `cc.rs`).
const RESPONSE_FILES: [&str; 9] =
    ["rustc", "rustdoc", "pytest", "py.test", "tsc", "javac", "java", "kotlinc", "dotnet"];

/// The words `xargs` appends at run time, as one word only known then.
fn appended_word() -> ShellArg {
    ShellArg { raw: super::APPENDED_ARGUMENTS.to_owned(), expansion: true, ..ShellArg::default() }
}

/// Programs that hand the rest of their words to a command the analyser reads by itself
/// (`sudo rm x` is also `rm x`): their own words are that command's, judged there.
const RUNS_ANALYSED: [&str; 5] = ["sudo", "doas", "su", "pkexec", "runuser"];

/// `command` as an [`OpaqueCommand`], when the table cannot list what it writes: a program
/// only known at run time, unknown or named by its path, one that runs code of the
/// caller's choosing, an `interpreter` running a script, or one that writes a whole tree
/// (`link_makers::writes_tree`).
fn opaque(
    command: &SimpleCommand,
    found: &[Finding],
    interpreter: bool,
    dirs: &Directories,
) -> Option<super::OpaqueCommand> {
    let runs = interpreter
        || found
            .iter()
            .any(|f| matches!(f, Finding::Unknown | Finding::Unlisted(_) | Finding::RunsCode(_)));
    let tree = link_makers::writes_tree(command);
    let code = (command.dynamic || runs)
        && !command.wrapper
        && !RUNS_ANALYSED.contains(&command.program.as_str());
    if !(tree || code) {
        return None;
    }
    Some(super::OpaqueCommand {
        program: command.program.clone(),
        words: command.words.clone(),
        dirs: dirs.spelled(),
        appended: command.unknown_args.is_some(),
        tree,
    })
}

/// The variables a built-in sets by name rather than with a `NAME=` word: `export NAME`,
/// `declare NAME`, `read NAME`, `printf -v NAME`, `getopts SPEC NAME`.
fn variables_set_by(command: &SimpleCommand) -> Vec<String> {
    targets_set_by(command)
        .iter()
        .map(|target| {
            let name = target.split('[').next().unwrap_or_default();
            name.trim_end_matches('+').to_owned()
        })
        .collect()
}

/// What [`variables_set_by`] names, as written: `a[x]` with its subscript.
fn targets_set_by(command: &SimpleCommand) -> Vec<String> {
    let name_of = |text: &str| text.split('=').next().unwrap_or_default().to_owned();
    let words = &command.words;
    match command.program.as_str() {
        // A name reference's target is set by every later assignment to the reference
        // (`declare -n r=PATH; r=./bin`).
        "declare" | "typeset" | "local" if words.iter().any(|w| short_flag(w, 'n')) => words
            .iter()
            .filter(|w| !w.text.starts_with(['-', '+']) && !w.text.is_empty())
            .flat_map(|w| {
                let target = w.text.split_once('=').map(|(_, target)| name_of(target));
                std::iter::once(name_of(&w.text)).chain(target)
            })
            .collect(),
        // `-p` prints the variables it names, `-f` and `-F` name functions: nothing is set
        // (`declare -p PATH`, red team round 20, FP2). Without `-n`, which is above.
        "export" | "declare" | "typeset" | "local" | "readonly"
            if words.iter().any(|w| ['p', 'f', 'F'].iter().any(|f| short_flag(w, *f)))
                && !words.iter().any(|w| w.text.contains('=')) =>
        {
            Vec::new()
        }
        "export" | "declare" | "typeset" | "local" | "readonly" | "read" | "mapfile"
        | "readarray" => words
            .iter()
            .filter(|w| !w.text.starts_with('-') && !w.text.is_empty())
            .map(|w| name_of(&w.text))
            .collect(),
        "printf" => {
            let mut names = Vec::new();
            for (i, word) in words.iter().enumerate() {
                match word.text.strip_prefix("-v") {
                    Some("") => names.extend(words.get(i + 1).map(|w| name_of(&w.text))),
                    Some(attached) => names.push(name_of(attached)),
                    None => {}
                }
            }
            names
        }
        "getopts" => words
            .iter()
            .filter(|w| !w.text.starts_with('-'))
            .skip(1)
            .take(1)
            .map(|w| name_of(&w.text))
            .collect(),
        _ => Vec::new(),
    }
}

impl ProgramGuard {
    /// A copy whose operand lies in a git directory, as the line's directories place it
    /// (`cd .git && cp -r . /tmp/g`, `cp -rT .git/logs /tmp/g`, a submodule's
    /// `.git/modules/lib`): what it copies may be a repository, or its `HEAD`, whatever
    /// the operand's last name (round 21, second pass, N-02, N-03).
    fn repository_copies(
        &self,
        analysis: &Analysis,
        dirs: &Directories,
        findings: &mut [Vec<Finding>],
    ) {
        for (command, found) in analysis.commands.iter().zip(findings.iter_mut()) {
            if !COPIES.contains(&command.program.as_str()) {
                continue;
            }
            let Some(spec) = self.spec(&command.program) else { continue };
            let words = spellings::prepare(spec.special, &command.words);
            let scanned = scan(spec, &words);
            // A single file out of a git directory makes no repository, but its `HEAD`
            // copied into a directory does (`copied_repository`).
            let recursive = command.program == "ditto"
                || scanned.has_abbreviated(&["-r", "-R", "-a", "--recursive", "--archive"]);
            if !recursive {
                continue;
            }
            let inside = scanned.positionals.iter().find(|operand| {
                writes::normals(operand, dirs).unwrap_or_default().iter().any(|path| {
                    path.split('/').any(|c| c == ".git" || (c.len() > 4 && c.ends_with(".git")))
                })
            });
            if let Some(operand) = inside {
                found.push(Finding::RunsCode(format!(
                    "it copies `{}` out of a git directory: the copy may be a repository \
                     whose configuration and hooks git runs",
                    operand.raw
                )));
            }
        }
    }
}

/// The programs that copy files by name (`copied_repository`, `repository_copies`).
const COPIES: [&str; 6] = ["cp", "rsync", "ditto", "install", "ln", "scp"];

/// make takes its environment as make variables (`X='$(shell cmd)' make`, `export
/// DESTDIR=/etc; make install`): every assignment and export of the line is judged for
/// each `make` as if it were on make's command line (red team round 20, F12).
fn make_environment(analysis: &Analysis, findings: &mut [Vec<Finding>]) {
    const MAKES: [&str; 2] = ["make", "gmake"];
    if !analysis.commands.iter().any(|c| MAKES.contains(&c.program.as_str())) {
        return;
    }
    let mut variables: Vec<ShellArg> = analysis
        .assignments
        .iter()
        .map(|a| ShellArg {
            text: format!("{}={}", a.name, a.value.text),
            raw: format!("{}={}", a.name, a.value.raw),
            ..a.value.clone()
        })
        .collect();
    let exports = analysis.commands.iter().filter(|c| {
        matches!(c.program.as_str(), "export" | "declare" | "typeset" | "local" | "readonly")
    });
    // An exported name without a value (`read CC; export CC`, `for DESTDIR in ...; do
    // export DESTDIR`) carries whatever the line set it to: a value only known at run time
    // (second pass, N05).
    variables.extend(exports.flat_map(|c| {
        c.words.iter().filter(|w| !w.text.starts_with(['-', '+'])).map(|w| {
            if w.text.contains('=') {
                w.clone()
            } else {
                ShellArg { text: format!("{}=", w.text), expansion: true, ..w.clone() }
            }
        })
    }));
    for (command, found) in analysis.commands.iter().zip(findings.iter_mut()) {
        if MAKES.contains(&command.program.as_str()) {
            for variable in &variables {
                special::make_variable(variable, found);
            }
        }
    }
}

/// The variable names a built-in evaluates without setting them: `test -v NAME` (`[`,
/// `[[`), `unset NAME`, `wait -p NAME`. A subscript there is arithmetic as in an assignment
/// (`x=$(cat f); test -v 'b[x]'` runs what `f` holds: red team round 20, F02).
fn names_evaluated_by(command: &SimpleCommand) -> Vec<String> {
    let words = &command.words;
    let after = |flag: &str| -> Vec<String> {
        words
            .iter()
            .zip(words.iter().skip(1))
            .filter(|(w, _)| w.text == flag)
            .map(|(_, name)| name.text.clone())
            .collect()
    };
    match command.program.as_str() {
        "test" | "[" | "[[" => after("-v"),
        "wait" => after("-p"),
        "unset" => {
            words.iter().filter(|w| !w.text.starts_with('-')).map(|w| w.text.clone()).collect()
        }
        _ => Vec::new(),
    }
}

/// The elements of a compound assignment `NAME=(E1 E2 ...)` as written, or `None` when
/// the text assigns no compound value.
fn compound_elements(text: &str) -> Option<Vec<&str>> {
    let (_, value) = text.split_once('=')?;
    let inner = value.trim_start().strip_prefix('(')?;
    let inner = inner.trim_end().trim_end_matches(['\'', '"']).trim_end();
    let inner = inner.strip_suffix(')').unwrap_or(inner);
    Some(inner.split_whitespace().collect())
}

/// Whether a word as written spells `NAME=(...)` only once its quotes or escapes are
/// removed: not bash's compound assignment syntax, which the parser reads itself.
fn respelled_compound(raw: &str) -> bool {
    let plain: String = raw.chars().filter(|c| !matches!(c, '"' | '\'' | '\\')).collect();
    let spells = plain.split_once('=').is_some_and(|(_, value)| value.starts_with('('));
    let syntax = raw
        .split_once('=')
        .is_some_and(|(name, value)| value.starts_with('(') && !name.contains(['"', '\'', '\\']));
    spells && !syntax
}

/// An element's value: what follows `[SUBSCRIPT]=`, or the whole element.
fn element_value(element: &str) -> &str {
    match element.strip_prefix('[').and_then(|rest| rest.split_once("]=")) {
        Some((_, value)) => value,
        None => element,
    }
}

/// Whether `text` is a decimal integer, signed or not, or nothing (bash reads an empty
/// value as 0): all that arithmetic evaluation leaves as it is.
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `word` is a short-option cluster (`-i`, `-ix`) holding `letter`.
fn short_flag(word: &ShellArg, letter: char) -> bool {
    word.is_known()
        && word.text.starts_with('-')
        && !word.text.starts_with("--")
        && word.text.chars().skip(1).any(|c| c == letter)
}

/// `cp --parents SOURCE... DIRECTORY` (or `-t DIRECTORY`) writes `DIRECTORY/SOURCE`, the
/// source's own path appended: a source with `..` lands outside the directory (`cp
/// --parents ../../etc/x .` writes `./../../etc/x`). Each such path, as a write.
fn parents_targets(scanned: &super::scan::Scanned) -> Vec<ShellArg> {
    let names = scanned.options.iter().flat_map(|o| &o.names);
    // `--par`: GNU getopt takes any unambiguous prefix.
    if !names.into_iter().any(|n| super::scan::abbreviates(n, "--parents")) {
        return Vec::new();
    }
    let (directory, sources) = match scanned.values(&["-t", "--target-directory"]).next() {
        Some(directory) => (directory, &scanned.positionals[..]),
        None => match scanned.positionals.split_last() {
            Some((directory, sources)) => (directory, sources),
            None => return Vec::new(),
        },
    };
    sources
        .iter()
        .map(|source| ShellArg {
            text: format!("{}/{}", directory.text, source.text),
            raw: format!("{} (with --parents {})", directory.raw, source.raw),
            expansion: directory.expansion || source.expansion,
            pattern: directory.pattern || source.pattern,
            tilde: directory.tilde,
        })
        .collect()
}

/// Where each source of a copy or move lands when its destination is a directory: the
/// destination joined with the source's name, which no word of the line spells (`cp
/// /tmp/x/.mcp.json .`, `cp -r /tmp/skills .claude/`: red team round 23, second pass N2).
/// A destination that is a file makes these paths beneath it, which no write reaches: they
/// are checked all the same (only a protected name or a place outside can refuse them).
fn landing_targets(scanned: &super::scan::Scanned) -> Vec<ShellArg> {
    let (directory, sources) = match scanned.values(&["-t", "--target-directory"]).next() {
        Some(directory) => (directory, scanned.positionals.as_slice()),
        None => match scanned.positionals.split_last() {
            Some((directory, sources)) => (directory, sources),
            None => return Vec::new(),
        },
    };
    // A source only known at run time or a pattern lands under a name no check could spell
    // either (left to the destination's own check, as before).
    sources
        .iter()
        .filter(|source| !source.expansion && !source.pattern)
        .filter_map(|source| {
            let name = source.text.trim_end_matches('/').rsplit('/').next()?;
            if matches!(name, "" | "." | "..") {
                return None;
            }
            // As the shell would read it: the directory as written, the name quoted.
            let quoted = format!("'{}'", name.replace('\'', "'\\''"));
            Some(ShellArg {
                text: format!("{}/{name}", directory.text.trim_end_matches('/')),
                raw: format!("{}/{quoted}", directory.raw.trim_end_matches('/')),
                ..directory.clone()
            })
        })
        .collect()
}

/// What a copy takes that makes its destination a repository git reads the configuration
/// of, by any name (round 20, F07; round 21): an operand that is, lexically normalised, a
/// `.git` directory or a bare `NAME.git` (`.git/.`, `./.git/./`), a file named `HEAD`
/// (copied into a directory it keeps its name, which no written path shows: `cp .git/HEAD
/// /tmp/g/`), or a glob that may match `.git` or names what is inside one (`.gi?`,
/// `.[g]it`, `.git/*`). Whether the copy is recursive does not matter: a program that
/// does not copy directories fails on one.
fn copied_repository<'a>(program: &str, scanned: &'a super::scan::Scanned) -> Option<&'a ShellArg> {
    if !COPIES.contains(&program) {
        return None;
    }
    let repository = |c: &str| c == ".git" || (c.len() > 4 && c.ends_with(".git"));
    let names_repository = |c: &str| repository(c) || c == "HEAD" || glob_may_match(c, ".git");
    scanned.positionals.iter().find(|operand| {
        if operand.expansion && !operand.pattern {
            return false;
        }
        let normal = writes::normalise(&operand.text);
        let components: Vec<&str> = normal.split('/').filter(|c| !c.is_empty()).collect();
        let Some((last, before)) = components.split_last() else { return false };
        if repository(last) || *last == "HEAD" {
            return true;
        }
        operand.pattern && (names_repository(last) || before.iter().any(|c| names_repository(c)))
    })
}

/// Whether the glob component `pattern` may match `name`: `*`, `?` and bracket
/// expressions (any one character, whatever the brackets hold: it errs towards a match),
/// a leading `.` matched only by a `.` written there, as bash globs without `dotglob`.
fn glob_may_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with(['.', '[', '\\']) {
        return false;
    }
    fn matches(pattern: &[char], name: &[char]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some(('*', rest)) => {
                (0..=name.len()).any(|k| matches(rest, name.get(k..).unwrap_or_default()))
            }
            Some(('?', rest)) => name.split_first().is_some_and(|(_, tail)| matches(rest, tail)),
            Some(('[', rest)) => match rest.iter().skip(1).position(|c| *c == ']') {
                Some(close) => name.split_first().is_some_and(|(_, tail)| {
                    matches(rest.get(close + 2..).unwrap_or_default(), tail)
                }),
                None => {
                    name.first() == Some(&'[') && matches(rest, name.get(1..).unwrap_or_default())
                }
            },
            Some(('\\', rest)) => match rest.split_first() {
                Some((c, after)) => {
                    name.first() == Some(c) && matches(after, name.get(1..).unwrap_or_default())
                }
                None => false,
            },
            Some((c, rest)) => {
                name.first() == Some(c) && matches(rest, name.get(1..).unwrap_or_default())
            }
        }
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches(&pattern, &name)
}
