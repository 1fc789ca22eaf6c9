//! The gateway's MCP server side: what the agent's client talks to.
//!
//! `tools/list` is the wrapped server's list filtered by [`crate::listing`]; `tools/call` is
//! a call of the engine. Block answers a tool error with the reasons (a tool error rather
//! than a protocol error, so the model reads why). RequireApproval creates a request in
//! the engine's approval gate and waits up to `approval_wait` for an approver; when none
//! has answered by then the client gets a pending result that it can retry with the same
//! arguments (the grant is bound to the call's digest, not to a call id). The client's own
//! elicitation is never asked for approval, and never taken as one: it is asked only to
//! relay a server's own requests for input ([`crate::relay`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aecl_audit::redact::FieldPath;
use aecl_core::{Call, Decision, Mode, Verdict};
use aecl_engine::{ApprovalStatus, Clock, Engine, EngineError, Store, new_id};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InputRequiredResult, InputResponses, ListToolsResult, PaginatedRequestParams, ProtocolVersion,
    ResultType, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;

use crate::error::McpError;
use crate::forward::Forward;
use crate::listing::{action_of, callable};
use crate::pins::{Pinned, Pins};
use crate::relay::{Relay, Round, ask_legacy_client};
use crate::tighten::tightened;
use crate::upstream::Upstream;

/// How often a call waiting for approval looks at its request.
const APPROVAL_POLL: Duration = Duration::from_millis(200);

/// Settings of one gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The agent whose manifest applies to every call.
    pub agent: String,
    /// The run the calls belong to.
    pub run: String,
    /// Put before a tool's name to make its catalog action (`fs__` makes `read_file` the
    /// action `fs__read_file`).
    pub action_prefix: String,
    /// How long a call that needs approval waits for the answer before the client gets a
    /// pending result.
    pub approval_wait: Duration,
    /// Output fields redacted (beside the built-in credential detectors) from what the
    /// client is given, as from the audit log.
    pub redact: Vec<FieldPath>,
    /// The time of tool-definition pins and change requests (the engine's clock).
    pub clock: Arc<dyn Clock>,
    /// The working directory of a wrapped server that shares this machine's filesystem
    /// (a local command over stdio): every string argument is resolved there, links
    /// followed, before the decision (`aecl_engine::fs_paths`). `None` for a remote server,
    /// whose filesystem the gateway cannot see: path constraints are then lexical alone.
    pub resolve_paths_from: Option<std::path::PathBuf>,
}

/// The gateway over an engine on store `S` and one wrapped server.
#[derive(Debug)]
pub struct Gateway<S> {
    engine: Arc<Engine<S>>,
    upstream: Arc<Upstream>,
    config: GatewayConfig,
    pins: Arc<Pins>,
    /// The wrapped server's tools as last listed, by name: what a call's definition is
    /// checked against.
    tools: Arc<Mutex<HashMap<String, Tool>>>,
    /// Calls waiting for a 2026-07-28 client's answers, by the `requestState` it was given.
    suspended: Arc<Mutex<HashMap<String, Suspended>>>,
    /// Held while the policy in force is tightened, so two tightenings never undo each
    /// other.
    tightening: Arc<Mutex<()>>,
}

/// A call in progress: the task running it and the rounds of input it asks for.
#[derive(Debug)]
struct InProgress {
    done: tokio::task::JoinHandle<CallToolResult>,
    rounds: tokio::sync::mpsc::Receiver<Round>,
}

/// A call suspended until its client retries with the answers to a round.
#[derive(Debug)]
struct Suspended {
    /// Only the agent that made the call may resume it.
    agent: String,
    tool: String,
    answer: tokio::sync::oneshot::Sender<Result<InputResponses, String>>,
    call: InProgress,
}

impl<S> Clone for Gateway<S> {
    fn clone(&self) -> Self {
        Gateway {
            engine: self.engine.clone(),
            upstream: self.upstream.clone(),
            config: self.config.clone(),
            pins: self.pins.clone(),
            tools: self.tools.clone(),
            suspended: self.suspended.clone(),
            tightening: self.tightening.clone(),
        }
    }
}

