//! The MCP servers behind one gateway, and each session's connections to them.
//!
//! A server is started (or connected to) lazily, at the first `tools/list` or `tools/call`
//! that needs it. By default each client session gets its own: its own child process for a
//! stdio server, its own upstream session for an HTTP one, so one agent's session never
//! shares a server's state (open files, a browser, a memory graph) with another's. A server
//! configured `shared` is started once and serves every session.
//!
//! A session's connections end with it ([`Connections::close`]): when the client closes
//! the session (`DELETE`), when it has been idle too long, and when the gateway shuts down
//! ([`Servers::close_all`]). Closing waits until each child process has exited and been
//! reaped; a session's connections dropped without a close are still ended by rmcp in
//! the background.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rmcp::model::Tool;

use crate::answer_cap::Record;
use crate::error::McpError;
use crate::naming::{route, valid_server_name};
use crate::shown::Shown;
use crate::upstream::{Handshake, Upstream};

/// One server behind the gateway, ready to start.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Its name in `SERVER__TOOL` (empty for the command line's one server, whose tools
    /// keep their own names).
    pub name: String,
    /// Put before a tool's name to make its catalog action (`fs__` makes `read_file` the
    /// action `fs__read_file`).
    pub prefix: String,
    pub launch: Launch,
    pub handshake: Handshake,
    pub sharing: Sharing,
    /// The working directory of a server that shares this machine's filesystem (a local
    /// command over stdio): every string argument of its calls is resolved there, links
    /// followed, before the decision (`aecl_engine::fs_paths`). `None` for a remote
    /// server, whose filesystem the gateway cannot see: path constraints are then lexical.
    pub resolve_paths_from: Option<PathBuf>,
}

/// How a server is reached. Values of `env` and `headers` may be secrets: `Debug` shows
/// their names only.
#[derive(Clone)]
pub enum Launch {
    /// A child process over its stdio, with the gateway's environment but `env_remove`,
    /// plus `env`.
    Command {
        program: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
        env_remove: Vec<String>,
        cwd: Option<PathBuf>,
    },
    /// A server over streamable HTTP, sent `headers` with every request.
    Http { url: String, headers: Vec<(String, String)> },
}

/// Whether sessions share a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    /// Each session starts its own.
    #[default]
    PerSession,
    /// One for every session, started by the first that needs it.
    Shared,
}

impl Launch {
    /// How it is named in logs and errors: the command line, or the URL without its
    /// query; never a value of `env` or `headers`.
    pub fn shown(&self) -> String {
        match self {
            Launch::Command { program, args, .. } => {
                std::iter::once(program).chain(args).cloned().collect::<Vec<_>>().join(" ")
            }
            Launch::Http { url, .. } => match url.parse::<hyper::Uri>() {
                Ok(parsed) => crate::upstream::shown(&parsed),
                Err(_) => "(unparsable URL)".to_owned(),
            },
        }
    }
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names =
            |pairs: &[(String, String)]| pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        match self {
            Launch::Command { env, env_remove, cwd, .. } => f
                .debug_struct("Command")
                .field("command", &self.shown())
                .field("env", &names(env))
                .field("env_remove", env_remove)
                .field("cwd", cwd)
                .finish(),
            Launch::Http { headers, .. } => f
                .debug_struct("Http")
                .field("url", &self.shown())
                .field("headers", &names(headers))
                .finish(),
        }
    }
}

/// Every server of one gateway.
#[derive(Debug)]
pub struct Servers {
    specs: Vec<ServerSpec>,
    /// Whether tools are exposed as `SERVER__TOOL` (a configuration file) or under their
    /// own names (the command line's one server).
    namespaced: bool,
    /// The started `shared` servers, by index.
    shared: Vec<tokio::sync::OnceCell<Arc<Upstream>>>,
    /// The sessions' connections, to close at shutdown.
    live: Mutex<Vec<Weak<Connections>>>,
    closing: AtomicBool,
}

impl Servers {
    /// The servers of a configuration file: tools exposed as `SERVER__TOOL`.
    pub fn new(specs: Vec<ServerSpec>) -> Result<Servers, McpError> {
        if specs.is_empty() {
            return Err(McpError::Config("no MCP server to serve".to_owned()));
        }
        for (i, spec) in specs.iter().enumerate() {
            if !valid_server_name(&spec.name) {
                return Err(McpError::Config(format!("`{}` is not a server name", spec.name)));
            }
            if specs.iter().skip(i + 1).any(|other| other.name == spec.name) {
                return Err(McpError::Config(format!("two servers are named `{}`", spec.name)));
            }
            let overlapping = specs.iter().enumerate().find(|(j, other)| {
                *j != i
                    && other.prefix.len() >= spec.prefix.len()
                    && other.prefix.starts_with(&spec.prefix)
            });
            if let Some((_, other)) = overlapping {
                return Err(McpError::Config(format!(
                    "server `{}`'s prefix `{}` starts server `{}`'s `{}`",
                    spec.name, spec.prefix, other.name, other.prefix
                )));
            }
        }
        Ok(Servers::with(specs, true))
    }

