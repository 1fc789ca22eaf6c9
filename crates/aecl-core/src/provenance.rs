//! Provenance: where an argument value came from, traced through the run's history.
//!
//! Every user message and tool output is added once, when it arrives, to an index; a
//! decision then answers `provenance_of(value)` with hash look-ups and never rescans the
//! history. A value matches a piece of history when it equals it or one of its words
//! (compared case- and white-space-insensitively), or, for values of eight or more
//! characters, when it occurs inside it (white space ignored, so `GB29 NWBK 6016` matches
//! `GB29NWBK6016`).
//!
//! INVARIANT: a value is trusted only if a trusted source showed it *before* any untrusted
//! one did. Once a value has been seen first in untrusted content, no later event makes it
//! trusted: otherwise a tool that echoes its arguments would launder an injected IBAN.

use std::collections::HashMap;

use serde::Serialize;

/// The kind of a piece of history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The user's own request.
    User,
    /// The output of a tool the catalog marks trusted.
    TrustedTool,
    /// Content a third party could have written: web pages, e-mail, documents, API answers.
    Untrusted,
}

impl SourceKind {
    pub fn is_trusted(self) -> bool {
        !matches!(self, SourceKind::Untrusted)
    }
}

/// Where a value was seen first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRef {
    pub kind: SourceKind,
    /// A human-readable label such as `user` or `c3 read_email.body`.
    pub label: String,
    /// The position of the event in the run, from 0.
    pub seq: u32,
}

/// The answer for one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "provenance", rename_all = "snake_case")]
pub enum Provenance {
    /// Seen first in the user's request or a trusted tool output.
    Trusted { source: SourceRef },
    /// Seen in untrusted content before (or without) any trusted source.
    UntrustedOnly { source: SourceRef },
    /// Not found in the run's history: the model wrote it.
    Unseen,
}

/// Values shorter than this are matched as whole words only.
pub const MIN_SUBSTRING_LEN: usize = 8;
const GRAM: usize = MIN_SUBSTRING_LEN;
/// Texts longer than this are not put into the substring index but searched directly; it
/// keeps the index small when a tool returns megabytes.
const MAX_INDEXED_TEXT: usize = 1 << 20;

#[derive(Debug, Clone, Default)]
struct FirstSeen {
    trusted: Option<u32>,
    untrusted: Option<u32>,
}

impl FirstSeen {
    fn note(&mut self, kind: SourceKind, doc: u32) {
        let slot = if kind.is_trusted() { &mut self.trusted } else { &mut self.untrusted };
        if slot.is_none() {
            *slot = Some(doc);
        }
    }
}

#[derive(Debug, Clone)]
struct Doc {
    source: SourceRef,
    /// Lower-case, with all white space removed.
    compact: String,
}

/// The per-run index of everything the run has seen.
#[derive(Debug, Clone, Default)]
pub struct ProvenanceIndex {
    docs: Vec<Doc>,
    /// Whole texts and their words, normalised, to the first documents that showed them.
    words: HashMap<String, FirstSeen>,
    /// Every 8-byte window of every compact text to the documents that contain it.
    grams: HashMap<[u8; GRAM], Vec<u32>>,
    /// Documents too large for the gram index.
    large: Vec<u32>,
}

impl ProvenanceIndex {
    /// Adds one piece of history. Documents must be added in the order they occurred.
    pub fn add(&mut self, kind: SourceKind, label: &str, seq: u32, text: &str) {
        let Ok(doc) = u32::try_from(self.docs.len()) else {
            // Four billion documents in one run: stop indexing rather than wrap around.
            return;
        };
        let normal = normalise(text);
        if !normal.is_empty() {
            self.words.entry(normal.clone()).or_default().note(kind, doc);
            for word in words(&normal) {
                self.words.entry(word.to_owned()).or_default().note(kind, doc);
                // `vendor:V-221` and `V-222's` hold the values `V-221` and `V-222`.
                for piece in word.split(|c: char| ":=,;'\"()[]{}<>|".contains(c)) {
                    if !piece.is_empty() && piece != word {
                        self.words.entry(piece.to_owned()).or_default().note(kind, doc);
                    }
                }
                let digits: String = word.chars().filter(|c| *c != ',').collect();
                if digits != word && digits.parse::<f64>().is_ok() {
                    self.words.entry(digits).or_default().note(kind, doc);
                }
            }
        }
        let compact = compact(text);
        if compact.len() > MAX_INDEXED_TEXT {
            self.large.push(doc);
        } else {
            for window in compact.as_bytes().windows(GRAM) {
                let mut key = [0u8; GRAM];
                key.copy_from_slice(window);
                let postings = self.grams.entry(key).or_default();
                if postings.last() != Some(&doc) {
                    postings.push(doc);
                }
            }
        }
        self.docs.push(Doc { source: SourceRef { kind, label: label.to_owned(), seq }, compact });
    }

