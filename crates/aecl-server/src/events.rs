//! `POST /v1/runs/{run}/events`: a client reports what happened around the calls it ran
//! itself, so that data flow sees it (design.md §3 step 5). The body is ONE event in the
//! trace format, `run` optional (the path names it):
//! - `{"type":"user","text":"..."}`: the user's own words, trusted;
//! - `{"type":"result","id":"<call id>","output":<any JSON>}`: the output of a call,
//!   with the catalog trust of its action.
//!
//! Agent tokens only, and only for the token's agent's runs (403 `event.wrong_agent`). A
//! result must name a call the engine allowed in that run and handed to the client
//! (decided by `/v1/evaluate`, or executed with `Aecl-Executor: client`): otherwise 404
//! `event.unknown_call`; a second result for one call is 409 `event.duplicate_result`. A
//! reported output is a way to make values trusted, so nothing else may take one: a call
//! that aecl's own connector ran has its output recorded by aecl already.

use std::sync::Arc;

use aecl_engine::identity::Role;
use aecl_engine::{ReportRefused, Reported, Reporter, Store};
use aecl_protocol::{EventRecorded, EventRequest, RecordedKind};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};

use crate::auth::refuse;
use crate::calls::parse_json;
use crate::error::ApiError;
use crate::{AppState, Caller};

pub async fn record<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    caller: Caller,
    Path(run): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EventRecorded>, ApiError> {
    caller.require(&state, &[Role::Agent], "/v1/runs/{run}/events").await?;
    let event: EventRequest = parse_json(body, state.config.body_limit)?;
    let named = match &event {
        EventRequest::User { run, .. } | EventRequest::Result { run, .. } => run.as_deref(),
    };
    // An empty run, or one no log line can show as it is (red team round 29, tamper L1).
    if let Some(why) = aecl_engine::origin::reserved(&run) {
        return Err(refuse(&state, Some(&caller.0), ApiError::BadRequest(why)).await);
    }
    if named.is_some_and(|named| named != run) {
        return Err(ApiError::BadRequest(format!(
            "the event names run `{}`, the path run `{run}`",
            named.unwrap_or_default()
        )));
    }
    // Unhealthy means nothing is recorded: without the checkpoint key nothing can be.
    if state.config.audit_key.is_empty() {
        return Err(ApiError::Unavailable("no audit signing key is loaded".to_owned()));
    }
    let agent = caller.subject();
    let (recorded, outcome) = match event {
        EventRequest::User { text, .. } => {
            (RecordedKind::User, state.engine.report_user(&run, agent, &text).await)
        }
        EventRequest::Result { id, output, .. } => {
            if id.is_empty() {
                return Err(ApiError::BadRequest("the result's call `id` is empty".to_owned()));
            }
            let outcome = state
                .engine
                .report_result(&run, agent, &id, output, Reporter::Client, None)
                .await
                .map(|reported| reported.map(|r| audit_seq(&r)));
            (RecordedKind::Result, outcome)
        }
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        // A name of aecl's own undo calls: refused before anything was recorded.
        Err(aecl_engine::EngineError::ReservedId(why)) => {
            return Err(refuse(&state, Some(&caller.0), ApiError::BadRequest(why)).await);
        }
        Err(e) => {
            tracing::error!(%run, error = %e, "reported event not recorded: engine failure");
            return Err(ApiError::Unavailable(format!("the event was not recorded: {e}")));
        }
    };
    match outcome {
        Ok(seq) => Ok(Json(EventRecorded { run, recorded, seq })),
        Err(refused) => Err(refuse(&state, Some(&caller.0), refusal(refused)).await),
    }
}

/// The audit record of a reported result.
pub fn audit_seq(reported: &Reported) -> u64 {
    match reported {
        Reported::Result { audit_seq, .. } | Reported::Unguarded { audit_seq, .. } => *audit_seq,
    }
}

/// The API error of a refused report.
pub fn refusal(refused: ReportRefused) -> ApiError {
    match refused {
        ReportRefused::WrongAgent { .. } => ApiError::WrongAgent(refused.to_string()),
        ReportRefused::UnknownCall(why) => ApiError::UnknownCall(format!(
            "no call that aecl allowed and handed over to this client matches: {why}"
        )),
        ReportRefused::DuplicateResult { .. } => ApiError::DuplicateResult(refused.to_string()),
    }
}
