//! Wrappers: programs that run another command (`sudo`, `env`, `xargs`, `bash -c`,
//! `find -exec`, ...). Each is reported itself *and* the command it runs is analysed, so a
//! denied command gains nothing from being wrapped.
//!
//! Every wrapper's options are skipped with a table of which options take a value, so that
//! `sudo -u root rm` finds `rm` and not `root`. Code handed over as a string (`bash -c`,
//! `eval`, `su -c`, `sudo -s`, `ssh`, `watch`, `env -S`, `trap`, `alias`) is parsed again
//! as a command line; when that string holds an expansion, its code is only known at run
//! time and the wrapper is reported as dynamic.

use super::git::git_runs_configured_program;
use super::names::evaluates_names;
use super::normalise::{self, Arg, FIND_EXEC};
use super::options::{OptionSpec, Options, Value, join, scan, spec};
use super::word::{Word, is_name, reads_variables};
use super::{Analysis, Assignment, MAX_DEPTH, ShellArg, SimpleCommand, analyse_into};

mod project_runner;
mod python;
mod shells;

use shells::keyword_mode;

/// Appends the simple commands that `words` (a program and its arguments) runs.
/// `appended`: the runner adds arguments only known at run time (`xargs`).
pub(super) fn interpret(
    words: &[&Word],
    appended: bool,
    depth: usize,
    out: &mut Analysis,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("commands are nested too deeply".to_owned());
    }
    // Brace expansion makes several words of one, which the program receives:
    // `rg {--pre=sh,x}` runs `rg --pre=sh x`, `dd {of=/x,if=a}` has two operands.
    if !words.iter().any(|w| w.may_brace_expand()) {
        return Unwrapper { out, depth }.command(words, appended);
    }
    let expanded: Vec<Word> = words.iter().flat_map(|w| w.brace_words()).collect();
    if expanded.len() > MAX_BRACE_WORDS {
        return Err(format!(
            "brace expansion makes more than {MAX_BRACE_WORDS} words of one command"
        ));
    }
    let words: Vec<&Word> = expanded.iter().collect();
    Unwrapper { out, depth }.command(&words, appended)
}

/// Most words brace expansion may make of one command: past it the line is refused, not
/// read in part (each word is judged, so the work must stay bounded).
const MAX_BRACE_WORDS: usize = 1024;

/// Wrappers that change the user or the root: they must be allowed themselves. The others
/// only start the command they wrap, which is what `allow_programs` judges.
const PRIVILEGED: [&str; 5] = ["sudo", "doas", "su", "pkexec", "chroot"];

/// Directories whose programs are the system's: a program named by a path elsewhere is
/// not known by its name.
const SYSTEM_DIRS: [&str; 7] = [
    "/bin",
    "/usr/bin",
    "/sbin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/opt/homebrew/bin",
];

/// Whether `path` names a file directly in one of [`SYSTEM_DIRS`] (no `.`, `..` or `//`).
fn in_system_dir(path: &str) -> bool {
    path.rsplit_once('/').is_some_and(|(dir, base)| {
        !base.is_empty() && base != "." && base != ".." && SYSTEM_DIRS.contains(&dir)
    })
}

/// `[[ ... ]]` operators that evaluate their operands as arithmetic.
const ARITHMETIC_TESTS: [&str; 6] = ["-eq", "-ne", "-lt", "-le", "-gt", "-ge"];

/// Where the command line of a program starts in the words of `yarn`, `pnpm` or `bun`:
/// their first word that is not one of their commands runs the project's script of that
/// name or, without one, the program (`pnpm eslint -f f.js`, `pnpm sh -c CMD`, `yarn
/// jest`), after the words that only lead to it (pnpm's `recursive`, `m` and `multi`,
/// bun's `run`, yarn's `workspace NAME` and `workspaces foreach`). A word naming a program
/// aecl knows is analysed as that program's line too; any other is taken for a script,
/// which is the project's own code. An option the table does not know may take the next
/// word as its value, so the word after that is looked at too.
fn script_or_program(manager: &str, rest: &[&Word]) -> Option<usize> {
    let spec = super::programs::builtin(manager);
    let takes_value = |text: &str| {
        spec.is_some_and(|spec| {
            [&spec.value_options, &spec.write_options, &spec.runs_code_options]
                .into_iter()
                .flatten()
                .any(|o| o == text)
        })
    };
    let program = |word: &Word| {
        let text = word.text();
        let name = normalise::program_name(&text);
        let known = SHELLS.contains(&name.as_str())
            || python::is_python(&name)
            || super::programs::builtin(&name).is_some();
        known && !word.has_expansion() && !super::subcommands::is_js_manager_command(&text)
    };
    let mut at = 0;
    let mut maybe_value = false;
    loop {
        let word = rest.get(at)?;
        let text = word.text();
        if text.starts_with('-') && text != "-" && !word.has_expansion() {
            maybe_value = !takes_value(&text) && !text.contains('=');
            at += if takes_value(&text) { 2 } else { 1 };
            continue;
        }
        let next = rest.get(at + 1).map(|w| w.text());
        let leading = match (manager, text.as_str()) {
            ("pnpm", "recursive" | "m" | "multi") | ("bun", "run") => 1,
            ("yarn", "workspace") => 2,
            ("yarn", "workspaces") if next.as_deref() == Some("foreach") => 2,
            _ => 0,
        };
        if leading > 0 {
            at += leading;
            maybe_value = false;
            continue;
        }
        if program(word) {
            return Some(at);
        }
        if !maybe_value {
            return None;
        }
        maybe_value = false;
        at += 1;
    }
}

