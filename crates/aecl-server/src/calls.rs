//! `POST /v1/evaluate` and `POST /v1/execute`. The body is a trace `call` event without
//! `type`; the answer (`aecl_protocol::CallAnswer`) has the fields of an `aecl replay` line
//! (`DecisionLine`) plus `approval_id` (the request an `execute` is waiting for, or whose
//! grant let it through) and, for execute, the effect.
//!
//! The agent is the token's subject, never the body's: a body naming another agent, or a
//! run that belongs to another agent, is refused (403). Engine or store failures answer
//! 503 with a `block` verdict, a credential the store could not check included: a client
//! reads `decision`, never guesses from a status alone.
//!
//! An execute with `Aecl-Executor: client` is one the client runs itself (a tool in the
//! agent's own process, such as a Python function behind the client's `guard`): it is
//! decided, approved and recorded like any other, but no connector runs it; its output
//! enters the run when the client reports it (`events.rs`). An action bound to a configured
//! connector is never the client's to run (403).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use aecl_core::{
    Call, Decision, Mode, Reason, Revision, RiskBreakdown, SandboxTier, Stage, Verdict,
};
use aecl_engine::identity::Role;
use aecl_engine::{BoxFuture, Connector, ConnectorOutcome, Effect, EngineError, Invocation, Store};
use aecl_policy::replay::Decided;
use aecl_protocol::{CallAnswer, CallRequest as CallEvent, DecisionLine};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::auth::refuse;
use crate::error::ApiError;
use crate::{AppState, Caller};

/// The connector of a server with no connectors configured (`aecl serve` without
/// `--connectors`): every allowed call fails with `not_configured`, recorded as the
/// outcome, so nothing is executed by accident.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotConfigured;

impl Connector for NotConfigured {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        let error = format!(
            "not_configured: no connector executes action `{}` on this server",
            invocation.call.action
        );
        Box::pin(async move { ConnectorOutcome::Failed { error } })
    }
}

/// The connector of calls the client runs itself (`Aecl-Executor: client`): nothing runs
/// on the server, and the effect records the hand-over. Going through the engine's execute
/// path rather than evaluate is what makes a client-run call spend its approval's grant
/// (once, in the dispatch transaction), apply standing grants, settle budgets and create
/// the approval request it waits on; an allow answered with this effect is the client's
/// permission to run the call once.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientExecutes;

impl Connector for ClientExecutes {
    fn execute<'a>(&'a self, _: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        let result = aecl_engine::client_hand_over();
        Box::pin(async move { ConnectorOutcome::Succeeded { result, rollback_token: None } })
    }

    /// The client reports the call's output with `POST /v1/runs/{run}/events`.
    fn reports_result(&self) -> bool {
        true
    }

    /// aecl cannot sandbox a call the client runs: a policy requiring a tier blocks it.
    fn placement<'a>(
        &'a self,
        _: Invocation<'a>,
        required: SandboxTier,
    ) -> BoxFuture<'a, Result<SandboxTier, String>> {
        Box::pin(async move {
            Err(format!(
                "the client runs this call in its own process, in no sandbox of aecl's, and \
                 the policy requires the `{required}` tier"
            ))
        })
    }
}

/// An effect as the API shows it; `rolled_back_by`, the compensation that has since undone
/// a replayed one.
pub fn effect_view(effect: &Effect, rolled_back_by: Option<&str>) -> aecl_protocol::Effect {
    use aecl_engine::EffectState as State;
    use aecl_protocol::EffectState as Wire;
    let state = match effect.state {
        State::Pending => Wire::Pending,
        State::Dispatched => Wire::Dispatched,
        State::Succeeded => Wire::Succeeded,
        State::Failed => Wire::Failed,
        State::OutcomeUnknown => Wire::OutcomeUnknown,
    };
    aecl_protocol::Effect {
        id: effect.id.clone(),
        state,
        result: effect.result.clone(),
        error: effect.error.clone(),
        rollback_token: effect.rollback_token.clone(),
        rolled_back_by: rolled_back_by.map(str::to_owned),
    }
}

pub async fn evaluate<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = match caller_or_block(&state, caller, &body)? {
        Ok(caller) => caller,
        Err(blocked) => return Ok(blocked),
    };
    caller.require(&state, &[Role::Agent], "/v1/evaluate").await?;
    let event: CallEvent = parse_json(body, state.config.body_limit)?;
    let call = own_call(&state, &caller, &event, None).await?;
    let call = match call {
        Ok(call) => call,
        Err(blocked) => return Ok(blocked),
    };
    let started = Instant::now();
    let result = state.engine.evaluate(call.clone()).await;
    state.metrics.observe_latency(started.elapsed().as_secs_f64());
    match result {
        Ok(decided) => {
            count(&state, &decided.call, decided.verdict.decision);
            let approval_id = decided.approval_id;
            let decided = Decided { call: decided.call, verdict: decided.verdict };
            Ok(Json(answer(&decided, approval_id, None, None)).into_response())
        }
        Err(e) => Ok(engine_error(&state, &caller, &call, &e).await?),
    }
}

