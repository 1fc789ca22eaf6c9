//! The local hook's saved session state (`hook/saved.rs`): a call that replays more than a
//! few events writes what the replay made of them beside the session's file (`HASH.state`),
//! and the next call goes on from it, replaying only the events appended since.
//!
//! Driven through the real binary with recorded Claude Code inputs: a long session is
//! decided call by call alike with its saved states and with every call replaying the
//! whole file (the state removed before each), the untrusted page's URL held in both; a
//! state is used when it is sound (seen from its inode: a call that ignored it would have
//! replayed the whole file and written it anew), and ignored when the file changed under
//! it (a line altered in the middle: the call then fails closed on the file, as it did
//! before states were kept), when the file was replaced, when another session's state is
//! put in its place, or when the policy changed; and a session whose calls carry no
//! recorded verdict (decided anew at every replay) is never saved.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Outcome, aecl, copy_dir, output_with_stdin, repo, temp_dir};

/// A recorded input in `session`, under the call id `id` when given.
fn input(name: &str, session: &str, id: Option<&str>) -> String {
    let path = repo(&format!("test_data/hooks/claude-code/{name}"));
    let text = std::fs::read_to_string(&path).expect("reading a recorded hook input");
    let mut value: Value = serde_json::from_str(&text).expect("a recorded input is JSON");
    value["session_id"] = Value::from(session);
    if let Some(id) = id {
        value["tool_use_id"] = Value::from(id);
    }
    value.to_string()
}

fn hook(policy: &Path, state: &Path, stdin: &str) -> Outcome {
    let (policy, state) = (policy.display().to_string(), state.display().to_string());
    let mut command = aecl();
    command.args(["hook", "claude-code", "--policy", &policy, "--agent", "coder"]);
    command.args(["--state-dir", &state]);
    output_with_stdin(command, stdin)
}

fn policy() -> PathBuf {
    repo("crates/aecl-cli/tests/claude_code/policy")
}

/// A long session of `session`: listings and their outputs, the fetched page whose text
/// carries the attacker's URL, the user's prompt, more listings; then the `curl` of that
/// URL, last.
fn session(session: &str) -> Vec<String> {
    let mut events = Vec::new();
    let listing = |events: &mut Vec<String>, n: usize| {
        let id = format!("toolu_ls_{n}");
        events.push(input("bash-ls.json", session, Some(&id)));
        events.push(input("post-bash-ls.json", session, Some(&id)));
    };
    for n in 0..6 {
        listing(&mut events, n);
    }
    events.push(input("pre-webfetch.json", session, None));
    events.push(input("post-webfetch.json", session, None));
    events.push(input("user-prompt.json", session, None));
    for n in 6..12 {
        listing(&mut events, n);
    }
    events.push(input("bash-curl.json", session, None));
    events
}

/// The files of `state` whose names end in `.{extension}`.
fn files(state: &Path, extension: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(state) else { return Vec::new() };
    entries
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect()
}

fn the_state(state: &Path) -> PathBuf {
    let mut found = files(state, "state");
    assert_eq!(found.len(), 1, "one saved state: {found:?}");
    found.remove(0)
}

fn inode(path: &Path) -> u64 {
    std::fs::metadata(path).expect("the saved state").ino()
}

/// The saved state `state` names the SHA-256 of the session file `file` up to its end.
fn assert_fits(state: &Path, file: &Path) {
    use sha2::{Digest, Sha256};
    let text = std::fs::read_to_string(state).expect("the saved state");
    let header: Value = serde_json::from_str(text.lines().nth(1).expect("a header line"))
        .expect("the header is JSON");
    let end = header["end"]["offset"].as_u64().expect("the end offset");
    let bytes = std::fs::read(file).expect("the session file");
    let prefix = bytes.get(..usize::try_from(end).unwrap()).expect("the end lies in the file");
    let digest: String = Sha256::digest(prefix).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(header["digest"].as_str(), Some(digest.as_str()), "{}", state.display());
}

/// What the agent is told: the exit code and stdout.
fn answer(out: &Outcome) -> (Option<i32>, String) {
    (out.code, out.stdout.clone())
}

#[test]
fn a_long_session_is_decided_alike_from_its_saved_states_and_from_its_whole_file() {
    let dir = temp_dir();
    let (kept, whole) = (dir.path().join("kept"), dir.path().join("whole"));
    let events = session("long");
    let mut answers = Vec::new();
    for (n, event) in events.iter().enumerate() {
        let with_state = hook(&policy(), &kept, event);
        for stale in files(&whole, "state") {
            std::fs::remove_file(stale).expect("removing a state");
        }
        let replayed = hook(&policy(), &whole, event);
        assert_eq!(answer(&with_state), answer(&replayed), "event {n}: {with_state:#?}");
        answers.push(with_state);
        // Whether made by a whole replay or carried on from an earlier state (the digest of
        // the part already checked, then the rest), a state names the digest of its file.
        if let Some(saved) = files(&kept, "state").first() {
            assert_fits(saved, &files(&kept, "jsonl")[0]);
        }
    }
    // The session's files are alike, and the page's URL still needs a person at the end.
    let text = |state: &Path| std::fs::read_to_string(&files(state, "jsonl")[0]).unwrap();
    assert_eq!(text(&kept), text(&whole));
    let curl = answers.last().expect("the curl");
    assert!(curl.stdout.contains("\"ask\"") && curl.stdout.contains("untrusted"), "{curl:#?}");
    let private = std::fs::metadata(the_state(&kept)).unwrap().mode() & 0o777;
    assert_eq!(private, 0o600);
}

