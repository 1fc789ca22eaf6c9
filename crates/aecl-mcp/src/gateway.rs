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
//!
//! Everything upstream-controlled that reaches the agent is in the run's history before
//! the run's next call is decided: a tool's whole result and its error answers (as output,
//! `crate::forward`), and beside them the servers' instructions, tool descriptions and
//! requests for input (as untrusted content, [`crate::shown`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aecl_audit::redact::FieldPath;
use aecl_engine::refused::{AGENT_REFUSAL_AUDIT_RATE, RefusalAudit};
use aecl_engine::{Clock, Engine, EngineError, Store};
use rmcp::model::{
    CallToolRequestMethod, CallToolRequestParams, CallToolResponse, ConstString,
    DiscoverRequestMethod, DiscoverResult, Implementation, InitializeRequestParams,
    InitializeResult, InitializeResultMethod, ListToolsRequestMethod, ListToolsResult,
    PaginatedRequestParams, PingRequestMethod, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use tracing::Instrument;

use crate::error::McpError;
use crate::listing::{action_of, callable};
use crate::naming::{exposed, refused_tool_name};
use crate::pins::{Pinned, Pins};
use crate::servers::{Connections, Servers};
use crate::tighten::tightened;
use crate::trace_context::request_span;

mod call;
mod records;
mod rounds;
use call::tool_error;
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
    /// Refusal records per agent, rate-limited as the API's are.
    refusals: Arc<RefusalAudit>,
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
            refusals: self.refusals.clone(),
        }
    }
}

impl<S: Store + 'static> Gateway<S> {
    /// The gateway of `servers`; its own session (the stdio client's) starts none of them
    /// until it is served or asked.
    pub fn new(engine: Arc<Engine<S>>, servers: Arc<Servers>, config: GatewayConfig) -> Self {
        let refusals =
            Arc::new(RefusalAudit::new(AGENT_REFUSAL_AUDIT_RATE, AGENT_REFUSAL_AUDIT_RATE));
        let recorded = records::server_refusals(&engine, &refusals, &config.clock, &config.agent);
        Gateway {
            engine,
            connections: servers.connect(recorded),
            config,
            pins: Arc::default(),
            suspended: Arc::default(),
            tightening: Arc::default(),
            refusals,
        }
    }

    /// This gateway for a new HTTP session of the authenticated `agent`: its calls are made
    /// as `agent`, in the run `RUN:AGENT` (a run belongs to one agent), over connections of
    /// its own (its servers started when it first needs them).
    pub(crate) fn for_agent(&self, agent: &str) -> Self {
        self.for_agent_with(agent, self.connect_for(agent))
    }

    /// New connections to this gateway's servers for `agent`'s session (none started yet).
    pub(crate) fn connect_for(&self, agent: &str) -> Arc<Connections> {
        let (engine, refusals, clock) = (&self.engine, &self.refusals, &self.config.clock);
        let recorded = records::server_refusals(engine, refusals, clock, agent);
        self.connections.servers().connect(recorded)
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
            // A message rmcp could not read is refused before it, answered and recorded
            // (`frames.rs`).
            let gateway = self.clone();
            let record = move |reason: String| {
                let gateway = gateway.clone();
                tokio::spawn(async move { gateway.record_refusal(&reason).await });
            };
            let running = self
                .serve(crate::frames::guarded(crate::stdio::stdio(), record))
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
        // The listing's descriptions are the servers' text: recorded now, and in any case
        // before the next call is decided (where a failure refuses the call).
        if let Err(error) = self.record_shown().await {
            tracing::warn!(%error, "what the servers show could not be recorded yet");
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
        let mut listed: HashMap<&str, usize> = HashMap::new();
        for tool in &tools {
            *listed.entry(&tool.name).or_default() += 1;
        }
        let mut kept: Vec<(String, Tool)> = Vec::with_capacity(tools.len());
        for tool in &tools {
            if let Some(why) = refused_tool_name(&tool.name, namespaced) {
                tracing::warn!(server, tool = ?tool.name, why, "an MCP server's tool left out");
                continue;
            }
            if listed.get(tool.name.as_ref()).is_some_and(|times| *times > 1) {
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
        drop(known);
        // The descriptions listed are shown to the agent from now on.
        self.connections.shown().changed();
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

    /// The catalog action of server `index`'s `tool`.
    fn action(&self, index: usize, tool: &str) -> String {
        action_of(self.prefix(index), tool)
    }
}

impl<S: Store + 'static> ServerHandler for Gateway<S> {
    /// Says who the wrapped servers are: their names (the configuration's, or what a
    /// started server says of itself), and the instructions of those started (a session's
    /// own servers start at its first request, after this). The instructions are the
    /// servers' text: they are recorded in the run as untrusted content before its next
    /// call is decided ([`crate::shown`]).
    fn get_info(&self) -> ServerConfig {
        let mut config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        let servers = self.connections.servers();
        let started: Vec<_> =
            self.connections.started().iter().filter_map(|(_, u)| u.info()).collect();
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
            // Without a server's own text (`McpError::shown_to_client`): logged here whole.
            Err(error) => {
                tracing::warn!(%error, "tools/list failed");
                Err(ErrorData::internal_error(error.shown_to_client(), None))
            }
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

#[cfg(test)]
mod tests;
