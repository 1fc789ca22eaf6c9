//! A decision's cost is bounded whatever the agent sends: an agent whose hook times out
//! may run the call unguarded (Codex, Gemini CLI), so a command that costs the analysis
//! seconds would be a way around it.

use crate::{repo, run_with_stdin, temp_dir};

fn hook(command: &str) -> crate::Outcome {
    let state = temp_dir();
    let input = serde_json::json!({
        "session_id": "limits",
        "cwd": "/tmp",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": { "command": command },
        "tool_use_id": "t1",
    });
    let policy = repo("crates/aecl-cli/tests/claude_code/policy");
    let state = state.path().to_str().unwrap().to_owned();
    run_with_stdin(
        [
            "hook",
            "claude-code",
            "--policy",
            policy.to_str().unwrap(),
            "--agent",
            "coder",
            "--state-dir",
            &state,
        ],
        &input.to_string(),
    )
}

/// `Bash`'s command has `max_length = 10000`: a longer one is blocked by that alone, and
/// the shell rules (whose parser is the costliest part of a decision) never read it.
#[test]
fn a_command_over_its_length_limit_is_blocked_without_being_analysed() {
    let out = hook(&"a;".repeat(60_000));
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stdout.contains("max_length"), "{out:#?}");
    assert!(!out.stdout.contains("arguments.shell"), "the shell rules read it: {out:#?}");
    // Under the limit, the same program is analysed (and allowed: `ls` is listed).
    let out = hook(&"ls;".repeat(10));
    assert_eq!(out.code, Some(0), "{out:#?}");
}

/// A session file append that fails part way (here: the file size limit, as a full disk
/// would) leaves no half line behind: the call is denied, and once the disk has room the
/// session goes on (a cut line would deny every later call as corrupt).
#[test]
fn an_append_cut_short_by_a_full_disk_leaves_the_session_usable() {
    let policy = repo("crates/aecl-cli/tests/claude_code/policy");
    // `timeout` is written once, in the call's arguments; the id twice (the call and its
    // `decided` event): together they set the first append's length to the byte.
    let input_with = |id: &str, command: &str, timeout: u32| {
        serde_json::json!({
            "session_id": "full-disk",
            "cwd": "/tmp",
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": { "command": command, "timeout": timeout },
            "tool_use_id": id,
        })
        .to_string()
    };
    let input = |id: &str, command: &str| input_with(id, command, 1);
    // `sh` ignores SIGXFSZ (inherited through exec) and limits the size of files the
    // hook writes, in blocks of 512 bytes, when given one.
    let hook = |state: &std::path::Path, blocks: Option<u64>| {
        let limit = blocks.map_or(String::new(), |b| format!("ulimit -f {b}; "));
        let mut command = std::process::Command::new("sh");
        command.arg("-c").arg(format!("trap '' XFSZ; {limit}exec \"$0\" \"$@\""));
        command.arg(env!("CARGO_BIN_EXE_aecl"));
        command.args(["hook", "claude-code", "--policy"]).arg(&policy);
        command.args(["--agent", "coder", "--state-dir"]).arg(state);
        command
    };
    let session_size = |state: &std::path::Path| {
        let file = std::fs::read_dir(state)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .unwrap();
        std::fs::metadata(file).unwrap().len()
    };
    // A first call whose line ends 5 bytes before a block's end: the next line is cut
    // there by a limit of whole blocks.
    let probe = temp_dir();
    let out = crate::output_with_stdin(hook(probe.path(), None), input("t", "ls"));
    assert_eq!(out.code, Some(0), "{out:#?}");
    let short = (507 + 512 - session_size(probe.path()) % 512) % 512;
    let id = format!("t{}", "x".repeat(usize::try_from(short / 2).unwrap()));
    let timeout = if short % 2 == 1 { 10 } else { 1 };
    let state = temp_dir();
    let out = crate::output_with_stdin(hook(state.path(), None), input_with(&id, "ls", timeout));
    assert_eq!(out.code, Some(0), "{out:#?}");
    let size = session_size(state.path());
    assert_eq!(size % 512, 507, "the first line is padded to end near a block's end");

    let cut =
        crate::output_with_stdin(hook(state.path(), Some(size / 512 + 1)), input("t2", "ls -la"));
    assert_eq!(cut.code, Some(2), "denied: {cut:#?}");
    assert_eq!(session_size(state.path()), size, "the half line is gone: {cut:#?}");

    let after = crate::output_with_stdin(hook(state.path(), None), input("t3", "ls"));
    assert_eq!(after.code, Some(0), "the session goes on: {after:#?}");
}
