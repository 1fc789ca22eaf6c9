//! Canonical JSON: the byte form that digests and revisions are computed over.
//!
//! Object keys are sorted by their UTF-8 bytes, there is no insignificant white space and
//! strings use serde_json's escaping. The sort is done here rather than relied upon from
//! `serde_json::Map`: the build switches on serde_json's `preserve_order` feature (another
//! crate asks for it), so a map keeps its keys in insertion order.
//!
//! Every audit record hashes its input and output through this, and every hooked tool call
//! its policy's revision: the text is written straight into one buffer, with no allocation
//! per key or scalar, and an object whose keys are already in order (one read back from a
//! canonical text) is not sorted again. Strings and numbers are written by serde_json
//! itself, so its escaping and number forms stay the definition.
//!
//! `json_equal` is the equality that goes with it: numbers compared by value.

use serde::Serialize;
use serde_json::{Map, Value};
use smallvec::SmallVec;

/// The canonical text of `value`.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(128);
    write_value(value, &mut out);
    // Only serde_json's text and ASCII punctuation were written: always UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The canonical text of `value`, appended to `out`.
pub(crate) fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_scalar(number, out),
        Value::String(text) => write_scalar(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    let in_order = map.keys().is_sorted_by(|a, b| a.as_bytes() < b.as_bytes());
    if in_order {
        write_entries(map.iter(), out);
    } else {
        // Most objects are small: their entries are sorted on the stack.
        let mut entries: SmallVec<[(&String, &Value); 16]> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        write_entries(entries.into_iter(), out);
    }
}

fn write_entries<'a>(entries: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, item)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_scalar(key, out);
        out.push(b':');
        write_value(item, out);
    }
    out.push(b'}');
}

/// A string or a number as serde_json writes it, appended to `out`.
pub(crate) fn write_scalar<T: Serialize + ?Sized>(scalar: &T, out: &mut Vec<u8>) {
    // Writing to a `Vec` cannot fail, and a string or a number always serializes.
    let _ = serde_json::to_writer(&mut *out, scalar);
}

/// JSON equality with numbers compared by value, so `2` and `2.0` are one number (as in JSON
/// Schema's `enum`).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::canonical_json;

    #[test]
    fn keys_are_sorted_at_every_depth_and_whitespace_dropped() {
        let v = json!({"b": 1, "a": {"z": [true, null], "y": "x y"}});
        assert_eq!(canonical_json(&v), r#"{"a":{"y":"x y","z":[true,null]},"b":1}"#);
    }

    #[test]
    fn keys_are_sorted_by_their_bytes_whatever_order_they_were_inserted_in() {
        // More keys than are sorted on the stack, inserted in reverse.
        let mut map = Map::new();
        for key in ["z", "k", "Z", "", "a", "a\u{1}", "B", "b", "é"] {
            map.insert(key.to_owned(), json!(key.len()));
        }
        for n in (0..20).rev() {
            map.insert(format!("n{n:02}"), json!(n));
        }
        let text = canonical_json(&Value::Object(map.clone()));
        assert!(text.starts_with(r#"{"":0,"B":1,"Z":1,"a":1,"a\u0001":2,"b":1,"k":1,"n00":0,"#));
        assert!(text.ends_with(r#""n19":19,"z":1,"é":2}"#), "{text}");
        assert_eq!(canonical_json(&serde_json::from_str(&text).expect("json")), text);
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let text = "\"\\/\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}é😀\u{2028}";
        assert_eq!(canonical_json(&json!(text)), serde_json::to_string(text).expect("json"));
        assert_eq!(canonical_json(&json!("a\"b\\c\u{1}\n/")), r#""a\"b\\c\u0001\n/""#);
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        for n in [
            json!(0),
            json!(-1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(1e21),
            json!(-0.0),
            json!(0.1),
        ] {
            assert_eq!(canonical_json(&n), n.to_string());
        }
    }

    /// What the canonical text was first defined as: serde_json's own writing of every
    /// scalar and key, keys sorted by their bytes.
    fn reference(value: &Value) -> String {
        match value {
            Value::Array(items) => {
                format!("[{}]", items.iter().map(reference).collect::<Vec<_>>().join(","))
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                let entries: Vec<String> = entries
                    .into_iter()
                    .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), reference(v)))
                    .collect();
                format!("{{{}}}", entries.join(","))
            }
            scalar => scalar.to_string(),
        }
    }

    /// JSON values of every kind: any Unicode text, control characters, keys that need
    /// escaping, objects of many keys (shared with the call digest's test).
    pub(crate) fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
            proptest::collection::vec(0u8..0x80, 0..12)
                .prop_map(|bytes| Value::from(String::from_utf8(bytes).expect("ascii"))),
        ];
        leaf.prop_recursive(4, 64, 24, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("[a-zA-Z\\x00-\\x1f\"\\\\é]{0,4}", inner), 0..24)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_text_is_the_reference_text(v in value()) {
            prop_assert_eq!(canonical_json(&v), reference(&v));
        }
    }
}