pub async fn execute<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = match caller_or_block(&state, caller, &body)? {
        Ok(caller) => caller,
        Err(blocked) => return Ok(blocked),
    };
    caller.require(&state, &[Role::Agent], "/v1/execute").await?;
    let event: CallEvent = parse_json(body, state.config.body_limit)?;
    let key = idempotency_key(&headers)?;
    let by_client = client_executes(&headers)?;
    let connector: &dyn Connector =
        if by_client { &ClientExecutes } else { state.connector.as_ref() };
    let call = match own_call(&state, &caller, &event, key).await? {
        Ok(call) => call,
        Err(blocked) => return Ok(blocked),
    };
    // An action bound to a configured connector is aecl's to execute: run by the client,
    // it would skip what the connector keeps to undo it, and its sandbox.
    if by_client && let Some(bound) = bound_connector(&state, &call.action) {
        let error = ApiError::Forbidden(format!(
            "action `{}` is bound to connector `{bound}`: aecl executes it, and \
             `Aecl-Executor: client` is refused",
            call.action
        ));
        return Err(refuse(&state, Some(&caller.0), error).await);
    }
    let started = Instant::now();
    let result = state.engine.execute(call.clone(), connector).await;
    state.metrics.observe_latency(started.elapsed().as_secs_f64());
    match result {
        Ok(executed) => {
            let approval_id = executed.decided.approval_id;
            let decided =
                Decided { call: executed.decided.call, verdict: executed.decided.verdict };
            if !executed.replayed {
                count(&state, &decided.call, decided.verdict.decision);
            }
            if let Some(effect) = executed.effect.as_ref().filter(|_| !executed.replayed) {
                state.metrics.executed(effect.state);
            }
            let undone = executed.rolled_back_by.as_deref();
            let effect = executed.effect.as_ref().map(|effect| effect_view(effect, undone));
            let answer = answer(&decided, approval_id, effect, Some(executed.replayed));
            Ok(Json(answer).into_response())
        }
        Err(e) => Ok(engine_error(&state, &caller, &call, &e).await?),
    }
}

/// An engine error: another agent's run is a refusal (403, recorded), a call id or an
/// idempotency key reused for another call a conflict (409, recorded); anything else
/// blocks the call (503).
async fn engine_error<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    call: &Call,
    error: &EngineError,
) -> Result<Response, ApiError> {
    match error {
        EngineError::Identity(message) => {
            // The log keeps the engine's words; the caller is not told whose run it is.
            tracing::warn!(%message, "call refused: identity");
            let error = ApiError::Forbidden(format!("run `{}` belongs to another agent", call.run));
            Err(refuse(state, Some(&caller.0), error).await)
        }
        // A name of aecl's own undo calls (`origin::reserved`): the caller's mistake, 400,
        // recorded; the engine refused it before recording anything.
        EngineError::ReservedId(why) => {
            Err(refuse(state, Some(&caller.0), ApiError::BadRequest(why.clone())).await)
        }
        // A reused call id is the caller's mistake, not the engine's: 409, recorded.
        EngineError::CallIdConflict { .. } => {
            let error = ApiError::CallIdConflict(error.to_string());
            Err(refuse(state, Some(&caller.0), error).await)
        }
        // So is an idempotency key reused for another call (the engine recorded the call
        // refused as a `block` decision): 409, recorded.
        EngineError::IdempotencyKeyConflict { .. } => {
            let error = ApiError::IdempotencyKeyConflict(error.to_string());
            Err(refuse(state, Some(&caller.0), error).await)
        }
        _ => Ok(engine_failed(state, call, error)),
    }
}

fn answer(
    decided: &Decided,
    approval_id: Option<String>,
    effect: Option<aecl_protocol::Effect>,
    replayed: Option<bool>,
) -> CallAnswer<'_> {
    let line = DecisionLine::from(decided);
    CallAnswer { line, approval_id, effect, replayed, error: None }
}

fn count<S: Store>(state: &AppState<S>, call: &Call, decision: Decision) {
    let known = state.engine.policy().actions.contains_key(&call.action);
    state.metrics.decided(decision, &call.agent, &call.action, known);
}

/// The configured connector that runs `action` on this server, if any.
pub fn bound_connector<S: Store>(state: &AppState<S>, action: &str) -> Option<String> {
    let policy = state.engine.policy();
    state.connector.configured_for(policy.actions.get(action)?)
}

