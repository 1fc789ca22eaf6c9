//! Shell command arguments: every simple command a command line would run, found and
//! normalised before rules match, so that a denied command cannot get through by being
//! rewritten.
//!
//! [`analyse`] lexes the line into words and operators (`lex`, `word`), collects its
//! simple commands including those in subshells, groups and command substitutions
//! (`parse`), looks through wrappers such as `sudo`, `xargs` and `bash -c` (`unwrap`,
//! reading their `options`) and spells flags one canonical way (`normalise`).
//! [`ShellRules::check`] then matches [`CommandPattern`]s against each command. What
//! cannot be known without running the line is never assumed harmless: a program built
//! from an expansion is *dynamic*, an argument built from one is *unknown* and may be any
//! flag, and a line we cannot parse is blocked.

mod archives;
mod argv;
mod cc;
mod creates;
mod curl;
mod curl_options;
mod downloads;
mod equivalents;
mod finding;
mod gh;
mod git;
mod guard;
mod lex;
mod link_makers;
mod names;
mod network;
mod normalise;
mod options;
mod parse;
pub mod programs;
mod project_install;
mod python_modules;
mod rust_tools;
mod scan;
mod scripts;
mod special;
mod spellings;
mod subcommands;
mod tool_readers;
mod unwrap;
mod user_state;
mod variable_values;
mod variables;
mod wgetrc;
mod word;
mod word_paths;
mod writes;

pub use argv::{argv_line, quote_word};
pub use git::{harmless_git_setting, is_git_subcommand};
pub use guard::ProgramGuard;
pub use programs::{ProgramSpec, Special, Writes};
pub use word_paths::word_paths;

use std::collections::HashSet;
use std::fmt;

use crate::decision::Decision;
use crate::resolved::PathView;
use crate::violation::Violation;

pub(crate) use network::host_operands;
pub use writes::is_protected as is_code_config;

/// How deep command substitutions, re-parsed `bash -c` strings and wrappers may nest
/// before the line is refused; this bounds recursion on hostile input.
const MAX_DEPTH: usize = 32;

/// Shell built-ins that run no program and touch no file: under `allow_programs` they
/// need not be listed (`cd src && cargo test`, `while read -r f; do ...; done`, `[ -f x ] ||
/// exit 1`). Redirections are not judged here, nor what they set (`read 'a[x]'`: the
/// variable rules). Not `hash` (`-p` names the file a name runs) nor `jobs` (`-x` runs a
/// command).
const HARMLESS_BUILTINS: [&str; 34] = [
    "cd", "pushd", "popd", "dirs", "export", "unset", "local", "declare", "typeset", "readonly",
    "set", "shopt", "true", "false", ":", "echo", "printf", "test", "[", "[[", "pwd", "shift",
    "read", "exit", "return", "break", "continue", "wait", "umask", "ulimit", "getopts", "type",
    // `jobs -x` runs a command and `hash -p` redefines a name: both still judged as such
    // (the program table, `unwrap.rs`).
    "jobs", "hash",
];

/// One simple command the line would run, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// The base name of the program, lower-cased (`/usr/bin/RM` → `rm`). For a dynamic
    /// program, its source text (`$(echo rm)`).
    pub program: String,
    /// Canonical flag names, sorted, without duplicates (`-rf` → `force`, `recursive`).
    pub flags: Vec<String>,
    /// Positional arguments in order (option values left out).
    pub args: Vec<String>,
    /// The program, or the code it runs, is only known at run time: `$CMD`, `$(echo rm)`,
    /// a shell reading a script or its standard input, `eval "$X"`.
    pub dynamic: bool,
    /// `Some(n)`: from the `n`-th positional argument on, arguments are only known at run
    /// time (`rm $FILES`, `xargs rm`, a glob like `*`), so any flag might be present.
    pub unknown_args: Option<usize>,
    /// Words only known at run time are appended after the written ones (`xargs PROGRAM`
    /// reads them from its input): any option, URL or path may follow.
    pub appended: bool,
    /// Only starts the commands analysed beside it (`env`, `nice`, `xargs`, `bash -c`);
    /// `allow_programs` judges those instead. Never set for `sudo`, `doas`, `su`,
    /// `pkexec` and `chroot`, which must be allowed themselves.
    pub wrapper: bool,
    /// A package runner (`npx`, `pnpx`, `bunx`) running a tool the program table knows, by
    /// the name its own project publishes it under (`npx eslint .`): the tool is analysed
    /// beside it as its own command, and the runner's "runs other code" does not apply.
    pub runs_known_tool: bool,
    /// Every word after the program as written (options and their values included), for
    /// the program table, which reads options the flag normaliser does not know.
    pub words: Vec<ShellArg>,
    /// The program was named by this path outside the system's directories (`./ls`,
    /// `/tmp/x/ls`, `/usr/bin/../bin/ls`): it is whatever file is there, maybe one the
    /// agent just wrote, so neither the program table nor `allow_programs` knows it by its
    /// name. Blocked patterns still match the name.
    pub path: Option<String>,
    /// Run in this shell (`. FILE`, `source FILE`; `path` is the file): the command after
    /// it is a `cd` to a place only known at run time, standing for what the script may
    /// do to the shell's directory. An adapter that reads the file may drop that `cd`
    /// (`aecl hook`: a script that cannot change directory).
    pub sourced: bool,
}

