//! `aecl replay`: one JSON line per call, `--summary`, `--diff`, bad lines named by number,
//! standard input, and memory that does not grow with the length of the trace.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use serde_json::{Value, json};

use crate::{Outcome, aecl, copy_dir, finance, repo, run, run_with_stdin, temp_dir, write};

fn demo_trace() -> PathBuf {
    repo("examples/traces/finance-vendor-email.jsonl")
}

fn replay(policy: &Path, trace: &Path, extra: &[&str]) -> Outcome {
    let mut args: Vec<OsString> = vec!["replay".into(), "--policy".into(), policy.into()];
    args.extend(extra.iter().map(OsString::from));
    args.push(trace.into());
    run(args)
}

/// The JSON values of the output lines.
fn json_lines(out: &Outcome) -> Vec<Value> {
    out.lines().iter().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

fn keys(line: &Value) -> BTreeSet<&str> {
    line.as_object().expect("a JSON object").keys().map(String::as_str).collect()
}

const LINE_KEYS: [&str; 8] =
    ["id", "run", "action", "decision", "mode", "reasons", "risk", "policy_revision"];

#[test]
fn one_line_per_call_with_exactly_the_documented_keys() {
    let out = replay(&finance(), &demo_trace(), &[]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let lines = json_lines(&out);
    let expected: BTreeSet<&str> = LINE_KEYS.into_iter().collect();
    for line in &lines {
        assert_eq!(keys(line), expected, "{line}");
        assert_eq!(line["run"], "r-2041");
        assert_eq!(line["mode"], "enforce");
    }
    let calls: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap(),
                l["action"].as_str().unwrap(),
                l["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("c1", "read_invoice", "allow"),
            ("c2", "read_email", "allow"),
            ("c3", "transfer_funds", "require_approval")
        ]
    );
    let last_rules: Vec<&str> = lines[2]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(last_rules.contains(&"data_flow.untrusted_control_argument"), "{last_rules:?}");
}

#[test]
fn idempotent_repeat_carries_replay_of() {
    let dir = temp_dir();
    let call = |id: &str| {
        json!({
            "type": "call", "run": "r1", "id": id, "action": "send_payment_summary",
            "idempotency_key": "k-1",
            "args": {"to": "finance-team@ourco.example", "body": "3 invoices paid"},
        })
    };
    let trace =
        [json!({"type": "run", "run": "r1", "agent": "finance_agent"}), call("c1"), call("c2")];
    let text: String = trace.iter().map(|e| format!("{e}\n")).collect();
    let path = write(dir.path(), "trace.jsonl", &text);
    let out = replay(&finance(), &path, &[]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{out:#?}");
    let plain: BTreeSet<&str> = LINE_KEYS.into_iter().collect();
    assert_eq!(keys(&lines[0]), plain);
    assert_eq!(lines[0]["decision"], "allow");
    let mut repeated = plain.clone();
    repeated.insert("replay_of");
    assert_eq!(keys(&lines[1]), repeated);
    assert_eq!(lines[1]["replay_of"], "c1");
    assert_eq!(lines[1]["decision"], "allow");
}

#[test]
fn summary_counts_calls_decisions_actions_and_rules() {
    let out = replay(&finance(), &demo_trace(), &["--summary"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let summary: Value = serde_json::from_str(&out.stdout).expect("the summary is JSON");
    assert_eq!(summary["calls"], 3);
    assert_eq!(summary["decisions"], json!({"allow": 2, "require_approval": 1}));
    assert_eq!(
        summary["actions"],
        json!({
            "read_email": {"allow": 1},
            "read_invoice": {"allow": 1},
            "transfer_funds": {"require_approval": 1},
        })
    );
    assert_eq!(summary["rules"]["data_flow.untrusted_control_argument"], 2);
    assert_eq!(summary["rules"]["manifest.context_rules"], 1);
    assert_eq!(summary["rules"]["cedar:large-amount-after-untrusted-read"], 1);
}

#[test]
fn diff_prints_only_calls_whose_decision_differs() {
    let dir = temp_dir();
    let other = dir.path().join("finance-blocking-transfers");
    copy_dir(&finance(), &other);
    let manifest = other.join("agents/finance_agent.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    let blocked = "blocked_actions = [\"transfer_funds\", ";
    let changed = text.replacen("blocked_actions = [", blocked, 1);
    assert_ne!(changed, text, "the manifest has a `blocked_actions` list");
    fs::write(&manifest, changed).unwrap();

    let out = replay(&finance(), &demo_trace(), &["--diff", other.to_str().unwrap()]);
    // Like diff(1): a decision that differs exits 1, so CI can gate on it.
    assert_eq!(out.code, Some(1), "{out:#?}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{out:#?}");
    let line = &lines[0];
    assert_eq!(line["id"], "c3");
    assert_eq!(line["action"], "transfer_funds");
    assert_eq!(line["decision"], "require_approval");
    assert_eq!(line["other_decision"], "block");
    let other_rules: Vec<&str> = line["other_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(other_rules.contains(&"manifest.blocked_actions"), "{other_rules:?}");

    // Against an identical copy nothing differs.
    let same = dir.path().join("finance-copy");
    copy_dir(&finance(), &same);
    let out = replay(&finance(), &demo_trace(), &["--diff", same.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "", "{out:#?}");
}

#[test]
fn diff_with_summary_prints_the_differing_calls_then_counts_and_exits_1() {
    let dir = temp_dir();
    let other = dir.path().join("finance-blocking-transfers");
    copy_dir(&finance(), &other);
    let manifest = other.join("agents/finance_agent.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(
        &manifest,
        text.replacen("blocked_actions = [", "blocked_actions = [\"transfer_funds\", ", 1),
    )
    .unwrap();

    let out = replay(&finance(), &demo_trace(), &["--diff", other.to_str().unwrap(), "--summary"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let values: Vec<Value> = serde_json::Deserializer::from_str(&out.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("JSON values");
    assert_eq!(values.len(), 2, "one differing call, then the summary: {out:#?}");
    assert_eq!(values[0]["id"], "c3");
    assert_eq!(values[0]["other_decision"], "block");
    let summary = &values[1];
    assert_eq!(summary["calls"], 3);
    assert_eq!(summary["decisions"], json!({"allow": 2, "require_approval": 1}));
    assert_eq!(
        summary["diff"],
        json!({
            "differing_calls": 1,
            "changes": {"require_approval -> block": 1},
            "actions": {"transfer_funds": 1},
        })
    );

    // Nothing differs against a copy: exit 0, and the summary says so.
    let same = dir.path().join("finance-copy");
    copy_dir(&finance(), &same);
    let out = replay(&finance(), &demo_trace(), &["--diff", same.to_str().unwrap(), "--summary"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let summary: Value = serde_json::from_str(&out.stdout).expect("only the summary");
    assert_eq!(summary["diff"]["differing_calls"], 0);
}

/// Progress goes to a terminal only: through a pseudo-terminal (`script`) the bar is
/// drawn on standard error, piped nothing is added to either stream.
#[test]
fn progress_is_shown_on_a_terminal_and_never_when_piped() {
    let dir = temp_dir();
    let trace = dir.path().join("trace.jsonl");
    write_short_runs(&trace, 200);

    let piped = replay(&finance(), &trace, &["--summary"]);
    assert_eq!(piped.code, Some(0), "{piped:#?}");
    assert!(piped.stderr.is_empty(), "{piped:#?}");
    assert!(serde_json::from_str::<Value>(&piped.stdout).is_ok(), "{piped:#?}");

    let command = format!(
        "{} replay --policy {} --summary {} > {}",
        env!("CARGO_BIN_EXE_aecl"),
        finance().display(),
        trace.display(),
        dir.path().join("summary.json").display()
    );
    let transcript = dir.path().join("transcript");
    let status = Command::new("script")
        .args(["--quiet", "--return", "--command", &command])
        .arg(&transcript)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("running `script` (util-linux)");
    assert!(status.success(), "{status:?}");
    let drawn = fs::read_to_string(&transcript).unwrap();
    assert!(drawn.contains("replaying"), "{drawn:?}");
    let summary = fs::read_to_string(dir.path().join("summary.json")).unwrap();
    assert!(!summary.contains("replaying"), "{summary}");
    assert!(serde_json::from_str::<Value>(&summary).is_ok(), "{summary}");
}

#[test]
fn bad_trace_line_exits_2_naming_its_number() {
    // Two good lines and a blank one, then the bad line: line 4.
    let good =
        "{\"type\":\"run\",\"run\":\"r1\"}\n{\"type\":\"user\",\"run\":\"r1\",\"text\":\"hi\"}\n\n";
    let bad_lines = [
        ("invalid JSON", "{\"type\":\"user\",\"run\":\"r1\",\"text\":"),
        ("unknown field", "{\"type\":\"user\",\"run\":\"r1\",\"txt\":\"hi\"}"),
        ("wrong type", "{\"type\":\"user\",\"run\":\"r1\",\"text\":5}"),
        ("unknown event type", "{\"type\":\"tool\",\"run\":\"r1\"}"),
        (
            "call without agent",
            "{\"type\":\"call\",\"run\":\"r1\",\"id\":\"c1\",\"action\":\"read_email\"}",
        ),
    ];
    let dir = temp_dir();
    for (what, bad) in bad_lines {
        let path = write(dir.path(), "trace.jsonl", &format!("{good}{bad}\n{good}"));
        let out = replay(&finance(), &path, &[]);
        assert_eq!(out.code, Some(2), "{what}: {out:#?}");
        assert!(out.stderr.contains(":4:") || out.stderr.contains("line 4"), "{what}: {out:#?}");
        assert!(out.stderr.contains("trace.jsonl"), "{what}: {out:#?}");
    }
}

#[test]
fn dash_reads_the_trace_from_stdin() {
    let text = fs::read_to_string(demo_trace()).unwrap();
    let policy = finance();
    let args: [&OsStr; 4] =
        ["replay".as_ref(), "--policy".as_ref(), policy.as_os_str(), "-".as_ref()];
    let piped = run_with_stdin(args, &text);
    assert_eq!(piped.code, Some(0), "{piped:#?}");
    let from_file = replay(&finance(), &demo_trace(), &[]);
    assert_eq!(piped.stdout, from_file.stdout);
    assert_eq!(piped.lines().len(), 3);
}

/// Runs per trace, and the events of each: run, user, call, result, call, end.
const EVENTS_PER_RUN: usize = 6;

/// Writes a trace of `runs` short runs, each closed by `end`, streaming to `path`. Values
/// differ from run to run, so nothing kept by mistake across runs could be shared.
fn write_short_runs(path: &Path, runs: usize) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    for r in 0..runs {
        let iban = format!("DE{r:020}");
        writeln!(
            out,
            r#"{{"type":"run","run":"r{r}","agent":"finance_agent","goal":"pay invoice INV-{r}"}}"#
        )
        .unwrap();
        writeln!(
            out,
            r#"{{"type":"user","run":"r{r}","text":"Pay invoice INV-{r} of vendor V-118."}}"#
        )
        .unwrap();
        writeln!(
            out,
            r#"{{"type":"call","run":"r{r}","id":"c1","action":"read_invoice","args":{{"invoice_id":"INV-{r}"}}}}"#
        )
        .unwrap();
        writeln!(
            out,
            r#"{{"type":"result","run":"r{r}","id":"c1","output":{{"invoice_id":"INV-{r}","vendor":"V-118","amount":4200,"currency":"EUR","iban":"{iban}","notes":"thanks"}}}}"#
        )
        .unwrap();
        writeln!(
            out,
            r#"{{"type":"call","run":"r{r}","id":"c2","action":"transfer_funds","args":{{"vendor":"V-118","amount":4200,"currency":"EUR","iban":"{iban}"}}}}"#
        )
        .unwrap();
        writeln!(out, r#"{{"type":"end","run":"r{r}"}}"#).unwrap();
    }
    out.flush().unwrap();
}

/// Set by [`peak_rss_of_replay`] for [`peak_rss_probe`]: the trace to replay.
const PROBE_TRACE: &str = "AECL_IT_RSS_PROBE_TRACE";
/// Set by [`peak_rss_of_replay`] for [`peak_rss_probe`]: where to write what it measured.
const PROBE_REPORT: &str = "AECL_IT_RSS_PROBE_REPORT";
/// Set by [`peak_rss_of_replay_with`] for [`peak_rss_probe`]: the policy (default finance).
const PROBE_POLICY: &str = "AECL_IT_RSS_PROBE_POLICY";

/// The peak resident memory of one `aecl replay --summary` of `trace` (KiB), with its
/// summary and wall time.
///
/// `getrusage(RUSAGE_CHILDREN)` reports the largest child a process has waited for, and the
/// other tests of this binary run children at the same time, so each measurement runs in a
/// fresh copy of this test binary that runs only [`peak_rss_probe`]: its one child is the
/// replay.
fn peak_rss_of_replay(trace: &Path, report: &Path) -> (u64, Value, Duration) {
    let (rss, report, time) = peak_rss_of_replay_with(&finance(), trace, report);
    (rss, report["summary"].clone(), time)
}

/// [`peak_rss_of_replay`] under `policy`; the report also holds the replay's `stderr`.
fn peak_rss_of_replay_with(policy: &Path, trace: &Path, report: &Path) -> (u64, Value, Duration) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "replay::peak_rss_probe", "--test-threads", "1"])
        .env(PROBE_TRACE, trace)
        .env(PROBE_REPORT, report)
        .env(PROBE_POLICY, policy)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the probe failed for {}", trace.display());
    let report: Value = serde_json::from_str(&fs::read_to_string(report).unwrap()).unwrap();
    let rss = report["max_rss_kib"].as_u64().unwrap();
    let millis = report["millis"].as_u64().unwrap();
    (rss, report, Duration::from_millis(millis))
}

/// Not a test of its own: the measuring side of [`peak_rss_of_replay`], which runs it in a
/// fresh process. Run by the test harness as well, it finds no trace to measure and returns.
#[test]
fn peak_rss_probe() {
    let (Some(trace), Some(report)) =
        (std::env::var_os(PROBE_TRACE), std::env::var_os(PROBE_REPORT))
    else {
        return;
    };
    let started = Instant::now();
    let output = aecl()
        .args([
            OsString::from("replay"),
            "--summary".into(),
            "--policy".into(),
            std::env::var_os(PROBE_POLICY).unwrap_or_else(|| finance().into()),
            trace,
        ])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap();
    assert!(output.status.success(), "{output:?}");
    // On Linux `ru_maxrss` is in KiB.
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let measured = json!({"max_rss_kib": usage.max_rss(), "millis": millis, "summary": summary, "stderr": stderr});
    fs::write(report, measured.to_string()).unwrap();
}

#[test]
fn replay_memory_does_not_grow_with_trace_length() {
    const SMALL_RUNS: usize = 100_000 / EVENTS_PER_RUN + 1;
    const LARGE_RUNS: usize = 1_000_000 / EVENTS_PER_RUN + 1;
    /// What a tenfold longer trace may add to the peak: allocator noise, not per-run state.
    const MARGIN_KIB: u64 = 16 * 1024;

    let dir = temp_dir();
    let small = dir.path().join("small.jsonl");
    let large = dir.path().join("large.jsonl");
    write_short_runs(&small, SMALL_RUNS);
    write_short_runs(&large, LARGE_RUNS);

    let (small_rss, small_summary, small_time) =
        peak_rss_of_replay(&small, &dir.path().join("small.rss"));
    let (large_rss, large_summary, large_time) =
        peak_rss_of_replay(&large, &dir.path().join("large.rss"));
    // Every call was decided: two per run.
    assert_eq!(small_summary["calls"], 2 * SMALL_RUNS);
    assert_eq!(large_summary["calls"], 2 * LARGE_RUNS);
    assert_eq!(large_summary["decisions"]["allow"], LARGE_RUNS);
    assert_eq!(large_summary["decisions"]["require_approval"], LARGE_RUNS);
    assert!(
        large_rss < small_rss + MARGIN_KIB,
        "peak RSS {large_rss} KiB for {} events ({large_time:?}) against {small_rss} KiB for {} events ({small_time:?})",
        LARGE_RUNS * EVENTS_PER_RUN,
        SMALL_RUNS * EVENTS_PER_RUN,
    );
}

/// Writes a trace of `runs` runs and `calls` calls (each with a result) and no `end` event,
/// the runs interleaved so that all of them are open at once: the shape of an agent that
/// never closes its runs.
fn write_unended_runs(path: &Path, runs: usize, calls: usize) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    for r in 0..runs {
        writeln!(
            out,
            r#"{{"type":"run","run":"r{r}","agent":"finance_agent","goal":"pay invoice INV-{r}"}}"#
        )
        .unwrap();
        writeln!(
            out,
            r#"{{"type":"user","run":"r{r}","text":"Pay invoice INV-{r} of vendor V-118."}}"#
        )
        .unwrap();
    }
    for c in 0..calls {
        let r = c % runs;
        let iban = format!("DE{c:020}");
        writeln!(
            out,
            r#"{{"type":"call","run":"r{r}","id":"c{c}","action":"read_invoice","args":{{"invoice_id":"INV-{r}"}}}}"#
        )
        .unwrap();
        writeln!(
            out,
            r#"{{"type":"result","run":"r{r}","id":"c{c}","output":{{"invoice_id":"INV-{r}","vendor":"V-118","amount":4200,"currency":"EUR","iban":"{iban}","notes":"Invoice {c} for services rendered in March; pay within 30 days to the account above, reference {c}."}}}}"#
        )
        .unwrap();
    }
    out.flush().unwrap();
}

#[test]
fn replay_of_runs_that_never_end_stays_bounded_and_says_so() {
    const RUNS: usize = 22_000;
    const CALLS: usize = 80_000;
    const LIMIT_KIB: u64 = 200 * 1024;
    let dir = temp_dir();
    // The finance policy with the run bounds a small machine would choose.
    let policy = dir.path().join("policy");
    copy_dir(&finance(), &policy);
    let settings = fs::read_to_string(policy.join("policy.toml")).unwrap();
    let bounds = "\n[runs]\nmax_open_runs = 5000\nmax_state_bytes = 67108864\n";
    fs::write(policy.join("policy.toml"), settings + bounds).unwrap();
    let trace = dir.path().join("unended.jsonl");
    write_unended_runs(&trace, RUNS, CALLS);

    let (rss, report, _) = peak_rss_of_replay_with(&policy, &trace, &dir.path().join("rss"));
    assert_eq!(report["summary"]["calls"], CALLS, "{report}");
    assert!(rss < LIMIT_KIB, "peak RSS {rss} KiB for {CALLS} calls in {RUNS} unended runs");
    let stderr = report["stderr"].as_str().unwrap();
    assert!(stderr.contains("run states of runs without an `end` event to bound"), "{stderr}");
    assert!(stderr.contains("over max_open_runs = 5000"), "{stderr}");
}
