//! Input that a wrapped server asks for in the middle of a call, relayed to the agent's
//! client and its answers relayed back, whichever protocol revision each side speaks.
//!
//! A 2026-07-28 server answers a `tools/call` with `input_required` (its requests inline);
//! a 2025-11-25 server sends its own `elicitation/create` request while the call is open.
//! Either way the requests become one *round* on the call's [`Relay`]; the gateway's
//! server side answers the round by asking the agent's client: with server-to-client
//! requests when the client speaks 2025-11-25, or by answering the client's `tools/call`
//! with `input_required` and taking the answers from its retry when it speaks 2026-07-28.
//!
//! INVARIANT: the rounds happen inside the one engine execution of the call (the decision
//! was made before the first forward). Nothing here touches the approval gate: an
//! elicitation answer is the client's, never an approval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientConfig, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction,
    InputRequest, InputRequests, InputResponses,
};
use rmcp::service::RequestContext;
use rmcp::{ClientHandler, ErrorData, Peer, RoleClient, RoleServer};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::upstream::client_config;

/// One round: the server's requests, and where their answers go.
pub(crate) type Round = (InputRequests, oneshot::Sender<Result<InputResponses, String>>);

/// The way from one call's forwarding to the agent's client.
#[derive(Debug, Clone)]
pub(crate) struct Relay(mpsc::Sender<Round>);

impl Relay {
    /// A relay and the receiving end the server side answers rounds from.
    pub fn channel() -> (Relay, mpsc::Receiver<Round>) {
        let (sender, receiver) = mpsc::channel(1);
        (Relay(sender), receiver)
    }

    /// Asks the agent's client `requests`; its answers by the same keys.
    pub async fn ask(&self, requests: InputRequests) -> Result<InputResponses, String> {
        let (answer, answered) = oneshot::channel();
        self.0
            .send((requests, answer))
            .await
            .map_err(|_| "the agent's client is gone".to_owned())?;
        answered.await.map_err(|_| "the agent's client did not answer".to_owned())?
    }
}

/// The relays of the calls being forwarded: where a 2025-11-25 server's own requests go.
#[derive(Debug, Clone, Default)]
pub(crate) struct Relays {
    open: Arc<Mutex<Vec<(u64, Relay)>>>,
    next: Arc<AtomicU64>,
}

impl Relays {
    /// Registers `relay` while the returned guard lives.
    pub fn enter(&self, relay: Relay) -> Entered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, relay));
        Entered { relays: self.clone(), id }
    }

    /// The relay of the one call in progress. A 2025-11-25 server's request does not say
    /// which call it belongs to, so with several in progress none is chosen.
    fn only(&self) -> Result<Relay, String> {
        let open = self.lock();
        match open.as_slice() {
            [(_, relay)] => Ok(relay.clone()),
            [] => Err("no call is in progress".to_owned()),
            _ => Err("several calls are in progress and the request names none".to_owned()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Relay)>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Removes its relay when dropped.
#[derive(Debug)]
pub(crate) struct Entered {
    relays: Relays,
    id: u64,
}

impl Drop for Entered {
    fn drop(&mut self) {
        self.relays.lock().retain(|(id, _)| *id != self.id);
    }
}

/// The gateway's client side: declares form elicitation and relays a server's
/// `elicitation/create` to the agent's client of the call in progress.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamClient {
    relays: Relays,
}

impl UpstreamClient {
    pub fn new(relays: Relays) -> UpstreamClient {
        UpstreamClient { relays }
    }
}

/// The key a 2025-11-25 server's one request is relayed under.
const ELICITATION_KEY: &str = "elicitation";

impl ClientHandler for UpstreamClient {
    fn get_info(&self) -> ClientConfig {
        client_config()
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let relay = match self.relays.only() {
            Ok(relay) => relay,
            Err(why) => {
                // Fail closed: the server hears "declined", never a made-up answer.
                tracing::warn!(why, "an MCP server's elicitation declined");
                return Ok(ElicitResult::new(ElicitationAction::Decline));
            }
        };
        let mut requests = InputRequests::new();
        requests.insert(
            ELICITATION_KEY.to_owned(),
            InputRequest::Elicitation(ElicitRequest::new(request)),
        );
        let mut answers =
            relay.ask(requests).await.map_err(|e| ErrorData::internal_error(e, None))?;
        let answer = answers.remove(ELICITATION_KEY).ok_or_else(|| {
            ErrorData::internal_error("the agent's client gave no answer to the elicitation", None)
        })?;
        serde_json::from_value(answer).map_err(|e| {
            ErrorData::internal_error(format!("the agent's client's elicitation answer: {e}"), None)
        })
    }
}

/// Answers a round by asking a 2025-11-25 client with server-to-client requests.
pub(crate) async fn ask_legacy_client(
    peer: &Peer<RoleServer>,
    requests: InputRequests,
) -> Result<InputResponses, String> {
    let mut answers = InputResponses::new();
    for (key, request) in requests {
        let answer: Result<Value, String> = match request {
            InputRequest::Elicitation(request) => peer
                .create_elicitation(request.params)
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())),
            // Sampling and roots are deprecated (SEP-2577) and not relayed: the server
            // hears an error rather than an answer the agent's client never gave.
            _ => Err("only elicitation is relayed to the agent's client".to_owned()),
        };
        answers.insert(key.clone(), answer.map_err(|e| format!("input request `{key}`: {e}"))?);
    }
    Ok(answers)
}
