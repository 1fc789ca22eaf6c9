//! Brace expansion as the glob tools agents call perform it before matching (bash,
//! minimatch's `brace-expansion`, which Node's `glob` and the tools built on it use):
//! `{a,b}` gives one text per alternative, nested and empty alternatives included
//! (`{,.}git`), and `{x..y}` or `{x..y..step}` a sequence of numbers or of single
//! characters. A `{` with no matching `}`, or a brace holding neither a top-level comma nor
//! a sequence (`{a}`), stays literal; `\` escapes the next character.

/// What one text may expand to, at most.
pub const MAX_EXPANSIONS: usize = 256;

/// The texts `text` expands to, in order. `Err` when it would be more than
/// [`MAX_EXPANSIONS`]: the caller refuses what it cannot read in full.
pub fn expand(text: &str) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let mut pending = vec![text.to_owned()];
    while let Some(item) = pending.pop() {
        match first_brace(&item) {
            None => done.push(item),
            Some(brace) => {
                let prefix = item.get(..brace.open).unwrap_or_default();
                let suffix = item.get(brace.close + 1..).unwrap_or_default();
                // Pushed in reverse so that the expansions come out in order.
                for middle in brace.items.iter().rev() {
                    pending.push(format!("{prefix}{middle}{suffix}"));
                }
            }
        }
        if done.len() + pending.len() > MAX_EXPANSIONS {
            return Err(format!(
                "`{text}` expands to more than {MAX_EXPANSIONS} paths through its braces"
            ));
        }
    }
    Ok(done)
}

/// Whether `text` holds a brace that expands (a `{` alone is literal).
pub fn expands(text: &str) -> bool {
    first_brace(text).is_some()
}

/// The first brace of a text that expands: its byte span and its items.
struct Brace {
    open: usize,
    close: usize,
    items: Vec<String>,
}

/// Longest text between braces read as a sequence (`{-100..100..5}` is far shorter).
const MAX_SEQUENCE_BYTES: usize = 64;

/// The brace that opens first among those that close and expand, found in one pass: each
/// `{` waits on a stack with the commas at its own depth until its `}` comes.
fn first_brace(text: &str) -> Option<Brace> {
    let bytes = text.as_bytes();
    let mut waiting: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut first: Option<(usize, usize, Vec<usize>)> = None;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\\' => i += 1,
            b'{' => waiting.push((i, Vec::new())),
            b',' => {
                if let Some((_, commas)) = waiting.last_mut() {
                    commas.push(i);
                }
            }
            b'}' => {
                if let Some((open, commas)) = waiting.pop()
                    && first.as_ref().is_none_or(|(earlier, _, _)| open < *earlier)
                    && (!commas.is_empty() || is_sequence(text.get(open + 1..i)?))
                {
                    first = Some((open, i, commas));
                }
            }
            _ => {}
        }
        i += 1;
    }
    let (open, close, commas) = first?;
    let items = if commas.is_empty() {
        sequence(text.get(open + 1..close)?)?
    } else {
        let mut items = Vec::with_capacity(commas.len() + 1);
        let mut start = open + 1;
        for end in commas.into_iter().chain([close]) {
            items.push(text.get(start..end)?.to_owned());
            start = end + 1;
        }
        items
    };
    Some(Brace { open, close, items })
}

/// `x..y` or `x..y..step`, numbers (zero-padded when either end is) or single
/// characters, counted from `x` towards `y` as bash counts them.
#[derive(Clone, Copy)]
enum Sequence {
    Numbers { from: i64, to: i64, step: u64, width: usize },
    Letters { from: u32, to: u32, step: u64 },
}

fn is_sequence(inner: &str) -> bool {
    inner.len() <= MAX_SEQUENCE_BYTES && parse_sequence(inner).is_some()
}

