//! Unit tests of write targets through symbolic links: the targets the core names for an
//! adapter to resolve, and the check of a target both as written and as resolved. The
//! filesystem is simulated by the resolutions an adapter would report; the real links are
//! in the `test_data/shell_links/` corpus (`aecl-cli/tests/it/shell_links.rs`).

use std::collections::BTreeMap;

use super::guard::ProgramGuard;
use super::{ShellRules, write_targets};
use crate::decision::Decision;
use crate::resolved::{PathView, Resolution};

fn rules() -> ShellRules {
    ShellRules {
        block: Vec::new(),
        require_approval: Vec::new(),
        allow_programs: Vec::new(),
        unlisted: Decision::Block,
        dynamic: Decision::Block,
        guard: ProgramGuard { write_paths: vec!["/w".to_owned()], ..ProgramGuard::default() },
    }
}

/// What an adapter in `cwd` reports when `/w/link -> /etc` and `/w/sub/up -> /w/..`:
/// each target of `line` resolved by a simulated walk.
fn view(line: &str, cwd: &str) -> PathView {
    let mut map = BTreeMap::new();
    map.insert(PathView::WORKING_DIR.to_owned(), Resolution::Path(cwd.to_owned()));
    for target in rules().targets(line, Some(cwd)) {
        // A repository is found where git works unless a test says otherwise.
        let resolved = simulate(target.strip_prefix(PathView::REPOSITORY).unwrap_or(&target));
        map.insert(target, Resolution::Path(resolved));
    }
    PathView::Seen(map)
}

/// A tiny physical walk over the simulated links.
fn simulate(path: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut pending: Vec<String> = path.split('/').rev().map(str::to_owned).collect();
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            name => {
                out.push(name.to_owned());
                let here = format!("/{}", out.join("/"));
                let target = match here.as_str() {
                    "/w/link" => Some("/etc"),
                    "/w/sub/up" => Some("/w/.."),
                    _ => None,
                };
                if let Some(target) = target {
                    out.clear();
                    pending.extend(target.split('/').rev().map(str::to_owned));
                }
            }
        }
    }
    format!("/{}", out.join("/"))
}

fn decide(line: &str, paths: &PathView) -> (Decision, String) {
    let mut out = Vec::new();
    rules().check_with(line, paths, &mut out);
    let decision = out.iter().map(|v| v.decision).max().unwrap_or(Decision::Allow);
    let messages: Vec<String> = out.into_iter().map(|v| v.message).collect();
    (decision, messages.join("; "))
}

#[test]
fn targets_are_spelled_from_the_working_directory_without_normalising() {
    let targets = rules().targets("cd link && echo x > ../f; cp a b/c", Some("/w"));
    for expected in ["/w", "/w/../f", "/w/link/../f", "/w/b/c"] {
        assert!(targets.contains(&expected.to_owned()), "{expected} in {targets:?}");
    }
    // The write paths are named too: a root may itself be a link.
    assert!(targets.contains(&"/w".to_owned()));
}

#[test]
fn a_write_through_a_link_is_checked_where_it_lands() {
    for line in [
        "echo x > link/passwd",
        "echo x >> link/passwd",
        "echo x &> link/passwd",
        "cat <> link/passwd",
        "tee link/passwd < a",
        "cp a link/passwd",
        "dd if=a of=link/passwd",
        "mv a link/passwd",
        "touch link/passwd",
        "truncate -s 0 link/passwd",
        "sed -i s/a/b/ link/passwd",
        "install a link/passwd",
        "cd link && echo x > passwd",
        "cd sub/up && echo x > f",
        ": >(cat > link/f)",
    ] {
        let (decision, message) = decide(line, &view(line, "/w"));
        assert_eq!(decision, Decision::Block, "{line}: {message}");
        assert!(message.contains("symbolic link"), "{line}: {message}");
        // As written it is inside: the lexical check alone allows it.
        assert_eq!(decide(line, &PathView::Unseen).0, Decision::Allow, "{line}");
    }
}

#[test]
fn a_write_inside_stays_allowed_when_resolved() {
    for line in ["echo x > notes", "cp a sub/b", "cd sub && touch f", "echo x > link/../w/f"] {
        let (decision, message) = decide(line, &view(line, "/w"));
        assert_eq!(decision, Decision::Allow, "{line}: {message}");
    }
}

#[test]
fn the_adapters_working_directory_replaces_the_guards() {
    // From `/w/sub`, `../../etc/x` is `/etc/x`; from the guard's `/w` it would be too,
    // but `../f` is inside only from `/w/sub`.
    let line = "echo x > ../f";
    assert_eq!(decide(line, &view(line, "/w/sub")).0, Decision::Allow);
    assert_eq!(decide(line, &view(line, "/w")).0, Decision::Block);
    assert_eq!(decide(line, &view(line, "/tmp")).0, Decision::Block);
}

#[test]
fn a_seen_filesystem_without_a_resolution_refuses_the_write() {
    let line = "echo x > notes";
    let mut map = BTreeMap::new();
    map.insert(PathView::WORKING_DIR.to_owned(), Resolution::Path("/w".to_owned()));
    let (decision, message) = decide(line, &PathView::Seen(map.clone()));
    assert_eq!(decision, Decision::Block, "{message}");
    assert!(message.contains("not resolved"), "{message}");
    map.insert("/w/notes".to_owned(), Resolution::Failed("symlink loop".to_owned()));
    let (decision, message) = decide(line, &PathView::Seen(map));
    assert_eq!(decision, Decision::Block, "{message}");
    assert!(message.contains("symlink loop"), "{message}");
}

