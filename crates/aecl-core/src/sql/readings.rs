//! How databases read SQL text: where each one ends a comment or a string, and so which
//! statements it finds.
//!
//! Databases disagree on the text around the statements: PostgreSQL nests `/* */`
//! comments, SQLite and MySQL do not; PostgreSQL ends a `--` comment at a carriage
//! return; MySQL reads `#` as a comment, wants white space after `--`, runs the text of
//! `/*! ... */` (MariaDB also `/*M! ... */`), escapes a quote with a backslash and reads
//! `"..."` as a string; SQLite lets a `/*` comment run to the end of the text. So
//! `/* /* */ DELETE FROM t -- */ SELECT 1` is a `SELECT` to PostgreSQL and a `DELETE` to
//! SQLite. Server settings move the same lines: MySQL's `ANSI_QUOTES` and
//! `NO_BACKSLASH_ESCAPES`, PostgreSQL's `standard_conforming_strings = off`.
//!
//! A [`Reading`] is one of these ways, and text is judged as each reading of its dialect
//! would run it (`generic`: all of them). Readings that share a parser and cut the text
//! into the same tokens are parsed once.

use std::any::TypeId;
use std::iter::Peekable;
use std::str::Chars;

use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

use super::functions::FunctionLists;
use super::{SqlDialect, StatementInfo, classify};

/// One way a database may read SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// sqlparser's permissive dialect: it also reads some syntax no database shares.
    Generic,
    Sqlite,
    Postgres,
    /// PostgreSQL with `standard_conforming_strings = off`: a backslash escapes in `'...'`.
    PostgresBackslashEscapes,
    Mysql,
    /// MySQL with `ANSI_QUOTES`: `"..."` is a name.
    MysqlAnsiQuotes,
    /// MySQL with `NO_BACKSLASH_ESCAPES`.
    MysqlNoBackslashEscapes,
    MysqlAnsiQuotesNoBackslashEscapes,
}

impl Reading {
    pub const ALL: [Reading; 8] = [
        Reading::Generic,
        Reading::Sqlite,
        Reading::Postgres,
        Reading::PostgresBackslashEscapes,
        Reading::Mysql,
        Reading::MysqlAnsiQuotes,
        Reading::MysqlNoBackslashEscapes,
        Reading::MysqlAnsiQuotesNoBackslashEscapes,
    ];

    /// The readings text checked in `dialect` must pass, the usual one first: for a named
    /// dialect its server settings, for `generic` (the database is not known) every one.
    pub fn of(dialect: SqlDialect) -> &'static [Reading] {
        match dialect {
            SqlDialect::Generic => &Reading::ALL,
            SqlDialect::Sqlite => &[Reading::Sqlite],
            SqlDialect::Postgres => &[Reading::Postgres, Reading::PostgresBackslashEscapes],
            SqlDialect::Mysql => &[
                Reading::Mysql,
                Reading::MysqlAnsiQuotes,
                Reading::MysqlNoBackslashEscapes,
                Reading::MysqlAnsiQuotesNoBackslashEscapes,
            ],
        }
    }

    /// The dialect whose function lists and rules classify what this reading parses.
    pub fn dialect(self) -> SqlDialect {
        match self {
            Reading::Generic => SqlDialect::Generic,
            Reading::Sqlite => SqlDialect::Sqlite,
            Reading::Postgres | Reading::PostgresBackslashEscapes => SqlDialect::Postgres,
            Reading::Mysql
            | Reading::MysqlAnsiQuotes
            | Reading::MysqlNoBackslashEscapes
            | Reading::MysqlAnsiQuotesNoBackslashEscapes => SqlDialect::Mysql,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Reading::Generic => "generic SQL",
            Reading::Sqlite => "SQLite",
            Reading::Postgres => "PostgreSQL",
            Reading::PostgresBackslashEscapes => "PostgreSQL with standard_conforming_strings off",
            Reading::Mysql => "MySQL",
            Reading::MysqlAnsiQuotes => "MySQL with ANSI_QUOTES",
            Reading::MysqlNoBackslashEscapes => "MySQL with NO_BACKSLASH_ESCAPES",
            Reading::MysqlAnsiQuotesNoBackslashEscapes => {
                "MySQL with ANSI_QUOTES and NO_BACKSLASH_ESCAPES"
            }
        }
    }

    /// Cuts `sql` into tokens as this reading's database does.
    pub fn tokenize(self, sql: &str) -> Result<Vec<TokenWithSpan>, String> {
        // libpq and SQLite's C interface end the text at a NUL, which sqlparser reads past:
        // `DELETE FROM t --\0\nWHERE id = 1` would run without its filter.
        if sql.contains('\0') {
            return Err("the text contains a NUL character".to_owned());
        }
        match self.tokenize_as_written(sql) {
            Ok(tokens) => Ok(tokens),
            // SQLite (and MySQL) let a `/* comment` run to the end of the text, where
            // sqlparser stops with an error. Closing it changes nothing else: no other
            // construct that runs to the end of the text is closed by `*/`.
            Err(e) if matches!(self.dialect(), SqlDialect::Sqlite | SqlDialect::Mysql) => {
                self.tokenize_as_written(&format!("{sql}*/")).map_err(|_| e)
            }
            Err(e) => Err(e),
        }
    }

    fn tokenize_as_written(self, sql: &str) -> Result<Vec<TokenWithSpan>, String> {
        match self {
            Reading::Generic => tokenize(&GenericDialect {}, sql),
            Reading::Sqlite => tokenize(&SQLiteDialect {}, sql),
            Reading::Postgres => tokenize(&PostgreSqlDialect {}, sql),
            Reading::PostgresBackslashEscapes => {
                let settings = Settings {
                    base: PostgreSqlDialect {},
                    backslash_escapes: true,
                    quoted_names: true,
                };
                tokenize(&settings, sql)
            }
            Reading::Mysql
            | Reading::MysqlAnsiQuotes
            | Reading::MysqlNoBackslashEscapes
            | Reading::MysqlAnsiQuotesNoBackslashEscapes => {
                let settings = Settings {
                    base: MySqlDialect {},
                    backslash_escapes: matches!(self, Reading::Mysql | Reading::MysqlAnsiQuotes),
                    quoted_names: matches!(
                        self,
                        Reading::MysqlAnsiQuotes | Reading::MysqlAnsiQuotesNoBackslashEscapes
                    ),
                };
                tokenize(&settings, sql).and_then(|tokens| mariadb_comments(&settings, tokens))
            }
        }
    }

    /// Parses this reading's tokens into statements, with the database's own grammar.
    pub fn parse(self, tokens: Vec<TokenWithSpan>) -> Result<Vec<Statement>, String> {
        let parsed = match self.dialect() {
            SqlDialect::Generic => parse(&GenericDialect {}, tokens),
            SqlDialect::Sqlite => parse(&SQLiteDialect {}, tokens),
            SqlDialect::Postgres => parse(&PostgreSqlDialect {}, tokens),
            SqlDialect::Mysql => parse(&MySqlDialect {}, tokens),
        };
        parsed.map_err(|e| e.to_string())
    }
}

