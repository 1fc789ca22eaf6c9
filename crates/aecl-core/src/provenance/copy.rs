//! Copy detection (`max_copied_from_untrusted = N`): does a text hold more than N
//! characters copied from untrusted content?
//!
//! The text is compared in compact form (its letters and digits, lower case), as the rest
//! of provenance is, so re-wrapping, re-casing or re-punctuating a copied paragraph does
//! not hide it. A copy is one stretch longer than N, or pieces of [`MIN_PIECE`] characters
//! or more that add up to more than N: a notice posted in parts under the limit, with a
//! marker between them (`(1)`, `[2/6]`, a bullet, an emoji) or a word changed in every
//! sentence, is still the notice. A piece is found by substring look-ups in the gram index;
//! windows that no untrusted document has rule out most starts before any look-up.

use super::{GRAM, ProvenanceIndex, SourceRef, compact, gram_key};

/// The shortest stretch counted as a piece of a copy: five or six words. Shorter ones are
/// phrases any summary shares with its source (`the meeting on friday`).
pub const MIN_PIECE: usize = 24;

/// A copy of untrusted content found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy<'a> {
    /// The untrusted document copied from (of the first piece).
    pub source: &'a SourceRef,
    /// How many characters (letters and digits) were copied, at least, in all its pieces.
    pub len: usize,
    /// How many pieces: 1 for one stretch.
    pub pieces: usize,
    /// The start of the copied text (compact form), for the reason.
    pub excerpt: String,
}

impl ProvenanceIndex {
    /// The first copy of more than `limit` characters (letters and digits) of untrusted
    /// content in `text`, in one stretch or in pieces, leaving out what a trusted source
    /// showed first (the user's own words quoted back are not a copy from untrusted
    /// content). `limit` below 7 is treated as 7: shorter runs are words, not copies.
    pub fn untrusted_copy(&self, text: &str, limit: usize) -> Option<Copy<'_>> {
        let limit = limit.max(GRAM - 1);
        // A stretch over the limit is a copy on its own, even when shorter than a piece.
        let shortest = (limit + 1).min(MIN_PIECE);
        let compact = compact(text);
        let bytes = compact.as_bytes();
        let grams = self.grams.of(false);
        // A large untrusted document is not in the gram index: every window may be in it.
        let everywhere = !self.large.of(false).is_empty();
        let present = |w: usize| {
            everywhere
                || bytes
                    .get(w..w + GRAM)
                    .is_some_and(|window| grams.contains_key(&gram_key(window)))
        };
        let mut found: Option<Copy<'_>> = None;
        let (mut w, mut run) = (0usize, 0usize);
        while w + GRAM <= bytes.len() {
            run = if present(w) { run + 1 } else { 0 };
            w += 1;
            // The windows of `shortest` bytes ending at this window are all present.
            if run < shortest + 1 - GRAM {
                continue;
            }
            let start = w - 1 + GRAM - shortest;
            let Some((source, len)) = self.copied_at(&compact, start, shortest) else { continue };
            let copy = found.get_or_insert_with(|| Copy {
                source,
                len: 0,
                pieces: 0,
                excerpt: compact.get(start..).unwrap_or("").chars().take(40).collect(),
            });
            copy.len += len;
            copy.pieces += 1;
            if copy.len > limit {
                return found;
            }
            // The next piece starts after this one.
            (w, run) = (start + len, 0);
        }
        None
    }

    /// The untrusted document and length of the longest copy at `start` of `compact` that
    /// is at least `shortest` long, unless a trusted document showed its start at or
    /// before that document.
    fn copied_at(
        &self,
        compact: &str,
        start: usize,
        shortest: usize,
    ) -> Option<(&SourceRef, usize)> {
        let needle = compact.get(start..start + shortest)?;
        let doc = self.first_substring_match(needle, false)?;
        let untrusted = self.docs.get(doc as usize)?;
        if let Some(trusted) = self.first_substring_match(needle, true)
            && self.docs.get(trusted as usize).is_some_and(|t| t.source.seq <= untrusted.source.seq)
        {
            return None;
        }
        // Grow the copy as far as that document goes on matching. Containment only shrinks
        // as the copy grows, so a binary search finds the end.
        let copied = |len: usize| {
            compact.get(start..start + len).is_some_and(|s| untrusted.compact.contains(s))
        };
        let (mut len, mut beyond) = (shortest, compact.len() - start + 1);
        while beyond - len > 1 {
            let middle = len + (beyond - len) / 2;
            if copied(middle) { len = middle } else { beyond = middle }
        }
        Some((&untrusted.source, len))
    }
}
