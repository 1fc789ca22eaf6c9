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
        // clippy's arguments after `--` are rustc's: lint levels (`-D warnings`) are plain,
        // anything else (`-C linker=PROGRAM`) is refused as for `cargo rustc --`.
        "clippy" => {
            let after: Vec<&str> = after_double_dash(words).map(|w| w.raw.as_str()).collect();
            let known = after_double_dash(words).all(ShellArg::is_known);
            let lints = || {
                let flags = ShellArg::known(&after.join(" "));
                super::variable_values::harmless("RUSTFLAGS", Some(&flags))
            };
            if !after.is_empty() && (!known || !lints()) {
                out.push(Finding::RunsCode(format!(
                    "`cargo clippy -- {}` hands the compiler options that may write or run \
                     anything",
                    after.join(" ")
                )));
            }
        }
        // rustfmt rewrites the files named after `--`.
        "fmt" => out.extend(
            after_double_dash(words)
                .filter(|w| !(w.is_known() && w.text.starts_with('-')))
                .cloned()
                .map(Finding::Writes),
        ),
        // The test harness writes its log where `--logfile` says.
        "test" | "t" | "bench" => {
            let mut after = after_double_dash(words);
            while let Some(word) = after.next() {
                if let Some(path) = word.text.strip_prefix("--logfile=") {
                    out.push(Finding::Writes(ShellArg { text: path.to_owned(), ..word.clone() }));
                } else if word.text == "--logfile" || !word.is_known() {
                    out.extend(after.next().cloned().map(Finding::Writes));
                }
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
        // Plugins common enough to know: what their options write and load.
        name if sub.is_known() && plugin(name).is_some() => {
            let Some((_, writes, loads)) = plugin(name) else { return };
            plugin_options(words, writes, loads, out);
            // `cargo nextest self update` replaces the plugin with a download.
            if scanned.positionals.get(1).is_some_and(|w| !w.is_known() || w.text == "self") {
                out.push(Finding::RunsCode(format!("`cargo {name} self` updates the plugin")));
            }
        }
        // Any other subcommand runs the plugin `cargo-NAME` (`cargo watch -s CMD`, `cargo
        // release --execute`): a program the table does not know.
        name if !CARGO_COMMANDS.contains(&name) || !sub.is_known() => out.push(Finding::Unknown),
        _ => {}
    }
}

/// cargo's own commands, their aliases, and the rustup components that ship with the
/// toolchain (`clippy`, `fmt`, `miri`).
const CARGO_COMMANDS: [&str; 48] = [
    "add",
    "b",
    "bench",
    "build",
    "c",
    "check",
    "clean",
    "clippy",
    "config",
    "d",
    "doc",
    "fetch",
    "fix",
    "fmt",
    "generate-lockfile",
    "help",
    "info",
    "init",
    "install",
    "locate-project",
    "login",
    "logout",
    "metadata",
    "miri",
    "new",
    "owner",
    "package",
    "pkgid",
    "publish",
    "r",
    "read-manifest",
    "remove",
    "report",
    "rm",
    "run",
    "rustc",
    "rustdoc",
    "script",
    "search",
    "t",
    "test",
    "tree",
    "uninstall",
    "update",
    "vendor",
    "verify-project",
    "version",
    "yank",
];

/// A known plugin: its name, the options whose value it writes, and those that load a
/// file of settings that may run programs (nextest's setup scripts).
type Plugin = (&'static str, &'static [&'static str], &'static [&'static str]);

const PLUGINS: [Plugin; 2] = [
    (
        "nextest",
        &["--archive-file", "--target-dir", "--extract-to", "--workspace-remap"],
        &["--tool-config-file", "--config-file"],
    ),
    // `cargo llvm-cov nextest` passes nextest's options on.
    (
        "llvm-cov",
        &["--output-path", "--output-dir", "--target-dir", "--archive-file", "--extract-to"],
        &["--tool-config-file", "--config-file"],
    ),
];

fn plugin(name: &str) -> Option<Plugin> {
    PLUGINS.into_iter().find(|(known, _, _)| *known == name)
}

/// A plugin's options, read as `--name VALUE` or `--name=VALUE` (the table does not list
/// them); the words after `--` are the tests' own.
fn plugin_options(words: &[ShellArg], writes: &[&str], loads: &[&str], out: &mut Vec<Finding>) {
    let mut words = words.iter().take_while(|w| !(w.is_known() && w.text == "--"));
    while let Some(word) = words.next() {
        let (name, glued) = match word.text.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (word.text.as_str(), None),
        };
        let value = || glued.map(|value| ShellArg { text: value.to_owned(), ..word.clone() });
        if writes.contains(&name) {
            out.extend(value().or_else(|| words.next().cloned()).map(Finding::Writes));
        } else if loads.contains(&name) || !word.is_known() {
            out.push(Finding::RunsCode(format!("`{}` loads settings that run programs", word.raw)));
        }
    }
}

/// The words after the first `--`.
fn after_double_dash(words: &[ShellArg]) -> impl Iterator<Item = &ShellArg> {
    words.iter().skip_while(|w| !(w.is_known() && w.text == "--")).skip(1)
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
