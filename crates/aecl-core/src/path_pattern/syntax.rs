//! The two glob syntaxes, read into automata ([`super::automaton`]).
//!
//! - A **tool's pattern** (Claude Code's `Glob`, an MCP server's `search_files`, Node's
//!   `glob`, bash): `*` and `?` stay within one name, `**` alone is any number of names,
//!   `[...]` is a class, `\` escapes. A wildcard or class does not match the leading `.` of
//!   a name: hidden names need a pattern that writes the dot (`.*`, `**/.env`), as each of
//!   those tools does by default; `**` does not descend into hidden directories either. An
//!   extended glob (`@(...)`, `!(...)`, `+(...)`) is read as any name, hidden or not.
//!   Braces are expanded before ([`super::braces`]).
//! - A **policy glob** (`path_glob`, globset's syntax as the policy compiles it): `*`, `**`
//!   and `?` match any character, `/` included, `[...]` is a class, `{a,b}` alternatives.

use super::automaton::{Automaton, Chars};

/// The automaton of a tool's pattern whose braces were expanded.
pub fn tool_pattern(pattern: &str) -> Automaton {
    let mut automaton = Automaton::new();
    let mut cur = 0;
    let rest = match pattern.strip_prefix('/') {
        Some(rest) => {
            let next = automaton.state();
            automaton.edge(cur, Chars::one('/'), next);
            cur = next;
            rest
        }
        None => pattern,
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let count = segments.len();
    for (index, segment) in segments.into_iter().enumerate() {
        let last = index + 1 == count;
        if segment == "**" {
            cur = globstar(&mut automaton, cur, last);
            continue;
        }
        cur = name(&mut automaton, cur, segment);
        if !last {
            let next = automaton.state();
            automaton.edge(cur, Chars::one('/'), next);
            cur = next;
        }
    }
    automaton.set_accept(cur);
    automaton
}

/// `**`: any number of names that do not start with `.`, each with the `/` after it (or,
/// last, without the final one).
fn globstar(automaton: &mut Automaton, from: usize, last: bool) -> usize {
    let (inside, after) = (automaton.state(), automaton.state());
    automaton.skip(from, after);
    automaton.edge(from, Chars::name().without('.'), inside);
    automaton.edge(inside, Chars::name(), inside);
    automaton.edge(inside, Chars::one('/'), from);
    if last {
        automaton.skip(inside, after);
    }
    after
}

enum Token {
    One(Chars),
    Star,
}

/// One name of a tool's pattern, from `from`; returns the state after it.
fn name(automaton: &mut Automaton, from: usize, segment: &str) -> usize {
    let Some(tokens) = tokens(segment) else {
        // An extended glob: any non-empty name.
        let inside = automaton.state();
        automaton.edge(from, Chars::name(), inside);
        automaton.edge(inside, Chars::name(), inside);
        return inside;
    };
    // Only a literal dot first lets the name start with one.
    let hidden = matches!(tokens.first(), Some(Token::One(Chars::Only(r))) if r == &[('.', '.')]);
    let first = |chars: Chars| if hidden { chars } else { chars.without('.') };
    // `fresh`: nothing of the name read yet (only empty stars so far); `main`: some read.
    let (mut fresh, mut main): (Option<usize>, Option<usize>) = (Some(from), None);
    for token in tokens {
        match token {
            Token::One(chars) => {
                let next = automaton.state();
                if let Some(f) = fresh {
                    automaton.edge(f, first(chars.clone()), next);
                }
                if let Some(m) = main {
                    automaton.edge(m, chars, next);
                }
                (fresh, main) = (None, Some(next));
            }
            Token::Star => {
                let inside = automaton.state();
                if let Some(f) = fresh {
                    automaton.edge(f, first(Chars::name()), inside);
                }
                if let Some(m) = main {
                    automaton.skip(m, inside);
                }
                automaton.edge(inside, Chars::name(), inside);
                main = Some(inside);
            }
        }
    }
    // A name is never empty: only what has read something ends it.
    let end = automaton.state();
    if let Some(m) = main {
        automaton.skip(m, end);
    }
    end
}

/// A name's tokens, or `None` for an extended glob.
fn tokens(segment: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = segment.chars().collect();
    if chars.windows(2).any(|w| matches!(w, ['@' | '!' | '+' | '*' | '?', '('])) {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '\\' => {
                let escaped = chars.get(i).copied().unwrap_or('\\');
                i += 1;
                out.push(Token::One(Chars::one(escaped)));
            }
            '*' => {
                if !matches!(out.last(), Some(Token::Star)) {
                    out.push(Token::Star);
                }
            }
            '?' => out.push(Token::One(Chars::name())),
            '[' => match class(&chars, i) {
                Some((set, next)) => {
                    out.push(Token::One(set.without('/')));
                    i = next;
                }
                None => out.push(Token::One(Chars::one('['))),
            },
            c => out.push(Token::One(Chars::one(c))),
        }
    }
    Some(out)
}

