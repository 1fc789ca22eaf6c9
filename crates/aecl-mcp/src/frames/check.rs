//! Whether one message from the agent's client is one the gateway reads, checked on its
//! bytes before rmcp parses it: rmcp drops what it cannot parse without an answer (a
//! message nested deeper than serde_json goes, invalid UTF-8, a number out of range, text
//! that is not JSON), and a JSON-RPC batch, which MCP no longer has, is no message it
//! serves. An integer beyond 64 bits parses, but as a float: the call decided and
//! forwarded would carry another number than the client wrote, so it is refused too.
//!
//! Also what is known of a message that cannot be parsed: its top-level `id` and `method`,
//! found by scanning, so that its refusal can answer the request it was.

use rmcp::model::RequestId;
use serde_json::Value;

/// Levels of nesting past which a message is refused: below serde_json's 128, so that no
/// message rmcp would drop for its depth gets past, and far above what a tool's arguments
/// need.
pub(crate) const MAX_NESTING: usize = 100;

/// Why a message is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Nested deeper than [`MAX_NESTING`].
    TooDeep,
    /// Bytes that are not UTF-8.
    NotUtf8,
    /// A JSON-RPC batch (an array of messages).
    Batch,
    /// A number no 64-bit integer or finite float holds.
    NumberOutOfRange,
    /// Not one JSON value.
    NotJson,
    /// A request whose id names a request of the client's still in progress.
    IdInUse,
    /// Longer than the gateway reads.
    TooLarge,
}

impl Problem {
    /// What is wrong, as a refusal's reason says it (after the rule's name).
    pub(crate) fn detail(self) -> String {
        match self {
            Problem::TooDeep => format!("nested more than {MAX_NESTING} levels deep"),
            Problem::NotUtf8 => "is not UTF-8".to_owned(),
            Problem::Batch => "is a JSON-RPC batch, which MCP does not take".to_owned(),
            Problem::NumberOutOfRange => {
                "holds a number out of range (an integer beyond 64 bits, or a float beyond \
                 64-bit floating point)"
                    .to_owned()
            }
            Problem::NotJson => "is not JSON".to_owned(),
            Problem::IdInUse => "reuses the id of a request still in progress".to_owned(),
            Problem::TooLarge => format!("is longer than {} bytes", super::MAX_LINE),
        }
    }
}

/// What is wrong with `message` (one line over stdio, one body over HTTP), if anything.
/// An empty message is no problem (it is skipped).
pub(crate) fn problem(message: &[u8]) -> Option<Problem> {
    let message = message.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(message);
    let start = message.iter().position(|b| !b.is_ascii_whitespace())?;
    if std::str::from_utf8(message).is_err() {
        return Some(Problem::NotUtf8);
    }
    if message.get(start) == Some(&b'[') {
        return Some(Problem::Batch);
    }
    if let Some(problem) = scan(message) {
        return Some(problem);
    }
    // Validated without building anything: rmcp parses it again.
    match serde_json::from_slice::<serde::de::IgnoredAny>(message) {
        Ok(_) => None,
        Err(_) => Some(Problem::NotJson),
    }
}

/// Whether `message` nests deeper than [`MAX_NESTING`] (brackets outside strings).
#[cfg(test)]
pub(crate) fn too_deep(message: &[u8]) -> bool {
    scan(message) == Some(Problem::TooDeep)
}

/// One pass over the bytes outside strings: nesting depth and numbers.
fn scan(message: &[u8]) -> Option<Problem> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut number: Option<usize> = None;
    for (at, &byte) in message.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if let Some(begin) = number {
            if matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                continue;
            }
            number = None;
            if !in_range(message.get(begin..at).unwrap_or_default()) {
                return Some(Problem::NumberOutOfRange);
            }
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(Problem::TooDeep);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => number = Some(at),
            _ => {}
        }
    }
    match number {
        Some(begin) if !in_range(message.get(begin..).unwrap_or_default()) => {
            Some(Problem::NumberOutOfRange)
        }
        _ => None,
    }
}

/// Whether a number token is one serde_json reads as the number written: an integer that
/// fits 64 bits (signed or not), or a float that is finite. Text that is no number is left
/// to the parser.
fn in_range(token: &[u8]) -> bool {
    let Ok(token) = std::str::from_utf8(token) else { return true };
    if token.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return token.parse::<f64>().map_or(true, f64::is_finite);
    }
    match token.parse::<i64>() {
        Ok(_) => true,
        Err(_) if token.bytes().all(|b| b.is_ascii_digit()) => token.parse::<u64>().is_ok(),
        // `-` followed by digits that no i64 holds is out of range; anything else is no
        // number (`--1`), which the parser refuses.
        Err(_) => !is_integer(token),
    }
}

