//! GitHub's CLI, as the program table reads it: what its subcommands publish, what they
//! keep to run later, and the files they write (red team round 26, hooks H2: `gh release
//! download -O`, `gh run download -D` and `gh repo clone DIR` wrote the hook's settings, the
//! policy directory and `.git/hooks` unchecked, since the table knew `gh` and so did not
//! treat it as a program whose writes it cannot list).

use super::ShellArg;
use super::finding::Finding;
use super::scan::Scanned;
use crate::shell::Unnamed;

/// `gh`: what its subcommands publish (the files and texts of gists, releases, issues, pull
/// requests, repositories, secrets; `gh api` with fields by its options) and what it keeps
/// to run later: an alias (`alias set`, `alias import`: a shell with `--shell` or `!`), an
/// extension (a program: `extension install`, `upgrade`, `exec`), and the editor, pager or
/// browser of its configuration (`config set`). Subcommands only known at run time are
/// both.
pub(super) fn read(scanned: &Scanned, out: &mut Vec<Finding>) {
    let mut words = scanned.positionals.iter();
    let Some(group) = words.next() else { return };
    let second = words.next();
    if !group.is_known() || second.is_some_and(|c| !c.is_known()) {
        let why = format!("`gh {}`: a subcommand only known at run time", group.raw);
        out.push(Finding::RunsCode(why.clone()));
        out.push(Finding::Uploads(why));
        return;
    }
    let command = second.map(|c| c.text.as_str());
    let runs = match (group.text.as_str(), command) {
        ("alias", Some("set" | "import")) => Some("an alias gh runs later (a shell's with `!`)"),
        ("extension" | "extensions" | "ext", Some("install" | "upgrade" | "exec" | "create")) => {
            Some("a gh extension, a program gh runs")
        }
        ("config", Some("set"))
            if scanned.positionals.get(2).is_none_or(|key| {
                !key.is_known()
                    || matches!(
                        key.text.as_str(),
                        "editor" | "pager" | "browser" | "http_unix_socket"
                    )
            }) =>
        {
            Some("the editor, pager or browser gh runs later")
        }
        ("codespace" | "cs", Some("ssh" | "cp" | "code" | "jupyter")) => {
            Some("a command on a remote machine")
        }
        _ => None,
    };
    if let Some(what) = runs {
        out.push(Finding::RunsCode(format!(
            "`gh {} {}` sets {what}",
            group.raw,
            command.unwrap_or_default()
        )));
    }
    // What it sends, or changes on GitHub beyond reading (second pass, N5: deleting a
    // repository, merging, running a workflow, a deploy key with write access).
    let publishes = matches!(
        (group.text.as_str(), command),
        ("gist", Some("create" | "new" | "edit" | "delete"))
            | ("release", Some("create" | "new" | "upload" | "edit" | "delete" | "delete-asset"))
            | (
                "issue" | "pr",
                Some(
                    "create"
                        | "new"
                        | "comment"
                        | "edit"
                        | "review"
                        | "merge"
                        | "close"
                        | "reopen"
                        | "delete"
                        | "transfer"
                        | "lock"
                        | "ready"
                )
            )
            | (
                "repo",
                Some(
                    "create"
                        | "new"
                        | "fork"
                        | "sync"
                        | "edit"
                        | "delete"
                        | "rename"
                        | "archive"
                        | "deploy-key"
                )
            )
            | ("secret" | "variable", Some("set" | "delete"))
            | ("gpg-key" | "ssh-key", Some("add" | "delete"))
            | ("label", Some("create" | "edit" | "delete" | "clone"))
            | ("project", Some(_))
            | ("workflow", Some("run" | "enable" | "disable"))
            | ("run", Some("rerun" | "cancel" | "delete"))
            | ("cache", Some("delete"))
            | ("ruleset" | "org" | "codespace" | "cs", Some(_))
    );
    // `gh api` with a method other than GET, or a body (fields are uploads by option).
    let method = scanned.values(&["-X", "--method"]).next();
    let writes_api = group.text == "api"
        && method.is_some_and(|m| !m.is_known() || !m.text.eq_ignore_ascii_case("GET"));
    let publishes = publishes || writes_api;
    if publishes {
        out.push(Finding::Uploads(format!(
            "`gh {} {}` publishes what it is given",
            group.raw,
            command.unwrap_or_default()
        )));
    }
    writes(scanned, group.text.as_str(), command, out);
}

