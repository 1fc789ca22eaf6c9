//! The local hook's guard of its own state directory (`aecl hook AGENT --policy`): the
//! session files there are each session's memory of what the agent read, and an agent that
//! could delete or rewrite them would make an injected value look like its own. A call is
//! refused when it
//!
//! - names the directory (its path, its physical path, or the default location's name
//!   `.local/state/aecl`) anywhere in its arguments;
//! - has a path argument that resolves (through links, from the agent's `cwd`) into it;
//! - writes or deletes the directory, anything inside it, or any directory holding it
//!   (`rm -rf ~/.local`, `mv ~/.local x`, `find ~ -delete`, `rm -rf link-to-parent/`):
//!   every write target of a shell command (the core's [`write_words`]: redirections and
//!   what programs write or remove, through wrappers and nested code), and every path
//!   argument of an action that is not declared `read`, checked as written and as
//!   resolved.
//!
//! Shell words are expanded as the shell would where that is certain (`~`, `$HOME`,
//! `${VAR}` from this process's environment, which the agent passes on to its hooks,
//! quotes, `{a,b}`, globs listed on the filesystem); a write whose target or directory is
//! only known at run time (`$(...)`, a variable the line assigns, `cd "$X"`, a directory
//! only `cd ~` names) could be the directory, so it is refused. Reading stays allowed
//! (`ls ~`, `cat ~/.local/share/x`). Not caught: programs that run code of the agent's
//! choosing (`python3 -c ...`), which the policy's shell rules judge (`runs_code`).

use std::path::{Component, Path, PathBuf};

use aecl_core::Policy;
use aecl_core::policy::EffectClass;
use aecl_core::shell::{ProgramGuard, ShellArg, WriteWord, write_words};
use aecl_engine::fs_paths::{MAX_COMMAND_BYTES, resolve_path};
use aecl_policy::trace::{CallEvent, ResolvedPathFile};
use anyhow::{Result, bail};
use serde_json::Value;

/// The agents' shell tools, whose `command` is read for writes even when the policy puts
/// no shell rules on them.
const SHELL_TOOLS: [&str; 5] =
    ["Bash", "run_shell_command", "shell", "exec_command", "local_shell"];

/// Glob matches listed per word at most; past it the word is refused.
const MAX_GLOB_MATCHES: usize = 4096;

/// Brace alternatives per word at most; past it the word is refused.
const MAX_BRACE_WORDS: usize = 256;

/// Refuses `event` when it names, or writes to, aecl's state directory `dir` or a
/// directory holding it. `cwd` is the agent's working directory (absolute).
pub fn check_state_untouched(
    policy: &Policy,
    event: &CallEvent,
    dir: &Path,
    cwd: &Path,
) -> Result<()> {
    let guarded = Guarded::new(dir);
    let refuse = |what: &str, how: &str| -> Result<()> {
        bail!(
            "the call {how} aecl's hook state directory `{}` (in `{what}`), which keeps this \
             session's history: no tool call may touch it or a directory holding it",
            dir.display()
        )
    };
    let mut named = None;
    visit_strings(&event.args, &mut |text| {
        if named.is_none() && guarded.spellings.iter().any(|s| text.contains(s.as_str())) {
            named = Some(text.to_owned());
        }
    });
    if let Some(text) = named {
        return refuse(&text, "names");
    }
    let resolved = |written: &str| match event.resolved_paths.as_ref()?.get(written)? {
        ResolvedPathFile::Path(path) => Some(PathBuf::from(path)),
        ResolvedPathFile::Failed(_) => None,
    };
    // Inside it, for anything the hook resolved (path arguments, shell write targets).
    for (written, _) in event.resolved_paths.iter().flatten() {
        if let Some(path) = resolved(written)
            && guarded.holds(&path)
        {
            return refuse(&path.display().to_string(), "reaches");
        }
    }
    let default_guard = ProgramGuard::default();
    let mut guards = shell_guards(policy, &event.action);
    if SHELL_TOOLS.contains(&event.action.as_str()) {
        guards.push(&default_guard);
    }
    let mut strings = Vec::new();
    collect_strings(&event.args, &mut strings);
    // A directory holding it, for a path argument of an action that may write (not its
    // shell commands, read for their writes below; and not a read: the agent's own `cwd`
    // may be the home directory, and `ls ~` stays allowed).
    let writes = policy.actions.get(&event.action).is_none_or(|a| a.effect != EffectClass::Read);
    if writes && guards.is_empty() {
        for text in &strings {
            let lexical = Path::new(text).is_absolute().then(|| PathBuf::from(text));
            let hit = lexical.iter().chain(resolved(text).iter()).any(|p| guarded.touched_by(p));
            if hit {
                return refuse(text, "writes or removes");
            }
        }
    }
    let cwd_text = cwd.to_str().filter(|_| cwd.is_absolute());
    for guard in guards {
        for command in strings.iter().filter(|s| s.len() <= MAX_COMMAND_BYTES) {
            // A line that does not parse is the shell rules' to refuse.
            let Ok(words) = write_words(guard, command, cwd_text) else { continue };
            for write in &words {
                if let Err(why) = guarded.check_write(write, command, cwd) {
                    return refuse(&write.word.raw, &why);
                }
            }
        }
    }
    Ok(())
}