/// One word of a command line, with what is known of it before run time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShellArg {
    /// The literal text (quotes removed); for a word with an expansion, the text before it.
    pub text: String,
    /// The word as written.
    pub raw: String,
    /// A parameter expansion or command substitution is part of it.
    pub expansion: bool,
    /// Unquoted glob characters or a brace expansion make it other words.
    pub pattern: bool,
    /// It starts with an unquoted `~`, which becomes a home directory.
    pub tilde: bool,
}

impl ShellArg {
    /// A word known before run time.
    pub fn known(text: &str) -> ShellArg {
        ShellArg { text: text.to_owned(), raw: text.to_owned(), ..ShellArg::default() }
    }

    /// Whether the text is exactly what the program will receive.
    pub fn is_known(&self) -> bool {
        !(self.expansion || self.pattern || self.tilde)
    }

    /// Whether the word might turn into an option at run time (`$X`, `*`, `\-*`, and a
    /// brace that makes one: `{--pre=sh,x}`, `""{--hard,}`, `{$X,--pre=sh}`). A glob in an
    /// option's value only (`--exclude=*.o`) leaves the option what it is.
    pub fn may_be_option(&self) -> bool {
        const STARTS: [char; 4] = ['*', '?', '[', '-'];
        // `$HOME`, `$PWD` and `$OLDPWD` hold absolute paths (the shell sets the last two,
        // and `HOME` set on the line is code of its own): a word that starts with one is
        // no option (red team round 30, FP-3: `cp notes.txt $HOME/notes.txt` was read as
        // `cp -t <run-time value>`).
        let raw = self.raw.trim_start_matches('"');
        let absolute = ["HOME", "PWD", "OLDPWD"].iter().any(|name| {
            let rest = raw.strip_prefix('$').and_then(|r| {
                r.strip_prefix(name).or_else(|| r.strip_prefix(&format!("{{{name}}}")))
            });
            rest.is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '"']))
        });
        if absolute && !self.pattern {
            return false;
        }
        let braces = || {
            crate::path_pattern::expand(&self.text)
                .map_or(true, |words| words.iter().any(|w| w.starts_with(STARTS)))
        };
        // An option's name is what may change: `--exclude=*.o` stays `--exclude`.
        let name = self.text.split('=').next().unwrap_or_default();
        let dash = self.text.starts_with('-') && name.contains(['*', '?', '[', '{']);
        (self.expansion && (self.text.is_empty() || self.text.starts_with(['-', '{'])))
            || (self.pattern
                && (self.text.starts_with(['*', '?', '['])
                    || dash
                    || (self.text.starts_with('{') && braces())))
    }

    fn of(word: &word::Word) -> ShellArg {
        let expansion = word.has_expansion();
        // bash also expands a `~` after the `=` of a word that looks like an assignment,
        // and after a `:` there (`dd of=~/x` writes a home directory).
        let tilde = matches!(word.parts.first(), Some(word::Part::Lit(s)) if s.starts_with('~')
        || s.split_once('=').is_some_and(|(name, value)| {
            word::is_name(name) && (value.starts_with('~') || value.contains(":~"))
        }));
        ShellArg {
            text: if expansion { word.literal_prefix() } else { word.text() },
            raw: word.raw.clone(),
            expansion,
            pattern: word.has_pattern(),
            tilde,
        }
    }
}

