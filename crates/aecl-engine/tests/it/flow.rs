//! The execute flow: decision before dispatch, the effect ledger around it, idempotent
//! retries, budgets released on failure, limits from policy, run ownership. (Moved from
//! `aecl-store`'s engine tests, where only backend-specific cases stay.)

use std::sync::Arc;

use aecl_audit::RecordKind;
use aecl_core::Decision;
use aecl_engine::{ConnectorOutcome, EffectState, EngineError, Store};
use serde_json::json;

use crate::{Scripted, call, engine, policy, policy_with, records};

#[tokio::test]
async fn an_allowed_call_is_recorded_before_and_after_it_executes() {
    let (engine, _) = engine(policy(10, ""));
    let connector = Scripted::default();
    let done = engine.execute(call("r1", "c1", Some("k1")), &connector).await.unwrap();
    assert_eq!(done.decided.verdict.decision, Decision::Allow);
    let effect = done.effect.unwrap();
    assert_eq!(effect.state, EffectState::Succeeded);
    assert!(!done.replayed);

    let log = records(engine.store()).await;
    let kinds: Vec<_> = log.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RecordKind::Decision, RecordKind::Outcome]);
    assert_eq!(log[0].call_id, "c1");
    assert_eq!(log[1].effect_id.as_deref(), Some(effect.id.as_str()));
    assert_eq!(log[1].rollback_token, Some(format!("undo:{}", effect.id)));
    // The connector's result is redacted in the audit log and in the ledger.
    let output = log[1].output.to_string();
    assert!(!output.contains("abcdefghijklmnopqrstuvwxyz012345"), "{output}");
    assert!(!effect.result.to_string().contains("abcdefghijklmnopqrstuvwxyz012345"));
    // The ledger holds what the answer says.
    let stored = engine.store().effect(&effect.id).await.unwrap().unwrap();
    assert_eq!(stored.state, EffectState::Succeeded);
}

/// Connector errors and rollback tokens are free text outside any JSON payload: they may
/// quote the call's arguments or a server's answer. Every secret in them is redacted in
/// the audit log, and in the ledger's error; the ledger keeps the token the undo needs.
#[tokio::test]
async fn secrets_in_a_connectors_error_and_rollback_token_never_reach_the_audit_log() {
    let secrets = [
        "Bearer abcdefghijklmnopqrstuvwxyz012345",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "https://admin:hunter2hunter2@db.example/x",
        "password=correct-horse-battery",
    ];
    let error = format!("write failed for notes/{}: {}", secrets[2], secrets.join(" "));
    let (engine, _) = engine(policy(10, ""));
    let failing = Scripted::answering(ConnectorOutcome::Failed { error });
    let done = engine.execute(call("r1", "c1", Some("k1")), &failing).await.unwrap();
    let effect = done.effect.unwrap();
    assert_eq!(effect.state, EffectState::Failed);

    let token = format!("path=notes/token={}.md", secrets[2]);
    let landed = Scripted::answering(ConnectorOutcome::Succeeded {
        result: json!({}),
        rollback_token: Some(token.clone()),
    });
    let done = engine.execute(call("r1", "c2", Some("k2")), &landed).await.unwrap();
    let written = done.effect.unwrap();

    let log = records(engine.store()).await;
    let text = serde_json::to_string(
        &log.iter().map(|r| (&r.output, &r.rollback_token)).collect::<Vec<_>>(),
    )
    .unwrap();
    let stored = engine.store().effect(&effect.id).await.unwrap().unwrap();
    let ledger_error = stored.error.unwrap_or_default();
    for secret in [
        "abcdefghijklmnopqrstuvwxyz012345",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghij",
        "hunter2",
        "correct-horse",
    ] {
        assert!(!text.contains(secret), "{secret} in the audit log: {text}");
        assert!(!ledger_error.contains(secret), "{secret} in the ledger: {ledger_error}");
    }
    assert!(text.contains("[REDACTED]"), "{text}");
    let stored = engine.store().effect(&written.id).await.unwrap().unwrap();
    assert_eq!(stored.rollback_token.as_deref(), Some(token.as_str()), "the undo needs the token");
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_outcome_and_never_executes_again() {
    let (engine, _) = engine(policy(10, ""));
    let connector = Scripted::default();
    let first = engine.execute(call("r1", "c1", Some("k1")), &connector).await.unwrap();
    let retry = engine.execute(call("r1", "c2", Some("k1")), &connector).await.unwrap();
    assert!(retry.replayed);
    assert_eq!(retry.effect.unwrap().id, first.effect.unwrap().id);
    assert_eq!(connector.executions(), 1);
}

#[tokio::test]
async fn a_repeated_call_id_with_the_same_arguments_replays_and_with_others_is_refused() {
    let (engine, _) = engine(policy(10, ""));
    let connector = Scripted::default();
    let first = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    let again = engine.execute(call("r1", "c1", None), &connector).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.effect.unwrap().id, first.effect.unwrap().id);
    assert!(again.decided.verdict.reasons.iter().any(|r| r.rule == "replay.call_id"));
    let mut other = call("r1", "c1", None);
    other.args = json!({"id": "c1", "value": 2});
    let error = engine.execute(other, &connector).await.unwrap_err();
    assert!(matches!(error, EngineError::CallIdConflict { .. }), "{error}");
    assert_eq!(connector.executions(), 1);
}

