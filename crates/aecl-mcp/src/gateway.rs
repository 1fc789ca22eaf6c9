//! The gateway's MCP server side: what the agent's client talks to.
//!
//! `tools/list` is every wrapped server's list filtered by [`crate::listing`], each tool
//! under the name [`crate::naming`] gives it (`SERVER__TOOL` with a configuration file);
//! `tools/call` is routed to its server and is a call of the engine. Block answers a tool
//! error with the reasons (a tool error rather than a protocol error, so the model reads
//! why). RequireApproval creates a request in
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
    CallToolRequestMethod, CallToolRequestParams, CallToolResponse, CallToolResult, ConstString,
    ContentBlock, DiscoverRequestMethod, DiscoverResult, Implementation, InitializeRequestParams,
    InitializeResult, InitializeResultMethod, ListToolsRequestMethod, ListToolsResult,
    PaginatedRequestParams, PingRequestMethod, ResultType, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use tracing::Instrument;

use crate::error::McpError;
use crate::forward::Forward;
use crate::listing::{action_of, callable};
use crate::naming::{exposed, refused_tool_name};
use crate::pins::{Pinned, Pins};
use crate::relay::Relay;
use crate::servers::{Connections, Servers};
use crate::tighten::tightened;
use crate::trace_context::request_span;

mod rounds;
use rounds::Suspended;

/// Settings of one gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The agent whose manifest applies to every call.
    pub agent: String,
    /// The run the calls belong to.
    pub run: String,
    /// How long a call that needs approval waits for the answer before the client gets a
    /// pending result.
    pub approval_wait: Duration,
    /// Output fields redacted (beside the built-in credential detectors) from what the
    /// client is given, as from the audit log.
    pub redact: Vec<FieldPath>,
    /// The time of tool-definition pins and change requests (the engine's clock).
    pub clock: Arc<dyn Clock>,
}

/// The gateway over an engine on store `S` and the wrapped servers, as one session sees
/// them.
#[derive(Debug)]
pub struct Gateway<S> {
    engine: Arc<Engine<S>>,
    /// This session's connections to the servers.
    connections: Arc<Connections>,
    config: GatewayConfig,
    pins: Arc<Pins>,
    /// Calls waiting for a 2026-07-28 client's answers, by the `requestState` it was given.
    suspended: Arc<Mutex<HashMap<String, Suspended>>>,
    /// Held while the policy in force is tightened, so two tightenings never undo each
    /// other.
    tightening: Arc<Mutex<()>>,
}

impl<S> Clone for Gateway<S> {
    fn clone(&self) -> Self {
        Gateway {
            engine: self.engine.clone(),
            connections: self.connections.clone(),
            config: self.config.clone(),
            pins: self.pins.clone(),
            suspended: self.suspended.clone(),
            tightening: self.tightening.clone(),
        }
    }
}

