//! Tool patterns against policy globs: the cases agents were seen to use, and a property
//! that holds the automata to globset's own matching on concrete paths.

use globset::GlobBuilder;
use proptest::prelude::*;

use super::*;

fn budget() -> usize {
    MAX_PAIRS
}

fn meets(glob: &str, pattern: &str) -> bool {
    GlobMeets::new(glob, true).unwrap().may_match(pattern, &mut budget())
}

#[test]
fn patterns_that_reach_a_denied_name_meet_its_glob() {
    for (glob, pattern) in [
        ("*/.git/*", "/ws/.gi[t]/*"),
        ("*/.git/*", "/ws/.g*/config"),
        ("*/.git/*", "/ws/.gi?/HEAD"),
        ("*/.git/*", "/ws/sub/.git/*"),
        ("*/.git/*", "/ws/**/.git/hooks/*"),
        ("*/.git/*", "/ws/[.]git/config"),
        ("*/.git", "/ws/.[g]it"),
        // Case-insensitive: `[!t]` matches `T`, and `.giT` is `.git` to such a glob.
        ("*/.git/*", "/ws/.gi[!t]/config"),
        ("*/.git/*", "/ws/.GI[T]/config"),
        ("*/.git/*", "/ws/.gi[!x]/config"),
        ("*/.git/*", "/ws/.gi[[:alpha:]]/config"),
        ("*/.git/*", "/ws/@(.git)/config"),
        ("*/.env", "/ws/**/.env*"),
        ("*/.env", "/ws/.e?v"),
        ("*/.env", "/ws/.*"),
        ("*/.ssh/*", "/home/*/.ssh/id_*"),
        ("/etc/*", "/e[t]c/pass*"),
        ("/etc/*", "/*/shadow"),
        ("*.pem", "/ws/**/*.p?m"),
        ("*/{secrets,keys}/*", "/ws/ke[y]s/a"),
        ("*/.git/*", "/ws/x/\\.git/config"),
        ("*/.git/*", "/ws/.gi\\t/config"),
        ("**/.git/**", "/.git/config"),
        ("/ws/**/secret", "/ws/secr[e]t"),
    ] {
        assert!(meets(glob, pattern), "`{pattern}` should meet `{glob}`");
    }
}

#[test]
fn patterns_that_cannot_reach_a_denied_name_do_not_meet_its_glob() {
    for (glob, pattern) in [
        // Wildcards do not match a hidden name's leading dot, and `**` does not descend.
        ("*/.git/*", "/ws/**/*.rs"),
        ("*/.git/*", "/ws/**/*"),
        ("*/.git/*", "**/*"),
        ("*/.git/*", "/ws/*/config"),
        ("*/.git/*", "/ws/?git/config"),
        ("*/.env", "/ws/**/*.env"),
        ("*/.env", "/ws/src/*"),
        ("*/.git/*", "/ws/.gi[!tT]/config"),
        ("*/.git/*", "/ws/.github/*"),
        ("*/.ssh/*", "/ws/**/ssh*"),
        ("/etc/*", "/ws/e[t]c/*"),
        ("*.pem", "/ws/**/*.rs"),
        ("*/{secrets,keys}/*", "/ws/ke[!yY]s/a"),
    ] {
        assert!(!meets(glob, pattern), "`{pattern}` should not meet `{glob}`");
    }
}

#[test]
fn case_is_folded_only_when_the_glob_says() {
    assert!(meets("*/.git/*", "/ws/.G[I]T/x"));
    assert!(!GlobMeets::new("*/.git/*", false).unwrap().may_match("/ws/.G[I]T/x", &mut budget()));
    assert!(GlobMeets::new("*/.git/*", false).unwrap().may_match("/ws/.g[i]t/x", &mut budget()));
}

#[test]
fn a_glob_that_does_not_parse_is_an_error() {
    for glob in ["a[", "{a,b", "a\\", "}{"] {
        assert!(GlobMeets::new(glob, true).is_err(), "{glob}");
    }
}

