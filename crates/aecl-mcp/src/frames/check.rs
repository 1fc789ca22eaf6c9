//! Whether one message from the agent's client is one the gateway reads, decided on its
//! bytes and then by parsing it as rmcp would: a message nested deeper than serde_json goes,
//! invalid UTF-8, a number out of range, text that is not one JSON value (a syntax error,
//! trailing text, an escape that names no character such as a lone surrogate, a line of
//! only spaces), and JSON that is not a JSON-RPC message of MCP's (an `id` that is neither
//! a string nor an integer, no `method`, `params` that are not an object, a `jsonrpc`
//! other than "2.0") are each a [`Problem`]. A JSON-RPC batch, which MCP no longer has, is
//! no message it serves. An integer beyond 64 bits parses, but as a float: the call decided
//! and forwarded would carry another number than the client wrote, so it is refused too.
//!
//! [`read`] parses with the very type and function rmcp's transports parse a client's
//! message with, so nothing it passes is one that rmcp fails to take: the class is closed
//! by construction, not by a list of cases.
//!
//! Also what is known of a message that cannot be read ([`Envelope`]): its top-level `id`
//! and `method`, and whether it is an answer, found by scanning, so that its refusal can
//! answer the request it was (and not answer a notification or an answer).

use rmcp::model::{ClientJsonRpcMessage, RequestId};
use serde_json::Value;
use serde_json::error::Category;

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
    /// Not one JSON value, or one holding an escape that names no character.
    NotJson,
    /// JSON, but not a JSON-RPC message of MCP's.
    NotJsonRpc,
    /// An object names a member twice: serde_json (and so the gateway) keeps the last
    /// copy, a server or client reading the first would act on another value than the one
    /// decided (`{"to":"a","amount":2,"to":"b"}`).
    RepeatedMember,
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
            Problem::NotJson => {
                "is not one JSON value (a syntax error, text after it, nothing but spaces, or \
                 an escape that names no character, such as a lone surrogate)"
                    .to_owned()
            }
            Problem::NotJsonRpc => {
                "is not a JSON-RPC 2.0 message of MCP's (`jsonrpc` \"2.0\", an `id` that is a \
                 string or an integer, a string `method`, `params` an object of the method's \
                 shape)"
                    .to_owned()
            }
            Problem::RepeatedMember => {
                "names a member twice in one object (JSON readers disagree on which copy \
                 counts)"
                    .to_owned()
            }
            Problem::IdInUse => "reuses the id of a request still in progress".to_owned(),
            Problem::TooLarge => format!("is longer than {} bytes", super::MAX_LINE),
        }
    }

    /// The name of the rule a refusal record gives.
    pub(crate) fn rule(self) -> &'static str {
        match self {
            Problem::TooDeep => "mcp.message_too_deep",
            Problem::IdInUse => "mcp.request_id_in_use",
            Problem::TooLarge => "mcp.message_too_large",
            Problem::NotJsonRpc | Problem::RepeatedMember => "mcp.invalid_request",
            Problem::NotUtf8 | Problem::Batch | Problem::NumberOutOfRange | Problem::NotJson => {
                "mcp.unreadable_message"
            }
        }
    }

    /// Whether the message could not be parsed at all (JSON-RPC's parse error, -32700),
    /// rather than parsed and found no valid request (-32600).
    pub(crate) fn is_parse_error(self) -> bool {
        matches!(self, Problem::NotUtf8 | Problem::NotJson)
    }
}

/// `message` (one line over stdio, without its line break, carriage return and byte order
/// mark, as rmcp's line transport strips them; one body over HTTP, as is) as the message
/// rmcp is given, or what is wrong with it.
pub(crate) fn read(message: &[u8]) -> Result<ClientJsonRpcMessage, Problem> {
    if std::str::from_utf8(message).is_err() {
        return Err(Problem::NotUtf8);
    }
    let start = message.iter().position(|b| !b.is_ascii_whitespace());
    if start.and_then(|start| message.get(start)) == Some(&b'[') {
        return Err(Problem::Batch);
    }
    if let Some(problem) = scan(message) {
        return Err(problem);
    }
    // rmcp's own parse (`serde_json::from_slice` of `ClientJsonRpcMessage`, over stdio and
    // over HTTP): what fails here is what rmcp would have dropped or answered without an
    // id or a record.
    let parsed = serde_json::from_slice::<ClientJsonRpcMessage>(message).map_err(|error| {
        match error.classify() {
            Category::Data => Problem::NotJsonRpc,
            Category::Syntax | Category::Eof | Category::Io => Problem::NotJson,
        }
    })?;
    // At any depth, as the HTTP API refuses them: a tool's `arguments` above all.
    if aecl_core::distinct::repeats_a_member(message) {
        return Err(Problem::RepeatedMember);
    }
    Ok(parsed)
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

/// One top-level member of a message, as found by scanning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Member<T> {
    #[default]
    Absent,
    /// Present once, with a value of the kind it must have.
    Valid(T),
    /// Present with a value of another kind, or more than once (which copy counts is
    /// anyone's guess).
    Invalid,
}