/// Tools a package runner may fetch by name and run: programs the table knows, published
/// on npm under that name by their own project, with no install scripts. A project that
/// has the tool installed runs its own copy, as `npm test` would.
const REGISTRY_TOOLS: [&str; 10] = [
    "eslint",
    "prettier",
    "tsc",
    "pyright",
    "basedpyright",
    "markdownlint-cli2",
    // The test runners their own documentation runs through npx (`npx vitest run`: red
    // team round 29, FP4), judged as they run the project's tests.
    "vitest",
    "jest",
    "mocha",
    "playwright",
];

/// A package runner's options that change neither what it runs nor where it is fetched
/// from (`-p PKG`, `-c CMD`, `--registry URL` do).
const RUNNER_FLAGS: [&str; 11] = [
    // The end of the runner's options (`npx -- eslint .`).
    "--",
    "-y",
    "--yes",
    "--no",
    "--no-install",
    "-q",
    "--quiet",
    "--silent",
    "--prefer-offline",
    "--offline",
    "--bun",
];

/// Where the tool a package runner runs starts in `rest` (`npx --yes eslint .`), when it
/// is one of [`REGISTRY_TOOLS`], written as a plain name after harmless options only; or,
/// for `npx --no` (`--no-install`), which never fetches a package and so runs only what the
/// project installed, as `pnpm X` does, any plain name.
fn registry_tool(runner: &str, rest: &[&Word]) -> Option<usize> {
    let mut at = 0;
    let mut no_install = false;
    loop {
        let word = rest.get(at)?;
        if word.has_expansion() {
            return None;
        }
        let text = word.text();
        if !RUNNER_FLAGS.contains(&text.as_str()) {
            let plain = !text.is_empty() && !text.starts_with('-') && !text.contains(['/', '@']);
            let known = REGISTRY_TOOLS.contains(&text.as_str());
            return (known || (no_install && plain)).then_some(at);
        }
        // The last of `--no` and `--yes` holds (`--no --yes` installs).
        match text.as_str() {
            "--no" | "--no-install" => no_install = runner == "npx",
            "-y" | "--yes" => no_install = false,
            _ => {}
        }
        at += 1;
    }
}

/// Shells: with `-c` they run the code given; without, a script or standard input.
const SHELLS: [&str; 9] = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "rbash", "fish"];

#[derive(Debug)]
struct Unwrapper<'o> {
    out: &'o mut Analysis,
    depth: usize,
}

