//! Recording a run's events that the catalog describes: a decided call (counters, budgets,
//! idempotency keys, the values `first_seen` remembers) and a tool's output (indexed by the
//! trust of each field, noting untrusted and private reads).

use serde_json::Value;

use super::{CALL_COST, HistoryEntry, IdempotentCall, RunState, text_cost};
use crate::call::Call;
use crate::class::{DataClass, Trust};
use crate::decision::Decision;
use crate::policy::{ActionSpec, OutputSpec};
use crate::provenance::{SourceKind, SourceRef};
use crate::text::value_text;
use crate::verdict::Verdict;

impl RunState {
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
        // A result may still arrive for a call that was approved by a human later. Under an
        // id another action still waits under, nobody can tell whose result arrives: it is
        // taken at the least trust (red team round 31, flow F1: `c1` a page fetch, then `c1`
        // a trusted read, then the page recorded as the trusted read's output).
        let reused = self.pending.get(&call.id).is_some_and(|earlier| *earlier != call.action);
        let waits = if reused { super::REUSED_ID.to_owned() } else { call.action.clone() };
        self.pending.insert(call.id.clone(), waits);
        if let Some(action) = action {
            // Its arguments, so an authoritative action never confirms its own echo.
            self.provenance.note_call(&call.id, action, &call.args);
        }
        // What the model wrote into the call: a trusted tool showing it later repeats it.
        self.provenance.note_arguments(seq, &call.args);
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
        if let Ok(Some(amount)) = action.amount(&call.args) {
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
        if self.pending.get(call_id).is_some_and(|waits| waits == super::REUSED_ID) {
            return self.record_untrusted_result(call_id, None, output);
        }
        let seq = self.next_seq();
        let action_name = self.result_action_name(call_id, action);
        let label = format!("{call_id} {action_name}");
        if let Some(action) = action {
            // An authoritative source confirms the values it returns (`provenance::typed`).
            let recorded = self.call_ids.contains(call_id);
            self.provenance.confirm_output(call_id, recorded, action, &label, seq, output);
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
        self.record_shown(source, content, false);
    }

    /// `record_untrusted` for content the agent read as it reads a call's output (a
    /// client's task notification: a subagent's result, a background command's report):
    /// text in it marks the run as having read untrusted content, as an output does.
    pub fn record_untrusted_read(&mut self, source: &str, content: &Value) {
        self.record_shown(source, content, true);
    }

    fn record_shown(&mut self, source: &str, content: &Value, read: bool) {
        let seq = self.next_seq();
        let mut saw_text = false;
        for piece in crate::output::pieces(&OutputSpec::default(), content) {
            saw_text |= !piece.text.trim().is_empty();
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
        if read && saw_text && self.read_untrusted.is_none() {
            let label = source.to_owned();
            self.read_untrusted = Some(SourceRef { kind: SourceKind::Untrusted, label, seq });
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
        let pieces = crate::output::pieces(spec, output);
        let split = pieces.len() > 1;
        let mut announced = false;
        // A value written across fields (a vendor's bank details as `sort_code` and
        // `account`, `BLZ` and `Konto`, an IBAN's country, check digits and BBAN given
        // apart) is the fields' together, as it is one text's (red team round 31, flow F2:
        // the IBAN built from them was "seen nowhere"). Untrusted only: a reading can make
        // a value untrusted, never trusted. Indexed after the fields, whose own labels name
        // a value any of them shows.
        // Each after a word: letters keep the fields' numbers apart, as a text's words do,
        // in whatever order the fields come (a path's list index would join them).
        let untrusted_fields: Vec<String> = pieces
            .iter()
            .filter(|p| split && p.trust == Trust::Untrusted && !p.text.trim().is_empty())
            .map(|p| format!("field: {}", p.text))
            .collect();
        let together = (untrusted_fields.len() > 1).then(|| untrusted_fields.join("\n"));
        for piece in pieces {
            announced |= split && crate::values::names_a_transform(&piece.text);
            // An empty untrusted field (a CRM's `notes: ""`) showed the agent nothing: it
            // does not mark the run as having read untrusted content (red team round 20,
            // FP1: every later send was taken for an exfiltration).
            saw_untrusted |= piece.trust == Trust::Untrusted && !piece.text.trim().is_empty();
            let kind = source_kind(piece.trust);
            if piece.path.is_empty() {
                self.provenance.add(kind, &label, seq, &piece.text);
            } else {
                let sep = if piece.path.starts_with('[') { "" } else { "." };
                self.provenance.add(kind, &format!("{label}{sep}{}", piece.path), seq, &piece.text);
            }
            self.bytes = self.bytes.saturating_add(text_cost(&piece.text));
        }
        if let Some(together) = together {
            let together_label = format!("{label} (its fields together)");
            self.provenance.add(SourceKind::Untrusted, &together_label, seq, &together);
            self.bytes = self.bytes.saturating_add(text_cost(&together));
        }
        // A reading the output announces in one part (a key `account_reversed`, a subject
        // `written backwards`) for a value in another: the output is read as a whole too,
        // untrusted (red team round 20, F1: split into fields, the hint and the reversed
        // IBAN never met).
        if saw_untrusted && announced {
            let whole = match output {
                Value::String(text) => std::borrow::Cow::Borrowed(text.as_str()),
                other => std::borrow::Cow::Owned(other.to_string()),
            };
            for reading in crate::values::hinted(&whole) {
                let whole_label = format!("{label} (read as a whole)");
                self.provenance.add(SourceKind::Untrusted, &whole_label, seq, &reading);
                self.bytes = self.bytes.saturating_add(text_cost(&reading));
            }
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
}

fn source_kind(trust: Trust) -> SourceKind {
    match trust {
        Trust::Trusted => SourceKind::TrustedTool,
        Trust::Untrusted => SourceKind::Untrusted,
    }
}