/// A redirection of a command line: `> file`, `2>> log`, `&> out`, `<> file`, `< in`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirection {
    pub operator: &'static str,
    pub target: ShellArg,
}

/// A variable assignment: before a command (`X=1 cmd`), alone, or through `env X=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: ShellArg,
    /// The subscript of `a[SUBSCRIPT]=value`, or the first of a compound `a=([S]=v ...)`
    /// that is not a number, as written.
    pub subscript: Option<String>,
}

/// Everything a command line would do that rules judge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Analysis {
    pub commands: Vec<SimpleCommand>,
    pub redirections: Vec<Redirection>,
    pub assignments: Vec<Assignment>,
}

impl fmt::Display for SimpleCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path.as_deref().unwrap_or(&self.program))?;
        for flag in &self.flags {
            let dashes = if flag.chars().count() == 1 { "-" } else { "--" };
            write!(f, " {dashes}{flag}")?;
        }
        for arg in &self.args {
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                write!(f, " {arg:?}")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        if self.unknown_args.is_some() {
            f.write_str(" <run-time arguments>")?;
        }
        Ok(())
    }
}

/// Every simple command `command` would run, flattened: commands in pipelines, lists,
/// subshells, groups, loops and substitutions, wrapped commands beside their wrappers, and
/// implied ones (`find -delete` also yields `rm`). An error means the line cannot be
/// parsed safely; callers block it.
pub fn analyse(command: &str) -> Result<Vec<SimpleCommand>, String> {
    Ok(analyse_line(command)?.commands)
}

/// [`analyse`] with the line's redirections and assignments, including those in
/// substitutions and in code handed to `bash -c` or `eval`.
pub fn analyse_line(command: &str) -> Result<Analysis, String> {
    // Bounded work whatever the agent sends: a decision must not take longer than the
    // agent's hook waits (an agent whose hook times out may run the call unguarded).
    if command.len() > MAX_LINE_BYTES {
        return Err(format!(
            "the command is {} bytes long, over the {MAX_LINE_BYTES} bytes aecl analyses",
            command.len()
        ));
    }
    // A NUL ends an argument for `exec` and for bash: what follows is not run as written.
    if command.contains('\0') {
        return Err("the command holds a NUL character".to_owned());
    }
    let mut out = Analysis::default();
    analyse_into(command, 0, &mut out)?;
    Ok(out)
}

/// The longest command line [`analyse_line`] reads; a longer one is an error (blocked).
/// Far above what a person or an agent types (a here-document writing a file included).
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// [`analyse_line`] at a nesting depth, appending to `out`.
fn analyse_into(command: &str, depth: usize, out: &mut Analysis) -> Result<(), String> {
    let tokens = lex::lex(command, depth)?;
    let mut commands = Vec::new();
    let mut facts = parse::LineFacts::default();
    parse::parse(&tokens, depth, &mut commands, &mut facts)?;
    for (operator, target) in facts.redirections {
        out.redirections.push(Redirection { operator, target: ShellArg::of(target) });
    }
    for word in facts.assignments {
        out.assignments.push(assignment(word));
    }
    // `: ${CDPATH:=/etc}` sets `CDPATH` as `CDPATH=/etc` does (red team round 20, F06).
    for word in facts.assigning {
        for (name, value) in word.parameter_assignments() {
            let expansion = value.contains(['$', '`']);
            let value =
                ShellArg { text: value.clone(), raw: value, expansion, ..ShellArg::default() };
            out.assignments.push(Assignment { name, value, subscript: None });
        }
    }
    for word in facts.deferred {
        // Code that only exists as text until bash evaluates it: a program unknown now.
        out.commands.push(SimpleCommand {
            program: word.raw.clone(),
            flags: Vec::new(),
            args: Vec::new(),
            dynamic: true,
            unknown_args: None,
            appended: false,
            wrapper: false,
            runs_known_tool: false,
            words: Vec::new(),
            path: None,
            sourced: false,
        });
    }
    for words in &commands {
        unwrap::interpret(words, false, depth, out)?;
    }
    Ok(())
}