impl Unwrapper<'_> {
    fn command(&mut self, words: &[&Word], appended: bool) -> Result<(), String> {
        let Some((first, rest)) = words.split_first() else {
            return Ok(());
        };
        if first.has_expansion() || first.has_pattern() {
            // `$CMD`, `$(echo rm)`, `/bin/r?`, `{rm,-rf,/}`: the program is unknown.
            let mut command = plain("", rest, appended);
            command.program = first.raw.clone();
            command.dynamic = true;
            self.out.commands.push(command);
            return Ok(());
        }
        let program = normalise::program_name(&first.text());
        let name = program.as_str();
        let before = self.out.commands.len();
        // `hash -p FILE NAME` (also `-lp`, or options only known at run time), and zsh's
        // `hash NAME=FILE` (red team round 22, R22-04; `hash -d NAME=DIR` names a
        // directory, judged where `~NAME` is used).
        let option = |text: &str, letter: char| {
            text.starts_with('-') && !text.starts_with("--") && text.contains(letter)
        };
        let named_dirs = rest.iter().any(|w| option(&w.text(), 'd'));
        let redefines = name == "hash"
            && rest.iter().any(|w| {
                let text = w.text();
                w.has_expansion()
                    || option(&text, 'p')
                    || (!named_dirs && !text.starts_with('-') && text.contains('='))
            });
        self.program(name, rest, appended)?;
        // A program named by a path outside the system's directories is whatever file is
        // there (`SimpleCommand::path`); after `hash -p`, a name runs another file.
        let path = first.text();
        let elsewhere = path.contains('/') && !in_system_dir(&path);
        for command in self.out.commands.get_mut(before..).unwrap_or_default() {
            command.dynamic |= redefines;
            if elsewhere {
                command.path = Some(path.clone());
            }
        }
        Ok(())
    }

    fn program(&mut self, name: &str, rest: &[&Word], appended: bool) -> Result<(), String> {
        match name {
            "env" => {
                let spec = OptionSpec {
                    short_values: "uCSa",
                    long_values: &["unset", "chdir", "split-string", "argv0"],
                    dash_is_option: true,
                    ..OptionSpec::default()
                };
                self.env(name, rest, &spec, appended)
            }
            "sudo" => {
                let long = &[
                    "user",
                    "group",
                    "chdir",
                    "prompt",
                    "chroot",
                    "role",
                    "type",
                    "close-from",
                    "command-timeout",
                    "other-user",
                    "host",
                    "auth-type",
                    "login-class",
                ];
                self.privileged(name, rest, &spec("aCcDgpRrTtUu", long), appended)
            }
            "doas" => self.privileged(name, rest, &spec("aCu", &[]), appended),
            "pkexec" => self.privileged(name, rest, &spec("", &["user"]), appended),
            "su" => self.su(rest),
            "chroot" => self.prefixed(name, rest, &spec("", &["userspec", "groups"]), 1, appended),
            "nice" => self.prefixed(name, rest, &spec("n", &["adjustment"]), 0, appended),
            "timeout" => {
                self.prefixed(name, rest, &spec("ks", &["kill-after", "signal"]), 1, appended)
            }
            "time" => {
                let options = scan(rest, &spec("fo", &["format", "output"]));
                let inner = rest.get(options.end..).unwrap_or_default();
                let mut command = wrapper(name, &options, inner, true);
                // `time -o FILE` writes FILE, which no write check sees; `xargs time < list`
                // runs the program the list names.
                command.dynamic |=
                    options.has(&["o", "output", "a", "append"]) || (appended && inner.is_empty());
                self.out.commands.push(command);
                self.nested(inner, appended)
            }
            "stdbuf" => {
                self.prefixed(name, rest, &spec("ioe", &["input", "output", "error"]), 0, appended)
            }
            "exec" => self.prefixed(name, rest, &spec("a", &[]), 0, appended),
            // CPU, scheduling, limit and privilege runners (red team round 15: `taskset -c 0
            // sh -c '...'` was an unknown program whose command was one word). With `-p`
            // they act on a running process and run nothing.
            "taskset" | "chrt" => {
                let options =
                    scan(rest, &spec("TPD", &["sched-runtime", "sched-period", "sched-deadline"]));
                let runs = !options.has(&["p", "pid"]);
                self.wrap(name, rest, &options, 1, runs, appended)
            }
            "prlimit" => {
                let options = scan(rest, &spec("po", &["pid", "output"]));
                let runs = !options.has(&["p", "pid"]);
                self.wrap(name, rest, &options, 0, runs, appended)
            }
            "setpriv" => {
                let long = &[
                    "reuid",
                    "regid",
                    "ruid",
                    "euid",
                    "rgid",
                    "egid",
                    "groups",
                    "inh-caps",
                    "ambient-caps",
                    "bounding-set",
                    "securebits",
                    "pdeathsig",
                    "selinux-label",
                    "apparmor-profile",
                    "landlock-access",
                    "landlock-rule",
                    "seccomp-filter",
                ];
                self.prefixed(name, rest, &spec("", long), 0, appended)
            }
            "unshare" => {
                let long = &[
                    "setuid",
                    "setgid",
                    "root",
                    "wd",
                    "map-user",
                    "map-group",
                    "propagation",
                    "setgroups",
                ];
                let options = scan(rest, &spec("SGRw", long));
                let inner = rest.get(options.end..).unwrap_or_default();
                let mut command = wrapper(name, &options, inner, !inner.is_empty());
                // `-R`/`-w` run it in another root or directory, where its relative paths
                // land is not known; with no command it starts an interactive shell.
                command.dynamic |= options.has(&["R", "root", "w", "wd"]) || inner.is_empty();
                self.out.commands.push(command);
                self.nested(inner, appended)
            }
            // `script -c CMD [FILE]` runs CMD in a shell and writes what it prints to FILE
            // (or `typescript`): an opaque program, whose reach the write checks bound by its
            // words. `flock FILE -c CMD` (or `flock FILE CMD ...`) runs CMD; the empty lock
            // file it may create is not followed.
            "script" => {
                let long = &[
                    "command",
                    "echo",
                    "log-in",
                    "log-out",
                    "log-io",
                    "log-timing",
                    "logging-format",
                    "output-limit",
                ];
                let options = scan(rest, &spec("cEIOBTmo", long));
                let mut command = plain(name, rest, appended);
                command.dynamic = true;
                match options.value(&["c", "command"]) {
                    Some(code) => self.run_code(command, code),
                    None => {
                        self.out.commands.push(command);
                        Ok(())
                    }
                }
            }
            "flock" => {
                let flock = spec("wEc", &["timeout", "wait", "conflict-exit-code", "command"]);
                let options = scan(rest, &flock);
                // Options may follow the lock file too: `flock FILE -c CMD`.
                let after_file = rest.get(options.end + 1..).unwrap_or_default();
                let more = scan(after_file, &flock);
                let command = plain(name, rest, appended);
                match options.value(&["c", "command"]).or_else(|| more.value(&["c", "command"])) {
                    Some(code) => self.run_code(command, code),
                    None => {
                        self.out.commands.push(command);
                        self.nested(after_file.get(more.end..).unwrap_or_default(), appended)
                    }
                }
            }
            "nohup" | "builtin" | "setsid" => {
                self.prefixed(name, rest, &spec("", &[]), 0, appended)
            }
            "set" => {
                let mut command = plain(name, rest, appended);
                // `set -k` (`-o keyword`) makes every `NAME=value` word of a later command
                // an assignment to its environment (`git diff GIT_EXTERNAL_DIFF=./x`),
                // which the checks read as an argument.
                command.dynamic = keyword_mode(rest);
                self.out.commands.push(command);
                Ok(())
            }
            "shopt" => {
                let mut command = plain(name, rest, appended);
                // `cdable_vars` makes `cd NAME` go to `$NAME`, which the write checks do not
                // follow; `expand_aliases` runs aliases the line defines as commands;
                // `shopt -so keyword` is `set -k`. An option named at run time may be any.
                command.dynamic = rest.iter().any(|w| {
                    w.has_expansion()
                        || matches!(w.text().as_str(), "cdable_vars" | "expand_aliases" | "keyword")
                });
                self.out.commands.push(command);
                Ok(())
            }
            "command" => {
                let options = scan(rest, &OptionSpec::default());
                // `command -v rm` only says where `rm` is.
                let runs = !options.has(&["v", "V"]);
                self.wrap(name, rest, &options, 0, runs, appended)
            }
            "ionice" => {
                let options =
                    scan(rest, &spec("cnp", &["class", "classdata", "pid", "pgid", "uid"]));
                // With `-p`, `-P` or `-u` the words are process, group or user ids.
                let runs = !options.has(&["p", "P", "u", "pid", "pgid", "uid"]);
                self.wrap(name, rest, &options, 0, runs, appended)
            }
            "xargs" => {
                // Not `max-lines`, whose value is optional and only attached
                // (`--max-lines=1`): `xargs --max-lines rm -rf` runs `rm -rf` (red team
                // round 31, shell F2).
                let long = &[
                    "arg-file",
                    "delimiter",
                    "max-args",
                    "max-procs",
                    "max-chars",
                    "process-slot-var",
                ];
                let options = scan(rest, &spec("adEIJLnPRs", long));
                let inner = rest.get(options.end..).unwrap_or_default();
                let mut command = wrapper(name, &options, inner, !inner.is_empty());
                // `xargs xargs < list`: the program comes from the data appended.
                command.dynamic |= appended && inner.is_empty();
                command.dynamic |= code_from_input(&options, inner);
                self.out.commands.push(command);
                // The arguments xargs reads from its input are only known at run time.
                self.nested(inner, true)
            }
            "watch" => {
                let options = scan(rest, &spec("n", &["interval"]));
                let inner = rest.get(options.end..).unwrap_or_default();
                if options.has(&["x", "exec"]) {
                    self.out.commands.push(wrapper(name, &options, inner, true));
                    self.nested(inner, false)
                } else {
                    // watch joins its arguments, and any appended after them (`xargs
                    // watch < list`), and hands them to `sh -c`.
                    let mut command = wrapper(name, &options, inner, true);
                    command.dynamic |= appended;
                    self.run_code(command, &join(inner))
                }
            }
            "eval" => self.run_code(wrapper(name, &Options::default(), rest, true), &join(rest)),
            "busybox" | "toybox" => match rest.first() {
                Some(applet) if !applet.text().starts_with('-') => {
                    self.out.commands.push(wrapper(name, &Options::default(), rest, true));
                    self.nested(rest, appended)
                }
                _ => {
                    let mut command = plain(name, rest, appended);
                    // `xargs busybox < list`: the applet comes from the data appended.
                    command.dynamic |= appended && rest.is_empty();
                    self.out.commands.push(command);
                    Ok(())
                }
            },
            "uv" | "poetry" => self.project_runner(name, rest, appended),
            "npx" | "pnpx" | "bunx" => {
                let mut command = plain(name, rest, appended);
                let tool = registry_tool(name, rest);
                command.runs_known_tool = tool.is_some();
                self.out.commands.push(command);
                match tool {
                    Some(at) => self.nested(rest.get(at..).unwrap_or_default(), appended),
                    None => Ok(()),
                }
            }
            "yarn" | "pnpm" | "bun" => {
                self.out.commands.push(plain(name, rest, appended));
                match script_or_program(name, rest) {
                    Some(at) => self.nested(rest.get(at..).unwrap_or_default(), appended),
                    None => Ok(()),
                }
            }
            "ssh" => self.remote(rest),
            "trap" => self.trap(rest),
            "alias" => self.alias(rest),
            "find" => self.find(rest, appended),
            "tar" | "gtar" | "bsdtar" => {
                let command = plain(name, rest, appended);
                // `--remove-files` deletes what it archives, directories with all they
                // hold: an `rm -rf` of its operands, and of the list `-T` reads at run time
                // (red team round 31, shell F4: `tar -cf /dev/null --remove-files .`).
                let removes = command.words.iter().any(|w| {
                    w.is_known()
                        && w.text.len() >= 5
                        && "--remove-files".starts_with(w.text.as_str())
                });
                if removes {
                    let mut words: Vec<ShellArg> = command
                        .words
                        .iter()
                        .filter(|w| !(w.is_known() && w.text.starts_with('-')))
                        .cloned()
                        .collect();
                    let listed = command.words.iter().any(|w| {
                        !w.is_known()
                            || w.text.starts_with("--files-from")
                            || (w.text.starts_with('-')
                                && !w.text.starts_with("--")
                                && w.text.contains('T'))
                    });
                    if listed || words.is_empty() {
                        words.push(ShellArg {
                            raw: "the files `tar` reads the names of at run time".to_owned(),
                            expansion: true,
                            ..ShellArg::default()
                        });
                    }
                    let args = words.iter().map(|w| w.text.clone()).collect();
                    let flags = vec!["force".to_owned(), "recursive".to_owned()];
                    let rm = SimpleCommand {
                        program: "rm".to_owned(),
                        flags,
                        args,
                        words,
                        ..command.clone()
                    };
                    self.out.commands.push(rm);
                }
                self.out.commands.push(command);
                Ok(())
            }
            "git" => {
                let mut command = plain(name, rest, appended);
                command.dynamic = git_runs_configured_program(rest);
                self.out.commands.push(command);
                Ok(())
            }
            // Arithmetic that reads variables runs code they hold (see `reads_variables`).
            "let" => {
                let mut command = plain(name, rest, appended);
                command.dynamic = rest.iter().any(|w| reads_variables(&w.raw));
                self.out.commands.push(command);
                Ok(())
            }
            "[[" => {
                let mut command = plain(name, rest, appended);
                let texts: Vec<String> = rest.iter().map(|w| w.text()).collect();
                let arithmetic = texts.iter().any(|t| ARITHMETIC_TESTS.contains(&t.as_str()));
                command.dynamic = (arithmetic
                    && rest
                        .iter()
                        .zip(&texts)
                        .any(|(w, t)| !t.starts_with('-') && reads_variables(&w.raw)))
                    || evaluates_names(name, rest);
                self.out.commands.push(command);
                Ok(())
            }
            // `. .venv/bin/activate`: the file runs as `bash FILE` runs it, a program named
            // by its path (red team round 30, FP-10: every `source` was refused as code only
            // known at run time). A name without a `/` is looked for on `PATH` first, and a
            // word built at run time may be any file: those stay dynamic.
            "source" | "." => {
                let script =
                    rest.first().filter(|w| !w.has_expansion()).map(|w| w.text()).filter(|f| {
                        f.contains('/') && !f.starts_with("/dev/") && !f.starts_with("/proc/")
                    });
                match script {
                    Some(script) if !appended => {
                        let mut run = plain(
                            &normalise::program_name(&script),
                            rest.get(1..).unwrap_or_default(),
                            false,
                        );
                        run.path = Some(script);
                        run.sourced = true;
                        self.out.commands.push(run);
                        // Run in this shell, it may change its directory for the commands
                        // after it: a `cd` to a place only known at run time (round 30,
                        // second pass: `. ./to-claude.sh && echo {} > settings.json`).
                        self.out.commands.push(plain("cd", &[], false));
                    }
                    _ => {
                        let mut command = plain(name, rest, appended);
                        command.dynamic = true;
                        self.out.commands.push(command);
                    }
                }
                Ok(())
            }
            _ if SHELLS.contains(&name) => self.shell(name, rest, appended),
            _ if python::is_python(name) => self.python(name, rest, appended),
            _ => {
                let mut command = plain(name, rest, appended);
                command.dynamic |= evaluates_names(name, rest);
                self.out.commands.push(command);
                Ok(())
            }
        }
    }

    /// Analyses a wrapped command one level deeper.
    fn nested(&mut self, words: &[&Word], appended: bool) -> Result<(), String> {
        interpret(words, appended, self.depth + 1, self.out)
    }

    /// Pushes `wrapper` and parses `code` as a further command line.
    fn run_code(&mut self, mut wrapper: SimpleCommand, code: &Value) -> Result<(), String> {
        wrapper.dynamic |= code.dynamic;
        self.out.commands.push(wrapper);
        if self.depth >= MAX_DEPTH {
            return Err("commands are nested too deeply".to_owned());
        }
        analyse_into(&code.source, self.depth + 1, self.out)
    }

    /// A wrapper with options, then `positionals` fixed words (a duration, a directory),
    /// then the command.
    fn prefixed(
        &mut self,
        name: &str,
        rest: &[&Word],
        spec: &OptionSpec,
        positionals: usize,
        appended: bool,
    ) -> Result<(), String> {
        let options = scan(rest, spec);
        self.wrap(name, rest, &options, positionals, true, appended)
    }

    fn wrap(
        &mut self,
        name: &str,
        rest: &[&Word],
        options: &Options,
        positionals: usize,
        runs: bool,
        appended: bool,
    ) -> Result<(), String> {
        let inner =
            if runs { rest.get(options.end + positionals..).unwrap_or_default() } else { &[] };
        let mut command = wrapper(name, options, rest.get(options.end..).unwrap_or_default(), true);
        command.wrapper = !PRIVILEGED.contains(&name);
        if inner.is_empty() && name == "chroot" {
            // `chroot DIR` starts an interactive shell, reading commands we cannot see.
            command.dynamic = true;
        }
        // `xargs nice < list`: the program comes from the data xargs appends.
        command.dynamic |= runs && appended && inner.is_empty();
        self.out.commands.push(command);
        self.nested(inner, appended)
    }

    /// `env`: options, then `NAME=VALUE` words, then the command; `-S` splits a string.
    fn env(
        &mut self,
        name: &str,
        rest: &[&Word],
        spec: &OptionSpec,
        appended: bool,
    ) -> Result<(), String> {
        let options = scan(rest, spec);
        let mut start = options.end;
        while let Some(word) = rest.get(start)
            && !word.has_expansion()
            && word
                .text()
                .split_once('=')
                .is_some_and(|(n, _)| !n.is_empty() && !n.starts_with('-'))
        {
            self.out.assignments.push(env_assignment(word));
            start += 1;
        }
        let inner = rest.get(start..).unwrap_or_default();
        if let Some(split) = options.value(&["S", "split-string"]) {
            let tail = join(inner);
            let code = Value {
                source: format!("{} {}", split.source, tail.source),
                dynamic: split.dynamic || tail.dynamic,
            };
            return self.run_code(wrapper(name, &options, inner, true), &code);
        }
        let mut command = wrapper(name, &options, inner, !inner.is_empty());
        // `env -C DIR cmd` runs `cmd` in another directory, which the write checks (that
        // follow `cd`) do not see: where its relative paths land is not known. `env -a
        // NAME cmd` (coreutils 9.5+) runs `cmd` under another name, and `xargs env` runs
        // what its input names.
        command.dynamic |=
            options.has(&["C", "chdir", "a", "argv0"]) || (appended && inner.is_empty());
        self.out.commands.push(command);
        self.nested(inner, appended)
    }

    /// `sudo`, `doas`, `pkexec`: options, `NAME=VALUE` words, then the command. With `-s`
    /// or `-i` the command is handed to a shell.
    fn privileged(
        &mut self,
        name: &str,
        rest: &[&Word],
        spec: &OptionSpec,
        appended: bool,
    ) -> Result<(), String> {
        let options = scan(rest, spec);
        let mut start = options.end;
        while let Some(word) = rest.get(start)
            && !word.has_expansion()
            && word.text().split_once('=').is_some_and(|(n, _)| is_name(n))
        {
            self.out.assignments.push(env_assignment(word));
            start += 1;
        }
        let inner = rest.get(start..).unwrap_or_default();
        let mut command = wrapper(name, &options, inner, false);
        if options.has(&["e", "edit"]) {
            // `sudo -e FILE` edits files.
            self.out.commands.push(command);
            return Ok(());
        }
        if options.has(&["s", "i", "shell", "login"]) {
            if inner.is_empty() {
                // An interactive shell reads commands we cannot see.
                command.dynamic = true;
                self.out.commands.push(command);
                return Ok(());
            }
            return self.run_code(command, &join(inner));
        }
        // `xargs sudo < list` runs the program the list names.
        command.dynamic |= appended && inner.is_empty();
        self.out.commands.push(command);
        self.nested(inner, appended)
    }

    /// `find`: itself, each `-exec` command, and for `-delete` an implied `rm`.
    fn find(&mut self, rest: &[&Word], appended: bool) -> Result<(), String> {
        let find = plain("find", rest, appended);
        let mut i = 0;
        while let Some(word) = rest.get(i) {
            i += 1;
            let text = word.text();
            let primary = text.strip_prefix('-').unwrap_or_default();
            if word.has_expansion() || !FIND_EXEC.contains(&primary) {
                continue;
            }
            let start = i;
            let before_exec = self.out.commands.len();
            let mut previous = String::new();
            while let Some(word) = rest.get(i) {
                let text = word.text();
                if text == ";" || (text == "+" && previous == "{}") {
                    break;
                }
                previous = text;
                i += 1;
            }
            self.nested(rest.get(start..i).unwrap_or_default(), false)?;
            // `-execdir` runs it in each match's directory, which the write checks (that
            // follow `cd`) do not see: its relative paths land anywhere.
            if primary.ends_with("dir")
                && let Some(command) = self.out.commands.get_mut(before_exec..)
            {
                command.iter_mut().for_each(|c| c.dynamic = true);
            }
            i += 1;
        }
        if find.flags.iter().any(|f| f == "delete") {
            // `find -delete` removes what it finds, depth first: `rm -rf` on the starting
            // points, the words before the expression (after `-H`, `-L`, `-P`, `-D X`,
            // `-O N`), as written: `find ~ -delete` starts at a home directory, `find $D`
            // somewhere only known at run time.
            let all = &find.words;
            let mut i = 0;
            while let Some(word) = all.get(i).filter(|w| w.is_known()) {
                match word.text.as_str() {
                    "-H" | "-L" | "-P" => i += 1,
                    "-D" => i += 2,
                    text if text.starts_with("-O") => i += 1,
                    _ => break,
                }
            }
            let mut words: Vec<ShellArg> = Vec::new();
            while let Some(word) = all.get(i) {
                let expression = word.is_known()
                    && (word.text.starts_with('-')
                        || matches!(word.text.as_str(), "(" | ")" | "!"));
                if expression {
                    break;
                }
                words.push(word.clone());
                i += 1;
            }
            // `-files0-from FILE` reads more starting points from FILE (or standard input).
            if find.flags.iter().any(|f| f == "files0-from") {
                words.push(ShellArg {
                    raw: "the starting points `-files0-from` reads".to_owned(),
                    expansion: true,
                    ..ShellArg::default()
                });
            }
            if words.is_empty() {
                words.push(ShellArg::known("."));
            }
            let args = words.iter().map(|w| w.text.clone()).collect();
            // Narrowed by a name that holds more than wildcards (in every alternative that
            // deletes), it removes those entries, not the tree: an `rm -f` of the
            // starting points (`find . -name '*.pyc' -delete` is no `rm -r`; `-name '*'`
            // or `-o` still are).
            let flags = if by_name(all.get(i..).unwrap_or_default()) {
                vec!["force".to_owned()]
            } else {
                vec!["force".to_owned(), "recursive".to_owned()]
            };
            let rm = SimpleCommand { program: "rm".to_owned(), flags, args, words, ..find.clone() };
            self.out.commands.push(rm);
        }
        self.out.commands.push(find);
        Ok(())
    }

    /// `ssh [options] HOST [COMMAND...]`: the command is joined and run by a shell on the
    /// host, which may be this machine. `ssh` itself must be allowed: it reaches the network.
    fn remote(&mut self, rest: &[&Word]) -> Result<(), String> {
        let options = scan(rest, &spec("BbcDEeFIiJLlmOoPpQRSWw", &[]));
        let after_options = rest.get(options.end..).unwrap_or_default();
        let mut command = wrapper("ssh", &options, after_options, false);
        // `-o ProxyCommand=...` and `-F config` are judged by the program table.
        command.words = args_words(rest);
        match after_options.split_first() {
            // The host alone opens an interactive session reading commands we cannot see.
            Some((_, [])) => {
                command.dynamic = true;
                self.out.commands.push(command);
                Ok(())
            }
            Some((_, remote)) => self.run_code(command, &join(remote)),
            None => {
                self.out.commands.push(command);
                Ok(())
            }
        }
    }

    /// `trap CODE SIGNAL...`: the code runs later, when the signal comes.
    fn trap(&mut self, rest: &[&Word]) -> Result<(), String> {
        let options = scan(rest, &OptionSpec::default());
        let inner = rest.get(options.end..).unwrap_or_default();
        let command = wrapper("trap", &options, inner, true);
        match inner.first() {
            Some(code) if inner.len() > 1 && code.text() != "-" => {
                self.run_code(command, &Value::of(code))
            }
            _ => {
                self.out.commands.push(command);
                Ok(())
            }
        }
    }

    /// `alias NAME=VALUE`: the value is code that runs when the alias is used.
    fn alias(&mut self, rest: &[&Word]) -> Result<(), String> {
        let values: Vec<String> = rest
            .iter()
            .filter_map(|w| w.source_for_reparse().split_once('=').map(|(_, v)| v.to_owned()))
            .collect();
        let code =
            Value { source: values.join("\n"), dynamic: rest.iter().any(|w| w.has_expansion()) };
        self.run_code(wrapper("alias", &Options::default(), rest, true), &code)
    }
}

