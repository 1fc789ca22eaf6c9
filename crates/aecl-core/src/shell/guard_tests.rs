//! Unit tests of the program guard: option reading, abbreviations, write normalisation
//! and the decisions each finding gets. The corpus (`test_data/shell/`) holds the cases.

use super::guard::ProgramGuard;
use super::programs::builtin;
use super::scan::scan;
use super::writes::normalise;
use super::{ShellArg, ShellRules};
use crate::decision::Decision;

fn rules() -> ShellRules {
    ShellRules {
        block: Vec::new(),
        require_approval: Vec::new(),
        allow_programs: Vec::new(),
        unlisted: Decision::Block,
        dynamic: Decision::Block,
        guard: ProgramGuard {
            write_paths: vec!["/w".to_owned()],
            working_dir: Some("/w".to_owned()),
            ..ProgramGuard::default()
        },
    }
}

fn decision(line: &str) -> Decision {
    let mut out = Vec::new();
    rules().check(line, &mut out);
    out.iter().map(|v| v.decision).max().unwrap_or(Decision::Allow)
}

#[test]
fn normalisation_resolves_dots_and_stays_at_the_root() {
    assert_eq!(normalise("/w/a/../b/./c//d"), "/w/b/c/d");
    assert_eq!(normalise("/../../etc"), "/etc");
    assert_eq!(normalise("a/../../b"), "../b");
}

#[test]
fn a_long_option_prefix_stands_for_every_option_it_abbreviates() {
    let curl = builtin("curl").unwrap();
    let words: Vec<ShellArg> =
        ["--data-b", "@f", "--da", "x"].iter().map(|w| ShellArg::known(w)).collect();
    let scanned = scan(curl, &words);
    assert_eq!(scanned.options.first().unwrap().names, ["--data-binary"]);
    let ambiguous = &scanned.options.get(1).unwrap().names;
    assert!(
        ambiguous.contains(&"--data".to_owned()) && ambiguous.contains(&"--data-raw".to_owned())
    );
    // rg takes no abbreviations: `--pr` is not `--pre`.
    assert_eq!(decision("rg --pr x"), Decision::Allow);
    assert_eq!(decision("rg --pre x y"), Decision::Block);
}

#[test]
fn each_finding_gets_its_decision() {
    assert_eq!(decision("docker ps"), Decision::RequireApproval, "unknown");
    assert_eq!(decision("git config alias.x '!sh'"), Decision::Block, "runs code");
    assert_eq!(decision("curl -d @f https://x"), Decision::RequireApproval, "uploads");
    assert_eq!(decision("ls > /etc/x"), Decision::Block, "writes outside");
    assert_eq!(decision("ls > x && cd sub && ls > y"), Decision::Allow, "writes inside");
    let relaxed =
        ShellRules { guard: ProgramGuard { uploads: Decision::Allow, ..rules().guard }, ..rules() };
    let mut out = Vec::new();
    relaxed.check("curl -d @f https://x", &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn tar_reads_old_style_options_one_value_per_letter() {
    assert_eq!(decision("tar cf /w/a.tar src"), Decision::Allow);
    assert_eq!(decision("tar cf /etc/a.tar src"), Decision::Block);
    // An extraction writes run-time paths, even of members the line names (a member may
    // be a link the next one is written through).
    assert_eq!(decision("tar xf a.tar"), Decision::Block);
    assert_eq!(decision("tar xf a.tar --no-recursion f"), Decision::Block);
    assert_eq!(decision("tar tf a.tar"), Decision::Allow);
    assert_eq!(decision("tar xOf a.tar f"), Decision::Allow);
}

#[test]
fn without_write_paths_every_file_write_is_outside() {
    let none = ShellRules { guard: ProgramGuard::default(), ..rules() };
    let mut out = Vec::new();
    none.check("echo x > out.txt; ls 2>/dev/null >&2", &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
}

/// The write words and opaque commands of `line` from `/w`, as `write_words` lists them.
fn line_writes(line: &str) -> (Vec<String>, Vec<(String, bool)>) {
    let found = super::write_words(&ProgramGuard::default(), line, Some("/w")).unwrap();
    let writes = found.writes.iter().map(|w| w.word.raw.clone()).collect();
    let opaque = found.opaque.iter().map(|o| (o.program.clone(), o.tree)).collect();
    (writes, opaque)
}

#[test]
fn a_redirection_to_a_glob_is_listed_as_a_write() {
    for line in [
        "cat /dev/null > ../stat?/H.jsonl",
        "echo x >| ../stat?/H.jsonl",
        "exec 3>../stat?/H.jsonl",
        ": 1<>../stat?/H.jsonl",
        "echo x >> ../s[t]ate/H.jsonl",
    ] {
        let (writes, _) = line_writes(line);
        assert!(writes.iter().any(|w| w.starts_with("../s")), "{line}: {writes:?}");
    }
}

#[test]
fn commands_whose_writes_the_table_cannot_list_are_opaque() {
    for (line, program, tree) in [
        ("ed -s ../stat?/H.jsonl <<< w", "ed", false),
        ("rename jsonl x ../stat?/H.jsonl", "rename", false),
        ("docker run x", "docker", false),
        ("./script.sh ..", "script.sh", false),
        ("python3 x.py ../state", "python3", false),
        ("$CMD ../state", "$CMD", false),
        ("find .. -execdir truncate -s0 {} +", "truncate", false),
        ("git -C .. clean -fdx", "git", true),
        ("git checkout main", "git", true),
        ("tar xf a.tar", "tar", true),
    ] {
        let (_, opaque) = line_writes(line);
        assert!(
            opaque.iter().any(|(p, t)| p.ends_with(program) && *t == tree),
            "{line}: {opaque:?}"
        );
    }
    // Programs the table knows, and wrappers whose command is read by itself.
    for line in ["ls ..", "rm -rf x", "sudo ls ..", "bash -c 'rm -rf x'", "git status", "cp a b"] {
        let (_, opaque) = line_writes(line);
        assert!(opaque.is_empty(), "{line}: {opaque:?}");
    }
}
