//! The crash test: a child process (this test binary, re-executed in worker mode) appends
//! records and executes effects from 16 concurrent tasks and is killed with SIGKILL at
//! random points, again and again. After every restart the log verifies, no acknowledged
//! decision is missing, effects left in flight read `outcome_unknown` with the reason,
//! and no effect was executed twice, although every round retries keys that earlier rounds
//! executed or left in flight.
//!
//! It proves the invariant "one durable commit per call" (ARCHITECTURE.md): a write's
//! answer comes once its decision is durable (its outcome may still be lost, and then
//! recovery finds it in flight), and a read's answer comes once its decision and outcome
//! both are, committed together (the read runs while its decision is held, as `aecl serve`
//! runs reads on SQLite). Odd rounds run
//! with caller commits (`sqlite/writer.rs`), even ones through the writer thread alone.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aecl_audit::{AuditRecord, RecordKind, verify_log};
use aecl_core::Call;
use aecl_engine::{
    BoxFuture, Connector, ConnectorOutcome, EffectState, Engine, EngineConfig, Invocation, Store,
    SystemClock,
};
use aecl_store::SqliteStore;
use serde_json::json;

use crate::support::{audit_config, verifier};

const WORKER_ENV: &str = "AECL_CRASH_WORKER_DIR";
const CALLER_COMMITS_ENV: &str = "AECL_CRASH_CALLER_COMMITS";
const ROUNDS: u64 = 24;
const TASKS: usize = 16;
const KEYS: usize = 4_000;

/// Executes a call by appending its key to `effects.log` and syncing it: the outside world,
/// which a second execution would visibly change.
struct FileEffects(PathBuf);

impl Connector for FileEffects {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        let call = invocation.call;
        Box::pin(async move {
            if call.action == "get_record" {
                // A read changes nothing: nothing to execute twice.
                return ConnectorOutcome::Succeeded {
                    result: call.args.clone(),
                    rollback_token: None,
                };
            }
            let key = call.idempotency_key.clone().unwrap_or_default();
            let written =
                std::fs::OpenOptions::new().create(true).append(true).open(&self.0).and_then(
                    |mut file| {
                        file.write_all(format!("{key}\n").as_bytes())?;
                        file.sync_data()
                    },
                );
            // A slow target: a kill often lands while effects are in flight.
            tokio::time::sleep(Duration::from_millis(3)).await;
            match written {
                Ok(()) => ConnectorOutcome::Succeeded {
                    result: json!({"key": key}),
                    rollback_token: None,
                },
                Err(e) => ConnectorOutcome::Failed { error: e.to_string() },
            }
        })
    }
}

fn key_call(task: usize, key: usize) -> Call {
    Call {
        id: format!("c{key}-{}", std::process::id()),
        agent: "worker".into(),
        run: format!("run-{task}"),
        action: "put_record".into(),
        args: json!({"id": format!("k{key}"), "value": 1}),
        idempotency_key: Some(format!("k{key}")),
        ..Call::default()
    }
}

/// A read of key `key`: no idempotency key (a read may run again), an id of its own.
fn read_call(task: usize, key: usize, n: usize) -> Call {
    Call {
        id: format!("r{key}-{n}-{}", std::process::id()),
        agent: "worker".into(),
        run: format!("run-{task}"),
        action: "get_record".into(),
        args: json!({"id": format!("k{key}")}),
        ..Call::default()
    }
}

/// `put_record` (a write) and `get_record` (a read: no effect on the world).
fn policy() -> Arc<aecl_core::Policy> {
    let manifest = "agent_id = \"worker\"\nallowed_actions = [\"put_record\", \"get_record\"]\n\
                    max_tool_calls_per_run = 1000000\n";
    aecl_testkit::policy::load(manifest, aecl_testkit::policy::READ_AND_WRITE)
}