/// A program that is not a wrapper, with normalised arguments.
fn plain(program: &str, words: &[&Word], appended: bool) -> SimpleCommand {
    let args: Vec<Arg> = words.iter().map(|w| arg(w)).collect();
    let normalised = normalise::arguments(program, &args);
    let unknown_args = normalised.unknown_at.or(appended.then_some(normalised.args.len()));
    SimpleCommand {
        program: program.to_owned(),
        flags: normalised.flags,
        args: normalised.args,
        dynamic: false,
        unknown_args,
        appended,
        wrapper: false,
        runs_known_tool: false,
        words: args_words(words),
        path: None,
        sourced: false,
    }
}

/// The words as the program table reads them.
fn args_words(words: &[&Word]) -> Vec<ShellArg> {
    words.iter().map(|w| ShellArg::of(w)).collect()
}

/// `NAME=VALUE` given to `env` or `sudo`: the value is literal.
fn env_assignment(word: &Word) -> Assignment {
    let text = word.text();
    let (name, value) = text.split_once('=').unwrap_or((text.as_str(), ""));
    Assignment { name: name.to_owned(), value: ShellArg::known(value), subscript: None }
}

/// A wrapper itself: its option flags, and the words it runs as positional arguments.
fn wrapper(program: &str, options: &Options, inner: &[&Word], transparent: bool) -> SimpleCommand {
    let mut flags = options.flags.clone();
    flags.sort();
    flags.dedup();
    SimpleCommand {
        program: program.to_owned(),
        flags,
        args: inner.iter().map(|w| w.text()).collect(),
        dynamic: options.abbreviated,
        unknown_args: inner.iter().any(|w| w.has_expansion()).then_some(0),
        appended: false,
        wrapper: transparent,
        runs_known_tool: false,
        words: args_words(inner),
        path: None,
        sourced: false,
    }
}

