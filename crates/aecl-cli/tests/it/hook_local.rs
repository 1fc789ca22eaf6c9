//! `aecl hook claude-code --policy DIR --agent ID` keeps each session's run state in a file
//! (`--state-dir`): recorded hook inputs (`test_data/hooks/claude-code/`) fed to the real
//! binary one call after the other, as Claude Code runs it, so that data flow works across
//! hook calls: a URL that only a fetched page or a command's output showed needs a person,
//! the same URL typed by the user does not; an output of a call aecl never decided is
//! recorded as unguarded; a session id cannot name a path; a corrupt or oversized file
//! denies.

use std::path::Path;

use serde_json::Value;

use crate::{Outcome, aecl, output_with_stdin, repo, temp_dir};

fn policy() -> String {
    repo("crates/aecl-cli/tests/claude_code/policy").display().to_string()
}

/// A recorded input, with its session id replaced by `session`.
fn input(name: &str, session: &str) -> String {
    let path = repo(&format!("test_data/hooks/claude-code/{name}"));
    let text = std::fs::read_to_string(&path).expect("reading a recorded hook input");
    let mut value: Value = serde_json::from_str(&text).expect("a recorded input is JSON");
    value["session_id"] = Value::from(session);
    value.to_string()
}

/// Runs the hook on one recorded input in `state`.
fn hook(state: &Path, name: &str, session: &str) -> Outcome {
    hook_stdin(state, input(name, session))
}

/// Runs the hook in `state` on `stdin` as it is (bytes that need not be UTF-8).
fn hook_stdin(state: &Path, stdin: impl AsRef<[u8]>) -> Outcome {
    let (policy, state) = (policy(), state.display().to_string());
    let mut command = aecl();
    command.args(["hook", "claude-code", "--policy", &policy, "--agent", "coder"]);
    command.args(["--state-dir", &state]);
    output_with_stdin(command, stdin)
}

