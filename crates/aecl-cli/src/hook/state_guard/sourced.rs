//! A script run in the shell itself (`source .venv/bin/activate`, `. ./env.sh`), read to
//! tell whether it may change the shell's directory.
//!
//! The core takes every sourced script for one that may `cd` anywhere: the commands after
//! it run in a directory only known at run time, so each relative path they write is
//! refused (round 30, second pass: `. ./to-claude.sh && echo {} > settings.json`). That
//! refused every `source .venv/bin/activate && black src`, `... && pytest > out.txt` of a
//! Python project (red team round 31, FP-1). The hook can read the file: a script whose
//! text holds no directory change, no code built at run time and no assignment of the
//! variables a later command's paths are spelt with keeps the line where it was, and its
//! `cd` to anywhere is dropped (`aecl_core::shell::SimpleCommand::sourced`).
//!
//! The file is read as it is when the hook runs, so it must be the one the line sources:
//! named before any directory change, by a path that needs no expansion, and with nothing
//! before it on the line that could write a file (only the commands of [`BEFORE`]), on a
//! line that runs its commands once each, in order. The reading is deliberately crude and
//! one-sided: a word is a directory change wherever it stands (in a comment on a line
//! with code, in a string, in a function never called), so a script it cannot tell
//! about keeps the refusal.

use std::path::Path;

use aecl_core::shell::Analysis;

use super::reach::plain_list;

/// The largest script read; a longer one keeps the refusal.
const MAX_SCRIPT_BYTES: u64 = 256 * 1024;

/// Commands that may come before the sourced script on the line: none writes a file or
/// changes directory (`mkdir` makes directories; `touch` an empty file, which is no
/// directory change).
const BEFORE: [&str; 14] = [
    "mkdir", "touch", "echo", "printf", "true", ":", "test", "[", "pwd", "ls", "which", "type",
    "export", "unset",
];

/// Words that change the shell's directory, run code only known at run time, or change
/// how later words are read (`alias` with `expand_aliases`), wherever they stand.
const MOVES: [&str; 15] = [
    "cd", "pushd", "popd", "chdir", "eval", "source", ".", "exec", "builtin", "command", "enable",
    "shopt", "alias", "trap", "dirs",
];

/// Variables that steer `cd`, `~` and what git and the network clients read (the guard
/// reads them from the line's text, `expand::may_be_set`): a script that names them at
/// all keeps the refusal. So does any `GIT_` or `XDG_` name.
const VARIABLES: [&str; 7] =
    ["HOME", "PWD", "OLDPWD", "CDPATH", "CURL_HOME", "WGETRC", "SYSTEM_WGETRC"];

/// Drops the `cd` the core put after each sourced script of `text` that reads as plain
/// ([`plain_text`]) and marks it no longer `sourced` (read: what it may set is known);
/// returns the texts of those scripts.
pub(super) fn settle(text: &str, analysis: &mut Analysis, cwd: &Path) -> Vec<String> {
    let mut read = Vec::new();
    if !cwd.is_absolute()
        || !analysis.commands.iter().any(|c| c.sourced)
        || plain_list::read(text).is_none()
    {
        return read;
    }
    let mut at = 0;
    while at < analysis.commands.len() {
        let command = &analysis.commands[at];
        let settles = command.sourced
            && analysis.commands.get(at + 1).is_some_and(|next| next.program == "cd")
            && analysis.commands[..at].iter().all(|c| BEFORE.contains(&c.program.as_str()))
            && !command
                .path
                .as_deref()
                .is_some_and(|script| redirected_into(analysis, script, cwd));
        if let Some(script) =
            command.path.as_deref().filter(|_| settles).and_then(|s| plain_text(s, cwd))
        {
            analysis.commands[at].sourced = false;
            analysis.commands.remove(at + 1);
            read.push(script);
        }
        at += 1;
    }
    read
}

/// Whether a redirection of the line may write the file `script` names: one to the same
/// file under any name (a link, a hard link), or to a name only known at run time.
/// Redirections are not tied to their command, so one after the `source` counts too.
fn redirected_into(analysis: &Analysis, script: &str, cwd: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(script) = std::fs::metadata(cwd.join(script)) else { return true };
    analysis.redirections.iter().filter(|r| r.operator.contains('>')).any(|redirection| {
        let target = &redirection.target;
        if !target.is_known() {
            return true;
        }
        if target.text.starts_with('&') || target.text.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        std::fs::metadata(cwd.join(&target.text))
            .is_ok_and(|found| (found.dev(), found.ino()) == (script.dev(), script.ino()))
    })
}

/// The text of the script at `script` (relative to `cwd`) when it cannot change the
/// directory of the shell that sources it, as far as its text tells.
fn plain_text(script: &str, cwd: &Path) -> Option<String> {
    if script.starts_with('~') {
        return None;
    }
    let path = cwd.join(script);
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_SCRIPT_BYTES {
        return None;
    }
    std::fs::read_to_string(&path).ok().filter(|text| plain_script(text))
}

