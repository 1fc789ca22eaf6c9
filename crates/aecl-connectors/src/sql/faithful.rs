//! Whether the statement the connector runs is the statement that was decided.
//!
//! The connector runs sqlparser's re-serialisation of the one statement it parsed, not
//! the text the agent sent. That is deliberate, and the sounder of the two choices:
//!
//! - the re-serialisation is what the connector classified and planned (read or write,
//!   the table, the `WHERE` its undo captures), and it has no comments and one spelling
//!   per token, so the database can only read it one way. The agent's text, sent as is,
//!   would reach the database with every lexical corner where sqlparser and the server
//!   disagree (a comment ended by a carriage return on PostgreSQL, nested comments): the
//!   server could run a statement nobody classified. Worse, the connector embeds the
//!   statement in statements of its own (`SELECT … FROM (statement) AS aecl_q` for a read
//!   on PostgreSQL, `WITH aecl_changed AS (statement RETURNING …)`, `statement RETURNING
//!   …`), where such a disagreement would let the agent's text close the wrapper and
//!   write where the undo capture does not look;
//! - but sqlparser's printer is not always faithful to the text: SQLite's hexadecimal
//!   integer `0x10` is lexed as a blob literal and printed `X'10'`, a different value, so
//!   `SELECT 0x10 + 1` would run as `SELECT X'10' + 1` (1, not 17).
//!
//! So the re-serialisation runs only when it lexes, in the backend's dialect, to the
//! tokens of the text decided, each spelled the same; otherwise the statement is refused,
//! naming the first difference, and the agent can write it in the form that runs. The
//! comparison ignores whitespace, comments (the re-serialisation has none) and `;` before
//! or after the statement; it lets a keyword or an unquoted identifier change case (both
//! databases ignore the case of these), `!=` be printed `<>` (one token) and SQLite's `==`
//! be printed `=` (one operator); a quoted identifier must keep its quotes and name, and
//! every other token (a number, a string or blob literal, a placeholder, an operator) its
//! exact spelling, but for the case of a literal's prefix letters (`x'0a'`, `e'…'`).

use sqlparser::dialect::Dialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

/// Refuses `printed` (sqlparser's re-serialisation of `written`) unless it is `written`
/// token for token, as described in the module's documentation.
pub(super) fn check(dialect: &dyn Dialect, written: &str, printed: &str) -> Result<(), String> {
    let written_tokens = lex(dialect, written)?;
    let printed_tokens = lex(dialect, printed)?;
    let refused = |was: &str, now: &str| {
        Err(format!(
            "sql: the statement would run with `{now}` where it says `{was}`, which may not \
             mean the same to the database; nothing was executed (write it as it runs)"
        ))
    };
    let mut pairs = written_tokens.iter().zip(&printed_tokens);
    if let Some(((_, was), (_, now))) = pairs.find(|((a, sa), (b, sb))| !same(a, sa, b, sb)) {
        return refused(was, now);
    }
    match written_tokens.len().cmp(&printed_tokens.len()) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => {
            refused(written_tokens.get(printed_tokens.len()).map_or("", |(_, s)| s), "")
        }
        std::cmp::Ordering::Less => {
            refused("", printed_tokens.get(written_tokens.len()).map_or("", |(_, s)| s))
        }
    }
}

/// The tokens of `text` that matter, each with its spelling in `text`: no whitespace or
/// comments, no `;` before or after the statement.
fn lex<'t>(dialect: &dyn Dialect, text: &'t str) -> Result<Vec<(Token, &'t str)>, String> {
    let spanned: Vec<TokenWithSpan> = Tokenizer::new(dialect, text)
        .tokenize_with_location()
        .map_err(|e| format!("sql: the statement cannot be lexed again: {e}"))?;
    let mut cursor = Cursor::new(text);
    let mut out = Vec::with_capacity(spanned.len());
    for TokenWithSpan { token, span } in spanned {
        let start = cursor.byte_at(span.start);
        let end = cursor.byte_at(span.end);
        if matches!(token, Token::Whitespace(_) | Token::EOF) {
            continue;
        }
        out.push((token, text.get(start..end).unwrap_or_default()));
    }
    let first = out.iter().take_while(|(t, _)| *t == Token::SemiColon).count();
    let last = out.iter().rev().take_while(|(t, _)| *t == Token::SemiColon).count();
    let keep = out.len().saturating_sub(first).saturating_sub(last);
    Ok(out.into_iter().skip(first).take(keep).collect())
}

/// Whether written token `a` (spelled `sa`) and printed token `b` (spelled `sb`) are the
/// same to the database.
fn same(a: &Token, sa: &str, b: &Token, sb: &str) -> bool {
    match (a, b) {
        (Token::Word(a), Token::Word(b)) => match (a.quote_style, b.quote_style) {
            (None, None) => a.value.eq_ignore_ascii_case(&b.value),
            (qa, qb) => qa == qb && a.value == b.value,
        },
        // One token, two spellings: `!=` and `<>`.
        (Token::Neq, Token::Neq) => true,
        // SQLite's `==` is its `=`; sqlparser prints it `=`.
        (Token::DoubleEq, Token::Eq) => true,
        _ => a == b && same_spelling(sa, sb),
    }
}

/// `a` and `b` spelled the same, but for the case of the letters before a literal's first
/// quote (`x'0a'` and `X'0a'`).
fn same_spelling(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let split = |s: &str| -> (String, String) {
        let at = s.find(['\'', '"', '$']).unwrap_or(0);
        let (prefix, rest) = s.split_at(at);
        (prefix.to_ascii_uppercase(), rest.to_owned())
    };
    let (pa, ra) = split(a);
    let (pb, rb) = split(b);
    !pa.is_empty()
        && pa.chars().all(|c| c.is_ascii_alphabetic() || c == '&')
        && (pa, ra) == (pb, rb)
}

/// Turns the tokenizer's locations (line and column, both from 1, columns in characters)
/// into byte offsets, walking `text` once: locations only ever move forward.
struct Cursor<'t> {
    chars: std::str::CharIndices<'t>,
    line: u64,
    column: u64,
    byte: usize,
}

impl<'t> Cursor<'t> {
    fn new(text: &'t str) -> Cursor<'t> {
        Cursor { chars: text.char_indices(), line: 1, column: 1, byte: 0 }
    }

    fn byte_at(&mut self, location: Location) -> usize {
        while (self.line, self.column) < (location.line, location.column) {
            let Some((at, c)) = self.chars.next() else { break };
            self.byte = at + c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.byte
    }
}

#[cfg(test)]
mod tests;