impl<S: Store + 'static> Gateway<S> {
    pub fn new(engine: Arc<Engine<S>>, upstream: Arc<Upstream>, config: GatewayConfig) -> Self {
        Gateway {
            engine,
            upstream,
            config,
            pins: Arc::default(),
            tools: Arc::default(),
            suspended: Arc::default(),
            tightening: Arc::default(),
        }
    }

    /// This gateway for the authenticated `agent` of an HTTP session: its calls are made as
    /// `agent`, in the run `RUN:AGENT` (a run belongs to one agent).
    pub(crate) fn for_agent(&self, agent: &str) -> Self {
        let mut gateway = self.clone();
        gateway.config.run = format!("{}:{agent}", self.config.run);
        gateway.config.agent = agent.to_owned();
        gateway
    }

    /// The policy in force.
    pub(crate) fn policy(&self) -> Arc<aecl_core::policy::Policy> {
        self.engine.policy()
    }

    /// Now, by the engine's clock.
    pub(crate) fn now(&self) -> aecl_core::Timestamp {
        self.config.clock.now()
    }

    /// Serves one client over this process's stdin and stdout until it disconnects.
    pub async fn serve_stdio(self) -> Result<(), McpError> {
        let running =
            self.serve(crate::stdio::stdio()).await.map_err(|e| McpError::Serve(e.to_string()))?;
        running.waiting().await.map_err(|e| McpError::Serve(e.to_string()))?;
        Ok(())
    }

    /// The wrapped server's tools that the agent may call.
    /// A tool whose definition changed since it was first seen is left out until an
    /// approver accepts the change.
    pub async fn listed_tools(&self) -> Result<Vec<Tool>, McpError> {
        let policy = self.engine.policy();
        let tools = self.refresh_tools().await?;
        let mut listed = Vec::with_capacity(tools.len());
        for tool in tools {
            let action = self.action(&tool.name);
            if !callable(&policy, &self.config.agent, &action) {
                continue;
            }
            match self.pinned(&action, &tool).await {
                Ok(Pinned::Accepted) => listed.push(tool),
                Ok(Pinned::Changed { approval_id, .. }) => {
                    tracing::warn!(tool = %tool.name, approval_id, "changed tool left out of tools/list");
                }
                Err(error) => return Err(McpError::Serve(format!("checking `{action}`: {error}"))),
            }
        }
        Ok(listed)
    }

    /// Lists the wrapped server's tools and keeps their definitions.
    async fn refresh_tools(&self) -> Result<Vec<Tool>, McpError> {
        let tools = self.upstream.tools().await?;
        self.tighten(&tools);
        let mut known = self.tools.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        known.clear();
        known.extend(tools.iter().map(|t| (t.name.to_string(), t.clone())));
        Ok(tools)
    }

    /// Makes the policy in force as strict as `tools`' annotations ask ([`crate::tighten`]).
    fn tighten(&self, tools: &[Tool]) {
        let _held = self.tightening.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let policy = self.engine.policy();
        if let Some(tighter) = tightened(&policy, &self.config.action_prefix, tools) {
            self.engine.set_policy(Arc::new(tighter));
        }
    }

    async fn pinned(&self, action: &str, tool: &Tool) -> Result<Pinned, EngineError> {
        let (agent, run) = (&self.config.agent, &self.config.run);
        let now = self.config.clock.now();
        self.pins.check(&self.engine, agent, run, action, tool, now).await
    }

    /// The definition of `tool` as last listed (listing the server when it is not known).
    async fn definition(&self, tool: &str) -> Result<Option<Tool>, McpError> {
        let known = |tools: &Mutex<HashMap<String, Tool>>| {
            tools.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(tool).cloned()
        };
        if let Some(definition) = known(&self.tools) {
            return Ok(Some(definition));
        }
        self.refresh_tools().await?;
        Ok(known(&self.tools))
    }

    /// One `tools/call` through the engine. Never an error: every failure is a tool error
    /// naming it, and nothing is forwarded unless the engine allowed and recorded it. The
    /// server's requests for input go to `relay`.
    async fn call(&self, params: CallToolRequestParams, relay: Relay) -> CallToolResult {
        let action = self.action(&params.name);
        let args = Value::Object(params.arguments.unwrap_or_default());
        let call = self.call_of(&action, args);
        let tool = params.name.into_owned();
        // A tool whose definition changed since it was first seen runs only once an
        // approver has accepted the change.
        let checked = match self.definition(&tool).await {
            Ok(Some(definition)) => match self.pinned(&action, &definition).await {
                // Checked again at each call: a policy replaced since the listing is
                // tightened before this call's output is recorded.
                Ok(Pinned::Accepted) => {
                    self.tighten(std::slice::from_ref(&definition));
                    Ok(())
                }
                Ok(Pinned::Changed { approval_id, status, first, now }) => {
                    Err(Refused::ToolChanged { approval_id, status, first, now })
                }
                Err(error) => Err(Refused::Engine(error)),
            },
            // The server does not list it, even listed again: nothing pins its definition,
            // so it is not called (fail closed).
            Ok(None) => {
                Err(Refused::Failed(format!("the MCP server does not list a tool `{tool}`")))
            }
            Err(error) => Err(Refused::Failed(error.to_string())),
        };
        // Refused outside the policy, and recorded as a block all the same, so the audit
        // log shows it; a failure to record it still refuses the call.
        let checked = match checked {
            Err(refused @ Refused::ToolChanged { .. }) => {
                let message = refused.message(&action);
                match self.engine.record_block(&call, "mcp.tool_changed", &message).await {
                    Ok(_) => Err(refused),
                    Err(error) => Err(Refused::Engine(error)),
                }
            }
            other => other,
        };
        let mut outcome = match checked {
            Ok(()) => self.execute(call.clone(), &tool, &relay).await,
            Err(refused) => Err(refused),
        };
        // A request made now (or earlier, for the same call) is waited on; once it is
        // approved the same call is made again and its grant lets it through.
        if let Err(Refused::Pending { approval_id, .. }) = &outcome {
            match self.wait_for(approval_id).await {
                Ok(ApprovalStatus::Approved) => {
                    let again = Call { id: new_id(), ..call };
                    outcome = self.execute(again, &tool, &relay).await;
                }
                Ok(status) => {
                    outcome = Err(Refused::Answered { approval_id: approval_id.clone(), status });
                }
                // Still pending: the first answer, with the reasons approval is needed.
                Err(Refused::Pending { .. }) => {}
                Err(failed) => outcome = Err(failed),
            }
        }
        let result = match outcome {
            Ok(result) => result,
            Err(refused) => {
                tracing::info!(tool, action, refused = %refused.message(&action), "tool call refused");
                tool_error(refused.message(&action))
            }
        };
        let mut result = self.redact(result);
        // Translation between revisions: a 2025-11-25 server's result has no `resultType`,
        // which 2026-07-28 requires; rmcp leaves it out again for older clients.
        result.result_type = Some(ResultType::COMPLETE);
        result
    }

    fn action(&self, tool: &str) -> String {
        action_of(&self.config.action_prefix, tool)
    }

    fn call_of(&self, action: &str, args: Value) -> Call {
        // A few `lstat`s per string argument: cheap enough to run on the async thread.
        let paths = match &self.config.resolve_paths_from {
            Some(cwd) => aecl_engine::fs_paths::resolve_call(
                Some(&*self.engine.policy()),
                action,
                &args,
                cwd,
            ),
            None => aecl_core::PathView::Unseen,
        };
        Call {
            id: new_id(),
            agent: self.config.agent.clone(),
            run: self.config.run.clone(),
            action: action.to_owned(),
            args,
            idempotency_key: None,
            nonce: None,
            scope: Default::default(),
            provenance: Default::default(),
            paths,
        }
    }

    /// Executes `call` through the engine, forwarding it to `tool` if allowed.
    async fn execute(
        &self,
        call: Call,
        tool: &str,
        relay: &Relay,
    ) -> Result<CallToolResult, Refused> {
        let forward = Forward::new(self.upstream.clone(), tool.to_owned(), relay.clone());
        let executed = self.engine.execute(call, &forward).await.map_err(Refused::Engine)?;
        let verdict = &executed.decided.verdict;
        if let Some(answer) = forward.take_answer() {
            // The server answered: that answer is the client's, error or not.
            return Ok(answer);
        }
        if let Some(effect) = executed.effect {
            // Executed (or an earlier execution replayed) without an answer kept here.
            return match effect.error {
                Some(error) => Err(Refused::Failed(error)),
                None => {
                    Ok(CallToolResult::success(vec![ContentBlock::text(effect.result.to_string())]))
                }
            };
        }
        match verdict.enforced_decision() {
            Decision::Block => Err(Refused::Blocked(reasons(verdict))),
            Decision::RequireApproval => match executed.decided.approval_id {
                Some(approval_id) => {
                    Err(Refused::Pending { approval_id, reasons: reasons(verdict) })
                }
                // Monitor or dry-run modes never wait; enforce always names a request.
                None => Err(Refused::Blocked(reasons(verdict))),
            },
            Decision::Allow if verdict.mode == Mode::DryRun => {
                Ok(CallToolResult::success(vec![ContentBlock::text(
                    "aecl dry run: the call would be allowed; it was not executed",
                )]))
            }
            Decision::Allow => {
                Err(Refused::Failed("the call was allowed but not executed".to_owned()))
            }
        }
    }

    /// Waits for an approver's answer to `approval_id`, up to the configured wait. `Err`
    /// when it is still pending.
    async fn wait_for(&self, approval_id: &str) -> Result<ApprovalStatus, Refused> {
        let deadline = tokio::time::Instant::now() + self.config.approval_wait;
        loop {
            match self.engine.approval(approval_id).await {
                Ok(Some(approval)) if approval.status != ApprovalStatus::Pending => {
                    return Ok(approval.status);
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Refused::Failed(format!(
                        "approval request `{approval_id}` is missing"
                    )));
                }
                Err(error) => return Err(Refused::Engine(error)),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Refused::Pending {
                    approval_id: approval_id.to_owned(),
                    reasons: String::new(),
                });
            }
            tokio::time::sleep(APPROVAL_POLL).await;
        }
    }

    /// What the client is given has its secrets redacted as the audit log has.
    fn redact(&self, mut result: CallToolResult) -> CallToolResult {
        if let Some(structured) = result.structured_content.as_mut() {
            aecl_audit::redact(structured, &self.config.redact);
        }
        let Ok(mut value) = serde_json::to_value(&result) else { return result };
        let found = aecl_audit::redact(&mut value, &[]);
        if found.count == 0 {
            return result;
        }
        match serde_json::from_value(value) {
            Ok(redacted) => redacted,
            // Cannot happen for a value just serialised; never hand out the unredacted one.
            Err(_) => tool_error("aecl: the tool's output could not be redacted".to_owned()),
        }
    }
}