#[test]
fn a_sound_saved_state_is_used_and_one_that_does_not_fit_the_file_is_not() {
    let dir = temp_dir();
    let state = dir.path().join("hooks");
    let events = session("used");
    let (curl, rest) = events.split_last().expect("a session");
    for event in rest {
        assert_eq!(hook(&policy(), &state, event).code, Some(0));
    }
    let file = files(&state, "jsonl").remove(0);
    // Made again by a whole replay, then used by the next call: that one replays only the
    // two events after it, so it leaves the state as it is (a whole replay of the file
    // would have written it anew: another inode).
    std::fs::remove_file(the_state(&state)).unwrap();
    let ls = input("bash-ls.json", "used", Some("toolu_ls_a"));
    assert_eq!(hook(&policy(), &state, &ls).code, Some(0));
    let saved = inode(&the_state(&state));
    let out = hook(&policy(), &state, curl);
    assert!(out.stdout.contains("\"ask\""), "{out:#?}");
    assert_eq!(inode(&the_state(&state)), saved, "the saved state was not used");

    // A line in the middle of the file altered, its length kept: the state no longer fits
    // the file, which is replayed whole and denies as corrupt, naming the file.
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text.replacen("\"type\":\"call\"", "\"type\":\"cal!\"", 1);
    assert_eq!(broken.len(), text.len());
    std::fs::write(&file, &broken).unwrap();
    let out = hook(&policy(), &state, curl);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains(&file.display().to_string()), "{out:#?}");
    std::fs::write(&file, &text).unwrap();

    // The file moved away (a session started over knowingly): the new file is replayed
    // from itself, and its first call stands on its own.
    let stale = std::fs::read(the_state(&state)).unwrap();
    std::fs::rename(&file, dir.path().join("old.jsonl")).unwrap();
    let out = hook(&policy(), &state, curl);
    assert!(out.stdout.contains("\"allow\""), "{out:#?}");

    // Another session's state put in the place of this one's: not this file's, ignored.
    let other = dir.path().join("other");
    for event in session("other").iter().take(20) {
        assert_eq!(hook(&policy(), &other, event).code, Some(0));
    }
    let mut mine = files(&other, "jsonl").remove(0);
    std::fs::write(the_state(&other), &stale).unwrap();
    let out = hook(&policy(), &other, &input("bash-curl.json", "other", None));
    assert!(out.stdout.contains("\"ask\""), "{out:#?}");
    mine.set_extension("state");
    assert!(std::fs::read(&mine).unwrap() != stale, "the foreign state was written over");
}

#[test]
fn a_changed_policy_does_not_use_a_state_saved_under_the_old_one() {
    let dir = temp_dir();
    let (policy, state) = (dir.path().join("policy"), dir.path().join("hooks"));
    copy_dir(&self::policy(), &policy);
    let events = session("changed");
    let (curl, rest) = events.split_last().expect("a session");
    for event in rest {
        assert_eq!(hook(&policy, &state, event).code, Some(0));
    }
    std::fs::remove_file(the_state(&state)).unwrap();
    let ls = input("bash-ls.json", "changed", Some("toolu_ls_a"));
    assert_eq!(hook(&policy, &state, &ls).code, Some(0));
    let saved = inode(&the_state(&state));
    // A policy that decides otherwise is another revision, and another key.
    let settings = policy.join("policy.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    let changed = text.replace("block_threshold = 0.95", "block_threshold = 0.96");
    assert_ne!(changed, text);
    std::fs::write(&settings, changed).unwrap();
    let out = hook(&policy, &state, curl);
    assert!(out.stdout.contains("\"ask\""), "{out:#?}");
    assert_ne!(inode(&the_state(&state)), saved, "a state of the old policy was used");
}

/// A file older than `decided` events has its calls decided again by every replay, under
/// that call's clock and policy: what the replay makes of them is not the file's alone, so
/// it is never saved, however long the session.
#[test]
fn a_session_whose_calls_carry_no_verdict_is_never_saved() {
    let dir = temp_dir();
    let state = dir.path().join("hooks");
    let first = input("bash-ls.json", "old", Some("toolu_first"));
    assert_eq!(hook(&policy(), &state, &first).code, Some(0));
    let file = files(&state, "jsonl").remove(0);
    let mut old = String::new();
    for n in 0..12 {
        let call = serde_json::json!({"type": "call", "run": "old", "id": format!("toolu_{n}"),
            "action": "Bash", "args": {"command": "ls -la src"}});
        let result = serde_json::json!({"type": "result", "run": "old", "id": format!("toolu_{n}"),
            "output": {"stdout": "main.rs\n"}});
        old.push_str(&format!("{call}\n{result}\n"));
    }
    std::fs::write(&file, old).unwrap();
    let next = input("bash-ls.json", "old", Some("toolu_next"));
    let out = hook(&policy(), &state, &next);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("\"allow\""), "{out:#?}");
    assert_eq!(files(&state, "state"), Vec::<PathBuf>::new(), "a state of calls decided anew");
}