/// Claude Code's `permissionDecision` in a PreToolUse answer.
fn decision(out: &Outcome) -> String {
    let answer: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON answer ({e}): {out:#?}"));
    answer["hookSpecificOutput"]["permissionDecision"]
        .as_str()
        .unwrap_or_else(|| panic!("no permissionDecision: {out:#?}"))
        .to_owned()
}

/// The session files of `state` (beside them, the policy cache's directory).
fn session_files(state: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(state)
        .expect("the state dir")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect()
}

fn session_text(state: &Path) -> String {
    let files = session_files(state);
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(&files[0]).expect("the session file")
}

#[test]
fn a_url_from_a_fetched_page_needs_a_person_and_the_same_url_from_the_user_does_not() {
    let state = temp_dir();
    let state = state.path().join("hooks");
    // The page's URL, never typed by the user.
    assert_eq!(decision(&hook(&state, "pre-webfetch.json", "page")), "allow");
    let post = hook(&state, "post-webfetch.json", "page");
    assert_eq!(post.code, Some(0), "{post:#?}");
    let curl = hook(&state, "bash-curl.json", "page");
    assert_eq!(decision(&curl), "ask", "{curl:#?}");
    assert!(curl.stdout.contains("untrusted"), "{curl:#?}");
    // The same URL in the user's prompt, in another session.
    let prompt = hook(&state, "user-prompt-url.json", "typed");
    assert_eq!(prompt.code, Some(0), "{prompt:#?}");
    let curl = hook(&state, "bash-curl.json", "typed");
    assert_eq!(decision(&curl), "allow", "{curl:#?}");
    // Each session alone in its file, replayable: run, call, result, user lines.
    assert_eq!(session_files(&state).len(), 2);
    // The first session's file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    for file in session_files(&state) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

/// Claude Code resumes a session under its id after its `SessionEnd` (`--resume`,
/// `--continue`, every `claude -p` turn), with the fetched page back in the model's
/// context: the session's end does not make it a fresh one (red team round 20, HK1: the
/// injected `curl` was asked about before the end and allowed after it).
#[test]
fn a_session_resumed_after_its_end_still_asks_about_the_pages_url() {
    let state = temp_dir();
    let state = state.path();
    assert_eq!(decision(&hook(state, "pre-webfetch.json", "resumed")), "allow");
    assert_eq!(hook(state, "post-webfetch.json", "resumed").code, Some(0));
    assert_eq!(decision(&hook(state, "bash-curl.json", "resumed")), "ask");
    assert_eq!(hook(state, "session-end.json", "resumed").code, Some(0));
    let curl = hook(state, "bash-curl.json", "resumed");
    assert_eq!(decision(&curl), "ask", "{curl:#?}");
    // What has no value the page showed goes on as before.
    assert_eq!(decision(&hook(state, "bash-ls.json", "resumed")), "allow");
}

/// A session that continues a conversation the hook holds no history of (Claude Code's
/// `--fork-session` under a new id, a resume after the state directory was cleared) starts
/// as one that lost its history: the page its model read is back in its context (red team
/// round 20, HK1: the forked session's injected `curl` was allowed). A new session is not.
#[test]
fn a_session_that_continues_an_unknown_conversation_starts_as_one_that_lost_history() {
    let state = temp_dir();
    let start = |session: &str, source: &str| {
        let input = serde_json::json!({
            "session_id": session, "cwd": "/tmp", "hook_event_name": "SessionStart",
            "source": source,
        });
        hook_stdin(state.path(), input.to_string())
    };
    for source in ["resume", "compact", "fork"] {
        let session = format!("continued-{source}");
        assert_eq!(start(&session, source).code, Some(0));
        let curl = hook(state.path(), "bash-curl.json", &session);
        assert_eq!(decision(&curl), "ask", "{source}: {curl:#?}");
    }
    for source in ["startup", "clear"] {
        let session = format!("new-{source}");
        assert_eq!(start(&session, source).code, Some(0));
        let curl = hook(state.path(), "bash-curl.json", &session);
        assert_eq!(decision(&curl), "allow", "{source}: {curl:#?}");
    }
    // A session the hook knows goes on with its history when resumed.
    assert_eq!(decision(&hook(state.path(), "bash-ls.json", "known")), "allow");
    assert_eq!(start("known", "resume").code, Some(0));
    assert_eq!(decision(&hook(state.path(), "bash-curl.json", "known")), "allow");
}

/// An output the hook could not record (the policy did not load at that moment: an
/// administrator's half-saved edit) marks the session as having lost history: once the
/// policy loads again, the page's URL is not taken for the model's own (red team round 20,
/// HK5: it was allowed).
#[test]
fn an_output_that_could_not_be_recorded_marks_the_session_as_having_lost_history() {
    let temp = temp_dir();
    let policy = temp.path().join("policy");
    crate::copy_dir(Path::new(&self::policy()), &policy);
    let state = temp.path().join("state");
    let run = |name: &str| {
        let mut command = aecl();
        command.args(["hook", "claude-code", "--policy"]).arg(&policy);
        command.args(["--agent", "coder", "--state-dir"]).arg(&state);
        output_with_stdin(command, input(name, "half-saved"))
    };
    assert_eq!(decision(&run("pre-webfetch.json")), "allow");
    let kept = std::fs::read_to_string(policy.join("policy.toml")).unwrap();
    std::fs::write(policy.join("policy.toml"), "mode = \"enforce").unwrap();
    let post = run("post-webfetch.json");
    assert_eq!(post.code, Some(0), "{post:#?}");
    assert!(post.stdout.contains("marked as having lost history"), "{post:#?}");
    std::fs::write(policy.join("policy.toml"), kept).unwrap();
    let curl = run("bash-curl.json");
    assert_eq!(decision(&curl), "ask", "{curl:#?}");
}

#[test]
fn a_fresh_session_decides_the_curl_as_its_first_call() {
    // Without the page in its history, the same command stands on its own.
    let state = temp_dir();
    let curl = hook(state.path(), "bash-curl.json", "fresh");
    assert_eq!(decision(&curl), "allow", "{curl:#?}");
}

#[test]
fn an_output_of_an_undecided_call_is_recorded_unguarded_and_stays_untrusted() {
    let state = temp_dir();
    let post = hook(state.path(), "post-bash-curl-output.json", "unguarded");
    assert_eq!(post.code, Some(0), "{post:#?}");
    assert!(post.stderr.contains("unguarded call"), "{post:#?}");
    let text = session_text(state.path());
    assert!(text.contains(r#""id":"unguarded:toolu_01LocalCat0003""#), "{text}");
    // A URL from its output is untrusted.
    let curl = hook(state.path(), "bash-curl.json", "unguarded");
    assert_eq!(decision(&curl), "ask", "{curl:#?}");
    // The file replays with `aecl replay`.
    let file = &session_files(state.path())[0];
    let out = crate::run([
        "replay",
        "--policy",
        &policy(),
        "--agent",
        "coder",
        &file.display().to_string(),
    ]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("require_approval"), "{out:#?}");
}

#[test]
fn an_output_of_a_denied_call_is_unguarded_and_a_call_cannot_borrow_the_mark() {
    let state = temp_dir();
    // A call whose id would read as the unguarded mark is denied.
    let mut forged: Value = serde_json::from_str(&input("bash-curl.json", "mark")).unwrap();
    forged["tool_use_id"] = Value::from("unguarded:toolu_01LocalCat0003");
    let out = hook_stdin(state.path(), forged.to_string());
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert_eq!(decision(&out), "deny");
    // Reported twice, the second output of an allowed call is unguarded.
    assert_eq!(decision(&hook(state.path(), "pre-webfetch.json", "twice")), "allow");
    let first = hook(state.path(), "post-webfetch.json", "twice");
    assert!(!first.stderr.contains("unguarded"), "{first:#?}");
    let second = hook(state.path(), "post-webfetch.json", "twice");
    assert!(second.stderr.contains("already recorded"), "{second:#?}");
}

#[test]
fn session_ids_that_look_like_paths_stay_inside_the_state_dir() {
    let root = temp_dir();
    let state = root.path().join("state");
    for session in ["../../escape", "/etc/passwd", "a/../../b", "..", "."] {
        let out = hook(&state, "bash-curl.json", session);
        assert_eq!(decision(&out), "allow", "{session}: {out:#?}");
    }
    let names: Vec<String> = session_files(&state)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.iter().all(|n| n.len() == 70 && n.ends_with(".jsonl")), "{names:?}");
    let mut outside: Vec<_> =
        std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    outside.sort();
    assert_eq!(outside, vec![std::ffi::OsString::from("state")]);
}

#[test]
fn a_corrupt_or_oversized_session_file_denies_and_names_the_file() {
    let state = temp_dir();
    assert_eq!(decision(&hook(state.path(), "pre-webfetch.json", "broken")), "allow");
    let file = session_files(state.path()).remove(0);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"type\":\"call\",\"run\":\"broken\"\n");
    std::fs::write(&file, &text).unwrap();
    let out = hook(state.path(), "bash-curl.json", "broken");
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains(&file.display().to_string()), "{out:#?}");
    // Over the cap: denied, the history kept as it is.
    let big = std::fs::File::options().write(true).open(&file).unwrap();
    big.set_len(64 * 1024 * 1024 + 1).unwrap();
    let out = hook(state.path(), "bash-curl.json", "broken");
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("over the"), "{out:#?}");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 64 * 1024 * 1024 + 1);
}