fn arg(word: &Word) -> Arg {
    if word.has_expansion() || word.may_be_flag() {
        Arg { text: word.literal_prefix(), unknown: true }
    } else {
        Arg { text: word.text(), unknown: false }
    }
}

/// Whether `xargs` with a replace string (`-I R`; `-i` and `--replace` read `{}`) puts a
/// line of its input where the program or the code of a shell or interpreter goes: `xargs
/// -a x.sh -I{} sh -c {}` runs each line of `x.sh` as a command, `-I{} sh -c 'rm {}'` runs
/// code made from the data, `-I% %` runs whatever a line names. Only known at run time.
fn code_from_input(options: &Options, inner: &[&Word]) -> bool {
    let replace = match options.value(&["I"]) {
        Some(value) => value.source.clone(),
        None if options.has(&["i", "replace"]) => "{}".to_owned(),
        None => return false,
    };
    if replace.is_empty() {
        return false;
    }
    let texts: Vec<String> = inner.iter().map(|word| word.text()).collect();
    // `-c`, `-lc`, `-e`, `-pe`, `--command`, `--eval`: the next word is code.
    let takes_code = |option: &str| {
        (option.starts_with('-') && !option.starts_with("--") && option.ends_with(['c', 'e']))
            || matches!(option, "--command" | "--eval" | "--exec")
    };
    texts.first().is_some_and(|program| program.contains(&replace))
        || texts
            .iter()
            .zip(texts.iter().skip(1))
            .any(|(option, code)| takes_code(option) && code.contains(&replace))
}