/// What one reading made of the text.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not even cut into tokens (a string or comment left open): the database refuses it
    /// as well.
    Unreadable(String),
    /// Cut into tokens that do not parse. The database may still run it (its grammar is
    /// not sqlparser's): the words say whether it found the same code as a reading that
    /// parses.
    Unparsable {
        error: String,
        words: Vec<String>,
    },
    Parsed {
        statements: Vec<StatementInfo>,
        words: Vec<String>,
    },
}

/// One reading of the text, and what it made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub reading: Reading,
    pub outcome: Outcome,
}

/// Reads `sql` in every reading of `dialect`, classifying the statements of those that
/// parse.
pub fn read(dialect: SqlDialect, functions: &FunctionLists, sql: &str) -> Vec<Read> {
    // A server setting changes only how `"` and `\` read: text without them reads under
    // every setting as under the database's default ones, and is read once.
    let settings_matter = sql.contains(['"', '\\']);
    let mut reads: Vec<Read> = Vec::new();
    // The tokens of each reading parsed so far, when a setting may have changed them.
    let mut parsed_tokens: Vec<(Reading, Vec<Token>)> = Vec::new();
    for &reading in Reading::of(dialect) {
        let usual = reading.dialect().usual_reading();
        if reading != usual && !settings_matter {
            let outcome = reads.iter().find(|r| r.reading == usual).map(|r| r.outcome.clone());
            if let Some(outcome) = outcome {
                reads.push(Read { reading, outcome });
                continue;
            }
        }
        let tokens = match reading.tokenize(sql) {
            Ok(tokens) => tokens,
            Err(e) => {
                reads.push(Read { reading, outcome: Outcome::Unreadable(e) });
                continue;
            }
        };
        let bare: Vec<Token> = if settings_matter {
            tokens.iter().map(|t| t.token.clone()).collect()
        } else {
            Vec::new()
        };
        // Same grammar, same tokens: same statements.
        let same = parsed_tokens
            .iter()
            .find(|(r, t)| settings_matter && r.dialect() == reading.dialect() && *t == bare)
            .and_then(|(r, _)| reads.iter().find(|read| read.reading == *r));
        if let Some(same) = same {
            let outcome = same.outcome.clone();
            reads.push(Read { reading, outcome });
            continue;
        }
        let outcome = match reading.parse(tokens) {
            Ok(statements) => Outcome::Parsed {
                statements: statements
                    .iter()
                    .map(|s| classify::classify(reading.dialect(), functions, s))
                    .collect(),
                words: Vec::new(),
            },
            Err(error) => Outcome::Unparsable { error, words: Vec::new() },
        };
        parsed_tokens.push((reading, bare));
        reads.push(Read { reading, outcome });
    }
    // Words are compared only when some reading does not parse: only then are they made.
    if reads.iter().any(|r| matches!(r.outcome, Outcome::Unparsable { .. })) {
        for read in &mut reads {
            if let Outcome::Parsed { words: found, .. } | Outcome::Unparsable { words: found, .. } =
                &mut read.outcome
            {
                *found = read.reading.tokenize(sql).map(|t| words(&t)).unwrap_or_default();
            }
        }
    }
    reads
}

