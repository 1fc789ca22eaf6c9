//! Shell text carried in a word. Programs hand some of their options' values to a shell
//! (`split --filter=CMD`, `tar --checkpoint-action=exec=CMD`, `zip -TT CMD`, `git
//! difftool -x CMD`, `git filter-branch --tree-filter CMD`), and run a command a variable
//! names (`GIT_EXTERNAL_DIFF`, `GIT_EDITOR`, `EDITOR`, `PAGER`): red team round 16 removed
//! `.claude` through each. Which word of such a program a shell runs is not always known
//! to the program table, so every word of a command whose writes the table cannot list,
//! of git, and every value the line assigns (`X=V`, `export X=V`), that reads as a
//! command line writing a protected place is refused as that line would be.

use std::path::Path;

use aecl_core::shell::{
    Analysis, LineWrites, OpaqueCommand, ProgramGuard, ShellArg, analyse_line, write_words,
};

use super::protected::Protected;
use super::reach::{COMMAND_TEXT, Line, Refusal};

/// Words longer than this are not read as command lines (the line's own limit bounds
/// the whole).
const MAX_TEXT: usize = 4096;

/// Checks the command lines carried in the words of `line` (its `analysis`, whose writes
/// `found` lists), from each directory the line may run them in.
pub fn check<'p>(
    guard: &ProgramGuard,
    line: &Line<'_>,
    analysis: &Analysis,
    found: &LineWrites,
    cwd: &Path,
    protected: &'p Protected,
) -> Result<(), Refusal<'p>> {
    let opaque = found.opaque.iter().map(|o| (o.words.as_slice(), o.dirs.as_slice()));
    // git, and the built-ins that set variables (`export GIT_EDITOR='CMD'`).
    let carrying = analysis
        .commands
        .iter()
        .filter(|c| {
            matches!(
                c.program.as_str(),
                "git" | "export" | "declare" | "typeset" | "local" | "readonly"
            )
        })
        .map(|c| c.words.as_slice());
    let cwd_text = cwd.to_str().map(str::to_owned);
    let here = std::slice::from_ref(&cwd_text);
    let mut carriers: Vec<(&ShellArg, &[Option<String>])> = Vec::new();
    for (words, dirs) in opaque {
        carriers.extend(words.iter().map(|w| (w, dirs)));
    }
    for words in carrying {
        carriers.extend(words.iter().map(|w| (w, here)));
    }
    carriers.extend(analysis.assignments.iter().map(|a| (&a.value, here)));
    // A here-string, or what `echo` and `printf` print, is the commands of an editor or a
    // database shell that reads its standard input (`ed -s x <<< 'w .claude/settings.json'`,
    // `echo '!rm -rf .claude' | ed -s x`): each piece may be a path or a command line.
    let consumers = analysis.commands.iter().filter(|c| COMMAND_TEXT.contains(&c.program.as_str()));
    for consumer in consumers {
        // Here-strings, and what `echo` or `printf` writes into a pipe to it.
        let printed = analysis
            .commands
            .iter()
            .filter(|c| matches!(c.program.as_str(), "echo" | "printf"))
            .flat_map(|c| c.words.iter());
        let here_strings = analysis.redirections.iter().filter(|r| r.operator == "<<<");
        for fed_text in here_strings.map(|r| &r.target).chain(printed) {
            // printf's `\n` ends a command as a newline would.
            let text = fed_text.text.replace("\\n", "\n").replace("\\t", "\t");
            let fed = OpaqueCommand {
                program: consumer.program.clone(),
                words: vec![ShellArg { text, ..fed_text.clone() }],
                dirs: here.to_vec(),
                appended: false,
                tree: false,
            };
            line.check_opaque(&fed, protected)?;
        }
    }
    for (word, dirs) in carriers {
        for carried in texts(&word.text) {
            for dir in dirs {
                check_text(guard, carried, dir.as_deref(), cwd, protected)?;
            }
        }
    }
    Ok(())
}

