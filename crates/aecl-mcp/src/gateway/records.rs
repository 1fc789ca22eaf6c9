//! What the gateway records beside its calls' decisions: what the agent has been shown of
//! the servers ([`crate::shown`]: instructions, server info, tool definitions), in the run before its
//! next call is decided; and requests refused before any decision (a tool the gateway does
//! not expose, a message it cannot read), and a server's messages it refused (one too
//! large), as `refusal` records rate-limited per agent like the HTTP API's
//! (`aecl_engine::RefusalAudit`).

use std::collections::BTreeMap;
use std::sync::Arc;

use aecl_core::Timestamp;
use aecl_engine::refused::RefusalAudit;
use aecl_engine::{Clock, Engine, EngineError, Store};

use super::Gateway;
use crate::servers::ServerRefusals;
use crate::shown::{self, Content};
use crate::upstream::Upstream;

/// The status a refusal record gives a request the gateway refused before any decision:
/// a bad request (MCP over stdio has no status of its own).
const REFUSED_STATUS: u16 = 400;

/// The status a refusal record gives a server's message refused for its size.
const SERVER_MESSAGE_STATUS: u16 = 413;

/// Where `agent`'s connections record what they refuse of the servers' messages: as the
/// gateway records its refusals, from a server's transport, where no gateway is at hand.
/// It holds the engine and the refusal budget, never connections (which hold it).
pub(super) fn server_refusals<S: Store + 'static>(
    engine: &Arc<Engine<S>>,
    refusals: &Arc<RefusalAudit>,
    clock: &Arc<dyn Clock>,
    agent: &str,
) -> ServerRefusals {
    let (engine, refusals, clock) = (engine.clone(), refusals.clone(), clock.clone());
    let record = move |subject: &str, reason: String| {
        let (engine, refusals, subject) = (engine.clone(), refusals.clone(), subject.to_owned());
        let now = clock.now();
        let status = SERVER_MESSAGE_STATUS;
        tokio::spawn(async move {
            record_refusal_in(&engine, &refusals, now, &subject, &reason, status).await;
        });
    };
    ServerRefusals { agent: agent.to_owned(), record: Arc::new(record) }
}

impl<S: Store + 'static> Gateway<S> {
    /// Records in the run what these connections' servers have shown the agent since the
    /// last record: each started server's instructions and `serverInfo`, and the
    /// definitions of the tools last listed, each once. Cheap when nothing was started or listed since.
    pub(super) async fn record_shown(&self) -> Result<(), EngineError> {
        let shown = self.connections.shown();
        if shown.pending().is_none() {
            return Ok(());
        }
        let _recording = shown.recording().await;
        // Read again under the lock: another call of the session may have recorded it.
        let Some(version) = shown.pending() else { return Ok(()) };
        let mut contents: Vec<(Content, Vec<Content>)> = Vec::new();
        let started = self.connections.started();
        for (index, upstream) in &started {
            let instructions = upstream.info().and_then(|info| info.instructions.clone());
            if let Some(text) = instructions.filter(|text| !text.trim().is_empty()) {
                let content = shown::instructions(&self.source_name(*index, &started), &text);
                if !shown.is_recorded(&content) {
                    contents.push((content.clone(), vec![content]));
                }
            }
            // What it says of itself: its name is in the gateway's own `initialize` answer.
            let info =
                upstream.info().and_then(|info| serde_json::to_value(&info.server_info).ok());
            let source = self.source_name(*index, &started);
            if let Some(content) = info.and_then(|info| shown::server_info(&source, &info))
                && !shown.is_recorded(&content)
            {
                contents.push((content.clone(), vec![content]));
            }
        }
        // The tools by server and name (a stable order, so the same listing records
        // nothing again), each tool once.
        let mut tools: BTreeMap<usize, BTreeMap<String, serde_json::Value>> = BTreeMap::new();
        for (exposed, (index, tool)) in self.connections.tools().iter() {
            if let Some(texts) = shown::tool(exposed, tool) {
                tools.entry(*index).or_default().insert(exposed.clone(), texts);
            }
        }
        for (index, listed) in tools {
            let mut new = Vec::new();
            let mut marks = Vec::new();
            for (exposed, texts) in listed {
                let mark = Content { source: format!("tool `{exposed}`"), content: texts.clone() };
                if !shown.is_recorded(&mark) {
                    new.push(texts);
                    marks.push(mark);
                }
            }
            if !new.is_empty() {
                contents.push((shown::tools(&self.source_name(index, &started), new), marks));
            }
        }
        let (run, agent) = (&self.config.run, &self.config.agent);
        for (content, marks) in contents {
            self.engine.record_untrusted(run, agent, &content.source, content.content).await?;
            marks.iter().for_each(|mark| shown.mark_recorded(mark));
        }
        shown.recorded_up_to(version);
        Ok(())
    }

    /// Server `index` as a source in the run's history: its name in the configuration,
    /// else the name it gives itself. Never its command line or URL, which may carry a
    /// credential (`env VAR=SECRET cmd`).
    fn source_name(&self, index: usize, started: &[(usize, Arc<Upstream>)]) -> String {
        let spec = self.connections.servers().specs().get(index);
        if let Some(spec) = spec.filter(|spec| !spec.name.is_empty()) {
            return spec.name.clone();
        }
        let own = started
            .iter()
            .find(|(started, _)| *started == index)
            .and_then(|(_, upstream)| upstream.info())
            .and_then(|info| info.server_info.as_ref().map(|server| server.name.clone()));
        own.map_or_else(|| "upstream".to_owned(), |name| name.escape_default().to_string())
    }

    /// Records a request of this gateway's agent refused before any decision (see
    /// [`Gateway::record_refusal_of`]).
    pub(super) async fn record_refusal(&self, reason: &str) {
        self.record_refusal_of(&self.config.agent, reason).await;
    }

    /// Logs a request of `agent` refused before any decision, and records it in the audit
    /// log as a `refusal` record, at most at the API's rate per agent (the number
    /// suppressed is in the next record). The refusal stands whether or not it is
    /// recorded.
    pub(crate) async fn record_refusal_of(&self, agent: &str, reason: &str) {
        self.record_http_refusal(agent, reason, REFUSED_STATUS).await;
    }

    /// Records a request of the gateway over HTTP refused with `status` before any
    /// decision (no valid token: `subject` empty, refusals of all such callers sharing one
    /// budget; a token that may not be used; an agent over its request rate), as the API
    /// records its own. Never the credential itself.
    pub(crate) async fn record_http_refusal(&self, subject: &str, reason: &str, status: u16) {
        record_refusal_in(&self.engine, &self.refusals, self.now(), subject, reason, status).await;
    }
}

/// Logs a refusal of `subject`'s (empty: of no agent) and records it in `engine`'s audit
/// log within `refusals`' budget.
async fn record_refusal_in<S: Store + 'static>(
    engine: &Engine<S>,
    refusals: &RefusalAudit,
    now: Timestamp,
    subject: &str,
    reason: &str,
    status: u16,
) {
    tracing::warn!(subject, reason, status, "MCP request refused");
    let Some(suppressed) = refusals.admit(subject, now) else { return };
    let role = if subject.is_empty() { "" } else { "agent" };
    let recorded = engine.record_refusal(subject, role, "", reason, status, suppressed).await;
    if let Err(error) = recorded {
        tracing::error!(%error, "could not record a refused MCP request in the audit log");
    }
}
