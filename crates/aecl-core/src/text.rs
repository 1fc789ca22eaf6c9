//! The text values are matched as: the normal forms the provenance index and the value
//! checks compare (`normalise`, `compact`), and the text a JSON leaf stands for
//! (`value_text`, `leaf_text`).
//!
//! A leaf module: the run's index, the decision's data-flow and risk stages and the output
//! reader all match text the same way, and none of them may reach up to another for it.

use std::borrow::Cow;

use serde_json::Value;

/// The text a value is matched as: strings as they are, numbers in their shortest form
/// (`1200.0` is `1200`), booleans and null not at all.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        }),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The text a leaf is matched as: [`value_text`], with strings borrowed rather than
/// copied.
pub fn leaf_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => value_text(other).map(Cow::Owned),
    }
}

/// Lower-case with runs of white space folded to one space and the ends trimmed.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    if text.is_ascii() {
        // The same result byte by byte: for ASCII, `char::to_lowercase` is
        // `to_ascii_lowercase` and `char::is_whitespace` is `is_ascii_white_space` below.
        let mut space = false;
        for &b in text.as_bytes() {
            if is_ascii_white_space(b) {
                space = true;
            } else {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                out.push(char::from(b.to_ascii_lowercase()));
            }
        }
        return out;
    }
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The letters and digits alone, lower case, accents dropped: what an identifier or a
/// sentence keeps however it is spaced, punctuated or accented (`LH 2417`, `LH-2417` and
/// `lh2417`; `Chez-Mallory` and `Chez Mallory`; `Café` and `Cafe`; `Mallory’s` and
/// `Mallorys`).
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    if text.is_ascii() {
        for &b in text.as_bytes() {
            if b.is_ascii_alphanumeric() {
                out.push(char::from(b.to_ascii_lowercase()));
            }
        }
        return out;
    }
    for c in text.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            }
            continue;
        }
        // A letter's accents are marks its decomposition puts after it.
        unicode_normalization::char::decompose_canonical(c, |d| {
            if d.is_alphanumeric() {
                out.extend(d.to_lowercase());
            }
        });
    }
    out
}

/// `char::is_whitespace` on ASCII: tab, line feed, vertical tab, form feed, carriage return
/// and space. (`u8::is_ascii_whitespace` leaves out the vertical tab.)
pub fn is_ascii_white_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}