/// An assignment word (`NAME=value`, `NAME+=value`, `a[1]=x`) split at its `=`.
fn assignment(word: &word::Word) -> Assignment {
    let mut value = ShellArg::of(word);
    let text = word.source_for_reparse();
    let (name, rest) = text.split_once('=').unwrap_or((text.as_str(), ""));
    let name = name.trim_end_matches('+');
    let subscript = name
        .split_once('[')
        .map(|(_, s)| s.trim_end_matches(']').to_owned())
        .or_else(|| compound_subscript(&word.raw));
    let name = name.split_once('[').map_or(name, |(n, _)| n).to_owned();
    value.text = value.text.split_once('=').map_or(String::new(), |(_, v)| v.to_owned());
    value.raw = rest.to_owned();
    Assignment { name, value, subscript }
}

/// The first subscript of a compound array assignment (`a=([$(cat f)]=1 [2]=x)`) that is
/// not a number.
fn compound_subscript(raw: &str) -> Option<String> {
    let (_, value) = raw.split_once('=')?;
    let value = value.trim_start().strip_prefix('(')?;
    // Each piece after a `[` is searched once (a search from every `[` to the end was
    // quadratic in a line of `[`s); a subscript holding `[` is then cut, and still not a
    // number.
    value
        .split('[')
        .skip(1)
        .filter_map(|piece| piece.get(..piece.find("]=")?))
        .find(|s| s.trim().is_empty() || !s.trim().bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

/// The canonical name of a program as the rules compare it: the base name of its path,
/// lower-cased, without `.exe`.
pub fn program_name(text: &str) -> String {
    normalise::program_name(text)
}

/// One place a command line writes (a redirection target, a path a program writes or
/// removes), for an adapter that must know them all, including those only known at run
/// time: the word as written, and the directories the line may be in when it writes it,
/// as spelled (`None`: a directory only known at run time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteWord {
    pub word: ShellArg,
    pub dirs: Vec<Option<String>>,
    /// The write lands at names only the run knows in each directory of `dirs` (`word`
    /// says which files, and is no path): an archive's members, a patch's files, a
    /// download the server names.
    pub unnamed: Option<Unnamed>,
}

/// What a write of the arguments `xargs` appends says: an adapter that knows where they
/// come from (`find ... | xargs rm`) may bound them.
pub const APPENDED_ARGUMENTS: &str = "<arguments appended at run time>";

/// What a write of the files a patch names says (`patch`, `git apply`): an adapter that
/// can read the patch may name them.
pub const PATCHED_FILES: &str = "the files the patch names";

/// Where the files of a write whose names only the run knows land in its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unnamed {
    /// Directly in it: a download the server names (`curl -OJ`).
    Entry,
    /// Anywhere beneath it: an archive's members, a patch's files, a recursive download.
    Tree,
}

/// A command whose writes the program table cannot list: a program it does not know, one
/// named by its path, one only known at run time, one that runs code of the caller's
/// choosing, or one that writes a whole tree under the directory it runs in (`git
/// checkout`, `git clean`, `tar -x`). An adapter guarding paths of its own bounds what it
/// may reach by its words and directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueCommand {
    /// The program as the analyser names it (its source text when only known at run
    /// time).
    pub program: String,
    /// Every word after the program as written.
    pub words: Vec<ShellArg>,
    /// The directories the line may be in when it runs, as spelled (`None`: only known at
    /// run time).
    pub dirs: Vec<Option<String>>,
    /// Arguments are appended at run time (`xargs`).
    pub appended: bool,
    /// It writes anywhere under the directory it works in, whatever its arguments say.
    pub tree: bool,
}

/// What a line may write, for an adapter that must know it all: the writes the guard can
/// name, and the commands whose writes it cannot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineWrites {
    pub writes: Vec<WriteWord>,
    pub opaque: Vec<OpaqueCommand>,
    /// Every `git` command of the line, whatever it does: git runs the programs its
    /// repository's configuration and hooks name, and which repository a command finds
    /// (from its directory, `-C`, a `cd`) is a fact of the filesystem, for the adapter.
    pub git: Vec<OpaqueCommand>,
}

