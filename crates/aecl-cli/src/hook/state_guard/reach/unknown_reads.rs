//! A word a command reads that `expand` cannot read: a variable the line sets, or one only
//! known at run time. A read of such a word was let through (a read of `cat $FILE` is no
//! write), and a variable set earlier on the line hid the state directory from the read
//! check (red team round 29, hooks H1: `X=st-repro; cat /tmp/rt/hooks/$X/*.state`, `X=state;
//! grep -r tool_use ~/.local/$X/aecl`).
//!
//! So the word is read again with each value the line assigns its variables (`X=v` words
//! whose value is known), and what stays unknown is judged by the text before it: when a
//! path that starts so may be the state directory, inside it or a directory holding it,
//! the read is refused. A word that starts with its expansion (`$FILE`, `${D}-x`) names no
//! directory and is left alone.

use std::path::{Path, PathBuf};

use aecl_core::shell::{Assignment, ShellArg};

use super::super::expand::{env, expand};
use super::super::protected::Protected;
use super::{Line, Refusal};

/// Words tried for one word at most (each variable's values multiply them).
const MAX_CANDIDATES: usize = 64;

impl Line<'_> {
    /// The texts a read `word` that `expand` could not read may be, from `dirs` (the
    /// directories the line may be in); refused when a part only known at run time may
    /// reach the state directory.
    pub(super) fn unknown_read<'p>(
        &self,
        word: &ShellArg,
        assignments: &[Assignment],
        dirs: &[PathBuf],
        protected: &'p Protected,
    ) -> Result<Vec<String>, Refusal<'p>> {
        let mut texts = Vec::new();
        let mut unknown = vec![word.clone()];
        for candidate in substituted(word, assignments) {
            match expand(&candidate, &self.setters(), self.pwd) {
                Ok(found) => texts.extend(found),
                Err(_) => unknown.push(candidate),
            }
        }
        for word in &unknown {
            if let Some(place) = self.may_reach_state(word, dirs, protected) {
                return Err(Refusal::Touches {
                    how: "reads a path only known at run time, which may be".to_owned(),
                    what: word.raw.clone(),
                    place,
                });
            }
        }
        Ok(texts)
    }

    /// The state directory when a path `word` names may be it, inside it or a directory
    /// holding it, from the text before its first expansion.
    fn may_reach_state<'p>(
        &self,
        word: &ShellArg,
        dirs: &[PathBuf],
        protected: &'p Protected,
    ) -> Option<&'p super::Place> {
        // A directory the shell computes from where it is or was (`${PWD%/*}`, `$OLDPWD`,
        // `${HOME%/*}`, `~-`): anywhere (second pass, H3).
        const MOVING: [&str; 7] = ["${PWD", "$PWD", "${OLDPWD", "$OLDPWD", "${HOME", "~-", "~+"];
        let raw = word.raw.trim_start_matches('"');
        if MOVING.iter().any(|m| raw.starts_with(m)) {
            return protected.state_maybe_under(Path::new("/"), "");
        }
        let before = literal_start(&word.raw)?;
        let (dir, start) = match before.rsplit_once('/') {
            Some((dir, start)) => (if dir.is_empty() { "/" } else { dir }, start),
            None => ("", before.as_str()),
        };
        // A glob or a brace in the name's start may make any name (`{s,a}${X:1}`).
        let start = if start.contains(['*', '?', '[', '{']) { "" } else { start };
        let bases: Vec<PathBuf> = match dir.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                let home = PathBuf::from(env("HOME")?);
                vec![home.join(rest.trim_start_matches('/'))]
            }
            Some(_) => return None,
            None if dir.starts_with('/') => vec![PathBuf::from(dir)],
            None => dirs.iter().map(|d| d.join(dir)).collect(),
        };
        bases.iter().find_map(|base| protected.state_maybe_under(Path::new(base), start))
    }
}

/// The text of `raw` before its first expansion, quotes removed, when it holds one and
/// some text comes before it (`/tmp/$X` gives `/tmp/`; `$X/y` and `"$X"` give none).
fn literal_start(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('\''), c) => out.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (_, '\\') => out.extend(chars.next()),
            (_, '$' | '`') => return (!out.is_empty()).then_some(out),
            (_, c) => out.push(c),
        }
    }
    None
}

