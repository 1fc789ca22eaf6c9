//! Words rewritten as their program reads them, before the table reads them: tar's
//! old-style first word, the Rust toolchain's (`rust_tools.rs`), curl's long options
//! (`curl.rs`), node's `_` for `-`, perl's and ruby's digits glued to `-0` and `-l`, zip's
//! values glued to two-letter options; and standard input under its other spellings.

use std::borrow::Cow;

use super::programs::Special;
use super::{ShellArg, rust_tools};

/// The words as the table should read them: tar's old-style first word (`tar cvf a.tar
/// dir`) becomes options, each value letter taking the next word; curl's long options are
/// named as curl reads them (`curl.rs`).
pub(super) fn prepare(special: Option<Special>, words: &[ShellArg]) -> Cow<'_, [ShellArg]> {
    const TAR_VALUE_LETTERS: &str = "fbCTXKNgVLHIF";
    if matches!(special, Some(Special::Cargo | Special::Rustc)) {
        return rust_tools::prepare(words);
    }
    if special == Some(Special::Curl) {
        return super::curl::prepare(words);
    }
    match special {
        Some(Special::Zip) => return zip_prepare(words),
        Some(Special::Node) => return node_prepare(words),
        Some(Special::Perl) => return perl_prepare(words),
        _ => {}
    }
    if special != Some(Special::Tar) {
        return Cow::Borrowed(words);
    }
    let Some((first, rest)) = words.split_first() else {
        return Cow::Borrowed(words);
    };
    if !first.is_known()
        || first.text.starts_with('-')
        || !first.text.chars().all(|c| c.is_ascii_alphabetic())
    {
        return Cow::Borrowed(words);
    }
    let mut out = Vec::new();
    let mut rest = rest.iter();
    for letter in first.text.chars() {
        out.push(ShellArg::known(&format!("-{letter}")));
        if TAR_VALUE_LETTERS.contains(letter)
            && let Some(value) = rest.next()
        {
            out.push(value.clone());
        }
    }
    out.extend(rest.cloned());
    Cow::Owned(out)
}

/// node's words with `_` in each long option's name read as `-`
/// (`--experimental_loader=...` is `--experimental-loader=...`), up to the script.
fn node_prepare(words: &[ShellArg]) -> Cow<'_, [ShellArg]> {
    let underscore = |w: &ShellArg| {
        w.text.starts_with("--") && w.text.split('=').next().is_some_and(|n| n.contains('_'))
    };
    if !words.iter().any(underscore) {
        return Cow::Borrowed(words);
    }
    let words = words.iter().map(|w| {
        if !underscore(w) {
            return w.clone();
        }
        let (name, value) =
            w.text.split_once('=').map_or((w.text.as_str(), None), |(n, v)| (n, Some(v)));
        let name = name.replace('_', "-");
        let text = value.map_or_else(|| name.clone(), |v| format!("{name}={v}"));
        ShellArg { text, ..w.clone() }
    });
    Cow::Owned(words.collect())
}

/// perl's and ruby's option clusters with the digits of `-0` and `-l` taken off: those
/// options take the octal (or `x` hex) digits glued to them and nothing else, so the
/// letters after them are options of their own (`-0777e CODE` is `-0`, `-e CODE`).
fn perl_prepare(words: &[ShellArg]) -> Cow<'_, [ShellArg]> {
    let split = |text: &str| -> Option<String> {
        let cluster = text.strip_prefix('-').filter(|c| !c.starts_with('-'))?;
        let mut out = String::from("-");
        let mut chars = cluster.chars().peekable();
        let mut changed = false;
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '0' && chars.peek() == Some(&'x') {
                chars.next();
                while chars.next_if(char::is_ascii_hexdigit).is_some() {}
                changed = true;
            } else if c == '0' || c == 'l' {
                while chars.next_if(|d| ('0'..='7').contains(d)).is_some() {
                    changed = true;
                }
            }
            // `-e`, `-E` and the other options that take the rest of the cluster end it.
            if "eEIMmdCDFix".contains(c) {
                out.extend(chars);
                break;
            }
        }
        changed.then_some(out)
    };
    if !words.iter().any(|w| split(&w.text).is_some()) {
        return Cow::Borrowed(words);
    }
    Cow::Owned(
        words
            .iter()
            .map(|w| match split(&w.text) {
                Some(text) => ShellArg { text, ..w.clone() },
                None => w.clone(),
            })
            .collect(),
    )
}

/// zip's words with its two-letter options that take a value split off, wherever a
/// cluster holds them (`-lf/root/x` is `-lf` and `/root/x`; `-qTTcmd` is `-q`, `-TT`,
/// `cmd`), as zip's own reader takes them.
fn zip_prepare(words: &[ShellArg]) -> Cow<'_, [ShellArg]> {
    const TWO_LETTERS: [&str; 2] = ["TT", "lf"];
    let split = |word: &ShellArg| -> Option<Vec<ShellArg>> {
        let cluster = word.text.strip_prefix('-').filter(|c| !c.starts_with('-'))?;
        let (at, option) =
            TWO_LETTERS.iter().filter_map(|o| cluster.find(o).map(|at| (at, *o))).min()?;
        let before = cluster.get(..at)?;
        let after = cluster.get(at + option.len()..)?;
        if before.is_empty() && (after.is_empty() || after.starts_with('=')) {
            return None;
        }
        let piece = |text: String| ShellArg { raw: text.clone(), text, ..word.clone() };
        let mut out = Vec::new();
        if !before.is_empty() {
            out.push(piece(format!("-{before}")));
        }
        match after.strip_prefix('=') {
            Some(value) => out.push(piece(format!("-{option}={value}"))),
            None => {
                out.push(piece(format!("-{option}")));
                if !after.is_empty() {
                    out.push(piece(after.to_owned()));
                }
            }
        }
        Some(out)
    };
    if !words.iter().any(|w| split(w).is_some()) {
        return Cow::Borrowed(words);
    }
    let mut out = Vec::with_capacity(words.len() + 2);
    for word in words {
        match split(word) {
            Some(pieces) => out.extend(pieces),
            None => out.push(word.clone()),
        }
    }
    Cow::Owned(out)
}

/// Whether a program given `path` as a file reads its standard input, or another stream
/// the line feeds it: `-`, `/dev/stdin` and a descriptor (`/dev/fd/N`, `/proc/self/fd/N`,
/// a `<(...)` one), however the path is spelt (`/dev//stdin`, `/dev/./stdin`).
pub(super) fn is_standard_input(path: &str) -> bool {
    if path == "-" {
        return true;
    }
    let path = super::writes::normalise(path);
    path == "/dev/stdin"
        || path.starts_with("/dev/fd/")
        || (path.starts_with("/proc/") && path.contains("/fd/"))
}
