//! Secrets quoted in the words about a value. A check's message may quote the argument it
//! refused (`"MYSECRET" is not one of "a", "b"`, `schema: {"api_key":"…"} is not of type
//! "string"`), and a record keeps that message beside the redacted arguments: what
//! redacting the arguments took out must not come back through it (red team round 30,
//! tamper F1).

use serde_json::Value;

use super::{REDACTED, Redactions, redact_string};

/// A value shorter than this is not looked for in messages: replacing a one-letter value
/// everywhere would hide what the message says, and no credential is that short.
const MIN_QUOTED: usize = 4;

/// What redacting a value removed, to be taken out of texts that quote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quoted {
    /// Longest first, so that a secret holding another is replaced whole.
    secrets: Vec<String>,
}

impl Quoted {
    /// What redacting `original` (into `redacted`, with [`redact`]) took out of it: each
    /// string or number replaced whole (a configured path, a sensitive key), every one
    /// beneath a value replaced whole, and the words a detector replaced inside a string.
    pub fn between(original: &Value, redacted: &Value) -> Quoted {
        let mut secrets = Vec::new();
        removed(original, redacted, &mut secrets);
        secrets.retain(|s| s.len() >= MIN_QUOTED && s != REDACTED);
        // JSON's spelling of a string with quotes or escapes, as a message quotes it.
        let escaped: Vec<String> = secrets
            .iter()
            .filter_map(|s| {
                let json = serde_json::to_string(s).ok()?;
                let inner = json.get(1..json.len().saturating_sub(1))?.to_owned();
                (inner != *s).then_some(inner)
            })
            .collect();
        secrets.extend(escaped);
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Quoted { secrets }
    }

    /// `text` with every secret the detectors find and every value [`Quoted::between`] found
    /// replaced by [`REDACTED`]; `None` when there is none.
    pub fn redact(&self, text: &str) -> Option<String> {
        let mut found = Redactions::default();
        let mut out = redact_string(text, &mut found);
        for secret in &self.secrets {
            let current = out.as_deref().unwrap_or(text);
            if current.contains(secret.as_str()) {
                out = Some(current.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }
}

/// Collects what `redacted` lacks of `original` (the same value before and after
/// redaction).
fn removed(original: &Value, redacted: &Value, out: &mut Vec<String>) {
    match (original, redacted) {
        (Value::Object(before), Value::Object(after)) => {
            for (key, value) in before {
                match after.get(key) {
                    Some(now) => removed(value, now, out),
                    None => leaves(value, out),
                }
            }
        }
        (Value::Array(before), Value::Array(after)) => {
            for (at, value) in before.iter().enumerate() {
                match after.get(at) {
                    Some(now) => removed(value, now, out),
                    None => leaves(value, out),
                }
            }
        }
        (Value::String(before), Value::String(after)) if before == after => {}
        // A detector's replacement inside a string: the words it took out.
        (Value::String(before), Value::String(after)) if after != REDACTED => {
            let kept: std::collections::HashSet<&str> = words(after).collect();
            out.extend(words(before).filter(|w| !kept.contains(w)).map(str::to_owned));
        }
        (before, after) if before != after => leaves(before, out),
        _ => {}
    }
}

/// Every string and number beneath `value`, and, for a collection, its JSON text.
fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => {
            out.extend(serde_json::to_string(value).ok());
            items.iter().for_each(|item| leaves(item, out));
        }
        Value::Object(map) => {
            out.extend(serde_json::to_string(value).ok());
            map.values().for_each(|item| leaves(item, out));
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// The words of a text: what lies between white space, quotes and the separators of
/// assignments (`password=hunter2` gives `hunter2`).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '=' | ':' | ',' | ';'))
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{FieldPath, redact};
    use super::*;

    fn quoted(args: &Value, paths: &[&str]) -> Quoted {
        let paths: Vec<FieldPath> = paths.iter().map(|p| FieldPath::parse(p).unwrap()).collect();
        let mut redacted = args.clone();
        redact(&mut redacted, &paths);
        Quoted::between(args, &redacted)
    }

    #[test]
    fn values_a_path_or_a_key_redacts_are_taken_out_of_a_message() {
        let args = json!({"path": {"api_key": "PLAINSECRET123"}, "content": "MYSECRET_0123",
            "n": 987654321012_u64, "list": ["AKIAIOSFODNN7EXAMPLE", "ok"]});
        let q = quoted(&args, &["content", "n"]);
        for (message, secret) in [
            (r#"schema: {"api_key":"PLAINSECRET123"} is not of type "string""#, "PLAINSECRET123"),
            (r#""MYSECRET_0123" is not one of "a", "b""#, "MYSECRET_0123"),
            ("schema: 987654321012 is not of type \"string\"", "987654321012"),
            (r#"schema: ["AKIAIOSFODNN7EXAMPLE","ok"] is not of type "string""#, "AKIAIOSFODNN7"),
        ] {
            let clean = q.redact(message).unwrap_or_else(|| panic!("{message}"));
            assert!(!clean.contains(secret), "{clean}");
            assert!(clean.contains(REDACTED), "{clean}");
        }
        // A message quoting nothing secret is left as it is.
        assert_eq!(q.redact("the action `write_note` is not allowed"), None);
    }

    #[test]
    fn a_detectors_finding_inside_a_string_is_taken_out_too() {
        let args = json!({"path": "password=hunter2 and more", "x": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"});
        let q = quoted(&args, &[]);
        let clean =
            q.redact(r#"schema: "password=hunter2 and more" does not match "^[a-z]+$""#).unwrap();
        assert!(!clean.contains("hunter2"), "{clean}");
        let clean = q.redact("it was hunter2 all along").unwrap();
        assert!(!clean.contains("hunter2"), "{clean}");
        // The detectors run over the message itself as well.
        let clean = Quoted::default()
            .redact("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 seen")
            .unwrap();
        assert!(!clean.contains("ghp_abc"), "{clean}");
    }

    #[test]
    fn short_values_and_json_escapes() {
        let args = json!({"content": "ab", "secret": "a\"quoted\"secret"});
        let q = quoted(&args, &["content"]);
        assert_eq!(q.redact("\"ab\" is not one of \"x\""), None);
        let clean = q.redact(r#"schema: "a\"quoted\"secret" is too long"#).unwrap();
        assert!(!clean.contains("quoted"), "{clean}");
    }
}