/// The code a reading found, with what it took for strings, names and comments left out:
/// two readings with the same words found the same keywords and operators in the same
/// order, whatever else they disagree on (`"x"` is a string to MySQL, a name to others).
fn words(tokens: &[TokenWithSpan]) -> Vec<String> {
    tokens
        .iter()
        .filter_map(|token| match &token.token {
            Token::Whitespace(_) => None,
            Token::Word(word) if word.quote_style.is_none() => Some(word.value.to_uppercase()),
            Token::Word(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_) => Some("'…'".to_owned()),
            other => Some(other.to_string()),
        })
        .collect()
}

fn tokenize(dialect: &dyn Dialect, sql: &str) -> Result<Vec<TokenWithSpan>, String> {
    // The parser's wording of tokenizer errors (`sql parser error: ...`), as before.
    Tokenizer::new(dialect, sql)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(|e| ParserError::from(e).to_string())
}

fn parse(dialect: &dyn Dialect, tokens: Vec<TokenWithSpan>) -> Result<Vec<Statement>, ParserError> {
    Parser::new(dialect).with_tokens_with_locations(tokens).parse_statements()
}

/// MariaDB runs the text of `/*M! ... */` (and `/*M!100100 ... */`) as MySQL runs that of
/// `/*! ... */`, which sqlparser already reads as code.
fn mariadb_comments(
    dialect: &dyn Dialect,
    tokens: Vec<TokenWithSpan>,
) -> Result<Vec<TokenWithSpan>, String> {
    let mut out = Vec::with_capacity(tokens.len());
    for token in tokens {
        match &token.token {
            Token::Whitespace(Whitespace::MultiLineComment(text)) if text.starts_with("M!") => {
                let code = text
                    .get(2..)
                    .unwrap_or_default()
                    .trim_start_matches(|c: char| c.is_ascii_digit());
                out.extend(tokenize(dialect, code)?);
            }
            _ => out.push(token),
        }
    }
    Ok(out)
}

/// A database's tokenizer under server settings: `base` with its backslash escapes and
/// its reading of `"` set. Only the tokenizer sees it (the parser gets `base`), and it
/// reports `base`'s type, so that sqlparser's per-dialect tokenizing (`#` comments in
/// MySQL, `--` ended by `\r` in PostgreSQL) still applies.
#[derive(Debug)]
struct Settings<D> {
    base: D,
    backslash_escapes: bool,
    /// Whether `"..."` is a name (else a string).
    quoted_names: bool,
}

impl<D: Dialect> Dialect for Settings<D> {
    fn dialect(&self) -> TypeId {
        self.base.dialect()
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        if ch == '"' { self.quoted_names } else { self.base.is_delimited_identifier_start(ch) }
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.backslash_escapes
    }
    // Everything else the tokenizer asks, as `base` answers it.
    fn is_nested_delimited_identifier_start(&self, ch: char) -> bool {
        self.base.is_nested_delimited_identifier_start(ch)
    }
    fn peek_nested_delimited_identifier_quotes(
        &self,
        chars: Peekable<Chars<'_>>,
    ) -> Option<(char, Option<char>)> {
        self.base.peek_nested_delimited_identifier_quotes(chars)
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.base.identifier_quote_style(identifier)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.base.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.base.is_identifier_part(ch)
    }
    fn is_custom_operator_part(&self, ch: char) -> bool {
        self.base.is_custom_operator_part(ch)
    }
    fn ignores_wildcard_escapes(&self) -> bool {
        self.base.ignores_wildcard_escapes()
    }
    fn supports_unicode_string_literal(&self) -> bool {
        self.base.supports_unicode_string_literal()
    }
    fn supports_triple_quoted_string(&self) -> bool {
        self.base.supports_triple_quoted_string()
    }
    fn supports_dollar_placeholder(&self) -> bool {
        self.base.supports_dollar_placeholder()
    }
    fn supports_dollar_as_money_prefix(&self) -> bool {
        self.base.supports_dollar_as_money_prefix()
    }
    fn supports_nested_comments(&self) -> bool {
        self.base.supports_nested_comments()
    }
    fn supports_multiline_comment_hints(&self) -> bool {
        self.base.supports_multiline_comment_hints()
    }
    fn supports_string_escape_constant(&self) -> bool {
        self.base.supports_string_escape_constant()
    }
    fn requires_single_line_comment_whitespace(&self) -> bool {
        self.base.requires_single_line_comment_whitespace()
    }
    fn supports_geometric_types(&self) -> bool {
        self.base.supports_geometric_types()
    }
    fn supports_numeric_prefix(&self) -> bool {
        self.base.supports_numeric_prefix()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        self.base.supports_numeric_literal_underscores()
    }
    fn supports_quote_delimited_string(&self) -> bool {
        self.base.supports_quote_delimited_string()
    }
    fn supports_pipe_operator(&self) -> bool {
        self.base.supports_pipe_operator()
    }
}

#[cfg(test)]
mod tests;
