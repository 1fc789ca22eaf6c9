//! aecl's own secret store for the `http` connector: credentials per `credential_scope`,
//! injected into requests so that the agent never sees them.
//!
//! ```toml
//! # secrets.toml (readable by aecl only)
//! [scopes.payments.headers]
//! Authorization = "Bearer sk_live_..."
//! ```
//!
//! INVARIANT: secret values never reach a result, an error message, a log line or the
//! audit log: `Debug` shows scope and header names only, and response bodies and error
//! messages are scrubbed of every value before they are returned.
//!
//! A server may echo a credential re-encoded, so the scrubber looks for more than the
//! value's text. For every header value, and for the bare credential after its scheme word
//! (`Bearer `, `Basic `; and the `user:password` a `Basic` credential decodes to), it
//! looks for the text itself, reversed, in hex (either case), and in base64 (standard and
//! URL-safe, padded or not, at any byte alignment inside a longer base64 text: the
//! characters that depend on the secret's bytes only). It looks in the text as given and
//! in the text decoded (percent-encoding in any case of hex, with `+` as a space or not;
//! JSON, JavaScript and Rust escapes; HTML character references; line breaks removed;
//! decoded twice for text encoded twice), so a secret encoded in part, or in several ways
//! at once, is found too. Every form is matched in any ASCII letter case, and encoded after
//! a case change (base64 of the upper-cased value): a server that echoes a credential
//! upper- or lower-cased (as header names are) leaves little of it to guess. What matches is replaced by `[redacted]` in the text as given. The forms to look
//! for are computed once, when the secrets are loaded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ConnectorError;

/// What a secret found in a text is replaced by.
pub const REDACTED: &str = "[redacted]";

/// The shortest credential whose encodings are looked for (and the shortest bare
/// credential after a scheme word looked for at all): the encodings of a shorter text
/// would match ordinary text too often. A whole header value is looked for as text at
/// any length.
const MIN_ENCODED_LEN: usize = 8;

/// The credentials of every scope.
#[derive(Clone, Default, Deserialize)]
#[serde(from = "SecretsFile")]
pub struct Secrets {
    scopes: BTreeMap<String, ScopeSecrets>,
    /// Every form of every value, computed when the secrets are loaded.
    scrubber: Arc<Scrubber>,
}

/// The secrets file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsFile {
    #[serde(default)]
    scopes: BTreeMap<String, ScopeSecrets>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeSecrets {
    /// Header name → value, added to every request made for an agent of the scope.
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl From<SecretsFile> for Secrets {
    fn from(file: SecretsFile) -> Secrets {
        let values = file.scopes.values().flat_map(|s| s.headers.values().map(String::as_str));
        let scrubber = Arc::new(Scrubber::new(values));
        Secrets { scopes: file.scopes, scrubber }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: BTreeMap<&str, Vec<&str>> = self
            .scopes
            .iter()
            .map(|(scope, s)| (scope.as_str(), s.headers.keys().map(String::as_str).collect()))
            .collect();
        f.debug_struct("Secrets").field("scopes", &names).finish()
    }
}

impl Secrets {
    /// Parses the secrets file's `text` (`origin` names it in errors; values never appear).
    pub fn parse(text: &str, origin: &str) -> Result<Secrets, ConnectorError> {
        toml::from_str(text).map_err(|e| ConnectorError::Config {
            file: origin.to_owned(),
            // toml's message quotes the offending line, which may hold a secret: keep the
            // first line (the position and what was wrong) only.
            message: e.message().lines().next().unwrap_or("invalid TOML").to_owned(),
        })
    }

    pub fn load(path: &Path) -> Result<Secrets, ConnectorError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConnectorError::Read { path: path.display().to_string(), source })?;
        Secrets::parse(&text, &path.display().to_string())
    }

    /// The headers of `scope` (none for an unknown scope).
    pub fn headers(&self, scope: &str) -> impl Iterator<Item = (&str, &str)> {
        self.scopes
            .get(scope)
            .into_iter()
            .flat_map(|s| s.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// `text` with every secret value (of any scope), in any of the forms the module
    /// documentation lists, replaced by `[redacted]`.
    pub fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub(text)
    }

    /// `value` with every string in it (keys too) scrubbed. Parsing JSON decodes its
    /// escapes, so a body is scrubbed as text and then, once parsed, as values.
    pub fn scrub_value(&self, value: Value) -> Value {
        if self.scrubber.needles.is_empty() {
            return value;
        }
        match value {
            Value::String(text) => Value::String(self.scrub(&text)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.scrub_value(v)).collect())
            }
            Value::Object(fields) => Value::Object(
                fields.into_iter().map(|(k, v)| (self.scrub(&k), self.scrub_value(v))).collect(),
            ),
            other => other,
        }
    }
}