/// A class whose `[` is just before `start`: its set and the index after its `]`, or
/// `None` when it does not close (then the `[` is literal). `!` or `^` first negates; a `]`
/// first is a member; `a-z` is a range; a POSIX class (`[:alpha:]`) is read as any
/// character, the larger answer.
fn class(chars: &[char], start: usize) -> Option<(Chars, usize)> {
    let mut i = start;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut posix = false;
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        if c == '[' && chars.get(i + 1) == Some(&':') {
            posix = true;
            let close = (i + 2..chars.len().saturating_sub(1))
                .find(|&k| chars.get(k) == Some(&':') && chars.get(k + 1) == Some(&']'))?;
            i = close + 2;
            continue;
        }
        let low = if c == '\\' {
            i += 1;
            *chars.get(i)?
        } else {
            c
        };
        i += 1;
        let high = match (chars.get(i), chars.get(i + 1)) {
            (Some('-'), Some(&h)) if h != ']' => {
                i += 2;
                h
            }
            _ => low,
        };
        if low <= high {
            ranges.push((low, high));
        }
    }
    let set = match (posix, negated) {
        (true, _) => Chars::any(),
        (false, false) => Chars::Only(ranges),
        (false, true) => Chars::AllBut(ranges),
    };
    Some((set, i))
}

/// The automaton of a policy glob; the error says why it does not parse.
pub fn policy_glob(glob: &str) -> Result<Automaton, String> {
    let chars: Vec<char> = glob.chars().collect();
    let mut automaton = Automaton::new();
    let mut i = 0;
    let end = sequence(&chars, &mut i, &mut automaton, 0, 0)?;
    if i < chars.len() {
        return Err(format!("glob `{glob}`: unexpected `{}`", chars.get(i).unwrap_or(&' ')));
    }
    automaton.set_accept(end);
    Ok(automaton)
}

/// Deepest `{` nesting read in a policy glob.
const MAX_NESTING: usize = 16;

fn sequence(
    chars: &[char],
    i: &mut usize,
    automaton: &mut Automaton,
    from: usize,
    depth: usize,
) -> Result<usize, String> {
    let mut cur = from;
    while let Some(&c) = chars.get(*i) {
        if depth > 0 && matches!(c, ',' | '}') {
            return Ok(cur);
        }
        // globset's `**/` at the start or after a `/` also matches nothing at all
        // (`**/x` is `x` too, `a/**/b` is `a/b`).
        if c == '*'
            && chars.get(*i + 1) == Some(&'*')
            && chars.get(*i + 2) == Some(&'/')
            && (*i == 0 || chars.get(*i - 1) == Some(&'/'))
        {
            let whole = *i == 0 && chars.len() == 3;
            *i += 3;
            let (inside, after) = (automaton.state(), automaton.state());
            automaton.skip(cur, after);
            automaton.skip(cur, inside);
            automaton.edge(inside, Chars::any(), inside);
            automaton.edge(inside, Chars::one('/'), after);
            if whole {
                // The glob `**/` alone matches everything, as `**` does.
                automaton.skip(inside, after);
            }
            cur = after;
            continue;
        }
        *i += 1;
        let chars_of = match c {
            '*' => {
                let inside = automaton.state();
                automaton.skip(cur, inside);
                automaton.edge(inside, Chars::any(), inside);
                cur = inside;
                continue;
            }
            '{' => {
                if depth >= MAX_NESTING {
                    return Err("alternatives nested too deep".to_owned());
                }
                let join = automaton.state();
                loop {
                    let end = sequence(chars, i, automaton, cur, depth + 1)?;
                    automaton.skip(end, join);
                    match chars.get(*i) {
                        Some(',') => *i += 1,
                        Some('}') => {
                            *i += 1;
                            break;
                        }
                        _ => return Err("an unclosed `{`".to_owned()),
                    }
                }
                cur = join;
                continue;
            }
            '?' => Chars::any(),
            '[' => {
                let (set, next) = class(chars, *i).ok_or("an unclosed `[`")?;
                *i = next;
                set
            }
            '\\' => {
                let escaped = *chars.get(*i).ok_or("a `\\` at the end")?;
                *i += 1;
                Chars::one(escaped)
            }
            c => Chars::one(c),
        };
        let next = automaton.state();
        automaton.edge(cur, chars_of, next);
        cur = next;
    }
    Ok(cur)
}
