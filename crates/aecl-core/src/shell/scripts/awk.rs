//! The awk program reader. Awk has no sandbox: `system()`, `|` to or from a command and
//! `print > FILE` are the ways out, plus `@load`/`@include` and gawk's `/inet` files.
//!
//! The program is first split into tokens the way awk's lexer does, because the places
//! code hides are where a reader loses its place: a `/` read as division that starts a
//! regular expression turns the `#` inside it into a comment that hides the rest of the
//! line. Awk's rule is grammatical: `/` starts a regular expression wherever an operand
//! may start, and divides after an operand. Where awks disagree (after `getline`,
//! `length`, `++`, `--`) or the text does not end a string or a regular expression, the
//! program is reported as running code, never read on by guess.

use super::ScriptEffects;

mod inputs;

pub(in crate::shell) use inputs::Context;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    /// A name or keyword.
    Word(String),
    /// A string literal's text; `None` if it has escapes (its value is then not the text).
    Str(Option<String>),
    /// A regular expression literal or a number: an operand whose text does not matter.
    Operand,
    /// An operator or punctuation, `|`, `>>`, `(`, `;` and so on.
    Punct(&'static str),
    Newline,
}

/// Words after which `/` starts a regular expression: they end no operand.
const BEFORE_OPERAND: &[&str] = &[
    "print",
    "printf",
    "return",
    "in",
    "case",
    "do",
    "else",
    "exit",
    "delete",
    "if",
    "while",
    "for",
    "switch",
    "BEGIN",
    "END",
    "BEGINFILE",
    "ENDFILE",
    "function",
    "func",
];

/// Words after which awks disagree whether `/` divides or starts a regular expression
/// (mawk reads `length /re/` and `x++ /re/` as a regular expression, `getline /2` as a
/// division).
const AMBIGUOUS_BEFORE_SLASH: &[&str] = &["getline", "length"];

/// The lexer's state: where it is and what the last token lets `/` mean.
struct Lexer {
    chars: Vec<char>,
    i: usize,
    tokens: Vec<Token>,
    /// The last token ends an operand: a `/` now divides.
    after_operand: bool,
    /// The last token leaves `/` ambiguous between awks.
    ambiguous: bool,
    /// The next `(` opens the condition of `if`, `while`, `for` or `switch`.
    control_next: bool,
    /// For each open `(`: whether it is such a condition, after whose `)` a statement
    /// (which may start with a regular expression) follows.
    parens: Vec<bool>,
}

