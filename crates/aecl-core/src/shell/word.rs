//! The word model: a shell word as literal, quoted, expanded and substituted parts, and
//! what the analyser asks of it (its literal text, whether it is known before run time,
//! whether it can turn into a flag); and the tokens the lexer makes of a line, which a
//! substitution inside a word holds in turn.

/// A word as the shell would see it before expansion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Word {
    pub parts: Vec<Part>,
    /// The source text, for messages.
    pub raw: String,
}

/// A piece of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    /// Unquoted text: subject to globbing, brace expansion and keyword recognition.
    Lit(String),
    /// Text protected by quotes or a backslash: always taken literally.
    Quoted(String),
    /// A parameter or arithmetic expansion (`$X`, `${X:-y}`, `$((1+2))`), kept as source:
    /// a value known only at run time.
    Param(String),
    /// A command substitution (`$(...)`, backquotes, `<(...)`): commands that run, whose
    /// output becomes a value known only at run time.
    Subst(Vec<Token>),
}

/// One token of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Word(Word),
    Op(Op),
    /// A redirection operator (`>`, `2>&1`'s `>&`, `<<<`, ...); its target is the next word.
    Redirect(&'static str),
    /// The body of a here-document: data for standard input whose substitutions (unless the
    /// delimiter was quoted) still run.
    HereDoc(Word),
}

/// A control operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// `;`
    Semi,
    /// `&`
    Amp,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `|` or `|&`
    Pipe,
    /// `;;`, `;&` or `;;&`, which end a `case` clause.
    CaseEnd,
    LParen,
    RParen,
    Newline,
}

/// The word whose text is `escaped`: a character after `\\` quoted, the others not.
fn unescaped(escaped: &str) -> Word {
    let mut parts: Vec<Part> = Vec::new();
    let mut raw = String::new();
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        let (quoted, c) = match c {
            '\\' => match chars.next() {
                Some(next) => (true, next),
                None => (false, c),
            },
            _ => (false, c),
        };
        raw.push(c);
        match (parts.last_mut(), quoted) {
            (Some(Part::Quoted(s)), true) | (Some(Part::Lit(s)), false) => s.push(c),
            (_, true) => parts.push(Part::Quoted(c.to_string())),
            (_, false) => parts.push(Part::Lit(c.to_string())),
        }
    }
    Word { parts, raw }
}

/// Characters that make an unquoted word a glob pattern.
const GLOB: [char; 3] = ['*', '?', '['];

/// Stands for a run-time value when the text of a word is handed to another shell parse
/// (`bash -c`, `eval`): the inner parse then sees an expansion in the same place.
const UNKNOWN: &str = "${__aecl_unknown}";