fn is_integer(token: &str) -> bool {
    let digits = token.strip_prefix('-').unwrap_or(token);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The request's `id` and `method` in `message`, found by scanning its top level (so a
/// message too deep to parse, or unparsable further on, still names them).
pub(crate) fn id_and_method(message: &[u8]) -> (Option<RequestId>, Option<String>) {
    let id = top_level_member(message, b"\"id\"").and_then(|v| serde_json::from_value(v).ok());
    let method =
        top_level_member(message, b"\"method\"").and_then(|v| v.as_str().map(str::to_owned));
    (id, method)
}

/// The value of the top-level object's member `key` (its JSON string form, quotes
/// included) when it is a string or a number, found by scanning.
fn top_level_member(message: &[u8], key: &[u8]) -> Option<Value> {
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(&byte) = message.get(at) {
        match byte {
            b'"' => {
                let end = string_end(message, at)?;
                if depth == 1 && message.get(at..end) == Some(key) {
                    let colon = skip_space(message, end);
                    if message.get(colon) == Some(&b':') {
                        return scalar_at(message, skip_space(message, colon + 1));
                    }
                }
                at = end;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    None
}

/// The index just past the string that opens at `start`.
fn string_end(message: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        match message.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
}

fn skip_space(message: &[u8], mut at: usize) -> usize {
    while message.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// The string or number at `start`, parsed on its own.
fn scalar_at(message: &[u8], start: usize) -> Option<Value> {
    let end = match message.get(start)? {
        b'"' => string_end(message, start)?,
        _ => {
            let number =
                |b: &u8| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E');
            start + message.get(start..)?.iter().take_while(|b| number(b)).count()
        }
    };
    serde_json::from_slice(message.get(start..end)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(arguments: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"x","arguments":{arguments}}}}}"#
        )
    }

    #[test]
    fn what_rmcp_would_drop_or_misread_is_named_and_the_rest_passes() {
        let refused = [
            (call(r#"{"amount":1e400}"#), Problem::NumberOutOfRange),
            (call(r#"{"amount":-1e400}"#), Problem::NumberOutOfRange),
            (call(r#"{"n":123456789012345678901234567890}"#), Problem::NumberOutOfRange),
            (call(r#"{"n":-9223372036854775809}"#), Problem::NumberOutOfRange),
            (format!("[{}]", call("{}")), Problem::Batch),
            (call(r#"{"a":"b""#), Problem::NotJson),
            ("hello".to_owned(), Problem::NotJson),
        ];
        for (message, problem) in refused {
            assert_eq!(super::problem(message.as_bytes()), Some(problem), "{message}");
        }
        let mut bytes = call(r#"{"a":"x"}"#).into_bytes();
        let quote = bytes.iter().rposition(|b| *b == b'x').unwrap();
        bytes[quote] = 0xff;
        assert_eq!(problem(&bytes), Some(Problem::NotUtf8));

        // Numbers as they come, the largest of each kind, numbers in strings, a BOM.
        let fine = [
            call(r#"{"amount":10,"f":-1.5e3,"z":0,"neg":-7}"#),
            call(r#"{"u":18446744073709551615,"i":-9223372036854775808}"#),
            call(r#"{"tiny":1e-400,"big":1.7e308}"#),
            call(r#"{"text":"123456789012345678901234567890 and 1e400"}"#),
            format!("\u{feff}{}", call("{}")),
            "   ".to_owned(),
        ];
        for message in fine {
            assert_eq!(problem(message.as_bytes()), None, "{message}");
        }
        // A number at the very end of the message.
        assert_eq!(scan(b"123456789012345678901234567890"), Some(Problem::NumberOutOfRange));
    }

    #[test]
    fn the_id_and_method_are_found_at_the_top_level() {
        let line = r#"{"params":{"arguments":{"id":"no"}},"id":"req-\"7","method":"x","n":1e400}"#;
        let (id, method) = id_and_method(line.as_bytes());
        assert_eq!(id, Some(RequestId::String("req-\"7".into())));
        assert_eq!(method.as_deref(), Some("x"));
        assert_eq!(id_and_method(b"[1,2]"), (None, None));
    }
}
