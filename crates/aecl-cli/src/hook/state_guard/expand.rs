//! Shell words expanded as the shell would, where the result is certain: quotes removed,
//! `~` and `$NAME`/`${NAME}` from this process's environment (which the agent passes on to
//! its hooks), brace alternatives and sequences, and globs listed on the filesystem. Anything only
//! known at run time is an error saying so.

use std::path::{Path, PathBuf};

use aecl_core::shell::ShellArg;

/// Glob matches listed per word at most; past it the word is refused.
const MAX_GLOB_MATCHES: usize = 4096;

/// The words a shell word becomes, where that is certain: quotes removed, `~` and
/// `$NAME`/`${NAME}` from this process's environment, brace expansions; glob
/// characters left in (escaped with `\` when quoted). Anything only known at run time is
/// an error saying so, and so is a variable whose name appears on the `line` other than
/// where it is read (the line may set it: `X=~/.local; rm -rf $X`; `HOME=/x; rm ~/y`).
/// The error says what is unknown: "`WORD`, a path only known at run time". `$PWD` is the
/// directory the line runs in, `pwd` (`None` when a `cd` of the line may have moved it),
/// not this process's: the shell keeps it.
pub fn expand(
    word: &ShellArg,
    line: &Setters<'_>,
    pwd: Option<&Path>,
) -> Result<Vec<String>, String> {
    if word.is_known() {
        return Ok(vec![escape_glob(&word.text)]);
    }
    let unknown = || format!("`{}`, a path only known at run time", word.raw);
    let raw = word.raw.as_str();
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    // The analyser's own words for what only the run knows ("<arguments appended at run
    // time>") hold no `$`: an expansion that this reading does not find is unknown.
    let mut expanded = !word.expansion;
    if word.tilde {
        chars.next();
        match chars.peek() {
            None | Some('/') if !line.may_set("HOME") => {
                out.push_str(&escape_glob(&env("HOME").ok_or_else(unknown)?));
            }
            // `~user`, `~+`, `~-`, or a home directory the line sets.
            _ => return Err(unknown()),
        }
    }
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('\''), c) => out.push_str(&escape_glob(&c.to_string())),
            (None, '\'' | '"') => quote = Some(c),
            (_, '\\') => match chars.next() {
                Some(next) => out.push_str(&escape_glob(&next.to_string())),
                None => return Err(unknown()),
            },
            (_, '$') => {
                expanded = true;
                // `$(pwd)` is the directory the line runs in, as `$PWD` is (red team round
                // 31, FP-8: `docker run -v $(pwd):/app` was a path only known at run time).
                let rest: String = chars.clone().take(5).collect();
                let name = if rest == "(pwd)" && line.pwd_is_builtin() {
                    chars.by_ref().take(5).for_each(drop);
                    "PWD".to_owned()
                } else {
                    variable_name(&mut chars).ok_or_else(unknown)?
                };
                if line.may_set(&name) {
                    return Err(unknown());
                }
                let value = match name.as_str() {
                    "PWD" => pwd.and_then(Path::to_str).map(str::to_owned),
                    "OLDPWD" => None,
                    _ => env(&name),
                };
                out.push_str(&escape_glob(&value.ok_or_else(unknown)?));
            }
            (_, '`') => {
                let rest: String = chars.clone().take(4).collect();
                if rest != "pwd`" || line.may_set("PWD") || !line.pwd_is_builtin() {
                    return Err(unknown());
                }
                chars.by_ref().take(4).for_each(drop);
                expanded = true;
                let value = pwd.and_then(Path::to_str).ok_or_else(unknown)?;
                out.push_str(&escape_glob(value));
            }
            (Some(_), c) => out.push_str(&escape_glob(&c.to_string())),
            (None, c) => out.push(c),
        }
    }
    if quote.is_some() || !expanded {
        return Err(unknown());
    }
    // Brace expansion as the shell's own (`{a,b}` and sequences, `stat{e..e}`), in a
    // redirection target too; more words than it reads are refused.
    aecl_core::path_pattern::expand(&out).map_err(|_| unknown())
}

/// `$NAME` or `${NAME}` after the `$`: the name, or `None` for any other expansion
/// (`$(...)`, `${X:-y}`, `$1`, `$@`, ...).
fn variable_name(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let braced = chars.peek() == Some(&'{');
    if braced {
        chars.next();
    }
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if braced && chars.next() != Some('}') {
        return None;
    }
    let first = name.chars().next()?;
    (first.is_ascii_alphabetic() || first == '_').then_some(name)
}