/// The command lines a word may carry: itself, the value after an option's `=` (and
/// after tar's `exec=`), the value glued to a short option (`-x'CMD'`, `-TT'CMD'`), and
/// the command after an escape to the shell (`!CMD`, vim's `:!CMD`, gdb's `shell CMD`,
/// sed's and ed's `e CMD` after an address, the replacement of sed's `s///e`), in each
/// command of a script.
fn texts(word: &str) -> Vec<&str> {
    let mut out = vec![word];
    if let Some((_, value)) = word.split_once('=') {
        out.push(value);
        if let Some((_, value)) = value.split_once('=') {
            out.push(value);
        }
    }
    if word.starts_with('-') && !word.starts_with("--") {
        out.extend(word.get(2..));
        out.extend(word.get(3..));
    }
    // A value quoted inside a variable (`GIT_CONFIG_PARAMETERS="'k'='CMD'"`).
    for text in out.clone() {
        out.push(text.trim_matches(['\'', '"']));
    }
    // Each command of a script (`y/x/y/;1e CMD`), then after an escape to the shell.
    let commands: Vec<&str> = out.iter().flat_map(|text| text.split([';', '\n'])).collect();
    for text in commands {
        let trimmed = text.trim_start();
        out.extend(["!", ":!", "shell ", "system "].iter().filter_map(|p| trimmed.strip_prefix(p)));
        let command = sed_address(trimmed).trim_start();
        out.extend(command.strip_prefix('e').filter(|c| c.starts_with(char::is_whitespace)));
        out.extend(executed_replacement(command));
    }
    out.retain(|text| {
        text.len() <= MAX_TEXT && text.contains(|c: char| c.is_whitespace() || "<>;|&".contains(c))
    });
    out
}

/// `text` after a sed or ed address: line numbers, `$`, `,`, `~` steps, `/REGEX/`.
fn sed_address(text: &str) -> &str {
    let mut rest = text;
    loop {
        let before = rest.len();
        rest = rest.trim_start_matches(|c: char| c.is_ascii_digit() || "$,~ ".contains(c));
        if let Some(regex) = rest.strip_prefix('/') {
            rest = regex.split_once('/').map_or("", |(_, after)| after);
        }
        if rest.len() == before {
            return rest;
        }
    }
}

/// The replacement of a sed `s` command whose `e` flag runs it (`s/.*/CMD/e`).
fn executed_replacement(command: &str) -> Option<&str> {
    let rest = command.strip_prefix('s')?;
    let delimiter = rest.chars().next().filter(|c| !c.is_alphanumeric() && !c.is_whitespace())?;
    let mut parts = rest.get(delimiter.len_utf8()..)?.splitn(3, delimiter);
    let (_, replacement, flags) = (parts.next()?, parts.next()?, parts.next()?);
    flags.contains('e').then_some(replacement)
}

/// Refuses `text` run as a command line in `dir` (`None`: only known at run time) when
/// it writes a protected place, or runs git in a repository other than the project's
/// (the one of the call's `cwd`, not of `dir`, where the line may have gone).
fn check_text<'p>(
    guard: &ProgramGuard,
    text: &str,
    dir: Option<&str>,
    cwd: &Path,
    protected: &'p Protected,
) -> Result<(), Refusal<'p>> {
    let (Ok(found), Ok(analysis)) = (write_words(guard, text, dir), analyse_line(text)) else {
        return Ok(());
    };
    if found.writes.is_empty() && found.opaque.is_empty() && found.git.is_empty() {
        return Ok(());
    }
    let Some(dir) = dir else {
        return Err(Refusal::Unknown(format!(
            "carries the command `{text}`, which runs in a directory only known at run time"
        )));
    };
    let line = Line::new(text, &analysis, Path::new(dir)).noting_writes(&found.writes);
    for write in &found.writes {
        line.check_write(write, protected)?;
    }
    // Found only for a text that runs git (most carried texts do not).
    let project = (!found.git.is_empty()).then(|| super::reach::project_repository(cwd));
    for git in &found.git {
        line.check_repository(git, &analysis, project.as_ref().and_then(|p| p.as_deref()))?;
    }
    let mut dirs: Vec<Option<String>> =
        found.writes.iter().flat_map(|w| w.dirs.iter().cloned()).collect();
    dirs.dedup();
    if dirs.is_empty() {
        dirs.push(Some(dir.to_owned()));
    }
    line.check_trees(&analysis, &dirs, protected)?;
    Ok(())
}