/// git options `gh repo clone` may pass through (after `--`) that run nothing and write
/// only the clone: any other (`--template`, `-c`/`--config`, `-u`/`--upload-pack`, a
/// `--separate-git-dir`) can run code or write elsewhere.
const PLAIN_CLONE_OPTIONS: [&str; 22] = [
    "--depth",
    "-b",
    "--branch",
    "--single-branch",
    "--no-single-branch",
    "--no-tags",
    "--filter",
    "--shallow-since",
    "--shallow-exclude",
    "--shallow-submodules",
    "-q",
    "--quiet",
    "--progress",
    "-o",
    "--origin",
    "--bare",
    "--mirror",
    "--sparse",
    "-n",
    "--no-checkout",
    "-j",
    "--jobs",
];

/// The files `gh GROUP COMMAND` writes: a download's output file (`-O`) or directory
/// (`-D`, else the working directory), a clone's directory (named, else the repository's
/// or gist's name), and the work tree a checkout changes.
fn writes(scanned: &Scanned, group: &str, command: Option<&str>, out: &mut Vec<Finding>) {
    let dir = scanned.values(&["-D", "--dir"]).last().cloned();
    match (group, command) {
        ("release", Some("download")) | ("attestation", Some("download")) => {
            let file = scanned.values(&["-O", "--output"]).last();
            // Without `-O`, each asset under its own name: the pattern's, when it is a
            // plain name (no glob) and no archive of the sources is asked for.
            let patterns: Vec<&ShellArg> = scanned.values(&["-p", "--pattern"]).collect();
            let named = !patterns.is_empty()
                && !scanned.has(&["-A", "--archive"])
                && patterns.iter().all(|p| p.is_known() && !p.text.contains(['*', '?', '[', '/']));
            match file {
                Some(file) if file.is_known() && file.text == "-" => {}
                Some(file) => out.push(Finding::Writes(file.clone())),
                None if named => {
                    for pattern in patterns {
                        out.push(match &dir {
                            Some(dir) => Finding::WritesUnder(pattern.clone(), dir.clone()),
                            None => Finding::Writes(pattern.clone()),
                        });
                    }
                }
                None => out.push(unnamed("the assets the release names", dir, Unnamed::Entry)),
            }
        }
        ("run", Some("download")) => {
            out.push(unnamed("the artifacts the run names", dir, Unnamed::Tree));
        }
        ("repo", Some("clone")) | ("gist", Some("clone")) => {
            clone(scanned, out);
        }
        ("repo", Some("fork" | "create" | "new")) if scanned.has(&["--clone"]) => {
            out.push(unnamed("the clone gh names after the repository", None, Unnamed::Tree));
        }
        ("pr", Some("checkout")) | ("issue", Some("develop")) | ("repo", Some("sync")) => {
            out.push(Finding::WorkTree(None));
        }
        _ => {}
    }
}

/// `gh repo clone REPO [DIR] [-- GIT-OPTIONS]` (and `gh gist clone`): DIR, or the
/// repository's name, here; the git options after `--` judged as `git clone`'s.
fn clone(scanned: &Scanned, out: &mut Vec<Finding>) {
    let rest = scanned.positionals.get(2..).unwrap_or_default();
    let mut words = rest.iter();
    let repository = words.next();
    let mut destination = None;
    let mut options = false;
    for word in words {
        if !word.is_known() {
            out.push(Finding::RunsCode(format!(
                "`gh repo clone` passes `{}`, built at run time, to git",
                word.raw
            )));
        } else if word.text.starts_with('-') {
            options = true;
            let name = word.text.split_once('=').map_or(word.text.as_str(), |(n, _)| n);
            if !PLAIN_CLONE_OPTIONS.contains(&name) {
                out.push(Finding::RunsCode(format!(
                    "`gh repo clone` passes `{}` to `git clone`",
                    word.raw
                )));
            }
        } else if !options && destination.is_none() {
            // The first plain word before any option is the directory; later ones are
            // options' values.
            destination = Some(word.clone());
        }
    }
    match (destination, repository) {
        (Some(dir), _) => out.push(Finding::Writes(dir)),
        (None, Some(repository)) if repository.is_known() => {
            let name = repository.text.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
            let name = name.strip_suffix(".git").unwrap_or(name);
            match name {
                "" | "." | ".." => out.push(Finding::Unknown),
                name => out.push(Finding::Writes(ShellArg::known(name))),
            }
        }
        (None, _) => {
            out.push(unnamed("the clone gh names after the repository", None, Unnamed::Tree))
        }
    }
}

/// Files only the run names, in `dir` (the working directory when `None`).
fn unnamed(what: &str, dir: Option<ShellArg>, depth: Unnamed) -> Finding {
    Finding::Unnamed { what: what.to_owned(), dir, depth }
}
