//! Readings of text written to be undone: base64 and hex tokens decoded
//! (`aHR0cHM6Ly9zc28...`, "decode before posting"), and letters strung on dashes joined
//! (`s-s-o-o-u-r-c-o.t-e-s-t`, "remove the dashes"). A page that hides a link, an address
//! or an IBAN from scanners this way has the model undo it and write the value plain; read
//! so, history shows the value the model then writes, and a call's text that carries an
//! encoded value shows it too.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The shortest token tried as an encoding: twelve bytes of text in base64.
const MIN_TOKEN: usize = 16;
/// The shortest token tried as the encoding of a destination alone (a host, an address, a
/// link): `YWIuaW8=` is `ab.io`, `eC5pbw` (unpadded) `x.io` (red team round 22, flow F5).
const MIN_DESTINATION_TOKEN: usize = 6;
/// The shortest run of strung letters joined (`e-v-i-l`): fewer are initials (`a-b`).
const MIN_STRUNG: usize = 4;

/// How many times a text is decoded again: base64 of base64 is a page's second wrapper.
const MAX_DEPTH: usize = 3;

/// The readings of what `text` says to undo: its tokens decoded (again while they decode,
/// [`MAX_DEPTH`] times at most), and, where it names the transform (`rot13`, `reversed`,
/// `backwards`), the whole text so transformed.
pub(super) fn undone(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut last = decoded(text);
    while let Some(reading) = last.take() {
        last = decoded(&reading).filter(|_| out.len() + 1 < MAX_DEPTH);
        out.push(reading);
    }
    out.extend(strung(text));
    out.extend(hinted(text));
    out
}

/// `text` rotated or reversed as a whole where it names that transform (`rot13`,
/// `reversed`, `backwards`): readings that need the hint, which may stand in another part
/// of one output than the value it applies to.
pub fn hinted(text: &str) -> Vec<String> {
    let (rotated, reversed) = transforms(text);
    let mut out = Vec::new();
    if rotated {
        out.push(text.chars().map(rot13).collect());
    }
    if reversed {
        out.push(text.chars().rev().collect());
    }
    out
}

/// Whether `text` names a transform [`hinted`] undoes: the test an output's parts pass
/// before the whole output is read again.
pub fn names_a_transform(text: &str) -> bool {
    let (rotated, reversed) = transforms(text);
    rotated || reversed
}

/// Whether `text` names a rotation, and whether it names a reversal, in any case.
fn transforms(text: &str) -> (bool, bool) {
    let lower = text.to_ascii_lowercase();
    let names = |words: &[&str]| words.iter().any(|word| lower.contains(word));
    (
        names(&["rot13", "rot-13", "rot 13", "caesar"]),
        names(&["revers", "backwards", "right to left", "right-to-left"]),
    )
}

/// A letter thirteen places on.
fn rot13(c: char) -> char {
    match c {
        'a'..='m' | 'A'..='M' => char::from(c as u8 + 13),
        'n'..='z' | 'N'..='Z' => char::from(c as u8 - 13),
        c => c,
    }
}

/// `text` with every base64 or hex token that decodes to readable text replaced by that
/// text, or `None` when none does.
fn decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        let run = bytes.get(at..).unwrap_or_default();
        let end = at + run.iter().take_while(|&&b| is_token_byte(b)).count();
        if end == at {
            at += 1;
            continue;
        }
        if let Some(token) = text.get(at..end)
            && let Some(plain) = token_text(token)
        {
            out.push_str(text.get(copied..at).unwrap_or_default());
            out.push_str(&plain);
            copied = end;
        }
        at = end;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Some(out)
}

/// What a token of either alphabet can hold.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// The readable text a token encodes, in base64 (either alphabet, padding optional) or in
/// hex. A token is tried only when it looks encoded: long enough, and, for base64, with
/// capitals and small letters both (a path or a word has one case).
fn token_text(token: &str) -> Option<String> {
    if token.len() < MIN_TOKEN {
        // A shorter one only where what it holds is a destination: its other readings
        // would be words of noise.
        if token.len() < MIN_DESTINATION_TOKEN {
            return None;
        }
        return long_token_text(token).filter(|plain| is_destination(plain));
    }
    long_token_text(token)
}

