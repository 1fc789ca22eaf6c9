//! Typed provenance: every history document is scanned for URLs, e-mail addresses, IBANs,
//! phone numbers, amounts and dates, keyed by their normal form, so an argument of a kind
//! matches history by value rather than by spelling; and the confirmations of authoritative
//! sources.
//!
//! A typed look-up combines several keys (a URL's full form and its host, an address and
//! its domain, the raw text): the value is untrusted-only when ANY of them was seen in
//! untrusted content before a trusted source, because one injected part (the host) is
//! enough to steer the effect. Only then may a confirmation by an authoritative source
//! (see `confirm_output`) make it trusted.

use serde_json::Value;

use super::{ProvenanceIndex, SourceKind, SourceRef, normalise};
use crate::hash::HashSet;
use crate::path::for_each_leaf;
use crate::policy::{ActionSpec, EffectClass, Reversibility};
use crate::values::{self, Found, Normal, ValueKind, ValueOptions};

/// Calls of authoritative actions awaiting their result, at most.
const MAX_PENDING_ECHOES: usize = 64;

/// What a typed key is a normal form of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(super) enum Tag {
    Url,
    UrlHost,
    EmailExact,
    EmailFolded,
    EmailDomain,
    Iban,
    Phone,
    PhoneNational,
    Amount,
    Date,
}

/// The kinds every history document is scanned for.
pub(super) const INDEXED: [ValueKind; 6] = [
    ValueKind::Url,
    ValueKind::Email,
    ValueKind::Iban,
    ValueKind::Phone,
    ValueKind::Amount,
    ValueKind::Date,
];

/// The typed keys of one found value.
pub(super) fn keys(normal: &Normal) -> Vec<(Tag, String)> {
    match normal {
        Normal::Url(f) => vec![(Tag::Url, f.full.clone()), (Tag::UrlHost, f.host.clone())],
        Normal::Email(f) => vec![
            (Tag::EmailExact, f.exact.clone()),
            (Tag::EmailFolded, f.folded.clone()),
            (Tag::EmailDomain, f.domain.clone()),
        ],
        Normal::Iban(i) => vec![(Tag::Iban, i.clone())],
        Normal::Phone(p) => p
            .e164
            .iter()
            .map(|e| (Tag::Phone, e.clone()))
            .chain(p.national.iter().map(|n| (Tag::PhoneNational, n.clone())))
            .collect(),
        Normal::Amount(a) => vec![(Tag::Amount, a.clone())],
        Normal::Date(readings) => readings.iter().map(|d| (Tag::Date, d.clone())).collect(),
    }
}

/// The key under which a confirmed value of `kind` is remembered.
fn confirmation_key(kind: &ValueKind, normal: &Normal, folded: bool) -> Option<String> {
    let form = match (kind, normal) {
        (ValueKind::Url, Normal::Url(f)) => f.full.clone(),
        (ValueKind::Email, Normal::Email(f)) => {
            if folded {
                format!("~{}", f.folded)
            } else {
                f.exact.clone()
            }
        }
        (ValueKind::Iban, Normal::Iban(i)) => i.clone(),
        (ValueKind::Phone, Normal::Phone(p)) => p.e164.clone().or_else(|| p.national.clone())?,
        (ValueKind::Amount, Normal::Amount(a)) => a.clone(),
        (ValueKind::Date, Normal::Date(d)) => d.first()?.clone(),
        _ => return None,
    };
    Some(form)
}

/// The normal forms of a whole argument value of a built-in kind, as `scan` would find it.
pub fn normal_of(kind: &ValueKind, value: &str, options: &ValueOptions) -> Option<Normal> {
    Some(match kind {
        ValueKind::Url => Normal::Url(values::url_normal(value)?),
        ValueKind::Email => Normal::Email(values::email_normal(value)?),
        ValueKind::Iban => Normal::Iban(values::iban_normal(value)?),
        ValueKind::Phone => Normal::Phone(values::phone_normal(value, options.phone_country_code)?),
        ValueKind::Amount => Normal::Amount(values::amount_normal(value)?),
        ValueKind::Date => {
            let readings = values::date_normal(value);
            if readings.is_empty() {
                return None;
            }
            Normal::Date(readings)
        }
        ValueKind::Custom(_) => return None,
    })
}

impl ProvenanceIndex {
    /// Notes the typed values of a document just added.
    pub(super) fn add_typed(&mut self, kind: SourceKind, doc: u32, text: &str) {
        // Folded (`values::fold`): an IBAN written with soft hyphens or full-width digits
        // in a page is the IBAN the model copies out clean.
        let folded = values::fold(text);
        let readings = values::readings(text);
        let texts = std::iter::once(folded.as_ref()).chain(readings.iter().map(String::as_str));
        for text in texts {
            for found in values::find(text, &INDEXED, &ValueOptions::default()) {
                for key in keys(&found.normal) {
                    self.typed.entry(key).or_default().note(kind, doc);
                }
            }
        }
    }

    /// The deciding source of one typed key (see `source_of_normal` for the rule).
    fn source_of_key(&self, tag: Tag, key: &str) -> Option<&SourceRef> {
        let first = self.typed.get(&(tag, key.to_owned())).copied()?;
        self.decide_first(first)
    }

    /// The deciding source of a whole word (no substring search: a host `evil.test` must
    /// not match inside `notevil.test`).
    fn source_of_word(&self, word: &str) -> Option<&SourceRef> {
        let first = self.words.get(word).copied()?;
        self.decide_first(first)
    }