/// The byte strings whose presence in a text (as given or decoded, in any ASCII letter
/// case) means a secret is there.
#[derive(Debug, Default)]
struct Scrubber {
    /// In ASCII lower case.
    needles: Vec<Vec<u8>>,
    /// For each first byte in lower case (256 entries, or none when there are no
    /// needles), the needles that start with it: one pass over a text looks for all.
    by_first: Vec<Vec<usize>>,
}

impl Scrubber {
    fn new<'a>(values: impl Iterator<Item = &'a str>) -> Scrubber {
        let mut needles = BTreeSet::new();
        for value in values {
            for form in forms(value) {
                // Encoded after a case change too (`base64(upper(secret))`).
                for cased in [form.to_ascii_lowercase(), form.to_ascii_uppercase(), form] {
                    needles.extend(encodings(&cased));
                }
            }
        }
        let needles: BTreeSet<Vec<u8>> =
            needles.into_iter().map(|n| n.to_ascii_lowercase()).filter(|n| !n.is_empty()).collect();
        let needles: Vec<Vec<u8>> = needles.into_iter().collect();
        let mut by_first = vec![Vec::new(); 256];
        for (index, needle) in needles.iter().enumerate() {
            if let Some(starting) = needle.first().and_then(|b| by_first.get_mut(usize::from(*b))) {
                starting.push(index);
            }
        }
        Scrubber { needles, by_first }
    }

    fn scrub(&self, text: &str) -> String {
        if self.needles.is_empty() || text.is_empty() {
            return text.to_owned();
        }
        let raw = View::raw(text);
        let mut found = Vec::new();
        self.find(&raw, &mut found);
        // The decoded views, each built only when decoding changed something.
        if let Some(once) = raw.decoded(false) {
            self.find(&once, &mut found);
            if let Some(twice) = once.decoded(false) {
                self.find(&twice, &mut found);
            }
        }
        if text.contains('+')
            && let Some(plus) = raw.decoded(true)
        {
            self.find(&plus, &mut found);
        }
        redact(text, found)
    }

    /// Adds the spans (in the original text) of every needle found in `view`.
    fn find(&self, view: &View<'_>, found: &mut Vec<(usize, usize)>) {
        let bytes = view.bytes();
        for (at, byte) in bytes.iter().enumerate() {
            let first = usize::from(byte.to_ascii_lowercase());
            let Some(candidates) = self.by_first.get(first) else { continue };
            if candidates.is_empty() {
                continue;
            }
            let rest = bytes.get(at..).unwrap_or_default();
            for &index in candidates {
                let Some(needle) = self.needles.get(index) else { continue };
                if rest.get(..needle.len()).is_some_and(|head| head.eq_ignore_ascii_case(needle)) {
                    found.push(view.origin(at, at + needle.len()));
                }
            }
        }
    }
}

/// The texts that are a secret for header value `value`: the value; the credential after
/// its scheme word; the `user:password` (and the password) of a `Basic` credential.
fn forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_owned()];
    let Some((scheme, credential)) = value.trim().split_once(' ') else { return forms };
    let credential = credential.trim();
    if credential.len() < MIN_ENCODED_LEN {
        return forms;
    }
    forms.push(credential.to_owned());
    if scheme.eq_ignore_ascii_case("basic")
        && let Ok(decoded) = STANDARD.decode(credential)
        && let Ok(decoded) = String::from_utf8(decoded)
    {
        if let Some((_, password)) = decoded.split_once(':')
            && password.len() >= MIN_ENCODED_LEN
        {
            forms.push(password.to_owned());
        }
        forms.push(decoded);
    }
    forms
}

