//! The local hook's policy cache (`hook/policy_cache.rs`): a record in
//! `STATE_DIR/policy-cache/` holds the compiled form of policy files that passed a full
//! load, so the next hook call loads them from it (no Cedar text parsed, nothing
//! validated). Every recorded PreToolUse of `test_data/hooks/claude-code/` is decided the
//! same from the cache as from a full load, with and without Cedar rules; a changed policy
//! file or a replaced `aecl` misses the cache; a corrupt, tampered (an altered rule, another
//! revision or file digest), linked or public record is ignored (a full load, the same
//! decision) and written anew. Whether a call used the record is seen from the record
//! itself: a hit leaves it alone, a full load replaces it (temporary file and rename: a new
//! inode).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Outcome, copy_dir, output_with_stdin, repo, run_with_stdin, temp_dir, write};

/// A Cedar rule the claude_code policy does not have: `git push` needs a person.
const RULES: &str = r#"@id("no-push")
@decision("require_approval")
@reason("pushing needs a person")
permit (principal, action == Action::"Bash", resource)
when { context.args has command && context.args.command like "git push*" };
"#;

/// The claude_code policy copied into `dir`, with `RULES` when `cedar`.
fn policy_copy(dir: &Path, cedar: bool) -> PathBuf {
    let policy = dir.join("policy");
    copy_dir(&repo("crates/aecl-cli/tests/claude_code/policy"), &policy);
    if cedar {
        write(&policy, "rules.cedar", RULES);
    }
    policy
}

/// Every recorded PreToolUse: its file name and text.
fn recorded_calls() -> Vec<(String, Value)> {
    let dir = repo("test_data/hooks/claude-code");
    let mut calls: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("the recorded inputs")
        .map(|e| e.expect("an entry").path())
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let value: Value = serde_json::from_str(&text).ok()?;
            let name = path.file_name()?.to_string_lossy().into_owned();
            (value["hook_event_name"] == "PreToolUse").then_some((name, value))
        })
        .collect();
    calls.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(calls.len() >= 8, "{} recorded calls", calls.len());
    calls
}

/// Runs the hook on `input` in a session of its own.
fn hook(policy: &Path, state: &Path, input: &Value, session: &str) -> Outcome {
    let mut input = input.clone();
    input["session_id"] = Value::from(session);
    let (policy, state) = (policy.display().to_string(), state.display().to_string());
    let args =
        ["hook", "claude-code", "--policy", &policy, "--agent", "coder", "--state-dir", &state];
    run_with_stdin(args, &input.to_string())
}

