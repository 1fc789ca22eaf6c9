//! `python3 -m TOOL ARGS`: a module that is a program of the table (`pytest`, `black`,
//! `pip`) is that program, so the analyser adds `TOOL ARGS` as a command of its own,
//! beside Python itself, for the tool's entry (and the policy's patterns) to judge.

use super::super::normalise;
use super::super::special::TOOL_MODULES;
use super::super::word::{Part, Word};
use super::{Unwrapper, plain};

/// Python's names, without a version (`python3.12` is `python3`).
const PYTHONS: [&str; 5] = ["python", "python3", "python2", "pypy", "pypy3"];

/// Whether `name` (a canonical program name) is a Python interpreter.
pub(super) fn is_python(name: &str) -> bool {
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    PYTHONS.contains(&name) || (!stem.is_empty() && PYTHONS.contains(&stem))
}

impl Unwrapper<'_> {
    /// Python itself, and the tool its `-m` names.
    pub(super) fn python(
        &mut self,
        name: &str,
        rest: &[&Word],
        appended: bool,
    ) -> Result<(), String> {
        self.out.commands.push(plain(name, rest, appended));
        let Some((module, inner)) = module(rest) else { return Ok(()) };
        let tool = normalise::program_name(&module.text());
        if !TOOL_MODULES.contains(&tool.as_str()) {
            return Ok(());
        }
        let mut words = vec![&module];
        words.extend(inner);
        self.nested(&words, appended)
    }
}

/// The module of `python [OPTIONS] -m MODULE ARGS` and its arguments: Python reads its
/// own options up to `-m` (`-Bm pytest`, `-mpytest`), and none after it. `None` when the
/// line runs a script, `-c` code or standard input, or the module is only known at run
/// time (Python's own reader refuses that).
fn module<'r, 'w>(rest: &'r [&'w Word]) -> Option<(Word, &'r [&'w Word])> {
    // Short options that take a value: the rest of the word, or the next word.
    const VALUES: &str = "WXQ";
    let mut i = 0;
    while let Some(word) = rest.get(i) {
        i += 1;
        let text = word.text();
        if word.has_expansion() || !text.starts_with('-') || text == "-" || text == "--" {
            return None;
        }
        if text == "--check-hash-based-pycs" {
            i += 1;
            continue;
        }
        if text.starts_with("--") {
            continue;
        }
        let cluster: Vec<char> = text.chars().skip(1).collect();
        for (k, c) in cluster.iter().enumerate() {
            let attached: String = cluster.iter().skip(k + 1).collect();
            match c {
                'c' => return None,
                'm' if attached.is_empty() => {
                    let module = (*rest.get(i)?).clone();
                    return Some((module, rest.get(i + 1..).unwrap_or_default()));
                }
                'm' => {
                    let module =
                        Word { parts: vec![Part::Quoted(attached.clone())], raw: attached };
                    return Some((module, rest.get(i..).unwrap_or_default()));
                }
                c if VALUES.contains(*c) => {
                    if attached.is_empty() {
                        i += 1;
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    None
}
