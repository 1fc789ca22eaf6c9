//! The shell lexer: a command string becomes words and operators, with quoting decoded and
//! every expansion and command substitution kept apart from literal text.
//!
//! We write the lexer ourselves rather than take a crate (`shlex`, `shell-words`, a full
//! bash grammar) because those serve the opposite purpose: they split words so that a
//! program can be *run*, and read what they do not understand as plain text. A security
//! check needs "unknown means suspicious": every construct whose meaning depends on run
//! time (`$X`, `$(...)`, globs) must stay visible as such, so that a program name built
//! from it is reported as dynamic, and every construct we cannot follow (unbalanced quotes,
//! arithmetic holding a substitution, nesting beyond [`MAX_DEPTH`]) must be an error, so
//! that the caller blocks instead of guessing.

use super::MAX_DEPTH;
use super::word::{
    Op, Part, Token, Word, arithmetic_parts, is_name, parameter_reads_arithmetic, reads_variables,
};

/// Lexes a whole command string. `depth` counts the nesting already entered (command
/// substitutions, re-parsed `bash -c` strings), so that hostile nesting ends in an error
/// instead of a stack overflow.
pub(super) fn lex(source: &str, depth: usize) -> Result<Vec<Token>, String> {
    if depth > MAX_DEPTH {
        return Err("commands are nested too deeply".to_owned());
    }
    let mut lexer = Lexer { chars: source.chars().collect(), pos: 0, pending: Vec::new() };
    let mut out = Vec::new();
    lexer.tokens(&mut out, depth, false)?;
    match lexer.pending.first() {
        Some(doc) => Err(format!("unterminated here-document `{}`", doc.delimiter)),
        None => Ok(out),
    }
}

/// A here-document whose body starts after the next newline.
#[derive(Debug)]
struct PendingHereDoc {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
}

