//! Path globs: `path_glob = { block = ["*/.git/*"], require_approval = ["*/.env"] }` on a
//! path argument. Unlike Cedar's `like`, which compares the text as sent, a path glob is
//! matched against every form the path takes, so spelling a path another way does not
//! slip past it:
//!
//! - the path as written, without trailing slashes;
//! - its lexical normal form (`.`, `..` and repeated `/` removed), and for a relative
//!   path the same with a leading `/`, so `*/.git/*` sees `.git/config` too;
//! - its resolution on the filesystem, when an adapter resolved it (`resolved.rs`).
//!
//! A pattern ending in `/*` or `/**` also matches the directory itself: `*/.git/*` matches
//! `/ws/.git`, which a recursive delete or a rename acts on as a whole. Matching is
//! case-insensitive unless the rule says `case_insensitive = false`: on a case-insensitive
//! filesystem (macOS, Windows, a mounted FAT volume) `/ws/.GIT/config` is `.git/config`,
//! and for a deny list matching too much only asks or blocks more.
//!
//! `*` and `**` both match any characters including `/` (as Cedar's `like` does), `?` one
//! character, `[abc]` a class and `{a,b}` alternatives (globset's syntax).

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::decision::Decision;
use crate::path_pattern::{self, GlobMeets, Pattern};
use crate::resolved::PathView;
use crate::resolved::normalise_path;
use crate::violation::Violation;

/// The glob lists of one path argument, compiled.
#[derive(Debug, Clone)]
pub struct PathGlobs {
    lists: Vec<GlobList>,
    case_insensitive: bool,
}

#[derive(Debug, Clone)]
struct GlobList {
    decision: Decision,
    /// The patterns as written, for messages.
    patterns: Vec<String>,
    set: GlobSet,
    /// The globs of `set` in the same order, read to be compared with tools' patterns.
    meets: Vec<GlobMeets>,
    /// For each glob of `set`, the index of the pattern it came from (a `DIR/*` pattern
    /// compiles to two globs).
    origin: Vec<usize>,
}

impl PathGlobs {
    /// Compiles the lists; the error names the pattern that does not parse.
    pub fn new(
        block: &[String],
        require_approval: &[String],
        case_insensitive: bool,
    ) -> Result<PathGlobs, String> {
        let lists = [(Decision::Block, block), (Decision::RequireApproval, require_approval)]
            .into_iter()
            .filter(|(_, patterns)| !patterns.is_empty())
            .map(|(decision, patterns)| GlobList::new(decision, patterns, case_insensitive))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PathGlobs { lists, case_insensitive })
    }

    pub fn case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    /// Checks one path value, appending a violation per list with a matching pattern.
    /// A value with glob syntax is also read as the pattern a tool may take it for
    /// (`path_pattern`): its brace expansions are matched as paths, and its wildcards
    /// against each glob.
    pub fn check(&self, written: &str, paths: &PathView, out: &mut Vec<Violation>) {
        if written.contains('\0') {
            out.push(violation(Decision::Block, "path contains a NUL byte".to_owned()));
            return;
        }
        let mut forms = Vec::with_capacity(4);
        push_forms(written, written, paths, &mut forms, out);
        // As macOS and Windows name files: in any Unicode normal form, and with Unicode's
        // case folding when letters match in either case (`CAFÉ`, `cafe\u{301}`,
        // `\u{212a}ey` for `key`: red team, 2026-11-30).
        let folded: Vec<String> = forms
            .iter()
            .map(|form| fold(form, self.case_insensitive))
            .filter(|folded| !forms.contains(folded))
            .collect();
        forms.extend(folded);
        let mut readings = Vec::new();
        if path_pattern::is_pattern(written) {
            if written.len() > path_pattern::MAX_PATTERN_BYTES {
                out.push(violation(Decision::Block, path_pattern::too_long(written)));
                return;
            }
            match path_pattern::expand(written) {
                Ok(expansions) => {
                    for expansion in expansions.iter().filter(|e| *e != written) {
                        push_forms(written, expansion, paths, &mut forms, out);
                    }
                    // Each reading is read once, for every glob of every list.
                    readings = forms
                        .iter()
                        .filter(|f| path_pattern::is_pattern(f))
                        .map(|f| (f, Pattern::new(f, self.case_insensitive)))
                        .collect();
                }
                Err(reason) => out.push(violation(Decision::Block, reason)),
            }
        }
        let mut budget = path_pattern::MAX_PAIRS;
        for list in &self.lists {
            let literal = forms
                .iter()
                .find_map(|form| list.set.matches(form.as_str()).first().map(|&glob| (form, glob)));
            let hit = literal.or_else(|| {
                readings.iter().find_map(|(form, pattern)| {
                    let glob = list.meets.iter().position(|g| g.meets(pattern, &mut budget))?;
                    Some((*form, glob))
                })
            });
            if let Some((form, glob)) = hit {
                let pattern = list
                    .origin
                    .get(glob)
                    .and_then(|&i| list.patterns.get(i))
                    .map_or("?", String::as_str);
                let shown = if form == written {
                    format!("`{written}`")
                } else {
                    format!("`{written}` (as `{form}`)")
                };
                let verb =
                    if literal.is_some() { "matches" } else { "is a pattern that may match" };
                out.push(violation(list.decision, format!("{shown} {verb} `{pattern}`")));
            }
        }
    }
}