#[test]
fn long_patterns_are_decided() {
    let pattern = format!("/{}", "*a".repeat(2000));
    assert!(!meets("*/x/*", &pattern), "one name cannot hold `/x/`");
    assert!(meets("*aa*", &pattern));
    let mut spent = 10;
    assert!(
        GlobMeets::new("*/x/*", true).unwrap().may_match(&pattern, &mut spent),
        "out of budget"
    );
    assert_eq!(spent, 0);
}

#[test]
fn is_pattern_tells_patterns_from_paths() {
    for text in ["/ws/*.rs", "a?", "[ab]", "{a,b}", "x/{1..3}", "@(.git)", "+(x)", "!(y)", "\\x"] {
        assert!(is_pattern(text), "{text}");
    }
    for text in ["/ws/src/main.rs", "{a}", "a{", "/ws/.git", "(x)", "a!b"] {
        assert!(!is_pattern(text), "{text}");
    }
}

/// A name of a concrete path: never hidden, so the tools' dot rule never applies to it.
fn name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ab][ab.]{0,3}").unwrap()
}

fn path() -> impl Strategy<Value = String> {
    proptest::collection::vec(name(), 1..5).prop_map(|names| format!("/{}", names.join("/")))
}

/// A pattern name: literal characters, `?`, `*` and classes over the same alphabet.
fn pattern_name() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just(".".to_owned()),
        Just("?".to_owned()),
        Just("*".to_owned()),
        Just("[ab]".to_owned()),
        Just("[!a]".to_owned()),
    ];
    proptest::collection::vec(piece, 1..4).prop_map(|pieces| pieces.concat())
}

fn tool_pattern() -> impl Strategy<Value = String> {
    let segment = prop_oneof![4 => pattern_name(), 1 => Just("**".to_owned())];
    proptest::collection::vec(segment, 1..5).prop_map(|segments| format!("/{}", segments.join("/")))
}

fn policy_glob() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just(".".to_owned()),
        Just("/".to_owned()),
        Just("?".to_owned()),
        Just("*".to_owned()),
        Just("[ab]".to_owned()),
        Just("{a,b.}".to_owned()),
    ];
    proptest::collection::vec(piece, 1..7).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Whenever a concrete path matches both the tool's pattern (globset with `*` kept
    /// within a name, as the tools read it) and the policy glob, the two meet: the check
    /// never misses a path a tool would list.
    #[test]
    fn a_path_both_match_makes_them_meet(
        pattern in tool_pattern(),
        glob in policy_glob(),
        paths in proptest::collection::vec(path(), 1..24),
    ) {
        // globset's negated class may match `/`, no tool's does.
        let reference = pattern.replace("[!a]", "[!a/]");
        let Ok(tool) = GlobBuilder::new(&reference).literal_separator(true).build() else {
            return Ok(());
        };
        let tool = tool.compile_matcher();
        let policy = GlobBuilder::new(&glob).literal_separator(false).build().unwrap();
        let policy = policy.compile_matcher();
        let meets = GlobMeets::new(&glob, false).unwrap().may_match(&pattern, &mut budget());
        for path in &paths {
            if tool.is_match(path) && policy.is_match(path) {
                prop_assert!(meets, "`{path}` matches `{pattern}` and `{glob}`");
            }
        }
    }

    /// A pattern without wildcards is the one path it names: it meets a glob exactly when
    /// the glob matches that path.
    #[test]
    fn a_literal_pattern_meets_a_glob_when_the_glob_matches_it(
        path in path(),
        glob in policy_glob(),
    ) {
        let policy = GlobBuilder::new(&glob).literal_separator(false).build().unwrap();
        let expected = policy.compile_matcher().is_match(&path);
        prop_assert_eq!(GlobMeets::new(&glob, false).unwrap().may_match(&path, &mut budget()), expected);
    }
}