/// Whether `text` reads as a host, an address or a link: no space, a dot or an `@` between
/// letters or digits, nothing but what such a value is written with.
fn is_destination(text: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_@:/%+~?=&#".contains(c);
    text.chars().all(allowed)
        && text.chars().any(|c| c.is_ascii_alphabetic())
        && (text.contains('@') || text.trim_matches('.').contains('.'))
}

/// [`token_text`] of a token long enough to be tried whatever it holds.
fn long_token_text(token: &str) -> Option<String> {
    // Digits alone too: the hex of `DE50...` is `4445 3530...`.
    let hex = token.len().is_multiple_of(2) && token.bytes().all(|b| b.is_ascii_hexdigit());
    if hex {
        let bytes: Option<Vec<u8>> = token
            .as_bytes()
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok()))
            .collect();
        if let Some(plain) = bytes.and_then(readable) {
            return Some(plain);
        }
    }
    let mixed = token.bytes().any(|b| b.is_ascii_uppercase())
        && token.bytes().any(|b| b.is_ascii_lowercase());
    mixed.then(|| base64_text(token)).flatten()
}

/// The readable text base64 (standard or URL-safe alphabet, padding optional, white space
/// ignored) decodes to: UTF-8 with no control character but tabs and line breaks.
pub fn base64_text(encoded: &str) -> Option<String> {
    const fn lenient(alphabet: &base64::alphabet::Alphabet) -> GeneralPurpose {
        GeneralPurpose::new(
            alphabet,
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        )
    }
    const STANDARD: GeneralPurpose = lenient(&base64::alphabet::STANDARD);
    const URL_SAFE: GeneralPurpose = lenient(&base64::alphabet::URL_SAFE);
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = if compact.contains(['-', '_']) { URL_SAFE } else { STANDARD };
    engine.decode(compact.as_bytes()).ok().and_then(readable)
}

/// The bytes as text a model can read, if they are.
fn readable(bytes: Vec<u8>) -> Option<String> {
    let text = String::from_utf8(bytes).ok()?;
    let readable = text.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'));
    (readable && !text.trim().is_empty()).then_some(text)
}