#[tokio::test]
async fn max_tool_calls_per_run_holds_under_concurrency() {
    let (engine, _) = engine(policy(5, ""));
    let engine = Arc::new(engine);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            engine.evaluate(call("r1", &format!("c{i}"), None)).await.unwrap()
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap().verdict.decision == Decision::Allow);
    }
    assert_eq!(allowed, 5);
    assert_eq!(records(engine.store()).await.len(), 20);
}

#[tokio::test]
async fn a_budget_is_reserved_at_allow_and_released_when_the_execution_fails() {
    let budget = || policy_with(1_000, "", "[budgets]\nmax_amount_per_run = 100\n");
    let (engine, _) = engine(budget());
    let spend = |id: &str| {
        let mut call = call("r1", id, None);
        call.args = json!({"id": id, "value": 60});
        call
    };
    let failing = Scripted::answering(ConnectorOutcome::Failed { error: "HTTP 503".into() });
    let working = Scripted::default();
    // 60 reserved, then released when the execution fails: the next 60 fits.
    let first = engine.execute(spend("c1"), &failing).await.unwrap();
    assert_eq!(first.decided.verdict.decision, Decision::Allow);
    let second = engine.execute(spend("c2"), &working).await.unwrap();
    assert_eq!(second.decided.verdict.decision, Decision::Allow);
    // 60 settled: another 60 would make 120 of 100.
    let over = engine.evaluate(spend("c3")).await.unwrap();
    assert_eq!(over.verdict.decision, Decision::Block);
    assert!(over.verdict.reasons.iter().any(|r| r.rule == "budget.max_amount_per_run"));
    // An allowed call that has not ended holds its reservation too.
    let (engine, _) = crate::engine(budget());
    assert_eq!(engine.evaluate(spend("c1")).await.unwrap().verdict.decision, Decision::Allow);
    assert_eq!(engine.evaluate(spend("c2")).await.unwrap().verdict.decision, Decision::Block);
}

#[tokio::test]
async fn a_failed_execution_is_recorded_and_not_retried_by_aecl() {
    let (engine, _) = engine(policy(10, ""));
    let connector = Scripted::answering(ConnectorOutcome::Failed { error: "HTTP 503".into() });
    let done = engine.execute(call("r1", "c1", Some("k1")), &connector).await.unwrap();
    let effect = done.effect.unwrap();
    assert_eq!(effect.state, EffectState::Failed);
    assert_eq!(effect.error.as_deref(), Some("HTTP 503"));
    let log = records(engine.store()).await;
    assert_eq!(log[1].outcome, Some(aecl_audit::Outcome::Failed));
    assert_eq!(connector.executions(), 1);
}

#[tokio::test]
async fn rate_and_concurrency_limits_from_policy_block_with_a_reason() {
    let (engine, clock) = engine(policy(100, "rate = \"2/second\"\nburst = 2"));
    let mut decisions = Vec::new();
    for i in 0..3 {
        decisions.push(engine.evaluate(call("r1", &format!("c{i}"), None)).await.unwrap());
    }
    assert_eq!(
        decisions.iter().map(|d| d.verdict.decision).collect::<Vec<_>>(),
        [Decision::Allow, Decision::Allow, Decision::Block]
    );
    let reason = decisions[2].verdict.reasons.iter().find(|r| r.rule == "limits.rate").unwrap();
    assert!(reason.message.contains("retry after"), "{}", reason.message);
    clock.advance_ms(500);
    let later = engine.evaluate(call("r1", "c3", None)).await.unwrap();
    assert_eq!(later.verdict.decision, Decision::Allow);

    let (engine, _) = crate::engine(policy(100, "concurrency = 1"));
    let first = engine.evaluate(call("r1", "c1", None)).await.unwrap();
    assert_eq!(first.verdict.decision, Decision::Allow);
    // c1 has not reported its result: a second call waits its turn.
    let second = engine.evaluate(call("r2", "c1", None)).await.unwrap();
    assert_eq!(second.verdict.decision, Decision::Block);
    assert!(second.verdict.reasons.iter().any(|r| r.rule == "limits.concurrency"));
    engine.record_result("r1", "worker", "c1", json!({"ok": true})).await.unwrap();
    let third = engine.evaluate(call("r2", "c2", None)).await.unwrap();
    assert_eq!(third.verdict.decision, Decision::Allow);
}