/// Every write of `command` that `guard` finds (redirections, patterns among them, the
/// program table's write targets, `find -delete`, through wrappers and nested code), and
/// every command whose writes it cannot list ([`OpaqueCommand`]), from `cwd`; `Err` when
/// the line does not parse.
pub fn write_words(
    guard: &ProgramGuard,
    command: &str,
    cwd: Option<&str>,
) -> Result<LineWrites, String> {
    Ok(write_words_in(guard, &analyse_line(command)?, cwd))
}

/// [`write_words`] of a line already analysed (an adapter may have settled what the
/// analysis left to run time, [`SimpleCommand::sourced`]).
pub fn write_words_in(guard: &ProgramGuard, analysis: &Analysis, cwd: Option<&str>) -> LineWrites {
    let view = match cwd {
        Some(cwd) => PathView::Seen(std::collections::BTreeMap::from([(
            PathView::WORKING_DIR.to_owned(),
            crate::resolved::Resolution::Path(cwd.to_owned()),
        )])),
        None => PathView::Unseen,
    };
    // Nothing is listed, so that a program the table does not know is reported opaque.
    let listed = |_: &str| false;
    let assessed = guard.assess(analysis, &listed, &|_| false, &view);
    LineWrites { writes: assessed.writes, opaque: assessed.opaque, git: assessed.git }
}

/// [`ShellRules::targets`] with `guard` alone: an adapter that does not have the policy
/// (`aecl hook --server`) uses the default guard, so a write only a policy's program entry
/// names is not resolved, and the server refuses it.
pub fn write_targets(guard: &ProgramGuard, command: &str, cwd: Option<&str>) -> Vec<String> {
    let Ok(analysis) = analyse_line(command) else { return Vec::new() };
    let view = match cwd {
        Some(cwd) => PathView::Seen(std::collections::BTreeMap::from([(
            PathView::WORKING_DIR.to_owned(),
            crate::resolved::Resolution::Path(cwd.to_owned()),
        )])),
        None => PathView::Unseen,
    };
    let listed = |_: &str| true;
    let mut targets = guard.assess(&analysis, &listed, &|_| false, &view).targets;
    let mut seen = HashSet::new();
    targets.retain(|t| seen.insert(t.clone()));
    targets
}

/// The first command of a line that may reach other hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub command: String,
    /// It reaches them only through the project's code it runs (`cargo test`, `make`): no
    /// command of the line is a client or runs code of the caller's choosing.
    pub project_code_only: bool,
}

/// A command pattern such as `rm --recursive`, `git push --force` or `mkfs*`: a program
/// (a trailing `*` matches a prefix), positional words that must lead the command's
/// positional arguments in order (`*` matches any one), and flags that must all be present.
/// Flags are normalised like commands, so `rm -r` and `rm --recursive` are one pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandPattern {
    /// The pattern as written.
    pub text: String,
    program: String,
    prefix: bool,
    flags: Vec<String>,
    args: Vec<String>,
}

/// How a pattern relates to a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    No,
    /// It would match for some values of the arguments only known at run time.
    Maybe,
    Yes,
}