    /// The command line's one server: its tools keep their own names.
    pub fn single(spec: ServerSpec) -> Servers {
        Servers::with(vec![spec], false)
    }

    fn with(specs: Vec<ServerSpec>, namespaced: bool) -> Servers {
        let shared = specs.iter().map(|_| tokio::sync::OnceCell::new()).collect();
        Servers {
            specs,
            namespaced,
            shared,
            live: Mutex::default(),
            closing: AtomicBool::new(false),
        }
    }

    pub fn specs(&self) -> &[ServerSpec] {
        &self.specs
    }

    pub(crate) fn namespaced(&self) -> bool {
        self.namespaced
    }

    /// The server and the server's own tool name that an exposed tool name stands for.
    pub(crate) fn route<'a>(&self, exposed: &'a str) -> Option<(usize, &'a str)> {
        let (server, tool) = route(exposed, self.namespaced)?;
        if !self.namespaced {
            return Some((0, tool));
        }
        let index = self.specs.iter().position(|spec| spec.name == server)?;
        Some((index, tool))
    }

    /// A new session's connections (none started yet), recording what they refuse of the
    /// servers' messages into `refusals`.
    pub(crate) fn connect(self: &Arc<Self>, refusals: ServerRefusals) -> Arc<Connections> {
        let connections = Arc::new(Connections {
            servers: self.clone(),
            refusals,
            own: self.specs.iter().map(|_| tokio::sync::Mutex::new(Slot::Idle)).collect(),
            working: AtomicUsize::new(0),
            tools: Mutex::default(),
            shown: Shown::default(),
            shared_seen: self.specs.iter().map(|_| AtomicBool::new(false)).collect(),
        });
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|weak| weak.strong_count() > 0);
        live.push(Arc::downgrade(&connections));
        connections
    }

    /// Closes every session's connections and the shared servers, and starts no more:
    /// the gateway is shutting down.
    pub async fn close_all(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let live: Vec<Arc<Connections>> = {
            let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
            live.iter().filter_map(Weak::upgrade).collect()
        };
        // Concurrently: each may wait seconds for its processes to exit.
        let mut closing = tokio::task::JoinSet::new();
        for connections in live {
            closing.spawn(async move { connections.close().await });
        }
        for upstream in self.shared.iter().filter_map(|cell| cell.get().cloned()) {
            closing.spawn(async move { upstream.close().await });
        }
        while closing.join_next().await.is_some() {}
    }

    fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}

/// A session's own server, by state.
#[derive(Debug)]
enum Slot {
    Idle,
    Started(Arc<Upstream>),
    Closed,
}

/// Where a session's connections record what they refuse of a server's messages (one
/// too large, [`crate::answer_cap`]): as refusals of the session's agent, or of no agent
/// for a server the sessions share (its messages belong to no one session).
#[derive(Clone)]
pub(crate) struct ServerRefusals {
    pub agent: String,
    pub record: RecordAs,
}

/// Records a reason as a refusal of a subject (empty: no agent's).
pub(crate) type RecordAs = Arc<dyn Fn(&str, String) + Send + Sync>;

impl ServerRefusals {
    /// The record of `spec`'s server's refusals; the reason names the server by its name
    /// in the configuration (never its command line or URL, which may hold a secret).
    fn of(&self, spec: &ServerSpec) -> Record {
        let subject = match spec.sharing {
            Sharing::PerSession => self.agent.clone(),
            Sharing::Shared => String::new(),
        };
        let server = spec.name.clone();
        let record = self.record.clone();
        Arc::new(move |reason| match server.as_str() {
            "" => record(&subject, reason),
            name => record(&subject, format!("{reason} (server `{name}`)")),
        })
    }
}

impl std::fmt::Debug for ServerRefusals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerRefusals").field("agent", &self.agent).finish_non_exhaustive()
    }
}

/// One session's connections to the gateway's servers.
#[derive(Debug)]
pub(crate) struct Connections {
    servers: Arc<Servers>,
    /// Where what is refused of the servers' messages is recorded.
    refusals: ServerRefusals,
    /// The session's own (`per-session`) servers, by index.
    own: Vec<tokio::sync::Mutex<Slot>>,
    /// Requests in progress: a session is not idle while it has one.
    working: AtomicUsize,
    /// The servers' tools as these connections last listed them, by exposed name, with
    /// their server's index: what a call's definition is checked against. Kept here, not
    /// by a request's handler, so that a sessionless client's handlers (one per request)
    /// share it instead of listing every server again before each call.
    tools: Mutex<HashMap<String, (usize, Tool)>>,
    /// What these connections' servers have shown the agent beside results, and what of
    /// it their run holds ([`crate::shown`]).
    shown: Shown,
    /// The `shared` servers these connections have used, by index: one started by
    /// another session is new to this one's run.
    shared_seen: Vec<AtomicBool>,
}

