//! Provenance: where an argument value came from, traced through the run's history.
//!
//! Every user message and tool output is added once, when it arrives, to an index; a
//! decision then answers `provenance_of(value)` with hash look-ups and never rescans the
//! history. A value matches a piece of history when it equals it or one of its words
//! (compared case- and white-space-insensitively), or by its letters and digits alone
//! (lower case, accents dropped): a short one as a word or a few short words in a row
//! (`LH2417` is `LH 2417` and `LH-2417`), one of eight or more when it occurs inside it
//! (`GB29 NWBK 6016` matches `GB29NWBK6016`, `Chez Mallory` matches `Chez-Mallory`). A
//! match inside a trusted text only vouches when nothing untrusted shows the value: the
//! letters of `db-prod.ourco.example` are not the domain `prodourco.example`.
//!
//! Every document is also scanned for typed values (URLs, addresses, IBANs, phone numbers,
//! amounts, dates; see `values`), so an argument of a kind matches history by its normal
//! form (`typed`), and `copy` finds long verbatim copies of untrusted text.
//!
//! INVARIANT: a value is trusted only if a trusted source showed it *before* any untrusted
//! one did. Once a value has been seen first in untrusted content, no later event makes it
//! trusted: otherwise a tool that echoes its arguments would launder an injected IBAN. The
//! one exception is declared: a read-only action the catalog names authoritative for a kind
//! (`authoritative_for`) confirms the values of that kind it returns, except those its own
//! call carried in its arguments (`ProvenanceIndex::confirm_output`). Echo tools, write
//! tools, the user repeating a value, and trusted outputs in general never confirm. Nor
//! does a trusted output make trusted what a call of the model carried before it showed
//! it (`note_arguments`): a value the model wrote, checked or stored and read back by a
//! trusted tool, stays unseen (or untrusted), as it was.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::hash::HashMap;
use crate::text::{compact, is_ascii_white_space, normalise};

mod confirm;
mod copy;
mod typed;

pub use copy::Copy;
pub use typed::normal_of;

/// The kind of a piece of history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Values up to this many bytes are normalised without allocating.
const SHORT: usize = 64;
/// Values of fewer letters and digits than this are matched as whole words only.
pub const MIN_SUBSTRING_LEN: usize = 8;
/// The fewest letters and digits of an item of a list in a control argument looked up on its own
/// (`dana,mallory`): a shorter one is too common a word to say where a value came from.
pub(crate) const MIN_SEGMENT_LETTERS: usize = 3;
/// The most words of a segment whose runs are looked up (a segment of `n` words has
/// `(n - 1)(n - 2) / 2` shorter runs of two words or more).
const MAX_RUN_WORDS: usize = 12;
/// The longest control value read in parts (`source_of_parts`): names, handles, addresses
/// and identifiers are shorter; a longer value is a text.
const MAX_PARTS_BYTES: usize = 256;
/// The longest item of a long control value read as a list (`source_of_long`): a name, a
/// handle or an address; a longer one makes the value a text.
const MAX_LIST_ITEM_BYTES: usize = 64;
/// How deep the strings of JSON text in a control value are read.
const MAX_JSON_DEPTH: usize = 16;
const GRAM: usize = MIN_SUBSTRING_LEN;
/// Texts longer than this are not put into the substring index but searched directly; it
/// keeps the index small when a tool returns megabytes.
const MAX_INDEXED_TEXT: usize = 1 << 20;

/// The documents holding one window, in order: most windows of a text are in one or two,
/// kept inline (a heap allocation per new window was a fifth of indexing an output).
type Postings = smallvec::SmallVec<[u32; 2]>;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct FirstSeen {
    trusted: Option<u32>,
    untrusted: Option<u32>,
    /// The event of the first call whose arguments carried it (the model wrote it there):
    /// a trusted tool's output showing it after that is an echo, not a source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<u32>,
}

impl FirstSeen {
    fn note(&mut self, kind: SourceKind, doc: u32) {
        let slot = if kind.is_trusted() { &mut self.trusted } else { &mut self.untrusted };
        if slot.is_none() {
            *slot = Some(doc);
        }
    }

