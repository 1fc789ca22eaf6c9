//! Subcommands that make a project, an environment or an output at the path they are
//! given as an operand rather than an option: `uv init DIR`, `uv venv DIR`, `poetry new
//! DIR`, `bundle gem NAME`, `deno init DIR`, `pnpm deploy DIR`, `deno bundle IN OUT`
//! (`cargo new`, `init` and `vendor` are read in `rust_tools.rs`). The operand is a write.

use super::ShellArg;
use super::finding::Finding;
use super::scan::Scanned;
use super::subcommands;

/// A subcommand, and which of its operands (0: the first after it) it writes.
struct Creates {
    programs: &'static [&'static str],
    subcommand: &'static str,
    operand: usize,
}

const TABLE: [Creates; 7] = [
    Creates { programs: &["uv"], subcommand: "init", operand: 0 },
    Creates { programs: &["uv"], subcommand: "venv", operand: 0 },
    Creates { programs: &["poetry"], subcommand: "new", operand: 0 },
    Creates { programs: &["bundle", "bundler"], subcommand: "gem", operand: 0 },
    Creates { programs: &["deno"], subcommand: "init", operand: 0 },
    Creates { programs: &["pnpm"], subcommand: "deploy", operand: 0 },
    Creates { programs: &["deno"], subcommand: "bundle", operand: 1 },
];

/// Adds the write of the operand a creating subcommand of `program` names.
pub(super) fn read(program: &str, scanned: &Scanned, out: &mut Vec<Finding>) {
    // Every command of a line passes here: only the table's programs read their words.
    let mut entries = TABLE.iter().filter(|e| e.programs.contains(&program)).peekable();
    if entries.peek().is_none() {
        return;
    }
    let Some(first) = subcommands::words(program, &scanned.positionals)
        .ok()
        .and_then(|words| words.into_iter().next())
    else {
        return;
    };
    for entry in entries {
        if entry.subcommand != first {
            continue;
        }
        let operand: Option<&ShellArg> = scanned.positionals.get(1 + entry.operand);
        out.extend(operand.cloned().map(Finding::Writes));
    }
}