/// The state directory, as the checks compare it.
struct Guarded {
    /// Texts that name it: its path as given and resolved, and the default location.
    spellings: Vec<String>,
    /// Its path lexically normalised, and resolved through links.
    paths: Vec<PathBuf>,
}

impl Guarded {
    fn new(dir: &Path) -> Guarded {
        let lexical = normalise(dir);
        let physical = dir.canonicalize().unwrap_or_else(|_| lexical.clone());
        let mut spellings = vec![dir.display().to_string(), physical.display().to_string()];
        // The default location's own name, in any spelling of the home directory before it.
        spellings.push(".local/state/aecl".to_owned());
        spellings.retain(|s| !s.is_empty() && s != "/");
        Guarded { spellings, paths: vec![lexical, physical] }
    }

    /// `path` (absolute) is the directory or inside it.
    fn holds(&self, path: &Path) -> bool {
        let path = normalise(path);
        self.paths.iter().any(|dir| path.starts_with(dir))
    }

    /// A write at `path` (absolute) would touch the directory: it is the directory, inside
    /// it, or a directory holding it.
    fn touched_by(&self, path: &Path) -> bool {
        let path = normalise(path);
        self.paths.iter().any(|dir| path.starts_with(dir) || dir.starts_with(&path))
    }

    /// Checks one write of a shell line: every path it may be, as written and resolved.
    fn check_write(&self, write: &WriteWord, line: &str, cwd: &Path) -> Result<(), String> {
        let words = expand(&write.word, line)?;
        for word in words {
            let mut absolute = Vec::new();
            if word.starts_with('/') {
                absolute.push(PathBuf::from(&word));
            } else {
                for dir in &write.dirs {
                    match dir {
                        Some(dir) => absolute.push(Path::new(dir).join(&word)),
                        None => {
                            return Err("writes relative to a directory only known at run time \
                                        (give it as an absolute path), which could be"
                                .to_owned());
                        }
                    }
                }
            }
            for path in absolute {
                for found in glob(&path)? {
                    let resolved =
                        resolve_path(cwd, &found.display().to_string()).map_err(|e| {
                            format!(
                                "writes `{}`, which cannot be resolved ({e}) and could be",
                                found.display()
                            )
                        })?;
                    if self.touched_by(&found) || self.touched_by(Path::new(&resolved)) {
                        return Err("writes or removes".to_owned());
                    }
                }
            }
        }
        Ok(())
    }
}

/// The words a shell word becomes, where that is certain: quotes removed, `~` and
/// `$NAME`/`${NAME}` from this process's environment, `{a,b}` alternatives; glob
/// characters left in (escaped with `\` when quoted). Anything only known at run time is
/// an error saying so, and so is a variable whose name appears on the `line` other than
/// where it is read (the line may set it: `X=~/.local; rm -rf $X`).
fn expand(word: &ShellArg, line: &str) -> Result<Vec<String>, String> {
    if word.is_known() {
        return Ok(vec![escape_glob(&word.text)]);
    }
    let unknown =
        || format!("writes `{}`, a path only known at run time, which could be", word.raw);
    let raw = word.raw.as_str();
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    if word.tilde {
        chars.next();
        match chars.peek() {
            None | Some('/') => out.push_str(&escape_glob(&env("HOME").ok_or_else(unknown)?)),
            // `~user`, `~+`, `~-`.
            Some(_) => return Err(unknown()),
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
                let name = variable_name(&mut chars).ok_or_else(unknown)?;
                if may_be_set(line, &name) {
                    return Err(unknown());
                }
                let value = env(&name).ok_or_else(unknown)?;
                out.push_str(&escape_glob(&value));
            }
            (_, '`') => return Err(unknown()),
            (Some(_), c) => out.push_str(&escape_glob(&c.to_string())),
            (None, c) => out.push(c),
        }
    }
    if quote.is_some() {
        return Err(unknown());
    }
    braces(&out).ok_or_else(unknown)
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

