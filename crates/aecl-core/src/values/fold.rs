//! Folding the spellings of one character into one: what a reader sees as the same text
//! must be one value to provenance. An attacker's page can write an IBAN with soft hyphens
//! or zero-width spaces between its groups, full-width digits or a non-breaking hyphen,
//! and the model copies it out clean (or the agent copies it in dirty); either way the
//! two must meet.
//!
//! - format characters a reader does not see are dropped (soft hyphen, zero-width space
//!   and joiners, word joiner, byte order mark, Mongolian vowel separator);
//! - full-width ASCII (`ＧＢ２９`, `evil．test`) and the ideographic full stops are ASCII;
//! - dash-like characters (hyphen, non-breaking hyphen, figure dash, en and em dash, minus
//!   sign) are `-`;
//! - every other space (no-break, narrow, ideographic, ...) is a plain space.

use std::borrow::Cow;

/// `text` folded; borrowed when nothing changes (all ASCII text, the common case).
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || !text.chars().any(|c| folded(c) != Some(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter_map(folded).collect())
}

/// One character folded; `None` to drop it.
fn folded(c: char) -> Option<char> {
    Some(match c {
        '\u{ad}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' => {
            return None;
        }
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0).unwrap_or(c),
        '\u{3002}' | '\u{ff61}' => '.',
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' => '-',
        c if c != ' ' && c.is_whitespace() && !matches!(c, '\t' | '\n' | '\r') => ' ',
        c => c,
    })
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn invisible_full_width_dash_and_space_spellings_fold() {
        assert_eq!(fold("GB29\u{ad}NWBK\u{200b}6016"), "GB29NWBK6016");
        assert_eq!(fold("ＧＢ２９ ＮＷＢＫ"), "GB29 NWBK");
        assert_eq!(fold("evil．test。com｡x"), "evil.test.com.x");
        assert_eq!(fold("+44\u{2011}20\u{2013}7946\u{a0}0958"), "+44-20-7946 0958");
        assert!(matches!(fold("plain ascii"), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(fold("grüße"), std::borrow::Cow::Borrowed(_)));
    }
}