/// Whether a script's text holds none of [`MOVES`], [`VARIABLES`], ANSI-C quotes (`$'\x63d'`
/// spells `cd`) or a command named by an expansion (`$X dir`). Whole-line comments are
/// skipped; quotes and backslashes are removed before words are cut, so `c""d` and `c\d`
/// read as the `cd` they are.
fn plain_script(text: &str) -> bool {
    if text.contains("$'") || text.contains('`') {
        return false;
    }
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.chars().chain(['\n']))
        .filter(|c| !matches!(c, '\'' | '"' | '\\'))
        .collect();
    let separators = |c: char| c.is_whitespace() || ";&|(){}<>".contains(c);
    let lines: Vec<&str> =
        text.lines().filter(|line| !line.trim_start().starts_with('#')).collect();
    if !command_names_plain(&lines) {
        return false;
    }
    !code.split(separators).filter(|w| !w.is_empty()).any(|word| {
        let name = word.split_once('=').map_or(word, |(name, _)| name);
        let name = name.trim_start_matches(['-', '+']).split(['+', '[']).next().unwrap_or(name);
        MOVES.contains(&word)
            || VARIABLES.contains(&name)
            || VARIABLES.iter().any(|v| word.contains(&format!("{v}=")))
            || word.contains("GIT_")
            || word.contains("XDG_")
    })
}

/// Whether every word a command of the script's `lines` starts with is a plain name once
/// its quotes are removed: letters, digits and `_./+@%:-`, after the keywords and
/// assignments before it. No expansion, brace or glob builds the name of what runs (`c$A`,
/// `c${A:-d}`, `{cd,}`, `$X`: red team round 31, second pass, P2-1). A `case` word and
/// its patterns are no commands.
fn command_names_plain(lines: &[&str]) -> bool {
    let plain = |c: char| c.is_alphanumeric() || "_./+@%:-".contains(c);
    let assignment = |token: &str| {
        token.split_once('=').is_some_and(|(name, _)| {
            let name = name.trim_end_matches('+');
            let name = name.split_once('[').map_or(name, |(n, _)| n);
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let (mut cases, mut case_word) = (0usize, false);
    let mut quote: Option<char> = None;
    for line in lines {
        // A `case` branch's patterns (`CYGWIN*|MSYS*)`, `*)`) on a line of their own.
        if quote.is_none() && cases > 0 && line.trim_end().ends_with(')') && !line.contains(";;") {
            continue;
        }
        // The line's words, quotes removed, each with whether a separator (`;`, `&`, `|`,
        // the line's start) came before it; quotes may span lines.
        let mut words: Vec<(String, bool)> = Vec::new();
        let (mut word, mut fresh, mut started) = (String::new(), quote.is_none(), false);
        for c in line.chars().chain(['\n']) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    started = true;
                }
                (None, c) if c.is_whitespace() || matches!(c, ';' | '&' | '|') => {
                    if started || !word.is_empty() {
                        words.push((std::mem::take(&mut word), fresh));
                        fresh = false;
                        started = false;
                    }
                    fresh |= matches!(c, ';' | '&' | '|');
                }
                (None, c) => word.push(c),
            }
        }
        let mut command = true;
        for (token, after_separator) in words {
            command |= after_separator;
            if case_word {
                case_word = token != "in";
                continue;
            }
            if !command {
                continue;
            }
            let bare = token.trim_start_matches('(');
            match bare {
                "" | "{" | "}" | "!" | "if" | "then" | "else" | "elif" | "fi" | "do" | "done"
                | "while" | "until" | "time" => continue,
                // The test commands: what follows is their operands.
                "[" | "[[" | "test" => {
                    command = false;
                    continue;
                }
                "esac" => {
                    cases = cases.saturating_sub(1);
                    continue;
                }
                "case" => {
                    cases += 1;
                    case_word = true;
                    continue;
                }
                // The loop's words are no commands; its `do` comes after a separator.
                "for" | "select" => {
                    command = false;
                    continue;
                }
                _ => {}
            }
            if assignment(bare) {
                continue;
            }
            if !bare.trim_end_matches(')').chars().all(plain) {
                return false;
            }
            command = false;
        }
    }
    true
}

