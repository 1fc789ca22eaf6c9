//! The local hook on a disk that fills between a call and its output: the output is still
//! recorded (whole in the room kept for it, or cut and the session failed closed), so its
//! values never pass as the model's own once the disk has room again; a call the disk
//! cannot keep that room for is denied.
//!
//! Each scenario runs in a mount namespace of its own (`unshare`, as the sandbox's tests
//! need user namespaces too) with the state directory on a small tmpfs, which a `dd`
//! fills to the last block.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::hook_oversized::{decision, policy, pre};
use crate::{Outcome, temp_dir, write};

/// One step of a scenario.
enum Step {
    /// A hook call with this input.
    Hook(String),
    /// Fill the disk to its last block.
    Fill,
    /// Give back this many KiB of what `Fill` took.
    Leave(u32),
    /// Free what `Fill` took.
    Free,
}

/// Runs `steps` with the state directory on a fresh 8 MiB tmpfs: the outcome of each
/// `Hook`, in order, and the session file's events at the end.
fn on_a_small_disk(dir: &Path, steps: &[Step]) -> (Vec<Outcome>, Vec<Value>) {
    let policy = dir.join("policy");
    let out = dir.join("out");
    let disk = dir.join("disk");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&disk).unwrap();
    let mut script =
        String::from("set -u\nmount -t tmpfs -o size=8m aecl-test \"$DISK\" || exit 99\n");
    let mut hooks = 0;
    for step in steps {
        match step {
            Step::Hook(input) => {
                hooks += 1;
                write(&out, &format!("{hooks}.json"), input);
                writeln!(
                    script,
                    "\"$AECL\" hook claude-code --policy \"$POLICY\" --agent dev --state-dir \
                     \"$DISK/state\" <\"$OUT/{hooks}.json\" >\"$OUT/{hooks}.stdout\" \
                     2>\"$OUT/{hooks}.stderr\"; echo $? >\"$OUT/{hooks}.code\""
                )
                .unwrap();
            }
            Step::Fill => script.push_str(
                "dd if=/dev/zero of=\"$DISK/fill\" bs=4096 2>/dev/null; \
                 df -k \"$DISK\" | tail -1 | awk '$4 != 0 { exit 98 }' || exit 98\n",
            ),
            Step::Leave(kib) => {
                writeln!(script, "truncate -s -{kib}K \"$DISK/fill\"").unwrap();
            }
            Step::Free => script.push_str("rm -f \"$DISK/fill\"\n"),
        }
    }
    script.push_str("cat \"$DISK\"/state/*.jsonl >\"$OUT/session.jsonl\"\n");
    let status = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
        .env("AECL", env!("CARGO_BIN_EXE_aecl"))
        .env("POLICY", &policy)
        .env("OUT", &out)
        .env("DISK", &disk)
        .status()
        .expect("running unshare (util-linux)");
    assert!(status.success(), "the scenario's script failed ({status}): {script}");
    let read = |name: String| std::fs::read_to_string(out.join(name)).unwrap();
    let outcomes = (1..=hooks)
        .map(|i| Outcome {
            code: read(format!("{i}.code")).trim().parse().ok(),
            stdout: read(format!("{i}.stdout")),
            stderr: read(format!("{i}.stderr")),
        })
        .collect();
    let events = read("session.jsonl".to_owned())
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (outcomes, events)
}

/// A `PostToolUse` of `WebFetch` call `id` whose output is `text`.
fn post(id: &str, text: &str) -> String {
    json!({
        "session_id": "big", "cwd": "/tmp", "hook_event_name": "PostToolUse",
        "tool_name": "WebFetch", "tool_input": {"url": "https://a.test"},
        "tool_response": text, "tool_use_id": id,
    })
    .to_string()
}

fn fetch(id: &str) -> Step {
    Step::Hook(pre("WebFetch", json!({"url": "https://a.test"}), id))
}

fn curl(url: &str, id: &str) -> Step {
    Step::Hook(pre("Bash", json!({"command": format!("curl {url}")}), id))
}

