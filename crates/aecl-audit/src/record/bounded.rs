//! Free-form JSON (a call's arguments, a tool's output) bounded to the depth a record can
//! hold.
//!
//! A record is one JSON object and serde_json reads at most 128 levels of nesting, so
//! canonical bytes are refused past [`MAX_DEPTH`](crate::canonical) (127) levels: the
//! arguments and the output sit one level down, so they may nest 126 levels. Values parsed
//! on their own (a connector's response body, an MCP result) get up to 127 levels and are
//! then wrapped (`{"status":…,"body":…}`) before they reach a record; without a bound, the
//! outcome of a call that ran could not be recorded at all, and a remote endpoint could
//! suppress the record of every effect it answers. So a container that would sit deeper
//! than the record holds is written as a string instead: [`TOO_DEEP`] followed by the
//! container's canonical JSON. Nothing is lost (the text parses back on its own), the
//! record stays canonical, and the marker says what happened.

use std::borrow::Cow;

use aecl_core::canonical::canonical_json;
use serde_json::Value;

/// How many levels of arrays and objects a record's `input` or `output` may hold.
pub const MAX_FIELD_DEPTH: usize = 126;

/// What starts the string that stands for a container nested too deep, before its
/// canonical JSON.
pub const TOO_DEEP: &str = "[too deep for the audit record] ";

/// `value` as a record holds it: itself when it fits [`MAX_FIELD_DEPTH`], otherwise a copy
/// whose containers past that depth are strings (see the module's header).
pub fn bounded(value: &Value) -> Cow<'_, Value> {
    if fits(value, MAX_FIELD_DEPTH) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(bound(value, MAX_FIELD_DEPTH))
    }
}

/// Whether the containers of `value` nest at most `levels` deep. Recurses at most
/// `levels + 1` frames, however deep the value.
fn fits(value: &Value, levels: usize) -> bool {
    match value {
        Value::Array(items) => levels > 0 && items.iter().all(|item| fits(item, levels - 1)),
        Value::Object(map) => levels > 0 && map.values().all(|item| fits(item, levels - 1)),
        _ => true,
    }
}

/// A copy of `value` with every container past `levels` levels written as text.
fn bound(value: &Value, levels: usize) -> Value {
    match value {
        Value::Array(_) | Value::Object(_) if levels == 0 => {
            Value::String(format!("{TOO_DEEP}{}", canonical_json(value)))
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| bound(i, levels - 1)).collect()),
        Value::Object(map) => Value::Object(
            map.iter().map(|(key, item)| (key.clone(), bound(item, levels - 1))).collect(),
        ),
        scalar => scalar.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `levels` arrays around `inner`.
    fn nested(levels: usize, inner: Value) -> Value {
        (0..levels).fold(inner, |value, _| json!([value]))
    }

    #[test]
    fn a_value_that_fits_is_kept_as_it_is() {
        for value in [json!(null), json!({"a": [1, {"b": "c"}]}), nested(MAX_FIELD_DEPTH, json!(1))]
        {
            assert!(matches!(bounded(&value), Cow::Borrowed(_)), "{value}");
        }
    }

    #[test]
    fn containers_past_the_limit_become_their_text() {
        let deep = nested(MAX_FIELD_DEPTH + 2, json!({"k": 1}));
        let kept = bounded(&deep).into_owned();
        assert!(fits(&kept, MAX_FIELD_DEPTH));
        let mut inner = &kept;
        for _ in 0..MAX_FIELD_DEPTH {
            inner = &inner[0];
        }
        assert_eq!(*inner, json!(format!("{TOO_DEEP}[[{{\"k\":1}}]]")));
        // The text is the cut-off part, whole.
        let text = inner.as_str().unwrap().strip_prefix(TOO_DEEP).unwrap();
        let back: Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, nested(2, json!({"k": 1})));
        // Scalars at the limit stay as they are.
        assert_eq!(
            bounded(&nested(MAX_FIELD_DEPTH, json!("x"))).into_owned(),
            nested(MAX_FIELD_DEPTH, json!("x"))
        );
    }
}
