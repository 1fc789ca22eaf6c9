//! The files an awk program reads by name besides the program's own input: `getline [VAR]
//! < FILE`, and the input files themselves when the program sets `ARGV`. gawk opens
//! `/inet/tcp/...`, `/inet4/...` and `/inet6/...` as network connections wherever it opens
//! a file by name, so a name only known at run time may be one (red team round 20, F13:
//! `getline x < s` with `-v s=/inet/tcp/0/HOST/80`; round 21: the variable read into
//! spelled `x[i+1]` or `$(1)`, `ARGV[1] = s`).
//!
//! A name is known when it is string literals (joined in parentheses), a variable the
//! command line gives a literal value (`-v file=README.md`) that the program never
//! assigns, or `FILENAME`/`ARGV[N]` while the input files are all known and the program
//! leaves `ARGV` alone. Anything else may be a connection.

use super::{Token, ends_statement};

/// What the command line tells of an awk program's names.
#[derive(Debug, Clone, Default)]
pub(in crate::shell) struct Context {
    /// Variables given a literal value that names no network file (`-v NAME=VALUE`).
    pub literal_variables: Vec<String>,
    /// Every input file operand is known and none is a network name.
    pub inputs_known: bool,
}

/// Whether the program may open a network connection by a name it reads.
pub(super) fn opens_network(tokens: &[Token], context: &Context) -> bool {
    let sets_argv = sets_argv(tokens);
    tokens.iter().enumerate().any(|(k, token)| {
        *token == Token::Word("getline".to_owned())
            && source(tokens.get(k + 1..).unwrap_or_default())
                .is_some_and(|file| !known(file, tokens, context, sets_argv))
    }) || (sets_argv && !tokens.is_empty())
}

/// After `getline`: the tokens after the `<` of the file it reads, if it reads one; none
/// when it reads its input or its statement ends first. The variable read into may be any
/// lvalue (`x`, `x[i+1]`, `$(1)`, `x[1][2]`): the `<` counts at the depth it started.
fn source(after: &[Token]) -> Option<&[Token]> {
    let mut depth = 0i32;
    for (k, token) in after.iter().enumerate() {
        match token {
            _ if ends_statement(token) => return None,
            Token::Punct("(" | "[") => depth += 1,
            Token::Punct(")" | "]") => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            Token::Punct("<") if depth == 0 => return after.get(k + 1..),
            // `getline x | ...`: a pipe, judged as one.
            Token::Punct("|" | "|&") if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// Whether the file named by the tokens `after` a getline's `<` is known and no network
/// name. awk's grammar takes one primary there (`getline x < "a" "b"` reads `a`).
fn known(after: &[Token], tokens: &[Token], context: &Context, sets_argv: bool) -> bool {
    let literal = |text: &str| !text.contains("/inet");
    match after {
        [Token::Str(Some(text)), ..] => literal(text),
        [Token::Punct("("), rest @ ..] => {
            let Some(close) = rest.iter().position(|t| *t == Token::Punct(")")) else {
                return false;
            };
            let group = rest.get(..close).unwrap_or_default();
            let joined: Option<String> = group
                .iter()
                .map(|t| match t {
                    Token::Str(Some(text)) => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            joined.is_some_and(|text| !group.is_empty() && literal(&text))
        }
        [Token::Word(word), Token::Punct("["), Token::Operand, Token::Punct("]"), ..]
            if word == "ARGV" =>
        {
            context.inputs_known && !sets_argv
        }
        [Token::Word(word), next @ ..]
            if !matches!(next.first(), Some(Token::Punct("[" | "("))) =>
        {
            if word == "FILENAME" {
                context.inputs_known && !sets_argv && !assigned(word, tokens)
            } else {
                context.literal_variables.contains(word) && !assigned(word, tokens)
            }
        }
        _ => false,
    }
}

/// Whether the program may assign `name`: `name =`, `name += ...`, `name++`, read into by
/// `getline`, a `for (name in ...)` loop's variable, passed where a function may set it
/// (`sub(re, s, name)`, `split(s, name)`); and any name when the program defines functions
/// (a parameter of that name is another variable) or reaches variables by name
/// (`SYMTAB["name"]`) (second pass, N-01).
fn assigned(name: &str, tokens: &[Token]) -> bool {
    let word = |w: &str| Token::Word(w.to_owned());
    if tokens.iter().any(|t| *t == word("function") || *t == word("func") || *t == word("SYMTAB")) {
        return true;
    }
    tokens.iter().enumerate().any(|(k, token)| {
        if *token != Token::Word(name.to_owned()) {
            return false;
        }
        let next = tokens.get(k + 1);
        let before = k.checked_sub(1).and_then(|b| tokens.get(b));
        matches!(next, Some(Token::Punct("=" | "op=" | "++" | "--" | "[")))
            || next == Some(&word("in"))
            || matches!(before, Some(Token::Punct("," | "++" | "--")))
            || before == Some(&word("getline"))
    })
}

/// Whether the program changes its input files: `ARGV` (an element of it) or `ARGC`
/// assigned or counted, read into by `getline`, handed where a function may set it, or
/// any variable reached by name (`SYMTAB`).
fn sets_argv(tokens: &[Token]) -> bool {
    if tokens.iter().any(|t| *t == Token::Word("SYMTAB".to_owned())) {
        return true;
    }
    tokens.iter().enumerate().any(|(k, token)| match token {
        Token::Word(word) if word == "ARGV" || word == "ARGC" => {
            let before = k.checked_sub(1).and_then(|b| tokens.get(b));
            // The token after the name, or after its subscript (`ARGV[1] = s`).
            let after = match tokens.get(k + 1) {
                Some(Token::Punct("[")) => {
                    closing(tokens, k + 1).and_then(|end| tokens.get(end + 1))
                }
                next => next,
            };
            // Handed to a function as its first argument (`f(ARGV)`) or a later one.
            matches!(after, Some(Token::Punct("=" | "op=" | "++" | "--")))
                || matches!(before, Some(Token::Punct("," | "(" | "++" | "--")))
                || before == Some(&Token::Word("getline".to_owned()))
        }
        _ => false,
    })
}

/// The index of the bracket that closes the one at `open`.
fn closing(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (k, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Punct("[" | "(") => depth += 1,
            Token::Punct("]" | ")") => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}
