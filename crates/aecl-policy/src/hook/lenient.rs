//! Reading a hook input that is not valid JSON for serde, so that a tool's output never goes
//! unrecorded because of how it is spelled.
//!
//! An output an attacker controls can break strict parsing: a lone UTF-16 surrogate escape
//! (`"\ud800"`, which JavaScript's `JSON.stringify` writes for a string holding half a
//! pair), nesting deeper than the parser's limit, a number out of range. Refusing such an
//! event would record nothing, and the values in it (an account number, a link) would
//! pass later as never seen. So, in order:
//! 1. lone surrogate escapes become U+FFFD and the text is parsed again;
//! 2. failing that, the top-level fields (`session_id`, `hook_event_name`, `tool_name`,
//!    `tool_use_id`, ...) are read by a scanner that only tracks strings and nesting, and
//!    the whole text stands for the output, marked [`HookInput::unreadable`]: it is
//!    recorded as untrusted, whatever the action's output rules say.

use serde_json::Value;

use super::HookInput;

/// `text` with every `\uD800`–`\uDFFF` escape that is not half of a valid pair replaced by
/// `\uFFFD`; `None` when there is none.
pub(super) fn repair_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut changed = false;
    let mut in_string = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => {
                let unit = escape_unit(bytes, i);
                match unit {
                    // A high surrogate followed by a low one: a valid pair.
                    Some(0xD800..=0xDBFF)
                        if escape_unit(bytes, i + 6)
                            .is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) =>
                    {
                        i += 12;
                    }
                    Some(0xD800..=0xDFFF) => {
                        out.push_str(text.get(copied..i).unwrap_or_default());
                        out.push_str("\\uFFFD");
                        i += 6;
                        copied = i;
                        changed = true;
                    }
                    // Any other escape is two characters (`\"`, `\\`) or six (`\u0041`).
                    Some(_) => i += 6,
                    None => i += 2,
                }
            }
            _ => i += 1,
        }
    }
    if !changed {
        return None;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Some(out)
}

/// The code unit of a `\uXXXX` escape at `at`.
fn escape_unit(bytes: &[u8], at: usize) -> Option<u32> {
    if bytes.get(at) != Some(&b'\\') || bytes.get(at + 1) != Some(&b'u') {
        return None;
    }
    let hex = bytes.get(at + 2..at + 6)?;
    let hex = std::str::from_utf8(hex).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

/// The hook input's top-level string fields, read without parsing the values between them;
/// `None` when the text is not an object or names no session and event.
pub(super) fn salvage(text: &str, why: &str) -> Option<HookInput> {
    salvage_fields(text, why).filter(|input| !input.hook_event_name.is_empty())
}

/// [`salvage`], also when the text names no event (`hook_event_name` is then empty).
pub(super) fn salvage_fields(text: &str, why: &str) -> Option<HookInput> {
    let fields = top_level_strings(text)?;
    // A member named twice is read two ways (`super::refuse_repeated_members`): nothing
    // is salvaged from such a text.
    let mut keys = std::collections::HashSet::new();
    if !fields.iter().all(|(key, _)| keys.insert(key.as_str())) {
        return None;
    }
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    Some(HookInput {
        session_id: get("session_id")?,
        transcript_path: get("transcript_path"),
        cwd: get("cwd"),
        permission_mode: get("permission_mode"),
        hook_event_name: get("hook_event_name").unwrap_or_default(),
        tool_name: get("tool_name").unwrap_or_default(),
        tool_input: Value::Null,
        tool_use_id: get("tool_use_id"),
        tool_response: Some(Value::String(text.to_owned())),
        error: None,
        prompt: get("prompt"),
        reason: get("reason"),
        source: get("source"),
        mcp_context: None,
        turn_id: get("turn_id").map(Value::String),
        aecl_resolved_paths: None,
        unreadable: Some(why.to_owned()),
    })
}

/// `(key, value)` for every member of the top-level object whose value is a string. Linear,
/// with no recursion: nesting is a counter.
fn top_level_strings(text: &str) -> Option<Vec<(String, String)>> {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    if bytes.get(start) != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = start;
    // The last string read at depth 1, and whether a `:` followed it (it was a key).
    let mut key: Option<String> = None;
    let mut after_colon = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                // A text cut short (an input too large to read whole) ends inside a string:
                // the members before it are what can be read.
                let Some(end) = string_end(bytes, i) else { break };
                let literal = text.get(i..=end)?;
                if depth == 1 {
                    if after_colon {
                        if let Some(k) = key.take() {
                            out.push((k, decode(literal)));
                        }
                        after_colon = false;
                    } else {
                        key = Some(decode(literal));
                    }
                }
                i = end + 1;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth == 2 {
                    after_colon = false;
                    key = None;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b':' if depth == 1 => after_colon = key.is_some(),
            b',' if depth == 1 => {
                key = None;
                after_colon = false;
            }
            _ => {}
        }
        i += 1;
    }
    Some(out)
}

/// The index of the quote that closes the string opening at `open`.
fn string_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// A JSON string literal's text; an escape serde refuses becomes U+FFFD.
fn decode(literal: &str) -> String {
    let repaired = repair_surrogates(literal);
    let literal = repaired.as_deref().unwrap_or(literal);
    serde_json::from_str(literal).unwrap_or_else(|_| literal.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_are_replaced_and_pairs_kept() {
        let text = r#"{"a":"x\ud800y","b":"\ud83d\ude00","c":"\\ud800","d":"\udc00"}"#;
        let repaired = repair_surrogates(text).unwrap();
        let value: Value = serde_json::from_str(&repaired).unwrap();
        assert_eq!(value["a"], "x\u{fffd}y");
        assert_eq!(value["b"], "\u{1f600}");
        // An escaped backslash followed by `ud800` is text, not an escape.
        assert_eq!(value["c"], "\\ud800");
        assert_eq!(value["d"], "\u{fffd}");
        assert_eq!(repair_surrogates(r#"{"a":"\u0041\ud83d\ude00"}"#), None);
    }

    #[test]
    fn salvage_reads_top_level_strings_only() {
        let deep = format!(
            r#"{{"session_id":"s1","hook_event_name":"PostToolUse","tool_name":"WebFetch","tool_response":{}{{"session_id":"evil","x":1e999999}}{},"tool_use_id":"t1"}}"#,
            "[".repeat(300),
            "]".repeat(300)
        );
        let input = salvage(&deep, "too deep").unwrap();
        assert_eq!(input.session_id, "s1");
        assert_eq!(input.hook_event_name, "PostToolUse");
        assert_eq!(input.tool_name, "WebFetch");
        assert_eq!(input.tool_use_id.as_deref(), Some("t1"));
        assert_eq!(input.tool_response, Some(Value::String(deep.clone())));
        assert_eq!(input.unreadable.as_deref(), Some("too deep"));
        assert!(salvage("[1,2]", "x").is_none());
        assert!(salvage(r#"{"session_id":"s"}"#, "x").is_none());
        // Never panics on truncated or odd text.
        for cut in 0..deep.len() {
            let _ = salvage(deep.get(..cut).unwrap_or_default(), "x");
        }
    }
}