/// The forms `text` (the value `written`, or one of its brace expansions) is matched in:
/// as written without trailing slashes, its normal form (also with a leading `/` when
/// relative) and its resolution, when an adapter gave one, from the working directory and
/// from each directory another argument names; a failed resolution blocks.
fn push_forms(
    written: &str,
    text: &str,
    paths: &PathView,
    forms: &mut Vec<String>,
    out: &mut Vec<Violation>,
) {
    let trimmed = text.trim_end_matches('/');
    forms.push(if trimmed.is_empty() { text.to_owned() } else { trimmed.to_owned() });
    if let Some(normal) = normalise_path(text) {
        if !text.starts_with('/') {
            forms.push(format!("/{normal}"));
        }
        forms.push(normal);
    }
    match paths.lookup(text) {
        Ok(None) => {}
        Ok(Some(resolved)) => forms.push(resolved.to_owned()),
        Err(reason) if text == written => out.push(violation(Decision::Block, reason)),
        Err(reason) => out.push(violation(
            Decision::Block,
            format!("`{written}` may be read as `{text}`, and {reason}"),
        )),
    }
    // A tool may take a relative value under a directory another argument names.
    for (_, reading) in paths.based_readings(text) {
        match reading {
            Ok(resolved) => forms.push(resolved.to_owned()),
            Err(reason) => out.push(violation(Decision::Block, reason)),
        }
    }
}

impl GlobList {
    fn new(
        decision: Decision,
        patterns: &[String],
        case_insensitive: bool,
    ) -> Result<GlobList, String> {
        let mut builder = GlobSetBuilder::new();
        let mut origin = Vec::new();
        let mut meets = Vec::new();
        for (i, pattern) in patterns.iter().enumerate() {
            let mut texts = vec![pattern.clone()];
            // `DIR/*` and `DIR/**` also name `DIR` itself.
            if let Some(dir) = pattern.strip_suffix("/**").or_else(|| pattern.strip_suffix("/*"))
                && !dir.is_empty()
            {
                texts.push(dir.to_owned());
            }
            // Folded as the paths are (`check`).
            let folded: Vec<String> = texts
                .iter()
                .map(|text| fold(text, case_insensitive))
                .filter(|folded| !texts.contains(folded))
                .collect();
            texts.extend(folded);
            for text in &texts {
                let glob = GlobBuilder::new(text)
                    .case_insensitive(case_insensitive)
                    .literal_separator(false)
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| format!("glob `{pattern}`: {e}"))?;
                builder.add(glob);
                meets.push(GlobMeets::new(text, case_insensitive)?);
                origin.push(i);
            }
        }
        let set = builder.build().map_err(|e| format!("globs {patterns:?}: {e}"))?;
        Ok(GlobList { decision, patterns: patterns.to_vec(), set, meets, origin })
    }
}

/// `text` in Unicode's composed normal form (NFC), and with its letters case-folded when
/// `case_insensitive`: lower case, and the letters whose lower case is not their folding
/// (`ſ` is `s`, a final `ς` is `σ`). What a case-insensitive file system (APFS, NTFS)
/// takes for one name is one text here; it errs towards matching more.
fn fold(text: &str, case_insensitive: bool) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let composed = text.nfc();
    if !case_insensitive {
        return composed.collect();
    }
    composed
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '\u{17f}' => 's',
            '\u{3c2}' => '\u{3c3}',
            // NTFS upper-cases a dotless `ı` to `I`, so `.gıt` is `.git` there.
            '\u{131}' => 'i',
            c => c,
        })
        .collect::<String>()
        .nfc()
        .collect()
}