impl<S: Store + 'static> ServerHandler for Gateway<S> {
    fn get_info(&self) -> ServerConfig {
        let upstream = self.upstream.info();
        let mut config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        let name = upstream
            .as_ref()
            .and_then(|info| info.server_info.as_ref())
            .map_or("upstream", |server| server.name.as_str());
        config.server_info =
            Implementation::new(format!("aecl-mcp ({name})"), env!("CARGO_PKG_VERSION"));
        config.instructions = upstream.and_then(|info| info.instructions.clone());
        config
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        match self.listed_tools().await {
            Ok(tools) => Ok(ListToolsResult::with_all_items(tools)),
            Err(error) => Err(ErrorData::internal_error(error.to_string(), None)),
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // A 2026-07-28 client's retry with the answers to a suspended call's round: the
        // suspended call goes on (it was decided once; the retry is not a new call).
        if let Some(state) = &request.request_state {
            let suspended = self.lock_suspended().remove(state);
            // Another agent's suspended call is not this one's to resume (its state is
            // put back, so the right agent still can).
            let suspended = match suspended {
                Some(other) if other.agent != self.config.agent => {
                    self.lock_suspended().insert(state.clone(), other);
                    None
                }
                suspended => suspended,
            };
            let Some(suspended) = suspended else {
                return Ok(CallToolResponse::Complete(tool_error(format!(
                    "aecl: `{}`: no call is waiting for input under this requestState",
                    request.name
                ))));
            };
            if suspended.tool != request.name {
                // Dropping the round's answer ends the suspended call without input.
                return Ok(CallToolResponse::Complete(tool_error(format!(
                    "aecl: the requestState belongs to a call of `{}`, not `{}`",
                    suspended.tool, request.name
                ))));
            }
            let _ = suspended.answer.send(Ok(request.input_responses.unwrap_or_default()));
            return Ok(self.drive(suspended.tool, suspended.call, &context).await);
        }
        let tool = request.name.to_string();
        let (relay, rounds) = Relay::channel();
        let gateway = self.clone();
        let done = tokio::spawn(async move { gateway.call(request, relay).await });
        Ok(self.drive(tool, InProgress { done, rounds }, &context).await)
    }
}