/// What the agent sees: the exit code, the decision and its reason.
fn answer(out: &Outcome) -> (Option<i32>, String, String) {
    let value: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON answer ({e}): {out:#?}"));
    let output = &value["hookSpecificOutput"];
    let text = |name: &str| output[name].as_str().unwrap_or_default().to_owned();
    (out.code, text("permissionDecision"), text("permissionDecisionReason"))
}

/// The cache's records: path and inode.
fn records(state: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(state.join("policy-cache")) else { return Vec::new() };
    let mut found: Vec<(PathBuf, u64)> = entries
        .map(|e| e.expect("an entry").path())
        .map(|p| {
            let ino = std::fs::symlink_metadata(&p).expect("metadata").ino();
            (p, ino)
        })
        .collect();
    found.sort();
    found
}

fn one_record(state: &Path) -> (PathBuf, u64) {
    let found = records(state);
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().expect("one record")
}

#[test]
fn a_cache_hit_decides_every_recorded_call_like_a_full_load() {
    for cedar in [false, true] {
        let temp = temp_dir();
        let policy = policy_copy(temp.path(), cedar);
        let state = temp.path().join("state");
        let mut seen = Vec::new();
        for (name, input) in recorded_calls() {
            // Without a record: a full load.
            std::fs::remove_dir_all(state.join("policy-cache")).ok();
            let full = hook(&policy, &state, &input, &format!("full-{name}"));
            let (path, ino) = one_record(&state);
            let mode = std::fs::metadata(&path).expect("the record").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
            // With it: the record is used, not rewritten.
            let hit = hook(&policy, &state, &input, &format!("hit-{name}"));
            assert_eq!(one_record(&state), (path, ino), "{name}: the record was not used");
            assert_eq!(answer(&hit), answer(&full), "{name} (cedar: {cedar})");
            seen.push(answer(&hit).1);
        }
        // The corpus exercises every answer.
        for decision in ["allow", "ask", "deny"] {
            assert!(seen.iter().any(|d| d == decision), "no {decision}: {seen:?}");
        }
        if cedar {
            let push = recorded_calls().into_iter().find(|(n, _)| n == "bash-git-push.json");
            let (_, push) = push.expect("bash-git-push.json");
            let out = hook(&policy, &state, &push, "push-again");
            assert!(answer(&out).2.contains("cedar:no-push"), "{out:#?}");
        }
    }
}

#[test]
fn a_changed_policy_file_misses_the_cache() {
    let temp = temp_dir();
    let policy = policy_copy(temp.path(), false);
    let state = temp.path().join("state");
    let calls = recorded_calls();
    let (_, push) = calls.iter().find(|(n, _)| n == "bash-git-push.json").expect("git push");
    let before = hook(&policy, &state, push, "one");
    assert!(!answer(&before).2.contains("cedar:no-push"), "{before:#?}");
    let first = one_record(&state);
    // A new file: another key, a full load, the new rule applies.
    write(&policy, "rules.cedar", RULES);
    let after = hook(&policy, &state, push, "two");
    assert_eq!(answer(&after).1, "ask", "{after:#?}");
    assert!(answer(&after).2.contains("cedar:no-push"), "{after:#?}");
    assert_eq!(records(&state).len(), 2);
    assert!(records(&state).contains(&first));
    // One byte of a file changed: a miss again. A rule that no longer validates is refused
    // (a deny), never taken from the earlier record.
    write(
        &policy,
        "rules.cedar",
        &RULES.replace("context.args has command", "context.args has comand"),
    );
    let broken = hook(&policy, &state, push, "three");
    assert_eq!(answer(&broken).1, "deny", "{broken:#?}");
    assert!(answer(&broken).2.contains("could not decide"), "{broken:#?}");
    assert_eq!(records(&state).len(), 2, "a policy that fails to load is not recorded");
}

/// A way of spoiling the record at a path.
type Tamper<'a> = Box<dyn Fn(&Path) + 'a>;

#[test]
fn a_corrupt_tampered_linked_or_public_record_is_ignored_and_written_anew() {
    let temp = temp_dir();
    let policy = policy_copy(temp.path(), true);
    let state = temp.path().join("state");
    let calls = recorded_calls();
    let (_, push) = calls.iter().find(|(n, _)| n == "bash-git-push.json").expect("git push");
    let expected = answer(&hook(&policy, &state, push, "first"));
    let (path, _) = one_record(&state);
    let sound = std::fs::read_to_string(&path).expect("the record");
    let elsewhere = temp.path().join("elsewhere");
    std::fs::write(&elsewhere, &sound).expect("a copy");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("mode");
    let revision = sound.lines().nth(2).expect("a revision line").to_owned();
    let tampered: Vec<(&str, Tamper)> = vec![
        ("empty", Box::new(|p| std::fs::write(p, "").expect("write"))),
        ("garbage", Box::new(|p| std::fs::write(p, [0xff, 0, 1, 2]).expect("write"))),
        ("cut short", Box::new(|p| std::fs::write(p, &sound[..sound.len() - 3]).expect("w"))),
        (
            "another revision",
            Box::new(|p| std::fs::write(p, sound.replace(&revision, &"0".repeat(64))).expect("w")),
        ),
        (
            // The rule's text changed so that `git push` no longer matches: the revision
            // computed from it is not the record's.
            "an altered rule",
            Box::new(|p| {
                let altered = sound.replace("git push", "git pull");
                assert_ne!(altered, sound, "the rule's pattern is in the record");
                std::fs::write(p, altered).expect("w")
            }),
        ),
        (
            "another file digest",
            Box::new(|p| {
                let mut lines: Vec<&str> = sound.lines().collect();
                let mut compiled: Value = serde_json::from_str(lines[3]).expect("json");
                compiled["sources"] = Value::String("0".repeat(64));
                let json = compiled.to_string();
                lines[3] = &json;
                std::fs::write(p, format!("{}\n", lines.join("\n"))).expect("w")
            }),
        ),
        (
            "readable by others",
            Box::new(|p| {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).expect("mode")
            }),
        ),
        (
            "a link to a sound record",
            Box::new(|p| {
                std::fs::remove_file(p).expect("remove");
                std::os::unix::fs::symlink(&elsewhere, p).expect("link");
            }),
        ),
        (
            "a directory",
            Box::new(|p| {
                std::fs::remove_file(p).expect("remove");
                std::fs::create_dir(p).expect("dir");
            }),
        ),
    ];
    for (i, (what, tamper)) in tampered.iter().enumerate() {
        tamper(&path);
        let out = hook(&policy, &state, push, &format!("tampered-{i}"));
        assert_eq!(answer(&out), expected, "{what}: {out:#?}");
        if path.is_dir() {
            // A directory in its place cannot be renamed over: still no trust, no record.
            std::fs::remove_dir(&path).expect("remove the directory");
            hook(&policy, &state, push, &format!("rewritten-{i}"));
        }
        let meta = std::fs::symlink_metadata(&path).expect("the record again");
        assert!(meta.is_file(), "{what}");
        assert_eq!(meta.mode() & 0o777, 0o600, "{what}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), sound, "{what}");
    }
}

/// A record names the executable that wrote it: an `aecl` replaced by another file (an
/// upgrade renamed into place) or rewritten in place misses the cache, loads the policy in
/// full and writes its own record, since a new binary may check more than the one that
/// wrote the old record. The same binary run again hits it.
#[test]
fn a_replaced_or_rewritten_aecl_binary_misses_the_cache() {
    let temp = temp_dir();
    let policy = policy_copy(temp.path(), true);
    let state = temp.path().join("state");
    let calls = recorded_calls();
    let (_, push) = calls.iter().find(|(n, _)| n == "bash-git-push.json").expect("git push");
    let bin = temp.path().join("bin");
    std::fs::create_dir(&bin).expect("a bin directory");
    let binary = bin.join("aecl");
    std::fs::copy(env!("CARGO_BIN_EXE_aecl"), &binary).expect("a copy of aecl");
    let run = |session: &str| {
        let mut input = push.clone();
        input["session_id"] = Value::from(session);
        let mut command = std::process::Command::new(&binary);
        command
            .args(["hook", "claude-code", "--agent", "coder", "--policy"])
            .arg(&policy)
            .arg("--state-dir")
            .arg(&state);
        let out = output_with_stdin(command, input.to_string());
        answer(&out)
    };

    let expected = run("first");
    assert_eq!(expected.1, "ask", "{expected:?}");
    let first = one_record(&state);
    assert_eq!(run("again"), expected);
    assert_eq!(one_record(&state), first, "the same binary hits its record");

    // An upgrade: a new file renamed over the old one.
    let staged = bin.join("aecl.new");
    std::fs::copy(env!("CARGO_BIN_EXE_aecl"), &staged).expect("the new binary");
    std::fs::rename(&staged, &binary).expect("renamed into place");
    assert_eq!(run("renamed"), expected);
    let after_rename = records(&state);
    assert_eq!(after_rename.len(), 2, "{after_rename:?}");
    assert!(after_rename.contains(&first));

    // The same file rewritten in place (same inode, new modification time).
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(env!("CARGO_BIN_EXE_aecl"), &binary).expect("rewritten in place");
    assert_eq!(run("rewritten"), expected);
    assert_eq!(records(&state).len(), 3, "{:?}", records(&state));
}
