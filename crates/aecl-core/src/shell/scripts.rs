//! Small languages that programs take as an argument and that can run commands or write
//! files: sed scripts (`e`, `s///e`, `w FILE`, `s///w FILE`) and awk programs
//! (`system()`, pipes, `print > FILE`). Each reader errs towards finding: text it cannot
//! follow is reported as running code.

/// What a script does besides transforming text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ScriptEffects {
    /// Why it runs commands, if it does.
    pub runs_code: Option<String>,
    /// Files it writes (`None`: a file only known at run time).
    pub writes: Vec<Option<String>>,
    /// It opens network connections (gawk's `/inet/...`).
    pub network: bool,
}

/// Reads a sed script.
pub(super) fn sed(script: &str) -> ScriptEffects {
    let mut effects = ScriptEffects::default();
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while i < chars.len() {
        // Separators and addresses.
        while at(i).is_some_and(|c| c.is_whitespace() || c == ';' || c == '{' || c == '}') {
            i += 1;
        }
        i = skip_address(&chars, i);
        while at(i).is_some_and(|c| c.is_whitespace() || c == '!') {
            i += 1;
        }
        let Some(command) = at(i) else { break };
        i += 1;
        match command {
            'e' => {
                effects.runs_code = Some("its `e` command runs a shell command".to_owned());
                i = line_end(&chars, i);
            }
            'w' | 'W' => {
                let (file, next) = rest_of_line(&chars, i);
                effects.writes.push(Some(file));
                i = next;
            }
            's' | 'y' => {
                let Some(delimiter) = at(i) else {
                    effects.runs_code = Some("a command it cannot read".to_owned());
                    break;
                };
                i += 1;
                for _ in 0..2 {
                    i = skip_delimited(&chars, i, delimiter);
                }
                if command == 's' {
                    while let Some(flag) = at(i) {
                        match flag {
                            'e' => {
                                effects.runs_code =
                                    Some("its `s///e` flag runs the result as a command".to_owned())
                            }
                            'w' => {
                                let (file, next) = rest_of_line(&chars, i + 1);
                                effects.writes.push(Some(file));
                                i = next;
                                break;
                            }
                            c if c.is_ascii_alphanumeric() => {}
                            _ => break,
                        }
                        i += 1;
                    }
                }
            }
            // Text to the end of the line, or a label, or a file to read: no effect.
            'a' | 'i' | 'c' | 'b' | 't' | 'T' | ':' | 'r' | 'R' | 'l' | 'L' | 'q' | 'Q' | 'v' => {
                i = if matches!(command, 'a' | 'i' | 'c' | 'r' | 'R') {
                    line_end(&chars, i)
                } else {
                    statement_end(&chars, i)
                };
            }
            '=' | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x' | 'z' | 'F'
            | '#' => {
                if command == '#' {
                    i = line_end(&chars, i);
                }
            }
            _ => {
                effects.runs_code = Some(format!("a command it cannot read (`{command}`)"));
                break;
            }
        }
    }
    effects
}

fn skip_address(chars: &[char], mut i: usize) -> usize {
    loop {
        match chars.get(i) {
            Some(c) if c.is_ascii_digit() || *c == '$' || *c == ',' || *c == '~' || *c == '+' => {
                i += 1
            }
            Some('/') => i = skip_delimited(chars, i + 1, '/'),
            Some('\\') => match chars.get(i + 1) {
                Some(&d) => i = skip_delimited(chars, i + 2, d),
                None => return i + 1,
            },
            Some('I' | 'M') if i > 0 && chars.get(i - 1) == Some(&'/') => i += 1,
            _ => return i,
        }
    }
}

/// Skips to just after the next unescaped `delimiter`.
fn skip_delimited(chars: &[char], mut i: usize, delimiter: char) -> usize {
    while let Some(&c) = chars.get(i) {
        i += 1;
        if c == '\\' {
            i += 1;
        } else if c == delimiter {
            break;
        }
    }
    i
}

fn line_end(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| *c != '\n') {
        i += 1;
    }
    i
}

fn statement_end(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| *c != '\n' && *c != ';' && *c != '}') {
        i += 1;
    }
    i
}

/// A file name: the rest of the line, leading blanks skipped.
fn rest_of_line(chars: &[char], mut i: usize) -> (String, usize) {
    while chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
        i += 1;
    }
    let end = line_end(chars, i);
    (chars.get(i..end).unwrap_or_default().iter().collect(), end)
}

/// Reads an awk program. Awk has no sandbox: `system()`, `|` to or from a command, and
/// `print > FILE` are the ways out, plus `@load` extensions and gawk's `/inet` files.
pub(super) fn awk(program: &str) -> ScriptEffects {
    let mut effects = ScriptEffects::default();
    let code = without_regex_and_comments(program);
    if code.contains("system") {
        effects.runs_code = Some("it calls `system()`".to_owned());
    } else if code.replace("||", "").contains('|') {
        effects.runs_code = Some("it pipes to or from a command".to_owned());
    } else if code.contains("@load") || code.contains("@include") {
        effects.runs_code = Some("it loads an extension".to_owned());
    }
    if program.contains("/inet") {
        effects.network = true;
    }
    // `print ... > FILE` and `printf ... >> FILE`: a `>` after `print` in one statement.
    for statement in code.split([';', '\n', '{', '}']) {
        let Some(start) = statement.find("print") else { continue };
        let after = statement.get(start..).unwrap_or_default();
        if let Some(pos) = after.find('>') {
            let target = after.get(pos..).unwrap_or_default().trim_start_matches('>').trim();
            let file = target
                .strip_prefix('"')
                .and_then(|t| t.split_once('"'))
                .map(|(name, _)| name.to_owned())
                .filter(|name| !name.is_empty());
            effects.writes.push(file);
        }
    }
    effects
}

/// The program with string literals kept (file names live there) but `/regex/` bodies
/// and `#` comments blanked, so a `|` in a regular expression is not a pipe.
fn without_regex_and_comments(program: &str) -> String {
    let mut out = String::new();
    let mut chars = program.chars().peekable();
    let mut previous_significant = ' ';
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push(c);
                while let Some(s) = chars.next() {
                    out.push(s);
                    if s == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if s == '"' {
                        break;
                    }
                }
            }
            '/' if matches!(
                previous_significant,
                ' ' | '(' | ',' | '~' | '!' | '{' | ';' | '&' | '|'
            ) =>
            {
                out.push(' ');
                while let Some(s) = chars.next() {
                    if s == '\\' {
                        chars.next();
                    } else if s == '/' {
                        break;
                    }
                }
            }
            '#' => {
                for s in chars.by_ref() {
                    if s == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
        if !c.is_whitespace() {
            previous_significant = c;
        }
    }
    out
}