impl<S: Store + 'static> Gateway<S> {
    /// Follows a call in progress until it completes or asks for input: a 2025-11-25
    /// client is asked with its own requests and the call goes on; a 2026-07-28 client is
    /// answered `input_required` and the call waits for its retry.
    async fn drive(
        &self,
        tool: String,
        mut call: InProgress,
        context: &RequestContext<RoleServer>,
    ) -> CallToolResponse {
        let legacy = context.protocol_version().is_none_or(|v| v < ProtocolVersion::V_2026_07_28);
        loop {
            let (requests, answer) = tokio::select! {
                done = &mut call.done => {
                    return CallToolResponse::Complete(done.unwrap_or_else(|error| {
                        tool_error(format!("aecl: the call stopped: {error}"))
                    }));
                }
                Some(round) = call.rounds.recv() => round,
            };
            if legacy {
                let _ = answer.send(ask_legacy_client(&context.peer, requests).await);
                continue;
            }
            let state = format!("aecl-{}", new_id());
            let asked = InputRequiredResult::new(Some(requests), Some(state.clone()));
            let mut suspended = self.lock_suspended();
            // Calls whose client never came back have ended by now (the engine's call
            // timeout): forget them.
            suspended.retain(|_, waiting| !waiting.call.done.is_finished());
            let agent = self.config.agent.clone();
            suspended.insert(state, Suspended { agent, tool, answer, call });
            return CallToolResponse::InputRequired(asked);
        }
    }

    fn lock_suspended(&self) -> std::sync::MutexGuard<'_, HashMap<String, Suspended>> {
        self.suspended.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why a call was not executed (or not to the end).
