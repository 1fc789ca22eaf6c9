//! The shell parser: tokens become the flat list of simple commands the line would run.
//!
//! It is not a full grammar. Lists, pipelines, subshells, brace groups, `case` clauses,
//! loops and conditionals only matter here for which words are programs, so keywords are
//! skipped where a command could start and the commands inside are collected like any
//! other. What must balance (parentheses, braces, `case ... esac`, `[[ ... ]]`) is checked,
//! because a line the shell would reject might be read differently by us and by it.
//! Command substitutions are parsed wherever they appear: in arguments, assignments,
//! redirection targets, loop lists and here-documents.

use super::MAX_DEPTH;
use super::word::{Op, Token};
use super::word::{Part, Word, is_name};

/// Appends to `out` the words of every simple command in `tokens`, nested ones included.
/// Assignments (`X=1`), redirections and keywords are not part of the words; redirections
/// and assignments go to `facts`, since a redirection writes a file and an assignment can
/// change what a later program runs (`PATH=`, `LD_PRELOAD=`).
pub(super) fn parse<'t>(
    tokens: &'t [Token],
    depth: usize,
    out: &mut Vec<Vec<&'t Word>>,
    facts: &mut LineFacts<'t>,
) -> Result<(), String> {
    Parser {
        tokens,
        pos: 0,
        depth,
        frames: Vec::new(),
        current: Vec::new(),
        prefixed: false,
        out,
        facts,
    }
    .run()
}

/// What a line does besides running its commands' words.
#[derive(Debug, Default)]
pub(super) struct LineFacts<'t> {
    /// Each redirection operator with its target word (here-documents left out).
    pub redirections: Vec<(&'static str, &'t Word)>,
    /// Assignment words outside commands' arguments (`X=1 cmd`, `X=1`), and the
    /// variables of `for` and `select` loops.
    pub assignments: Vec<&'t Word>,
    /// Words holding code bash runs later ([`Word::defers_code`]).
    pub deferred: Vec<&'t Word>,
    /// Words whose expansions assign a variable ([`Word::parameter_assignments`]).
    pub assigning: Vec<&'t Word>,
}

/// A construct that must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Subshell,
    Group,
    /// Inside `case ... esac`; `patterns` while reading the patterns of a clause.
    Case {
        patterns: bool,
    },
}

impl Frame {
    fn closer(self) -> &'static str {
        match self {
            Frame::Subshell => "`)`",
            Frame::Group => "`}`",
            Frame::Case { .. } => "`esac`",
        }
    }
}

/// Words that are keywords where a command starts and never programs.
const KEYWORDS: [&str; 12] =
    ["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "in", "!", "coproc"];

#[derive(Debug)]
struct Parser<'t, 'o> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
    frames: Vec<Frame>,
    current: Vec<&'t Word>,
    /// The command being read starts with an assignment or a redirection: its next word
    /// is the program even when it reads as a keyword (bash runs `X=1 case` as a
    /// command named `case`, and the lines after it as commands).
    prefixed: bool,
    out: &'o mut Vec<Vec<&'t Word>>,
    facts: &'o mut LineFacts<'t>,
}