/// Whether a `find` expression deletes only entries named by a pattern that holds more
/// than wildcards: each alternative that deletes (`-o`, `,`) is narrowed by such a name
/// (`-name '*.pyc'`, `-iname`, or a group whose every alternative is one:
/// `\( -name '*.pyc' -o -name '*.pyo' \) -delete`), the others delete nothing (`-path
/// ./node_modules -prune -o -name '*.pyc' -delete`). A negation or a word only known at run
/// time narrows nothing.
fn by_name(expression: &[ShellArg]) -> bool {
    if expression.iter().any(|w| !w.is_known() || matches!(w.text.as_str(), "!" | "-not")) {
        return false;
    }
    let words: Vec<&str> = expression.iter().map(|w| w.text.as_str()).collect();
    // find evaluates left to right: only the tests before a `-delete` guard it (red team
    // round 31, shell F3: `find . -delete -name x` removed the whole tree).
    alternatives(&words).iter().all(|alternative| {
        alternative
            .iter()
            .position(|w| *w == "-delete")
            .is_none_or(|at| narrowed(alternative.get(..at).unwrap_or_default()))
    })
}

/// The alternatives of `words` at the top level (split at `-o`, `-or` and `,` outside
/// parentheses).
fn alternatives<'w>(words: &[&'w str]) -> Vec<Vec<&'w str>> {
    let (mut out, mut current, mut depth) = (Vec::new(), Vec::new(), 0usize);
    for &word in words {
        match word {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            "-o" | "-or" | "," if depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(word);
    }
    out.push(current);
    out
}