/// Whether `name` appears on `line` other than read as `$NAME` or `${NAME}`: an
/// assignment, `export`, `read`, `for NAME in`, `declare`... (or a mere mention: refused
/// all the same, which errs towards refusing).
fn may_be_set(line: &str, name: &str) -> bool {
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

fn env(name: &str) -> Option<String> {
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

/// Brace expansion of unescaped `{a,b,...}` (nested too); `None` when unbalanced or too
/// many words. A `{}` or a brace without a comma stays as it is.
fn braces(pattern: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut depth = 0usize;
    let mut open = None;
    let mut commas = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars.get(i) {
            Some('\\') => i += 1,
            Some('{') => {
                if depth == 0 {
                    open = Some(i);
                    commas.clear();
                }
                depth += 1;
            }
            Some(',') if depth == 1 => commas.push(i),
            Some('}') if depth > 0 => {
                depth -= 1;
                if depth == 0
                    && let Some(start) = open
                    && !commas.is_empty()
                {
                    let head: String = chars.get(..start)?.iter().collect();
                    let tail: String = chars.get(i + 1..)?.iter().collect();
                    let mut bounds = vec![start];
                    bounds.extend(&commas);
                    bounds.push(i);
                    let mut out = Vec::new();
                    for pair in bounds.windows(2) {
                        let (from, to) = (*pair.first()?, *pair.get(1)?);
                        let middle: String = chars.get(from + 1..to)?.iter().collect();
                        for word in braces(&format!("{head}{middle}{tail}"))? {
                            out.push(word);
                            if out.len() > MAX_BRACE_WORDS {
                                return None;
                            }
                        }
                    }
                    return Some(out);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (depth == 0).then(|| vec![pattern.to_owned()])
}

/// The paths `pattern` (absolute, glob characters unescaped) names: itself, unescaped,
/// when it has no glob; else what it matches on the filesystem now (nothing matched: the
/// shell passes the word as it is).
fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
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
                    return Err(format!(
                        "writes `{text}`, a pattern of too many paths, which could be"
                    ));
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

fn has_glob(text: &str) -> bool {
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

fn unescape(text: &str) -> String {
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
/// `.` is matched by wildcards too: stricter than the shell's default, never looser.
fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches_at(&p, &n)
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
            let Some(close) = rest.iter().skip(1).position(|x| *x == ']').map(|i| i + 1) else {
                // No closing bracket: a literal `[`.
                return *c == '[' && matches_at(rest, tail);
            };
            let (set, after) =
                (rest.get(..close).unwrap_or_default(), rest.get(close + 1..).unwrap_or_default());
            let (negated, set) = match set.split_first() {
                Some(('!' | '^', set)) => (true, set),
                _ => (false, set),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                let (Some(lo), dash, hi) = (set.get(i), set.get(i + 1), set.get(i + 2)) else {
                    break;
                };
                if dash == Some(&'-')
                    && let Some(hi) = hi
                {
                    hit |= lo <= c && c <= hi;
                    i += 3;
                } else {
                    hit |= lo == c;
                    i += 1;
                }
            }
            hit != negated && matches_at(after, tail)
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

/// `path` with `.` and `..` resolved lexically (absolute paths).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The program guards of every shell constraint of `action` in `policy`.
fn shell_guards<'p>(policy: &'p Policy, action: &str) -> Vec<&'p ProgramGuard> {
    let Some(spec) = policy.actions.get(action) else { return Vec::new() };
    spec.args
        .iter()
        .flat_map(|arg| &arg.constraints)
        .filter_map(|constraint| match constraint {
            aecl_core::constraint::Constraint::Shell(rules) => Some(&rules.guard),
            _ => None,
        })
        .collect()
}

fn collect_strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    visit_strings(value, &mut |s| out.push(s));
}

fn visit_strings<'v>(value: &'v Value, visit: &mut impl FnMut(&'v str)) {
    match value {
        Value::String(text) => visit(text),
        Value::Array(items) => items.iter().for_each(|item| visit_strings(item, visit)),
        Value::Object(map) => map.values().for_each(|item| visit_strings(item, visit)),
        _ => {}
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
        ] {
            assert_eq!(fnmatch(pattern, name), hit, "{pattern} {name}");
        }
    }

    #[test]
    fn braces_expand_nested_alternatives_and_leave_the_rest() {
        assert_eq!(braces("a{b,c}d").unwrap(), vec!["abd", "acd"]);
        assert_eq!(braces("~/.{local,cache}/x").unwrap(), vec!["~/.local/x", "~/.cache/x"]);
        assert_eq!(braces("x{,.bak}").unwrap(), vec!["x", "x.bak"]);
        assert_eq!(braces("{a,{b,c}}").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(braces("{}").unwrap(), vec!["{}"]);
        assert_eq!(braces("\\{a,b\\}").unwrap(), vec!["\\{a,b\\}"]);
        assert!(braces("{a,b").is_none());
    }

    #[test]
    fn a_directory_holding_the_state_or_inside_it_is_touched_and_a_sibling_is_not() {
        let guarded = Guarded::new(Path::new("/home/u/.local/state/aecl/hooks"));
        for path in [
            "/",
            "/home",
            "/home/u",
            "/home/u/.local/state",
            "/home/u/.local/state/aecl/hooks/x",
            "/home/u/x/../.local",
        ] {
            assert!(guarded.touched_by(Path::new(path)), "{path}");
        }
        for path in ["/home/u/.local/share", "/home/u/.localx", "/tmp"] {
            assert!(!guarded.touched_by(Path::new(path)), "{path}");
        }
    }
}
