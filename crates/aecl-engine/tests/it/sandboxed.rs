//! Calls run in a sandbox: the engine waits for the connector's own deadline rather than
//! give up first, drops (so cancels) a connector it stops waiting for before it records
//! the timeout, and records a command that ran and failed as `failed`, with the sandbox's
//! report as data beside aecl's error. The red team's F1 and F5.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aecl_audit::Outcome;
use aecl_core::SandboxTier;
use aecl_engine::{
    BoxFuture, Connector, ConnectorOutcome, EffectState, EngineConfig, Invocation, Sandboxed,
};
use serde_json::{Value, json};

use crate::{call, engine_with, policy, records};

/// A sandboxed connector: runs calls in the process tier, answering `answer` after
/// `delay`, with `deadline` as its own limit; `dropped` says whether a run was dropped
/// before it answered.
struct Sandboxing {
    delay: Duration,
    deadline: Option<Duration>,
    answer: Sandboxed,
    dropped: Arc<AtomicBool>,
}

impl Sandboxing {
    fn new(delay: Duration, deadline: Option<Duration>, answer: Sandboxed) -> Sandboxing {
        Sandboxing { delay, deadline, answer, dropped: Arc::new(AtomicBool::new(false)) }
    }
}

/// Sets its flag when dropped unanswered, as a sandbox's run kills its tree.
struct KillOnDrop(Option<Arc<AtomicBool>>);

impl KillOnDrop {
    fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(dropped) = &self.0 {
            dropped.store(true, Ordering::SeqCst);
        }
    }
}

impl Connector for Sandboxing {
    fn execute<'a>(&'a self, _: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        Box::pin(async { ConnectorOutcome::Failed { error: "not sandboxed".into() } })
    }

    fn placement<'a>(
        &'a self,
        _: Invocation<'a>,
        required: SandboxTier,
    ) -> BoxFuture<'a, Result<SandboxTier, String>> {
        Box::pin(async move { Ok(required) })
    }

    /// Its deadline in the tier it places calls in only: an engine that asked for another
    /// tier's when waiting for a placed call would not wait for it (the admit stage asks
    /// for every tier's, to lease a slot for the longest).
    fn deadline(&self, _: Invocation<'_>, tier: Option<SandboxTier>) -> Option<Duration> {
        self.deadline.filter(|_| tier == Some(SandboxTier::Process))
    }

    fn execute_in<'a>(&'a self, _: Invocation<'a>, _: SandboxTier) -> BoxFuture<'a, Sandboxed> {
        let guard = KillOnDrop(Some(self.dropped.clone()));
        Box::pin(async move {
            let guard = guard;
            tokio::time::sleep(self.delay).await;
            guard.answered();
            self.answer.clone()
        })
    }
}

fn succeeded() -> Sandboxed {
    Sandboxed {
        outcome: ConnectorOutcome::Succeeded {
            result: json!({"exit_code": 0}),
            rollback_token: None,
        },
        ran_in: Some(SandboxTier::Process),
        report: None,
    }
}

fn fast_engine_timeout() -> EngineConfig {
    EngineConfig { call_timeout: Duration::from_millis(50), ..Default::default() }
}

#[tokio::test]
async fn the_engine_waits_for_a_connectors_own_longer_deadline() {
    let (engine, _) = engine_with(policy(10, ""), fast_engine_timeout());
    // Past the engine's 50 ms, within the connector's own second.
    let connector =
        Sandboxing::new(Duration::from_millis(300), Some(Duration::from_secs(1)), succeeded());
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    let effect = done.effect.unwrap();
    assert_eq!(effect.state, EffectState::Succeeded, "{:?}", effect.error);
    assert!(!connector.dropped.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_connector_the_engine_stops_waiting_for_is_cancelled_before_the_timeout_is_recorded() {
    let (engine, _) = engine_with(policy(10, ""), fast_engine_timeout());
    let connector = Sandboxing::new(Duration::from_secs(30), None, succeeded());
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    assert!(connector.dropped.load(Ordering::SeqCst), "the run was dropped, so killed");
    let effect = done.effect.unwrap();
    assert_eq!(effect.state, EffectState::OutcomeUnknown);
    let error = effect.error.unwrap_or_default();
    assert!(error.starts_with("timed out after") && error.contains("cancelled"), "{error}");
    let log = records(engine.store()).await;
    let outcome = log.last().unwrap();
    assert_eq!(outcome.outcome, Some(Outcome::TimedOut));
    // The tier it was handed to, not a bare engine timeout.
    assert_eq!(outcome.sandbox_id.as_deref(), Some("process"));
}

#[tokio::test]
async fn a_command_that_ran_and_failed_is_failed_with_its_report_beside_the_error() {
    let policy = policy(10, "");
    let (engine, _) = engine_with(policy.clone(), EngineConfig::default());
    let report = json!({
        "exit_code": 3,
        "stdout": "real-stdout IBAN GB33BUKB20201555555555",
        "stderr": "[sandbox gvisor; forged]",
        "sandbox": {"tier": "process", "outcome": "failed"},
    });
    let answer = Sandboxed {
        outcome: ConnectorOutcome::RanAndFailed { error: "failed: exit code 3".into() },
        ran_in: Some(SandboxTier::Process),
        report: Some(report.clone()),
    };
    let connector = Sandboxing::new(Duration::ZERO, None, answer);
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    let effect = done.effect.unwrap();
    assert_eq!(effect.state, EffectState::Failed);
    assert_eq!(effect.error.as_deref(), Some("failed: exit code 3"));
    assert_eq!(effect.result, report);
    let log = records(engine.store()).await;
    let outcome = log.last().unwrap();
    assert_eq!(outcome.outcome, Some(Outcome::Failed));
    assert_eq!(outcome.output["error"], "failed: exit code 3");
    assert_eq!(outcome.output["result"], report);
    assert_eq!(outcome.sandbox_id.as_deref(), Some("process"));
    // It ran: its amount stays spent; and what it printed is untrusted output.
    let snapshot = aecl_engine::Store::load_run(&**engine.store(), "r1").await.unwrap();
    let state = aecl_engine::run_event::rebuild(&policy, "r1", &snapshot.events).unwrap();
    assert!((state.amount_spent - 1.0).abs() < f64::EPSILON, "{}", state.amount_spent);
    assert!(matches!(
        state.provenance_of("GB33BUKB20201555555555"),
        aecl_core::provenance::Provenance::UntrustedOnly { .. }
    ));
}

#[tokio::test]
async fn a_failure_before_anything_ran_gives_its_budget_back() {
    let policy = policy(10, "");
    let (engine, _) = engine_with(policy.clone(), EngineConfig::default());
    let answer = Sandboxed::unstarted(ConnectorOutcome::Failed { error: "setup: no".into() });
    let connector = Sandboxing::new(Duration::ZERO, None, answer);
    let done = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    let effect = done.effect.unwrap();
    assert_eq!((effect.state, effect.result), (EffectState::Failed, Value::Null));
    let snapshot = aecl_engine::Store::load_run(&**engine.store(), "r1").await.unwrap();
    let state = aecl_engine::run_event::rebuild(&policy, "r1", &snapshot.events).unwrap();
    assert_eq!(state.amount_spent, 0.0);
}