impl Word {
    /// The literal text: quotes removed, escapes decoded, expansions left out.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for part in &self.parts {
            if let Part::Lit(s) | Part::Quoted(s) = part {
                text.push_str(s);
            }
        }
        text
    }

    /// Whether the word holds code that bash runs later, when the text is used rather than
    /// now: a literal array subscript with a command substitution (`'a[$(cmd)]'`, which
    /// `printf -v`, `declare`, `test -v`, `${!x}` and any arithmetic on a variable holding
    /// it evaluate), or a prompt expansion of a value (`${x@P}`). Substitutions that run
    /// now are parsed as commands of their own; these only exist as text until then.
    pub fn defers_code(&self) -> bool {
        let literal = self.text();
        // Inside any `[` up to the `]` that closes it, nested ones counted (`a[b[0]+$(cmd)0]`
        // closes `b[0]` first: red team round 20, F02); one pass over the text.
        let mut depth = 0usize;
        let mut previous = ' ';
        let subscript = literal.chars().any(|c| {
            let code = depth > 0 && ((previous == '$' && c == '(') || c == '`');
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            previous = c;
            code
        });
        subscript
            || self.parts.iter().any(
                |p| matches!(p, Part::Param(source) if source.contains("@P") || indirect(source)),
            )
    }

    /// The variables its parameter expansions assign: `${NAME:=WORD}` and `${NAME=WORD}`
    /// set `NAME` to `WORD` when it is unset (or empty), as an assignment word would; each
    /// with `WORD` as written.
    pub fn parameter_assignments(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for part in &self.parts {
            let Part::Param(source) = part else { continue };
            // Every `${` of the expansion, nested ones too (`${x:-${CDPATH:=/etc}}`), and a
            // subscript after the name (`${CDPATH[0]:=/etc}`): second pass, N02.
            for (at, _) in source.match_indices("${") {
                let inner = source.get(at + 2..).unwrap_or_default();
                let name_end = inner
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(inner.len());
                let (name, mut rest) = inner.split_at(name_end);
                if rest.starts_with('[') {
                    rest = rest.split_once(']').map_or("", |(_, after)| after);
                }
                let value = rest.strip_prefix(":=").or_else(|| rest.strip_prefix('='));
                if let (false, Some(value)) = (name.is_empty(), value) {
                    let value = value.split('}').next().unwrap_or(value);
                    out.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        out
    }

    /// Whether the word is exactly `text`, unquoted (keywords must not be quoted).
    pub fn is_plain(&self, text: &str) -> bool {
        matches!(self.parts.as_slice(), [Part::Lit(s)] if s == text)
    }

    /// Whether a parameter expansion or a command substitution is part of the word.
    pub fn has_expansion(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Param(_) | Part::Subst(_)))
    }

    /// Whether unquoted glob characters or a brace expansion (`{a,b}`, `{1..3}`) can turn
    /// the word into other words.
    pub fn has_pattern(&self) -> bool {
        let unquoted: String = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Lit(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        // `[` only starts a bracket expression when a `]` follows: `[ -f x ]` is the
        // program `[`.
        let bracket = unquoted
            .find('[')
            .is_some_and(|open| unquoted.get(open + 1..).is_some_and(|r| r.contains(']')));
        if unquoted.contains(['*', '?']) || bracket {
            return true;
        }
        match (unquoted.find('{'), unquoted.rfind('}')) {
            (Some(open), Some(close)) if open < close => unquoted
                .get(open..close)
                .is_some_and(|inner| inner.contains(',') || inner.contains("..")),
            _ => false,
        }
    }

    /// Whether the word may expand to something that starts with `-`: the text before its
    /// first expansion, glob or brace, quoted or not (`""{--x,y}`, `\-*`, `"-"$X`), is
    /// empty or starts with `-`, and such an expansion follows.
    pub fn may_be_flag(&self) -> bool {
        let option_like = |prefix: &str| prefix.is_empty() || prefix.starts_with('-');
        let mut prefix = String::new();
        for part in &self.parts {
            match part {
                Part::Param(_) | Part::Subst(_) => return option_like(&prefix),
                Part::Quoted(s) => prefix.push_str(s),
                Part::Lit(s) => match s.find(|c: char| GLOB.contains(&c) || c == '{') {
                    Some(at) if self.has_pattern() => {
                        prefix.push_str(&s[..at]);
                        return option_like(&prefix);
                    }
                    _ => prefix.push_str(s),
                },
            }
        }
        false
    }

    /// Whether an unquoted `{` is part of the word (a brace expansion may be).
    pub fn may_brace_expand(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Lit(s) if s.contains('{')))
    }

    /// The words bash makes of this one by brace expansion, in order: `{--pre=sh,x}` is
    /// `--pre=sh` and `x`, `dd {of=/x,if=a}` two operands. Quoted braces and commas stay
    /// literal. A word with a parameter expansion or a substitution, with no brace that
    /// expands, or that would make more than
    /// [`MAX_EXPANSIONS`](crate::path_pattern::MAX_EXPANSIONS) words, is itself (its
    /// brace then reads as a pattern that may be any option: [`Word::may_be_flag`],
    /// `ShellArg::may_be_option`).
    pub fn brace_words(&self) -> Vec<Word> {
        let itself = || vec![self.clone()];
        // Quoted text is escaped, so that the expansion leaves it alone.
        let mut escaped = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => escaped.push_str(s),
                Part::Quoted(s) => s.chars().for_each(|c| {
                    escaped.push('\\');
                    escaped.push(c);
                }),
                Part::Param(_) | Part::Subst(_) => return itself(),
            }
        }
        if !crate::path_pattern::expands(&escaped) {
            return itself();
        }
        let Ok(texts) = crate::path_pattern::expand(&escaped) else { return itself() };
        texts.iter().map(|text| unescaped(text)).collect()
    }

    /// The literal text before the first expansion.
    pub fn literal_prefix(&self) -> String {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) | Part::Quoted(s) => text.push_str(s),
                Part::Param(_) | Part::Subst(_) => break,
            }
        }
        text
    }

    /// The text handed to another shell parse, with each expansion replaced by a marker
    /// that parses as an expansion again.
    pub fn source_for_reparse(&self) -> String {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) | Part::Quoted(s) => text.push_str(s),
                Part::Param(_) | Part::Subst(_) => text.push_str(UNKNOWN),
            }
        }
        text
    }

    /// The token lists of the command substitutions in this word.
    pub fn substitutions(&self) -> impl Iterator<Item = &[Token]> {
        self.parts.iter().filter_map(|p| match p {
            Part::Subst(tokens) => Some(tokens.as_slice()),
            _ => None,
        })
    }

    pub(super) fn push_lit(&mut self, c: char) {
        match self.parts.last_mut() {
            Some(Part::Lit(s)) => s.push(c),
            _ => self.parts.push(Part::Lit(c.to_string())),
        }
    }

    pub(super) fn push_quoted(&mut self, text: &str) {
        match self.parts.last_mut() {
            Some(Part::Quoted(s)) => s.push_str(text),
            _ => self.parts.push(Part::Quoted(text.to_owned())),
        }
    }

    /// Whether the word so far is `NAME=` or `NAME+=`, so that a `(` opens an array.
    pub(super) fn is_array_assignment_prefix(&self) -> bool {
        match self.parts.as_slice() {
            [Part::Lit(s)] => s
                .strip_suffix('=')
                .map(|name| name.strip_suffix('+').unwrap_or(name))
                .is_some_and(is_name),
            _ => false,
        }
    }
}