#[test]
fn a_forged_resolution_cannot_loosen_the_lexical_check() {
    let line = "echo x > /etc/passwd";
    let mut map = BTreeMap::new();
    map.insert("/etc/passwd".to_owned(), Resolution::Path("/w/passwd".to_owned()));
    assert_eq!(decide(line, &PathView::Seen(map)).0, Decision::Block);
}

#[test]
fn a_link_into_protected_configuration_is_running_code() {
    let line = "echo x > link/config";
    let mut map = BTreeMap::new();
    map.insert("/w/link/config".to_owned(), Resolution::Path("/w/.git/config".to_owned()));
    map.insert("/w".to_owned(), Resolution::Path("/w".to_owned()));
    let (decision, message) = decide(line, &PathView::Seen(map));
    assert_eq!(decision, Decision::Block, "{message}");
    assert!(message.contains("run code"), "{message}");
}

#[test]
fn a_root_that_is_a_link_counts_by_its_resolution() {
    let line = "echo x > f";
    let mut map = BTreeMap::new();
    map.insert("/w".to_owned(), Resolution::Path("/data/w".to_owned()));
    map.insert("/w/f".to_owned(), Resolution::Path("/data/w/f".to_owned()));
    assert_eq!(decide(line, &PathView::Seen(map)).0, Decision::Allow);
}

#[test]
fn many_cds_stay_bounded_and_become_unknown() {
    let line: Vec<String> = (0..40).map(|i| format!("cd d{i}")).collect();
    let line = format!("{} && echo x > f", line.join(" || "));
    let targets = write_targets(&rules().guard, &line, Some("/w"));
    assert!(targets.len() <= 80, "{}", targets.len());
    let (decision, message) = decide(&line, &PathView::Unseen);
    assert_eq!(decision, Decision::Block, "{message}");
    assert!(message.contains("only known at run time"), "{message}");
}

#[test]
fn an_unknown_directory_is_never_resolved_into_a_pass() {
    let line = "cd \"$X\" && echo x > f";
    assert_eq!(decide(line, &view(line, "/w")).0, Decision::Block);
    let line = "git -C \"$D\" format-patch -o out HEAD~1";
    assert_eq!(decide(line, &view(line, "/w")).0, Decision::Block);
}

#[test]
fn a_relative_symlink_target_is_read_from_the_links_directory() {
    let words = |line: &str| -> Vec<String> {
        let found = super::write_words(&ProgramGuard::default(), line, Some("/w")).unwrap();
        found.writes.into_iter().map(|w| w.word.text).collect()
    };
    // From `src`, where the link is (or from `src/x`, should that be a directory).
    let written = words("ln -s ../../state src/x");
    for expected in ["src/../../state", "src/x/../../state", "src/x"] {
        assert!(written.contains(&expected.to_owned()), "{expected} in {written:?}");
    }
    assert!(words("ln -sf -t sub ../t").contains(&"sub/../t".to_owned()));
    assert!(words("ln --sym ../t sub/l").contains(&"sub/../t".to_owned()));
    // A hard link's target is a path from the working directory, like an absolute one.
    assert!(!words("ln ../t sub/l").contains(&"sub/../t".to_owned()));
    assert!(!words("ln -s /etc sub/l").iter().any(|w| w.starts_with("sub/") && w != "sub/l"));
    // From `/w/a/b`, `../x` is inside the write paths; from `/w`, where the link is made,
    // it is `/x`, outside.
    let mut deep = rules();
    deep.guard.working_dir = Some("/w/a/b".to_owned());
    let mut out = Vec::new();
    deep.check("ln -s ../x ../../l", &mut out);
    assert!(
        out.iter().any(|v| v.decision == Decision::Block && v.message.contains("`/x`")),
        "{out:?}"
    );
}

#[test]
fn git_writes_the_repository_the_adapter_finds_above_the_directory_it_works_in() {
    let line = "git -C app checkout main; cd app && git commit -qm x";
    // Its own repository, inside: allowed, and the adapter is asked for it.
    let paths = view(line, "/w");
    assert_eq!(decide(line, &paths), (Decision::Allow, String::new()));
    let PathView::Seen(map) = paths else { unreachable!("view() sees") };
    let keys: Vec<&String> = map.keys().filter(|k| k.starts_with(PathView::REPOSITORY)).collect();
    assert!(!keys.is_empty(), "no repository asked for: {map:?}");
    // The repository git finds is above the write path: both commands write outside.
    let mut above = map.clone();
    for key in &keys {
        above.insert((*key).clone(), Resolution::Path("/".to_owned()));
    }
    let (decision, why) = decide(line, &PathView::Seen(above));
    assert_eq!(decision, Decision::Block);
    assert!(why.contains("whose repository git finds at `/`"), "{why}");
    assert!(why.contains("works in `/w/app`") && why.contains("commit`"), "{why}");
    // Seen, but the repository not looked for, or not found: refused, not assumed inside.
    let mut missing = map.clone();
    missing.retain(|k, _| !k.starts_with(PathView::REPOSITORY));
    let (decision, why) = decide(line, &PathView::Seen(missing));
    assert_eq!(decision, Decision::Block);
    assert!(why.contains("was not looked for"), "{why}");
    let mut failed = map.clone();
    for key in &keys {
        failed.insert((*key).clone(), Resolution::Failed("permission denied".to_owned()));
    }
    let (decision, why) = decide(line, &PathView::Seen(failed));
    assert_eq!(decision, Decision::Block);
    assert!(why.contains("could not be found: permission denied"), "{why}");
    // No message carries the key's NUL byte.
    assert!(!why.contains('\0'), "{why:?}");
    // A command that only reads asks for no repository.
    let reads = view("git -C app log && git status", "/w");
    let PathView::Seen(map) = reads else { unreachable!("view() sees") };
    assert!(!map.keys().any(|k| k.starts_with(PathView::REPOSITORY)), "{map:?}");
}