/// `word` with each value the line assigns each variable it reads (`$X`, `${X}`), for
/// the variables whose assigned values are all known, and with the default or alternative
/// of each `${X:-WORD}`, `${X-WORD}`, `${X:=WORD}`, `${X:+WORD}` in its place (second pass,
/// H3); bounded.
pub(super) fn substituted(word: &ShellArg, assignments: &[Assignment]) -> Vec<ShellArg> {
    let mut candidates = vec![word.raw.clone()];
    for (whole, default) in defaults(&word.raw) {
        let mut next = Vec::new();
        for candidate in &candidates {
            next.push(candidate.replacen(&whole, &quoted(&default), 1));
            // Its variable's own values, when the line assigns them.
            let name = whole.trim_start_matches("${").split([':', '-', '=', '+']).next();
            for value in assignments.iter().filter(|a| Some(a.name.as_str()) == name) {
                if value.value.is_known() {
                    next.push(candidate.replacen(&whole, &quoted(&value.value.text), 1));
                }
            }
        }
        next.truncate(MAX_CANDIDATES);
        candidates = next;
    }
    let mut names: Vec<&str> = assignments.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let braced = format!("${{{name}}}");
        let reads = |raw: &str| raw.contains(&braced) || reads_plain(raw, name);
        if !candidates.iter().any(|c| reads(c)) {
            continue;
        }
        let values: Vec<&ShellArg> =
            assignments.iter().filter(|a| a.name == name).map(|a| &a.value).collect();
        if values.iter().any(|v| !v.is_known()) {
            continue;
        }
        let mut next = Vec::new();
        for candidate in &candidates {
            for value in &values {
                let text = quoted(&value.text);
                next.push(replace_plain(&candidate.replace(&braced, &text), name, &text));
            }
        }
        next.truncate(MAX_CANDIDATES);
        candidates = next;
    }
    candidates
        .into_iter()
        .filter(|c| *c != word.raw)
        .map(|raw| ShellArg {
            expansion: raw.contains(['$', '`']),
            // Read from `raw` by `expand`, its globs and quotes as written.
            pattern: true,
            // A default may start the word with a home directory (`${X-~/.local}`).
            tilde: raw.starts_with('~'),
            text: String::new(),
            raw,
        })
        .collect()
}

/// Each `${NAME:-WORD}` (and `-`, `:=`, `=`, `:+`, `+`) of `raw`, with its WORD, when WORD
/// holds no expansion of its own.
fn defaults(raw: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(at) = rest.find("${") {
        let after = rest.get(at + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else { break };
        let inner = after.get(..end).unwrap_or_default();
        let name_end =
            inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
        let (name, operation) = inner.split_at(name_end);
        let word =
            [":-", ":=", ":+", "-", "=", "+"].iter().find_map(|op| operation.strip_prefix(op));
        if let Some(word) = word.filter(|w| !name.is_empty() && !w.contains(['$', '`', '{'])) {
            out.push((format!("${{{inner}}}"), word.to_owned()));
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out
}

/// A value as the shell would give it in place of `$X`: as it is when it holds nothing
/// the shell reads again, else single-quoted.
fn quoted(value: &str) -> String {
    if value.chars().any(|c| c.is_whitespace() || "'\"\\$`".contains(c)) {
        format!("'{}'", value.replace('\'', "'\\''"))
    } else {
        value.to_owned()
    }
}

/// Whether `raw` reads `$NAME` (not a longer name that starts so).
fn reads_plain(raw: &str, name: &str) -> bool {
    raw != replace_plain(raw, name, "")
}

/// `raw` with every `$NAME` (not followed by a name character) replaced by `value`.
fn replace_plain(raw: &str, name: &str, value: &str) -> String {
    let pattern = format!("${name}");
    let mut out = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find(&pattern) {
        let (before, after) = rest.split_at(at);
        let after = after.get(pattern.len()..).unwrap_or_default();
        out.push_str(before);
        if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            out.push_str(&pattern);
        } else {
            out.push_str(value);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(name: &str, value: &str) -> Assignment {
        Assignment { name: name.to_owned(), value: ShellArg::known(value), subscript: None }
    }

    #[test]
    fn the_lines_values_are_put_in_place_of_its_variables() {
        let word = ShellArg {
            raw: "/tmp/$X/${D}-y/$XY".to_owned(),
            expansion: true,
            ..ShellArg::default()
        };
        let set = [assignment("X", "a b"), assignment("X", "c"), assignment("D", "d")];
        let raws: Vec<String> = substituted(&word, &set).into_iter().map(|w| w.raw).collect();
        assert_eq!(raws, ["/tmp/'a b'/d-y/$XY", "/tmp/c/d-y/$XY"]);
    }

    #[test]
    fn the_literal_start_is_the_text_before_the_first_expansion() {
        assert_eq!(literal_start("/tmp/'st'-$X/y").as_deref(), Some("/tmp/st-"));
        assert_eq!(literal_start("~/.local/${X}").as_deref(), Some("~/.local/"));
        assert_eq!(literal_start("$X/y"), None);
        assert_eq!(literal_start("\"$X\""), None);
        assert_eq!(literal_start("/tmp/plain"), None);
    }
}
