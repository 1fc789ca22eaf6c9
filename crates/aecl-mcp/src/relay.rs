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

    /// Asks the agent's client `requests`; its answers by the same keys, and only those.
    /// Only form elicitations are relayed: a server asking for a completion of the
    /// agent's model (`sampling/createMessage`), for the client's roots, or for a URL to
    /// be opened is refused before anything reaches the client, since none of these goes
    /// through the policy.
    pub async fn ask(&self, requests: InputRequests) -> Result<InputResponses, String> {
        if let Some((key, refused)) =
            requests.iter().find_map(|(k, r)| unrelayed(r).map(|w| (k, w)))
        {
            return Err(format!("input request `{key}` is {refused}, which aecl does not relay"));
        }
        let asked: Vec<String> = requests.keys().cloned().collect();
        let (answer, answered) = oneshot::channel();
        self.0
            .send((requests, answer))
            .await
            .map_err(|_| "the agent's client is gone".to_owned())?;
        let mut answers =
            answered.await.map_err(|_| "the agent's client did not answer".to_owned())??;
        // The client's answers to what was not asked are not the server's to read.
        answers.retain(|key, _| asked.contains(key));
        Ok(answers)
    }
}

/// What a request that is not relayed is, or `None` for a form elicitation.
fn unrelayed(request: &InputRequest) -> Option<&'static str> {
    match request {
        InputRequest::Elicitation(request) => match &request.params {
            ElicitRequestParams::FormElicitationParams { .. } => None,
            _ => Some("a URL elicitation"),
        },
        InputRequest::CreateMessage(_) => Some("a request for a completion of the agent's model"),
        InputRequest::ListRoots(_) => Some("a request for the client's roots"),
        // Whatever later revisions add is refused until it is known.
        _ => Some("a kind of request unknown to aecl"),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn requests(key: &str, request: Value) -> InputRequests {
        let request: InputRequest = serde_json::from_value(request).expect("an input request");
        InputRequests::from([(key.to_owned(), request)])
    }

    #[tokio::test]
    async fn only_form_elicitations_reach_the_client_and_only_asked_answers_come_back() {
        let (relay, mut rounds) = Relay::channel();
        let refused = [
            json!({"method": "roots/list"}),
            json!({"method": "sampling/createMessage", "params": {
                "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
                "maxTokens": 10}}),
            json!({"method": "elicitation/create", "params": {"mode": "url",
                "message": "open this", "url": "https://example.com/", "elicitationId": "e1"}}),
        ];
        for request in refused {
            // Refused at once; relayed, it would wait for an answer that never comes.
            let wait = std::time::Duration::from_secs(10);
            let answer =
                tokio::time::timeout(wait, relay.ask(requests("k", request.clone()))).await;
            assert!(matches!(answer, Ok(Err(_))), "{request} was relayed");
            assert!(rounds.try_recv().is_err(), "{request} reached the client");
        }
        let form = json!({"method": "elicitation/create", "params": {"mode": "form",
            "message": "which box?",
            "requestedSchema": {"type": "object", "properties": {"box": {"type": "string"}}}}});
        let client = tokio::spawn(async move {
            let (asked, answer) = rounds.recv().await.expect("a round");
            assert_eq!(asked.keys().collect::<Vec<_>>(), ["form"]);
            let answers = InputResponses::from([
                ("form".to_owned(), json!({"action": "accept", "content": {"box": "b1"}})),
                ("extra".to_owned(), json!("not asked")),
            ]);
            answer.send(Ok(answers)).expect("the relay waits");
        });
        let answers = relay.ask(requests("form", form)).await.expect("relayed");
        client.await.expect("the client answered");
        assert_eq!(answers.keys().collect::<Vec<_>>(), ["form"]);
    }
}