    /// The deciding source of a host: as a link's host where history holds one (whichever
    /// of the user and a page named it first), else as a whole word. A page of a site
    /// names its own host as a word (`docs.example`) after the user asked for a link on
    /// it; that mention must not make the user's host the page's.
    fn host_source(&self, host: &str) -> Option<&SourceRef> {
        self.source_of_key(Tag::UrlHost, host).or_else(|| self.source_of_word(host))
    }

    /// The source that decides the provenance of `value` as a value of `kind`: its normal
    /// forms, its parts (a URL's host, an address's domain) and its raw text are looked up;
    /// any one untrusted-only makes the value untrusted-only, unless an authoritative
    /// source confirmed the value itself. Text that is not a valid value of the kind is
    /// looked up as text.
    pub fn source_of_kind(
        &self,
        kind: &ValueKind,
        value: &str,
        options: &ValueOptions,
    ) -> Option<&SourceRef> {
        let normal = normal_of(kind, value, options);
        let mut parts: Vec<Option<&SourceRef>> = Vec::new();
        // Whether the value's whole normal form (not only a part, like a URL's host) was
        // recognised somewhere in history.
        let mut main_seen = false;
        match &normal {
            Some(Normal::Url(f)) => {
                parts.push(self.source_of_key(Tag::Url, &f.full));
                main_seen = parts.iter().any(Option::is_some);
                parts.push(self.host_source(&f.host));
            }
            Some(Normal::Email(f)) => {
                let insensitive = options.email_local_part_insensitive;
                let main = if insensitive { Tag::EmailFolded } else { Tag::EmailExact };
                parts.push(self.source_of_key(main, f.key(insensitive)));
                main_seen = parts.iter().any(Option::is_some);
                // A case variant of an address seen only in untrusted content is untrusted
                // whatever the policy says about case: being "unseen" must not be bought by
                // respelling.
                let folded = self.source_of_key(Tag::EmailFolded, &f.folded);
                parts.push(folded.filter(|s| !s.kind.is_trusted()));
                parts.push(self.source_of_key(Tag::EmailDomain, &f.domain));
                parts.push(self.host_source(&f.domain));
            }
            Some(other) => {
                for (tag, key) in keys(other) {
                    parts.push(self.source_of_key(tag, &key));
                }
                main_seen = parts.iter().any(Option::is_some);
            }
            None => {
                if matches!(kind, ValueKind::Custom(_)) {
                    // A name is written bare or as a mention (`@dana.k`, `#general`).
                    let name = mention_free(value);
                    for word in [name.clone(), format!("@{name}"), format!("#{name}")] {
                        parts.push(self.source_of_word(&word));
                    }
                }
            }
        }
        // The raw text speaks only for a value whose whole normal form was never recognised
        // in history: a value the user showed first in one spelling (`+44 7700-900-123`) is
        // theirs when a page later repeats it in another (`+447700900123`), while a value
        // the scanner missed (or saw only the host of) is still traced by its text.
        if !main_seen {
            parts.push(self.source_of_parts(value));
        }
        let untrusted = parts.iter().flatten().find(|s| !s.kind.is_trusted()).copied();
        if let Some(source) = untrusted {
            let confirmed = match (&normal, kind) {
                (Some(normal), _) => {
                    confirmation_key(kind, normal, options.email_local_part_insensitive)
                        .and_then(|key| self.confirmed.get(&(kind.name().to_owned(), key)))
                }
                (None, ValueKind::Custom(_)) => {
                    self.confirmed.get(&(kind.name().to_owned(), mention_free(value)))
                }
                (None, _) => None,
            };
            return Some(confirmed.unwrap_or(source));
        }
        parts.into_iter().flatten().next()
    }

    /// Remembers the arguments of a call of an authoritative action, so that its output
    /// never confirms a value the call itself carried (an echo).
    pub fn note_call(&mut self, call_id: &str, action: &ActionSpec, args: &Value) {
        if !authoritative(action) {
            return;
        }
        let mut texts = Vec::new();
        for_each_leaf(args, &mut |_, leaf| {
            if let Some(text) = crate::run::value_text(leaf) {
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
        let confirm =
            |key: (String, String),
             confirmed: &mut crate::hash::HashMap<(String, String), SourceRef>| {
                if !echo_keys.contains(&key) {
                    confirmed.entry(key).or_insert_with(|| source.clone());
                }
            };
        let mut leaves: Vec<String> = Vec::new();
        let parsed: Option<Value> = match output {
            Value::String(text) => {
                serde_json::from_str(text).ok().filter(|v: &Value| v.is_object() || v.is_array())
            }
            _ => None,
        };
        for_each_leaf(parsed.as_ref().unwrap_or(output), &mut |_, leaf| {
            if let Some(text) = crate::run::value_text(leaf) {
                leaves.push(text);
            }
        });
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

/// A custom kind's key: the normalised text without a leading `@` or `#`.
fn mention_free(text: &str) -> String {
    let normal = normalise(text);
    normal.trim_start_matches(['@', '#']).to_owned()
}

/// Whether an action may confirm values: a read without effect that names kinds.
fn authoritative(action: &ActionSpec) -> bool {
    !action.authoritative_for.is_empty()
        && action.effect == EffectClass::Read
        && action.reversibility == Reversibility::NoEffect
}

#[cfg(test)]
mod tests;
