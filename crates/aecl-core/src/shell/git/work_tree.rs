//! Which git subcommands write the work tree as a whole: a checkout, a merge, a patch, a
//! stash, a clean. The files they write are the repository's, not their words', so the
//! directory git works in (the working directory, or `-C DIR`) is their write target, and
//! a place where they may make a symbolic link the repository holds.
//!
//! git finds its repository from that directory upwards: an adapter that sees the
//! filesystem says where (`PathView::repository_key`), and that root is checked too
//! (`writes::check_repository`), so a write path below a repository's root does not keep a
//! branch switch run there inside it.
//!
//! Subcommands that write only the repository's own files (`add`, `commit`, `fetch`,
//! `tag`, `branch -D`, `reflog expire`, `gc`) change no file of the project until a
//! checkout, but they change the repository, which lives in that directory (or above it):
//! another repository's history is as much outside the write paths as its files. Which
//! subcommands only read is a list ([`READS`], and the read forms of the subcommands that do
//! both); any other subcommand writes the repository, so a subcommand this file has not
//! heard of is a write, not a read.

use super::super::ShellArg;
use super::git_option;

/// What a git command does to the files of its work tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::shell) enum WorkTree {
    /// It leaves them and the repository alone.
    Untouched,
    /// It changes the repository only: refs, objects, the index, its configuration.
    Repository,
    /// It removes files, and writes none (`clean`, `rm`).
    Removes,
    /// It writes files the repository holds, links among them.
    Writes,
}

/// Subcommands that write the work tree whatever their words.
const ALWAYS: [&str; 11] = [
    "checkout",
    "switch",
    "restore",
    "merge",
    "rebase",
    "pull",
    "am",
    "cherry-pick",
    "revert",
    "checkout-index",
    "mv",
];

/// Subcommands that read the repository and write neither it nor the work tree, whatever
/// their words (a file they write by option, such as `--output`, is that option's write).
/// `status` may refresh the index's cached file times, which changes no content.
const READS: [&str; 44] = [
    "annotate",
    "archive",
    "blame",
    "cat-file",
    "check-attr",
    "check-ignore",
    "check-mailmap",
    "check-ref-format",
    "cherry",
    "count-objects",
    "describe",
    "diff",
    "diff-files",
    "diff-index",
    "diff-tree",
    "difftool",
    "for-each-ref",
    "grep",
    "help",
    "log",
    "ls-files",
    "ls-remote",
    "ls-tree",
    "merge-base",
    "name-rev",
    "range-diff",
    "request-pull",
    "rev-list",
    "rev-parse",
    "shortlog",
    "show",
    "show-branch",
    "show-ref",
    "status",
    "var",
    "verify-commit",
    "verify-pack",
    "verify-tag",
    "version",
    // They write the files their words name (`git.rs`), not the repository.
    "interpret-trailers",
    "mailinfo",
    "mailsplit",
    "merge-file",
    "pack-objects",
];

/// What `git SUB REST` does to the work tree and the repository; `first` is its first
/// positional word.
pub(in crate::shell) fn work_tree(sub: &str, rest: &[ShellArg], first: Option<&str>) -> WorkTree {
    let has = |names: &[&str]| rest.iter().any(|w| git_option(w, names).is_some());
    if reads_only(sub, rest, first) {
        return WorkTree::Untouched;
    }
    let writes = match sub {
        // `checkout -b NEW` and `switch -c NEW` without a start point make a branch at
        // HEAD and change no file.
        "checkout" | "switch" if creates_branch_here(sub, rest) => false,
        _ if ALWAYS.contains(&sub) => true,
        "clean" => return WorkTree::Removes,
        "rm" if has(&["--cached"]) => false,
        "rm" => return WorkTree::Removes,
        // A bare clone writes a directory named after the repository, in this one.
        "clone" | "init" => true,
        "reset" => has(&["--hard", "--merge", "--keep"]),
        "read-tree" => has(&["-u", "--reset"]),
        // `--cached` applies to the index alone.
        "apply" => !has(&["--cached"]) && !apply_only_reports(&has),
        // Their read forms are `reads_only`'s; `submodule foreach` runs a command (`git.rs`)
        // and `bisect` alone prints its help.
        "stash" | "sparse-checkout" => true,
        "submodule" => first != Some("foreach"),
        "bisect" => first.is_some(),
        "worktree" => matches!(first, Some("add" | "move" | "remove")),
        "mergetool" | "filter-branch" | "init-db" => true,
        // An alias or a `git-NAME` program may do anything to the work tree.
        _ if !super::GIT_SUBCOMMANDS.contains(&sub) => true,
        _ => false,
    };
    if writes { WorkTree::Writes } else { WorkTree::Repository }
}