/// Where a line's variables may be set: its text, and the scripts it runs in the shell
/// itself (`source FILE`), read (`sourced.rs`) or not.
#[derive(Debug, Clone, Copy)]
pub struct Setters<'a> {
    line: &'a str,
    read: &'a [String],
    /// A script the line sources was not read: it may set any variable.
    unread: bool,
}

impl<'a> Setters<'a> {
    /// A line that sources no script.
    #[cfg(test)]
    pub fn line(line: &'a str) -> Setters<'a> {
        Setters { line, read: &[], unread: false }
    }

    /// A line, the texts of the scripts it sources that were read, and whether one was not.
    pub fn sourcing(line: &'a str, read: &'a [String], unread: bool) -> Setters<'a> {
        Setters { line, read, unread }
    }

    /// Whether `pwd` on the line is only ever the builtin's output read (`$(pwd)`,
    /// `` `pwd` ``): a line or a script that defines a function or an alias of that name
    /// (`pwd(){ echo .claude; }`: red team round 31, second pass, P2-2) makes it anything.
    fn pwd_is_builtin(&self) -> bool {
        let reads = self.line.matches("$(pwd)").count() + self.line.matches("`pwd`").count();
        !self.unread
            && self.line.matches("pwd").count() == reads
            && !self.read.iter().any(|script| script.contains("pwd"))
    }

    /// Whether the line may set `name` ([`may_be_set`] of its text or a script's).
    pub fn may_set(&self, name: &str) -> bool {
        self.unread
            || may_be_set(self.line, name)
            || self.read.iter().any(|script| may_be_set(script, name))
    }
}

/// Whether `name` appears on `line` other than read as `$NAME` or `${NAME}`: an
/// assignment, `export`, `read`, `for NAME in`, `declare`... (or a mere mention: refused
/// all the same, which errs towards refusing).
pub fn may_be_set(line: &str, name: &str) -> bool {
    let bytes = line.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(found) = line.get(from..).and_then(|rest| rest.find(name)) {
        let start = from + found;
        let end = start + name.len();
        let before = start.checked_sub(1).and_then(|i| bytes.get(i)).copied();
        let after = bytes.get(end).copied();
        let whole = !before.is_some_and(is_ident) && !after.is_some_and(is_ident);
        let read = before == Some(b'$')
            || (before == Some(b'{') && start >= 2 && bytes.get(start - 2) == Some(&b'$'));
        if whole && !read {
            return true;
        }
        from = end;
    }
    false
}

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '{' | '}' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The paths `pattern` (absolute, glob characters unescaped) names: itself, unescaped,
/// when it has no glob; else what it matches on the filesystem now (nothing matched: the
/// shell passes the word as it is).
pub fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let text = pattern.display().to_string();
    if !has_glob(&text) {
        return Ok(vec![PathBuf::from(unescape(&text))]);
    }
    let mut found = vec![PathBuf::from("/")];
    for part in text.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            if !has_glob(part) {
                next.push(base.join(unescape(part)));
                continue;
            }
            let Ok(entries) = std::fs::read_dir(base) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if fnmatch(part, &name) {
                    next.push(base.join(name));
                }
                if next.len() > MAX_GLOB_MATCHES {
                    return Err(format!("`{text}`, a pattern of too many paths"));
                }
            }
        }
        found = next;
    }
    if found.is_empty() {
        found.push(PathBuf::from(unescape(&text)));
    }
    Ok(found)
}

pub fn has_glob(text: &str) -> bool {
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, '*' | '?' | '[') {
            return true;
        }
    }
    false
}

