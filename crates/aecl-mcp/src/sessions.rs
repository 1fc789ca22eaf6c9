//! The open HTTP sessions of a gateway and the server connections each holds, so that
//! they end with the session: at its `DELETE`, when it has been idle too long, and at the
//! gateway's shutdown; and the requests each has in progress, so that an id names one
//! request in a session as it does over stdio (`frames/ids.rs`).
//!
//! rmcp's HTTP session routes an answer to the POST whose request had its id, and keeps
//! one cancellation per id: a second request under the id of one in progress took the
//! first one's place in both, so the first one's answer went to the second POST and a
//! cancellation cancelled the second call. Here such a request is refused before rmcp sees
//! it ([`Sessions::take_in`]); its id is free again once the answer has gone out (the
//! POST's response has ended, `http.rs`) or the client cancelled it.
//!
//! INVARIANT: a session's own server processes are ended (and reaped) before its `DELETE`
//! is answered, and no later than one sweep after its idle time is up.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use hyper::body::Bytes;
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ClientRequest, JsonRpcMessage, JsonRpcRequest,
    RequestId,
};
use tokio::time::Instant;

use crate::servers::Connections;

/// How sessions end on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session with no request and no call in progress for this long is closed.
    pub idle: Duration,
    /// Sessions one agent may have open at once; a new one past it is refused (each may
    /// start processes).
    pub per_agent: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits { idle: Duration::from_secs(300), per_agent: 32 }
    }
}

/// The open sessions, by id.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    open: Mutex<HashMap<String, Open>>,
    /// Numbers the requests taken in, so that the end of a request cancelled and taken
    /// anew under its id does not end the new one.
    taken: AtomicU64,
    /// Per agent, the sessions being opened (an `initialize` let in, its session not yet
    /// kept): counted with the open ones, so that concurrent `initialize`s cannot together
    /// open more than an agent's limit ([`Sessions::reserve`]). Locked before `open`.
    opening: Mutex<HashMap<String, usize>>,
}

/// A session being opened, counted against its agent's limit until dropped (once the
/// session is kept, or its `initialize` failed).
#[derive(Debug)]
pub(crate) struct Opening {
    sessions: Arc<Sessions>,
    agent: String,
}

impl Drop for Opening {
    fn drop(&mut self) {
        let mut opening = self.sessions.opening.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = opening.get_mut(&self.agent) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                opening.remove(&self.agent);
            }
        }
    }
}

#[derive(Debug)]
struct Open {
    agent: String,
    connections: Arc<Connections>,
    last_seen: Instant,
    /// The client's requests in progress, by id, with the number each was taken in under.
    requests: HashMap<RequestId, u64>,
}

/// A request of a session's, in progress until its answer has gone out.
#[derive(Debug)]
pub(crate) struct InProgress {
    session: String,
    id: RequestId,
    number: u64,
}

impl Sessions {
    /// Keeps the new session `id` of `agent`.
    pub fn opened(&self, id: &str, agent: &str, connections: Arc<Connections>) {
        let open = Open {
            agent: agent.to_owned(),
            connections,
            last_seen: Instant::now(),
            requests: HashMap::new(),
        };
        self.lock().insert(id.to_owned(), open);
    }

    /// The connections of `agent`'s sessionless requests (made by `connect` for its
    /// first); they end as a session's do when idle.
    pub fn sessionless(
        &self,
        agent: &str,
        connect: impl FnOnce() -> Arc<Connections>,
    ) -> Arc<Connections> {
        let mut open = self.lock();
        // Not a session id rmcp makes (those are UUIDs): no request can name it.
        let id = format!("sessionless {agent}");
        let entry = open.entry(id).or_insert_with(|| Open {
            agent: agent.to_owned(),
            connections: connect(),
            last_seen: Instant::now(),
            requests: HashMap::new(),
        });
        entry.last_seen = Instant::now();
        entry.connections.clone()
    }

    /// Room for one more session of `agent`, under `limit` counting those open and those
    /// being opened; `None` when there is none.
    pub fn reserve(self: &Arc<Self>, agent: &str, limit: usize) -> Option<Opening> {
        let mut opening = self.opening.lock().unwrap_or_else(PoisonError::into_inner);
        let open = self.lock().values().filter(|open| open.agent == agent).count();
        let pending = opening.entry(agent.to_owned()).or_default();
        if open + *pending >= limit {
            return None;
        }
        *pending += 1;
        Some(Opening { sessions: self.clone(), agent: agent.to_owned() })
    }

    /// A request in session `id` came now.
    pub fn seen(&self, id: &str) {
        if let Some(open) = self.lock().get_mut(id) {
            open.last_seen = Instant::now();
        }
    }