impl<T> Member<T> {
    pub(crate) fn valid(&self) -> Option<&T> {
        match self {
            Member::Valid(value) => Some(value),
            Member::Absent | Member::Invalid => None,
        }
    }

    /// Another sighting of the member: a second one makes it invalid.
    fn found(&mut self, value: Option<T>) {
        *self = match (&*self, value) {
            (Member::Absent, Some(value)) => Member::Valid(value),
            _ => Member::Invalid,
        };
    }
}

/// What the top level of a message says it is, found by scanning (so that a message too
/// deep, too long or unparsable further on still says it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Envelope {
    /// `id`: valid when a string or an integer, as MCP requires.
    pub id: Member<RequestId>,
    /// `method`: valid when a string.
    pub method: Member<String>,
    /// Whether it has a `result` or an `error` member.
    pub answer: bool,
}

impl Envelope {
    /// The top level of `message` (nothing, when it is no object).
    pub(crate) fn of(message: &[u8]) -> Envelope {
        let mut envelope = Envelope::default();
        let open = skip_space(message, 0);
        if message.get(open) != Some(&b'{') {
            return envelope;
        }
        let mut depth = 0usize;
        let mut at = open;
        while let Some(&byte) = message.get(at) {
            match byte {
                b'"' => {
                    let Some(end) = string_end(message, at) else { break };
                    let colon = skip_space(message, end);
                    if depth == 1 && message.get(colon) == Some(&b':') {
                        let value = skip_space(message, colon + 1);
                        envelope.member(message.get(at..end).unwrap_or_default(), message, value);
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
        envelope
    }

    /// Takes in the top-level member named by `key` (its JSON string, quotes included)
    /// whose value starts at `value` in `message`.
    fn member(&mut self, key: &[u8], message: &[u8], value: usize) {
        // A key written with escapes (`"\u0069d"`) is the key it decodes to, as for serde.
        let decoded;
        let key = if key.contains(&b'\\') {
            decoded = serde_json::from_slice::<String>(key).unwrap_or_default();
            decoded.as_bytes()
        } else {
            key.get(1..key.len().saturating_sub(1)).unwrap_or_default()
        };
        match key {
            b"id" => {
                let id = scalar_at(message, value).and_then(|v| serde_json::from_value(v).ok());
                self.id.found(id);
            }
            b"method" => {
                let method = scalar_at(message, value).and_then(|v| match v {
                    Value::String(method) => Some(method),
                    _ => None,
                });
                self.method.found(method);
            }
            b"result" | b"error" => self.answer = true,
            _ => {}
        }
    }

    /// Whether a refusal of the message is answered. JSON-RPC answers no notification (a
    /// string `method` and no `id`) and no answer (a `result` or an `error` without a
    /// `method`); anything else refused is a request that cannot be taken, answered with
    /// its id when that is valid and `null` otherwise (JSON-RPC 2.0, section 5).
    pub(crate) fn answered(&self) -> bool {
        let notification = self.id == Member::Absent && self.method.valid().is_some();
        let answer = self.answer && self.method == Member::Absent;
        !(notification || answer)
    }
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

    fn problem(message: &[u8]) -> Option<Problem> {
        read(message).err()
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
            // Strings serde cannot make (`IgnoredAny` took them): lone surrogates.
            (call(r#"{"a":"\ud800"}"#), Problem::NotJson),
            (call(r#"{"\udc00":1}"#), Problem::NotJson),
            (call(r#"{"a":"\ud800\u0041"}"#), Problem::NotJson),
            (call(r#"{"a":"\q"}"#), Problem::NotJson),
            (format!("{} x", call("{}")), Problem::NotJson),
            (format!("\u{feff}{}", call("{}")), Problem::NotJson),
            ("   ".to_owned(), Problem::NotJson),
            (String::new(), Problem::NotJson),
            // JSON, not JSON-RPC as MCP has it.
            (r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#.to_owned(), Problem::NotJsonRpc),
            (r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#.to_owned(), Problem::NotJsonRpc),
            (r#"{"jsonrpc":"2.0","id":7}"#.to_owned(), Problem::NotJsonRpc),
            (r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#.to_owned(), Problem::NotJsonRpc),
            (r#"{"jsonrpc":"2.0","id":7,"id":8,"method":"ping"}"#.to_owned(), Problem::NotJsonRpc),
            ("7".to_owned(), Problem::NotJsonRpc),
            // Red-team round 14: decided on the last copy, read by others on the first.
            (call(r#"{"to":"first","amount":2,"to":"last"}"#), Problem::RepeatedMember),
            (call(r#"{"to":"a","t\u006f":"b"}"#), Problem::RepeatedMember),
            (call(r#"{"items":[{"id":1,"id":2}]}"#), Problem::RepeatedMember),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"a","name":"b","arguments":{}}}"#.to_owned(),
                Problem::RepeatedMember,
            ),
        ];
        for (message, expected) in refused {
            assert_eq!(problem(message.as_bytes()), Some(expected), "{message}");
        }
        let mut bytes = call(r#"{"a":"x"}"#).into_bytes();
        let quote = bytes.iter().rposition(|b| *b == b'x').unwrap();
        bytes[quote] = 0xff;
        assert_eq!(problem(&bytes), Some(Problem::NotUtf8));

        // Numbers as they come, the largest of each kind, numbers in strings, an escaped
        // NUL and a surrogate pair.
        let fine = [
            call(r#"{"amount":10,"f":-1.5e3,"z":0,"neg":-7}"#),
            call(r#"{"u":18446744073709551615,"i":-9223372036854775808}"#),
            call(r#"{"tiny":1e-400,"big":1.7e308}"#),
            call(r#"{"text":"123456789012345678901234567890 and 1e400"}"#),
            call(r#"{"nul":"a\u0000b","pair":"\ud83d\ude00"}"#),
            format!(" {} ", call("{}")),
        ];
        for message in fine {
            assert_eq!(problem(message.as_bytes()), None, "{message}");
        }
        // A number at the very end of the message.
        assert_eq!(scan(b"123456789012345678901234567890"), Some(Problem::NumberOutOfRange));
    }

    #[test]
    fn the_envelope_is_found_at_the_top_level() {
        let line = r#"{"params":{"arguments":{"id":"no"}},"id":"req-\"7","method":"x","n":1e400}"#;
        let envelope = Envelope::of(line.as_bytes());
        assert_eq!(envelope.id, Member::Valid(RequestId::String("req-\"7".into())));
        assert_eq!(envelope.method, Member::Valid("x".to_owned()));
        assert!(envelope.answered());
        assert_eq!(Envelope::of(b"[1,2]"), Envelope::default());
        let escaped = Envelope::of(br#"{"\u0069d":3,"method":"m"}"#);
        assert_eq!(escaped.id, Member::Valid(RequestId::Number(3)));

        // Which refusals are answered, and with which id.
        let cases: [(&str, Member<RequestId>, bool); 9] = [
            (r#"{"id":true,"method":"m"}"#, Member::Invalid, true),
            (r#"{"id":{},"method":"m"}"#, Member::Invalid, true),
            (r#"{"id":1.5,"method":"m"}"#, Member::Invalid, true),
            (r#"{"id":"\ud800","method":"m"}"#, Member::Invalid, true),
            (r#"{"id":1,"id":2,"method":"m"}"#, Member::Invalid, true),
            (r#"{"id":5,"method":5}"#, Member::Valid(RequestId::Number(5)), true),
            (r#"{"method":"notifications/x","params":"p"}"#, Member::Absent, false),
            (r#"{"method":5,"params":"p"}"#, Member::Absent, true),
            (r#"{"id":5,"result":"r"}"#, Member::Valid(RequestId::Number(5)), false),
        ];
        for (message, id, answered) in cases {
            let envelope = Envelope::of(message.as_bytes());
            assert_eq!((&envelope.id, envelope.answered()), (&id, answered), "{message}");
        }
    }
}