impl Lexer {
    fn at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.i + offset).copied()
    }

    fn push(&mut self, token: Token, after_operand: bool) {
        self.tokens.push(token);
        self.after_operand = after_operand;
        self.ambiguous = false;
    }

    /// Tokens of the whole program, or why it cannot be read.
    fn run(mut self) -> Result<Vec<Token>, &'static str> {
        while let Some(c) = self.at(0) {
            self.i += 1;
            let control = std::mem::take(&mut self.control_next);
            match c {
                // mawk takes a vertical tab and a form feed for blanks too: `a \v/ 1`
                // divides there, and must not be read as `a` then a regular expression.
                ' ' | '\t' | '\r' | '\u{b}' | '\u{c}' => self.control_next = control,
                c if c.is_control() && c != '\n' => {
                    return Err("a control character in the program");
                }
                // A line continuation is blank space.
                '\\' if self.at(0) == Some('\n') => {
                    self.i += 1;
                    self.control_next = control;
                }
                '\n' => self.push(Token::Newline, false),
                '#' => {
                    while self.at(0).is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                '"' => {
                    let text = self.string().ok_or("a string that does not end")?;
                    self.push(Token::Str(text), true);
                }
                '/' if self.ambiguous => {
                    return Err("a `/` that awks read differently");
                }
                '/' if !self.after_operand => {
                    self.regex().ok_or("a regular expression that does not end")?;
                    self.push(Token::Operand, true);
                }
                c if c.is_ascii_digit()
                    || (c == '.' && self.at(0).is_some_and(|d| d.is_ascii_digit())) =>
                {
                    self.number();
                    self.push(Token::Operand, true);
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let start = self.i - 1;
                    while self.at(0).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        self.i += 1;
                    }
                    let word: String =
                        self.chars.get(start..self.i).unwrap_or_default().iter().collect();
                    let operand = !BEFORE_OPERAND.contains(&word.as_str());
                    let ambiguous = AMBIGUOUS_BEFORE_SLASH.contains(&word.as_str());
                    self.control_next = matches!(word.as_str(), "if" | "while" | "for" | "switch");
                    self.push(Token::Word(word), operand);
                    self.ambiguous = ambiguous;
                }
                '(' => {
                    self.parens.push(control);
                    self.push(Token::Punct("("), false);
                }
                ')' => {
                    let control = self.parens.pop().unwrap_or(false);
                    self.push(Token::Punct(")"), !control);
                }
                ']' => self.push(Token::Punct("]"), true),
                _ => self.operator(c),
            }
        }
        Ok(self.tokens)
    }

    /// An operator starting with `c` (already consumed).
    fn operator(&mut self, c: char) {
        let next = self.at(0);
        let (token, length): (&'static str, usize) = match (c, next) {
            ('|', Some('|')) => ("||", 2),
            ('|', Some('&')) => ("|&", 2),
            ('|', _) => ("|", 1),
            ('>', Some('>')) => (">>", 2),
            ('>', Some('=')) => (">=", 2),
            ('>', _) => (">", 1),
            ('+', Some('+')) => ("++", 2),
            ('-', Some('-')) => ("--", 2),
            (';', _) => (";", 1),
            ('{', _) => ("{", 1),
            ('}', _) => ("}", 1),
            ('@', _) => ("@", 1),
            // What `getline VAR < FILE` is made of.
            ('<', next) if next != Some('=') => ("<", 1),
            ('=', next) if next != Some('=') => ("=", 1),
            ('$', _) => ("$", 1),
            ('[', _) => ("[", 1),
            (',', _) => (",", 1),
            // The rest only matter as "an operand may follow".
            (_, Some('=')) => ("op=", 2),
            _ => ("op", 1),
        };
        self.i += length - 1;
        self.push(Token::Punct(token), false);
        if matches!(token, "++" | "--") {
            // Postfix `x++ / 2` divides in the grammar, but mawk reads `x++ /re/` as a
            // regular expression: refuse to guess.
            self.after_operand = true;
            self.ambiguous = true;
        }
    }

    /// A string literal after its `"`: its text, `Some(None)` if it has escapes, `None`
    /// if it does not end (awk refuses a newline in a string).
    fn string(&mut self) -> Option<Option<String>> {
        let start = self.i;
        let mut escaped = false;
        loop {
            let c = self.at(0)?;
            self.i += 1;
            match c {
                '\\' => {
                    self.at(0)?;
                    self.i += 1;
                    escaped = true;
                }
                '"' => break,
                '\n' => return None,
                _ => {}
            }
        }
        let text: String = self.chars.get(start..self.i - 1).unwrap_or_default().iter().collect();
        Some((!escaped).then_some(text))
    }

    /// A regular expression literal after its `/`; `None` if it does not end on its line.
    /// `\` escapes the next character everywhere, `/` inside a bracket expression does not
    /// end it, and `]` first in a bracket expression (or after `^`) is literal.
    fn regex(&mut self) -> Option<()> {
        let mut in_bracket = false;
        loop {
            let c = self.at(0)?;
            self.i += 1;
            match c {
                '\n' => return None,
                '\\' => {
                    if self.at(0)? == '\n' {
                        return None;
                    }
                    self.i += 1;
                }
                '/' if !in_bracket => return Some(()),
                '[' if !in_bracket => {
                    in_bracket = true;
                    if self.at(0) == Some('^') {
                        self.i += 1;
                    }
                    if self.at(0) == Some(']') {
                        self.i += 1;
                    }
                }
                '[' => {
                    if let Some(kind @ (':' | '=' | '.')) = self.at(0) {
                        self.i += 1;
                        self.class(kind)?;
                    }
                }
                ']' if in_bracket => in_bracket = false,
                _ => {}
            }
        }
    }

    /// Skips a `[:class:]`-like part after its `[:` up to its `:]`.
    fn class(&mut self, kind: char) -> Option<()> {
        loop {
            let c = self.at(0)?;
            self.i += 1;
            if c == '\n' {
                return None;
            }
            if c == kind && self.at(0) == Some(']') {
                self.i += 1;
                return Some(());
            }
        }
    }

    /// A number after its first character: digits, `.`, hex digits and an exponent.
    fn number(&mut self) {
        while let Some(c) = self.at(0) {
            let exponent_sign = matches!(c, '+' | '-')
                && self.i > 0
                && matches!(self.chars.get(self.i - 1), Some('e' | 'E'))
                && self.at(1).is_some_and(|d| d.is_ascii_digit());
            if c.is_ascii_alphanumeric() || c == '.' || exponent_sign {
                self.i += 1;
            } else {
                break;
            }
        }
    }
}

/// Reads an awk program.
#[cfg(test)]
fn read(program: &str) -> ScriptEffects {
    read_with(program, &Context::default())
}

/// Reads an awk program given what its command line tells of it.
pub(super) fn read_with(program: &str, context: &Context) -> ScriptEffects {
    let mut effects = ScriptEffects::default();
    if program.contains("/inet") {
        effects.network = true;
    }
    let lexer = Lexer {
        chars: program.chars().collect(),
        i: 0,
        tokens: Vec::new(),
        after_operand: false,
        ambiguous: false,
        control_next: false,
        parens: Vec::new(),
    };
    let tokens = match lexer.run() {
        Ok(tokens) => tokens,
        Err(why) => {
            effects.runs_code = Some(format!("a program it cannot read to its end ({why})"));
            return effects;
        }
    };
    for (k, token) in tokens.iter().enumerate() {
        match token {
            Token::Word(word) if word == "system" => {
                effects.runs_code = Some("it calls `system()`".to_owned());
            }
            Token::Punct("|" | "|&") if effects.runs_code.is_none() => {
                effects.runs_code = Some("it pipes to or from a command".to_owned());
            }
            // `@load`, `@include`, and gawk's indirect calls `@name()`, which can name
            // `system`; only `@namespace` is harmless.
            Token::Punct("@")
                if tokens.get(k + 1) != Some(&Token::Word("namespace".to_owned())) =>
            {
                effects.runs_code =
                    Some("it loads an extension or calls a function by name".to_owned());
            }
            Token::Word(word) if word == "print" || word == "printf" => {
                redirections(tokens.get(k + 1..).unwrap_or_default(), &mut effects);
            }
            _ => {}
        }
    }
    if inputs::opens_network(&tokens, context) {
        effects.network = true;
    }
    effects
}