/// A sourced script of the line, for tests: whether [`settle`] drops its `cd`.
#[cfg(test)]
fn settled(line: &str, cwd: &Path) -> bool {
    let mut analysis = aecl_core::shell::analyse_line(line).unwrap();
    let before = analysis.commands.len();
    let read = settle(line, &mut analysis, cwd);
    assert_eq!(read.len(), before - analysis.commands.len());
    analysis.commands.len() < before
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `activate` that `python3 -m venv` writes (Python 3.11), comments included.
    const ACTIVATE: &str = r#"# This file must be used with "source bin/activate" *from bash*
# you cannot run it directly

deactivate () {
    # reset old environment variables
    if [ -n "${_OLD_VIRTUAL_PATH:-}" ] ; then
        PATH="${_OLD_VIRTUAL_PATH:-}"
        export PATH
        unset _OLD_VIRTUAL_PATH
    fi
    # Call hash to forget past commands. Without forgetting
    # past commands the $PATH changes we made may not be respected
    hash -r 2> /dev/null
    if [ -n "${_OLD_VIRTUAL_PS1:-}" ] ; then
        PS1="${_OLD_VIRTUAL_PS1:-}"
        export PS1
        unset _OLD_VIRTUAL_PS1
    fi
    unset VIRTUAL_ENV
    unset VIRTUAL_ENV_PROMPT
    if [ ! "${1:-}" = "nondestructive" ] ; then
        unset -f deactivate
    fi
}
deactivate nondestructive
VIRTUAL_ENV="/home/u/p/.venv"
export VIRTUAL_ENV
_OLD_VIRTUAL_PATH="$PATH"
PATH="$VIRTUAL_ENV/bin:$PATH"
export PATH
if [ -z "${VIRTUAL_ENV_DISABLE_PROMPT:-}" ] ; then
    _OLD_VIRTUAL_PS1="${PS1:-}"
    PS1="(.venv) ${PS1:-}"
    export PS1
    VIRTUAL_ENV_PROMPT="(.venv) "
    export VIRTUAL_ENV_PROMPT
fi
hash -r 2> /dev/null
"#;

    #[test]
    fn a_venv_activate_keeps_the_directory_and_a_script_that_may_move_does_not() {
        assert!(plain_script(ACTIVATE));
        for moving in [
            "cd ~/.claude",
            "f() { cd /tmp; }",
            "c\"\"d /tmp",
            "c\\d /tmp",
            "$'\\x63d' /tmp",
            "X=cd; $X /tmp",
            "if true; then $X /tmp; fi",
            "export HOME=/tmp/h",
            "PWD=/tmp",
            "readonly CDPATH=/x",
            "HOME[0]=/tmp/h",
            "export GIT_WORK_TREE=/x",
            "XDG_CONFIG_HOME=/x",
            "CURL_HOME=/x",
            "declare -x OLDPWD=/x",
            "read HOME",
            ". ./other.sh",
            "source ./other.sh",
            "eval \"$(cat x)\"",
            "exec bash",
            "builtin cd /tmp",
            "shopt -s expand_aliases; alias ls='cd /tmp'",
            "trap 'cd /tmp' DEBUG",
            "echo `cd /tmp`",
            "pushd /tmp",
            "echo hi # ; cd /tmp",
            "A=d; c$A .claude",
            "c${A:-d} .claude",
            "{cd,} .claude",
            "f() { $X /tmp; }",
            "if true; then c*d /tmp; fi",
        ] {
            assert!(!plain_script(moving), "{moving}");
        }
    }

    /// Python 3.12's `activate` picks the path's form by a `case` on `$(uname)`.
    #[test]
    fn a_case_on_the_system_keeps_the_directory() {
        let activate = "case \"$(uname)\" in\n    CYGWIN*|MSYS*|MINGW*)\n        \
                        VIRTUAL_ENV=$(cygpath /home/u/.venv)\n        export VIRTUAL_ENV\n        ;;\n    \
                        *)\n        export VIRTUAL_ENV=/home/u/.venv\n        ;;\nesac\n\
                        for p in a b; do echo $p; done\n";
        assert!(plain_script(activate), "{activate}");
    }

    #[test]
    fn only_a_script_read_before_anything_could_write_it_is_settled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".venv/bin")).unwrap();
        std::fs::write(dir.path().join(".venv/bin/activate"), ACTIVATE).unwrap();
        std::fs::write(dir.path().join("to.sh"), "cd ../.claude\n").unwrap();
        let cwd = dir.path();
        assert!(settled("source .venv/bin/activate && black src", cwd));
        assert!(settled(". .venv/bin/activate; pytest > out.txt", cwd));
        assert!(settled("mkdir -p build && source .venv/bin/activate && pytest", cwd));
        assert!(!settled(". ./to.sh && echo {} > settings.json", cwd));
        assert!(!settled(". ./missing.sh && echo {} > x", cwd));
        // Something before it may write the file the hook read.
        assert!(!settled("cp to.sh .venv/bin/activate && . .venv/bin/activate && echo > x", cwd));
        assert!(!settled("cd sub && . .venv/bin/activate && echo > x", cwd));
        assert!(!settled("echo cd > .venv/bin/activate && . .venv/bin/activate", cwd));
        std::os::unix::fs::symlink(".venv/bin/activate", dir.path().join("link")).unwrap();
        assert!(!settled("echo cd >> link && . .venv/bin/activate && echo > x", cwd));
        std::fs::hard_link(dir.path().join(".venv/bin/activate"), dir.path().join("hard")).unwrap();
        assert!(!settled("echo cd > hard; . .venv/bin/activate; echo > x", cwd));
        assert!(!settled("echo cd > \"$F\"; . .venv/bin/activate; echo > x", cwd));
        // Not a list run once, in order.
        assert!(!settled(
            "for i in 1 2; do . .venv/bin/activate; cp to.sh .venv/bin/activate; done",
            cwd
        ));
        assert!(!settled(". .venv/bin/activate | cat", cwd));
    }
}
