//! What a search tool's walk reaches: Claude Code's `Grep` and `Glob`, Gemini CLI's
//! `search_file_content` and `glob`. Such a tool reads (or lists) every file under its
//! root that its pattern matches, so a root above the state directory reaches the session
//! files when the pattern can match their path (red team round 15: `Grep` in
//! `~/.local/state`, `Glob` of `../.local/state/*/hooks/*`).
//!
//! A pattern is matched as each tool matches: for Claude Code's tools (ripgrep) a wildcard
//! and `**` never match a name that starts with `.` unless the pattern's own component
//! starts with `.` (`.local/**`, `.*`); so `Grep` over the home directory, which skips
//! `.local`, stays allowed, and `**/*.jsonl` under `~/.local` does not. Gemini CLI's
//! `glob` and `read_many_files` match such names (`dot: true`; red team round 31, paths
//! P2): from the home directory, `**/*.jsonl` reaches the state.
//!
//! The walk goes through links as a glob library does: a literal component and one a
//! wildcard matches are opened by the system, links and all (`cache/state/**` with `cache
//! -> ~/.local`, `*/state/**`: round 31, P1), so the pattern is also followed on the
//! filesystem from its root, its components resolved one by one. `**` is not followed into
//! links (the libraries' default); a link that only `**` reaches (`**/cache/state/**`) is
//! not looked for, which would mean walking the whole tree.

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

/// Gemini CLI's tools, whose wildcards match names that start with `.`.
const DOT_TOOLS: [&str; 2] = ["glob", "read_many_files"];

/// The most directory entries the walk of one search looks at; past it the search is
/// taken to reach the state.
const MAX_ENTRIES: usize = 20_000;

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
    let mut written: Vec<(&str, &str)> = Vec::new();
    for (field, value) in fields.iter().filter_map(|field| Some((*field, args.get(field)?))) {
        match value {
            Value::String(pattern) => written.push((field, pattern)),
            Value::Array(items) => {
                written.extend(items.iter().filter_map(Value::as_str).map(|p| (field, p)));
            }
            _ => {}
        }
    }
    // Each pattern as the tool reads it: its braces expanded (`{cache,x}/state/**`), and
    // a content search's file glob with no `/` matched at any depth, as ripgrep's `--glob`
    // is (`*.jsonl` from `~/.local/state`: red team round 31, second pass, P2-5). One
    // that does not expand is taken to reach the state.
    let mut patterns: Vec<String> = Vec::new();
    for (field, pattern) in written {
        let Ok(expanded) = aecl_core::path_pattern::expand(pattern) else {
            return Some((pattern.to_owned(), place));
        };
        let anywhere = field != "pattern" && field != "paths";
        patterns.extend(expanded.into_iter().map(|p| match anywhere && !p.contains('/') {
            true => format!("**/{p}"),
            false => p,
        }));
    }
    // A content search with no file pattern reads every file under its root.
    if patterns.is_empty() {
        patterns.push("**".to_owned());
    }
    let dot = DOT_TOOLS.contains(&action);
    let mut budget = MAX_ENTRIES;
    for root in roots {
        for pattern in &patterns {
            let pattern = pattern.as_str();
            let full = match pattern.strip_prefix("~/") {
                Some(rest) => home?.join(rest),
                None => root.join(pattern),
            };
            let full = lexical(&full);
            let wanted: Vec<String> = names(&full);
            for state in place.paths() {
                if reaches(&wanted, &names(state), dot)
                    || walks_into(Path::new("/"), &wanted, state, dot, &mut budget)
                {
                    return Some((full.display().to_string(), place));
                }
            }
        }
    }
    None
}

/// Whether the walk of `pattern` (components) from the directory `dir` (as the system
/// resolved it) reaches `state`, following what the system opens: the directory a literal
/// component names and each entry a wildcard matches, links resolved. Past the entry
/// budget, it is taken to reach it.
fn walks_into(dir: &Path, pattern: &[String], state: &Path, dot: bool, budget: &mut usize) -> bool {
    if dir.starts_with(state) {
        return true;
    }
    if let Ok(below) = state.strip_prefix(dir)
        && reaches(pattern, &names(below), dot)
    {
        return true;
    }
    let Some((component, rest)) = pattern.split_first() else { return false };
    if component == "**" {
        // As matching no directory; what it descends through without links, the lexical
        // reading has judged.
        return walks_into(dir, rest, state, dot, budget);
    }
    let open = |path: &Path, budget: &mut usize| match std::fs::canonicalize(path) {
        Ok(next) if next.starts_with(state) => true,
        Ok(next) if next.is_dir() => walks_into(&next, rest, state, dot, budget),
        _ => false,
    };
    if !component.contains(['*', '?', '[', '{']) {
        return open(&dir.join(component), budget);
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    for entry in entries.flatten() {
        if *budget == 0 {
            return true;
        }
        *budget -= 1;
        let name = entry.file_name().to_string_lossy().into_owned();
        let hidden = name.starts_with('.') && !dot && !component.starts_with('.');
        if !hidden && fnmatch(component, &name) && open(&entry.path(), budget) {
            return true;
        }
    }
    false
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
/// `dot`: wildcards match names that start with `.` (Gemini CLI's tools).
fn reaches(pattern: &[String], state: &[String], dot: bool) -> bool {
    let Some((name, deeper)) = state.split_first() else { return true };
    let Some((component, rest)) = pattern.split_first() else { return false };
    let hidden = name.starts_with('.') && !dot;
    if component == "**" {
        return reaches(rest, state, dot) || (!hidden && reaches(pattern, deeper, dot));
    }
    (!hidden || component.starts_with('.'))
        && fnmatch(component, name)
        && reaches(rest, deeper, dot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn can_reach(pattern: &str) -> bool {
        let parts = |text: &str| names(&lexical(Path::new(text)));
        reaches(&parts(pattern), &parts("/h/.local/state/aecl/hooks"), false)
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
        // Gemini CLI's globs match dot names.
        let parts = |text: &str| names(&lexical(Path::new(text)));
        let state = parts("/h/.local/state/aecl/hooks");
        for pattern in ["/h/**/*.jsonl", "/h/*/state/**", "/h/[.]local/**", "/h/?local/state/*/*"] {
            assert!(reaches(&parts(pattern), &state, true), "{pattern}");
        }
    }

    #[test]
    fn a_link_the_pattern_walks_through_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().canonicalize().unwrap();
        let state = home.join(".local/state/aecl/hooks");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir_all(home.join("p/src")).unwrap();
        std::os::unix::fs::symlink("../.local", home.join("p/cache")).unwrap();
        let walks = |pattern: &str| {
            let wanted = names(&lexical(&home.join("p").join(pattern)));
            walks_into(Path::new("/"), &wanted, &state, false, &mut MAX_ENTRIES.clone())
        };
        for pattern in
            ["cache/state/**", "cache/**/*.jsonl", "*/state/aecl/hooks/*.jsonl", "c*/s*/**"]
        {
            assert!(walks(pattern), "{pattern}");
        }
        for pattern in ["src/**", "*/*.rs", "cache/share/**", "cache"] {
            assert!(!walks(pattern), "{pattern}");
        }
    }
}