/// `text` with each backslash escape replaced by the character it escapes.
pub(super) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Whether `name` matches the glob `pattern` (`*`, `?`, `[...]`, `\` escapes). A leading
/// `.` is matched by wildcards too, and letters in any case (bash's `nocaseglob`, which a
/// line may set: `.CLAUD[E]/SETTINGS.JSO[N]`): stricter than the shell's default, never
/// looser.
pub(super) fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let folded = |chars: &[char]| chars.iter().flat_map(|c| c.to_lowercase()).collect::<Vec<_>>();
    matches_at(&p, &n) || matches_at(&folded(&p), &folded(&n))
}

fn matches_at(p: &[char], n: &[char]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some(('*', rest)) => {
            (0..=n.len()).any(|i| n.get(i..).is_some_and(|tail| matches_at(rest, tail)))
        }
        Some(('?', rest)) => n.split_first().is_some_and(|(_, tail)| matches_at(rest, tail)),
        Some(('[', rest)) => {
            let Some((c, tail)) = n.split_first() else { return false };
            match bracket(rest, *c) {
                Some((hit, after)) => hit && matches_at(after, tail),
                // No closing bracket: a literal `[`.
                None => *c == '[' && matches_at(rest, tail),
            }
        }
        Some(('\\', rest)) => match (rest.split_first(), n.split_first()) {
            (Some((lit, rest)), Some((c, tail))) => lit == c && matches_at(rest, tail),
            _ => false,
        },
        Some((lit, rest)) => {
            n.split_first().is_some_and(|(c, tail)| lit == c && matches_at(rest, tail))
        }
    }
}

/// A bracket expression, `p` following its `[`: whether `c` is in it, and the pattern after
/// its `]`; `None` when it does not close. POSIX classes (`[:alpha:]`) are read; an
/// equivalence class or a collating symbol (`[=a=]`, `[.a.]`) is taken to match any
/// character, which makes a pattern match more, never less.
fn bracket(p: &[char], c: char) -> Option<(bool, &[char])> {
    let (negated, mut i) = match p.first() {
        Some('!' | '^') => (true, 1),
        _ => (false, 0),
    };
    let first = i;
    let mut hit = false;
    loop {
        let x = *p.get(i)?;
        if x == ']' && i > first {
            break;
        }
        if x == '['
            && let Some(&kind) = p.get(i + 1).filter(|k| matches!(k, ':' | '=' | '.'))
        {
            let start = i + 2;
            let end = (start..p.len())
                .find(|&j| p.get(j) == Some(&kind) && p.get(j + 1) == Some(&']'))?;
            let name: String = p.get(start..end)?.iter().collect();
            hit |= kind != ':' || class(&name, c);
            i = end + 2;
            continue;
        }
        match (p.get(i + 1), p.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                hit |= x <= c && c <= hi;
                i += 3;
            }
            _ => {
                hit |= x == c;
                i += 1;
            }
        }
    }
    Some((hit != negated, p.get(i + 1..).unwrap_or_default()))
}

/// Whether `c` is in the POSIX character class `name` (an unknown class: any character).
fn class(name: &str, c: char) -> bool {
    match name {
        "alpha" => c.is_alphabetic(),
        "digit" => c.is_ascii_digit(),
        "alnum" => c.is_alphanumeric(),
        "upper" => c.is_uppercase(),
        "lower" => c.is_lowercase(),
        "space" => c.is_whitespace(),
        "blank" => c == ' ' || c == '\t',
        "punct" => c.is_ascii_punctuation(),
        "print" => !c.is_control(),
        "graph" => !c.is_control() && !c.is_whitespace(),
        "cntrl" => c.is_control(),
        "xdigit" => c.is_ascii_hexdigit(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_names_with_classes_and_escapes() {
        for (pattern, name, hit) in [
            ("*", ".local", true),
            (".l*", ".local", true),
            ("?local", ".local", true),
            ("[.x]local", ".local", true),
            ("[!.]local", ".local", false),
            ("[a-z]ocal", "local", true),
            ("\\*", "*", true),
            ("\\*", "x", false),
            ("*.jsonl", "a.jsonl", true),
            ("*.jsonl", "a.json", false),
            ("[[:alpha:]]ettings*", "settings.json", true),
            ("[[:digit:]]*", "settings.json", false),
            ("[![:digit:]]*", "settings.json", true),
            ("[[:alpha:]-]laude", ".claude", false),
            ("[[:punct:]]claude", ".claude", true),
            ("[[=s=]]ettings.json", "settings.json", true),
            ("[]x]", "]", true),
            ("[!]]x", "ax", true),
            ("[[:alpha:]", "x", false),
        ] {
            assert_eq!(fnmatch(pattern, name), hit, "{pattern} {name}");
        }
    }

    #[test]
    fn braces_expand_as_the_shell_does() {
        let words = |word: &str| {
            let arg = ShellArg { raw: word.to_owned(), pattern: true, ..ShellArg::known(word) };
            expand(&arg, &Setters::line(word), None).unwrap()
        };
        assert_eq!(words("a{b,c}d"), vec!["abd", "acd"]);
        assert_eq!(words("x{,.bak}"), vec!["x", "x.bak"]);
        assert_eq!(words("{a,{b,c}}"), vec!["a", "b", "c"]);
        // Sequences (red team round 15: `> .claud{e..e}/settings.json` was read as written).
        assert_eq!(words(".claud{e..e}/settings.json"), vec![".claude/settings.json"]);
        assert_eq!(words("s{1..3}"), vec!["s1", "s2", "s3"]);
        assert_eq!(words("{}"), vec!["{}"]);
        assert_eq!(words("{a,b"), vec!["{a,b"]);
    }
}
