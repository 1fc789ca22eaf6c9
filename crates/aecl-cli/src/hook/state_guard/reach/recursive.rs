//! Programs that read (or copy) the content of every file beneath a directory they are
//! given: `grep -r`, `rg`, `find -exec`, `git grep --no-index`, `diff -r`, and archivers
//! and copiers that put a tree where it can be read (`tar -c`, `zip -r`, `cp -r`, `rsync
//! -a`). Given a directory that holds the hook's state directory (`~/.local/state`, `~`,
//! `/`), such a command reads every session's history (red team round 28, hooks H5: `grep
//! -r tool_use ~/.local/state` printed them), as the search tools do (`search.rs`). A
//! listing of names (`ls -R`, `find` without an action, `tree`) reads no history.

use aecl_core::shell::{ShellArg, SimpleCommand};

/// Whether `command` reads or copies the trees beneath the directories its words name.
pub(super) fn reads_recursively(command: &SimpleCommand) -> bool {
    let words = &command.words;
    let flag = |longs: &[&str], shorts: &str| {
        words.iter().any(|w| {
            let text = w.text.as_str();
            w.may_be_option()
                || longs.iter().any(|l| text == *l || text.starts_with(&format!("{l}=")))
                || (text.starts_with('-')
                    && !text.starts_with("--")
                    && text.chars().skip(1).any(|c| shorts.contains(c)))
        })
    };
    match command.program.as_str() {
        "grep" | "egrep" | "fgrep" | "zgrep" => {
            flag(&["--recursive", "--dereference-recursive", "--directories"], "rR")
                || pair(words, "-d", "recurse")
        }
        // Recursive whatever they are told; ripgrep's hidden-file rule aside, a pattern
        // or `--hidden` reaches `.local`.
        "rg" | "ag" | "ack" | "ack-grep" | "ugrep" => true,
        // What it finds, given to a program (`-exec cat {} +`), or to `xargs` on the line.
        "find" => words.iter().any(|w| {
            w.may_be_option() || matches!(w.text.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir")
        }),
        "git" => {
            words.iter().any(|w| w.text == "grep")
                && words.iter().any(|w| w.text == "--no-index" || !w.is_known())
        }
        "diff" => flag(&["--recursive"], "r"),
        "cp" => flag(&["--recursive", "--archive"], "rRa"),
        "rsync" => flag(&["--recursive", "--archive"], "ra"),
        "scp" => flag(&[], "r"),
        "zip" => flag(&["--recurse-paths"], "rR"),
        "tar" | "bsdtar" | "7z" | "7za" | "cpio" | "pax" => true,
        _ => false,
    }
}

/// Whether `option VALUE` (or `optionVALUE`) is among `words`.
fn pair(words: &[ShellArg], option: &str, value: &str) -> bool {
    words.windows(2).any(|w| matches!(w, [o, v] if o.text == option && v.text == value))
        || words.iter().any(|w| w.text.strip_prefix(option) == Some(value))
}