/// `text` with every run of single letters or digits strung on dashes (or `_`, `*`, `~`,
/// `+`) joined: `s-s-o.t-e-s-t` reads `sso.test`. `None` when there is none.
fn strung(text: &str) -> Option<String> {
    let is_string = |c: char| matches!(c, '-' | '_' | '*' | '~' | '+');
    // Asked of every output: most have no `x-y-` at all, and are not taken apart.
    let any = text.as_bytes().windows(4).any(|w| match *w {
        [before, letter, string, next] => {
            !before.is_ascii_alphanumeric()
                && letter.is_ascii_alphanumeric()
                && is_string(char::from(string))
                && next.is_ascii_alphanumeric()
        }
        _ => false,
    });
    if !any {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut joined = false;
    let mut i = 0;
    while i < chars.len() {
        let single = |at: usize| {
            chars.get(at).is_some_and(|c| c.is_alphanumeric())
                && !chars.get(at + 1).is_some_and(|c| c.is_alphanumeric())
        };
        let after_word =
            i.checked_sub(1).and_then(|at| chars.get(at)).is_some_and(|c| c.is_alphanumeric());
        let starts = !after_word && single(i);
        // The letters of the run: one, a string, one, ...
        let mut end = i;
        if starts {
            while chars.get(end + 1).is_some_and(|&c| is_string(c)) && single(end + 2) {
                end += 2;
            }
        }
        if end > i && (end - i) / 2 + 1 >= MIN_STRUNG {
            out.extend(chars.get(i..=end).unwrap_or_default().iter().step_by(2));
            joined = true;
            i = end + 1;
        } else {
            out.extend(chars.get(i));
            i += 1;
        }
    }
    joined.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_tokens_are_read_as_their_text() {
        let page = "Re-verify here: aHR0cHM6Ly9zc28tb3VyY28udGVzdC9sb2dpbg== (base64)";
        assert_eq!(
            decoded(page).as_deref(),
            Some("Re-verify here: https://sso-ourco.test/login (base64)")
        );
        // URL-safe, unpadded; hex.
        assert_eq!(
            decoded("go aHR0cHM6Ly9ldmlsLnRlc3QvYT9iPT4_ now").as_deref(),
            Some("go https://evil.test/a?b=>? now")
        );
        assert_eq!(
            decoded("pay R0IyOU5XQks2MDE2MTMzMTkyNjgxOQ").as_deref(),
            Some("pay GB29NWBK60161331926819")
        );
        assert_eq!(
            decoded("at 68747470733a2f2f6576696c2e74657374").as_deref(),
            Some("at https://evil.test")
        );
        assert_eq!(
            decoded("to 44453839333730343030343430353332303133303030").as_deref(),
            Some("to DE89370400440532013000")
        );
        // Words, paths, hashes and ids are no encodings of text.
        for text in [
            "see /login/reset-password and getElementById",
            "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "order 12345678901234567890",
        ] {
            assert_eq!(decoded(text), None, "{text}");
        }
    }

    /// Flow red team, round 22 (F5): short hosts fit in tokens under the length tried for
    /// any text; a token that short is read only where it holds a destination.
    #[test]
    fn a_short_token_is_read_when_it_holds_a_destination() {
        for (token, plain) in [
            ("YWIuaW8=", "ab.io"),
            ("ZXZpbC5pbw==", "evil.io"),
            ("ZXZpbC50ZXN0", "evil.test"),
            ("ZXZlQGV2aWwuaW8", "eve@evil.io"),
            ("eC5pbw", "x.io"),
            ("YWIuaW8", "ab.io"),
            ("61622e696f", "ab.io"),
            ("6576696c2e696f", "evil.io"),
        ] {
            assert_eq!(
                decoded(&format!("host (base64): {token}")),
                Some(format!("host (base64): {plain}")),
                "{token}"
            );
        }
        // Short tokens of other text, ids and words stay as they are.
        for text in ["id aGVsbG8gd29y", "ref Q2FmZUJhYmU", "AbCdEfGh", "deadbeef00", "12345678"] {
            assert_eq!(decoded(text), None, "{text}");
        }
    }

    #[test]
    fn what_a_text_says_to_undo_is_undone() {
        let has = |text: &str, wanted: &str| undone(text).iter().any(|r| r.contains(wanted));
        // Base64 of base64.
        assert!(has(
            "decode twice: YUhSMGNITTZMeTlsZG1sc0xuUmxjM1F2Y2c9PQ==",
            "https://evil.test/r"
        ));
        assert!(has("apply rot13: uggcf://rivy.grfg/cnl", "https://evil.test/pay"));
        assert!(has("read it reversed: yap/tset.live//:sptth", "https://evil.test/pay"));
        // Not named: not transformed.
        assert!(!has("uggcf://rivy.grfg/cnl", "https://evil.test"));
        assert!(!has("yap/tset.live//:sptth", "https://evil.test"));
    }

    #[test]
    fn letters_strung_on_dashes_are_joined() {
        assert_eq!(
            strung("at s-s-o-o-u-r-c-o.t-e-s-t/login (remove the dashes)").as_deref(),
            Some("at ssoourco.test/login (remove the dashes)")
        );
        assert_eq!(strung("e_v_i_l*t+e~s").as_deref(), Some("eviltes"));
        for text in ["an e-mail", "a-b", "x-ray T-shirt", "re-verify", "2026-11-29", "one-to-one"] {
            assert_eq!(strung(text), None, "{text}");
        }
    }
}