/// A session's past is the decisions it got: each call is written with its `decided`
/// event, and a policy changed mid-session does not decide the earlier calls again, so the
/// call budget they used stays used. (Decided again, the two `ls` calls would now be
/// blocks that used none, and the third call would go through.)
#[test]
fn a_policy_change_does_not_give_back_the_calls_a_session_made() {
    let dir = temp_dir();
    let policy = dir.path().join("policy");
    crate::copy_dir(Path::new(&self::policy()), &policy);
    let manifest = policy.join("agents/coder.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{text}max_tool_calls_per_run = 2\n")).unwrap();
    let state = dir.path().join("state");
    let call = |id: &str, command: &str| {
        let mut input: Value = serde_json::from_str(&input("bash-ls.json", "budget")).unwrap();
        input["tool_use_id"] = Value::from(id);
        input["tool_input"]["command"] = Value::from(command);
        let mut hook = aecl();
        hook.args(["hook", "claude-code", "--agent", "coder", "--policy"]).arg(&policy);
        hook.arg("--state-dir").arg(&state);
        output_with_stdin(hook, input.to_string())
    };
    assert_eq!(decision(&call("toolu_budget1", "ls")), "allow");
    assert_eq!(decision(&call("toolu_budget2", "ls -la")), "allow");
    let text = session_text(&state);
    assert_eq!(text.matches(r#""type":"decided""#).count(), 2, "{text}");
    assert!(text.contains(r#""id":"toolu_budget2","decision":"allow","mode":"enforce""#), "{text}");

    let catalog = policy.join("catalog.toml");
    let text = std::fs::read_to_string(&catalog).unwrap();
    let stricter =
        text.replace(r#"block = ["rm --recursive""#, r#"block = ["ls", "rm --recursive""#);
    assert_ne!(text, stricter, "the catalog's shell rules changed");
    std::fs::write(&catalog, stricter).unwrap();
    assert_eq!(decision(&call("toolu_budget3", "ls")), "deny", "the new rule holds");
    let third = call("toolu_budget4", "cat README.md");
    assert_eq!(decision(&third), "deny", "{third:#?}");
    assert!(third.stdout.contains("max_tool_calls_per_run"), "{third:#?}");
}

/// A session file written before calls had `decided` events (or by hand) still works: its
/// calls are decided again, and the calls made from now on are written with theirs.
#[test]
fn a_session_without_decided_events_is_decided_again() {
    let state = temp_dir();
    assert_eq!(decision(&hook(state.path(), "pre-webfetch.json", "older")), "allow");
    let file = session_files(state.path()).remove(0);
    let text = std::fs::read_to_string(&file).unwrap();
    let older: String = text
        .lines()
        .filter(|l| !l.contains(r#""type":"decided""#))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(older, text, "the call had its verdict");
    std::fs::write(&file, &older).unwrap();
    // The fetched page's output, then a command with its link: the older call's output is
    // still guarded (the call was decided again as allowed).
    let post = hook(state.path(), "post-webfetch.json", "older");
    assert!(!post.stderr.contains("unguarded"), "{post:#?}");
    let curl = hook(state.path(), "bash-curl.json", "older");
    assert_eq!(decision(&curl), "ask", "{curl:#?}");
    let text = session_text(state.path());
    assert_eq!(text.matches(r#""type":"decided""#).count(), 1, "the new call's: {text}");
}

/// A `decided` event that does not follow its call, or names a decision aecl does not
/// know, is a corrupt history: the call is denied, naming the file.
#[test]
fn a_decision_that_follows_no_call_denies() {
    for (name, line) in [
        (
            "alone",
            r#"{"type":"decided","run":"RUN","id":"toolu_x","decision":"allow","mode":"enforce"}"#,
        ),
        (
            "unknown",
            r#"{"type":"decided","run":"RUN","id":"ID","decision":"maybe","mode":"enforce"}"#,
        ),
    ] {
        let state = temp_dir();
        let session = format!("decided-{name}");
        assert_eq!(decision(&hook(state.path(), "pre-webfetch.json", &session)), "allow");
        let file = session_files(state.path()).remove(0);
        let text = std::fs::read_to_string(&file).unwrap();
        // The call's own `decided` line, replaced by the forged one.
        let call_id = text.lines().find_map(|l| {
            let event: Value = serde_json::from_str(l).ok()?;
            (event["type"] == "call").then(|| event["id"].as_str().unwrap().to_owned())
        });
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains(r#""type":"decided""#)).collect();
        let forged = line.replace("RUN", &session).replace("ID", &call_id.unwrap());
        std::fs::write(&file, format!("{}\n{forged}\n", kept.join("\n"))).unwrap();
        let out = hook(state.path(), "bash-curl.json", &session);
        assert_eq!(out.code, Some(2), "{name}: {out:#?}");
        assert!(out.stderr.contains(&file.display().to_string()), "{name}: {out:#?}");
    }
}

#[test]
fn a_prompt_is_appended_as_a_trace_event_and_a_session_end_drops_nothing() {
    let state = temp_dir();
    assert_eq!(hook(state.path(), "user-prompt.json", "ends").code, Some(0));
    assert_eq!(hook(state.path(), "session-end.json", "ends").code, Some(0));
    let text = session_text(state.path());
    let types: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, vec!["user"], "{text}");
}

/// The session file is the session's memory of what the agent read: a call that would
/// delete or rewrite it, by its path, the default location's name or a link to it from the
/// agent's working directory, is denied and the file is left as it was.
#[test]
fn a_call_that_names_the_state_dir_is_denied_and_the_history_stays() {
    let root = temp_dir();
    let state = root.path().join("state");
    let session = "s-keep";
    assert_eq!(decision(&hook(&state, "pre-webfetch.json", session)), "allow");
    let before = session_text(&state);
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::symlink(&state, work.join("notes")).unwrap();
    let state_text = state.display().to_string();
    for command in [
        format!("rm -f {state_text}/*.jsonl"),
        format!("echo > {state_text}/x.jsonl"),
        "rm -rf ~/.local/state/aecl".to_owned(),
        "rm -f notes/*.jsonl".to_owned(),
        "cat /dev/null > notes/a.jsonl".to_owned(),
    ] {
        let mut value: Value = serde_json::from_str(&input("bash-curl.json", session)).unwrap();
        value["tool_input"]["command"] = Value::from(command.as_str());
        value["cwd"] = Value::from(work.display().to_string());
        let out = hook_stdin(&state, value.to_string());
        assert_eq!(out.code, Some(2), "{command}: {out:#?}");
        assert!(out.stderr.contains("hook state directory"), "{command}: {out:#?}");
    }
    assert_eq!(session_text(&state), before, "the history was not touched");
    // An ordinary call of the same session is still decided.
    assert_eq!(decision(&hook(&state, "pre-webfetch.json", session)), "allow");
}

/// A tool output that strict JSON parsing refuses (a lone surrogate escape, which
/// JavaScript writes for half a UTF-16 pair; nesting past the parser's limit; a number out
/// of range) is still recorded, untrusted, and the event still exits 0: before, the hook
/// denied it as if it were a PreToolUse and recorded nothing, so the page's URL passed as
/// never seen (a red-team finding).
#[test]
fn an_output_that_is_not_valid_json_is_still_recorded_untrusted() {
    let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    let spellings = [r#""OK\ud800""#.to_owned(), deep, "1e999999".to_owned()];
    for (i, spelling) in spellings.iter().enumerate() {
        let state = temp_dir();
        let session = format!("odd-{i}");
        assert_eq!(decision(&hook(state.path(), "pre-webfetch.json", &session)), "allow");
        let post = input("post-webfetch.json", &session);
        let post = post.replace(r#""codeText":"OK""#, &format!(r#""codeText":{spelling}"#));
        assert!(serde_json::from_str::<Value>(&post).is_err(), "still strict JSON: {post}");
        let out = hook_stdin(state.path(), &post);
        assert_eq!(out.code, Some(0), "{spelling}: {out:#?}");
        // A lone surrogate is repaired and parsed; the others are read leniently.
        assert_eq!(out.stdout.contains("not valid JSON"), i > 0, "{spelling}: {out:#?}");
        let curl = hook(state.path(), "bash-curl.json", &session);
        assert_eq!(decision(&curl), "ask", "{spelling}: {curl:#?}");
    }
}

/// An output that is not UTF-8 (a stray byte) or starts with a byte order mark is still
/// recorded: each bad byte reads as U+FFFD. A call to decide that is not UTF-8 is denied,
/// since what aecl decides must be exactly what runs.
#[test]
fn an_output_in_bytes_that_are_not_utf8_is_still_recorded() {
    for (i, spoil) in [&b"\xff"[..], &b"\xc0\xae"[..], &b""[..]].iter().enumerate() {
        let state = temp_dir();
        let session = format!("bytes-{i}");
        assert_eq!(decision(&hook(state.path(), "pre-webfetch.json", &session)), "allow");
        let post = input("post-webfetch.json", &session);
        let (head, tail) = post.split_once(r#""codeText":"OK"#).expect("the recorded field");
        let mut bytes = b"\xef\xbb\xbf".to_vec();
        bytes.extend_from_slice(head.as_bytes());
        bytes.extend_from_slice(br#""codeText":"OK"#);
        bytes.extend_from_slice(spoil);
        bytes.extend_from_slice(tail.as_bytes());
        let out = hook_stdin(state.path(), &bytes);
        assert_eq!(out.code, Some(0), "{spoil:?}: {out:#?}");
        let curl = hook(state.path(), "bash-curl.json", &session);
        assert_eq!(decision(&curl), "ask", "{spoil:?}: {curl:#?}");
    }
    let pre = input("bash-ls.json", "bytes-pre");
    let mut bytes = pre.into_bytes();
    let at = bytes.iter().position(|b| *b == b'l').expect("an l");
    bytes.insert(at, 0xff);
    let state = temp_dir();
    let out = hook_stdin(state.path(), &bytes);
    assert_eq!(out.code, Some(2), "{out:#?}");
}

/// Claude Code submits its own notifications as prompts (`<task-notification>`: a
/// background command's description, a subagent's result, written by a model): the URL
/// one carries is not the user's, so the `curl` of it needs a person (red team round 20,
/// hooks). The same URL typed by the user is theirs.
#[test]
fn a_task_notification_is_not_the_users_words() {
    let state = temp_dir();
    let state = state.path().join("hooks");
    let mut prompt: Value =
        serde_json::from_str(&input("user-prompt-url.json", "notified")).expect("JSON");
    let typed = prompt["prompt"].as_str().expect("a prompt").to_owned();
    prompt["prompt"] = Value::from(format!(
        "<task-notification>\n<task-id>b1</task-id>\n<status>completed</status>\n<summary>Agent \
         \"research\" completed</summary>\n<result>{typed}</result>\n</task-notification>"
    ));
    let recorded = hook_stdin(&state, prompt.to_string());
    assert_eq!(recorded.code, Some(0), "{recorded:#?}");
    let curl = hook(&state, "bash-curl.json", "notified");
    assert_eq!(decision(&curl), "ask", "{curl:#?}");
    let session = session_text(&state);
    assert!(session.contains("task notification"), "recorded as untrusted");
    // Read as an output is: the run has read untrusted content (red team round 27, D1).
    assert!(session.contains(r#""read":true"#), "{session}");
    // Typed by the user, the same words vouch.
    assert_eq!(hook(&state, "user-prompt-url.json", "typed").code, Some(0));
    assert_eq!(decision(&hook(&state, "bash-curl.json", "typed")), "allow");
}

/// Events that ask for no decision and carry nothing the model read (a turn's end, a
/// notification) are answered `{}` with exit 0: exit 2 on Claude Code's `Stop` would tell
/// the model to go on. One that names its event twice is still denied.
#[test]
fn events_without_a_call_are_passed_over_and_a_repeated_event_is_not() {
    let state = temp_dir();
    let state = state.path().join("hooks");
    for event in ["Stop", "SubagentStop", "Notification", "PreCompact"] {
        let input = format!(
            r#"{{"session_id":"s1","cwd":"/tmp","hook_event_name":"{event}","stop_hook_active":false}}"#
        );
        let out = hook_stdin(&state, input);
        assert_eq!((out.code, out.stdout.trim()), (Some(0), "{}"), "{event}: {out:#?}");
    }
    let twice = r#"{"session_id":"s1","cwd":"/tmp","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"rm -rf /"},"hook_event_name":"Stop"}"#;
    let out = hook_stdin(&state, twice);
    assert_eq!(decision(&out), "deny", "{out:#?}");
}
