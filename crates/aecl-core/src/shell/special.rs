//! Readers for programs whose grammar the program table cannot express: git (global
//! options, subcommands, `config` keys, remote helpers), tar (old-style options, archive
//! and extraction targets), sed and awk scripts, `dd` operands, make overrides, python
//! modules, HTTP methods, ssh options and remote copies, `+COMMAND` words, and package
//! installs. Each adds findings to what the table found.

use std::borrow::Cow;

use super::ShellArg;
use super::guard::{Finding, Scanned};
use super::programs::Special;
use super::scripts::{self, ScriptEffects};
use super::unwrap::SAFE_GIT_SETTINGS;

/// The words as the table should read them: tar's old-style first word (`tar cvf a.tar
/// dir`) becomes options, each value letter taking the next word.
pub(super) fn prepare(special: Option<Special>, words: &[ShellArg]) -> Cow<'_, [ShellArg]> {
    const TAR_VALUE_LETTERS: &str = "fbCTXKNgVLHIF";
    if special != Some(Special::Tar) {
        return Cow::Borrowed(words);
    }
    let Some((first, rest)) = words.split_first() else {
        return Cow::Borrowed(words);
    };
    if !first.is_known()
        || first.text.starts_with('-')
        || !first.text.chars().all(|c| c.is_ascii_alphabetic())
    {
        return Cow::Borrowed(words);
    }
    let mut out = Vec::new();
    let mut rest = rest.iter();
    for letter in first.text.chars() {
        out.push(ShellArg::known(&format!("-{letter}")));
        if TAR_VALUE_LETTERS.contains(letter)
            && let Some(value) = rest.next()
        {
            out.push(value.clone());
        }
    }
    out.extend(rest.cloned());
    Cow::Owned(out)
}

/// Whether the command runs a named module rather than reading code (`python -m`).
pub(super) fn runs_module(special: Option<Special>, scanned: &Scanned) -> bool {
    special == Some(Special::Python) && scanned.has(&["-m"])
}

/// Python modules that are tools, not a way to run arbitrary code.
/// (Not `doctest`: it runs the `>>>` lines of the file it is given.)
const PLAIN_MODULES: [&str; 13] = [
    "pytest",
    "unittest",
    "venv",
    "json.tool",
    "py_compile",
    "compileall",
    "mypy",
    "black",
    "ruff",
    "isort",
    "pydoc",
    "tabnanny",
    "flake8",
];