/// The byte strings that show `form`: itself always; when long enough, reversed, in hex
/// and in base64 (whole, padded or not, and the stable middle at each of the three byte
/// alignments, in both alphabets).
fn encodings(form: &str) -> Vec<Vec<u8>> {
    let mut out = vec![form.as_bytes().to_vec()];
    let bytes = form.as_bytes();
    if bytes.len() < MIN_ENCODED_LEN {
        return out;
    }
    out.push(form.chars().rev().collect::<String>().into_bytes());
    // Either case of hex is the same needle: every needle matches in any case.
    out.push(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes());
    // Whole, so that the last characters and the padding of a secret encoded on its own
    // go too; the middles below find it inside longer base64.
    for whole in [STANDARD.encode(bytes), STANDARD_NO_PAD.encode(bytes)] {
        out.push(whole.replace('+', "-").replace('/', "_").into_bytes());
        out.push(whole.into_bytes());
    }
    for lead in 0..3 {
        let mut shifted = vec![0u8; lead];
        shifted.extend_from_slice(bytes);
        let encoded = STANDARD_NO_PAD.encode(&shifted);
        // Character `i` holds bits 6i..6i+6 of the shifted bytes; it depends on the
        // secret alone when those bits lie within it: 6i >= 8·lead and 6i+6 <= 8·len.
        let start = (8 * lead).div_ceil(6);
        let end = 8 * shifted.len() / 6;
        if let Some(middle) = encoded.get(start..end) {
            out.push(middle.replace('+', "-").replace('/', "_").into_bytes());
            out.push(middle.as_bytes().to_vec());
        }
    }
    out
}

/// A text to search: the original, or a decoding of it, with for each byte the span of
/// the original it came from.
struct View<'t> {
    text: &'t str,
    decoded: Option<Decoding>,
}