/// Whether `git SUB REST` only reads: a subcommand of [`READS`], or the read form of one
/// that can also write (a listing, a lookup, a check).
fn reads_only(sub: &str, rest: &[ShellArg], first: Option<&str>) -> bool {
    let has = |names: &[&str]| rest.iter().any(|w| git_option(w, names).is_some());
    let positional = first.is_some();
    match sub {
        _ if READS.contains(&sub) => true,
        // `git branch`, `git branch -a`, `git branch --list 'f*'`, `--contains X`; not a
        // name to create, nor `-d`, `-m`, `-c`, `-u` and their long forms.
        "branch" => {
            let changes = [
                "-d",
                "-D",
                "--delete",
                "-m",
                "-M",
                "--move",
                "-c",
                "-C",
                "--copy",
                "-f",
                "--force",
                "-u",
                "--set-upstream-to",
                "--unset-upstream",
                "--edit-description",
                "-t",
                "--track",
                "--create-reflog",
                "--recurse-submodules",
            ];
            let lists = [
                "-l",
                "--list",
                "-a",
                "--all",
                "-r",
                "--remotes",
                "--show-current",
                "--contains",
                "--no-contains",
                "--merged",
                "--no-merged",
                "--points-at",
            ];
            !has(&changes) && (!positional || has(&lists))
        }
        "tag" => {
            let changes = [
                "-a",
                "--annotate",
                "-s",
                "--sign",
                "-u",
                "--local-user",
                "-m",
                "--message",
                "-F",
                "--file",
                "-d",
                "--delete",
                "-f",
                "--force",
                "-e",
                "--edit",
                "--create-reflog",
            ];
            let lists = [
                "-l",
                "--list",
                "-n",
                "--contains",
                "--no-contains",
                "--merged",
                "--no-merged",
                "--points-at",
                "-v",
                "--verify",
            ];
            !has(&changes) && (!positional || has(&lists))
        }
        // `remote update` and `remote prune` fetch and prune remote-tracking refs.
        "remote" => {
            matches!(first, None | Some("show" | "get-url" | "update" | "prune"))
                && !has(&["-f", "--fetch"])
        }
        "notes" => matches!(first, None | Some("list" | "show" | "get-ref")),
        "reflog" => matches!(first, None | Some("show" | "exists" | "list")),
        "worktree" => first == Some("list"),
        "stash" => matches!(first, Some("list" | "show")),
        "symbolic-ref" => {
            !has(&["-d", "--delete"])
                && rest.iter().filter(|w| !w.text.starts_with('-')).count() < 2
        }
        "hash-object" => !has(&["-w"]),
        "fsck" => !has(&["--lost-found"]),
        "bundle" => matches!(first, Some("verify" | "list-heads" | "create")),
        "format-patch" => has(&["--stdout"]),
        "config" => !super::config::changes_repository(rest),
        "apply" => !has(&["--cached", "--index"]) && apply_only_reports(&has),
        "submodule" => matches!(first, None | Some("status" | "summary")),
        "sparse-checkout" => first == Some("list"),
        "bisect" => matches!(first, Some("log" | "visualize" | "view" | "terms" | "help")),
        "merge-tree" => has(&["--trivial-merge"]),
        // A push or a fetch keeps the remote's refs and objects (`origin/main`,
        // `FETCH_HEAD`): bookkeeping of what the remote holds, not a change of the
        // repository's own branches. A refspec that names a local ref (`+main:main`,
        // `--update-head-ok`) does change them; a push whose remote is a path is a write
        // of that repository (`git.rs`), and to `.` of this one.
        "fetch" => !fetch_updates_branches(rest),
        "push" => push_remote(rest)
            .is_some_and(|r| r.is_known() && !matches!(r.text.as_str(), "." | "./")),
        _ => false,
    }
}

