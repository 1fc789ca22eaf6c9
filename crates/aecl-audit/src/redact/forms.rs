//! Configured field paths applied to every form a value's fields travel in, not only to
//! the value as it is.
//!
//! An output often carries its fields twice, or only as text: an MCP tool result has its
//! `structuredContent` and, as the MCP specification recommends, the same JSON again as a
//! text block; a shell command's or a hook's output is a string holding JSON. A path such
//! as `**.ssn` applied to the value alone redacted the structured copy and left the text
//! in clear (or, with JSON only as text, applied nowhere). So a path applies, from its
//! root, to:
//!
//! - the value itself;
//! - a string value that parses as a JSON object or array (re-serialised when changed);
//! - in an MCP tool result (an object with a `content` array or a `structuredContent`):
//!   its `structuredContent`, and the text of each text block and embedded resource that
//!   parses as JSON.
//!
//! Parsed JSON text also goes through the sensitive-key layer (`"password": …` is a key
//! there, not only a pattern for the detectors), and the detectors then run over every
//! string as they always do. JSON that does not parse (deeper than serde_json's limit,
//! trailing text) is left to the detectors.

use serde_json::Value;

use super::{FieldPath, Redactions, redact_path, redact_tree};

/// Applies `paths` to every form of `value` (see the module's header).
pub(super) fn redact_paths(value: &mut Value, paths: &[FieldPath], found: &mut Redactions) {
    for path in paths {
        redact_path(value, &path.segments, found);
    }
    match value {
        Value::String(text) => redact_json_text(text, paths, found),
        Value::Object(map) if is_tool_result(map) => {
            if let Some(structured) = map.get_mut("structuredContent") {
                for path in paths {
                    redact_path(structured, &path.segments, found);
                }
            }
            let items = map.get_mut("content").and_then(Value::as_array_mut);
            for item in items.into_iter().flatten() {
                // A text block's text, and an embedded resource's.
                let text = match item.get("type").and_then(Value::as_str) {
                    Some("text") => item.get_mut("text"),
                    Some("resource") => item.get_mut("resource").and_then(|r| r.get_mut("text")),
                    _ => None,
                };
                if let Some(Value::String(text)) = text {
                    redact_json_text(text, paths, found);
                }
            }
        }
        _ => {}
    }
}

/// Whether `map` looks like an MCP tool result. Loosely: reading something else as one
/// can only redact more.
fn is_tool_result(map: &serde_json::Map<String, Value>) -> bool {
    map.get("content").is_some_and(Value::is_array) || map.contains_key("structuredContent")
}

/// Redacts the JSON that `text` holds, when it holds a JSON object or array, and writes it
/// back re-serialised when anything was redacted.
fn redact_json_text(text: &mut String, paths: &[FieldPath], found: &mut Redactions) {
    if !text.trim_start().starts_with(['{', '[']) {
        return;
    }
    let Ok(mut parsed) = serde_json::from_str::<Value>(text) else { return };
    let before = found.count;
    for path in paths {
        redact_path(&mut parsed, &path.segments, found);
    }
    redact_tree(&mut parsed, found);
    if found.count > before
        && let Ok(redacted) = serde_json::to_string(&parsed)
    {
        *text = redacted;
    }
}
