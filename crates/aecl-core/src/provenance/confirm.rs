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
        // result of a forgotten call then confirms nothing (see `confirm_output`): its
        // call is one the run recorded, so it is never matched to another call's
        // arguments.
        if self.echoes.len() >= MAX_PENDING_ECHOES {
            self.echoes.remove(0);
        }
        self.echoes.push((call_id.to_owned(), action.name.clone(), texts));
    }

    /// Confirms the values of the kinds `action` is authoritative for that its output
    /// holds. Nothing happens unless the action is a read with no effect that declares
    /// `authoritative_for` (the policy refuses anything else; this is the second lock), and
    /// a value that appeared in the call's own arguments is never confirmed.
    /// `recorded_call`: whether the run recorded a call under `call_id`.
    pub fn confirm_output(
        &mut self,
        call_id: &str,
        recorded_call: bool,
        action: &ActionSpec,
        label: &str,
        seq: u32,
        output: &Value,
    ) {
        // Taken out whatever happens: one result per call. A result recorded under an id
        // no call of the run has (the histories of policy examples number events, not
        // calls) is matched to the latest pending call of the same action. A recorded
        // call's result never is: its arguments were forgotten (more calls pending than
        // the bound) or never noted, and another call's would make its echo look
        // confirmed (red team round 20, F5: 65 lookups in flight).
        let position = self.echoes.iter().position(|(id, _, _)| id == call_id).or_else(|| {
            if recorded_call {
                None
            } else {
                self.echoes.iter().rposition(|(_, name, _)| *name == action.name)
            }
        });
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
        let echo_parts: Vec<String> = echoes.iter().map(|e| read_alike(e)).collect();
        let is_echo = |raw: &str| {
            let normal = normalise(raw);
            (!normal.is_empty() && echo_texts.iter().any(|e| e.contains(normal.as_str())))
                || assembled_from(&read_alike(raw), &echo_parts)
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

/// `text`'s letters and digits, lower case, each letter drawn like a digit read as that
/// digit (`O` as `0`, `l` and `I` as `1`: the IBAN reader's table,
/// `values::look_alike_digit`): how an argument and an output are compared for an echo
/// that is not written alike.
fn read_alike(text: &str) -> String {
    normalise(text)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .map(|c| match u8::try_from(c.to_ascii_uppercase()) {
            Ok(b) if b.is_ascii_uppercase() => values::look_alike_digit(b).map_or(c, char::from),
            _ => c,
        })
        .collect()
}

/// Whether the value `value` (as [`read_alike`] reads it) was assembled from the call's
/// arguments `parts` (read alike too): inside one of them, or three quarters of it covered
/// by them, in any order (an IBAN a lookup rebuilt from `country`, `check` and `bban`
/// arguments, an address from a user and a domain). Such an output echoes the call.
fn assembled_from(value: &str, parts: &[String]) -> bool {
    /// Shorter parts are too common to say a value was built from them.
    const MIN_PART: usize = 2;
    /// Shorter values are matched as written only (`is_echo`'s first test).
    const MIN_VALUE: usize = 6;
    if value.len() < MIN_VALUE {
        return false;
    }
    if parts.iter().any(|part| part.contains(value)) {
        return true;
    }
    let mut covered = vec![false; value.len()];
    for part in parts.iter().filter(|p| p.len() >= MIN_PART) {
        for (at, _) in value.match_indices(part.as_str()) {
            for slot in covered.iter_mut().skip(at).take(part.len()) {
                *slot = true;
            }
        }
    }
    covered.iter().filter(|c| **c).count() * 4 >= value.len() * 3
}

/// Whether an action may confirm values: a read without effect that names kinds.
fn authoritative(action: &ActionSpec) -> bool {
    !action.authoritative_for.is_empty()
        && action.effect == EffectClass::Read
        && action.reversibility == Reversibility::NoEffect
}