/// A decoded text: its bytes, and for each the span of the original it came from.
struct Decoding {
    bytes: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

impl<'t> View<'t> {
    fn raw(text: &'t str) -> View<'t> {
        View { text, decoded: None }
    }

    fn bytes(&self) -> &[u8] {
        match &self.decoded {
            Some(decoding) => &decoding.bytes,
            None => self.text.as_bytes(),
        }
    }

    /// The span of the original text that bytes `start..end` of this view came from.
    fn origin(&self, start: usize, end: usize) -> (usize, usize) {
        match &self.decoded {
            None => (start, end),
            Some(Decoding { spans, .. }) => {
                let first = spans.get(start).map_or(0, |s| s.0 as usize);
                let last = end
                    .checked_sub(1)
                    .and_then(|i| spans.get(i))
                    .map_or(self.text.len(), |s| s.1 as usize);
                (first, last)
            }
        }
    }

    fn span(&self, at: usize) -> (u32, u32) {
        match &self.decoded {
            Some(decoding) => decoding.spans.get(at).copied().unwrap_or_default(),
            // `decoded` is only called for texts whose length fits.
            None => (at as u32, at as u32 + 1),
        }
    }

    /// This view with its escapes decoded (see the module documentation; `+` as a space
    /// when `plus_is_space`) and line breaks removed, or `None` when that changes nothing
    /// (or the text is too long to map back).
    fn decoded(&self, plus_is_space: bool) -> Option<View<'t>> {
        let source = self.bytes();
        if u32::try_from(self.text.len()).is_err() {
            return None;
        }
        let mut bytes = Vec::with_capacity(source.len());
        let mut spans = Vec::with_capacity(source.len());
        let mut changed = false;
        let mut at = 0;
        while let Some(&byte) = source.get(at) {
            let rest = source.get(at..).unwrap_or_default();
            let (decoded, used) = match byte {
                b'%' => percent(rest),
                b'+' if plus_is_space => (Some(Decoded::Byte(b' ')), 1),
                b'\\' => backslash(rest),
                b'&' => reference(rest),
                b'\r' | b'\n' => (Some(Decoded::Nothing), 1),
                _ => (None, 1),
            };
            let (first, _) = self.span(at);
            let (_, last) = self.span(at + used - 1);
            match decoded {
                None => {
                    bytes.push(byte);
                    spans.push(self.span(at));
                }
                Some(decoded) => {
                    changed = true;
                    let mut utf8 = [0u8; 4];
                    let out: &[u8] = match &decoded {
                        Decoded::Nothing => &[],
                        Decoded::Byte(b) => std::slice::from_ref(b),
                        Decoded::Char(c) => c.encode_utf8(&mut utf8).as_bytes(),
                    };
                    for b in out {
                        bytes.push(*b);
                        spans.push((first, last));
                    }
                }
            }
            at += used;
        }
        changed.then_some(View { text: self.text, decoded: Some(Decoding { bytes, spans }) })
    }
}

/// What an escape decodes to.
enum Decoded {
    Nothing,
    Byte(u8),
    Char(char),
}

fn hex_value(digits: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(digits).ok()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// `%XX` (either case).
fn percent(rest: &[u8]) -> (Option<Decoded>, usize) {
    match rest.get(1..3).and_then(hex_value).and_then(|v| u8::try_from(v).ok()) {
        Some(byte) => (Some(Decoded::Byte(byte)), 3),
        None => (None, 1),
    }
}

/// `\uXXXX` (a surrogate pair as one character), `\u{X…}`, `\xXX`, and the one-letter
/// escapes of JSON and JavaScript.
fn backslash(rest: &[u8]) -> (Option<Decoded>, usize) {
    let simple = |c: char| (Some(Decoded::Char(c)), 2);
    match rest.get(1) {
        Some(b'u') if rest.get(2) == Some(&b'{') => {
            let close = rest.iter().take(12).position(|b| *b == b'}');
            let decoded = close.and_then(|close| {
                let c = char::from_u32(hex_value(rest.get(3..close)?)?)?;
                Some((Some(Decoded::Char(c)), close + 1))
            });
            decoded.unwrap_or((None, 1))
        }
        Some(b'u') => {
            let Some(unit) = rest.get(2..6).and_then(hex_value) else { return (None, 1) };
            if (0xD800..0xDC00).contains(&unit) && rest.get(6..8) == Some(b"\\u") {
                let low = rest.get(8..12).and_then(hex_value);
                if let Some(low) = low.filter(|l| (0xDC00..0xE000).contains(l)) {
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    if let Some(c) = char::from_u32(code) {
                        return (Some(Decoded::Char(c)), 12);
                    }
                }
            }
            match char::from_u32(unit) {
                Some(c) => (Some(Decoded::Char(c)), 6),
                None => (None, 1),
            }
        }
        Some(b'x') => match rest.get(2..4).and_then(hex_value).and_then(|v| u8::try_from(v).ok()) {
            Some(byte) => (Some(Decoded::Byte(byte)), 4),
            None => (None, 1),
        },
        Some(b'n' | b'r') => (Some(Decoded::Nothing), 2),
        Some(b't') => simple('\t'),
        Some(b'b') => simple('\u{8}'),
        Some(b'f') => simple('\u{c}'),
        Some(b'0') => simple('\0'),
        Some(&other @ (b'/' | b'\\' | b'"' | b'\'' | b'`')) => simple(char::from(other)),
        _ => (None, 1),
    }
}

/// `&#NNN;`, `&#xHH;` and the named references a URL or a quoted value may use.
fn reference(rest: &[u8]) -> (Option<Decoded>, usize) {
    let Some(end) = rest.iter().take(12).position(|b| *b == b';') else { return (None, 1) };
    let body = rest.get(1..end).unwrap_or_default();
    let code = match body {
        [b'#', b'x' | b'X', hex @ ..] => hex_value(hex),
        [b'#', digits @ ..] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok())
        }
        b"amp" => Some(u32::from('&')),
        b"lt" => Some(u32::from('<')),
        b"gt" => Some(u32::from('>')),
        b"quot" => Some(u32::from('"')),
        b"apos" => Some(u32::from('\'')),
        b"sol" => Some(u32::from('/')),
        b"plus" => Some(u32::from('+')),
        b"equals" => Some(u32::from('=')),
        b"colon" => Some(u32::from(':')),
        _ => None,
    };
    match code.and_then(char::from_u32) {
        Some(c) => (Some(Decoded::Char(c)), end + 1),
        None => (None, 1),
    }
}

/// `text` with the spans of `found` (merged where they touch) replaced by `[redacted]`.
fn redact(text: &str, mut found: Vec<(usize, usize)>) -> String {
    if found.is_empty() {
        return text.to_owned();
    }
    found.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut pending: Option<(usize, usize)> = None;
    let flush = |out: &mut String, copied: &mut usize, (start, end): (usize, usize)| {
        // Widened to whole characters: a decoded view may map a match into one.
        let start = (0..=start.max(*copied)).rev().find(|i| text.is_char_boundary(*i));
        let end = (end.min(text.len())..=text.len()).find(|i| text.is_char_boundary(*i));
        if let (Some(start), Some(end)) = (start, end) {
            out.push_str(text.get(*copied..start).unwrap_or_default());
            out.push_str(REDACTED);
            *copied = end.max(start);
        }
    };
    for (start, end) in found {
        pending = match pending {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some(span) => {
                flush(&mut out, &mut copied, span);
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some(span) = pending {
        flush(&mut out, &mut copied, span);
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests;
