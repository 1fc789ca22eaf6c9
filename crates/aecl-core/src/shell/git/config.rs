//! `git config`: reading is harmless; setting a key that can name a program runs code
//! later. Its long options are read as git reads them, abbreviations included.

use super::safe_git_setting;
use crate::shell::ShellArg;
use crate::shell::finding::Finding;

/// `git config`'s long options, for reading abbreviations.
const CONFIG_LONG: [&str; 38] = [
    "--file",
    "--blob",
    "--type",
    "--default",
    "--comment",
    "--value",
    "--get",
    "--get-all",
    "--get-regexp",
    "--get-urlmatch",
    "--list",
    "--get-color",
    "--get-colorbool",
    "--show-origin",
    "--show-scope",
    "--global",
    "--system",
    "--local",
    "--worktree",
    "--add",
    "--replace-all",
    "--unset",
    "--unset-all",
    "--rename-section",
    "--remove-section",
    "--edit",
    "--null",
    "--name-only",
    "--includes",
    "--no-includes",
    "--bool",
    "--int",
    "--bool-or-int",
    "--path",
    "--expiry-date",
    "--fixed-value",
    "--no-type",
    "--all",
];

/// The long option `given` stands for among `known`: itself, or the one option it is an
/// unambiguous prefix of. `None`: unknown or ambiguous (git refuses those too, but aecl
/// cannot tell which reading it would take).
fn long_option(given: &str, known: &[&'static str]) -> Option<&'static str> {
    if let Some(exact) = known.iter().find(|k| **k == given) {
        return Some(exact);
    }
    let mut matches = known.iter().filter(|k| k.starts_with(given));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// `git config`: reading is harmless; setting a key that can name a program (`alias.*`,
/// `core.fsmonitor`, `core.pager`, filters, hooks) runs code later; `--global` writes
/// the home directory's configuration.
pub(super) fn read(rest: &[ShellArg], out: &mut Vec<Finding>) {
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
            let (given, value) =
                word.text.split_once('=').map_or((word.text.as_str(), None), |(n, v)| (n, Some(v)));
            // git takes any unambiguous prefix (`--comm` for `--comment`, which then eats
            // the key): read as the option it stands for, and refuse one it cannot.
            let name = match given.strip_prefix("--") {
                Some(_) => match long_option(given, &CONFIG_LONG) {
                    Some(name) => name,
                    None => {
                        out.push(Finding::RunsCode(format!(
                            "`git config {}` is not an option aecl knows",
                            word.raw
                        )));
                        return;
                    }
                },
                None => given,
            };
            // `-fFILE`: the file glued to its short option.
            if let Some(glued) = name.strip_prefix("-f").filter(|g| !g.is_empty()) {
                file = Some(ShellArg { text: glued.to_owned(), ..word.clone() });
                options.push("-f".to_owned());
                continue;
            }
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
    let mut removes = has(&["--unset", "--unset-all", "--remove-section"]);
    match args.first() {
        Some(&"get" | &"list") => return,
        Some(&"set") => {
            args.remove(0);
        }
        Some(&"unset" | &"remove-section") => {
            args.clear();
            removes = true;
        }
        _ => {}
    }
    let setting = args.len() >= 2 && !has(&READS) && !removes;
    if !(setting || removes) {
        return;
    }
    let key = args.first().copied().unwrap_or_default();
    let value = args.get(1).copied().unwrap_or_default();
    if setting && !safe_git_setting(key, value) {
        out.push(Finding::RunsCode(format!("`git config {key}` can make git run a program")));
    }
    // The file changed: a key set, unset or a section removed there (taking out a
    // hardening such as `core.hooksPath` or `safe.directory` is a change too).
    if has(&["--global"]) {
        let home = ShellArg {
            text: "~/.gitconfig".to_owned(),
            raw: "~/.gitconfig".to_owned(),
            tilde: true,
            ..ShellArg::default()
        };
        out.push(Finding::Writes(home));
    }
    if has(&["--system"]) {
        out.push(Finding::Writes(ShellArg::known("/etc/gitconfig")));
    }
    if let Some(file) = file {
        out.push(Finding::Writes(file));
    }
}

/// Whether `git config REST` changes the repository's own configuration: a setting, an
/// unset, a section removed or renamed, an edit, without `--global`, `--system` or
/// `--file` (each writes elsewhere, judged by [`read`]). A word only known at run time
/// may be any of them.
pub(super) fn changes_repository(rest: &[ShellArg]) -> bool {
    const ELSEWHERE: [&str; 5] = ["--global", "--system", "--file", "-f", "--blob"];
    const CHANGES: [&str; 8] = [
        "--add",
        "--replace-all",
        "--unset",
        "--unset-all",
        "--rename-section",
        "--remove-section",
        "--edit",
        "-e",
    ];
    let mut options = Vec::new();
    let mut positionals = Vec::new();
    for word in rest {
        if !word.is_known() {
            return true;
        }
        let text = word.text.as_str();
        if text.starts_with("--") {
            let given = text.split_once('=').map_or(text, |(n, _)| n);
            match long_option(given, &CONFIG_LONG) {
                Some(name) => options.push(name),
                None => return true,
            }
        } else if text.starts_with('-') && text.len() > 1 {
            options.push(text);
        } else {
            positionals.push(text);
        }
    }
    if options.iter().any(|o| ELSEWHERE.contains(o)) {
        return false;
    }
    if options.iter().any(|o| CHANGES.contains(o)) {
        return true;
    }
    match positionals.first() {
        Some(&("set" | "unset" | "remove-section" | "rename-section" | "edit")) => true,
        Some(&("get" | "list")) => false,
        _ => positionals.len() >= 2,
    }
}