/// Whether `s` is a shell variable name.
pub(super) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether arithmetic text reads a variable: a name, or a `$` expansion other than the
/// numeric `$#`, `$?`, `$$` and `$!`. Bash evaluates a variable's value as an expression
/// in turn, and an array subscript in that value (`x='a[$(cmd)]'; echo $((x))`) runs
/// commands, so such arithmetic runs code only known at run time.
pub(super) fn reads_variables(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphabetic() || c == '_' {
            return true;
        }
        if c == '$' && !matches!(chars.peek(), Some('#' | '?' | '$' | '!') | None) {
            return true;
        }
    }
    false
}

/// The parts for an arithmetic expansion (`raw` is its source, `expression` the inside):
/// its value, and when it reads variables, a stand-in command substitution whose program
/// is the expansion itself, so that the line is reported as running dynamic code.
pub(super) fn arithmetic_parts(raw: String, expression: &str) -> Vec<Part> {
    if !reads_variables(expression) {
        return vec![Part::Param(raw)];
    }
    let stand_in = Word { parts: vec![Part::Param(raw.clone())], raw: raw.clone() };
    vec![Part::Param(raw), Part::Subst(vec![Token::Word(stand_in)])]
}

/// Whether `${...}` (given without `${` and `}`) evaluates arithmetic on a variable: an
/// indexed array subscript (`${a[$i]}`) or a substring offset (`${x:$n}`).
pub(super) fn parameter_reads_arithmetic(inner: &str) -> bool {
    let body = inner.trim_start_matches(['#', '!']);
    // `${@:off}` and `${*:off}` slice the positional parameters.
    let name = if body.starts_with(['@', '*']) {
        1
    } else {
        body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len())
    };
    let mut rest = body.get(name..).unwrap_or_default();
    if let Some(subscript) = rest.strip_prefix('[') {
        let (subscript, after) = subscript.split_once(']').unwrap_or((subscript, ""));
        if subscript != "@" && subscript != "*" && reads_variables(subscript) {
            return true;
        }
        // `${a[@]:off}`: a slice of the array.
        rest = after;
    }
    match rest.strip_prefix(':') {
        Some(offset) => !offset.starts_with(['-', '=', '?', '+']) && reads_variables(offset),
        None => false,
    }
}

/// `${!name}`, `${!name:-x}`, `${!a[0]}`: the value names the variable read, and a name
/// with a subscript (`a[$(cmd)]`) runs code. `${!prefix*}`, `${!prefix@}` and `${!a[@]}`
/// only list names or keys.
fn indirect(source: &str) -> bool {
    let Some(rest) = source.strip_prefix("${!") else { return false };
    let name_end =
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    if name_end == 0 {
        return false;
    }
    let after = rest.get(name_end..).unwrap_or_default();
    !(after.starts_with('*')
        || after.starts_with('@')
        || after.starts_with("[@]")
        || after.starts_with("[*]"))
}
