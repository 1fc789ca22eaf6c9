//! `aecl replay --record DB --key KEY`: the trace goes through the engine instead of an
//! in-memory replayer, so every event and decision lands in the store and its signed audit
//! log, exactly as live traffic would. Nothing is executed: calls are evaluated, and the
//! trace's results are recorded as the agent's own.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use aecl_audit::SignerKey;
use aecl_audit::redact::FieldPath;
use aecl_engine::{Engine, EngineConfig, SystemClock};
use aecl_policy::replay::Decided;
use aecl_policy::trace::{TraceEvent, parse_event};
use aecl_store::{AnyStore, AuditConfig, StoreUrl};
use anyhow::{Context, Result, anyhow};

use crate::keys::read_key_text;

/// Reads the secret key that signs checkpoints.
pub fn signer(path: &Path) -> Result<SignerKey> {
    let text = read_key_text(&path.display().to_string())?;
    SignerKey::parse(&text).with_context(|| {
        format!("`{}` is not a secret key (make one with `aecl keys generate`)", path.display())
    })
}

pub fn record(
    loaded: aecl_policy::LoadedPolicy,
    db: &str,
    key: &Path,
    default_agent: Option<&str>,
    name: &str,
    mut input: Box<dyn BufRead>,
) -> Result<ExitCode> {
    let signer = signer(key)?;
    let redact = loaded
        .audit_redact
        .iter()
        .map(|path| FieldPath::parse(path).with_context(|| format!("redact path `{path}`")))
        .collect::<Result<Vec<_>>>()?;
    let config = EngineConfig { redact, ..EngineConfig::default() };
    let audit = AuditConfig { origin: signer.name().to_owned(), signer, publish: None };
    let url = StoreUrl::parse(db).with_context(|| format!("`{db}` is not a store"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = AnyStore::open(&url, audit).await.with_context(|| format!("opening `{db}`"))?;
        let engine = Engine::new(Arc::new(store), Arc::new(loaded.policy), Arc::new(SystemClock), config);
        engine.recover().await?;
        let mut agents: HashMap<String, String> = HashMap::new();
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut line = String::new();
        let mut number = 0;
        loop {
            line.clear();
            if input.read_line(&mut line).with_context(|| format!("reading `{name}`"))? == 0 {
                break;
            }
            number += 1;
            if line.trim().is_empty() {
                continue;
            }
            let event = parse_event(&line, number).map_err(|e| anyhow!("{name}: {e}"))?;
            let agent_of = |run: &str, agents: &HashMap<String, String>| {
                agents.get(run).cloned().or_else(|| default_agent.map(str::to_owned)).ok_or_else(|| {
                    anyhow!("{name}:{number}: run `{run}` has no agent: give it a `run` event with `agent`, or pass --agent")
                })
            };
            match event {
                TraceEvent::Run { run, agent, goal, scope } => {
                    let agent = match agent {
                        Some(agent) => agent,
                        None => agent_of(&run, &agents)?,
                    };
                    engine.open_run(&run, &agent, goal, scope).await?;
                    agents.insert(run, agent);
                }
                TraceEvent::User { run, text } => {
                    let agent = agent_of(&run, &agents)?;
                    engine.record_user(&run, &agent, &text).await?;
                }
                TraceEvent::Call(call) => {
                    let agent = match &call.agent {
                        Some(agent) => agent.clone(),
                        None => agent_of(&call.run, &agents)?,
                    };
                    agents.entry(call.run.clone()).or_insert_with(|| agent.clone());
                    let decided = engine.evaluate(call.to_call(&agent)).await?;
                    let decided = Decided { call: decided.call, verdict: decided.verdict };
                    serde_json::to_writer(&mut out, &aecl_protocol::DecisionLine::from(&decided))?;
                    out.write_all(b"\n")?;
                }
                TraceEvent::Result { run, id, output } => {
                    let agent = agent_of(&run, &agents)?;
                    engine.record_result(&run, &agent, &id, output).await?;
                }
                TraceEvent::Untrusted { run, source, content, read } => {
                    let agent = agent_of(&run, &agents)?;
                    if read {
                        engine.record_untrusted_read(&run, &agent, &source, content).await?;
                    } else {
                        engine.record_untrusted(&run, &agent, &source, content).await?;
                    }
                }
                // The engine decides every call again; what it got live is history.
                TraceEvent::Decided { .. } | TraceEvent::End { .. } | TraceEvent::Expired { .. } => {}
            }
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    })
}
