//! `**` as a whole component of a path a line reads or writes. zsh matches it against any
//! number of directories by default, and bash does with `shopt -s globstar` (on the line,
//! or in the user's shell snapshot that Claude Code's `Bash` sources): `rm -rf
//! ~/**/hooks` removes the state directory, `rm **/*.json` the agent's settings. Listing
//! every directory beneath it has no bound, so a pattern with `**` is compared with the
//! protected places themselves, by components: `**` matches any number of them and a
//! wildcard matches a leading `.` too (stricter than either shell's default, never
//! looser). The listing in `expand::glob` still reads `**` as `*`, one level, which finds
//! links there.

use std::path::{Component, Path};

use super::expand::fnmatch;

/// Whether `path` holds `**` as a whole component.
pub fn has_globstar(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "**")
}

/// `**` components past this many in one pattern are not compared: the pattern is taken
/// to match anything (the comparison is exponential in them).
const MAX_STARS: usize = 8;

/// Whether the pattern `pattern` (absolute, normalised, with `**`) may match `target`
/// (absolute), or a directory holding it when `above`. Paths beneath a target are the
/// caller's to list: a pattern matches only what exists.
pub fn meets(pattern: &Path, target: &Path, above: bool) -> bool {
    let pattern = names(pattern);
    if pattern.iter().filter(|c| **c == "**").count() > MAX_STARS {
        return true;
    }
    overlaps(&pattern, &names(target), above)
}

/// Whether the pattern may match a path ending in `ending` (`.claude/settings.json`: any
/// directory's agent folder and file), or a directory holding such a path whose last
/// component matches `ending`'s first (the folder itself).
pub fn meets_ending(pattern: &Path, ending: &[&str]) -> bool {
    let pattern = names(pattern);
    let Some(star) = pattern.iter().rposition(|c| *c == "**") else { return false };
    let tail = pattern.get(star + 1..).unwrap_or_default();
    // After the last `**`, the rest must match the end of such a path: its last
    // components match the ending's last ones (the `**` takes the ending's first ones when
    // the rest is shorter; longer, its first ones are directories above), for the whole
    // ending or a start of it (the folder).
    let matches_end = |ending: &[&str]| {
        let n = tail.len().min(ending.len());
        let (Some(ours), Some(theirs)) =
            (tail.get(tail.len() - n..), ending.get(ending.len() - n..))
        else {
            return false;
        };
        ours.iter().zip(theirs).all(|(p, name)| fnmatch(p, name))
    };
    (1..=ending.len()).any(|n| ending.get(..n).is_some_and(matches_end))
}

/// Whether the pattern matches a path beneath the directory `tree`, listed (links not
/// followed); past `max` entries it is taken to match.
pub fn meets_listed(pattern: &Path, tree: &Path, max: usize) -> bool {
    let mut pending = vec![tree.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            seen += 1;
            let path = entry.path();
            if seen > max || meets(pattern, &path, false) {
                return true;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            }
        }
    }
    false
}

fn names(path: &Path) -> Vec<&str> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .collect()
}

fn overlaps(pattern: &[&str], target: &[&str], above: bool) -> bool {
    match (pattern.split_first(), target.split_first()) {
        (None, None) => true,
        // The pattern ends above the target.
        (None, Some(_)) => above,
        // The target ends while the pattern goes on: only `**` matching nothing.
        (Some(_), None) => pattern.iter().all(|c| *c == "**"),
        (Some((&"**", rest)), Some((_, deeper))) => {
            overlaps(rest, target, above) || overlaps(pattern, deeper, above)
        }
        (Some((component, rest)), Some((name, deeper))) => {
            fnmatch(component, name) && overlaps(rest, deeper, above)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = "/h/.local/state/aecl/hooks";

    fn reaches(pattern: &str, above: bool) -> bool {
        meets(Path::new(pattern), Path::new(STATE), above)
    }

    #[test]
    fn a_globstar_meets_the_paths_it_may_match() {
        for pattern in
            ["/h/**/hooks", "/h/**", "/h/**/aecl/hooks", "/**/state/**/*", "/h/.local/**"]
        {
            assert!(reaches(pattern, false), "{pattern}");
        }
        // A directory holding it only when the pattern may end above it.
        assert!(reaches("/h/**/state", true));
        assert!(!reaches("/h/**/state", false));
        // Beneath it is not this comparison's: what exists there is listed.
        assert!(!reaches("/h/**/hooks/*.jsonl", true));
        for pattern in ["/h/work/**", "/h/**/node_modules", "/h/work/**/hooks", "/h/**/x/hooks"] {
            assert!(!reaches(pattern, true), "{pattern}");
        }
    }

    #[test]
    fn a_globstar_meets_an_ending_by_name() {
        let ending = [".claude", "settings.json"];
        for pattern in
            ["/w/**/*.json", "/w/**/.claude", "/w/**", "/w/**/.c*/settings.*", "/w/**/x/.claude/*"]
        {
            assert!(meets_ending(Path::new(pattern), &ending), "{pattern}");
        }
        for pattern in ["/w/**/node_modules", "/w/**/*.rs", "/w/.claude/x.json", "/w/**/.claude/x"]
        {
            assert!(!meets_ending(Path::new(pattern), &ending), "{pattern}");
        }
    }
}