    /// Where `value` came from. See the module documentation for the matching rules.
    pub fn provenance_of(&self, value: &str) -> Provenance {
        let mut first = FirstSeen::default();
        let normal = normalise(value);
        if normal.is_empty() {
            return Provenance::Unseen;
        }
        if let Some(seen) = self.words.get(&normal) {
            first = seen.clone();
        }
        let compact = compact(value);
        if compact.len() >= MIN_SUBSTRING_LEN {
            for doc in self.substring_matches(&compact) {
                if let Some(d) = self.docs.get(doc as usize) {
                    // The word match may have found a later document: keep the earliest.
                    let slot = if d.source.kind.is_trusted() {
                        &mut first.trusted
                    } else {
                        &mut first.untrusted
                    };
                    *slot = Some(slot.map_or(doc, |s| s.min(doc)));
                }
            }
        }
        let source = |doc: u32| self.docs.get(doc as usize).map(|d| d.source.clone());
        let seq = |doc: u32| self.docs.get(doc as usize).map_or(u32::MAX, |d| d.source.seq);
        match (first.trusted, first.untrusted) {
            // Compared by event, not by document: the fields of one structured output are
            // one event, and there a field the catalog trusts is the authority.
            (Some(t), Some(u)) if seq(u) < seq(t) => {
                source(u).map_or(Provenance::Unseen, |source| Provenance::UntrustedOnly { source })
            }
            (None, Some(u)) => {
                source(u).map_or(Provenance::Unseen, |source| Provenance::UntrustedOnly { source })
            }
            (Some(t), _) => {
                source(t).map_or(Provenance::Unseen, |source| Provenance::Trusted { source })
            }
            (None, None) => Provenance::Unseen,
        }
    }

    /// Like `provenance_of`, but a value that is not itself untrusted-only is also taken
    /// apart into words: an address inside `Eve <eve@evil.example>` or a URL inside a
    /// command is found on its own. Used for control arguments, where one injected part is
    /// enough to steer the effect.
    pub fn provenance_of_parts(&self, value: &str) -> Provenance {
        let whole = self.provenance_of(value);
        if matches!(whole, Provenance::UntrustedOnly { .. }) {
            return whole;
        }
        let separators = |c: char| c.is_whitespace() || "<>,;\"'()[]{}".contains(c);
        for word in value.split(separators).filter(|w| w.len() >= MIN_SUBSTRING_LEN && *w != value)
        {
            let part = self.provenance_of(word);
            if matches!(part, Provenance::UntrustedOnly { .. }) {
                return part;
            }
        }
        whole
    }

    /// The documents whose compact text contains `needle` (already compact, 8+ bytes).
    fn substring_matches(&self, needle: &str) -> Vec<u32> {
        let bytes = needle.as_bytes();
        let mut candidates: Option<Vec<u32>> = None;
        // Intersect the postings of a few windows (start, end and every 8th byte); a
        // candidate is then confirmed by a real substring search of that one document.
        let last = bytes.len().saturating_sub(GRAM);
        let mut starts: Vec<usize> = (0..=last).step_by(GRAM).collect();
        starts.push(last);
        for start in starts {
            let Some(window) = bytes.get(start..start + GRAM) else { continue };
            let mut key = [0u8; GRAM];
            key.copy_from_slice(window);
            let postings = self.grams.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            candidates = Some(match candidates {
                None => postings.to_vec(),
                Some(current) => {
                    current.into_iter().filter(|d| postings.binary_search(d).is_ok()).collect()
                }
            });
            if candidates.as_ref().is_some_and(Vec::is_empty) {
                break;
            }
        }
        let mut found: Vec<u32> = candidates
            .unwrap_or_default()
            .into_iter()
            .chain(self.large.iter().copied())
            .filter(|doc| self.docs.get(*doc as usize).is_some_and(|d| d.compact.contains(needle)))
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

/// Lower-case with runs of white space folded to one space and the ends trimmed.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Lower-case with all white space removed.
fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

/// The words of a normalised text, without the punctuation around them.
fn words(normal: &str) -> impl Iterator<Item = &str> {
    normal
        .split(' ')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && !"@/+-_$#%".contains(c)))
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests;