impl<S: Store + 'static> Gateway<S> {
    /// The gateway of `servers`; its own session (the stdio client's) starts none of them
    /// until it is served or asked.
    pub fn new(engine: Arc<Engine<S>>, servers: Arc<Servers>, config: GatewayConfig) -> Self {
        Gateway {
            engine,
            connections: servers.connect(),
            config,
            pins: Arc::default(),
            suspended: Arc::default(),
            tightening: Arc::default(),
        }
    }

    /// This gateway for a new HTTP session of the authenticated `agent`: its calls are made
    /// as `agent`, in the run `RUN:AGENT` (a run belongs to one agent), over connections of
    /// its own (its servers started when it first needs them).
    pub(crate) fn for_agent(&self, agent: &str) -> Self {
        self.for_agent_with(agent, self.connections.servers().connect())
    }

    /// This gateway for `agent`'s sessionless requests, over `connections` kept between
    /// them.
    pub(crate) fn for_agent_with(&self, agent: &str, connections: Arc<Connections>) -> Self {
        let mut gateway = self.clone();
        gateway.config.run = format!("{}:{agent}", self.config.run);
        gateway.config.agent = agent.to_owned();
        gateway.connections = connections;
        gateway
    }

    /// This session's connections to the servers.
    pub(crate) fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }

    /// The policy in force.
    pub(crate) fn engine(&self) -> &Engine<S> {
        &self.engine
    }

    pub(crate) fn policy(&self) -> Arc<aecl_core::policy::Policy> {
        self.engine.policy()
    }

    /// Now, by the engine's clock.
    pub(crate) fn now(&self) -> aecl_core::Timestamp {
        self.config.clock.now()
    }

    /// Serves one client over this process's stdin and stdout until it disconnects. Every
    /// server is started first (one that cannot start stops the gateway at once), and all
    /// are closed at the end.
    pub async fn serve_stdio(self) -> Result<(), McpError> {
        let servers = self.connections.servers().clone();
        let served = async {
            self.connections.start_all().await?;
            let running = self
                .serve(crate::stdio::stdio())
                .await
                .map_err(|e| McpError::Serve(e.to_string()))?;
            running.waiting().await.map_err(|e| McpError::Serve(e.to_string()))?;
            Ok(())
        }
        .await;
        servers.close_all().await;
        served
    }

    /// The servers' tools that the agent may call, under their exposed names. A tool
    /// whose definition changed since it was first seen is left out until an approver
    /// accepts the change. A server that cannot be listed is left out (with a warning)
    /// unless no server can be.
    pub async fn listed_tools(&self) -> Result<Vec<Tool>, McpError> {
        let _working = self.connections.working();
        let count = self.connections.servers().specs().len();
        // Every server at once: a session's first list starts them all.
        let mut listing = tokio::task::JoinSet::new();
        for index in 0..count {
            let gateway = self.clone();
            listing.spawn(async move { (index, gateway.refresh_tools(index).await) });
        }
        let mut lists = Vec::with_capacity(count);
        let mut failure = None;
        while let Some(joined) = listing.join_next().await {
            match joined {
                Ok((index, Ok(tools))) => lists.push((index, tools)),
                Ok((index, Err(error))) => {
                    let server = self.server_label(index);
                    tracing::warn!(server, %error, "an MCP server's tools left out of tools/list");
                    failure = Some(error);
                }
                Err(error) => failure = Some(McpError::Serve(error.to_string())),
            }
        }
        if lists.is_empty()
            && let Some(error) = failure
        {
            return Err(error);
        }
        lists.sort_by_key(|(index, _)| *index);
        let policy = self.engine.policy();
        let mut listed = Vec::new();
        for (index, tools) in lists {
            for (exposed, tool) in tools {
                let action = self.action(index, &tool.name);
                if !callable(&policy, &self.config.agent, &action) {
                    continue;
                }
                match self.pinned(&action, &tool).await {
                    Ok(Pinned::Accepted) => {
                        let mut shown = tool;
                        shown.name = exposed.into();
                        listed.push(shown);
                    }
                    Ok(Pinned::Changed { approval_id, .. }) => {
                        tracing::warn!(tool = %exposed, approval_id, "changed tool left out of tools/list");
                    }
                    Err(error) => {
                        return Err(McpError::Serve(format!("checking `{action}`: {error}")));
                    }
                }
            }
        }
        Ok(listed)
    }

    /// Lists server `index`'s tools and keeps their definitions, each with its exposed
    /// name. A tool whose name could pass for another's ([`crate::naming`]), or that the
    /// server lists twice, is left out.
    async fn refresh_tools(&self, index: usize) -> Result<Vec<(String, Tool)>, McpError> {
        let upstream = self.connections.upstream(index).await?;
        let tools = upstream.tools().await?;
        let servers = self.connections.servers();
        let namespaced = servers.namespaced();
        let server = servers.specs().get(index).map_or("", |spec| spec.name.as_str());
        let mut kept: Vec<(String, Tool)> = Vec::with_capacity(tools.len());
        for tool in &tools {
            if let Some(why) = refused_tool_name(&tool.name, namespaced) {
                tracing::warn!(server, tool = ?tool.name, why, "an MCP server's tool left out");
                continue;
            }
            if tools.iter().filter(|other| other.name == tool.name).count() > 1 {
                tracing::warn!(server, tool = %tool.name, "an MCP server lists a tool twice: left out");
                continue;
            }
            kept.push((exposed(server, &tool.name, namespaced), tool.clone()));
        }
        let definitions: Vec<Tool> = kept.iter().map(|(_, tool)| tool.clone()).collect();
        self.tighten(index, &definitions);
        let mut known = self.connections.tools();
        known.retain(|_, (server, _)| *server != index);
        known.extend(kept.iter().map(|(name, tool)| (name.clone(), (index, tool.clone()))));
        Ok(kept)
    }

    /// Makes the policy in force as strict as server `index`'s `tools`' annotations ask
    /// ([`crate::tighten`]).
    fn tighten(&self, index: usize, tools: &[Tool]) {
        let _held = self.tightening.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let policy = self.engine.policy();
        if let Some(tighter) = tightened(&policy, self.prefix(index), tools) {
            self.engine.set_policy(Arc::new(tighter));
        }
    }

    /// Server `index`'s catalog prefix.
    fn prefix(&self, index: usize) -> &str {
        self.connections.servers().specs().get(index).map_or("", |spec| spec.prefix.as_str())
    }

    /// Server `index` as named in logs.
    fn server_label(&self, index: usize) -> String {
        match self.connections.servers().specs().get(index) {
            Some(spec) if spec.name.is_empty() => spec.launch.shown(),
            Some(spec) => spec.name.clone(),
            None => format!("#{index}"),
        }
    }

    async fn pinned(&self, action: &str, tool: &Tool) -> Result<Pinned, EngineError> {
        let (agent, run) = (&self.config.agent, &self.config.run);
        let now = self.config.clock.now();
        self.pins.check(&self.engine, agent, run, action, tool, now).await
    }

    /// The definition of the tool exposed as `exposed`, as server `index` last listed it
    /// (listing the server when it is not known).
    async fn definition(&self, index: usize, exposed: &str) -> Result<Option<Tool>, McpError> {
        let known = || {
            let tools = self.connections.tools();
            tools.get(exposed).filter(|(server, _)| *server == index).map(|(_, t)| t.clone())
        };
        if let Some(definition) = known() {
            return Ok(Some(definition));
        }
        self.refresh_tools(index).await?;
        Ok(known())
    }

    /// One `tools/call` through the engine. Never an error: every failure is a tool error
    /// naming it, and nothing is forwarded unless the engine allowed and recorded it. The
    /// server's requests for input go to `relay`.
    async fn call(&self, params: CallToolRequestParams, relay: Relay) -> CallToolResult {
        // The session is not idle while a call (an approval wait, say) is in progress.
        let _working = self.connections.working();
        let exposed = params.name.into_owned();
        // Not a name the gateway exposes (another server's look-alike, a tool name that
        // could pass for another's): nothing to decide, nothing forwarded.
        let Some((index, tool)) = self.connections.servers().route(&exposed) else {
            return tool_error(format!(
                "aecl: no MCP server behind this gateway has a tool `{exposed}`"
            ));
        };
        let tool = tool.to_owned();
        let action = self.action(index, &tool);
        // Only the arguments: the request's `_meta` (a trace context, a progress token),
        // which rmcp keeps apart, is never part of the call that is decided.
        let args = Value::Object(params.arguments.unwrap_or_default());
        let call = self.call_of(index, &action, args);
        // A tool whose definition changed since it was first seen runs only once an
        // approver has accepted the change.
        let checked = match self.definition(index, &exposed).await {
            Ok(Some(definition)) => match self.pinned(&action, &definition).await {
                // Checked again at each call: a policy replaced since the listing is
                // tightened before this call's output is recorded.
                Ok(Pinned::Accepted) => {
                    self.tighten(index, std::slice::from_ref(&definition));
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
                Err(Refused::Failed(format!("the MCP server does not list a tool `{exposed}`")))
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
            Ok(()) => self.execute(call.clone(), index, &tool, &relay).await,
            Err(refused) => Err(refused),
        };
        // A request made now (or earlier, for the same call) is waited on; once it is
        // approved the same call is made again and its grant lets it through.
        if let Err(Refused::Pending { approval_id, .. }) = &outcome {
            match self.wait_for(approval_id).await {
                Ok(ApprovalStatus::Approved) => {
                    let again = Call { id: new_id(), ..call };
                    outcome = self.execute(again, index, &tool, &relay).await;
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

    /// The catalog action of server `index`'s `tool`.
    fn action(&self, index: usize, tool: &str) -> String {
        action_of(self.prefix(index), tool)
    }

    fn call_of(&self, index: usize, action: &str, args: Value) -> Call {
        let spec = self.connections.servers().specs().get(index);
        // A few `lstat`s per string argument: cheap enough to run on the async thread.
        let paths = match spec.and_then(|spec| spec.resolve_paths_from.as_ref()) {
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

    /// Executes `call` through the engine, forwarding it to server `index`'s `tool` if
    /// allowed.
    async fn execute(
        &self,
        call: Call,
        index: usize,
        tool: &str,
        relay: &Relay,
    ) -> Result<CallToolResult, Refused> {
        // Started before the decision when it is not yet (the definition check started it
        // already): a server that cannot start refuses the call, and nothing is recorded as
        // dispatched.
        let upstream =
            self.connections.upstream(index).await.map_err(|e| Refused::Failed(e.to_string()))?;
        let forward = Forward::new(upstream, tool.to_owned(), relay.clone());
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
        match self.engine.await_approval(approval_id, self.config.approval_wait).await {
            Ok(Some(approval)) if approval.status != ApprovalStatus::Pending => Ok(approval.status),
            Ok(Some(_)) => Err(Refused::Pending {
                approval_id: approval_id.to_owned(),
                reasons: String::new(),
            }),
            Ok(None) => {
                Err(Refused::Failed(format!("approval request `{approval_id}` is missing")))
            }
            Err(error) => Err(Refused::Engine(error)),
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
    /// Says who the wrapped servers are: their names (the configuration's, or what a
    /// started server says of itself), and the instructions of those started (a session's
    /// own servers start at its first request, after this).
    fn get_info(&self) -> ServerConfig {
        let mut config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        let servers = self.connections.servers();
        let started: Vec<_> = self.connections.started().iter().filter_map(|u| u.info()).collect();
        let name = if servers.namespaced() {
            servers.specs().iter().map(|spec| spec.name.as_str()).collect::<Vec<_>>().join(", ")
        } else {
            started
                .first()
                .and_then(|info| info.server_info.as_ref())
                .map_or("upstream".to_owned(), |server| server.name.clone())
        };
        config.server_info =
            Implementation::new(format!("aecl-mcp ({name})"), env!("CARGO_PKG_VERSION"));
        let instructions: Vec<String> =
            started.iter().filter_map(|info| info.instructions.clone()).collect();
        config.instructions = (!instructions.is_empty()).then(|| instructions.join("\n\n"));
        config
    }

    // Each request the gateway answers runs in its `aecl.mcp` span, continuing the caller's
    // trace ([`crate::trace_context`]); the defaults of rmcp are kept for what they do.

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        request_span(InitializeResultMethod::VALUE, None, &context).in_scope(|| {
            context.peer.set_peer_info(request.clone());
            self.negotiate_initialize(&request)
        })
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        request_span(DiscoverRequestMethod::VALUE, None, &context).in_scope(|| {
            Ok(DiscoverResult::from_server_info(
                self.supported_protocol_versions().into_owned(),
                self.get_info(),
            ))
        })
    }

    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        request_span(PingRequestMethod::VALUE, None, &context).in_scope(|| Ok(()))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let span = request_span(ListToolsRequestMethod::VALUE, None, &context);
        match self.listed_tools().instrument(span).await {
            Ok(tools) => Ok(ListToolsResult::with_all_items(tools)),
            Err(error) => Err(ErrorData::internal_error(error.to_string(), None)),
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool = self.traced_tool_name(&request.name);
        let span = request_span(CallToolRequestMethod::VALUE, tool, &context);
        Ok(self.answer_call(request, context).instrument(span).await)
    }
}

impl<S: Store + 'static> Gateway<S> {
    /// A `tools/call`'s tool name as its span records it: only a name the gateway could
    /// expose (one of its servers', well formed). Anything else a client sends is not
    /// copied into traces.
    fn traced_tool_name<'a>(&self, name: &'a str) -> Option<&'a str> {
        let servers = self.connections.servers();
        let (_, tool) = servers.route(name)?;
        refused_tool_name(tool, servers.namespaced()).is_none().then_some(name)
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

#[cfg(test)]
mod tests;