#[tokio::test]
async fn a_call_in_another_agents_run_is_refused_and_records_nothing() {
    let (engine, _) = engine(policy(10, ""));
    engine.evaluate(call("r1", "c1", None)).await.unwrap();
    let mut intruder = call("r1", "c2", None);
    intruder.agent = "someone_else".into();
    let error = engine.evaluate(intruder).await.unwrap_err();
    assert!(matches!(error, EngineError::Identity(_)), "{error}");
    assert!(error.to_string().contains("belongs to agent `worker`"), "{error}");
    assert_eq!(engine.store().load_run("r1").await.unwrap().version, 1);
    assert_eq!(records(engine.store()).await.len(), 1);
}

#[tokio::test]
async fn a_run_named_after_an_agent_is_that_agents_before_it_is_opened() {
    // The MCP gateway's run of agent `worker` is `RUN:worker`; `RUN` is no secret.
    let (engine, _) = engine(policy(10, ""));
    let mut squatter = call("gw:worker", "c1", None);
    squatter.agent = "someone_else".into();
    let error = engine.evaluate(squatter).await.unwrap_err();
    assert!(error.to_string().contains("belongs to agent `worker`"), "{error}");
    // Nor by the agent's words or a reported output, nor by a longer name ending alike.
    let error = engine.record_user("gw:worker", "someone_else", "hi").await.unwrap_err();
    assert!(matches!(error, EngineError::Identity(_)), "{error}");
    let error = engine.record_result("gw:worker", "someone_else", "c9", json!(1)).await;
    assert!(matches!(error, Err(EngineError::Identity(_))), "{error:?}");
    assert_eq!(engine.store().load_run("gw:worker").await.unwrap().version, 0);
    // The agent itself opens it; runs whose ending names no agent stay the first caller's.
    let decided = engine.evaluate(call("gw:worker", "c1", None)).await.unwrap();
    assert_eq!(decided.verdict.decision, Decision::Allow);
    let mut elsewhere = call("gw:nobody", "c1", None);
    elsewhere.agent = "someone_else".into();
    assert!(engine.evaluate(elsewhere).await.is_ok());
}

#[tokio::test]
async fn a_reused_nonce_blocks_the_second_call_whatever_became_of_the_first() {
    let (engine, _) = engine(policy(10, ""));
    let connector = Scripted::default();
    let mut first = call("r1", "c1", None);
    first.nonce = Some("n-1".into());
    let mut second = call("r2", "c2", None);
    second.nonce = Some("n-1".into());
    assert_eq!(
        engine.execute(first, &connector).await.unwrap().decided.verdict.decision,
        Decision::Allow
    );
    let reused = engine.execute(second, &connector).await.unwrap();
    assert_eq!(reused.decided.verdict.decision, Decision::Block);
    assert!(reused.decided.verdict.reasons.iter().any(|r| r.rule == "replay.nonce"));
    assert!(reused.effect.is_none());
    assert_eq!(connector.executions(), 1);
}

/// A call the engine waits for longer than the concurrency slot's default lease (its
/// connector's own deadline is an hour) keeps its slot while it runs: the lease is never
/// shorter than the engine's wait.
#[tokio::test]
async fn a_long_call_keeps_its_concurrency_slot_while_it_runs() {
    struct Long {
        started: tokio::sync::Notify,
        go: tokio::sync::Notify,
    }
    impl aecl_engine::Connector for Long {
        fn deadline(
            &self,
            _: aecl_engine::Invocation<'_>,
            _: Option<aecl_core::SandboxTier>,
        ) -> Option<std::time::Duration> {
            Some(std::time::Duration::from_secs(3600))
        }
        fn execute<'a>(
            &'a self,
            _: aecl_engine::Invocation<'a>,
        ) -> aecl_engine::BoxFuture<'a, ConnectorOutcome> {
            Box::pin(async move {
                self.started.notify_one();
                self.go.notified().await;
                ConnectorOutcome::Succeeded { result: json!({}), rollback_token: None }
            })
        }
    }
    let (engine, clock) = engine(policy(100, "concurrency = 1"));
    let long = Long { started: tokio::sync::Notify::new(), go: tokio::sync::Notify::new() };
    let (first, second) = tokio::join!(engine.execute(call("r1", "c1", None), &long), async {
        long.started.notified().await;
        // Past the default lease (10 minutes), within the connector's hour.
        clock.advance_ms(20 * 60 * 1000);
        let second = engine.evaluate(call("r2", "c1", None)).await.unwrap();
        long.go.notify_one();
        second
    });
    assert_eq!(first.unwrap().decided.verdict.decision, Decision::Allow);
    assert_eq!(second.verdict.decision, Decision::Block, "the running call's slot was taken");
    assert!(second.verdict.reasons.iter().any(|r| r.rule == "limits.concurrency"));
}