/// The `Idempotency-Key` header, if any.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("the `Idempotency-Key` header is not text".to_owned()))?
        .trim();
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::BadRequest(
            "the `Idempotency-Key` header must hold 1 to 255 characters".to_owned(),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Whether the `Aecl-Executor` header says the client runs the call (`client`); absent or
/// `server`, a connector of the server runs it.
fn client_executes(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(value) = headers.get("aecl-executor") else { return Ok(false) };
    match value.to_str().map(str::trim) {
        Ok("client") => Ok(true),
        Ok("server") => Ok(false),
        _ => Err(ApiError::BadRequest(
            "the `Aecl-Executor` header must be `client` or `server`".to_owned(),
        )),
    }
}

/// The call of an authenticated agent: its agent is the token's subject, its idempotency
/// key the header's (which must agree with the body's). `Err` holds a finished answer:
/// the run could not be checked, so the call is blocked.
pub async fn own_call<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    event: &CallEvent,
    header_key: Option<String>,
) -> Result<Result<Call, Response>, ApiError> {
    let subject = caller.subject();
    if let Some(agent) = &event.agent
        && agent != subject
    {
        let error = ApiError::Forbidden(format!(
            "the call names agent `{agent}`, but the token is `{subject}`'s"
        ));
        return Err(refuse(state, Some(&caller.0), error).await);
    }
    let mut call = event.to_call(subject);
    match (&call.idempotency_key, header_key) {
        (Some(body), Some(header)) if *body != header => {
            return Err(ApiError::BadRequest(
                "`idempotency_key` and the `Idempotency-Key` header differ".to_owned(),
            ));
        }
        (_, Some(header)) => call.idempotency_key = Some(header),
        _ => {}
    }
    // Unhealthy means blocked: without the checkpoint key nothing can be recorded.
    if state.config.audit_key.is_empty() {
        return Ok(Err(engine_failed(state, &call, &"no audit signing key is loaded")));
    }
    // Whether the run is another agent's is the engine's check, made on the snapshot it
    // commits against (one read of the run per call, and no race between two agents
    // opening one run).
    Ok(Ok(call))
}

/// The caller; or, when the store could not check the credential (revocation and replay
/// are read at every request), the block answer of the body's call, which the refusal was
/// recorded for already. Other refusals stay errors.
fn caller_or_block<S: Store>(
    state: &AppState<S>,
    caller: Result<Caller, ApiError>,
    body: &Result<Bytes, BytesRejection>,
) -> Result<Result<Caller, Response>, ApiError> {
    let error = match caller {
        Ok(caller) => return Ok(Ok(caller)),
        Err(ApiError::Unavailable(error)) => error,
        Err(other) => return Err(other),
    };
    let event = body.as_ref().ok().and_then(|b| serde_json::from_slice::<CallEvent>(b).ok());
    let Some(event) = event else { return Err(ApiError::Unavailable(error)) };
    // Not counted per agent: the agent is the body's word, unauthenticated.
    Ok(Err(blocked(state, &event.to_call("unauthenticated"), &error)))
}

/// The engine or its store failed: the call is blocked (503), and the answer says why.
pub fn engine_failed<S: Store>(
    state: &AppState<S>,
    call: &Call,
    error: &dyn std::fmt::Display,
) -> Response {
    let policy = state.engine.policy();
    state.metrics.decided(
        Decision::Block,
        &call.agent,
        &call.action,
        policy.actions.contains_key(&call.action),
    );
    blocked(state, call, error)
}

/// The 503 block answer of `call`, which the engine could not decide or record.
fn blocked<S: Store>(state: &AppState<S>, call: &Call, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(run = %call.run, call = %call.id, error = %error, "call blocked: engine failure");
    let verdict = failure_verdict(&state.engine.policy().revision, &error.to_string());
    let decided = Decided { call: call.clone(), verdict };
    let mut answer = answer(&decided, None, None, None);
    let api = ApiError::Unavailable(format!("the call was blocked: {error}"));
    answer.error = Some(api.error_body());
    (StatusCode::SERVICE_UNAVAILABLE, Json(answer)).into_response()
}

/// The verdict of a call the engine could not decide or record: a block.
pub fn failure_verdict(revision: &Revision, error: &str) -> Verdict {
    Verdict {
        decision: Decision::Block,
        mode: Mode::Enforce,
        reasons: vec![Reason {
            stage: Stage::Internal,
            rule: Cow::Borrowed("engine.unavailable"),
            decision: Decision::Block,
            field: None,
            message: format!("aecl could not decide and record the call: {error}"),
        }],
        risk: RiskBreakdown::empty(0.0, None),
        policy_revision: revision.clone(),
        approval_expires_in_secs: None,
        replay_of: None,
        sandbox: None,
        spans: Vec::new(),
    }
}

/// A request body, or the refusal of one that was too large or could not be read.
pub fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    match body {
        Ok(bytes) => Ok(bytes),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
    }
}

/// A JSON body: too large is 413, bad JSON is 400 naming the line and column (and the
/// field, for unknown or mistyped ones).
pub fn parse_json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = body_bytes(body, limit)?;
    let parsed = serde_json::from_slice(&bytes).map_err(|e| {
        let message = e.to_string();
        let message =
            message.rfind(" at line ").and_then(|cut| message.get(..cut)).unwrap_or(&message);
        ApiError::BadRequest(format!(
            "invalid request body at line {} column {}: {message}",
            e.line(),
            e.column()
        ))
    })?;
    // Checked once the body is known to be JSON: serde_json keeps a repeated member's last
    // copy, a client executing the call may read its first.
    if aecl_core::distinct::repeats_a_member(&bytes) {
        return Err(ApiError::BadRequest(
            "invalid request body: an object names a member twice (JSON readers disagree on \
             which copy counts)"
                .to_owned(),
        ));
    }
    Ok(parsed)
}
