//! The state of one run: its declared goal and scope, counters, taint, replay facts and the
//! provenance index of everything it has seen.
//!
//! `decide` only reads a `RunState`; the engine (or `aecl replay`) feeds it the run's
//! events through the `record_*` methods, which are pure too, so live traffic and replayed
//! traces update a run in exactly the same way.
//!
//! The methods that read the catalog (a call's action, an output's spec) are in `record.rs`:
//! this file is the state alone, which the policy's rule port and the sandbox tiers read.

use serde::{Deserialize, Serialize};

use crate::call::{CallDigest, Scope};
use crate::class::{DataClass, Trust};
use crate::decision::Decision;
use crate::hash::{HashMap, HashSet};
use crate::provenance::{Provenance, ProvenanceIndex, SourceKind, SourceRef};

/// A call recorded under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotentCall {
    pub call_id: String,
    pub digest: CallDigest,
}

/// One entry of the run's ordered history, kept for explanations and approval requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HistoryEntry {
    User { seq: u32, text: String },
    Call { seq: u32, id: String, action: String, decision: Decision },
    Result { seq: u32, id: String, action: String, trust: Trust, data_class: DataClass },
}

/// Everything `decide` knows about a run.
///
/// Serialised whole, every field (`crate::saved`): the local hook keeps a session's state
/// between its calls, and a field left out would be history forgotten.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub run: String,
    pub agent: Option<String>,
    pub goal: Option<String>,
    pub scope: Scope,
    /// Calls allowed so far; counted against `max_tool_calls_per_run`.
    pub calls_allowed: u32,
    /// The sum of the amount argument over the calls allowed so far.
    #[serde(with = "crate::saved::float_bits")]
    pub amount_spent: f64,
    pub provenance: ProvenanceIndex,
    /// The first untrusted content the run read, if any.
    pub read_untrusted: Option<SourceRef>,
    /// The first internal or secret data the run read, if any.
    pub read_private: Option<SourceRef>,
    /// Idempotency keys of calls allowed in this run.
    pub idempotency: HashMap<String, IdempotentCall>,
    /// Nonces presented so far (single use).
    pub nonces: HashSet<String>,
    /// Grants consumed so far (single use).
    pub consumed_grants: HashSet<String>,
    /// Values used per `action.argument`, for the `first_seen` risk condition.
    pub seen_values: HashMap<String, HashSet<String>>,
    pub history: Vec<HistoryEntry>,
    /// The ids of the calls in `history`: whether a call id is new is asked at every call,
    /// and a scan of the history made a run's calls quadratic in its length.
    call_ids: HashSet<String>,
    /// Actions of calls whose results have not arrived, by call id.
    pending: HashMap<String, String>,
    /// Set when this state replaces one that expired (idle, or evicted for memory): what
    /// the run saw before is gone, so `decide` treats a control value it cannot trace as
    /// untrusted (`expired.label` names why) instead of as written by the model.
    pub expired: Option<SourceRef>,
    /// An estimate of the memory this state holds, in bytes (see [`RunState::approx_bytes`]).
    bytes: usize,
    /// Money reserved by allowed calls whose outcome is not known yet, by call id.
    #[serde(with = "crate::saved::float_map_bits")]
    reserved: HashMap<String, f64>,
    seq: u32,
}

impl RunState {
    pub fn new(run: &str) -> RunState {
        RunState { run: run.to_owned(), ..RunState::default() }
    }

    fn next_seq(&mut self) -> u32 {
        let seq = self.seq;
        self.seq = self.seq.saturating_add(1);
        seq
    }

    /// Records the user's own words: trusted.
    pub fn record_user(&mut self, text: &str) {
        let seq = self.next_seq();
        self.bytes = self.bytes.saturating_add(text_cost(text).saturating_add(text.len()));
        self.provenance.add(SourceKind::User, "user", seq, text);
        self.history.push(HistoryEntry::User { seq, text: text.to_owned() });
    }

    /// An estimate of the bytes this state holds: its provenance index (the bulk: about
    /// [`INDEX_COST_PER_BYTE`] per byte of text indexed), history and per-call records.
    /// Used to bound the memory of all open runs; an estimate on the high side.
    pub fn approx_bytes(&self) -> usize {
        self.bytes.saturating_add(size_of::<RunState>())
    }

    /// The state of a run whose earlier state expired (`why`: idle, or evicted for
    /// memory). Nothing of the old history carries over, trusted or not: an injected value
    /// cannot be laundered by the gap, since `decide` takes a control value it cannot trace
    /// in a run marked `expired` as untrusted, and the exfiltration rule sees both private
    /// data and untrusted content as read.
    pub fn after_expiry(run: &str, why: &str) -> RunState {
        RunState::new(run).expire(why)
    }

    /// What is left of this state when it expires: [`RunState::after_expiry`], keeping
    /// what only ever restricts the run — its agent, declared goal and scope, the calls
    /// counted against `max_tool_calls_per_run` and the money spent — so that expiry never
    /// widens what the run may do.
    #[must_use]
    pub fn expire(&self, why: &str) -> RunState {
        let run = self.run.as_str();
        let source = SourceRef {
            kind: SourceKind::Untrusted,
            label: format!("history lost when run `{run}` expired ({why})"),
            seq: 0,
        };
        let mut state = RunState::new(run);
        state.agent.clone_from(&self.agent);
        state.goal.clone_from(&self.goal);
        state.scope = self.scope.clone();
        state.calls_allowed = self.calls_allowed;
        state.amount_spent = self.amount_spent;
        state.read_untrusted = Some(source.clone());
        state.read_private = Some(source.clone());
        state.expired = Some(source);
        state.seq = 1;
        state
    }

    /// Settles or releases the budget an allowed call reserved. An execution that did not
    /// happen (`executed == false`: failed before any effect, denied, timed out before
    /// dispatch) gives its amount back; one that happened, or may have happened, keeps it.
    pub fn record_outcome(&mut self, call_id: &str, executed: bool) {
        if let Some(amount) = self.reserved.remove(call_id)
            && !executed
        {
            self.amount_spent = (self.amount_spent - amount).max(0.0);
        }
    }

    /// Money reserved by calls whose outcome is not known yet.
    pub fn amount_reserved(&self) -> f64 {
        self.reserved.values().sum()
    }

    /// Where a value came from; see [`ProvenanceIndex::provenance_of`].
    pub fn provenance_of(&self, value: &str) -> Provenance {
        self.provenance.provenance_of(value)
    }

    /// Whether the history holds a call of id `call_id`.
    pub fn has_call(&self, call_id: &str) -> bool {
        self.call_ids.contains(call_id)
    }

    /// The action of a call whose result has not arrived yet.
    pub fn pending_action(&self, call_id: &str) -> Option<&str> {
        self.pending.get(call_id).map(String::as_str).filter(|action| *action != REUSED_ID)
    }
}

/// What a run waits for under a call id that calls of two actions took: no action's, so a
/// result for it is untrusted and of the cautious data class (`record_result`). Spaces
/// and parentheses keep it apart from any action's name a hook sends.
const REUSED_ID: &str = "(call id reused)";

/// Fixed cost of a recorded call (history entry, pending entry, id, map slots).
const CALL_COST: usize = 256;
/// Bytes of provenance index per byte of indexed text: the compact copy, the word map and
/// an 8-byte gram entry (key, posting, table slot) for every position.
pub const INDEX_COST_PER_BYTE: usize = 40;

fn text_cost(text: &str) -> usize {
    text.len().saturating_mul(INDEX_COST_PER_BYTE).saturating_add(128)
}

mod record;
#[cfg(test)]
mod tests;
