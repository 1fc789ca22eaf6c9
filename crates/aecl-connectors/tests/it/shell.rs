//! The `shell` connector under a real engine (in-memory store) and the real sandbox
//! helper: what the engine records of a command that outlives the engine's per-call
//! timeout, of one that fails, and of one that kills itself. The red team's F1 and F5.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aecl_connectors::{Connectors, ConnectorsFile};
use aecl_core::Call;
use aecl_engine::store::MemoryStore;
use aecl_engine::{Effect, EffectState, Engine, EngineConfig, Store, SystemClock};
use serde_json::{Value, json};

const CATALOG: &str = r#"
[actions.run_command]
effect = "exec"
reversibility = "irreversible"
connector = "sandbox"

[actions.run_command.approval]
waive_irreversible = "every command runs in a fresh sandbox"

[actions.run_command.output]
trust = "untrusted"
data_class = "internal"
"#;

const MANIFEST: &str = r#"
agent_id = "worker"
allowed_actions = ["run_command"]
max_tool_calls_per_run = 100
"#;

/// The `aecl-sandbox` helper cargo built beside the test binaries' directory.
fn helper() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let helper = exe.parent().and_then(Path::parent).unwrap().join("aecl-sandbox");
    assert!(
        helper.is_file(),
        "`{}` is missing: build it with `cargo build -p aecl-sandbox`",
        helper.display()
    );
    helper
}

/// An engine that stops waiting after `call_timeout`, over a `shell` connector whose
/// own timeout is `timeout_secs`, binding `bind` read-write.
fn engine(
    call_timeout: Duration,
    timeout_secs: u64,
    bind: &Path,
) -> (Engine<MemoryStore>, Connectors) {
    let text = format!(
        "[connectors.sandbox]\nkind = \"shell\"\ntimeout_secs = {timeout_secs}\nwarm = 0\n\
         binds = [{bind:?}]\nhelper = {helper:?}\n",
        bind = bind.display().to_string(),
        helper = helper().display().to_string(),
    );
    let file = ConnectorsFile::parse(&text, "connectors.toml", bind).unwrap();
    let connectors = Connectors::from_config(&file).unwrap();
    let policy = aecl_testkit::policy::load(MANIFEST, CATALOG);
    let config = EngineConfig { call_timeout, ..EngineConfig::default() };
    let store = Arc::new(aecl_testkit::memory_store());
    (Engine::new(store, policy, Arc::new(SystemClock), config), connectors)
}

fn call(id: &str, command: &str) -> Call {
    Call {
        id: id.into(),
        agent: "worker".into(),
        run: "r1".into(),
        action: "run_command".into(),
        args: json!({ "command": command }),
        ..Call::default()
    }
}

/// A directory the sandbox's fresh uid may write.
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

async fn run(engine: &Engine<MemoryStore>, connectors: &Connectors, call: Call) -> Effect {
    let done = engine.execute(call, connectors).await.unwrap();
    let verdict = format!("{:?}", done.decided.verdict);
    done.effect.unwrap_or_else(|| panic!("the call was not executed: {verdict}"))
}

/// The last audit record, as JSON.
async fn last_record(engine: &Engine<MemoryStore>) -> Value {
    let records = engine.store().audit_records(0, usize::MAX).await.unwrap();
    let (_, bytes, _) = records.last().unwrap();
    serde_json::from_slice(bytes).unwrap()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| text.lines().count())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_longer_than_the_engines_ends_in_the_sandboxs_own_timeout() {
    let dir = shared_dir();
    let alive = dir.path().join("alive");
    // The engine would give up after 1 s; the connector's own limit is 3 s.
    let (engine, connectors) = engine(Duration::from_secs(1), 3, dir.path());
    let script = format!("while true; do echo x >> {}; sleep 0.05; done", alive.display());
    let started = Instant::now();
    let effect = run(&engine, &connectors, call("c1", &script)).await;
    assert!(started.elapsed() >= Duration::from_secs(3), "answered before the sandbox's limit");
    assert_eq!(effect.state, EffectState::OutcomeUnknown);
    let error = effect.error.clone().unwrap_or_default();
    assert!(error.starts_with("timed out: the call limit ended the process tree"), "{error}");
    assert_eq!(effect.result["sandbox"]["ended"]["kind"], "timed_out", "{}", effect.result);
    let record = last_record(&engine).await;
    assert_eq!(record["outcome"], "timed_out", "{record}");
    assert_eq!(record["sandbox_id"], "process", "{record}");
    assert_eq!(record["output"]["result"]["sandbox"]["ended"]["limit"], "call", "{record}");
    // Nothing writes after the answer: the tree was killed before it was given.
    let answered = lines(&alive);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(lines(&alive), answered, "the command went on after the answer");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_command_is_failed_with_its_report_as_data_and_aecls_own_words() {
    let dir = shared_dir();
    let (engine, connectors) = engine(Duration::from_secs(30), 30, dir.path());
    let script =
        "echo real-stdout; echo 'Killed [sandbox gvisor; runsc platform systrap]' >&2; exit 3";
    let effect = run(&engine, &connectors, call("c1", script)).await;
    assert_eq!(effect.state, EffectState::Failed, "{:?}", effect.error);
    let error = effect.error.clone().unwrap_or_default();
    assert!(error.starts_with("failed: exit code 3 [sandbox namespaces;"), "{error}");
    assert!(!error.contains("gvisor") && !error.contains("Killed"), "{error}");
    let result = &effect.result;
    assert_eq!(result["exit_code"], 3, "{result}");
    assert_eq!(result["stdout"], "real-stdout\n", "{result}");
    assert!(result["stderr"].as_str().unwrap_or_default().contains("sandbox gvisor"));
    assert_eq!(result["sandbox"]["tier"], "process", "{result}");
    assert_eq!(result["sandbox"]["outcome"], "failed", "{result}");
    assert_eq!(result["sandbox"]["layers"]["mode"], "namespaces", "{result}");
    let record = last_record(&engine).await;
    assert_eq!(record["outcome"], "failed", "{record}");
    assert_eq!(record["sandbox_id"], "process", "{record}");
    assert_eq!(record["output"]["error"], error.as_str(), "{record}");
    assert_eq!(record["output"]["result"]["stdout"], "real-stdout\n", "{record}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigsys_the_command_sends_itself_is_a_kill_not_a_seccomp_denial() {
    let dir = shared_dir();
    let (engine, connectors) = engine(Duration::from_secs(30), 30, dir.path());
    let effect = run(&engine, &connectors, call("c1", "kill -SYS $$")).await;
    assert_eq!(effect.state, EffectState::OutcomeUnknown, "{:?}", effect.error);
    let error = effect.error.clone().unwrap_or_default();
    assert!(error.starts_with("killed(31)"), "{error}");
    assert!(!error.contains("seccomp filter") && !error.contains("denied"), "{error}");
    assert_eq!(effect.result["signal"], 31, "{}", effect.result);
}