/// Adds the findings of a special reader.
pub(super) fn read(
    kind: Special,
    words: &[ShellArg],
    scanned: &Scanned,
    in_place: bool,
    out: &mut Vec<Finding>,
) {
    match kind {
        Special::Git => git(words, out),
        Special::Tar => tar(scanned, out),
        Special::Sed => sed(scanned, in_place, out),
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
        Special::Make => {
            const SHELL_VARIABLES: [&str; 7] =
                ["SHELL", ".SHELLFLAGS", "MAKESHELL", "MAKEFLAGS", "MFLAGS", "MAKEFILES", "MAKE"];
            for word in &scanned.positionals {
                let Some((name, value)) = word.text.split_once('=') else { continue };
                let metacharacters =
                    value.contains([' ', ';', '|', '&', '$', '`', '(', ')', '<', '>', '\n']);
                if SHELL_VARIABLES.contains(&name) || metacharacters || word.expansion {
                    out.push(Finding::RunsCode(format!(
                        "the override `{}` reaches recipes run by the shell",
                        word.raw
                    )));
                }
            }
        }
        Special::Python => {
            for module in scanned.values(&["-m"]) {
                if !module.is_known() || !PLAIN_MODULES.contains(&module.text.as_str()) {
                    out.push(Finding::RunsCode(format!("module `{}`", module.raw)));
                }
            }
        }
        Special::HttpClient => {
            // A URL built at run time can carry data out (`https://x/?d=$(cat secret)`).
            let mut urls = scanned.positionals.iter().chain(scanned.values(&["--url"]));
            if let Some(url) = urls.find(|u| u.expansion) {
                out.push(Finding::Uploads(format!("the URL `{}` is built at run time", url.raw)));
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
            const INSTALL: [&str; 9] =
                ["install", "i", "add", "isntall", "in", "update", "up", "upgrade", "link"];
            let mut positionals = scanned.positionals.iter();
            if let Some(sub) = positionals.next()
                && INSTALL.contains(&sub.text.as_str())
                && positionals.next().is_some()
                && !scanned.has(&["--ignore-scripts"])
            {
                out.push(Finding::RunsCode(format!(
                    "`{}` with packages runs their install scripts",
                    sub.text
                )));
            }
        }
    }
}

fn tar(scanned: &Scanned, out: &mut Vec<Finding>) {
    let create = scanned.has(&[
        "-c",
        "--create",
        "-r",
        "--append",
        "-u",
        "--update",
        "-A",
        "--catenate",
        "--concatenate",
        "--delete",
    ]);
    let extract = scanned.has(&["-x", "--extract", "--get"]);
    for archive in scanned.values(&["-f", "--file"]) {
        if archive.text.contains(':') && !scanned.has(&["--force-local"]) {
            out.push(Finding::RunsCode(format!(
                "the archive `{}` is opened through a remote shell",
                archive.raw
            )));
        }
        if create {
            out.push(Finding::Writes(archive.clone()));
        }
    }
    if extract {
        if scanned.values(&["-C", "--directory"]).next().is_none() {
            out.push(Finding::Writes(ShellArg::known(".")));
        }
        if scanned.has(&["-P", "--absolute-names"]) {
            let anywhere = ShellArg {
                raw: "the archive's absolute paths".to_owned(),
                expansion: true,
                ..ShellArg::default()
            };
            out.push(Finding::Writes(anywhere));
        }
    }
    if scanned.has(&["--remove-files"]) {
        out.extend(scanned.positionals.iter().map(|p| Finding::Writes(p.clone())));
    }
}

fn sed(scanned: &Scanned, in_place: bool, out: &mut Vec<Finding>) {
    let mut scripts: Vec<&ShellArg> = scanned.values(&["-e", "--expression"]).collect();
    let files: Vec<&ShellArg> = if scripts.is_empty() {
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

fn awk(scanned: &Scanned, out: &mut Vec<Finding>) {
    if scanned.has(&[
        "-f",
        "--file",
        "-e",
        "--source",
        "-i",
        "--include",
        "-l",
        "--load",
        "-E",
        "--exec",
    ]) {
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
    script_findings(&scripts::awk(&program.text), out);
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
    if positionals.len() < 2 {
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

/// git subcommands, for telling an alias or an external `git-NAME` program apart.
const GIT_SUBCOMMANDS: &[&str] = &[
    "add",
    "am",
    "annotate",
    "apply",
    "archive",
    "bisect",
    "blame",
    "branch",
    "bundle",
    "cat-file",
    "check-ignore",
    "checkout",
    "cherry",
    "cherry-pick",
    "clean",
    "clone",
    "commit",
    "config",
    "count-objects",
    "describe",
    "diff",
    "diff-files",
    "diff-index",
    "diff-tree",
    "difftool",
    "fetch",
    "format-patch",
    "fsck",
    "gc",
    "grep",
    "hash-object",
    "help",
    "init",
    "log",
    "ls-files",
    "ls-remote",
    "ls-tree",
    "merge",
    "merge-base",
    "mergetool",
    "mv",
    "name-rev",
    "notes",
    "pull",
    "push",
    "range-diff",
    "rebase",
    "reflog",
    "remote",
    "repack",
    "replace",
    "reset",
    "restore",
    "rev-list",
    "rev-parse",
    "revert",
    "rm",
    "send-email",
    "shortlog",
    "show",
    "show-branch",
    "show-ref",
    "sparse-checkout",
    "stash",
    "status",
    "submodule",
    "switch",
    "tag",
    "update-index",
    "update-ref",
    "var",
    "verify-commit",
    "verify-tag",
    "version",
    "whatchanged",
    "worktree",
    "filter-branch",
    "instaweb",
    "daemon",
    "hook",
    "maintenance",
    "credential",
    "for-each-ref",
    "symbolic-ref",
    "write-tree",
    "read-tree",
    "commit-tree",
    "mktag",
    "prune",
    "request-pull",
    "shortlog",
    "stage",
    "citool",
    "gui",
    "gitk",
    "init-db",
    "interpret-trailers",
    "mailinfo",
    "merge-file",
    "merge-tree",
    "pack-objects",
    "unpack-objects",
    "verify-pack",
];

/// Options of git subcommands that run a program: (subcommand, options).
const GIT_CODE_OPTIONS: &[(&str, &[&str])] = &[
    ("clone", &["--upload-pack", "-u", "--template"]),
    ("fetch", &["--upload-pack"]),
    ("pull", &["--upload-pack"]),
    ("ls-remote", &["--upload-pack"]),
    ("push", &["--receive-pack", "--exec"]),
    ("send-pack", &["--receive-pack", "--exec"]),
    ("archive", &["--exec"]),
    ("rebase", &["--exec", "-x"]),
    ("difftool", &["--extcmd", "-x", "--tool", "-t"]),
    ("mergetool", &["--tool", "-t"]),
    ("grep", &["--open-files-in-pager", "-O"]),
    ("init", &["--template"]),
    ("send-email", &["--to-cmd", "--cc-cmd", "--sendmail-cmd", "--smtp-server", "--header-cmd"]),
];

/// Options whose value git writes to: (subcommand, options).
const GIT_WRITE_OPTIONS: &[(&str, &[&str])] = &[
    ("log", &["--output"]),
    ("diff", &["--output"]),
    ("show", &["--output"]),
    ("format-patch", &["--output", "-o", "--output-directory"]),
    ("archive", &["--output", "-o"]),
    ("clone", &["--separate-git-dir"]),
    ("init", &["--separate-git-dir"]),
];

fn git(words: &[ShellArg], out: &mut Vec<Finding>) {
    let mut i = 0;
    let mut directory: Option<ShellArg> = None;
    while let Some(word) = words.get(i) {
        if !word.is_known() || !word.text.starts_with('-') {
            break;
        }
        i += 1;
        match word.text.as_str() {
            "-C" => {
                directory = words.get(i).cloned();
                i += 1;
            }
            "-c" | "--git-dir" | "--work-tree" | "--namespace" | "--super-prefix"
            | "--config-env" | "--exec-path" | "--list-cmds" => i += 1,
            _ => {}
        }
    }
    if words.iter().any(|w| w.text.starts_with("ext::") || w.text.starts_with("fd::")) {
        out.push(Finding::RunsCode("the `ext::` transport runs a command".to_owned()));
    }
    let Some(sub) = words.get(i) else { return };
    if !sub.is_known() {
        // Reported as dynamic by the analyser when it is before the subcommand.
        out.push(Finding::RunsCode(format!(
            "the subcommand `{}` is only known at run time",
            sub.raw
        )));
        return;
    }
    let sub = sub.text.as_str();
    let rest = words.get(i + 1..).unwrap_or_default();
    let write = |target: ShellArg| match &directory {
        Some(dir) if !target.text.starts_with('/') => Finding::WritesUnder(target, dir.clone()),
        _ => Finding::Writes(target),
    };
    if !GIT_SUBCOMMANDS.contains(&sub) {
        out.push(Finding::RunsCode(format!(
            "`git {sub}` is not a git command: an alias or a `git-{sub}` program, which can run anything"
        )));
        return;
    }
    for (name, options) in GIT_CODE_OPTIONS.iter().filter(|(s, _)| *s == sub) {
        for word in rest {
            if let Some(option) = git_option(word, options) {
                out.push(Finding::RunsCode(format!("`git {name} {option}`")));
            }
        }
    }
    for (_, options) in GIT_WRITE_OPTIONS.iter().filter(|(s, _)| *s == sub) {
        let mut iter = rest.iter();
        while let Some(word) = iter.next() {
            if git_option(word, options).is_some() {
                match word.text.split_once('=') {
                    Some((_, value)) => out.push(write(ShellArg {
                        text: value.to_owned(),
                        raw: word.raw.clone(),
                        ..word.clone()
                    })),
                    None => {
                        if let Some(value) = iter.next() {
                            out.push(write(value.clone()));
                        }
                    }
                }
            }
        }
    }
    let positionals: Vec<&ShellArg> =
        rest.iter().filter(|w| !(w.is_known() && w.text.starts_with('-'))).collect();
    let first = positionals.first().map(|p| p.text.as_str());
    match sub {
        "config" => git_config(rest, out),
        "clone" => {
            // `--config KEY=VALUE` and `-c KEY=VALUE` set configuration like `git -c`.
            let mut iter = rest.iter();
            while let Some(word) = iter.next() {
                let setting = match word.text.as_str() {
                    "-c" | "--config" => iter.next().cloned(),
                    t if t.starts_with("--config=") => Some(ShellArg {
                        text: t.trim_start_matches("--config=").to_owned(),
                        ..word.clone()
                    }),
                    _ => None,
                };
                if let Some(setting) = setting {
                    let (key, value) =
                        setting.text.split_once('=').unwrap_or((setting.text.as_str(), ""));
                    if !setting.is_known() || !safe_git_setting(key, value) {
                        out.push(Finding::RunsCode(format!(
                            "`git clone --config {}`",
                            setting.raw
                        )));
                    }
                }
            }
            // The destination is the second positional argument, when value-taking
            // options are not mistaken for it: only plain words after the URL count.
            let plain: Vec<&ShellArg> = clone_positionals(rest);
            if let Some(destination) = plain.get(1) {
                out.push(write((*destination).clone()));
            }
        }
        "push" | "send-pack" => {
            out.push(Finding::Uploads("`git push` sends commits to a remote".to_owned()))
        }
        "send-email" | "request-pull" => {
            out.push(Finding::Uploads(format!("`git {sub}` sends mail")))
        }
        "submodule" if positionals.iter().any(|p| p.text == "foreach") => {
            out.push(Finding::RunsCode("`git submodule foreach` runs a command".to_owned()));
        }
        "bisect" if first == Some("run") => {
            out.push(Finding::RunsCode("`git bisect run` runs a command".to_owned()))
        }
        "filter-branch" | "instaweb" | "hook" | "daemon" | "citool" | "gui" | "gitk"
        | "credential" | "mergetool" => {
            out.push(Finding::RunsCode(format!("`git {sub}` runs programs")));
        }
        "worktree" if first == Some("add") => {
            if let Some(path) = positionals.get(1) {
                out.push(write((*path).clone()));
            }
        }
        "bundle" if first == Some("create") => {
            if let Some(path) = positionals.get(1) {
                out.push(write((*path).clone()));
            }
        }
        _ => {}
    }
}

/// Positional words of `git clone`, skipping the values of its value-taking options.
fn clone_positionals(rest: &[ShellArg]) -> Vec<&ShellArg> {
    const VALUES: [&str; 14] = [
        "-o",
        "--origin",
        "-b",
        "--branch",
        "-u",
        "--upload-pack",
        "--reference",
        "--depth",
        "--template",
        "-c",
        "--config",
        "-j",
        "--filter",
        "--separate-git-dir",
    ];
    let mut out = Vec::new();
    let mut iter = rest.iter();
    while let Some(word) = iter.next() {
        if word.is_known() && word.text.starts_with('-') {
            if VALUES.contains(&word.text.as_str()) {
                iter.next();
            }
            continue;
        }
        out.push(word);
    }
    out
}

/// Whether `word` is one of `options` (short letters in a cluster; long names or the
/// abbreviations git accepts, of at least two letters).
fn git_option(word: &ShellArg, options: &[&str]) -> Option<String> {
    if !word.is_known() {
        return None;
    }
    let text = word.text.as_str();
    if let Some(long) = text.strip_prefix("--") {
        let name = long.split_once('=').map_or(long, |(n, _)| n);
        return options
            .iter()
            .find(|o| {
                o.strip_prefix("--")
                    .is_some_and(|o| o == name || (name.len() >= 2 && o.starts_with(name)))
            })
            .map(|o| (*o).to_owned());
    }
    let cluster = text.strip_prefix('-')?;
    options
        .iter()
        .filter_map(|o| o.strip_prefix('-').filter(|l| l.len() == 1))
        .find(|letter| cluster.contains(*letter))
        .map(|letter| format!("-{letter}"))
}

/// Whether a configuration setting cannot make git run a program.
fn safe_git_setting(key: &str, value: &str) -> bool {
    let key = key.to_lowercase();
    SAFE_GIT_SETTINGS.iter().any(|safe| key.starts_with(safe)) && !value.contains('!')
}

/// `git config`: reading is harmless; setting a key that can name a program (`alias.*`,
/// `core.fsmonitor`, `core.pager`, filters, hooks) runs code later; `--global` writes
/// the home directory's configuration.
fn git_config(rest: &[ShellArg], out: &mut Vec<Finding>) {
    const VALUES: [&str; 7] =
        ["-f", "--file", "--blob", "--type", "--default", "--comment", "--value"];
    const READS: [&str; 9] = [
        "--get",
        "--get-all",
        "--get-regexp",
        "--get-urlmatch",
        "-l",
        "--list",
        "--get-color",
        "--get-colorbool",
        "--show-origin",
    ];
    let mut positionals = Vec::new();
    let mut options = Vec::new();
    let mut file = None;
    let mut iter = rest.iter();
    while let Some(word) = iter.next() {
        if !word.is_known() {
            out.push(Finding::RunsCode(format!(
                "`git config` with `{}`, only known at run time",
                word.raw
            )));
            return;
        }
        if word.text.starts_with('-') && word.text.len() > 1 {
            let (name, value) =
                word.text.split_once('=').map_or((word.text.as_str(), None), |(n, v)| (n, Some(v)));
            if VALUES.contains(&name) && value.is_none() {
                let next = iter.next();
                if matches!(name, "-f" | "--file") {
                    file = next.cloned();
                }
            } else if matches!(name, "--file") {
                file = value.map(ShellArg::known);
            }
            options.push(name.to_owned());
        } else {
            positionals.push(word);
        }
    }
    let has = |names: &[&str]| options.iter().any(|o| names.contains(&o.as_str()));
    if has(&["-e", "--edit"])
        || positionals.first().is_some_and(|p| matches!(p.text.as_str(), "edit" | "rename-section"))
        || has(&["--rename-section"])
    {
        out.push(Finding::RunsCode(
            "`git config` edits or renames configuration freely".to_owned(),
        ));
        return;
    }
    let mut args: Vec<&str> = positionals.iter().map(|p| p.text.as_str()).collect();
    match args.first() {
        Some(&"get" | &"list") => return,
        Some(&"set") => {
            args.remove(0);
        }
        Some(&"unset" | &"remove-section") => args.clear(),
        _ => {}
    }
    let setting =
        args.len() >= 2 && !has(&READS) && !has(&["--unset", "--unset-all", "--remove-section"]);
    if !setting {
        return;
    }
    let key = args.first().copied().unwrap_or_default();
    let value = args.get(1).copied().unwrap_or_default();
    if !safe_git_setting(key, value) {
        out.push(Finding::RunsCode(format!("`git config {key}` can make git run a program")));
    }
    if has(&["--global", "--system"]) {
        let home = ShellArg {
            text: "~/.gitconfig".to_owned(),
            raw: "~/.gitconfig".to_owned(),
            tilde: true,
            ..ShellArg::default()
        };
        out.push(Finding::Writes(home));
    }
    if let Some(file) = file {
        out.push(Finding::Writes(file));
    }
}
