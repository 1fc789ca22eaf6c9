//! Text as a person is shown it: characters a reader does not see (bidirectional
//! overrides and isolates, zero-width characters, tags, variation selectors, fillers) and
//! control characters are written out as `⟨U+202E⟩`, so that what an approver reads is
//! what runs: `U+202E` makes `1394…54ED` show as `DE45…`; a zero-width space splits a name
//! that looks whole.
//!
//! The set of invisible characters is the one data-flow folding drops (`values/fold.rs`).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is a format character a reader does not see: bidirectional embeddings,
/// overrides, isolates and marks, the Arabic letter mark, zero-width spaces and joiners,
/// word joiners and invisible operators, tags, variation selectors, the combining grapheme
/// joiner, the byte order mark, soft hyphen, the Khmer and Hangul fillers, and the format
/// controls of interlinear annotation, Egyptian hieroglyphs, Khitan, shorthand and musical
/// notation.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{16fe4}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e007f}'
            | '\u{e0100}'..='\u{e01ef}'
    )
}

/// `text` with every invisible character, control character (a line feed and a tab
/// excepted) and line or paragraph separator written out as `⟨U+XXXX⟩`.
pub fn visible(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| {
        is_invisible(c)
            || (c.is_control() && !matches!(c, '\n' | '\t'))
            || matches!(c, '\u{2028}' | '\u{2029}')
    };
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hidden(c) {
            let _ = write!(out, "⟨U+{:04X}⟩", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_reader_cannot_see_is_written_out() {
        assert_eq!(
            visible("iban: \u{202e}1394237045715010054ED\u{202c}"),
            "iban: ⟨U+202E⟩1394237045715010054ED⟨U+202C⟩"
        );
        assert_eq!(visible("pay\u{200b}pal\u{2066}x\u{2069}"), "pay⟨U+200B⟩pal⟨U+2066⟩x⟨U+2069⟩");
        assert_eq!(visible("a\u{0}b\u{1b}[2Jc\rd"), "a⟨U+0000⟩b⟨U+001B⟩[2Jc⟨U+000D⟩d");
        assert_eq!(visible("tag\u{e0041}\u{fe0f}\u{2028}"), "tag⟨U+E0041⟩⟨U+FE0F⟩⟨U+2028⟩");
        assert_eq!(visible("x\u{85}y"), "x⟨U+0085⟩y", "NEL");
    }

    #[test]
    fn ordinary_text_is_borrowed_as_it_is() {
        for text in ["plain ascii\nwith a line\tand a tab", "Zürich, 東京, ∑ — ok", ""] {
            assert!(matches!(visible(text), Cow::Borrowed(t) if t == text), "{text:?}");
        }
    }
}
