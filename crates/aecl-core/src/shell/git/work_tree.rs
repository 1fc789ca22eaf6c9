//! Which git subcommands write the work tree as a whole: a checkout, a merge, a patch, a
//! stash, a clean. The files they write are the repository's, not their words', so the
//! directory git works in (the working directory, or `-C DIR`) is their write target, and
//! a place where they may make a symbolic link the repository holds.
//!
//! git finds its repository from that directory upwards; the work tree is taken to be the
//! directory itself. A write path below a repository's root therefore does not keep a
//! branch switch run there inside it (the limit is documented in `docs/policy.md`).
//!
//! Subcommands that write only the repository's own files (`add`, `commit`, `fetch`,
//! `tag`) are not work tree writes: what they change is under `.git`, which no file of the
//! project becomes until a checkout, itself a work tree write.

use super::super::ShellArg;
use super::git_option;

/// What a git command does to the files of its work tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::shell) enum WorkTree {
    /// It leaves them alone (or changes only the index and the repository).
    Untouched,
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

/// What `git SUB REST` does to the work tree; `first` is its first positional word.
pub(in crate::shell) fn work_tree(sub: &str, rest: &[ShellArg], first: Option<&str>) -> WorkTree {
    let has = |names: &[&str]| rest.iter().any(|w| git_option(w, names).is_some());
    let writes = match sub {
        _ if ALWAYS.contains(&sub) => true,
        "clean" => return WorkTree::Removes,
        "rm" if has(&["--cached"]) => false,
        "rm" => return WorkTree::Removes,
        // A bare clone writes a directory named after the repository, in this one.
        "clone" | "init" => true,
        "reset" => has(&["--hard", "--merge", "--keep"]),
        "read-tree" => has(&["-u", "--reset"]),
        // `--check`, `--stat`, `--numstat` and `--summary` only read unless `--apply` is
        // given; `--cached` applies to the index alone.
        "apply" => {
            let reads = has(&["--check", "--stat", "--numstat", "--summary"]);
            !has(&["--cached"]) && (!reads || has(&["--apply"]))
        }
        "stash" => !matches!(first, Some("list" | "show")),
        "sparse-checkout" => first != Some("list"),
        "submodule" => !matches!(first, None | Some("status" | "summary" | "foreach")),
        "bisect" => !matches!(first, None | Some("log" | "visualize" | "view" | "terms" | "help")),
        "worktree" => matches!(first, Some("add" | "move" | "remove")),
        _ => false,
    };
    if writes { WorkTree::Writes } else { WorkTree::Untouched }
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
