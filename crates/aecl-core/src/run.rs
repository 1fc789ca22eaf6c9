//! The state of one run: its declared goal and scope, counters, taint, replay facts and the
//! provenance index of everything it has seen.
//!
//! `decide` only reads a `RunState`; the engine (or `aecl replay`) feeds it the run's
//! events through the `record_*` methods, which are pure too, so live traffic and replayed
//! traces update a run in exactly the same way.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::{Call, CallDigest, Scope};
use crate::hash::{HashMap, HashSet};
use crate::policy::{ActionSpec, DataClass, OutputSpec, Trust};
use crate::provenance::{Provenance, ProvenanceIndex, SourceKind, SourceRef};
use crate::verdict::{Decision, Verdict};

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

    /// Records a decided call: counters, budgets and single-use values move only for calls
    /// that go through; the nonce is spent either way.
    pub fn record_call(&mut self, call: &Call, verdict: &Verdict, action: Option<&ActionSpec>) {
        let seq = self.next_seq();
        if let Some(nonce) = &call.nonce {
            self.nonces.insert(nonce.clone());
        }
        let decision = verdict.enforced_decision();
        self.bytes = self.bytes.saturating_add(
            CALL_COST + 3 * call.id.len() + 2 * call.action.len() + call.args.to_string().len(),
        );
        self.call_ids.insert(call.id.clone());
        self.history.push(HistoryEntry::Call {
            seq,
            id: call.id.clone(),
            action: call.action.clone(),
            decision: verdict.decision,
        });
        if self.agent.is_none() {
            self.agent = Some(call.agent.clone());
        }
        // A result may still arrive for a call that was approved by a human later.
        self.pending.insert(call.id.clone(), call.action.clone());
        if let Some(action) = action {
            // Its arguments, so an authoritative action never confirms its own echo.
            self.provenance.note_call(&call.id, action, &call.args);
        }
        if decision != Decision::Allow || verdict.replay_of.is_some() {
            return;
        }
        self.calls_allowed = self.calls_allowed.saturating_add(1);
        if let Some(key) = &call.idempotency_key {
            self.idempotency.insert(
                key.clone(),
                IdempotentCall { call_id: call.id.clone(), digest: call.digest() },
            );
        }
        let Some(action) = action else { return };
        if let Ok(Some(amount)) = crate::decide::amount_of(action, &call.args) {
            // Reserved now, settled or released by `record_outcome`.
            self.amount_spent += amount;
            self.reserved.insert(call.id.clone(), amount);
        }
        // Remember the values of every argument a rule or risk factor names, for
        // `first_seen`.
        let paths =
            action.args.iter().map(|a| &a.path).chain(action.risk_factors.iter().map(|f| &f.arg));
        for path in paths {
            let key = format!("{}.{}", action.name, path);
            let set = self.seen_values.entry(key).or_default();
            for value in path.values(&call.args) {
                if let Some(text) = value_text(value) {
                    self.bytes = self.bytes.saturating_add(text.len() + 48);
                    set.insert(text);
                }
            }
        }
    }

    /// Records a tool's output. `action` is the catalog entry of the call that produced it;
    /// without one (an unknown tool) the output is taken as untrusted and internal.
    pub fn record_result(&mut self, call_id: &str, action: Option<&ActionSpec>, output: &Value) {
        let seq = self.next_seq();
        let action_name = self.result_action_name(call_id, action);
        let label = format!("{call_id} {action_name}");
        if let Some(action) = action {
            // An authoritative source confirms the values it returns (`provenance::typed`).
            self.provenance.confirm_output(call_id, action, &label, seq, output);
        }
        let default_spec = OutputSpec::default();
        let spec = action.map_or(&default_spec, |a| &a.output);
        self.record_output(seq, call_id, action_name, label, spec, output);
    }

    /// Records a tool's output that is untrusted whatever the catalog says of the action's
    /// output: what a target answered with an error (an MCP tool's error result, which the
    /// agent is shown as it is), which is not the output the catalog describes. All of it
    /// is untrusted (no field rule promotes any of it), the action's data class is kept,
    /// and it confirms no value (`provenance::typed`).
    pub fn record_untrusted_result(
        &mut self,
        call_id: &str,
        action: Option<&ActionSpec>,
        output: &Value,
    ) {
        let seq = self.next_seq();
        let action_name = self.result_action_name(call_id, action);
        let label = format!("{call_id} {action_name}");
        let spec = OutputSpec {
            trust: Trust::Untrusted,
            fields: Vec::new(),
            ..action.map(|a| a.output.clone()).unwrap_or_default()
        };
        self.record_output(seq, call_id, action_name, label, &spec, output);
    }

    /// Records content the agent was shown beside any call's output, which no catalog
    /// describes (an MCP server's instructions and its tools' descriptions, a server's
    /// request for input during a call): every piece of it is indexed untrusted under
    /// `source`, so that a value taken from it is untrusted wherever it appears later.
    ///
    /// It does not mark the run as having read untrusted content (`read_untrusted`, which
    /// the exfiltration rule, the risk score and `after_untrusted` sandbox rules read):
    /// every MCP session shows its servers' instructions and tool descriptions before the
    /// first call, so that mark would be set in every such run from its start whatever it
    /// goes on to read; outputs set it.
    pub fn record_untrusted(&mut self, source: &str, content: &Value) {
        let seq = self.next_seq();
        for piece in crate::output::pieces(&OutputSpec::default(), content) {
            let label = if piece.path.is_empty() {
                source.to_owned()
            } else {
                let sep = if piece.path.starts_with('[') { "" } else { "." };
                format!("{source}{sep}{}", piece.path)
            };
            // Untrusted whatever the piece says: the default spec is untrusted already,
            // and nothing here may be promoted.
            self.provenance.add(SourceKind::Untrusted, &label, seq, &piece.text);
            self.bytes = self.bytes.saturating_add(text_cost(&piece.text));
        }
    }

    /// The action named in a result's label, and the call's result no longer awaited.
    fn result_action_name(&mut self, call_id: &str, action: Option<&ActionSpec>) -> String {
        let name = action
            .map(|a| a.name.clone())
            .or_else(|| self.pending.get(call_id).cloned())
            .unwrap_or_default();
        self.pending.remove(call_id);
        name
    }

    /// Indexes `output` as `spec` says and notes what the run has now read.
    fn record_output(
        &mut self,
        seq: u32,
        call_id: &str,
        action_name: String,
        label: String,
        spec: &OutputSpec,
        output: &Value,
    ) {
        // Each field with its own trust (`crate::output`), or the whole output as one.
        let mut saw_untrusted = false;
        for piece in crate::output::pieces(spec, output) {
            saw_untrusted |= piece.trust == Trust::Untrusted;
            let kind = source_kind(piece.trust);
            if piece.path.is_empty() {
                self.provenance.add(kind, &label, seq, &piece.text);
            } else {
                let sep = if piece.path.starts_with('[') { "" } else { "." };
                self.provenance.add(kind, &format!("{label}{sep}{}", piece.path), seq, &piece.text);
            }
            self.bytes = self.bytes.saturating_add(text_cost(&piece.text));
        }
        if saw_untrusted && self.read_untrusted.is_none() {
            self.read_untrusted =
                Some(SourceRef { kind: SourceKind::Untrusted, label: label.clone(), seq });
        }
        if spec.data_class >= DataClass::Internal && self.read_private.is_none() {
            self.read_private = Some(SourceRef { kind: source_kind(spec.trust), label, seq });
        }
        self.history.push(HistoryEntry::Result {
            seq,
            id: call_id.to_owned(),
            action: action_name,
            trust: spec.trust,
            data_class: spec.data_class,
        });
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
        self.pending.get(call_id).map(String::as_str)
    }
}

/// Fixed cost of a recorded call (history entry, pending entry, id, map slots).
const CALL_COST: usize = 256;
/// Bytes of provenance index per byte of indexed text: the compact copy, the word map and
/// an 8-byte gram entry (key, posting, table slot) for every position.
pub const INDEX_COST_PER_BYTE: usize = 40;

fn text_cost(text: &str) -> usize {
    text.len().saturating_mul(INDEX_COST_PER_BYTE).saturating_add(128)
}

fn source_kind(trust: Trust) -> SourceKind {
    match trust {
        Trust::Trusted => SourceKind::TrustedTool,
        Trust::Untrusted => SourceKind::Untrusted,
    }
}

/// The text a value is matched as: strings as they are, numbers in their shortest form
/// (`1200.0` is `1200`), booleans and null not at all.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        }),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests;
