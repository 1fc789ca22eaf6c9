//! `GET /openapi.json`: the API's OpenAPI 3.1 document. Unauthenticated, like a public API
//! description (it holds no data).
//!
//! The bodies' schemas are the wire types' own (`aecl_protocol`, derived with schemars,
//! the same that `docs/schema/api/` commits), placed under `components/schemas`; this
//! file only lists the operations: path, parameters, which type each body is, and the
//! statuses. A test in `tests/it/openapi.rs` validates real answers of every endpoint
//! against it.

use std::sync::{Arc, LazyLock};

use aecl_engine::Store;
use aecl_protocol::schema::{BodySchema, Components};
use aecl_protocol::{
    Approval, ApprovalAnswer, Approved, AuditCheckpoint, AuditRecords, CallAnswer, CallRequest,
    ErrorAnswer, EventRecorded, EventRequest, Health, HookInput, HookReply, Jwks, NewGrant,
    ReconcileAnswer, RevokeRequest, Revoked, RollbackAnswer, RunView, StandingGrant,
};
use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use crate::AppState;

/// The OpenAPI document.
pub fn document() -> Value {
    DOCUMENT.clone()
}

pub async fn openapi<S: Store>(State(_): State<Arc<AppState<S>>>) -> Json<Value> {
    Json(document())
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(build);

/// One operation: its route, what it reads and what it answers.
struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// Needs no token.
    public: bool,
    parameters: Vec<Value>,
    body: Option<(BodySchema, bool, &'static str)>,
    responses: Vec<(u16, &'static str, Answer)>,
}

enum Answer {
    Json(BodySchema),
    Text(&'static str),
    Empty,
}

fn op(method: &'static str, path: &'static str, summary: &'static str) -> Operation {
    Operation {
        method,
        path,
        summary,
        public: false,
        parameters: Vec::new(),
        body: None,
        responses: Vec::new(),
    }
}

impl Operation {
    fn public(mut self) -> Self {
        self.public = true;
        self
    }

    fn param(mut self, name: &str, place: &str, schema: Value, description: &str) -> Self {
        let required = place == "path";
        self.parameters.push(json!({
            "name": name, "in": place, "required": required, "description": description,
            "schema": schema,
        }));
        self
    }

    fn id(self, description: &str) -> Self {
        self.param("id", "path", json!({ "type": "string" }), description)
    }

    fn body(mut self, schema: BodySchema, required: bool, description: &'static str) -> Self {
        self.body = Some((schema, required, description));
        self
    }

    fn answer(mut self, status: u16, description: &'static str, schema: BodySchema) -> Self {
        self.responses.push((status, description, Answer::Json(schema)));
        self
    }

    fn text(mut self, status: u16, description: &'static str, content_type: &'static str) -> Self {
        self.responses.push((status, description, Answer::Text(content_type)));
        self
    }

    fn empty(mut self, status: u16, description: &'static str) -> Self {
        self.responses.push((status, description, Answer::Empty));
        self
    }

    /// Error answers (`{"error":{"code","message"}}`) with these statuses.
    fn errors(mut self, error: &BodySchema, statuses: &[(u16, &'static str)]) -> Self {
        for (status, description) in statuses {
            self.responses.push((*status, description, Answer::Json(error.clone())));
        }
        self
    }
}

const BAD_REQUEST: (u16, &str) = (400, "Bad JSON (line and column named), fields or parameters");
const UNAUTHENTICATED: (u16, &str) = (401, "No valid token");
const FORBIDDEN: (u16, &str) = (403, "The token's role may not do this");
const NOT_FOUND: (u16, &str) = (404, "No such thing, or not one this token may see");
const CONFLICT: (u16, &str) = (409, "Already answered or expired");
const TOO_LARGE: (u16, &str) = (413, "Body too large");
const RATE_LIMITED: (u16, &str) = (429, "Too many requests for this token (`Retry-After`)");
const INTERNAL: (u16, &str) = (500, "A bug: nothing was allowed");
const UNAVAILABLE: (u16, &str) = (503, "The store or the engine failed");

fn operations(c: &mut Components) -> Vec<Operation> {
    let error = c.answer::<ErrorAnswer>();
    let e = &error;
    let call_errors = [
        BAD_REQUEST,
        UNAUTHENTICATED,
        (403, "Not an agent token, or another agent's call or run"),
        (
            409,
            "The call id was used in this run by an executed call with other arguments (`call.id_conflict`), or the idempotency key by a call with other arguments (`call.idempotency_key_conflict`)",
        ),
        TOO_LARGE,
        RATE_LIMITED,
        INTERNAL,
    ];
    let limit = json!({ "type": "integer", "minimum": 0 });
    vec![
        op("get", "/healthz", "The enforcement state").public()
            .answer(200, "Enforcing: policy loaded, store reachable, signing key loaded (`ok` or `degraded`)", c.answer::<Health>())
            .answer(503, "Unhealthy: every call is blocked", c.answer::<Health>()),
        op("get", "/.well-known/jwks.json", "The public keys that verify aecl's own tokens").public()
            .answer(200, "A JSON Web Key Set", c.answer::<Jwks>()),
        op("get", "/openapi.json", "This document").public()
            .answer(200, "The OpenAPI 3.1 document", BodySchema::any_object()),
        op("get", "/metrics", "Prometheus metrics (admin tokens)")
            .text(200, "Prometheus text", "application/openmetrics-text")
            .errors(e, &[UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED]),
        op("post", "/v1/evaluate", "Decide and record a call; execute nothing")
            .body(c.request::<CallRequest>(), true, "A trace `call` event without `type` (docs/schema/api/call-request.schema.json)")
            .answer(200, "The decision, recorded: the fields of an `aecl replay` line plus `approval_id`", c.answer::<CallAnswer<'static>>())
            .answer(503, "The engine failed: the answer is a `block` with `error`", c.answer::<CallAnswer<'static>>())
            .errors(e, &call_errors),
        op("post", "/v1/execute", "Decide, record and, when allowed, execute a call")
            .param("Idempotency-Key", "header", json!({ "type": "string" }), "A repeated key returns the first execution's effect and never executes again")
            .param("Aecl-Executor", "header", json!({ "enum": ["client", "server"] }), "`client`: the client runs the call itself (decided, approved and recorded, run by no connector; the effect records the hand-over); `server` (the default): a connector runs it")
            .body(c.request::<CallRequest>(), true, "A trace `call` event without `type`")
            .answer(200, "The decision plus `effect` (absent when nothing executed) and `replayed`", c.answer::<CallAnswer<'static>>())
            .answer(503, "The engine failed: the call is blocked", c.answer::<CallAnswer<'static>>())
            .errors(e, &call_errors),
        op("get", "/v1/runs/{id}", "A run's events, calls with their verdicts").id("The run")
            .answer(200, "The run; an agent reads only its own", c.answer::<RunView>())
            .errors(e, &[UNAUTHENTICATED, (404, "No such run, or another agent's"), RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/runs/{id}/events", "Report the user's words or the output of a call the client ran").id("The run")
            .body(c.request::<EventRequest>(), true, "One trace event, `run` optional: `user` (the user's words, trusted) or `result` (the output of a call the client ran, with its action's catalog trust)")
            .answer(200, "Recorded in the run and the audit log", c.answer::<EventRecorded>())
            .errors(e, &[
                (400, "Bad JSON or fields, or a `run` other than the path's"),
                UNAUTHENTICATED,
                (403, "Not an agent token, or another agent's run (`event.wrong_agent`)"),
                (404, "A result for no call aecl allowed and handed over in this run (`event.unknown_call`)"),
                (409, "A second result for one call (`event.duplicate_result`)"),
                TOO_LARGE, RATE_LIMITED, INTERNAL,
                (503, "The engine failed: nothing was recorded"),
            ]),
        op("get", "/v1/audit/records", "Stored audit records with their chain hashes (admin tokens)")
            .param("since", "query", json!({ "type": "integer", "minimum": 0 }), "The first sequence number to return (default 0)")
            .param("limit", "query", limit.clone(), "How many records at most (default and maximum 1000)")
            .answer(200, "The records", c.answer::<AuditRecords>())
            .errors(e, &[BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("get", "/v1/audit/checkpoint", "The latest signed checkpoint (admin tokens)")
            .answer(200, "The checkpoint note", c.answer::<AuditCheckpoint>())
            .errors(e, &[UNAUTHENTICATED, FORBIDDEN, (404, "The audit log is empty"), RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/hooks/claude-code", "Claude Code's HTTP hook").public()
            .body(c.request::<HookInput>(), true, "Claude Code's hook input as it sends it: `session_id` (the run), `hook_event_name`, `tool_name` (the catalog action; `mcp__SERVER__TOOL` is `SERVER__TOOL`), `tool_input` (the arguments), `tool_use_id` (the call id); other fields are accepted. A bearer token is required, but a refusal is answered `deny`")
            .answer(200, "`PreToolUse`: `allow`, `ask` or `deny` with a reason; `deny` (still 200) when the engine failed or the request was refused (token, role, body, rate), since Claude Code runs the tool after a non-2xx answer. Other events: `{}`, or a `systemMessage`", c.answer::<HookReply>())
            .errors(e, &[INTERNAL]),
        op("get", "/v1/approvals", "Approval requests, newest first, without their context (approver or admin tokens)")
            .param("status", "query", json!({ "enum": ["pending", "all"] }), "`pending` (default) or `all`")
            .param("limit", "query", limit.clone(), "At most 500; 100 by default")
            .answer(200, "The requests", c.answer::<Vec<Approval>>())
            .errors(e, &[BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("get", "/v1/approvals/{id}", "An approval request with its context; an agent reads only its own").id("The request")
            .param("wait", "query", json!({ "type": "string" }), "Long-poll while pending: `30s`, `500ms` or seconds, at most 60 s")
            .answer(200, "The request", c.answer::<Approval>())
            .errors(e, &[BAD_REQUEST, UNAUTHENTICATED, NOT_FOUND, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/approvals/{id}/approve", "Approve (approver tokens; never the identity that asked)").id("The request")
            .body(c.request::<ApprovalAnswer>(), false, "An optional reason")
            .answer(200, "Approved: the grant the same call will spend when the agent retries it", c.answer::<Approved>())
            .errors(e, &[BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_LARGE, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/approvals/{id}/reject", "Reject (approver tokens; a reason is required)").id("The request")
            .body(c.request::<ApprovalAnswer>(), true, "The reason, shown to the agent")
            .answer(200, "Rejected", c.answer::<Approval>())
            .errors(e, &[BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_LARGE, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/standing-grants", "Give a standing grant (approver tokens; never for the approver's own identity)")
            .body(c.request::<NewGrant>(), true, "Calls of `agent` to `action` whose arguments meet `args` pass without asking, up to `max_uses` times until it expires or the policy changes")
            .answer(201, "Given and signed", c.answer::<StandingGrant>())
            .errors(e, &[BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, TOO_LARGE, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("get", "/v1/standing-grants", "Standing grants newest first, with their use counts (approver or admin tokens)")
            .param("limit", "query", limit, "At most 500; 100 by default")
            .answer(200, "The grants", c.answer::<Vec<StandingGrant>>())
            .errors(e, &[BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/standing-grants/{id}/revoke", "Revoke a standing grant (approver tokens)").id("The grant")
            .empty(204, "Revoked: it permits nothing more")
            .errors(e, &[BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/tokens/revoke", "Revoke a token or an agent key, on every replica (admin tokens)")
            .body(c.request::<RevokeRequest>(), true, "Exactly one of `token` (a token's id) and `agent_key` (an agent key's id)")
            .answer(200, "Revoked", c.answer::<Revoked>())
            .errors(e, &[BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, TOO_LARGE, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/effects/{id}/rollback", "Undo an effect (approver or admin tokens)").id("The effect to undo")
            .answer(200, "How the undo ended: the compensation is a call decided by policy and audited; a second rollback is a no-op", c.answer::<RollbackAnswer>())
            .errors(e, &[UNAUTHENTICATED, FORBIDDEN, (404, "No such effect"), RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/runs/{id}/rollback", "Undo a run's effects, newest first (approver or admin tokens)").id("The run")
            .answer(200, "One entry per effect handled; stops at the first that could not be undone", c.answer::<RollbackAnswer>())
            .errors(e, &[UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
        op("post", "/v1/effects/reconcile", "Resolve effects left `outcome_unknown` from their targets (approver or admin tokens)")
            .answer(200, "One entry per effect looked at; nothing is executed again, and a second request records nothing new", c.answer::<ReconcileAnswer>())
            .errors(e, &[UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, INTERNAL, UNAVAILABLE]),
    ]
}

fn build() -> Value {
    let mut components = Components::default();
    let operations = operations(&mut components);
    let finished = components.finish();
    let mut paths = Map::new();
    for operation in operations {
        let mut item = Map::new();
        item.insert("summary".to_owned(), json!(operation.summary));
        if operation.public {
            item.insert("security".to_owned(), json!([]));
        }
        if !operation.parameters.is_empty() {
            item.insert("parameters".to_owned(), Value::Array(operation.parameters));
        }
        if let Some((schema, required, description)) = &operation.body {
            item.insert(
                "requestBody".to_owned(),
                json!({
                    "description": description,
                    "required": required,
                    "content": { "application/json": { "schema": finished.resolve(schema) } },
                }),
            );
        }
        let mut responses = Map::new();
        for (status, description, answer) in &operation.responses {
            let content = match answer {
                Answer::Json(schema) => {
                    json!({ "application/json": { "schema": finished.resolve(schema) } })
                }
                Answer::Text(content_type) => {
                    json!({ *content_type: { "schema": { "type": "string" } } })
                }
                Answer::Empty => Value::Null,
            };
            let mut response = json!({ "description": description });
            if !content.is_null() {
                response["content"] = content;
            }
            responses.insert(status.to_string(), response);
        }
        item.insert("responses".to_owned(), Value::Object(responses));
        let entry = paths.entry(operation.path).or_insert_with(|| json!({}));
        entry[operation.method] = Value::Object(item);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "aecl",
            "description": "Agent Execution Control Layer: decide, execute and record agents' tool calls.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
            "version": env!("CARGO_PKG_VERSION"),
        },
        "paths": paths,
        "components": {
            "schemas": finished.schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
        },
        "security": [{ "bearer": [] }],
    })
}

#[cfg(test)]
mod tests;