fn violation(decision: Decision, message: String) -> Violation {
    Violation { rule: "path_glob", decision, message }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::resolved::Resolution;

    fn decisions(globs: &PathGlobs, written: &str, paths: &PathView) -> Vec<Decision> {
        let mut out = Vec::new();
        globs.check(written, paths, &mut out);
        out.into_iter().map(|v| v.decision).collect()
    }

    #[test]
    fn dir_star_matches_the_directory_itself_in_any_case() {
        let globs = PathGlobs::new(&["*/.git/*".to_owned()], &[], true).unwrap();
        for path in ["/ws/.git", "/ws/.git/", "/ws/.GIT/config", "/ws/.Git//hooks/x", ".git"] {
            assert_eq!(decisions(&globs, path, &PathView::Unseen), [Decision::Block], "{path}");
        }
        for path in ["/ws/.gitignore", "/ws/git/x", "/ws/a.git2/x"] {
            assert!(decisions(&globs, path, &PathView::Unseen).is_empty(), "{path}");
        }
        let exact = PathGlobs::new(&["*/.git/*".to_owned()], &[], false).unwrap();
        assert!(decisions(&exact, "/ws/.GIT/config", &PathView::Unseen).is_empty());
    }

    #[test]
    fn letters_match_as_a_case_insensitive_file_system_reads_them() {
        // Red team, 2026-11-30: only ASCII letters were folded, and normal forms differed.
        let patterns =
            ["*/café/*", "*/личное/*", "*/Geschäft/*", "*.key", "*/secret/*", "*/.git/*"]
                .map(str::to_owned);
        let globs = PathGlobs::new(&patterns, &[], true).unwrap();
        for path in [
            "/ws/CAFÉ/a",
            "/ws/cafe\u{301}/a",
            "/ws/CAFE\u{301}/a",
            "/ws/ЛИЧНОЕ/a",
            "/ws/GESCHÄFT/a",
            "/ws/x.\u{212a}ey",
            "/ws/\u{17f}ecret/a",
            "/ws/r/.g\u{131}t/config",
        ] {
            assert_eq!(decisions(&globs, path, &PathView::Unseen), [Decision::Block], "{path:?}");
        }
        for path in ["/ws/cafe/a", "/ws/lichnoe/a", "/ws/x.keys", "/ws/secrets/a"] {
            assert!(decisions(&globs, path, &PathView::Unseen).is_empty(), "{path:?}");
        }
        // Case-sensitive: the normal form still does not matter, the case does.
        let exact = PathGlobs::new(&patterns, &[], false).unwrap();
        assert_eq!(decisions(&exact, "/ws/cafe\u{301}/a", &PathView::Unseen), [Decision::Block]);
        assert!(decisions(&exact, "/ws/CAFÉ/a", &PathView::Unseen).is_empty());
    }

    #[test]
    fn the_resolved_form_is_matched_and_a_failed_resolution_blocks() {
        let globs = PathGlobs::new(&[], &["/etc/*".to_owned()], true).unwrap();
        let view = PathView::Seen(BTreeMap::from([
            ("ws/link".to_owned(), Resolution::Path("/etc/passwd".to_owned())),
            ("ws/loop".to_owned(), Resolution::Failed("symlink loop".to_owned())),
        ]));
        assert_eq!(decisions(&globs, "ws/link", &view), [Decision::RequireApproval]);
        assert_eq!(decisions(&globs, "ws/loop", &view), [Decision::Block]);
        assert_eq!(decisions(&globs, "ws/../../etc/shadow", &view), [Decision::Block]);
    }

    #[test]
    fn a_pattern_is_checked_as_the_paths_a_tool_may_match_with_it() {
        let globs = PathGlobs::new(&["*/.git/*".to_owned()], &["*/.env".to_owned()], true).unwrap();
        let blocked = [
            "/ws/.gi[t]/*",
            ".gi[t]/config",
            "/ws/.g*/config",
            "/ws/{.git,src}/config",
            "/ws/.gi{s..u}/HEAD",
            "/ws/**/.git/**",
            "/ws/.[g]it",
            "/ws/@(.git)/config",
        ];
        for pattern in blocked {
            assert_eq!(
                decisions(&globs, pattern, &PathView::Unseen),
                [Decision::Block],
                "{pattern}"
            );
        }
        for pattern in ["/ws/.e?v", "/ws/**/.env*", "/ws/{src,.env}"] {
            let found = decisions(&globs, pattern, &PathView::Unseen);
            assert_eq!(found, [Decision::RequireApproval], "{pattern}");
        }
        for pattern in
            ["/ws/**/*.rs", "**/*", "/ws/src/*.{ts,tsx}", "/ws/app/[id]/page.tsx", "/ws/*/x"]
        {
            assert!(decisions(&globs, pattern, &PathView::Unseen).is_empty(), "{pattern}");
        }
        let mut out = Vec::new();
        globs.check("/ws/.gi[t]/*", &PathView::Unseen, &mut out);
        assert!(out[0].message.contains("is a pattern that may match `*/.git/*`"), "{out:?}");
    }

    #[test]
    fn a_brace_expansion_is_matched_where_it_resolves() {
        let globs = PathGlobs::new(&["*/.git/*".to_owned()], &[], true).unwrap();
        let view = PathView::Seen(BTreeMap::from([
            (
                "/ws/{innocent,src}/config".to_owned(),
                Resolution::Path("/ws/{innocent,src}/config".to_owned()),
            ),
            ("/ws/innocent/config".to_owned(), Resolution::Path("/ws/.git/config".to_owned())),
            ("/ws/src/config".to_owned(), Resolution::Path("/ws/src/config".to_owned())),
        ]));
        assert_eq!(decisions(&globs, "/ws/{innocent,src}/config", &view), [Decision::Block]);
        // An expansion the adapter did not resolve is refused.
        let partial = PathView::Seen(BTreeMap::from([(
            "/ws/{a,b}/x".to_owned(),
            Resolution::Path("/ws/{a,b}/x".to_owned()),
        )]));
        assert_eq!(decisions(&globs, "/ws/{a,b}/x", &partial), [Decision::Block, Decision::Block]);
    }

    #[test]
    fn a_bad_pattern_is_an_error() {
        assert!(PathGlobs::new(&["a[".to_owned()], &[], true).is_err());
    }
}
