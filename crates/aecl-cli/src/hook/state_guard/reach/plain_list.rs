//! A command line that is a plain list of simple commands (`a && b; c || d`), read from
//! its text: the shell analysis flattens every command of a line (pipelines, loops,
//! substitutions) into one list and keeps no separators, so what runs before what, and
//! whether a command runs only when the one before it succeeded, is read here, for the
//! lines simple enough to tell.

use std::path::Path;

use aecl_core::shell::SimpleCommand;

/// What the text of a plain list says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::hook::state_guard) struct PlainList {
    /// Its commands, as the text separates them.
    pub segments: usize,
    /// Every separator is `&&`: a command runs only when all before it succeeded.
    pub all_and: bool,
}

/// `text` as a plain list: commands separated by `&&`, `||`, `;` or newlines, outside
/// quotes, with no pipeline or background job (commands run at once), subshell, group,
/// loop, condition, function, substitution or here-document (commands run before, after
/// or again). `None` for anything else.
pub(in crate::hook::state_guard) fn read(text: &str) -> Option<PlainList> {
    const KEYWORDS: [&str; 16] = [
        "for", "while", "until", "do", "done", "if", "then", "elif", "else", "fi", "case", "esac",
        "select", "function", "coproc", "!",
    ];
    let mut segments = vec![String::new()];
    let mut all_and = true;
    let (mut single, mut double) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let open = segments.last().is_some_and(|s| !s.trim().is_empty());
        if single {
            single = c != '\'';
        } else if c == '\\' {
            // An escaped character is a word's, whatever it is; an escaped newline
            // continues the line.
            if chars.next().is_some_and(|escaped| escaped != '\n')
                && let Some(segment) = segments.last_mut()
            {
                segment.push('_');
            }
            continue;
        } else if c == '`' || (c == '$' && next == Some('(')) {
            return None;
        } else if !double && c == '$' && next == Some('\'') {
            // ANSI-C quoting, where `\'` does not end the quotes (round 30, second pass:
            // `$'\' && a '; …` hid a `;` from a reading that took the quotes as plain).
            return None;
        } else if double {
            double = c != '"';
        } else {
            match c {
                '\'' => single = true,
                '"' => double = true,
                // A newline after `&&` (or at the start) continues the list.
                '\n' if !open => continue,
                ';' | '\n' => {
                    all_and = false;
                    segments.push(String::new());
                    continue;
                }
                '&' | '|' if next == Some(c) => {
                    chars.next();
                    all_and &= c == '&';
                    segments.push(String::new());
                    continue;
                }
                // `2>&1`, `&>log`: a redirection, not a job.
                '&' if segments.last().is_some_and(|s| s.ends_with('>')) || next == Some('>') => {}
                '&' | '|' | '(' | ')' | '{' | '}' | '#' => return None,
                '<' if next == Some('<') => return None,
                _ => {}
            }
        }
        if let Some(segment) = segments.last_mut() {
            segment.push(c);
        }
    }
    let keyword = |s: &String| s.split_whitespace().next().is_some_and(|w| KEYWORDS.contains(&w));
    if single
        || double
        || segments.iter().any(|s| s.trim().is_empty())
        || segments.iter().any(keyword)
    {
        return None;
    }
    Some(PlainList { segments: segments.len(), all_and })
}

/// Whether the analysis lists the `count` commands of `text` in the order they run.
pub(super) fn in_order(text: &str, count: usize) -> bool {
    read(text).is_some_and(|list| list.segments == count)
}

/// For a line whose commands run only when all before them succeeded (`mkdir -p build &&
/// cd build && cmake ..`): the one directory each command runs in, as spelled from `cwd`
/// through the `cd`s before it (`None` once a `cd` goes where the line does not tell: no
/// target, `-`, a word only known at run time, `popd`). `None` for any other line, and
/// for one that may change what `cd` is (`enable -n cd`, a `CDPATH` search) or run
/// anything but `mkdir` before its last `cd`.
pub(super) fn chain_dirs(
    text: &str,
    commands: &[SimpleCommand],
    cwd: &Path,
) -> Option<Vec<Option<String>>> {
    let list = read(text)?;
    // A script run in the shell itself (`. ./env.sh`) or code only known at run time may
    // define a `cd` of its own or change directory.
    let builtins_moved = commands
        .iter()
        .any(|c| matches!(c.program.as_str(), "enable" | "shopt") || c.path.is_some() || c.dynamic);
    if !list.all_and || list.segments != commands.len() || builtins_moved || text.contains("CDPATH")
    {
        return None;
    }
    // Only `mkdir` and `cd` before the last `cd`: any other command there may put a link
    // where a `cd` then goes (`ln -s ../.. build && cd build && cmake ..`), which the
    // filesystem does not show before the line runs.
    let moves = |c: &SimpleCommand| matches!(c.program.as_str(), "cd" | "pushd" | "popd" | "chdir");
    let last_cd = commands.iter().rposition(moves).unwrap_or(0);
    let before = commands.get(..last_cd).unwrap_or_default();
    if !before.iter().all(|c| moves(c) || c.program == "mkdir") {
        return None;
    }
    let mut dir = Some(cwd.display().to_string());
    let mut dirs = Vec::with_capacity(commands.len());
    for command in commands {
        dirs.push(dir.clone());
        if !moves(command) {
            continue;
        }
        let target = command
            .words
            .iter()
            .find(|w| !(w.is_known() && w.text.starts_with('-') && w.text.len() > 1));
        // `pushd` takes `-n` (no move) and `+N` (a rotation of the stack): only `cd` is
        // followed (round 30, second pass: `pushd -n build && cmake ..` stayed in cwd).
        dir = match (command.program.as_str(), target, dir) {
            ("cd", Some(t), Some(d)) if t.is_known() && !t.text.is_empty() && t.text != "-" => {
                Some(if t.text.starts_with('/') {
                    t.text.clone()
                } else {
                    format!("{}/{}", d.trim_end_matches('/'), t.text)
                })
            }
            _ => None,
        };
    }
    Some(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_list_is_in_order_and_nothing_else() {
        for (line, count) in [
            ("git stash && git pull && git stash pop", 3),
            ("git fetch 2>&1; git rebase origin/main", 2),
            ("git commit -m 'a; b && c' && git push", 2),
            ("git add -A &&\ngit commit -qm \"x|y\"", 2),
        ] {
            assert!(in_order(line, count), "{line}");
        }
        for (line, count) in [
            ("git stash | git pull", 2),
            ("git stash & git pull", 2),
            ("(git stash) && git pull", 2),
            ("{ git stash; } && git pull", 2),
            ("for i in 1; do git stash; done", 1),
            ("git pull && echo $(git stash)", 3),
            ("git pull && echo `git stash`", 3),
            ("if git pull; then git stash; fi", 2),
            ("git apply <<EOF\nx\nEOF", 1),
            ("git commit -m 'a; b' && git push", 3),
            ("git pull && git stash # && git x", 2),
            ("cd x && mkdir $'\\' && a '; : \\' && make", 3),
        ] {
            assert!(!in_order(line, count), "{line}");
        }
    }

    #[test]
    fn a_chain_of_ands_only() {
        let and = |line: &str| read(line).is_some_and(|l| l.all_and);
        assert!(and("mkdir -p build && cd build && cmake .."));
        assert!(and("cd build &&\n  cmake .."));
        assert!(and("cd 'a;b' && make"));
        assert!(!and("cd build; cmake .."));
        assert!(!and("cd build || cmake .."));
        assert!(!and("cd build\ncmake .."));
    }
}