    /// Takes in `message`, POSTed in session `session`: a request is in progress from now
    /// until [`Sessions::answered`], unless its id names one in progress, when it is
    /// refused (`Err`, to be answered and recorded instead of served); a cancellation ends
    /// the request it names, whose id is free again at once (as over stdio).
    pub fn take_in<'a>(
        &self,
        session: &str,
        message: &'a ClientJsonRpcMessage,
    ) -> Result<Option<InProgress>, &'a JsonRpcRequest<ClientRequest>> {
        let mut open = self.lock();
        let Some(open) = open.get_mut(session) else { return Ok(None) };
        match message {
            JsonRpcMessage::Request(request) => {
                if open.requests.contains_key(&request.id) {
                    return Err(request);
                }
                let number = self.taken.fetch_add(1, Ordering::Relaxed);
                open.requests.insert(request.id.clone(), number);
                let id = request.id.clone();
                Ok(Some(InProgress { session: session.to_owned(), id, number }))
            }
            JsonRpcMessage::Notification(notification) => {
                if let ClientNotification::CancelledNotification(cancelled) =
                    &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    open.requests.remove(id);
                }
                Ok(None)
            }
            JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_) => Ok(None),
        }
    }

    /// `request`'s answer has gone out: its id is free again (unless it was cancelled and
    /// taken in anew since, which this leaves in progress).
    pub fn answered(&self, request: &InProgress) {
        let mut open = self.lock();
        if let Some(open) = open.get_mut(&request.session)
            && open.requests.get(&request.id) == Some(&request.number)
        {
            open.requests.remove(&request.id);
        }
    }

    /// Forgets session `id` and ends its servers, waiting until they have exited.
    pub async fn close(&self, id: &str) {
        let open = self.lock().remove(id);
        if let Some(open) = open {
            open.connections.close().await;
        }
    }

    /// Takes out the sessions idle for `idle` or longer (no request since, no call in
    /// progress), to be closed.
    pub fn take_idle(&self, idle: Duration) -> Vec<(String, Arc<Connections>)> {
        let now = Instant::now();
        let mut open = self.lock();
        let ids: Vec<String> = open
            .iter()
            .filter(|(_, s)| now.duration_since(s.last_seen) >= idle && !s.connections.busy())
            .map(|(id, _)| id.clone())
            .collect();
        ids.into_iter().filter_map(|id| open.remove(&id).map(|s| (id, s.connections))).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Open>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The body of the response to a request in progress in a session: once it has ended, the
/// answer has gone out and the request's id is free again ([`Sessions::answered`]).
/// Dropped before its end (the client went away), the id stays taken: the request may still
/// be running, and MCP has a client never reuse an id in a session anyway.
pub(crate) struct Answering {
    body: BoxBody<Bytes, Infallible>,
    request: Option<(Arc<Sessions>, InProgress)>,
}

impl Answering {
    pub fn new(
        body: BoxBody<Bytes, Infallible>,
        sessions: Arc<Sessions>,
        request: InProgress,
    ) -> Answering {
        Answering { body, request: Some((sessions, request)) }
    }

    fn answered(&mut self) {
        if let Some((sessions, request)) = self.request.take() {
            sessions.answered(&request);
        }
    }
}

impl hyper::body::Body for Answering {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None)) {
            self.answered();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        // A whole body (a refusal of rmcp's) is dropped once sent, never polled to its end.
        if hyper::body::Body::is_end_stream(&self.body) {
            self.answered();
        }
    }
}

/// How often idle sessions are looked for: a quarter of the idle time, between 100 ms and
/// 30 s.
pub(crate) fn sweep_interval(idle: Duration) -> Duration {
    (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use rmcp::model::{ClientJsonRpcMessage, RequestId};
    use serde_json::json;

    use super::*;
    use crate::servers::{Launch, ServerRefusals, ServerSpec, Servers, Sharing};
    use crate::upstream::Handshake;

    fn message(value: serde_json::Value) -> ClientJsonRpcMessage {
        serde_json::from_value(value).expect("a client message")
    }

    /// An id names one request in progress in a session; a cancellation frees it at once,
    /// and the late end of the cancelled request's response leaves the new one in progress.
    #[test]
    fn an_id_names_one_request_in_progress_in_a_session() {
        let spec = ServerSpec {
            name: String::new(),
            prefix: String::new(),
            launch: Launch::Http { url: "http://127.0.0.1:1/mcp".into(), headers: Vec::new() },
            handshake: Handshake::Negotiate,
            sharing: Sharing::PerSession,
            resolve_paths_from: None,
        };
        let refusals = ServerRefusals { agent: "a".into(), record: Arc::new(|_, _| {}) };
        let connections = Arc::new(Servers::single(spec)).connect(refusals);
        let sessions = Sessions::default();
        sessions.opened("s1", "a", connections);
        let call = message(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "x", "arguments": {}}}));
        let cancel = message(json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 5}}));

        let first = sessions.take_in("s1", &call).unwrap().expect("in progress");
        let reused = sessions.take_in("s1", &call).expect_err("refused while in progress");
        assert_eq!(reused.id, RequestId::Number(5));
        assert!(sessions.take_in("elsewhere", &call).unwrap().is_none(), "no such session");
        sessions.answered(&first);
        let second = sessions.take_in("s1", &call).unwrap().expect("free once answered");

        assert!(sessions.take_in("s1", &cancel).unwrap().is_none());
        let third = sessions.take_in("s1", &call).unwrap().expect("free once cancelled");
        sessions.answered(&second);
        assert!(sessions.take_in("s1", &call).is_err(), "the new one is still in progress");
        sessions.answered(&third);
        assert!(sessions.take_in("s1", &call).is_ok());
    }
}