impl<'t> Parser<'t, '_> {
    fn next(&mut self) -> Option<&'t Token> {
        let token = self.tokens.get(self.pos);
        self.pos += 1;
        token
    }

    fn peek(&self, ahead: usize) -> Option<&'t Token> {
        self.tokens.get(self.pos + ahead)
    }

    fn run(mut self) -> Result<(), String> {
        while let Some(token) = self.next() {
            match token {
                Token::Word(word) => self.word(word)?,
                Token::Redirect(op) => match self.next() {
                    Some(Token::Word(target)) => {
                        self.prefixed |= self.current.is_empty() && !self.in_case_patterns();
                        if !matches!(*op, "<<" | "<<-") {
                            self.facts.redirections.push((op, target));
                        }
                        // zsh reads `>!` and `>>!` as one operator (write even under
                        // noclobber) and the next word as its target; bash, a file named
                        // `!` and an argument. Claude Code runs the user's shell, which may
                        // be zsh: the word is taken as written too (red team round 20).
                        let output = matches!(*op, ">" | ">>" | "&>" | "&>>" | ">&");
                        if output
                            && target.parts == [Part::Lit("!".to_owned())]
                            && let Some(Token::Word(next)) = self.peek(0)
                        {
                            self.facts.redirections.push((op, next));
                        }
                        // `>!FILE` written together: zsh writes `FILE`, bash `!FILE`.
                        if output
                            && matches!(target.parts.first(), Some(Part::Lit(text))
                                if text.starts_with('!') && (text.len() > 1 || target.parts.len() > 1))
                        {
                            return Err(format!(
                                "`{op}{}` is zsh's forced redirection to `{}`, bash's to a \
                                 file named `{}`: not guessed",
                                target.raw,
                                target.raw.trim_start_matches('!'),
                                target.raw
                            ));
                        }
                        self.substitutions(target)?
                    }
                    _ => return Err(format!("redirection `{op}` without a target")),
                },
                Token::HereDoc(body) => self.substitutions(body)?,
                Token::Op(op) => self.operator(*op)?,
            }
        }
        self.finish();
        match self.frames.last() {
            Some(frame) => Err(format!("missing {}", frame.closer())),
            None => Ok(()),
        }
    }

    fn in_case_patterns(&self) -> bool {
        self.frames.last() == Some(&Frame::Case { patterns: true })
    }

    /// Ends the simple command being read.
    fn finish(&mut self) {
        self.prefixed = false;
        if !self.current.is_empty() {
            self.out.push(std::mem::take(&mut self.current));
        }
    }

    /// Parses the commands inside every command substitution of `word`.
    fn substitutions(&mut self, word: &'t Word) -> Result<(), String> {
        if word.defers_code() {
            self.facts.deferred.push(word);
        }
        if !word.parameter_assignments().is_empty() {
            self.facts.assigning.push(word);
        }
        for tokens in word.substitutions() {
            if self.depth >= MAX_DEPTH {
                return Err("commands are nested too deeply".to_owned());
            }
            parse(tokens, self.depth + 1, self.out, self.facts)?;
        }
        Ok(())
    }

    fn word(&mut self, word: &'t Word) -> Result<(), String> {
        self.substitutions(word)?;
        if self.in_case_patterns() {
            if word.is_plain("esac") {
                self.frames.pop();
            }
            // Otherwise a pattern: data.
            return Ok(());
        }
        if !self.current.is_empty() || (self.prefixed && !is_assignment(word)) {
            self.current.push(word);
            return Ok(());
        }
        // A command starts here: keywords, assignments and function headers are not programs.
        if matches!(self.peek(0), Some(Token::Op(Op::LParen)))
            && matches!(self.peek(1), Some(Token::Op(Op::RParen)))
        {
            // `name () body`: the body is parsed as the commands that follow.
            self.pos += 2;
            return Ok(());
        }
        if word.is_plain("{") {
            self.frames.push(Frame::Group);
        } else if word.is_plain("}") {
            if self.frames.pop() != Some(Frame::Group) {
                return Err("unexpected `}`".to_owned());
            }
        } else if word.is_plain("esac") {
            if !matches!(self.frames.pop(), Some(Frame::Case { .. })) {
                return Err("unexpected `esac`".to_owned());
            }
        } else if word.is_plain("time")
            && (matches!(self.peek(0), Some(Token::Op(Op::LParen)))
                || matches!(self.peek(0), Some(Token::Word(w)) if w.is_plain("{")))
        {
            // `time ( ... )` and `time { ...; }`: the keyword, timing what follows.
        } else if word.is_plain("coproc") {
            // `coproc NAME compound-command`: NAME names the coprocess, the compound
            // command is what runs (`coproc cmd args` runs `cmd`).
            let compound = match self.peek(1) {
                Some(Token::Word(w)) => {
                    ["{", "if", "while", "until", "for", "case", "select", "[[", "(("]
                        .iter()
                        .any(|k| w.is_plain(k))
                }
                Some(Token::Op(Op::LParen)) => true,
                _ => false,
            };
            if compound && matches!(self.peek(0), Some(Token::Word(_))) {
                self.pos += 1;
            }
        } else if KEYWORDS.iter().any(|k| word.is_plain(k)) {
            // The command follows the keyword.
        } else if word.is_plain("for") || word.is_plain("select") {
            self.loop_header()?;
        } else if word.is_plain("case") {
            self.case_header()?;
        } else if word.is_plain("function") {
            // `function name [()]`: the name is not a command.
            if let Some(Token::Word(_)) = self.peek(0) {
                self.pos += 1;
            }
            if matches!(self.peek(0), Some(Token::Op(Op::LParen)))
                && matches!(self.peek(1), Some(Token::Op(Op::RParen)))
            {
                self.pos += 2;
            }
        } else if word.is_plain("[[") {
            self.conditional(word)?;
        } else if is_assignment(word) {
            self.facts.assignments.push(word);
            self.prefixed = true;
        } else {
            self.current.push(word);
        }
        Ok(())
    }

    fn operator(&mut self, op: Op) -> Result<(), String> {
        if self.in_case_patterns() {
            match op {
                // `(a|b)`: the optional opening parenthesis and the alternatives.
                Op::LParen | Op::Pipe | Op::Newline => return Ok(()),
                Op::RParen => {
                    self.frames.pop();
                    self.frames.push(Frame::Case { patterns: false });
                    return Ok(());
                }
                _ => return Err("unexpected operator in a `case` pattern".to_owned()),
            }
        }
        match op {
            Op::LParen if !self.current.is_empty() => {
                return Err("unexpected `(`".to_owned());
            }
            Op::LParen => self.frames.push(Frame::Subshell),
            Op::RParen => {
                self.finish();
                if self.frames.pop() != Some(Frame::Subshell) {
                    return Err("unbalanced `)`".to_owned());
                }
            }
            Op::CaseEnd => {
                self.finish();
                match self.frames.last_mut() {
                    Some(Frame::Case { patterns }) => *patterns = true,
                    _ => return Err("`;;` outside `case`".to_owned()),
                }
            }
            Op::Semi | Op::Amp | Op::And | Op::Or | Op::Pipe | Op::Newline => self.finish(),
        }
        Ok(())
    }

    /// After `for` or `select`: the variable name and the `in` list are data.
    fn loop_header(&mut self) -> Result<(), String> {
        if let Some(Token::Word(name)) = self.peek(0)
            && !name.has_expansion()
        {
            // The loop sets it: `for BASH_ENV in ./x.sh` is an assignment too.
            self.facts.assignments.push(name);
            self.pos += 1;
        }
        while matches!(self.peek(0), Some(Token::Op(Op::Newline))) {
            self.pos += 1;
        }
        if let Some(Token::Word(w)) = self.peek(0)
            && w.is_plain("in")
        {
            self.pos += 1;
            while let Some(Token::Word(item)) = self.peek(0) {
                self.pos += 1;
                self.substitutions(item)?;
            }
        }
        // `for ((i=0; ...))` is left to the general rules: parentheses still balance.
        Ok(())
    }

    /// After `case`: the subject word, then `in`, then the first patterns.
    fn case_header(&mut self) -> Result<(), String> {
        match self.next() {
            Some(Token::Word(subject)) => self.substitutions(subject)?,
            _ => return Err("`case` without a word".to_owned()),
        }
        while matches!(self.peek(0), Some(Token::Op(Op::Newline))) {
            self.pos += 1;
        }
        match self.next() {
            Some(Token::Word(w)) if w.is_plain("in") => {}
            _ => return Err("expected `in` after `case`".to_owned()),
        }
        self.frames.push(Frame::Case { patterns: true });
        Ok(())
    }

    /// `[[ ... ]]` is an expression: its operators are not separators. It becomes the
    /// command `[[` with its words as arguments, which may evaluate arithmetic.
    fn conditional(&mut self, open: &'t Word) -> Result<(), String> {
        let mut words = vec![open];
        while let Some(token) = self.next() {
            match token {
                Token::Word(w) if w.is_plain("]]") => {
                    self.out.push(words);
                    return Ok(());
                }
                Token::Word(w) | Token::HereDoc(w) => {
                    self.substitutions(w)?;
                    words.push(w);
                }
                Token::Redirect(_) | Token::Op(_) => {}
            }
        }
        Err("missing `]]`".to_owned())
    }
}

/// Whether the word is a variable assignment (`X=1`, `X+=1`, `a[2]=x`) rather than a
/// program: the name part must be unquoted.
fn is_assignment(word: &Word) -> bool {
    let Some(Part::Lit(first)) = word.parts.first() else {
        return false;
    };
    let Some((name, _)) = first.split_once('=') else {
        return false;
    };
    let name = name.strip_suffix('+').unwrap_or(name);
    let name = match name.split_once('[') {
        Some((base, index)) if index.ends_with(']') => base,
        _ => name,
    };
    is_name(name)
}
