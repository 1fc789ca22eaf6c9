//! Keystrokes typed into a program a shell tool started are command lines too.
//!
//! Codex's unified exec has two tools: `exec_command` starts a program (with a `tty`),
//! and `write_stdin` types `chars` into it. A program that reads commands from its
//! terminal runs what is typed: a pager's `!cmd` (`git log`, `man`), an editor's `:!`,
//! a database shell's `.shell`, a REPL. So an allowed `git log` followed by `write_stdin
//! {"chars": "!touch x\n"}` ran any command past every shell rule (red team round 26,
//! hooks M4). When the catalog declares `write_stdin` without a `shell` rule of its own
//! on `chars`, it inherits the rules of Codex's shell tool: what may be typed is what
//! may be run. An empty `chars` (Codex polling for output) is an empty line: allowed.

use std::collections::HashMap;

use aecl_core::constraint::Constraint;
use aecl_core::path::FieldPath;
use aecl_core::policy::{ActionSpec, ArgSpec};

/// The tool that types into a running program, and the argument it types.
const KEYSTROKES: (&str, &str) = ("write_stdin", "chars");

/// Codex's shell tools, in the order their rules are preferred: `exec_command` starts
/// the programs `write_stdin` types into.
const SHELL_TOOLS: [&str; 5] = ["exec_command", "shell", "shell_command", "local_shell", "Bash"];

/// Gives `write_stdin`'s `chars` the shell rules of the first of Codex's shell tools that
/// has some, unless it has its own.
pub(crate) fn inherit(actions: &mut HashMap<String, ActionSpec>) {
    let (tool, field) = KEYSTROKES;
    let Some(path) = FieldPath::parse(field) else { return };
    let own = |spec: &ActionSpec| {
        spec.arg(&path)
            .is_some_and(|arg| arg.constraints.iter().any(|c| matches!(c, Constraint::Shell(_))))
    };
    if actions.get(tool).is_none_or(own) {
        return;
    }
    let inherited = SHELL_TOOLS.iter().filter_map(|name| actions.get(*name)).find_map(|spec| {
        spec.args.iter().find_map(|arg| {
            arg.constraints.iter().find_map(|c| match c {
                Constraint::Shell(rules) => Some((arg.control, rules.clone())),
                _ => None,
            })
        })
    });
    let (Some((control, rules)), Some(spec)) = (inherited, actions.get_mut(tool)) else {
        return;
    };
    let rule = Constraint::Shell(rules);
    match spec.args.iter_mut().find(|arg| arg.path == path) {
        Some(arg) => {
            arg.control |= control;
            arg.constraints.push(rule);
        }
        None => spec.args.push(ArgSpec {
            path,
            control,
            sink: false,
            constraints: vec![rule],
            values: Default::default(),
        }),
    }
}