/// Whether a conjunction holds a name test with a literal, or a group whose every
/// alternative does.
fn narrowed(conjunction: &[&str]) -> bool {
    // The words outside every group: a name test inside one narrows only with its group.
    let mut depth = 0usize;
    let top: Vec<&str> = conjunction
        .iter()
        .copied()
        .filter(|&word| {
            let outside = depth == 0 && word != "(";
            match word {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                _ => {}
            }
            outside
        })
        .collect();
    let named = top.windows(2).any(|pair| match pair {
        [test, pattern] => {
            // The base name only: a `-path` pattern matches the starting point's own
            // letters (`find src -path 'src*' -delete` removes the tree: second pass, N4).
            matches!(*test, "-name" | "-iname") && has_literal(pattern)
        }
        _ => false,
    });
    named || groups(conjunction).iter().any(|group| alternatives(group).iter().all(|a| narrowed(a)))
}

/// The top-level parenthesized groups of a conjunction, without their parentheses.
fn groups<'w>(conjunction: &[&'w str]) -> Vec<Vec<&'w str>> {
    let (mut out, mut current, mut depth) = (Vec::new(), Vec::new(), 0usize);
    for &word in conjunction {
        match word {
            "(" => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            ")" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    out.push(std::mem::take(&mut current));
                    continue;
                }
            }
            _ => {}
        }
        if depth > 0 {
            current.push(word);
        }
    }
    out
}

/// Whether a glob holds a character it matches only as itself, outside `*`, `?` and
/// bracket expressions (`[a-z]*` matches nearly every name), `/`, `.` and escapes.
fn has_literal(pattern: &str) -> bool {
    let mut in_brackets = false;
    pattern.chars().any(|c| match c {
        '[' => {
            in_brackets = true;
            false
        }
        ']' => {
            in_brackets = false;
            false
        }
        '*' | '?' | '/' | '.' | '\\' => false,
        _ => !in_brackets,
    })
}