/// The types of `events`, and the ids of their results; a call's verdict is part of it.
fn kinds(events: &[Value]) -> Vec<String> {
    let mut kinds = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let kind = e["type"].as_str().unwrap();
        // A call's verdict, right after it, is part of it; one anywhere else is listed.
        let call = i.checked_sub(1).map(|before| &events[before]);
        if kind == "decided" && call.is_some_and(|c| c["type"] == "call" && c["id"] == e["id"]) {
            continue;
        }
        kinds.push(match kind {
            "result" => format!("result {}", e["id"].as_str().unwrap()),
            other => other.to_owned(),
        });
    }
    kinds
}

#[test]
fn an_output_reported_on_a_full_disk_is_recorded_in_the_room_kept_for_it() {
    let root = temp_dir();
    policy(root.path());
    let (out, events) = on_a_small_disk(
        root.path(),
        &[
            fetch("t1"),
            Step::Fill,
            // Past the file's last block (a line that fits there is written on any disk),
            // within the room kept for it.
            Step::Hook(post("t1", &format!("see https://late.test/x {}", "lorem ".repeat(5_000)))),
            Step::Free,
            curl("https://late.test/x", "t2"),
            curl("https://fine.test/y", "t3"),
        ],
    );
    assert_eq!(decision(&out[0]), "allow", "{:?}", out[0]);
    assert_eq!(out[1].code, Some(0), "{:?}", out[1]);
    assert!(!out[1].stdout.contains("did not record"), "lost: {:?}", out[1]);
    // Whole, under its call's id: nothing was cut, and the session did not fail closed.
    assert_eq!(kinds(&events), ["call", "result t1", "call", "call"], "{events:?}");
    assert_eq!(decision(&out[2]), "ask", "a page's link passed as the model's: {:?}", out[2]);
    assert_eq!(decision(&out[3]), "allow", "{:?}", out[3]);
}

/// Outputs larger than the room kept for each, of two calls run in parallel: each is
/// recorded cut, and the session fails closed.
#[test]
fn outputs_larger_than_their_room_on_a_full_disk_are_recorded_cut_and_fail_the_session_closed() {
    let root = temp_dir();
    policy(root.path());
    let big = |url: &str| format!("see {url} {}", "lorem ipsum ".repeat(60_000));
    let (out, events) = on_a_small_disk(
        root.path(),
        &[
            fetch("t1"),
            fetch("t2"),
            Step::Fill,
            Step::Hook(post("t1", &big("https://one.test/x"))),
            Step::Hook(post("t2", &big("https://two.test/x"))),
            Step::Free,
            curl("https://one.test/x", "t3"),
            curl("https://two.test/x", "t4"),
            curl("https://never-seen.test/z", "t5"),
        ],
    );
    for post in &out[2..4] {
        assert_eq!(post.code, Some(0), "{post:?}");
        assert!(post.stdout.contains("could not be recorded whole"), "{post:?}");
        assert!(post.stdout.contains("no room"), "{post:?}");
    }
    assert_eq!(
        kinds(&events)[..6],
        ["call", "call", "expired", "result unguarded:t1", "expired", "result unguarded:t2"],
        "{events:?}"
    );
    for result in events.iter().filter(|e| e["type"] == "result").take(2) {
        let text = result["output"].as_str().unwrap();
        assert!(text.contains("[aecl: cut after"), "marked as cut: {}", &text[text.len() - 300..]);
    }
    for call in &out[4..] {
        assert_eq!(decision(call), "ask", "{call:?}");
    }
}

/// A disk with room for the call's line but not for its output's is as full as one with
/// none.
#[test]
fn a_call_is_denied_when_the_disk_cannot_keep_room_for_its_output() {
    let root = temp_dir();
    policy(root.path());
    let (out, events) = on_a_small_disk(
        root.path(),
        &[fetch("t0"), Step::Fill, Step::Leave(64), fetch("t1"), Step::Free, fetch("t2")],
    );
    assert_eq!(decision(&out[0]), "allow", "{:?}", out[0]);
    assert_eq!((out[1].code, decision(&out[1]).as_str()), (Some(2), "deny"), "{:?}", out[1]);
    assert!(out[1].stdout.contains("no room"), "{:?}", out[1]);
    assert_eq!(decision(&out[2]), "allow", "the session goes on: {:?}", out[2]);
    assert_eq!(kinds(&events), ["call", "call"], "nothing of the denied call: {events:?}");
}

