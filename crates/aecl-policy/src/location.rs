//! Finding the line and column of a key path in a policy file, for error messages.
//!
//! The format types are plain serde structs; when lowering finds a problem it names the key
//! path (`actions.transfer_funds.args.amount.min`), and this module finds where that path
//! is written. TOML is parsed again with spans; JSON manifests are searched for the quoted
//! key, which is exact for the flat seed shape.

use std::cell::OnceCell;

use toml::de::{DeTable, DeValue};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

impl From<&str> for Step {
    fn from(key: &str) -> Step {
        Step::Key(key.to_owned())
    }
}

impl From<&String> for Step {
    fn from(key: &String) -> Step {
        Step::Key(key.clone())
    }
}

impl From<usize> for Step {
    fn from(index: usize) -> Step {
        Step::Index(index)
    }
}

/// Line and column (from 1) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The position of the deepest element of `path` found in the TOML `text` (the value of a
/// key, or the element of an array); `(1, 1)` when nothing of it is found.
pub fn locate_toml(text: &str, path: &[Step]) -> (usize, usize) {
    TomlSpans::new(text).locate(path)
}

/// A TOML text parsed with spans once, at its first lookup, for many lookups: a catalog's
/// every example, a test file's every test. Parsing the file again for each was quadratic
/// in the file, and a fifth of a policy load; parsing a catalog that has nothing to locate
/// was a tenth of a hooked tool call.
pub struct TomlSpans<'a> {
    text: &'a str,
    root: OnceCell<Option<toml::Spanned<DeTable<'a>>>>,
}

impl<'a> TomlSpans<'a> {
    pub fn new(text: &'a str) -> TomlSpans<'a> {
        TomlSpans { text, root: OnceCell::new() }
    }

    /// [`locate_toml`] of this text.
    pub fn locate(&self, path: &[Step]) -> (usize, usize) {
        let root = self.root.get_or_init(|| DeTable::parse(self.text).ok());
        let Some(root) = root else { return (1, 1) };
        let mut best = None;
        let mut table = Some(root.get_ref());
        let mut value: Option<&DeValue<'_>> = None;
        for step in path {
            let next = match (step, table, value) {
                (Step::Key(key), Some(t), _) => t.get_key_value(key.as_str()).map(|(k, v)| {
                    best = Some(k.span().start);
                    v
                }),
                (Step::Index(i), _, Some(DeValue::Array(items))) => items.get(*i),
                _ => None,
            };
            let Some(next) = next else { break };
            // A table's own span may be its header or empty (dotted and implicit tables):
            // its key is the better place. A scalar or array is pointed at directly.
            if !matches!(next.get_ref(), DeValue::Table(_)) || matches!(step, Step::Index(_)) {
                best = Some(next.span().start);
            }
            match next.get_ref() {
                DeValue::Table(t) => {
                    table = Some(t);
                    value = None;
                }
                other => {
                    table = None;
                    value = Some(other);
                }
            }
        }
        best.map_or((1, 1), |offset| line_col(self.text, offset))
    }
}

/// The position of the last key of `path` in JSON `text`, found by searching for each key
/// in turn after the previous one.
pub fn locate_json(text: &str, path: &[Step]) -> (usize, usize) {
    let mut from = 0;
    let mut best = None;
    for step in path {
        let Step::Key(key) = step else { continue };
        let needle = format!("\"{key}\"");
        match text.get(from..).and_then(|rest| rest.find(&needle)) {
            Some(found) => {
                from += found + needle.len();
                best = Some(from - needle.len());
            }
            None => break,
        }
    }
    best.map_or((1, 1), |offset| line_col(text, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_paths_are_located_at_their_values() {
        let text =
            "[actions.pay]\neffect = \"payment\"\n\n[actions.pay.args.amount]\nmin = 0\nmax = 10\n";
        let path: Vec<Step> = ["actions", "pay", "args", "amount", "max"].map(Step::from).to_vec();
        assert_eq!(locate_toml(text, &path), (6, 7));
        let missing: Vec<Step> = ["actions", "pay", "nope"].map(Step::from).to_vec();
        assert_eq!(locate_toml(text, &missing), (1, 10));
    }

    #[test]
    fn array_elements_are_located() {
        let text = "allowed_actions = [\n  \"a\",\n  \"b\",\n]\n";
        assert_eq!(locate_toml(text, &[Step::from("allowed_actions"), Step::Index(1)]), (3, 3));
    }

    #[test]
    fn json_keys_are_located() {
        let text =
            "{\n  \"agent_id\": \"x\",\n  \"context_rules\": {\n    \"pay\": \"oops\"\n  }\n}";
        let path = [Step::from("context_rules"), Step::from("pay")];
        assert_eq!(locate_json(text, &path), (4, 5));
    }
}