/// Whether `git apply` only reports on the patch: `--check`, `--stat`, `--numstat` and
/// `--summary` apply nothing unless `--apply` is given too.
fn apply_only_reports(has: &dyn Fn(&[&str]) -> bool) -> bool {
    has(&["--check", "--stat", "--numstat", "--summary"]) && !has(&["--apply"])
}

/// Whether `git WORDS` is `git mv`, which can rename a link to the path it names (or may
/// be: an unknown global option, a subcommand only known at run time).
pub(in crate::shell) fn moves(words: &[ShellArg]) -> bool {
    let Ok((_, i)) = super::global_options(words) else { return true };
    words.get(i).is_some_and(|sub| !sub.is_known() || sub.text == "mv")
}

/// What `git WORDS` does to the work tree, its global options read; a command git cannot
/// tell before it runs (an unknown global option, a subcommand only known at run time)
/// may write it.
pub(in crate::shell) fn of_words(words: &[ShellArg]) -> WorkTree {
    let Ok((_, i)) = super::global_options(words) else { return WorkTree::Writes };
    let Some(sub) = words.get(i) else { return WorkTree::Untouched };
    if !sub.is_known() {
        return WorkTree::Writes;
    }
    let rest = words.get(i + 1..).unwrap_or_default();
    let first = rest.iter().find(|w| !(w.is_known() && w.text.starts_with('-')));
    work_tree(&sub.text, rest, first.map(|w| w.text.as_str()))
}

/// Whether `git fetch REST` moves the repository's own refs: a refspec with a destination
/// outside `refs/remotes/` (`main:main`, `+refs/heads/*:refs/heads/*`, `tag v1`), or
/// `--update-head-ok`, which lets it move the checked-out branch. A word only known at run
/// time may be such a refspec.
fn fetch_updates_branches(rest: &[ShellArg]) -> bool {
    let mut positionals = 0;
    for word in rest {
        if !word.is_known() {
            return true;
        }
        let text = word.text.as_str();
        if git_option(word, &["--update-head-ok", "-u", "--refmap"]).is_some() {
            return true;
        }
        if text.starts_with('-') {
            continue;
        }
        positionals += 1;
        // The first positional is the remote; `tag NAME` fetches into `refs/tags/NAME`.
        if positionals == 1 {
            continue;
        }
        if text == "tag" {
            return true;
        }
        if let Some((_, destination)) = text.split_once(':')
            && !destination.is_empty()
            && !destination.starts_with("refs/remotes/")
        {
            return true;
        }
    }
    false
}

/// Whether `git checkout -b NEW` (`-B`), or `git switch -c NEW` (`-C`, `--create`,
/// `--force-create`), names no start point, no path and no other option: the new branch is
/// HEAD, so the work tree stays as it is.
fn creates_branch_here(sub: &str, rest: &[ShellArg]) -> bool {
    let create: &[&str] = match sub {
        "checkout" => &["-b", "-B"],
        _ => &["-c", "-C", "--create", "--force-create"],
    };
    let [option, name] = rest else { return false };
    option.is_known()
        && create.contains(&option.text.as_str())
        && name.is_known()
        && !name.text.starts_with('-')
}

/// The repository `git push REST` pushes to: the value of `--repo=REPO` (or `--repo
/// REPO`) when given, else its first positional word.
pub(in crate::shell) fn push_remote(rest: &[ShellArg]) -> Option<ShellArg> {
    let mut iter = rest.iter();
    let mut first = None;
    while let Some(word) = iter.next() {
        if git_option(word, &["--repo"]).is_some() {
            return match word.text.split_once('=') {
                Some((_, value)) => Some(ShellArg { text: value.to_owned(), ..word.clone() }),
                None => iter.next().cloned(),
            };
        }
        if first.is_none() && !(word.is_known() && word.text.starts_with('-')) {
            first = Some(word.clone());
        }
    }
    first
}