/// The session's end gives the room back: the file holds no more blocks than its bytes.
#[test]
fn the_room_kept_for_outputs_is_given_back_at_the_sessions_end() {
    let root = temp_dir();
    policy(root.path());
    let state = root.path().join("state");
    let hook = |stdin: String| {
        let mut command = crate::aecl();
        command.args(["hook", "claude-code", "--policy"]).arg(root.path().join("policy"));
        command.args(["--agent", "dev", "--state-dir"]).arg(&state);
        crate::output_with_stdin(command, stdin)
    };
    let allocated = || {
        use std::os::unix::fs::MetadataExt;
        let file = std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .unwrap();
        let meta = std::fs::metadata(file).unwrap();
        (meta.len(), meta.blocks() * 512)
    };
    assert_eq!(decision(&hook(pre("WebFetch", json!({"url": "https://a.test"}), "t1"))), "allow");
    let (len, blocks) = allocated();
    // Where the file system allocates ahead (tmpfs, ext4, XFS, btrfs).
    assert!(blocks >= len + 128 * 1024, "{blocks} bytes allocated for {len}");
    let end = json!({"session_id": "big", "cwd": "/tmp", "hook_event_name": "SessionEnd"});
    assert_eq!(hook(end.to_string()).code, Some(0));
    let (len, blocks) = allocated();
    assert!(blocks < len + 64 * 1024, "{blocks} bytes still allocated for {len}");
}

/// The user's prompt on a full disk is not written into the room kept for an awaited
/// output: the prompt is left unrecorded (said), and the output that follows still fits.
#[test]
fn a_prompt_never_takes_the_room_kept_for_an_output() {
    let root = temp_dir();
    policy(root.path());
    let prompt = json!({
        "session_id": "big", "cwd": "/tmp", "hook_event_name": "UserPromptSubmit",
        "prompt": format!("please fix it {}", "x".repeat(60_000)),
    });
    let (out, events) = on_a_small_disk(
        root.path(),
        &[
            fetch("t1"),
            Step::Fill,
            Step::Hook(prompt.to_string()),
            Step::Hook(post("t1", &format!("see https://late.test/x {}", "lorem ".repeat(15_000)))),
            Step::Free,
            curl("https://late.test/x", "t2"),
        ],
    );
    assert!(out[1].stdout.contains("did not record"), "the prompt had no room: {:?}", out[1]);
    assert_eq!(kinds(&events), ["call", "result t1", "call"], "{events:?}");
    assert_eq!(decision(&out[3]), "ask", "{:?}", out[3]);
}

/// The output of a call aecl never decided, on a full disk, whose whole does not fit: its
/// start is recorded in what room the session still keeps (here what the last call left),
/// and the session fails closed (`expired` first). When not even that fits, an `expired`
/// event alone is appended (`report.rs`).
#[test]
fn an_output_of_a_call_never_decided_on_a_full_disk_still_fails_the_session_closed() {
    let root = temp_dir();
    policy(root.path());
    let (out, events) = on_a_small_disk(
        root.path(),
        &[
            curl("https://fine.test/y", "t0"),
            Step::Hook(post("t0", "nothing")),
            Step::Fill,
            Step::Hook(post(
                "never-decided",
                &format!("see https://x.test/y {}", "z".repeat(200_000)),
            )),
            Step::Free,
            curl("https://other.test/z", "t3"),
        ],
    );
    assert_eq!(out[2].code, Some(0), "{:?}", out[2]);
    assert!(out[2].stdout.contains("could not be recorded"), "{:?}", out[2]);
    assert_eq!(kinds(&events)[..3], ["call", "result t0", "expired"], "{events:?}");
    assert_eq!(decision(&out[3]), "ask", "untraceable values are untrusted now: {:?}", out[3]);
}