impl CommandPattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<CommandPattern, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let Some((program, rest)) = words.split_first() else {
            return Err("the pattern is empty".to_owned());
        };
        if let Some(word) = words.iter().find(|w| w.contains(|c| "'\"\\$`;&|()<>{}#".contains(c))) {
            return Err(format!(
                "`{word}` is not a plain word: patterns take no quoting or shell syntax"
            ));
        }
        if program.contains('/') {
            return Err(format!(
                "`{program}` is a path: name the program, which matches it at any path"
            ));
        }
        let (stem, prefix) = match program.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (*program, false),
        };
        if stem.is_empty() || stem.starts_with('-') {
            return Err(format!(
                "`{program}` does not name a program; use `allow_programs` to limit programs"
            ));
        }
        if let Some(word) =
            std::iter::once(&stem).chain(rest).find(|w| w.contains(['*', '?', '[']) && **w != "*")
        {
            return Err(format!(
                "`{word}`: only a trailing `*` on the program or a whole `*` word is supported"
            ));
        }
        let program = normalise::program_name(stem);
        let table = if prefix { "" } else { program.as_str() };
        let args: Vec<normalise::Arg> = rest.iter().map(|w| normalise::Arg::known(w)).collect();
        let normalised = normalise::arguments(table, &args);
        Ok(CommandPattern {
            text: text.to_owned(),
            program,
            prefix,
            flags: normalised.flags,
            args: normalised.args,
        })
    }

    fn matches(&self, command: &SimpleCommand) -> Match {
        let program = if self.prefix {
            command.program.starts_with(&self.program)
        } else {
            command.program == self.program
        };
        if !program {
            return Match::No;
        }
        let spelled = self.matches_form(&command.flags, &command.args, command.unknown_args);
        if spelled == Match::Yes {
            return spelled;
        }
        // The same operation spelled another way (`git checkout -f` for `git reset --hard`).
        match equivalents::of(command) {
            Some((canonical, surely)) => {
                let flags: Vec<String> = canonical.flags.iter().map(|f| (*f).to_owned()).collect();
                let args: Vec<String> = canonical.args.iter().map(|a| (*a).to_owned()).collect();
                match self.matches_form(&flags, &args, None) {
                    Match::Yes if surely => Match::Yes,
                    Match::Yes => Match::Maybe,
                    _ => spelled,
                }
            }
            None => spelled,
        }
    }

    /// Whether the pattern names this very command as written: its program exactly and its
    /// subcommand as a word (`npm install *` names `npm install jest`; `git reset --hard`
    /// does not name `git checkout-index -a -f`, its equivalent, nor does `npm*`).
    fn names(&self, command: &SimpleCommand) -> bool {
        !self.prefix
            && command.program == self.program
            && self.args.first().is_some_and(|sub| sub != "*")
            && self.matches_form(&command.flags, &command.args, None) == Match::Yes
    }

    /// How the pattern relates to a command of this program with these flags and
    /// positional arguments, known up to `unknown_args`.
    fn matches_form(
        &self,
        flags: &[String],
        args: &[String],
        unknown_args: Option<usize>,
    ) -> Match {
        let word = |pattern: &String, arg: &String| pattern == "*" || pattern == arg;
        let all_flags = self.flags.iter().all(|f| flags.contains(f));
        let leading =
            self.args.len() <= args.len() && self.args.iter().zip(args).all(|(p, a)| word(p, a));
        if all_flags && leading {
            return Match::Yes;
        }
        let Some(known) = unknown_args else {
            return Match::No;
        };
        // Positional arguments before the first unknown one cannot move.
        if self.args.iter().zip(args).take(known).any(|(p, a)| !word(p, a)) {
            return Match::No;
        }
        Match::Maybe
    }
}

impl fmt::Display for CommandPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The rules for a shell command argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellRules {
    pub block: Vec<CommandPattern>,
    pub require_approval: Vec<CommandPattern>,
    /// When not empty, only these programs may run; others get `unlisted`.
    pub allow_programs: Vec<String>,
    pub unlisted: Decision,
    /// A command whose program cannot be known without running it (`$(echo rm)`, `$CMD`).
    /// Also used when an unknown argument might complete a blocked pattern. At least
    /// `require_approval`.
    pub dynamic: Decision,
    /// What programs can do (run code, send data, write files), where the command may
    /// write, and what each finding gets.
    pub guard: ProgramGuard,
}

impl ShellRules {
    /// Appends a violation for every simple command of `command` that a rule refuses,
    /// with write targets checked as written only (no adapter saw the filesystem).
    pub fn check(&self, command: &str, out: &mut Vec<Violation>) {
        let _network = self.check_with(command, &PathView::Unseen, out);
    }

    /// The absolute strings an adapter that sees the filesystem must resolve (into
    /// `Call::paths`) for [`ShellRules::check_with`] to follow symbolic links: every write
    /// target of `command` joined to each directory the line may be in (starting at `cwd`,
    /// the directory the adapter runs the call from, else the guard's), spelled without
    /// lexical normalisation, and the write paths. A line that does not parse has none (it
    /// is blocked anyway).
    pub fn targets(&self, command: &str, cwd: Option<&str>) -> Vec<String> {
        write_targets(&self.guard, command, cwd)
    }

