//! The confirmations of authoritative sources: a read without effect that the catalog
//! names `authoritative_for` some kinds makes the values of those kinds in its output
//! trusted, except the values its own call carried (an echo proves nothing).
//!
//! Apart from `typed.rs` because it reads the catalog's action specs, and the index itself
//! must not: the run state holds an index, and the policy's rules read the run state.

use serde_json::Value;

use super::typed::{confirmation_key, mention_free, normal_of};
use super::{ProvenanceIndex, SourceKind, SourceRef};
use crate::class::{EffectClass, Reversibility, Trust};
use crate::hash::{HashMap, HashSet};
use crate::path::for_each_leaf;
use crate::policy::{ActionSpec, OutputSpec};
use crate::text::{normalise, value_text};
use crate::values::{self, Found, ValueKind, ValueOptions};

/// Calls of authoritative actions awaiting their result, at most.
const MAX_PENDING_ECHOES: usize = 64;

impl ProvenanceIndex {
    /// Remembers the arguments of a call of an authoritative action, so that its output
    /// never confirms a value the call itself carried (an echo).
    pub fn note_call(&mut self, call_id: &str, action: &ActionSpec, args: &Value) {
        if !authoritative(action) {
            return;
        }
        let mut texts = Vec::new();
        for_each_leaf(args, &mut |_, leaf| {
            if let Some(text) = value_text(leaf) {
                texts.push(text);
            }
        });
        // Bounded: a run that never reports its results must not grow without end. The
        // result of a forgotten call then confirms nothing (see `confirm_output`).
        if self.echoes.len() >= MAX_PENDING_ECHOES {
            self.echoes.remove(0);
        }
        self.echoes.push((call_id.to_owned(), action.name.clone(), texts));
    }

    /// Confirms the values of the kinds `action` is authoritative for that its output
    /// holds. Nothing happens unless the action is a read with no effect that declares
    /// `authoritative_for` (the policy refuses anything else; this is the second lock), and
    /// a value that appeared in the call's own arguments is never confirmed.
    pub fn confirm_output(
        &mut self,
        call_id: &str,
        action: &ActionSpec,
        label: &str,
        seq: u32,
        output: &Value,
    ) {
        // Taken out whatever happens: one result per call. A result recorded under another
        // id than its call's (the histories of policy examples number events, not calls)
        // is matched to the latest pending call of the same action.
        let position = self
            .echoes
            .iter()
            .position(|(id, _, _)| id == call_id)
            .or_else(|| self.echoes.iter().rposition(|(_, name, _)| *name == action.name));
        let echoes = position.map(|at| self.echoes.remove(at).2);
        if !authoritative(action) {
            return;
        }
        // A call whose arguments were not noted (a result for a call never recorded) could
        // be an echo of anything: it confirms nothing.
        let Some(echoes) = echoes else { return };
        let options = ValueOptions::default();
        let echo_texts: Vec<String> = echoes.iter().map(|e| normalise(e)).collect();
        let mut echo_keys: HashSet<(String, String)> = HashSet::default();
        for kind in &action.authoritative_for {
            for echo in &echoes {
                for folded in [false, true] {
                    if let Some(normal) = normal_of(kind, echo, &options)
                        && let Some(key) = confirmation_key(kind, &normal, folded)
                    {
                        echo_keys.insert((kind.name().to_owned(), key));
                    }
                    for found in values::find(echo, std::slice::from_ref(kind), &options) {
                        if let Some(key) = confirmation_key(kind, &found.normal, folded) {
                            echo_keys.insert((kind.name().to_owned(), key));
                        }
                    }
                }
            }
        }
        let is_echo = |raw: &str| {
            let raw = normalise(raw);
            !raw.is_empty() && echo_texts.iter().any(|e| e.contains(raw.as_str()))
        };
        let source = SourceRef {
            kind: SourceKind::TrustedTool,
            label: format!("{label} (authoritative)"),
            seq,
        };
        let confirm = |key: (String, String),
                       confirmed: &mut HashMap<(String, String), SourceRef>| {
            if !echo_keys.contains(&key) {
                confirmed.entry(key).or_insert_with(|| source.clone());
            }
        };
        // A field the catalog marks untrusted vouches for nothing, whatever the output's
        // own trust: a listing's `description`, which the listed party writes, must not
        // confirm a name it holds (red-team round 14: a hotel's description line `Grand
        // Mallory Palace` confirmed that hotel). Read with the output taken as trusted, the
        // pieces still untrusted are those the field rules name.
        let ruled = OutputSpec { trust: Trust::Trusted, ..action.output.clone() };
        let leaves: Vec<String> = crate::output::pieces(&ruled, output)
            .into_iter()
            .filter(|piece| piece.trust == Trust::Trusted)
            .map(|piece| piece.text)
            .collect();
        for leaf in &leaves {
            for kind in &action.authoritative_for {
                match kind {
                    ValueKind::Custom(_) => {
                        // A custom kind's value is a whole field, or a whole line of text.
                        let lines = std::iter::once(leaf.as_str()).chain(leaf.lines());
                        for line in lines {
                            let name = mention_free(line);
                            if !is_echo(&name) && !name.is_empty() {
                                confirm((kind.name().to_owned(), name), &mut self.confirmed);
                            }
                        }
                    }
                    _ => {
                        for Found { normal, start, end, .. } in
                            values::find(leaf, std::slice::from_ref(kind), &options)
                        {
                            let raw = leaf.get(start..end).unwrap_or("");
                            if is_echo(raw) {
                                continue;
                            }
                            for folded in [false, true] {
                                if let Some(key) = confirmation_key(kind, &normal, folded) {
                                    confirm((kind.name().to_owned(), key), &mut self.confirmed);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether an action may confirm values: a read without effect that names kinds.
fn authoritative(action: &ActionSpec) -> bool {
    !action.authoritative_for.is_empty()
        && action.effect == EffectClass::Read
        && action.reversibility == Reversibility::NoEffect
}
