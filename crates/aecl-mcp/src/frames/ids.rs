//! The client's request ids, kept apart from the ids rmcp sees: each request the client
//! sends reaches rmcp under an id of the gateway's own, and each answer goes back under the
//! client's.
//!
//! rmcp keeps one cancellation per request id: a second request under an id still in
//! progress takes the first one's place, so a `notifications/cancelled` naming that id
//! cancelled the second call and the first one ran on, its answer dropped (a red-team
//! finding). Here a request whose id names one in progress is refused before rmcp sees it,
//! and a cancellation reaches rmcp under the id of the one request it names: an id names
//! one call. Own ids also keep an answer rmcp sends late, for a request its client
//! cancelled, from being taken for the answer to a new request under the same id.

use std::collections::{HashMap, VecDeque};

use rmcp::model::RequestId;

/// How many cancelled requests are remembered, so that an answer rmcp still sends for one
/// goes back under its client's id: rmcp drops the answers of cancelled requests, so these
/// are rarely used, and the oldest are forgotten.
const REMEMBERED_CANCELLED: usize = 1024;

/// The requests in progress, by the gateway's own id.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    next: i64,
    /// Own id to the client's, for every request whose answer has not gone out.
    own: HashMap<i64, RequestId>,
    /// The client's id to the own id, for the requests in progress and not cancelled.
    client: HashMap<RequestId, i64>,
    /// Own ids of cancelled requests still in `own`, oldest first.
    cancelled: VecDeque<i64>,
}

impl Ids {
    /// The own id of a new request of the client's with id `id`; `None` when a request of
    /// that id is still in progress (the new one is refused).
    pub fn start(&mut self, id: &RequestId) -> Option<RequestId> {
        if self.client.contains_key(id) {
            return None;
        }
        let own = self.next;
        self.next = self.next.wrapping_add(1);
        self.own.insert(own, id.clone());
        self.client.insert(id.clone(), own);
        Some(RequestId::Number(own))
    }

    /// The own id of the client's request `id` that the client cancels; `None` when no
    /// request of that id is in progress. The client's id is free again from now on.
    pub fn cancel(&mut self, id: &RequestId) -> Option<RequestId> {
        let own = self.client.remove(id)?;
        self.cancelled.push_back(own);
        while self.cancelled.len() > REMEMBERED_CANCELLED {
            if let Some(oldest) = self.cancelled.pop_front() {
                self.own.remove(&oldest);
            }
        }
        Some(RequestId::Number(own))
    }

    /// The client's id of the request whose answer goes out under own id `own`; the
    /// request is over. `None` for an id that is not one of the gateway's.
    pub fn answered(&mut self, own: &RequestId) -> Option<RequestId> {
        let RequestId::Number(number) = own else { return None };
        let id = self.own.remove(number)?;
        if self.client.get(&id) == Some(number) {
            self.client.remove(&id);
        } else {
            self.cancelled.retain(|cancelled| cancelled != number);
        }
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_names_one_request_in_progress() {
        let mut ids = Ids::default();
        let five = RequestId::Number(5);
        let first = ids.start(&five).expect("a new id");
        assert_eq!(ids.start(&five), None, "reused while the first is in progress");
        // Answered: the client's id again, and free for a new request.
        assert_eq!(ids.answered(&first), Some(five.clone()));
        let second = ids.start(&five).expect("free again");
        assert_ne!(second, first);
        // Cancelled: rmcp is told the own id; the client's id is free at once, and a late
        // answer of the cancelled one still goes back under it.
        assert_eq!(ids.cancel(&five), Some(second.clone()));
        assert_eq!(ids.cancel(&five), None, "nothing of that id in progress");
        let third = ids.start(&five).expect("free after the cancellation");
        assert_eq!(ids.answered(&second), Some(five.clone()));
        assert_eq!(ids.start(&five), None, "the third is still in progress");
        assert_eq!(ids.answered(&third), Some(five.clone()));
        assert_eq!(ids.answered(&third), None, "answered once");
        assert_eq!(ids.answered(&RequestId::String("x".into())), None);
    }

    #[test]
    fn cancelled_requests_are_remembered_up_to_a_bound() {
        let mut ids = Ids::default();
        let id = RequestId::String("same".into());
        for _ in 0..REMEMBERED_CANCELLED + 10 {
            ids.start(&id).unwrap();
            ids.cancel(&id).unwrap();
        }
        assert_eq!(ids.own.len(), REMEMBERED_CANCELLED);
        assert!(ids.client.is_empty());
    }
}
