//! The open HTTP sessions of a gateway and the server connections each holds, so that
//! they end with the session: at its `DELETE`, when it has been idle too long, and at the
//! gateway's shutdown.
//!
//! INVARIANT: a session's own server processes are ended (and reaped) before its `DELETE`
//! is answered, and no later than one sweep after its idle time is up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

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
}

#[derive(Debug)]
struct Open {
    agent: String,
    connections: Arc<Connections>,
    last_seen: Instant,
}

impl Sessions {
    /// Keeps the new session `id` of `agent`.
    pub fn opened(&self, id: &str, agent: &str, connections: Arc<Connections>) {
        let open = Open { agent: agent.to_owned(), connections, last_seen: Instant::now() };
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
        });
        entry.last_seen = Instant::now();
        entry.connections.clone()
    }

    /// How many sessions `agent` has open.
    pub fn count(&self, agent: &str) -> usize {
        self.lock().values().filter(|open| open.agent == agent).count()
    }

    /// A request in session `id` came now.
    pub fn seen(&self, id: &str) {
        if let Some(open) = self.lock().get_mut(id) {
            open.last_seen = Instant::now();
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

/// How often idle sessions are looked for: a quarter of the idle time, between 100 ms and
/// 30 s.
pub(crate) fn sweep_interval(idle: Duration) -> Duration {
    (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30))
}