fn open_engine(dir: &Path) -> Engine<SqliteStore> {
    let store = SqliteStore::open(&dir.join("aecl.db"), audit_config()).unwrap();
    // Odd rounds commit on the callers' threads when the writer is idle (`aecl mcp` over
    // stdio does): the same guarantees must hold either way.
    store.set_caller_commits(std::env::var_os(CALLER_COMMITS_ENV).is_some_and(|v| v == "1"));
    // As `aecl serve` and `aecl mcp` run on SQLite: reads commit their decision with their
    // outcome (held until then).
    let config =
        EngineConfig { node: "n1".into(), joint_read_commits: true, ..EngineConfig::default() };
    Engine::new(Arc::new(store), policy(), Arc::new(SystemClock), config)
}

/// Worker mode: recover, then execute keys until killed, printing `ACK <seq> <key>` for
/// every write the engine acknowledged (`<seq>`: its decision record) and `READ <id>` for
/// every read it answered.
fn worker(dir: &Path, offset: usize) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let engine = Arc::new(open_engine(dir));
        engine.recover().await.unwrap();
        let connector = Arc::new(FileEffects(dir.join("effects.log")));
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let (engine, connector) = (engine.clone(), connector.clone());
            tasks.push(tokio::spawn(async move {
                // Each round starts elsewhere, so it retries keys of earlier rounds too.
                for n in 0.. {
                    let key = (offset + task + n * TASKS) % KEYS;
                    let line = if n % 3 == 2 {
                        let call = read_call(key % TASKS, key, n);
                        let id = call.id.clone();
                        let done = engine.execute(call, connector.as_ref()).await.unwrap();
                        assert_eq!(done.decided.verdict.decision, aecl_core::Decision::Allow);
                        format!("READ {id}")
                    } else {
                        let call = key_call(key % TASKS, key);
                        let done = engine.execute(call, connector.as_ref()).await.unwrap();
                        format!("ACK {} k{key}", done.decided.audit_seq)
                    };
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{line}").unwrap();
                    out.flush().unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// A small deterministic generator: the kill points differ per round but not per run.
fn lcg(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_executes_nothing_twice() {
    if let Ok(dir) = std::env::var(WORKER_ENV) {
        let offset = std::env::var("AECL_CRASH_OFFSET").unwrap().parse().unwrap();
        return worker(Path::new(&dir), offset);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut reads: Vec<String> = Vec::new();
    let mut seed = 0x00ae_c1c0_ffee;
    let mut in_flight_recovered = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash::sigkill_at_random_points_loses_nothing_and_executes_nothing_twice",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WORKER_ENV, dir.path())
            .env("AECL_CRASH_OFFSET", (lcg(&mut seed) as usize % KEYS).to_string())
            .env(CALLER_COMMITS_ENV, if round % 2 == 1 { "1" } else { "" })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_ack, started) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let (mut lines, mut reads) = (Vec::new(), Vec::new());
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                // A line cut by the kill has no newline: it was never acknowledged.
                if let Some(rest) = line.strip_suffix('\n').and_then(|l| l.strip_prefix("ACK "))
                    && let Some((seq, key)) = rest.split_once(' ')
                {
                    lines.push((seq.parse::<u64>().unwrap(), key.to_owned()));
                    if lines.len() == 1 {
                        let _ = first_ack.send(());
                    }
                } else if let Some(id) =
                    line.strip_suffix('\n').and_then(|l| l.strip_prefix("READ "))
                {
                    reads.push(id.to_owned());
                }
                line.clear();
            }
            (lines, reads)
        });
        // Kill only once the worker has recovered and acknowledged a call, however slow the
        // machine is, so that every round proves progress; then somewhere in its stride.
        let acknowledged = started.recv_timeout(Duration::from_secs(120)).is_ok();
        std::thread::sleep(Duration::from_millis(lcg(&mut seed) % 350));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (round_acks, round_reads) = reader.join().unwrap();
        assert!(acknowledged && !round_acks.is_empty(), "round {round} acknowledged nothing");
        acked.extend(round_acks);
        reads.extend(round_reads);
        in_flight_recovered += check(dir.path(), &acked, &reads);
    }
    assert!(reads.len() > 100, "too few reads to prove anything: {}", reads.len());
    assert!(
        acked.len() > 500,
        "the worker made too little progress to prove anything: {}",
        acked.len()
    );
    assert!(in_flight_recovered > 0, "no kill landed while an effect was in flight");
}

/// Restarts the engine as the next worker would, then checks every guarantee. Returns how
/// many effects recovery found in flight.
fn check(dir: &Path, acked: &[(u64, String)], reads: &[String]) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let engine = open_engine(dir);
        let recovered = engine.recover().await.unwrap();
        assert!(
            recovered
                .iter()
                .all(|e| matches!(e.state, EffectState::OutcomeUnknown | EffectState::Failed))
        );
        let store = engine.store();

        let stored = store.audit_records(0, usize::MAX).await.unwrap();
        let report =
            verify_log(stored.clone(), &store.audit_checkpoints().await.unwrap(), &verifier());
        assert_eq!(report.problem, None, "the log does not verify after a kill");
        // Recovery's `outcome_unknown` and what a retry then found tell of one execution.
        let mut story = aecl_engine::story::Story::new();
        stored.iter().for_each(|(_, bytes, _)| story.read_canonical(bytes));
        assert_eq!(story.finish(), Vec::new(), "the log's story after a kill");

        for (seq, key) in acked {
            let (_, bytes, _) = stored
                .get(*seq as usize)
                .unwrap_or_else(|| panic!("acknowledged record {seq} is missing"));
            let record = AuditRecord::from_canonical(bytes).unwrap();
            assert_eq!(
                (record.kind, record.input["id"].as_str()),
                (RecordKind::Decision, Some(key.as_str()))
            );
        }

        // A read was answered only once its decision and its outcome were both durable.
        let mut recorded: BTreeMap<String, (bool, bool)> = BTreeMap::new();
        for (_, bytes, _) in &stored {
            let record = AuditRecord::from_canonical(bytes).unwrap();
            let seen = recorded.entry(record.call_id.clone()).or_default();
            match record.kind {
                RecordKind::Decision => seen.0 = true,
                RecordKind::Outcome => seen.1 = true,
                _ => {}
            }
        }
        for id in reads {
            assert_eq!(recorded.get(id), Some(&(true, true)), "answered read {id} lost a record");
        }

        let log = std::fs::read_to_string(dir.join("effects.log")).unwrap_or_default();
        let mut executed: BTreeMap<&str, usize> = BTreeMap::new();
        for key in log.lines() {
            *executed.entry(key).or_default() += 1;
        }
        let twice: Vec<_> = executed.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "executed more than once: {twice:?}");

        // Every execution has its ledger entry, ended; every success executed.
        let db = rusqlite::Connection::open(dir.join("aecl.db")).unwrap();
        let mut stmt = db
            .prepare("SELECT idempotency_key, state FROM effects WHERE action = 'put_record'")
            .unwrap();
        let ledger: BTreeMap<String, String> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // Every effect found in flight, write or read, says why it is unknown.
        let unexplained: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM effects WHERE state IN ('pending', 'dispatched')
                     OR (state = 'outcome_unknown' AND COALESCE(error, '') = '')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(unexplained, 0, "effects in flight or unknown without their evidence");
        for key in executed.keys() {
            let state =
                ledger.get(*key).unwrap_or_else(|| panic!("{key} executed without a ledger entry"));
            assert!(
                state == "succeeded" || state == "outcome_unknown",
                "{key} executed but reads {state}"
            );
        }
        for (key, state) in &ledger {
            assert!(
                state != "pending" && state != "dispatched",
                "{key} still reads {state} after recovery"
            );
            if state == "succeeded" {
                assert!(
                    executed.contains_key(key.as_str()),
                    "{key} reads succeeded but never executed"
                );
            }
        }
        recovered.len()
    })
}
