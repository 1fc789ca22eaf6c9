//! A path argument read as the glob pattern a tool may take it for.
//!
//! Claude Code's `Glob` and `Grep`, the MCP filesystem server's `search_files` and the like
//! take a pattern where other tools take a path: `/ws/.gi[t]/*` names no file as text,
//! and lists `/ws/.git`'s files when a tool reads it; `{..,x}/*` climbs out of its root
//! once its braces are expanded. The path constraints therefore read a value with glob
//! syntax both ways: as the text it is, and as the paths it may match.
//!
//! - [`expand`]: the brace expansions of a value, each checked by `path_under` and
//!   `path_glob` as a path of its own (and resolved by the adapters like one);
//! - [`GlobMeets::may_match`]: whether a pattern may match a path a policy glob names,
//!   decided exactly by the product of the two automata, with the tools' default that
//!   wildcards do not match a hidden name's leading `.` (so `**/*.rs` does not reach
//!   `.git/`, while `.gi[t]/*`, `.g*/config` and `**/.env` do).
//!
//! Left out: a wildcard that matches a symbolic link is not followed (the adapter
//! resolves the text, whose wildcards name no file); a class or `?` matching `.` or `..`
//! (no tool's directory walk yields them).

mod automaton;
mod braces;
mod syntax;

pub use braces::{MAX_EXPANSIONS, expand, expands};

use automaton::Automaton;

/// Pairs of states the checks of one value may visit ([`GlobMeets::may_match`]) before
/// they answer yes.
pub const MAX_PAIRS: usize = 1 << 20;

/// Longest value read as a pattern (Linux's `PATH_MAX`); a longer one with glob syntax is
/// refused by the path constraints.
pub const MAX_PATTERN_BYTES: usize = 4096;

/// Whether `text` holds syntax a glob tool reads: `*`, `?`, `[`, a `\` escape, an
/// extended glob's `@(`, `!(` or `+(`, or a brace that expands.
pub fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '[', '\\'])
        || ["@(", "!(", "+("].iter().any(|extended| text.contains(extended))
        || expands(text)
}

/// Why a value with glob syntax longer than [`MAX_PATTERN_BYTES`] is refused.
pub fn too_long(written: &str) -> String {
    let start: String = written.chars().take(64).collect();
    format!(
        "`{start}...` has glob syntax and is longer than {MAX_PATTERN_BYTES} bytes: it is not \
         read as a pattern"
    )
}

/// A tool's pattern (its braces expanded: [`expand`]), read once to be compared with
/// every glob of a list.
#[derive(Debug, Clone)]
pub struct Pattern {
    automaton: Automaton,
}

impl Pattern {
    /// Reads `text`; `case_insensitive` as the globs it will be compared with say.
    pub fn new(text: &str, case_insensitive: bool) -> Pattern {
        let automaton = syntax::tool_pattern(text);
        Pattern { automaton: if case_insensitive { automaton.folded() } else { automaton } }
    }
}

/// A policy glob, read to be compared with tools' patterns.
#[derive(Debug, Clone)]
pub struct GlobMeets {
    automaton: Automaton,
    case_insensitive: bool,
}

impl GlobMeets {
    /// Reads a policy glob; the error says why it does not parse.
    pub fn new(glob: &str, case_insensitive: bool) -> Result<GlobMeets, String> {
        let automaton = syntax::policy_glob(glob).map_err(|e| format!("glob `{glob}`: {e}"))?;
        let automaton = if case_insensitive { automaton.folded() } else { automaton };
        Ok(GlobMeets { automaton, case_insensitive })
    }

    /// Whether a tool reading `pattern` may match a path this glob matches (the pattern
    /// read with this glob's case rule). The search takes from `budget` (start from
    /// [`MAX_PAIRS`] for one value); once it is spent the answer is yes.
    pub fn meets(&self, pattern: &Pattern, budget: &mut usize) -> bool {
        pattern.automaton.meets(&self.automaton, budget)
    }

    /// [`GlobMeets::meets`] for a pattern's text, read with this glob's case rule.
    pub fn may_match(&self, pattern: &str, budget: &mut usize) -> bool {
        self.meets(&Pattern::new(pattern, self.case_insensitive), budget)
    }
}

#[cfg(test)]
mod tests;