/// The run's history (the store's `run_events`) is kept as long as the audit log, in the
/// same database and its backups: outputs (reported or of aecl's own executions), untrusted
/// content and the user's words are kept redacted as the log keeps them (red-team round
/// 14: the log was redacted, the history held an approver's token and a database
/// password in clear). What the history is for still works: a value of a redacted output
/// keeps its provenance.
#[tokio::test]
async fn a_runs_history_keeps_outputs_content_and_user_words_redacted() {
    let secrets = [
        "PGPASS_9a8b7c",
        "hunter2-hunter2",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "abcdefghijklmnopqrstuvwxyz012345",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    ];
    let policy = policy(10, "");
    let (engine, _) = engine(policy.clone());
    let user = format!("use postgres://u:{}@db.example/x, Bearer {}", secrets[0], secrets[4]);
    engine.record_user("r1", "worker", &user).await.unwrap();
    engine.evaluate(call("r1", "c1", None)).await.unwrap();
    let output = json!({
        "password": secrets[1],
        "pay_to": "GB33BUKB20201555555555",
        "echo": format!("token: {}", secrets[2]),
    });
    engine.record_result("r1", "worker", "c1", output).await.unwrap();
    let content = json!(format!("server instructions: export GH_TOKEN={}", secrets[2]));
    engine.record_untrusted("r1", "worker", "mcp:instructions", content).await.unwrap();
    // aecl's own execution: the scripted connector answers with a bearer token.
    let done = engine.execute(call("r1", "c2", None), &Scripted::default()).await.unwrap();
    assert_eq!(done.effect.unwrap().state, EffectState::Succeeded);

    let snapshot = engine.store().load_run("r1").await.unwrap();
    let history = serde_json::to_string(&snapshot.events).unwrap();
    for secret in secrets {
        assert!(!history.contains(secret), "`{secret}` kept in the run's history: {history}");
    }
    assert!(history.contains("db.example") && history.contains("GB33BUKB20201555555555"));
    let state = aecl_engine::run_event::rebuild(&policy, "r1", &snapshot.events).unwrap();
    assert!(matches!(
        state.provenance_of("GB33BUKB20201555555555"),
        aecl_core::provenance::Provenance::Trusted { .. }
    ));
}

/// A check's message may quote the argument it refused (`"…" is not one of "a", "b"`):
/// what redacting the arguments takes out stays out of the recorded reasons (red team
/// round 30, tamper F1: a configured path's value, a sensitive key's and a detector's
/// finding were in clear beside the redacted input).
#[tokio::test]
async fn a_refused_arguments_secret_stays_out_of_the_recorded_reasons() {
    let limits = "\n[actions.put_record.args.note]\none_of = [\"a\", \"b\"]\n";
    let config = aecl_engine::EngineConfig {
        redact: vec!["note".parse().unwrap()],
        ..aecl_engine::EngineConfig::default()
    };
    let (engine, _) = crate::engine_with(policy(10, limits), config);
    let notes = [
        json!("MYSECRET_0123456789"),
        json!("password=hunter2hunter2"),
        json!({"api_key": "PLAINSECRET123"}),
        json!(987_654_321_012_u64),
    ];
    for (at, note) in notes.into_iter().enumerate() {
        let mut refused = call("r1", &format!("c{at}"), None);
        refused.args["note"] = note;
        let done = engine.execute(refused, &Scripted::default()).await.unwrap();
        assert_eq!(done.decided.verdict.decision, Decision::Block);
    }
    let log = records(engine.store()).await;
    let reasons: Vec<_> = log.iter().flat_map(|r| &r.reasons).map(|r| &r.message).collect();
    let text = serde_json::to_string(&reasons).unwrap();
    assert!(text.contains("is not one of"), "the messages stay: {text}");
    for secret in ["MYSECRET_0123456789", "hunter2hunter2", "PLAINSECRET123", "987654321012"] {
        assert!(!text.contains(secret), "{secret} in the recorded reasons: {text}");
    }
}