#[derive(Debug)]
enum Refused {
    Blocked(String),
    Pending { approval_id: String, reasons: String },
    Answered { approval_id: String, status: ApprovalStatus },
    ToolChanged { approval_id: String, status: ApprovalStatus, first: String, now: String },
    Failed(String),
    Engine(EngineError),
}

impl Refused {
    fn message(&self, action: &str) -> String {
        match self {
            Refused::Blocked(reasons) => format!("aecl blocked `{action}`: {reasons}"),
            Refused::Pending { approval_id, reasons } => {
                let why = if reasons.is_empty() { String::new() } else { format!(" ({reasons})") };
                format!(
                    "aecl: `{action}` is waiting for approval{why}: request `{approval_id}` is pending. \
                     Nothing was executed; call the tool again with the same arguments once it is approved."
                )
            }
            Refused::Answered { approval_id, status } => format!(
                "aecl: `{action}` was not executed: approval request `{approval_id}` was {}",
                status.as_str()
            ),
            Refused::ToolChanged { approval_id, status, first, now } => format!(
                "aecl blocked `{action}`: mcp.tool_changed: the tool's definition changed since \
                 it was first seen (sha256 {first} -> {now}); approval request `{approval_id}` \
                 for the new definition is {}",
                status.as_str()
            ),
            Refused::Failed(error) => format!("aecl: `{action}` failed: {error}"),
            // Fail closed: the engine could not decide or record the call.
            Refused::Engine(error) => {
                format!(
                    "aecl blocked `{action}`: aecl could not decide and record the call: {error}"
                )
            }
        }
    }
}

/// The reasons that decided a verdict, one sentence each.
fn reasons(verdict: &Verdict) -> String {
    let reasons: Vec<String> =
        verdict.deciding_reasons().map(|r| format!("{}: {}", r.rule, r.message)).collect();
    if reasons.is_empty() {
        format!("{} (policy {})", verdict.enforced_decision().as_str(), verdict.policy_revision)
    } else {
        reasons.join("; ")
    }
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}
