//! The sed script reader: finds `e`, `s///e`, `w FILE` and `s///w FILE` by reading the
//! script the way GNU sed compiles it. The parts that can hide a command are the regular
//! expressions: a reader that ends one too early or too late reads text as commands that
//! sed does not, or skips commands that sed runs. So regular expressions are skipped by
//! GNU sed's own rule (a bracket expression is read whole, the delimiter inside it does not
//! end the expression), and a script whose expression never ends is reported as running
//! code rather than read on.

use super::ScriptEffects;

/// Why a script that cannot be read to its end counts as running code.
const UNREADABLE: &str = "a regular expression or command it cannot read to its end";

/// The script as characters, read by position.
struct Script {
    chars: Vec<char>,
}

impl Script {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// Skips a regular expression that starts at `i` (just after its opening delimiter)
    /// and returns the position after its closing delimiter, or `None` if the line or the
    /// script ends first (GNU sed: "unterminated `s' command").
    fn skip_regex(&self, mut i: usize, delimiter: char) -> Option<usize> {
        loop {
            let c = self.at(i)?;
            i += 1;
            // The delimiter is checked first: with `s[a[b[` the `[` ends the expression.
            if c == delimiter {
                return Some(i);
            }
            match c {
                '\n' => return None,
                // `\` + delimiter is the delimiter as a literal; `\` + newline continues.
                '\\' => {
                    self.at(i)?;
                    i += 1;
                }
                '[' => i = self.skip_bracket(i)?,
                _ => {}
            }
        }
    }

    /// Skips a bracket expression from just after its `[` to just after its `]`. Inside
    /// it the delimiter and `\` are ordinary characters (POSIX), a `]` first (or after
    /// `^`) is literal, and `[:class:]`, `[=e=]` and `[.x.]` are read whole.
    fn skip_bracket(&self, mut i: usize) -> Option<usize> {
        if self.at(i) == Some('^') {
            i += 1;
        }
        if self.at(i) == Some(']') {
            i += 1;
        }
        loop {
            let c = self.at(i)?;
            i += 1;
            match c {
                ']' => return Some(i),
                '\n' => return None,
                '[' => {
                    if let Some(kind @ (':' | '=' | '.')) = self.at(i) {
                        i = self.skip_class(i + 1, kind)?;
                    }
                }
                _ => {}
            }
        }
    }

    /// Skips a `[:class:]`-like part from after its `[:` to after its `:]`.
    fn skip_class(&self, mut i: usize, kind: char) -> Option<usize> {
        loop {
            let c = self.at(i)?;
            i += 1;
            if c == '\n' {
                return None;
            }
            if c == kind && self.at(i) == Some(']') {
                return Some(i + 1);
            }
        }
    }

    /// Skips the replacement of `s` or either part of `y`: no bracket expressions there,
    /// only `\` escapes.
    fn skip_plain(&self, mut i: usize, delimiter: char) -> Option<usize> {
        loop {
            let c = self.at(i)?;
            i += 1;
            if c == '\\' {
                // `\` + newline is a newline in the text, not the end of the command.
                self.at(i)?;
                i += 1;
            } else if c == delimiter {
                return Some(i);
            } else if c == '\n' {
                return None;
            }
        }
    }

    /// Skips the addresses before a command (`1`, `$`, `/re/I`, `\%re%`, `first~step`,
    /// `addr,+N`). `None` if a regular expression in them does not end.
    fn skip_addresses(&self, mut i: usize) -> Option<usize> {
        loop {
            match self.at(i) {
                Some(c)
                    if c.is_ascii_digit() || matches!(c, '$' | ',' | '~' | '+' | ' ' | '\t') =>
                {
                    i += 1
                }
                Some('/') => i = self.skip_address_flags(self.skip_regex(i + 1, '/')?),
                Some('\\') => {
                    let delimiter = self.at(i + 1)?;
                    if matches!(delimiter, '\n' | '\\') {
                        return None;
                    }
                    i = self.skip_address_flags(self.skip_regex(i + 2, delimiter)?);
                }
                _ => return Some(i),
            }
        }
    }

    /// GNU sed's `I` and `M` after an address regex, blanks allowed before them.
    fn skip_address_flags(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(|c| matches!(c, 'I' | 'M' | ' ' | '\t')) {
            i += 1;
        }
        i
    }

    /// Where a command without arguments ends. GNU sed refuses anything else after it
    /// ("extra characters after command"); a reader that went on would be guessing.
    fn command_end(&self, mut i: usize) -> Option<usize> {
        while self.at(i).is_some_and(|c| c == ' ' || c == '\t') {
            i += 1;
        }
        match self.at(i) {
            None | Some(';' | '\n' | '}' | '#') => Some(i),
            Some(_) => None,
        }
    }

    fn line_end(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(|c| c != '\n') {
            i += 1;
        }
        i
    }

    fn statement_end(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(|c| !matches!(c, '\n' | ';' | '}')) {
            i += 1;
        }
        i
    }

    /// A file name: the rest of the line (`;` included, as sed reads it), leading blanks
    /// skipped.
    fn rest_of_line(&self, mut i: usize) -> (String, usize) {
        while self.at(i).is_some_and(|c| c == ' ' || c == '\t') {
            i += 1;
        }
        let end = self.line_end(i);
        (self.chars.get(i..end).unwrap_or_default().iter().collect(), end)
    }
}

