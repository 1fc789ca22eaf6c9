//! Dotted paths into a call's JSON arguments (`recipient.iban`, `to`), used by the catalog
//! to name arguments.

use std::fmt;

use serde_json::{Map, Value};

/// A path of object keys. Arrays met on the way are entered element by element, so a
/// constraint on `to` applies to every recipient of a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    /// Parses `a.b.c`. Empty segments are refused.
    pub fn parse(text: &str) -> Option<FieldPath> {
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return None;
        }
        Some(FieldPath(segments))
    }

    pub fn segments(&self) -> &[String] {
        &self.0
    }

    pub fn last(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// Every value found at this path, arrays flattened. Empty when the path is absent.
    pub fn values<'v>(&self, root: &'v Value) -> Vec<&'v Value> {
        let mut out = Vec::new();
        self.for_each_value(root, &mut |value| out.push(value));
        out
    }

    /// Calls `visit` with every value `values` would return, in the same order, without
    /// collecting them: the decision path visits argument values on every call.
    pub fn for_each_value<'v>(&self, root: &'v Value, visit: &mut impl FnMut(&'v Value)) {
        visit_values(root, &self.0, visit);
    }

    /// The value at this path as it is, a list not taken apart: `None` when the path is
    /// absent or passes through a list on its way.
    pub fn whole<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.0.iter().try_fold(root, |value, head| match value {
            Value::Object(map) => field(map, head),
            _ => None,
        })
    }

    /// The first value at this path.
    pub fn first<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.values(root).into_iter().next()
    }

    /// Appends this path's text (`to_string()`) to `out`.
    pub fn push_to(&self, out: &mut String) {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(segment);
        }
    }

    /// Whether `dotted` is this path's text (`to_string()`), compared without building it.
    pub fn is(&self, dotted: &str) -> bool {
        self.rest_of(dotted).is_some_and(str::is_empty)
    }

    /// Whether `dotted` names a field beneath this path (`to` is above `to.email`).
    pub fn is_above(&self, dotted: &str) -> bool {
        self.rest_of(dotted).is_some_and(|rest| rest.len() > 1 && rest.starts_with('.'))
    }

    /// What follows this path's text at the start of `dotted`, when it starts with it.
    fn rest_of<'d>(&self, dotted: &'d str) -> Option<&'d str> {
        let mut rest = dotted;
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                rest = rest.strip_prefix('.')?;
            }
            rest = rest.strip_prefix(segment.as_str())?;
        }
        Some(rest)
    }
}

fn visit_values<'v>(value: &'v Value, rest: &[String], visit: &mut impl FnMut(&'v Value)) {
    match (value, rest.split_first()) {
        (Value::Array(items), _) => {
            for item in items {
                visit_values(item, rest, visit);
            }
        }
        (_, None) => visit(value),
        (Value::Object(map), Some((head, tail))) => {
            if let Some(next) = field(map, head) {
                visit_values(next, tail, visit);
            }
        }
        (_, Some(_)) => {}
    }
}

/// `map.get(key)`. Argument objects are small, and serde_json's map hashes its keys with
/// SipHash: comparing a handful of short keys is several times cheaper than hashing one.
fn field<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    const SCAN: usize = 8;
    if map.len() <= SCAN {
        map.iter().find_map(|(k, v)| (k == key).then_some(v))
    } else {
        map.get(key)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Segment by segment rather than `join`: paths are written into messages on the
        // decision path, and this writes them without a string of their own.
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(segment)?;
        }
        Ok(())
    }
}

/// Calls `visit` with the dotted path and value of every scalar leaf of `value`. Array
/// indices are not part of the path, so `items.subject` names the subject of every item.
pub fn for_each_leaf<'v>(value: &'v Value, visit: &mut impl FnMut(&str, &'v Value)) {
    let mut prefix = String::new();
    walk(value, &mut prefix, visit);
}

fn walk<'v>(value: &'v Value, prefix: &mut String, visit: &mut impl FnMut(&str, &'v Value)) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let len = prefix.len();
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(key);
                walk(item, prefix, visit);
                prefix.truncate(len);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, prefix, visit);
            }
        }
        Value::Null => {}
        Value::Bool(_) | Value::Number(_) | Value::String(_) => visit(prefix, value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_enter_arrays_and_skip_absent_paths() {
        let args = json!({"to": ["a@x.com", "b@y.com"], "r": {"iban": "GB1"}});
        let to = FieldPath::parse("to").unwrap();
        assert_eq!(to.values(&args), vec![&json!("a@x.com"), &json!("b@y.com")]);
        let iban = FieldPath::parse("r.iban").unwrap();
        assert_eq!(iban.first(&args), Some(&json!("GB1")));
        assert!(FieldPath::parse("r.missing").unwrap().values(&args).is_empty());
        assert!(FieldPath::parse("a..b").is_none());
    }

    #[test]
    fn is_compares_with_the_dotted_text() {
        let path = FieldPath::parse("recipient.iban").unwrap();
        assert!(path.is("recipient.iban"));
        for other in ["recipient", "recipient.", "recipient.ibanx", "recipientiban", "", ".iban"] {
            assert!(!path.is(other), "{other}");
        }
        assert!(FieldPath::parse("to").unwrap().is("to"));
    }

    #[test]
    fn is_above_names_the_fields_beneath_only() {
        let to = FieldPath::parse("to").unwrap();
        assert!(to.is_above("to.email") && to.is_above("to.a.b"));
        for other in ["to", "to.", "tox.email", "top", "", ".to.email", "x.to.email"] {
            assert!(!to.is_above(other), "{other}");
        }
        assert!(FieldPath::parse("r.iban").unwrap().is_above("r.iban.value"));
        assert!(!FieldPath::parse("r.iban").unwrap().is_above("r.ibanx.value"));
    }

    #[test]
    fn leaves_are_visited_with_dotted_paths() {
        let mut seen = Vec::new();
        for_each_leaf(
            &json!({"items": [{"subject": "hi"}, {"subject": "yo"}], "n": 1}),
            &mut |p, v| {
                seen.push((p.to_owned(), v.clone()));
            },
        );
        assert_eq!(
            seen,
            vec![
                ("items.subject".to_owned(), json!("hi")),
                ("items.subject".to_owned(), json!("yo")),
                ("n".to_owned(), json!(1)),
            ]
        );
    }
}