#[derive(Debug)]
struct Lexer {
    chars: Vec<char>,
    pos: usize,
    pending: Vec<PendingHereDoc>,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        text.chars().enumerate().all(|(i, c)| self.peek_at(i) == Some(c))
    }

    fn slice(&self, from: usize, to: usize) -> String {
        self.chars.get(from..to).map(|s| s.iter().collect()).unwrap_or_default()
    }

    /// Reads tokens into `out`. With `until_paren`, stops after the `)` that closes the
    /// enclosing `$(` or `<(` (parentheses opened inside are counted).
    fn tokens(
        &mut self,
        out: &mut Vec<Token>,
        depth: usize,
        until_paren: bool,
    ) -> Result<(), String> {
        let mut open_parens = 0usize;
        // Here-documents whose operator came before this substitution began: their bodies
        // start after the line that ends the whole command, not at a newline in here.
        let outer_documents = if until_paren { self.pending.len() } else { 0 };
        loop {
            while matches!(self.peek(), Some(' ' | '\t')) || self.starts_with("\\\n") {
                self.pos += if self.peek() == Some('\\') { 2 } else { 1 };
            }
            let Some(c) = self.peek() else {
                return if until_paren { Err("unclosed `$(`".to_owned()) } else { Ok(()) };
            };
            match c {
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                '\n' => {
                    if outer_documents > 0 {
                        // bash and dash read those bodies only after the substitution and
                        // its line end; reading them here would take its commands for
                        // data (`cat <<E $(echo` NEWLINE `touch x` ...). Refused rather
                        // than followed.
                        return Err("a here-document's line continues into a substitution \
                                    over several lines"
                            .to_owned());
                    }
                    self.pos += 1;
                    out.push(Token::Op(Op::Newline));
                    self.here_doc_bodies(out, depth)?;
                }
                ';' | '&' | '|' => out.push(self.operator()),
                '(' if self.peek_at(1) == Some('(') => {
                    // `(( expression ))` is arithmetic, not two subshells (as in bash, which
                    // reads `((ls))` as arithmetic too). It runs code only when it reads a
                    // variable: then it stands as a command with a dynamic program.
                    let start = self.pos;
                    self.pos += 2;
                    self.arithmetic(")")?;
                    let expression = self.slice(start + 2, self.pos - 2);
                    if reads_variables(&expression) {
                        let raw = self.slice(start, self.pos);
                        out.push(Token::Word(Word { parts: vec![Part::Param(raw.clone())], raw }));
                    }
                }
                '(' => {
                    self.pos += 1;
                    open_parens += 1;
                    out.push(Token::Op(Op::LParen));
                }
                ')' => {
                    self.pos += 1;
                    if until_paren && open_parens == 0 {
                        return Ok(());
                    }
                    open_parens = open_parens.saturating_sub(1);
                    out.push(Token::Op(Op::RParen));
                }
                '<' | '>' if self.peek_at(1) != Some('(') => self.redirect(out, depth)?,
                _ => {
                    let word = self.word(depth)?;
                    // `2>file`, `{fd}>file`: the number names a file descriptor, not an
                    // argument.
                    let redirect_follows =
                        matches!(self.peek(), Some('<' | '>')) && self.peek_at(1) != Some('(');
                    // Right after a redirection operator a word is its target: `2>&1>file`
                    // duplicates onto `1`, then redirects (red team round 20, FP3).
                    let target = matches!(out.last(), Some(Token::Redirect(_)));
                    if target || !(redirect_follows && names_file_descriptor(&word)) {
                        out.push(Token::Word(word));
                    }
                }
            }
        }
    }

    /// Reads `;`, `&` or `|` and what follows it.
    fn operator(&mut self) -> Token {
        let table: [(&str, Token); 10] = [
            (";;&", Token::Op(Op::CaseEnd)),
            (";;", Token::Op(Op::CaseEnd)),
            (";&", Token::Op(Op::CaseEnd)),
            (";", Token::Op(Op::Semi)),
            ("&&", Token::Op(Op::And)),
            ("&>>", Token::Redirect("&>>")),
            ("&>", Token::Redirect("&>")),
            ("||", Token::Op(Op::Or)),
            ("|&", Token::Op(Op::Pipe)),
            ("|", Token::Op(Op::Pipe)),
        ];
        for (text, token) in table {
            if self.starts_with(text) {
                self.pos += text.chars().count();
                return token;
            }
        }
        // Only a single `&` is left: `;` and `|` are in the table.
        self.pos += 1;
        Token::Op(Op::Amp)
    }

    /// Reads a redirection operator; a here-document also reads its delimiter word.
    fn redirect(&mut self, out: &mut Vec<Token>, depth: usize) -> Result<(), String> {
        const OPERATORS: [&str; 10] = ["<<<", "<<-", "<<", "<>", "<&", "<", ">>", ">|", ">&", ">"];
        let op = OPERATORS.into_iter().find(|op| self.starts_with(op)).unwrap_or(">");
        self.pos += op.len();
        out.push(Token::Redirect(op));
        if op == "<<" || op == "<<-" {
            while matches!(self.peek(), Some(' ' | '\t')) {
                self.pos += 1;
            }
            if self.peek().is_none_or(|c| " \t\n;&|()<>".contains(c)) {
                return Err("here-document without a delimiter".to_owned());
            }
            let word = self.word(depth)?;
            // bash takes the delimiter after quote removal only: `E$X` ends at a line `E$X`
            // and, not being quoted, leaves the body's substitutions to run. Rather than
            // read it some other way, such a delimiter is refused.
            if word.parts.iter().any(|p| matches!(p, Part::Param(_) | Part::Subst(_))) {
                return Err(format!(
                    "the here-document delimiter `{}` holds an expansion, which bash takes \
                     as literal text",
                    word.raw
                ));
            }
            let quoted = word.parts.iter().any(|p| matches!(p, Part::Quoted(_)));
            self.pending.push(PendingHereDoc {
                delimiter: word.text(),
                strip_tabs: op == "<<-",
                quoted,
            });
            out.push(Token::Word(word));
        }
        Ok(())
    }

    /// After a newline, reads the bodies of the here-documents opened on that line.
    fn here_doc_bodies(&mut self, out: &mut Vec<Token>, depth: usize) -> Result<(), String> {
        for doc in std::mem::take(&mut self.pending) {
            let mut body = String::new();
            loop {
                if self.peek().is_none() {
                    return Err(format!("unterminated here-document `{}`", doc.delimiter));
                }
                let mut line = self.physical_line();
                // With an unquoted delimiter bash joins a line ending in an unescaped
                // backslash with the next before comparing it with the delimiter: `E\`
                // and an empty line end the document. The trailing backslashes are counted
                // as lines are joined, not again over the whole line (linear in the body).
                let trailing = |s: &str| s.chars().rev().take_while(|c| *c == '\\').count();
                let mut backslashes = trailing(&line);
                while !doc.quoted && backslashes % 2 == 1 && self.peek().is_some() {
                    line.pop();
                    let next = self.physical_line();
                    let own = trailing(&next);
                    backslashes =
                        if own == next.chars().count() { backslashes - 1 + own } else { own };
                    line.push_str(&next);
                }
                let compared = if doc.strip_tabs { line.trim_start_matches('\t') } else { &line };
                if compared == doc.delimiter {
                    break;
                }
                body.push_str(&line);
                body.push('\n');
            }
            let word = if doc.quoted {
                Word { parts: vec![Part::Quoted(body.clone())], raw: body }
            } else {
                // An unquoted delimiter makes the body behave like a double-quoted string.
                let mut inner =
                    Lexer { chars: body.chars().collect(), pos: 0, pending: Vec::new() };
                let mut word = Word { parts: Vec::new(), raw: body };
                inner.double_quoted(&mut word, depth, true)?;
                word
            };
            out.push(Token::HereDoc(word));
        }
        Ok(())
    }

    /// Reads up to the next newline, which it consumes.
    fn physical_line(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c != '\n') {
            self.pos += 1;
        }
        let line = self.slice(start, self.pos);
        self.pos += 1;
        line
    }

    /// Reads one word. The caller has checked that the next character starts one.
    fn word(&mut self, depth: usize) -> Result<Word, String> {
        let start = self.pos;
        let mut word = Word::default();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' | ';' | '&' | '|' | ')' => break,
                '(' if word.is_array_assignment_prefix() => {
                    // `a=(x y)`: the elements are data, but substitutions in them run.
                    self.pos += 1;
                    let tokens = self.nested(depth)?;
                    for token in tokens {
                        if let Token::Word(element) = token {
                            word.parts.extend(
                                element.parts.into_iter().filter(|p| matches!(p, Part::Subst(_))),
                            );
                        }
                    }
                }
                '(' => break,
                '<' | '>' if self.peek_at(1) == Some('(') => {
                    self.pos += 2;
                    let tokens = self.nested(depth)?;
                    word.parts.push(Part::Subst(tokens));
                }
                '<' | '>' => break,
                '\\' => match self.peek_at(1) {
                    Some('\n') => self.pos += 2,
                    Some(escaped) => {
                        self.pos += 2;
                        word.push_quoted(&escaped.to_string());
                    }
                    None => {
                        self.pos += 1;
                        word.push_quoted("\\");
                    }
                },
                '\'' => {
                    self.pos += 1;
                    let text = self.single_quoted()?;
                    word.push_quoted(&text);
                }
                '"' => {
                    self.pos += 1;
                    self.double_quoted(&mut word, depth, false)?;
                }
                '`' => {
                    self.pos += 1;
                    let tokens = self.backquoted(depth, false)?;
                    word.parts.push(Part::Subst(tokens));
                }
                '$' => self.dollar(&mut word, depth, false)?,
                _ => {
                    self.pos += 1;
                    word.push_lit(c);
                }
            }
        }
        if self.pos == start {
            // Unreachable by construction; an error keeps the loop in `tokens` finite.
            return Err(format!("unexpected `{}`", self.peek().unwrap_or(' ')));
        }
        word.raw = self.slice(start, self.pos.min(self.chars.len()));
        Ok(word)
    }

    /// Reads tokens up to the `)` closing a `$(`, `<(` or array, one level deeper.
    fn nested(&mut self, depth: usize) -> Result<Vec<Token>, String> {
        if depth >= MAX_DEPTH {
            return Err("commands are nested too deeply".to_owned());
        }
        let mut tokens = Vec::new();
        self.tokens(&mut tokens, depth + 1, true)?;
        Ok(tokens)
    }

    /// Reads up to the closing `'`; nothing inside is special.
    fn single_quoted(&mut self) -> Result<String, String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '\'' {
                return Ok(self.slice(start, self.pos - 1));
            }
        }
        Err("unclosed single quote".to_owned())
    }

    /// Reads the inside of a double-quoted string (or a here-document body, which ends at
    /// the end of the text and where `"` is an ordinary character).
    fn double_quoted(
        &mut self,
        word: &mut Word,
        depth: usize,
        here_doc: bool,
    ) -> Result<(), String> {
        let parts_before = word.parts.len();
        loop {
            match self.peek() {
                None if here_doc => return Ok(()),
                None => return Err("unclosed double quote".to_owned()),
                Some('"') if !here_doc => {
                    self.pos += 1;
                    if word.parts.len() == parts_before {
                        // `""` is an empty word, not no word.
                        word.push_quoted("");
                    }
                    return Ok(());
                }
                Some('\\') => match self.peek_at(1) {
                    Some('\n') => self.pos += 2,
                    Some(c) if matches!(c, '$' | '`' | '\\') || (c == '"' && !here_doc) => {
                        self.pos += 2;
                        word.push_quoted(&c.to_string());
                    }
                    _ => {
                        self.pos += 1;
                        word.push_quoted("\\");
                    }
                },
                Some('$') => self.dollar(word, depth, true)?,
                Some('`') => {
                    self.pos += 1;
                    let tokens = self.backquoted(depth, !here_doc)?;
                    word.parts.push(Part::Subst(tokens));
                }
                Some(c) => {
                    self.pos += 1;
                    word.push_quoted(&c.to_string());
                }
            }
        }
    }

    /// Reads a backquoted command substitution, whose text is unescaped and lexed again.
    fn backquoted(&mut self, depth: usize, in_double_quotes: bool) -> Result<Vec<Token>, String> {
        let mut inner = String::new();
        loop {
            match self.peek() {
                None => return Err("unclosed backquote".to_owned()),
                Some('`') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => match self.peek_at(1) {
                    Some(c) if matches!(c, '$' | '`' | '\\') || (c == '"' && in_double_quotes) => {
                        self.pos += 2;
                        inner.push(c);
                    }
                    _ => {
                        self.pos += 1;
                        inner.push('\\');
                    }
                },
                Some(c) => {
                    self.pos += 1;
                    inner.push(c);
                }
            }
        }
        if depth >= MAX_DEPTH {
            return Err("commands are nested too deeply".to_owned());
        }
        lex(&inner, depth + 1)
    }

    /// Reads what starts with `$`: an expansion, a substitution, a quote form, or a plain `$`.
    fn dollar(
        &mut self,
        word: &mut Word,
        depth: usize,
        in_double_quotes: bool,
    ) -> Result<(), String> {
        // bash removes a line continuation before it reads what `$` starts: `$\⏎(cmd)`,
        // `"$\⏎{HOME}"` and `$\⏎HOME` expand (red team round 20, F14: read as a literal `$`
        // and text, they hid a command substitution).
        while self.peek_at(1) == Some('\\') && self.peek_at(2) == Some('\n') {
            self.chars.drain(self.pos + 1..self.pos + 3);
        }
        let start = self.pos;
        match self.peek_at(1) {
            Some('\'') if !in_double_quotes => {
                self.pos += 2;
                let text = self.ansi_c_quoted()?;
                word.push_quoted(&text);
            }
            Some('"') if !in_double_quotes => {
                // `$"..."` is a translatable string: a double-quoted string here.
                self.pos += 2;
                self.double_quoted(word, depth, false)?;
            }
            Some('(') if self.peek_at(2) == Some('(') => {
                self.pos += 3;
                self.arithmetic(")")?;
                let expression = self.slice(start + 3, self.pos - 2);
                word.parts.extend(arithmetic_parts(self.slice(start, self.pos), &expression));
            }
            Some('(') => {
                self.pos += 2;
                let tokens = self.nested(depth)?;
                word.parts.push(Part::Subst(tokens));
            }
            Some('[') => {
                self.pos += 2;
                self.arithmetic("]")?;
                let expression = self.slice(start + 2, self.pos - 1);
                word.parts.extend(arithmetic_parts(self.slice(start, self.pos), &expression));
            }
            // `${ cmd; }` and `${|cmd;}` run commands in bash 5.3, ksh and mksh: not read
            // as the parameter expansion bash 5.2 refuses them as (second pass, N04).
            Some('{') if matches!(self.peek_at(2), Some(' ' | '\t' | '\n' | '|')) => {
                return Err("`${ ...; }` runs commands in newer shells".to_owned());
            }
            // zsh's parameter flags (`${(e)x}` evaluates the value, `${(P)x}` reads the
            // variable it names): bash refuses the form, zsh runs it (red team round 20).
            Some('{') if self.peek_at(2) == Some('(') => {
                return Err("`${(FLAGS)...}` is zsh's parameter expansion with flags".to_owned());
            }
            // zsh's `${~x}` and `$~x` (also after `^` or `=`) read the value as a pattern,
            // whose glob qualifiers (`*(e:cmd:)`) run commands (second pass, S2): bash
            // refuses the first and reads the second as text.
            Some('{' | '~' | '^' | '=') if self.zsh_glob_substitution() => {
                return Err("`${~...}` is zsh's expansion of a value as a pattern, whose \
                            qualifiers run commands"
                    .to_owned());
            }
            Some('{') => {
                self.pos += 2;
                let substitutions = self.braced_parameter(depth, in_double_quotes)?;
                let raw = self.slice(start, self.pos);
                let inner = self.slice(start + 2, self.pos - 1);
                if parameter_reads_arithmetic(&inner) {
                    word.parts.extend(arithmetic_parts(raw, &inner));
                } else {
                    word.parts.push(Part::Param(raw));
                }
                word.parts.extend(substitutions);
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                word.parts.push(Part::Param(self.slice(start, self.pos)));
                // zsh subscripts `$a[...]` without braces and evaluates the subscript as
                // arithmetic, which runs `a[$(cmd)]` in a variable's text (second pass,
                // S3); bash reads `[...]` as text after `$a`. Only numbers pass.
                if self.peek() == Some('[') && !self.numeric_subscript() {
                    return Err(
                        "`$NAME[...]` is zsh's subscript, evaluated as arithmetic".to_owned()
                    );
                }
            }
            Some(c) if c.is_ascii_digit() || "@*#?-$!".contains(c) => {
                self.pos += 2;
                word.parts.push(Part::Param(self.slice(start, self.pos)));
            }
            _ => {
                self.pos += 1;
                if in_double_quotes { word.push_quoted("$") } else { word.push_lit('$') }
            }
        }
        Ok(())
    }

    /// Whether the `$` at the position starts zsh's `$~x`, `${~x}` or `~` among the flag
    /// characters before the name (`${^~x}`, `$=~x`).
    fn zsh_glob_substitution(&self) -> bool {
        let mut at = 1;
        if self.peek_at(at) == Some('{') {
            at += 1;
        }
        while let Some(c @ ('~' | '^' | '=')) = self.peek_at(at) {
            if c == '~' {
                return true;
            }
            at += 1;
        }
        false
    }

    /// Whether the `[` at the position opens a subscript of numbers only (`[1]`, `[-1]`,
    /// `[2,5]`, `[@]`, `[*]`) closed on the same word.
    fn numeric_subscript(&self) -> bool {
        let mut at = 1;
        let mut inside = String::new();
        loop {
            match self.peek_at(at) {
                Some(']') => break,
                Some(c) if c.is_ascii_digit() || "-,@*".contains(c) => inside.push(c),
                _ => return false,
            }
            at += 1;
        }
        !inside.is_empty()
    }

    /// Skips an arithmetic expansion up to its closing `))` (or `]` for `$[`). A command
    /// substitution inside one is refused: arithmetic is rare in agent commands and
    /// following it would need an expression parser.
    fn arithmetic(&mut self, close: &str) -> Result<(), String> {
        let mut level = 0usize;
        loop {
            match self.peek() {
                None => return Err("unclosed arithmetic expansion".to_owned()),
                Some('`') => return Err("command substitution inside arithmetic".to_owned()),
                // bash ends `((`/`$((` at a `))` outside quotes, and reads `(( ... ))` that
                // has none as nested subshells: `((1 ")) #"; rm -rf x); true)` runs `rm`.
                // Quoting and escapes inside arithmetic are refused rather than followed.
                Some('"' | '\'' | '\\') => {
                    return Err("quotes or escapes inside arithmetic".to_owned());
                }
                Some('$') if self.peek_at(1) == Some('(') && self.peek_at(2) != Some('(') => {
                    return Err("command substitution inside arithmetic".to_owned());
                }
                // bash ends `$[` at the first `]` with no `[` open, whatever parentheses
                // came before: brackets and parentheses inside one are refused.
                Some('(' | ')' | '[') if close == "]" => {
                    return Err("brackets or parentheses inside `$[...]`".to_owned());
                }
                Some('(') => level += 1,
                Some(')') | Some(']') if level == 0 && self.starts_with(close) => {
                    if close == ")" {
                        if self.peek_at(1) != Some(')') {
                            return Err("arithmetic expansion closed by a single `)`".to_owned());
                        }
                        self.pos += 1;
                    }
                    self.pos += 1;
                    return Ok(());
                }
                Some(')') => level = level.saturating_sub(1),
                Some(_) => {}
            }
            self.pos += 1;
        }
    }

    /// Reads `${...}` up to its closing brace and returns the command substitutions inside
    /// it (`${X:-$(cmd)}` runs `cmd`).
    fn braced_parameter(
        &mut self,
        depth: usize,
        in_double_quotes: bool,
    ) -> Result<Vec<Part>, String> {
        if depth >= MAX_DEPTH {
            return Err("commands are nested too deeply".to_owned());
        }
        let mut inner = Word::default();
        loop {
            match self.peek() {
                None => return Err("unclosed `${`".to_owned()),
                Some('}') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => self.pos += 2,
                Some('\'') if !in_double_quotes => {
                    self.pos += 1;
                    self.single_quoted()?;
                }
                Some('\'') => {
                    // Inside double quotes bash still lets single quotes protect a `}` in
                    // some expansions (`"${x:-'}'}"`) and POSIX shells do not: where the
                    // expansion, and the double quote, end depends on the shell.
                    return Err("a single quote inside `${...}` within double quotes".to_owned());
                }
                Some('"') => {
                    self.pos += 1;
                    self.double_quoted(&mut inner, depth + 1, false)?;
                }
                Some('`') => {
                    self.pos += 1;
                    let tokens = self.backquoted(depth + 1, in_double_quotes)?;
                    inner.parts.push(Part::Subst(tokens));
                }
                Some('$') => self.dollar(&mut inner, depth + 1, in_double_quotes)?,
                Some(_) => self.pos += 1,
            }
        }
        Ok(inner.parts.into_iter().filter(|p| matches!(p, Part::Subst(_))).collect())
    }

    /// Reads `$'...'`, decoding C-style escapes (`$'\x72m'` is `rm`). bash's string ends
    /// at a NUL (`\0`, `\x00`, `\c@`): `$'--exec\0x'` is `--exec`.
    fn ansi_c_quoted(&mut self) -> Result<String, String> {
        let mut text = String::new();
        loop {
            if text.ends_with('\0') {
                text.pop();
                self.skip_ansi_c_quoted()?;
                return Ok(text);
            }
            let Some(c) = self.peek() else {
                return Err("unclosed `$'`".to_owned());
            };
            self.pos += 1;
            match c {
                '\'' => return Ok(text),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err("unclosed `$'`".to_owned());
                    };
                    self.pos += 1;
                    let simple = match e {
                        'a' => Some('\u{7}'),
                        'b' => Some('\u{8}'),
                        'e' | 'E' => Some('\u{1b}'),
                        'f' => Some('\u{c}'),
                        'n' => Some('\n'),
                        'r' => Some('\r'),
                        't' => Some('\t'),
                        'v' => Some('\u{b}'),
                        '\\' | '\'' | '"' | '?' => Some(e),
                        _ => None,
                    };
                    if let Some(decoded) = simple {
                        text.push(decoded);
                        continue;
                    }
                    let code = match e {
                        '0'..='7' => {
                            self.pos -= 1;
                            self.digits(8, 3).map(|code| code & 0xff)
                        }
                        // Without a digit bash keeps `\x`, `\u` and `\U` as written.
                        'x' | 'u' | 'U' => {
                            let max = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let code = self.digits(16, max);
                            if code.is_none() {
                                text.push('\\');
                                text.push(e);
                            }
                            code
                        }
                        // bash finds the end of `$'...'` first, a backslash escaping one
                        // character, and decodes after: `\c` before the closing quote
                        // controls nothing and the quote closes (red team round 20, F01:
                        // `echo $'\c' ; touch /etc/cron.d/x # '` hid the `touch`). `\c\\`
                        // is one control character, `\c` before another escape is refused.
                        'c' => match self.peek() {
                            None | Some('\'') => None,
                            Some('\\') if self.peek_at(1) == Some('\\') => {
                                self.pos += 2;
                                Some(0x1c)
                            }
                            Some('\\') => {
                                return Err("`\\c` before another escape in `$'`".to_owned());
                            }
                            Some(c) => {
                                self.pos += 1;
                                Some(u32::from(c) & 0x1f)
                            }
                        },
                        _ => {
                            text.push('\\');
                            text.push(e);
                            None
                        }
                    };
                    if let Some(decoded) = code.and_then(char::from_u32) {
                        text.push(decoded);
                    }
                }
                _ => text.push(c),
            }
        }
    }

    /// Skips the rest of a `$'...'` after a NUL, up to its closing quote (an escaped one
    /// does not close it).
    fn skip_ansi_c_quoted(&mut self) -> Result<(), String> {
        loop {
            let Some(c) = self.peek() else {
                return Err("unclosed `$'`".to_owned());
            };
            self.pos += 1;
            match c {
                '\'' => return Ok(()),
                '\\' => self.pos += 1,
                _ => {}
            }
        }
    }

    /// Reads up to `max` digits in `radix` as a number; `None` when there is none.
    fn digits(&mut self, radix: u32, max: usize) -> Option<u32> {
        let mut value = None;
        for _ in 0..max {
            let Some(d) = self.peek().and_then(|c| c.to_digit(radix)) else { break };
            value = Some(value.unwrap_or(0u32).saturating_mul(radix).saturating_add(d));
            self.pos += 1;
        }
        value
    }
}

/// Whether a word is `2` or `{fd}`, as written before a redirection operator.
fn names_file_descriptor(word: &Word) -> bool {
    match word.parts.as_slice() {
        [Part::Lit(s)] => {
            s.chars().all(|c| c.is_ascii_digit())
                || s.strip_prefix('{').and_then(|s| s.strip_suffix('}')).is_some_and(is_name)
        }
        _ => false,
    }
}