/// Reads a sed script.
pub(super) fn read(script: &str) -> ScriptEffects {
    let mut effects = ScriptEffects::default();
    let script = Script { chars: script.chars().collect() };
    let mut i = 0;
    while i < script.chars.len() {
        // Separators and addresses.
        while script.at(i).is_some_and(|c| c.is_whitespace() || matches!(c, ';' | '{' | '}')) {
            i += 1;
        }
        let Some(after_addresses) = script.skip_addresses(i) else {
            effects.runs_code = Some(UNREADABLE.to_owned());
            break;
        };
        i = after_addresses;
        while script.at(i).is_some_and(|c| c.is_whitespace() || c == '!') {
            i += 1;
        }
        let Some(command) = script.at(i) else { break };
        i += 1;
        match command {
            'e' => {
                effects.runs_code = Some("its `e` command runs a shell command".to_owned());
                i = script.line_end(i);
            }
            'w' | 'W' => {
                let (file, next) = script.rest_of_line(i);
                effects.writes.push(Some(file));
                i = next;
            }
            's' | 'y' => {
                let Some(next) = substitution(&script, i, command, &mut effects) else {
                    effects.runs_code = Some(UNREADABLE.to_owned());
                    break;
                };
                i = next;
            }
            // Text to the end of the line, or a label, or a file to read: no effect.
            'a' | 'i' | 'c' | 'b' | 't' | 'T' | ':' | 'r' | 'R' | 'l' | 'L' | 'q' | 'Q' | 'v' => {
                i = if matches!(command, 'a' | 'i' | 'c' | 'r' | 'R') {
                    script.line_end(i)
                } else {
                    script.statement_end(i)
                };
            }
            '#' => i = script.line_end(i),
            '=' | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x' | 'z' | 'F' => {
                let Some(next) = script.command_end(i) else {
                    effects.runs_code = Some(UNREADABLE.to_owned());
                    break;
                };
                i = next;
            }
            // A block after an address; its end.
            '{' | '}' => {}
            _ => {
                effects.runs_code = Some(format!("a command it cannot read (`{command}`)"));
                break;
            }
        }
    }
    effects
}

/// Reads `s/re/text/flags` or `y/src/dst/` from just after the command letter; returns
/// where the command ends, or `None` if a part of it does not end.
fn substitution(
    script: &Script,
    mut i: usize,
    command: char,
    effects: &mut ScriptEffects,
) -> Option<usize> {
    let delimiter = script.at(i)?;
    // GNU sed refuses these as delimiters; a reader that guessed would lose its place.
    if matches!(delimiter, '\n' | '\\') {
        return None;
    }
    i += 1;
    if command == 'y' {
        // `y` takes characters, not regular expressions: `[` is just a character there.
        i = script.skip_plain(i, delimiter)?;
        i = script.skip_plain(i, delimiter)?;
        return script.command_end(i);
    }
    i = script.skip_regex(i, delimiter)?;
    i = script.skip_plain(i, delimiter)?;
    while let Some(flag) = script.at(i) {
        match flag {
            'e' => {
                effects.runs_code = Some("its `s///e` flag runs the result as a command".to_owned())
            }
            'w' => {
                let (file, next) = script.rest_of_line(i + 1);
                effects.writes.push(Some(file));
                return Some(next);
            }
            c if c.is_ascii_alphanumeric() => {}
            _ => break,
        }
        i += 1;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(script: &str) -> bool {
        read(script).runs_code.is_some()
    }

    #[test]
    fn the_delimiter_in_a_bracket_expression_does_not_end_the_regex() {
        for script in [
            "s/[/]/x/;e touch /outside/x",
            "s/[^/]/x/;e id",
            "s/[]/]/x/;e id",
            "s/[^]/]/x/;e id",
            "s/[[:alpha:]/]/x/;e id",
            "s/[[.-.]/]/x/;e id",
            "s/[[=a=]/]/x/;e id",
            "s#[#]#x#;e id",
            "s|[|]|x|;e id",
            "s,[,],x,;e id",
            "sx[x]xyx;e id",
            "s.[.].x.;e id",
            "/[/]/p;e id",
            "\\%[%]%p;e id",
            "\\,[,],I p;e id",
            "y/[/]/ab/;e id",
            "1e id",
            "s/a/b/\ne id",
        ] {
            assert!(runs(script), "{script}");
        }
        assert_eq!(read("s/[^/]/X/w /outside/f").writes, vec![Some("/outside/f".to_owned())]);
        assert_eq!(read("s/[/]/X/w /outside/f").writes, vec![Some("/outside/f".to_owned())]);
        // `\` is literal inside brackets: `[\]` ends there, and the `w` is a flag.
        assert_eq!(read("s/[\\]/X/w /o/f").writes, vec![Some("/o/f".to_owned())]);
    }

    #[test]
    fn the_replacement_and_y_have_no_brackets() {
        // The replacement ends at the first `/`: `]` and the rest are flags then commands.
        assert!(runs("s/a/[/;e id"));
        assert_eq!(read("s/a/[/w /o/f").writes, vec![Some("/o/f".to_owned())]);
        assert_eq!(read("y/a[/b]/;w /o/f").writes, vec![Some("/o/f".to_owned())]);
    }

    #[test]
    fn what_does_not_end_runs_code() {
        for script in ["s/[/x/", "s/[[:alpha/]/x/", "/[/p", "s/a", "s/a/b", "y/a/", "s/a\n/b/", "s"]
        {
            assert!(runs(script), "{script}");
        }
    }

    #[test]
    fn everyday_scripts_are_harmless() {
        for script in [
            "s/[0-9]*/N/g",
            "/^#/d",
            "s/[/]/_/g",
            "s|/usr/|/opt/|g",
            "s/a\\/b/c/",
            "1,10p",
            "/start/,/end/{s/x/y/;p}",
            "\\%^/usr%I d",
            "s/[[:space:]]*$//",
            "0~3d",
            "y/abc/xyz/",
            "/x/I,+2p",
        ] {
            assert_eq!(read(script), ScriptEffects::default(), "{script}");
        }
    }
}
