//! Readers for the Rust toolchain's programs, whose grammar the program table cannot
//! express: the toolchain a rustup proxy runs (`cargo +TOOLCHAIN`), the paths `cargo new`,
//! `init` and `vendor` write, the rustc arguments `cargo rustc --` passes on, the crates
//! `cargo add` brings into the next build, and rustc's `--emit KIND=PATH` and `--print
//! KIND=PATH`, which write PATH.

use std::borrow::Cow;

use super::ShellArg;
use super::finding::Finding;
use super::scan::Scanned;

/// Whether `word` selects an installed toolchain by name (`+stable`, `+nightly-2026-01-01`,
/// `+1.88.0`): a known word with no path in it.
fn named_toolchain(word: &ShellArg) -> bool {
    word.is_known()
        && word.text.strip_prefix('+').is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// The words as the table should read them: a leading `+TOOLCHAIN` that names an installed
/// toolchain is the proxy's, not the program's, and is left out. One naming a directory
/// (or only known at run time) stays, for [`read`] to refuse.
pub(super) fn prepare(words: &[ShellArg]) -> Cow<'_, [ShellArg]> {
    match words.split_first() {
        Some((first, rest)) if named_toolchain(first) => Cow::Borrowed(rest),
        _ => Cow::Borrowed(words),
    }
}

/// Adds the findings of `cargo WORDS` (`cargo = true`) or `rustc WORDS`.
pub(super) fn read(cargo: bool, words: &[ShellArg], scanned: &Scanned, out: &mut Vec<Finding>) {
    if let Some(first) = words.first().filter(|w| w.text.starts_with('+'))
        && !named_toolchain(first)
    {
        // rustup runs `DIR/bin/cargo` for `+DIR`: a program the caller put there.
        out.push(Finding::RunsCode(format!(
            "`{}` makes rustup run the toolchain of a directory",
            first.raw
        )));
    }
    if cargo {
        read_cargo(words, scanned, out);
    } else {
        read_rustc(scanned, out);
    }
}

fn read_cargo(words: &[ShellArg], scanned: &Scanned, out: &mut Vec<Finding>) {
    let Some(sub) = scanned.positionals.first() else { return };
    match sub.text.as_str() {
        // `cargo new PATH`, `cargo init [PATH]`, `cargo vendor [PATH]` write PATH. Their
        // own options (`--vcs none`, `--name x`, `--bin`) are not all in the table, so
        // every word after the subcommand that is not an option may be it.
        "new" | "init" | "vendor" => {
            let after = words.iter().skip_while(|w| !(w.is_known() && w.text == sub.text)).skip(1);
            out.extend(
                after
                    .filter(|w| !(w.is_known() && w.text.starts_with('-')))
                    .cloned()
                    .map(Finding::Writes),
            );
        }
        // Words after `--` are rustc's (rustdoc's) own: `-o`, `--emit=link=PATH`,
        // `-C linker=PROGRAM`. They are not read one by one: any is refused.
        "rustc" | "rustdoc" => {
            let after = words.iter().skip_while(|w| !(w.is_known() && w.text == "--")).nth(1);
            if let Some(word) = after {
                out.push(Finding::RunsCode(format!(
                    "`cargo {} -- {}` hands the compiler options that may write or run \
                     anything",
                    sub.text, word.raw
                )));
            }
        }
        // A crate added to the manifest has its build script and macros run by the next
        // build or test, as a package's install scripts run (`npm install PKG`); a dry run
        // changes nothing.
        "add" if !scanned.has(&["-n", "--dry-run"]) => {
            out.push(Finding::RunsCode(
                "`cargo add` puts a crate's build script and macros into the next build".to_owned(),
            ));
        }
        _ => {}
    }
}

fn read_rustc(scanned: &Scanned, out: &mut Vec<Finding>) {
    // `--emit=asm,link=PATH`, `--print cfg=PATH`: each `KIND=PATH` writes PATH.
    for value in scanned.values(&["--emit", "--print"]) {
        if !value.is_known() {
            out.push(Finding::Writes(value.clone()));
            continue;
        }
        for item in value.text.split(',') {
            if let Some((_, path)) = item.split_once('=') {
                out.push(Finding::Writes(ShellArg {
                    text: path.to_owned(),
                    raw: value.raw.clone(),
                    ..value.clone()
                }));
            }
        }
    }
}