    /// The first documents of either (documents are numbered in the order they came).
    fn merged(self, other: FirstSeen) -> FirstSeen {
        let first = |a: Option<u32>, b: Option<u32>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        FirstSeen {
            trusted: first(self.trusted, other.trusted),
            untrusted: first(self.untrusted, other.untrusted),
            model: first(self.model, other.model),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Doc {
    source: SourceRef,
    /// Its letters and digits, lower case (`text::compact`).
    compact: String,
}

/// The per-run index of everything the run has seen.
///
/// Written down (`crate::saved`) without its window index: read back, its documents are
/// searched directly, as the large ones are. A window index costs more to make than the
/// few look-ups of the one call a process reads a state back for (the local hook), and
/// ten times the texts' size to write down; a direct search finds the same first
/// document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "Saved")]
pub struct ProvenanceIndex {
    docs: Vec<Doc>,
    /// Whole texts and their words, normalised, to the first documents that showed them.
    words: HashMap<String, FirstSeen>,
    /// Every 8-byte window of every compact text (as a little-endian `u64`, which hashes in
    /// one write) to the documents that contain it, in order; one index per trust
    /// so that finding the first document of each kind never walks the
    /// other kind's (a value every trusted output repeats would otherwise cost a scan of
    /// them all to learn that no untrusted one has it).
    #[serde(skip_serializing)]
    grams: ByTrust<HashMap<u64, Postings>>,
    /// Documents searched directly, in order, per trust: those too large for the window
    /// index, and those read back from a saved index.
    #[serde(skip_serializing)]
    large: ByTrust<Vec<u32>>,
    /// Typed values (by their normal forms) to the first documents that showed them.
    #[serde(with = "crate::saved::pairs")]
    typed: HashMap<(typed::Tag, String), FirstSeen>,
    /// Values confirmed by an authoritative source, by kind name and normal form.
    #[serde(with = "crate::saved::pairs")]
    confirmed: HashMap<(String, String), SourceRef>,
    /// The argument texts of calls of authoritative actions whose result has not arrived:
    /// call id, action, texts; oldest first.
    echoes: Vec<(String, String, Vec<String>)>,
}

/// What a [`ProvenanceIndex`] writes down: all but what its documents make again.
#[derive(Deserialize)]
struct Saved {
    docs: Vec<Doc>,
    words: HashMap<String, FirstSeen>,
    #[serde(with = "crate::saved::pairs")]
    typed: HashMap<(typed::Tag, String), FirstSeen>,
    #[serde(with = "crate::saved::pairs")]
    confirmed: HashMap<(String, String), SourceRef>,
    echoes: Vec<(String, String, Vec<String>)>,
}

impl From<Saved> for ProvenanceIndex {
    fn from(saved: Saved) -> ProvenanceIndex {
        let Saved { docs, words, typed, confirmed, echoes } = saved;
        let mut index =
            ProvenanceIndex { words, typed, confirmed, echoes, ..ProvenanceIndex::default() };
        // A text shorter than a window holds no value long enough to be searched for in
        // it (such values are matched as words), as the window index has none of it.
        for (doc, kept) in (0u32..).zip(&docs).filter(|(_, d)| d.compact.len() >= GRAM) {
            index.large.of_mut(kept.source.kind.is_trusted()).push(doc);
        }
        index.docs = docs;
        index
    }
}

/// Equal when they answer alike: the same documents, words, typed values, confirmations
/// and pending echoes, and each document searchable under the same trust, whether through
/// the window index or directly (an index read back searches all its documents directly).
impl PartialEq for ProvenanceIndex {
    fn eq(&self, other: &ProvenanceIndex) -> bool {
        let searched = |index: &ProvenanceIndex, trusted: bool| {
            let mut docs: Vec<u32> = index.grams.of(trusted).values().flatten().copied().collect();
            docs.extend(index.large.of(trusted));
            docs.sort_unstable();
            docs.dedup();
            docs
        };
        self.docs == other.docs
            && self.words == other.words
            && self.typed == other.typed
            && self.confirmed == other.confirmed
            && self.echoes == other.echoes
            && [true, false].iter().all(|&t| searched(self, t) == searched(other, t))
    }
}

/// One of a thing for trusted sources and one for untrusted ones.
#[derive(Debug, Clone, Default)]
struct ByTrust<T> {
    trusted: T,
    untrusted: T,
}

impl<T> ByTrust<T> {
    fn of(&self, trusted: bool) -> &T {
        if trusted { &self.trusted } else { &self.untrusted }
    }

    fn of_mut(&mut self, trusted: bool) -> &mut T {
        if trusted { &mut self.trusted } else { &mut self.untrusted }
    }
}

impl ProvenanceIndex {
    /// Adds one piece of history. Documents must be added in the order they occurred.
    pub fn add(&mut self, kind: SourceKind, label: &str, seq: u32, text: &str) {
        let Ok(doc) = u32::try_from(self.docs.len()) else {
            // Four billion documents in one run: stop indexing rather than wrap around.
            return;
        };
        let normal = normalise(text);
        self.note_words(&normal, kind, doc);
        self.add_spellings(&normal, kind, doc);
        // Untrusted text is also read as a person reads it (red team round 20, F7: a ticket
        // writing a charge id in full-width letters, with Arabic digits, an HTML entity or a
        // Cyrillic letter vouched for nothing, and the model's clean copy went through): its
        // folded spelling, its readings (entities and escapes decoded, markup dropped,
        // reversals it announces undone) and the letters it looks like are words of the same
        // document. Only untrusted: a reading can make a value untrusted, never trusted.
        let read = typed::Read::of(text);
        let mut compact = compact(text);
        if kind == SourceKind::Untrusted {
            // The folded spelling only when folding changed something (most text is
            // printable ASCII, which folds to itself). And the text's plain letters
            // (NFKC): a page's `𝐦𝐚𝐥𝐥𝐨𝐫𝐲-𝐝𝐞𝐯` or `ⓜⓐⓛⓛⓞⓡⓨ` is the `mallory-dev` a model
            // types from it (red team round 26, flow G3).
            let folded = matches!(read.folded, Cow::Owned(_)).then_some(read.folded.as_ref());
            let plain = (!text.is_ascii()).then(|| {
                use unicode_normalization::UnicodeNormalization as _;
                crate::values::fold(&text.nfkc().collect::<String>()).into_owned()
            });
            let variants = folded
                .into_iter()
                .chain(plain.as_deref())
                .chain(read.readings.iter().map(String::as_str))
                .chain(read.looks.iter().map(String::as_str));
            let mut seen = vec![normal.clone()];
            for variant in variants {
                let variant = normalise(variant);
                if !seen.contains(&variant) {
                    self.note_words(&variant, kind, doc);
                    self.add_spellings(&variant, kind, doc);
                    // Its letters too, for the values long enough to be found inside the
                    // text rather than as words: apart from the text's own (a space, which
                    // no compact value holds), so that no value spans the two.
                    let letters = crate::text::compact(&variant);
                    if !compact.contains(&letters) {
                        compact.push(' ');
                        compact.push_str(&letters);
                    }
                    seen.push(variant);
                }
            }
        }
        self.index_windows(doc, kind.is_trusted(), &compact);
        self.docs.push(Doc { source: SourceRef { kind, label: label.to_owned(), seq }, compact });
        self.add_typed(kind, doc, &read);
    }

    /// Notes a normalised text, its words and the values they hold, as seen in `doc`.
    fn note_words(&mut self, normal: &str, kind: SourceKind, doc: u32) {
        if !normal.is_empty() {
            note_word(&mut self.words, normal, kind, doc);
            for word in words(normal) {
                note_word(&mut self.words, word, kind, doc);
                // A mention (`#project-x`, `@dana.k`) holds the name itself: the user's
                // `#project-x` vouches for `project-x`, a page's `#leaks-public` does not.
                let bare = word.trim_start_matches(['#', '@']);
                if !bare.is_empty() && bare != word {
                    note_word(&mut self.words, bare, kind, doc);
                }
                // `vendor:V-221` and `V-222's` hold the values `V-221` and `V-222`; a
                // link's path, query and fragment hold theirs (`/invoices/INV-2024-0042`,
                // `?order=A-77`, `account#12345678`).
                let splits = |c: char| ":=,;'\"()[]{}<>|/?&#".contains(c);
                if word.contains(splits) {
                    for piece in word.split(splits) {
                        if !piece.is_empty() && piece != word {
                            note_word(&mut self.words, piece, kind, doc);
                        }
                    }
                }
                // `1,000` is also the number `1000`.
                if word.contains(',') {
                    let digits: String = word.chars().filter(|c| *c != ',').collect();
                    if digits.parse::<f64>().is_ok() {
                        note_word(&mut self.words, &digits, kind, doc);
                    }
                }
            }
        }
    }

    /// Notes the spellings of short identifiers a normalised text holds: each word's letters
    /// and digits (`lh-2417`, `mallory’s`, `café`), and those of a few short words in a
    /// row (`lh 2417`, `a z 4 0 3`, `chez al`), so that `LH2417` is the page's `LH 2417`.
    /// Values of [`MIN_SUBSTRING_LEN`] letters and digits or more are found inside the
    /// compact text instead.
    fn add_spellings(&mut self, normal: &str, kind: SourceKind, doc: u32) {
        // Most words are letters and digits already: borrowed, not made again.
        let folded: Vec<Cow<'_, str>> = normal
            .split(' ')
            .map(|word| match word.bytes().all(|b| b.is_ascii_alphanumeric()) {
                true => Cow::Borrowed(word),
                false => Cow::Owned(compact(word)),
            })
            .collect();
        let mut joined = String::with_capacity(MIN_SUBSTRING_LEN);
        for (i, first) in folded.iter().enumerate() {
            if first.is_empty() {
                continue;
            }
            if matches!(first, Cow::Owned(_)) {
                note_word(&mut self.words, first, kind, doc);
            }
            joined.clear();
            joined.push_str(first);
            for next in folded.iter().skip(i + 1).filter(|f| !f.is_empty()) {
                if joined.len() + next.len() >= MIN_SUBSTRING_LEN {
                    break;
                }
                joined.push_str(next);
                note_word(&mut self.words, &joined, kind, doc);
            }
        }
    }

    /// Puts document `doc`'s compact text in the window index of its trust (or among the
    /// large documents, searched directly).
    fn index_windows(&mut self, doc: u32, trusted: bool, compact: &str) {
        if compact.len() > MAX_INDEXED_TEXT {
            self.large.of_mut(trusted).push(doc);
            return;
        }
        let grams = self.grams.of_mut(trusted);
        for window in compact.as_bytes().windows(GRAM) {
            let postings = grams.entry(gram_key(window)).or_default();
            if postings.last() != Some(&doc) {
                postings.push(doc);
            }
        }
    }

    /// Notes the texts of a call's arguments (event `seq`), which the model wrote: a trusted
    /// tool's output that shows one of their words or typed values later is an echo of the
    /// model's and vouches for nothing (`decide_first`). Words a source showed before keep
    /// that source.
    pub fn note_arguments(&mut self, seq: u32, args: &serde_json::Value) {
        let mut texts = Vec::new();
        crate::path::for_each_leaf(args, &mut |_, leaf| {
            if let Some(text) = crate::text::value_text(leaf) {
                texts.push(text);
            }
        });
        // As a reader (or a decoding tool) reads them too: a base64 or escaped argument is
        // the value it decodes to (second pass, F3: a decoder's trusted answer).
        let readings: Vec<String> =
            texts.iter().flat_map(|text| crate::values::readings(text)).collect();
        for text in texts.into_iter().chain(readings) {
            let normal = normalise(&text);
            if normal.is_empty() {
                continue;
            }
            let mut keys: Vec<String> = vec![normal.clone()];
            keys.extend(words(&normal).map(str::to_owned));
            let letters = compact(&normal);
            if !letters.is_empty() {
                keys.push(letters);
            }
            for key in keys {
                self.words.entry(key).or_default().model.get_or_insert(seq);
            }
            self.note_typed_arguments(seq, &text);
        }
    }

    /// Where `value` came from. See the module documentation for the matching rules.
    pub fn provenance_of(&self, value: &str) -> Provenance {
        provenance(self.source_of(value))
    }

    /// Like `provenance_of`, but a value that is not itself untrusted-only is also taken
    /// apart into words: an address inside `Eve <eve@evil.example>` or a URL inside a
    /// command is found on its own. Used for control arguments, where one injected part is
    /// enough to steer the effect.
    pub fn provenance_of_parts(&self, value: &str) -> Provenance {
        provenance(self.source_of_parts(value))
    }

    /// The source that decides `provenance_of(value)`, borrowed: trusted when its kind is
    /// trusted, untrusted-only otherwise, and `None` for an unseen value. `decide` asks
    /// this, so a look-up allocates nothing it does not keep.
    pub fn source_of(&self, value: &str) -> Option<&SourceRef> {
        // Argument values are mostly short ASCII words: for those the normal and the compact
        // text are both the value in lower case, made on the stack.
        let bytes = value.as_bytes();
        if bytes.len() <= SHORT
            && value.is_ascii()
            && !bytes.iter().any(|&b| is_ascii_white_space(b))
        {
            let (mut buffer, mut letters) = ([0u8; SHORT], [0u8; SHORT]);
            let mut count = 0;
            for (to, &b) in buffer.iter_mut().zip(bytes) {
                *to = b.to_ascii_lowercase();
                if b.is_ascii_alphanumeric()
                    && let Some(slot) = letters.get_mut(count)
                {
                    *slot = *to;
                    count += 1;
                }
            }
            // ASCII in, ASCII out: the conversions cannot fail.
            if let (Some(Ok(text)), Some(Ok(compact))) = (
                buffer.get(..bytes.len()).map(std::str::from_utf8),
                letters.get(..count).map(std::str::from_utf8),
            ) {
                return self.source_of_normal(text, compact);
            }
        }
        let normal = normalise(value);
        let whole = self.source_of_normal(&normal, &compact(&normal));
        if whole.is_some_and(|s| !s.kind.is_trusted()) {
            return whole;
        }
        // An argument in compatibility characters (full-width `ｍａｌｌｏｒｙ`, styled
        // `𝐤𝐩𝐝𝐞𝐯`, the ligature of `kpﬁnance`) reaches what its plain letters name: many
        // systems fold names so (NFKC), and the page's plain value must meet it (red team
        // round 25, flow F3). Untrusted text is indexed in its folded spellings already.
        if !value.is_ascii() {
            use unicode_normalization::UnicodeNormalization as _;
            let plain: String = value.nfkc().collect();
            let plain = crate::values::fold(&plain);
            if plain != value {
                let normal = normalise(&plain);
                let folded = self.source_of_normal(&normal, &compact(&normal));
                if folded.is_some_and(|s| !s.kind.is_trusted()) {
                    return folded;
                }
            }
        }
        whole
    }

    /// `source_of` for a value already normalised and compacted.
    fn source_of_normal(&self, normal: &str, compact: &str) -> Option<&SourceRef> {
        if normal.is_empty() {
            return None;
        }
        let mut first = self.words.get(normal).copied().unwrap_or_default();
        // A short identifier by its letters and digits (`add_spellings`).
        if compact != normal
            && !compact.is_empty()
            && compact.len() < MIN_SUBSTRING_LEN
            && let Some(spelt) = self.words.get(compact)
        {
            first = first.merged(*spelt);
        }
        if compact.len() >= MIN_SUBSTRING_LEN {
            // The word match may have found a later document: keep the earliest.
            if let Some(doc) = self.first_substring_match(compact, false) {
                first.untrusted = Some(first.untrusted.map_or(doc, |s| s.min(doc)));
            }
            // Letters inside a trusted text vouch for a value only when nothing untrusted
            // shows it: the user's `db-prod.ourco.example` holds the letters of a page's
            // `prodourco.example`, another domain, and `00012345678` those of `12345678`
            // (red team round 20, F6). A word the trusted text holds still decides by order,
            // and so does a value of several words each of which it holds (a command the
            // user typed inside a sentence).
            if first.trusted.is_none() && (first.untrusted.is_none() || self.trusted_words(normal))
            {
                first.trusted = self.first_substring_match(compact, true);
            }
            // The model's own spelling of it, in other spaces or case (`note_arguments`).
            if compact != normal
                && let Some(call) = self.words.get(compact).and_then(|seen| seen.model)
            {
                first.model = Some(first.model.map_or(call, |m| m.min(call)));
            }
        }
        self.decide_first(first)
    }

    /// Whether `normal` is a value of several words, each of which a trusted document holds
    /// as a word; words joined by `-` or `_` count as several (the user's `Chez Marcel`
    /// stays theirs when a page writes it `Chez-Marcel`: red team round 23, FP2), while
    /// the letters of a word are not its words (`prodourco` is none of `db-prod.ourco`).
    fn trusted_words(&self, normal: &str) -> bool {
        normal.contains([' ', '-', '_'])
            && normal
                .split([' ', '-', '_'])
                .flat_map(words)
                .all(|word| self.words.get(word).is_some_and(|s| s.trusted.is_some()))
    }

    /// The source that decides between the first trusted and the first untrusted document
    /// that showed a value.
    fn decide_first(&self, first: FirstSeen) -> Option<&SourceRef> {
        let source = |doc: u32| self.docs.get(doc as usize).map(|d| &d.source);
        let seq = |doc: u32| self.docs.get(doc as usize).map_or(u32::MAX, |d| d.source.seq);
        // A trusted tool that shows what a call of the model's carried before (`check_iban`
        // answering the IBAN it was given, a note read back) repeats it: the value keeps
        // the standing it had, unseen or untrusted (red team round 22, flow F2). The user
        // repeating it still vouches.
        let echo = |doc: u32| {
            first.model.is_some_and(|call| call < seq(doc))
                && source(doc).is_some_and(|s| s.kind == SourceKind::TrustedTool)
        };
        let trusted = first.trusted.filter(|doc| !echo(*doc));
        match (trusted, first.untrusted) {
            // Compared by event, not by document: the fields of one structured output are
            // one event, and there a field the catalog trusts is the authority.
            (Some(t), Some(u)) if seq(u) < seq(t) => source(u),
            (None, Some(u)) => source(u),
            (Some(t), _) => source(t),
            (None, None) => None,
        }
    }

    /// The source that decides `provenance_of_parts(value)`; see `source_of`. Besides
    /// the value whole, the parts an injected value may sit in once the model has written
    /// words around it or put it in a list (red team round 25, flow F1 and F2), each looked
    /// up whole:
    /// - each item of a list (`dana,mallory`, `<@mallory|mallory>`, `mallory (admin)`) of
    ///   [`MIN_SEGMENT_LETTERS`] letters or more, a short one as an exact word only;
    /// - each piece of an item between the punctuation of URIs, paths and labels
    ///   (`bitcoin:ADDR`, `github.com/USER`, `login=USER`) of [`MIN_SUBSTRING_LEN`]
    ///   letters or more (a short one there is a path's or a scheme's word), and without
    ///   the `0x` the model may write before a page's hex identifier;
    /// - each run of two or more consecutive words of a piece (`The Grand Mallory Palace`,
    ///   `Restaurant Chez Mallory`);
    /// - each word of [`MIN_SUBSTRING_LEN`] letters or more.
    ///
    /// The first part whose source is untrusted decides. A value longer than
    /// [`MAX_PARTS_BYTES`] (a text, not a name) is read as [`Self::source_of_words`] does.
    pub fn source_of_parts(&self, value: &str) -> Option<&SourceRef> {
        if value.len() > MAX_PARTS_BYTES {
            return self.source_of_long(value);
        }
        let whole = self.source_of(value);
        if whole.is_some_and(|s| !s.kind.is_trusted()) {
            return whole;
        }
        // Most values have no separator and so no parts: an ASCII one is checked byte by
        // byte.
        let hex = value.starts_with("0x") || value.starts_with("0X");
        if value.is_ascii() && !hex && !value.bytes().any(|b| is_part_separator(char::from(b))) {
            return whole;
        }
        let untrusted = |part: &str| self.source_of(part).filter(|s| !s.kind.is_trusted());
        let letters = |part: &str| part.chars().filter(|c| c.is_alphanumeric()).count();
        for item in value.split(is_list_separator).map(str::trim) {
            if item != value
                && letters(item) >= MIN_SEGMENT_LETTERS
                && let Some(found) = untrusted(item)
            {
                return Some(found);
            }
            for piece in item.split(is_uri_separator).map(str::trim) {
                if piece != item
                    && letters(piece) >= MIN_SUBSTRING_LEN
                    && let Some(found) = untrusted(piece)
                {
                    return Some(found);
                }
                // A hex identifier the model wrote with the `0x` a page left out.
                if let Some(hex) = piece.strip_prefix("0x").or_else(|| piece.strip_prefix("0X"))
                    && hex.len() >= MIN_SUBSTRING_LEN
                    && let Some(found) = untrusted(hex)
                {
                    return Some(found);
                }
                let words: Vec<&str> = piece.split_whitespace().collect();
                if words.len() < 3 || words.len() > MAX_RUN_WORDS {
                    continue;
                }
                // Runs shorter than the piece (the piece itself was looked up above).
                for len in (2..words.len()).rev() {
                    for run in words.windows(len) {
                        if let Some(found) = untrusted(&run.join(" ")) {
                            return Some(found);
                        }
                    }
                }
            }
        }
        for word in
            value.split(is_part_separator).filter(|w| w.len() >= MIN_SUBSTRING_LEN && *w != value)
        {
            if let Some(found) = untrusted(word) {
                return Some(found);
            }
        }
        whole
    }

    /// [`Self::source_of_parts`] of a value longer than [`MAX_PARTS_BYTES`]: JSON text (a
    /// `payload` of settings) by each of its strings, a list of short items (a share list of
    /// thirty people) by each item, anything else as a text, by its words (red team round
    /// 26, flow G2: `kpdev` among 23 names, or in a 272-byte JSON payload, went unread).
    fn source_of_long(&self, value: &str) -> Option<&SourceRef> {
        let trimmed = value.trim_start();
        if trimmed.starts_with(['{', '['])
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(value)
        {
            let mut strings = Vec::new();
            collect_strings(&json, &mut strings, 0);
            for text in strings {
                let found = self.source_of_parts(text);
                if found.is_some_and(|s| !s.kind.is_trusted()) {
                    return found;
                }
            }
            return self.source_of_words(value);
        }
        let items: Vec<&str> =
            value.split(is_list_separator).map(str::trim).filter(|i| !i.is_empty()).collect();
        if items.len() >= 2 && items.iter().all(|i| i.len() <= MAX_LIST_ITEM_BYTES) {
            for item in items {
                let found = self.source_of_parts(item);
                if found.is_some_and(|s| !s.kind.is_trusted()) {
                    return found;
                }
            }
        }
        self.source_of_words(value)
    }

    /// The source of `value` whole, or of one of its words of [`MIN_SUBSTRING_LEN`] bytes
    /// or more between white space, quotes, brackets, `,` and `;`, the first untrusted:
    /// for a typed value, whose own punctuation is syntax (`typed::source_of_kind`).
    pub fn source_of_words(&self, value: &str) -> Option<&SourceRef> {
        let whole = self.source_of(value);
        if whole.is_some_and(|s| !s.kind.is_trusted()) {
            return whole;
        }
        let separators = |c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    '<' | '>' | ',' | ';' | '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}'
                )
        };
        value
            .split(separators)
            .filter(|w| w.len() >= MIN_SUBSTRING_LEN && *w != value)
            .find_map(|word| self.source_of(word).filter(|s| !s.kind.is_trusted()))
            .or(whole)
    }

    /// The first trusted (or untrusted) document whose compact text contains `needle`
    /// (already compact, 8+ bytes).
    fn first_substring_match(&self, needle: &str, trusted: bool) -> Option<u32> {
        let bytes = needle.as_bytes();
        let grams = self.grams.of(trusted);
        // The postings of a few windows (start, every 8th byte, end; at most
        // `MAX_WINDOWS`) are intersected, and each candidate is then confirmed by a real
        // substring search of that one document. The windows only narrow the candidates:
        // a document that contains the needle contains every window of it. Postings are
        // in document order, so the first confirmed candidate is the earliest.
        const MAX_WINDOWS: usize = 16;
        let mut lists: [&[u32]; MAX_WINDOWS] = [&[]; MAX_WINDOWS];
        let mut count = 0;
        let last = bytes.len().saturating_sub(GRAM);
        let starts = (0..=last).step_by(GRAM).take(MAX_WINDOWS - 1).chain([last]);
        let mut missing = false;
        for start in starts {
            let Some(window) = bytes.get(start..start + GRAM) else { continue };
            let postings = grams.get(&gram_key(window)).map_or(&[][..], Postings::as_slice);
            if postings.is_empty() {
                missing = true;
                break;
            }
            if let Some(slot) = lists.get_mut(count) {
                *slot = postings;
                count += 1;
            }
        }
        let contains =
            |doc: u32| self.docs.get(doc as usize).is_some_and(|d| d.compact.contains(needle));
        let lists = lists.get_mut(..count).unwrap_or_default();
        lists.sort_unstable_by_key(|p| p.len());
        let indexed = match lists.split_first() {
            Some((shortest, others)) if !missing => shortest
                .iter()
                .copied()
                .find(|&doc| others.iter().all(|p| p.binary_search(&doc).is_ok()) && contains(doc)),
            _ => None,
        };
        let large = self.large.of(trusted).iter().copied().find(|&doc| contains(doc));
        match (indexed, large) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Whether any untrusted content was indexed (read or not: a task notification's
    /// text is indexed without marking the run).
    pub fn has_untrusted(&self) -> bool {
        self.docs.iter().any(|d| d.source.kind == SourceKind::Untrusted)
    }
}

/// The key of an 8-byte window in the gram index.
fn gram_key(window: &[u8]) -> u64 {
    let mut key = [0u8; GRAM];
    key.copy_from_slice(window);
    u64::from_le_bytes(key)
}

/// The answer for a deciding source (see `ProvenanceIndex::source_of`).
fn provenance(source: Option<&SourceRef>) -> Provenance {
    match source {
        Some(source) if source.kind.is_trusted() => Provenance::Trusted { source: source.clone() },
        Some(source) => Provenance::UntrustedOnly { source: source.clone() },
        None => Provenance::Unseen,
    }
}

/// Notes that document `doc` of `kind` holds `word`. A text repeats most of its words: the
/// key is allocated only for a word not seen before.
fn note_word(index: &mut HashMap<String, FirstSeen>, word: &str, kind: SourceKind, doc: u32) {
    match index.get_mut(word) {
        Some(first) => first.note(kind, doc),
        None => index.entry(word.to_owned()).or_default().note(kind, doc),
    }
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

/// What separates the words of a control argument: white space, and list, URI and path
/// punctuation.
fn is_part_separator(c: char) -> bool {
    c.is_whitespace() || is_list_separator(c) || is_uri_separator(c)
}

/// What separates the items of a list in a control argument: `,`, `;`, `|`, `+`, quotes
/// and brackets.
/// The strings of `json` (its keys and string leaves), [`MAX_JSON_DEPTH`] levels deep.
fn collect_strings<'a>(json: &'a serde_json::Value, out: &mut Vec<&'a str>, depth: usize) {
    if depth > MAX_JSON_DEPTH {
        return;
    }
    match json {
        serde_json::Value::String(text) => out.push(text),
        serde_json::Value::Array(items) => {
            items.iter().for_each(|item| collect_strings(item, out, depth + 1));
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                out.push(key);
                collect_strings(item, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn is_list_separator(c: char) -> bool {
    matches!(c, '<' | '>' | ',' | ';' | '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '+')
}

/// The punctuation of URIs, paths and labels: `:`, `/`, `=`, `#`, `?`, `@`, `\\`. Not `.`,
/// `-` nor `_`, which join the words of one name.
fn is_uri_separator(c: char) -> bool {
    matches!(c, ':' | '/' | '=' | '#' | '?' | '@' | '\\')
}