    /// [`ShellRules::check`] with what the adapter found on the filesystem (`paths`): its
    /// working directory, and the resolution of every string [`ShellRules::targets`]
    /// named. A write target is then checked both as written and as resolved; when the
    /// adapter saw the filesystem but did not resolve a target, the write is refused.
    ///
    /// Returns the first command of the line that may reach other hosts (`network.rs`);
    /// a line that does not parse may (it is blocked anyway).
    pub fn check_with(
        &self,
        command: &str,
        paths: &PathView,
        out: &mut Vec<Violation>,
    ) -> Option<String> {
        self.check_reaching(command, paths, out).map(|reach| reach.command)
    }

    /// [`ShellRules::check_with`], saying also whether the line reaches other hosts only
    /// through the project's code it runs.
    pub fn check_reaching(
        &self,
        command: &str,
        paths: &PathView,
        out: &mut Vec<Violation>,
    ) -> Option<Reach> {
        let analysis = match analyse_line(command) {
            Ok(analysis) => analysis,
            Err(e) => {
                out.push(violation(Decision::Block, format!("cannot parse command: {e}")));
                return Some(Reach { command: command.to_owned(), project_code_only: false });
            }
        };
        let mut found = Vec::new();
        for command in &analysis.commands {
            self.check_one(command, &mut found);
        }
        let listed = |program: &str| {
            self.allow_programs.iter().any(|p| normalise::program_name(p) == program)
        };
        let asked = |command: &SimpleCommand| {
            command.unknown_args.is_none()
                && self.require_approval.iter().any(|pattern| pattern.names(command))
        };
        let assessed = self.guard.assess(&analysis, &listed, &asked, paths);
        for (decision, message) in assessed.findings {
            if decision > Decision::Allow {
                found.push(violation(decision, message));
            }
        }
        // The same finding twice (`rm a; rm a`) is reported once.
        let mut seen = HashSet::new();
        out.extend(found.into_iter().filter(|v| seen.insert((v.decision, v.message.clone()))));
        match (assessed.network, assessed.project_network) {
            (Some(command), _) => Some(Reach { command, project_code_only: false }),
            (None, Some(command)) => Some(Reach { command, project_code_only: true }),
            (None, None) => None,
        }
    }

    fn check_one(&self, command: &SimpleCommand, out: &mut Vec<Violation>) {
        let dynamic = self.dynamic.max(Decision::RequireApproval);
        if command.dynamic {
            out.push(violation(
                dynamic,
                format!("`{command}` runs a program or code only known at run time"),
            ));
        }
        match strongest(&self.block, command) {
            Some((Match::Yes, p)) => {
                let message = format!("`{command}` matches the blocked pattern `{p}`");
                out.push(violation(Decision::Block, message));
            }
            Some((_, p)) => {
                let message = format!(
                    "`{command}` may match the blocked pattern `{p}`: \
                     some arguments are only known at run time"
                );
                out.push(violation(dynamic, message));
            }
            None => {}
        }
        if let Some((m, p)) = strongest(&self.require_approval, command) {
            let may = if m == Match::Yes { "matches" } else { "may match" };
            out.push(violation(
                Decision::RequireApproval,
                format!("`{command}` {may} `{p}`, which requires approval"),
            ));
        }
        if !self.allow_programs.is_empty() && self.unlisted > Decision::Allow {
            let listed = command.path.is_none()
                && self
                    .allow_programs
                    .iter()
                    .any(|p| normalise::program_name(p) == command.program);
            let exempt = command.path.is_none()
                && (command.wrapper || HARMLESS_BUILTINS.contains(&command.program.as_str()));
            if command.dynamic || !(listed || exempt) {
                out.push(violation(
                    self.unlisted,
                    format!(
                        "program `{}` is not in the allowed programs",
                        command.path.as_deref().unwrap_or(&command.program)
                    ),
                ));
            }
        }
    }
}

/// The first pattern that matches, else the first that may match.
fn strongest<'p>(
    patterns: &'p [CommandPattern],
    command: &SimpleCommand,
) -> Option<(Match, &'p CommandPattern)> {
    let mut maybe = None;
    for pattern in patterns {
        match pattern.matches(command) {
            Match::Yes => return Some((Match::Yes, pattern)),
            Match::Maybe => maybe = maybe.or(Some((Match::Maybe, pattern))),
            Match::No => {}
        }
    }
    maybe
}

fn violation(decision: Decision, message: String) -> Violation {
    Violation { rule: "shell", decision, message }
}

#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod links_tests;
#[cfg(test)]
mod tests;