/// A request in progress in a session, while it lives.
#[derive(Debug)]
pub(crate) struct Working(Arc<Connections>);

impl Drop for Working {
    fn drop(&mut self) {
        self.0.working.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Connections {
    pub fn servers(&self) -> &Arc<Servers> {
        &self.servers
    }

    /// The tools as last listed (see the field).
    pub fn tools(&self) -> std::sync::MutexGuard<'_, HashMap<String, (usize, Tool)>> {
        self.tools.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What these connections have shown the agent (see the field).
    pub fn shown(&self) -> &Shown {
        &self.shown
    }

    /// Marks a request in progress until the returned guard is dropped.
    pub fn working(self: &Arc<Self>) -> Working {
        self.working.fetch_add(1, Ordering::SeqCst);
        Working(self.clone())
    }

    /// Whether a request is in progress.
    pub fn busy(&self) -> bool {
        self.working.load(Ordering::SeqCst) > 0
    }

    /// Server `index`, started (or connected to) now when it is not yet.
    pub async fn upstream(&self, index: usize) -> Result<Arc<Upstream>, McpError> {
        let spec = self
            .servers
            .specs
            .get(index)
            .ok_or_else(|| McpError::Config(format!("no server #{index}")))?;
        if self.servers.is_closing() {
            return Err(McpError::Closed(spec_label(spec)));
        }
        if spec.sharing == Sharing::Shared {
            let cell = self
                .servers
                .shared
                .get(index)
                .ok_or_else(|| McpError::Config(format!("no server #{index}")))?;
            let upstream = cell
                .get_or_try_init(|| async {
                    let record = self.refusals.of(spec);
                    Upstream::start(&spec.launch, spec.handshake, record).await.map(Arc::new)
                })
                .await?;
            if self.shared_seen.get(index).is_some_and(|seen| !seen.swap(true, Ordering::SeqCst)) {
                self.shown.changed();
            }
            return Ok(upstream.clone());
        }
        let slot =
            self.own.get(index).ok_or_else(|| McpError::Config(format!("no server #{index}")))?;
        // Held while starting: a second request waits for the first's server.
        let mut slot = slot.lock().await;
        match &*slot {
            Slot::Started(upstream) => Ok(upstream.clone()),
            Slot::Closed => Err(McpError::Closed(spec_label(spec))),
            Slot::Idle => {
                let record = self.refusals.of(spec);
                let upstream =
                    Arc::new(Upstream::start(&spec.launch, spec.handshake, record).await?);
                tracing::debug!(server = %spec_label(spec), "MCP server started for a session");
                *slot = Slot::Started(upstream.clone());
                // Its instructions are shown to the agent from now on.
                self.shown.changed();
                Ok(upstream)
            }
        }
    }

    /// Starts every server now (the stdio gateway's one session, so that a server that
    /// cannot start stops the gateway at once).
    pub async fn start_all(&self) -> Result<(), McpError> {
        for index in 0..self.servers.specs.len() {
            self.upstream(index).await?;
        }
        Ok(())
    }

    /// The servers started so far, with their indexes, for what the gateway says of
    /// itself.
    pub fn started(&self) -> Vec<(usize, Arc<Upstream>)> {
        let mut started = Vec::new();
        for (index, spec) in self.servers.specs.iter().enumerate() {
            let upstream = match spec.sharing {
                Sharing::Shared => self.servers.shared.get(index).and_then(|c| c.get().cloned()),
                // A slot being started (locked) has nothing to say yet.
                Sharing::PerSession => self.own.get(index).and_then(|slot| {
                    let slot = slot.try_lock().ok()?;
                    match &*slot {
                        Slot::Started(upstream) => Some(upstream.clone()),
                        Slot::Idle | Slot::Closed => None,
                    }
                }),
            };
            started.extend(upstream.map(|upstream| (index, upstream)));
        }
        started
    }

    /// Ends the session's own servers and waits until their processes are reaped; none
    /// is started again. Shared servers stay for the other sessions.
    pub async fn close(&self) {
        for slot in &self.own {
            let previous = std::mem::replace(&mut *slot.lock().await, Slot::Closed);
            if let Slot::Started(upstream) = previous {
                upstream.close().await;
            }
        }
    }
}

/// A server as named in errors: its name, or its command line or URL.
fn spec_label(spec: &ServerSpec) -> String {
    if spec.name.is_empty() { spec.launch.shown() } else { spec.name.clone() }
}