fn parse_sequence(inner: &str) -> Option<Sequence> {
    let mut parts = inner.split("..");
    let (from, to) = (parts.next()?, parts.next()?);
    let step = match parts.next() {
        Some(step) => step.parse::<i64>().ok()?.unsigned_abs().max(1),
        None => 1,
    };
    if parts.next().is_some() {
        return None;
    }
    if let (Ok(a), Ok(b)) = (from.parse::<i64>(), to.parse::<i64>()) {
        let padded = |t: &str| t.trim_start_matches('-').starts_with('0') && t.len() > 1;
        let width = [from, to].into_iter().filter(|t| padded(t)).map(str::len).max().unwrap_or(0);
        return Some(Sequence::Numbers { from: a, to: b, step, width });
    }
    let (mut a, mut b) = (from.chars(), to.chars());
    match (a.next(), a.next(), b.next(), b.next()) {
        (Some(a), None, Some(b), None) => {
            Some(Sequence::Letters { from: u32::from(a), to: u32::from(b), step })
        }
        _ => None,
    }
}

/// The items of a sequence, at most one more than [`MAX_EXPANSIONS`] (enough for
/// `expand` to refuse the text).
fn sequence(inner: &str) -> Option<Vec<String>> {
    let parsed = parse_sequence(inner)?;
    let (from, to, step) = match parsed {
        Sequence::Numbers { from, to, step, .. } => (i128::from(from), i128::from(to), step),
        Sequence::Letters { from, to, step } => (i128::from(from), i128::from(to), step),
    };
    let count = ((from - to).unsigned_abs() / u128::from(step)).saturating_add(1);
    let count = count.min(MAX_EXPANSIONS as u128 + 1);
    let values = (0..count).map(|k| {
        let offset = i128::try_from(k.saturating_mul(u128::from(step))).unwrap_or(i128::MAX);
        if from <= to { from.saturating_add(offset) } else { from.saturating_sub(offset) }
    });
    Some(match parsed {
        Sequence::Numbers { width, .. } => values.map(|v| format!("{v:0width$}")).collect(),
        Sequence::Letters { .. } => values
            .filter_map(|v| u32::try_from(v).ok().and_then(char::from_u32))
            .map(String::from)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(text: &str) -> Vec<String> {
        expand(text).unwrap()
    }

    #[test]
    fn alternatives_nest_and_may_be_empty() {
        assert_eq!(expanded("{..,x}/*"), ["../*", "x/*"]);
        assert_eq!(expanded("/w/{a,{b,c}d}/e"), ["/w/a/e", "/w/bd/e", "/w/cd/e"]);
        assert_eq!(expanded("{,.}git"), ["git", ".git"]);
        assert_eq!(expanded("a{b,c}{d,e}"), ["abd", "abe", "acd", "ace"]);
    }

    #[test]
    fn sequences_count_in_numbers_and_letters() {
        assert_eq!(expanded(".gi{s..u}"), [".gis", ".git", ".giu"]);
        assert_eq!(expanded("f{3..1}"), ["f3", "f2", "f1"]);
        assert_eq!(expanded("f{01..10..4}"), ["f01", "f05", "f09"]);
        assert_eq!(expanded("{-1..1}"), ["-1", "0", "1"]);
        assert_eq!(expanded("{e..b..2}"), ["e", "c"]);
        assert_eq!(
            expand("{-9223372036854775808..9223372036854775807}").map(|v| v.len()).ok(),
            None
        );
    }

    #[test]
    fn what_does_not_expand_stays_as_written() {
        for text in ["{a}", "{", "a}", "{a", "\\{a,b}", "{a\\,b}", "{..}", "{a..bc}", "plain"] {
            assert_eq!(expanded(text), [text], "{text}");
            assert!(!expands(text), "{text}");
        }
        assert_eq!(expanded("{a}{b,c}"), ["{a}b", "{a}c"]);
    }

    #[test]
    fn too_many_expansions_are_refused() {
        assert!(expand("{1..100000}").is_err());
        assert!(expand(&"{a,b}".repeat(9)).is_err());
        assert_eq!(expand(&"{a,b}".repeat(8)).unwrap().len(), 256);
    }
}
