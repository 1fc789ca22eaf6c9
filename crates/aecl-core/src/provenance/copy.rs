//! Copy detection (`max_copied_from_untrusted = N`): does a text hold a contiguous copy of
//! more than N characters of untrusted content?
//!
//! The text is compared in compact form (lower case, white space removed), as the rest of
//! provenance is, so re-wrapping or re-casing a copied paragraph does not hide it. A copy
//! longer than N exists exactly when some N+1 characters of the text occur in an untrusted
//! document, so the question is a series of substring look-ups in the gram index; windows
//! that no untrusted document has rule out most starts before any look-up.

use super::{GRAM, ProvenanceIndex, SourceRef, compact, gram_key};

/// A verbatim copy of untrusted content found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy<'a> {
    /// The untrusted document copied from.
    pub source: &'a SourceRef,
    /// How many characters (white space not counted) were copied, at least.
    pub len: usize,
    /// The start of the copied text (compact form), for the reason.
    pub excerpt: String,
}

impl ProvenanceIndex {
    /// The first copy of more than `limit` characters (white space not counted) of
    /// untrusted content in `text`, unless a trusted source showed that text first (the
    /// user's own words quoted back are not a copy from untrusted content). `limit` below
    /// 7 is treated as 7: shorter runs are words, not copies.
    pub fn untrusted_copy(&self, text: &str, limit: usize) -> Option<Copy<'_>> {
        let needle_len = limit.max(GRAM - 1) + 1;
        let compact = compact(text);
        let bytes = compact.as_bytes();
        if bytes.len() < needle_len {
            return None;
        }
        let grams = self.grams.of(false);
        // A large untrusted document is not in the gram index: every window may be in it.
        let everywhere = !self.large.of(false).is_empty();
        let windows = bytes.len() + 1 - GRAM;
        let mut run = 0usize;
        for w in 0..windows {
            let present = everywhere
                || bytes
                    .get(w..w + GRAM)
                    .is_some_and(|window| grams.contains_key(&gram_key(window)));
            run = if present { run + 1 } else { 0 };
            // The windows of `needle_len` bytes starting at `start` are all present.
            if run < needle_len + 1 - GRAM {
                continue;
            }
            let start = w + GRAM - needle_len;
            let Some(needle) = compact.get(start..start + needle_len) else { continue };
            let Some(doc) = self.first_substring_match(needle, false) else { continue };
            let untrusted = self.docs.get(doc as usize)?;
            if let Some(trusted) = self.first_substring_match(needle, true)
                && self
                    .docs
                    .get(trusted as usize)
                    .is_some_and(|t| t.source.seq <= untrusted.source.seq)
            {
                continue;
            }
            // Grow the copy as far as that document goes on matching.
            // Containment only shrinks as the copy grows, so a binary search finds the end.
            let copied = |len: usize| {
                compact.get(start..start + len).is_some_and(|s| untrusted.compact.contains(s))
            };
            let (mut len, mut beyond) = (needle_len, bytes.len() - start + 1);
            while beyond - len > 1 {
                let middle = len + (beyond - len) / 2;
                if copied(middle) { len = middle } else { beyond = middle }
            }
            let excerpt: String = compact.get(start..).unwrap_or("").chars().take(40).collect();
            return Some(Copy { source: &untrusted.source, len, excerpt });
        }
        None
    }
}