/// `print ... > FILE` and `print ... >> FILE`: every `>` up to the end of the statement
/// (even in parentheses, where some awks still redirect). The file is known only when it
/// is string literals alone up to the end of the statement.
fn redirections(statement: &[Token], effects: &mut ScriptEffects) {
    let end = statement.iter().position(ends_statement).unwrap_or(statement.len());
    let statement = statement.get(..end).unwrap_or_default();
    for (k, token) in statement.iter().enumerate() {
        if !matches!(token, Token::Punct(">" | ">>")) {
            continue;
        }
        let target = statement.get(k + 1..).unwrap_or_default();
        let mut name = String::new();
        let mut known = !target.is_empty();
        for part in target {
            match part {
                Token::Str(Some(text)) => name.push_str(text),
                _ => known = false,
            }
        }
        effects.writes.push((known && !name.is_empty()).then_some(name));
    }
}

pub(super) fn ends_statement(token: &Token) -> bool {
    matches!(token, Token::Newline | Token::Punct(";" | "{" | "}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(program: &str) -> bool {
        read(program).runs_code.is_some()
    }

    #[test]
    fn a_regex_after_any_operator_or_keyword_hides_nothing() {
        for program in [
            r#"BEGIN { x = /#/; system("touch /outside/x") }"#,
            r#"BEGIN { x += /#/; system("x") }"#,
            r#"$0 == /#/ || 1 { system("x") }"#,
            r#"BEGIN { print /#/ ? 1 : 0; system("x") }"#,
            r#"function f() { return /#/ }; BEGIN { f(); system("x") }"#,
            r#"{ if (/#/) system("x") }"#,
            r#"/#/ { system("x") }"#,
            r#"{ y ~ /[#]/; "id" | getline }"#,
            r#"BEGIN { x = 1 + /#/; print "x" | "sh" }"#,
            r#"BEGIN { if (1) /#/; system("x") }"#,
            r#"BEGIN { x = (1, /[/#]/); system("x") }"#,
            r#"BEGIN { x = /\/#/; system("x") }"#,
            r#"BEGIN { x = /[]#/]/; system("x") }"#,
            r#"BEGIN { x = /[[:alpha:]#/]/; system("x") }"#,
            r##"BEGIN { s = "#"; system("x") }"##,
        ] {
            assert!(runs(program), "{program}");
        }
    }

    #[test]
    fn writes_after_a_regex_are_seen() {
        let effects = read(r#"BEGIN { x = /#/; print "x" > "/outside/f" }"#);
        assert_eq!(effects.writes, vec![Some("/outside/f".to_owned())]);
        let effects = read(r#"BEGIN { print "a;b{" > "/outside/f" }"#);
        assert_eq!(effects.writes, vec![Some("/outside/f".to_owned())]);
    }

    #[test]
    fn a_file_name_built_by_concatenation_is_whole_or_unknown() {
        assert_eq!(read(r#"{ print > "/tmp/" "x" }"#).writes, vec![Some("/tmp/x".to_owned())]);
        assert_eq!(read(r#"{ print > "/tmp/" n }"#).writes, vec![None]);
        assert_eq!(read(r#"{ print > "/tmp/\x2e" }"#).writes, vec![None]);
    }

    #[test]
    fn what_cannot_be_read_runs_code() {
        for program in [
            r#"BEGIN { x = /#; system("x") }"#,
            "BEGIN { x = \"#; }",
            "BEGIN { x = /a\n/ }",
            r#"BEGIN { getline /2; system("x") }"#,
            r#"BEGIN { x = length /#/; y = 1 }"#,
            r#"BEGIN { x = n++ /#/; y = 1 }"#,
            r#"BEGIN { f = "system"; @f("x") }"#,
            r#"@load "x""#,
        ] {
            assert!(runs(program), "{program}");
        }
    }

    #[test]
    fn everyday_programs_are_harmless() {
        for program in [
            "{ print $1 / 2 }",
            "{ print $NF }",
            "/^#/ { next } { print }",
            "{ n = NR / 2; print n, $2/3 }",
            "{ gsub(/a|b/, \"c\"); print }",
            "$1 ~ /^[#/]+$/ { print $2 } # a comment | with a bar",
            "{ x = (a + b) / 2; y = a[1] / 2; z = 1e-3 / .5 }",
            "BEGIN { FS = \"|\" } { print $1 || $2 }",
            "@namespace \"x\"\n{ print }",
        ] {
            let effects = read(program);
            assert_eq!(effects, ScriptEffects::default(), "{program}");
        }
    }
}
