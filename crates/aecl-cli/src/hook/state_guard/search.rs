//! What a search tool's walk reaches: Claude Code's `Grep` and `Glob`, Gemini CLI's
//! `search_file_content` and `glob`. Such a tool reads (or lists) every file under its
//! root that its pattern matches, so a root above the state directory reaches the session
//! files when the pattern can match their path (red team round 15: `Grep` in
//! `~/.local/state`, `Glob` of `../.local/state/*/hooks/*`).
//!
//! A pattern is matched as these tools match by default (ripgrep, the glob libraries): a
//! wildcard and `**` never match a name that starts with `.` unless the pattern's own
//! component starts with `.` (`.local/**`, `.*`); so `Grep` over the home directory, which
//! skips `.local`, stays allowed, and `**/*.jsonl` under `~/.local` does not.

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::expand::fnmatch;
use super::protected::{Place, Protected};

/// The tools that walk the directory they are given. Gemini CLI's `read_many_files` reads
/// every file its `paths` and `include` globs match (red team round 25, hooks L1).
pub const SEARCH_TOOLS: [&str; 6] =
    ["Grep", "Glob", "LS", "search_file_content", "glob", "read_many_files"];

/// The fields that hold a search's file pattern (`Glob`'s `pattern`, `Grep`'s `glob`,
/// Gemini CLI's `include`, `read_many_files`' `paths` and `include`, lists of patterns);
/// `Grep`'s `pattern` is a regular expression over contents.
fn pattern_fields(action: &str) -> &'static [&'static str] {
    match action {
        "Glob" | "glob" => &["pattern"],
        "read_many_files" => &["paths", "include"],
        _ => &["glob", "include"],
    }
}

/// The state directory, and the pattern that reaches it, when a search of `action` with
/// `args` from `roots` (its resolved `path`, or the working directory) reaches it.
pub fn reached<'p>(
    action: &str,
    args: &Value,
    roots: &[PathBuf],
    home: Option<&Path>,
    protected: &'p Protected,
) -> Option<(String, &'p Place)> {
    let place = protected.state()?;
    let fields = pattern_fields(action);
    let mut patterns: Vec<&str> = Vec::new();
    for value in fields.iter().filter_map(|field| args.get(field)) {
        match value {
            Value::String(pattern) => patterns.push(pattern),
            Value::Array(items) => patterns.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    // A content search with no file pattern reads every file under its root.
    if patterns.is_empty() {
        patterns.push("**");
    }
    for root in roots {
        for pattern in &patterns {
            let full = match pattern.strip_prefix("~/") {
                Some(rest) => home?.join(rest),
                None => root.join(pattern),
            };
            let full = lexical(&full);
            let wanted: Vec<String> = names(&full);
            for state in place.paths() {
                if reaches(&wanted, &names(state)) {
                    return Some((full.display().to_string(), place));
                }
            }
        }
    }
    None
}

/// `path` with `.` and `..` components folded, as a glob library joins a pattern to its
/// root.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The names of a path's components, the root left out.
fn names(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// Whether a pattern (by components) can match the state directory or a path inside it:
/// the state's components all matched in order, whatever of the pattern is left.
fn reaches(pattern: &[String], state: &[String]) -> bool {
    let Some((name, deeper)) = state.split_first() else { return true };
    let Some((component, rest)) = pattern.split_first() else { return false };
    let hidden = name.starts_with('.');
    if component == "**" {
        return reaches(rest, state) || (!hidden && reaches(pattern, deeper));
    }
    (!hidden || component.starts_with('.')) && fnmatch(component, name) && reaches(rest, deeper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn can_reach(pattern: &str) -> bool {
        let parts = |text: &str| names(&lexical(Path::new(text)));
        reaches(&parts(pattern), &parts("/h/.local/state/aecl/hooks"))
    }

    #[test]
    fn patterns_reach_the_state_as_the_tools_match() {
        for pattern in [
            "/h/.local/state/**",
            "/h/.local/**/*.jsonl",
            "/h/.local/stat*/aecl/hooks/*",
            "/h/work/../.local/state/*/hooks/*",
            "/h/.*/state/aecl/**",
        ] {
            assert!(can_reach(pattern), "{pattern}");
        }
        // `**` and `*` skip dot directories; a pattern that ends above the state lists it.
        for pattern in [
            "/h/**/*.jsonl",
            "/h/*/state/**",
            "/h/.config/**/*.ini",
            "/h/work/**",
            "/h/.local/state",
        ] {
            assert!(!can_reach(pattern), "{pattern}");
        }
    }
}
