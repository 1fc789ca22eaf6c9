//! `uv run CMD` and `poetry run CMD`: a Python project's environment running a command,
//! which is that command (`uv run pytest` is `pytest`, `uv run python -c CODE` is Python
//! running code of the caller's choosing). The runner is reported itself, and the command
//! it runs is analysed on its own, so that the table and the policy judge what runs (red
//! team round 25, hooks FP4: every `uv run pytest` was refused as running code of the
//! caller's choosing, where `cargo test` and `npm test` were not).
//!
//! The runner's options are read with a table of which take a value; one it does not know
//! makes the command it runs unknown (dynamic). `uv run --with PKG` installs a package of
//! the caller's choosing first: the table marks those options as running code.

use super::super::word::Word;
use super::{Unwrapper, plain};

/// Options of `uv` and its `run` that take a value (uv 0.9).
const UV_RUN_VALUES: [&str; 33] = [
    "--color",
    "--allow-insecure-host",
    "--python-preference",
    "--with",
    "--with-editable",
    "--with-requirements",
    "--extra",
    "--group",
    "--only-group",
    "--no-group",
    "--package",
    "--env-file",
    "--index",
    "--default-index",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-i",
    "--python",
    "-p",
    "--directory",
    "--project",
    "--config-file",
    "--cache-dir",
    "--refresh-package",
    "-P",
    "--upgrade-package",
    "--reinstall-package",
    "--exclude-newer",
    "--prerelease",
    "--resolution",
    "--link-mode",
];

/// Options of `uv run` and `poetry run` that take no value and change nothing of what runs.
const RUN_FLAGS: [&str; 22] = [
    "--no-sync",
    "--frozen",
    "--locked",
    "--offline",
    "--isolated",
    "--no-project",
    "--all-extras",
    "--no-dev",
    "--all-packages",
    "--active",
    "--no-env-file",
    "--exact",
    "--inexact",
    "--refresh",
    "-U",
    "--upgrade",
    "--reinstall",
    "-q",
    "--quiet",
    "-v",
    "--verbose",
    "--no-progress",
];

/// Global options of `poetry` that take a value.
const POETRY_VALUES: [&str; 4] = ["-C", "--directory", "-P", "--project"];

impl Unwrapper<'_> {
    /// `uv` or `poetry` itself, and the command its `run` runs.
    pub(super) fn project_runner(
        &mut self,
        name: &str,
        rest: &[&Word],
        appended: bool,
    ) -> Result<(), String> {
        let start = run_command(name, rest);
        let mut command = plain(name, rest, appended);
        command.dynamic = start == Some(None);
        self.out.commands.push(command);
        let Some(Some(at)) = start else { return Ok(()) };
        let inner = rest.get(at..).unwrap_or_default();
        // `-m MODULE` and `--script FILE` run Python with them.
        match inner.first().map(|w| w.text()).as_deref() {
            Some("-m" | "--module") => self.python("python3", inner, appended),
            Some("-s" | "--script") => {
                self.python("python3", inner.get(1..).unwrap_or_default(), appended)
            }
            _ => self.nested(inner, appended),
        }
    }
}

/// Where the command of `NAME ... run ... CMD` starts in `rest`: `None` when the runner
/// runs no command (another subcommand, or `run` alone), `Some(None)` when that is only
/// known at run time (a word with an expansion, an option of `run` this table does not
/// know). Options before `run` are the runner's own: those of [`UV_RUN_VALUES`] and
/// [`POETRY_VALUES`] take a value, others none (uv and poetry refuse options they do not
/// know).
fn run_command(name: &str, rest: &[&Word]) -> Option<Option<usize>> {
    let values: &[&str] = if name == "uv" { &UV_RUN_VALUES } else { &POETRY_VALUES };
    let mut at = 0;
    let mut after_run = false;
    while let Some(word) = rest.get(at) {
        if word.has_expansion() {
            return Some(None);
        }
        let text = word.text();
        if after_run && text == "--" {
            return Some(Some(at + 1)).filter(|_| at + 1 < rest.len());
        }
        if !text.starts_with('-') || text == "-" {
            if after_run {
                return Some(Some(at));
            }
            if text != "run" {
                return None;
            }
            after_run = true;
            at += 1;
            continue;
        }
        if after_run && matches!(text.as_str(), "-m" | "--module" | "-s" | "--script") {
            return Some(Some(at));
        }
        let (option, inline) = match text.split_once('=') {
            Some((option, _)) => (option, true),
            None => (text.as_str(), false),
        };
        if values.contains(&option) {
            at += if inline { 1 } else { 2 };
        } else if !after_run || RUN_FLAGS.contains(&option) {
            at += 1;
        } else {
            return Some(None);
        }
    }
    None
}
