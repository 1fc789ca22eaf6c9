//! Field paths of a tool's output as the catalog writes them (`transactions[].recipient`,
//! `*.subject`, `id`), and how they match the path of one leaf.
//!
//! The two trusts match differently, so that an ambiguity can only ever demote text:
//! - a *trusted* field is anchored at the document's root: `recipient` names the top-level
//!   `recipient` (or that of every element of a top-level list), never a `recipient` key
//!   nested in some other field whose content a third party may shape;
//! - an *untrusted* field matches at any depth: `notes` names every `notes` wherever it is.
//!
//! Both name the field and everything below it. Arrays met on the way are entered
//! implicitly where the rule writes no `[]`, so `items.subject` = `items[].subject`.

use std::fmt;

/// One step of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Pattern {
    Key(String),
    /// `*`: any one key.
    AnyKey,
    /// `[]`: any element of an array.
    Element,
}

/// One step of a leaf's path in a parsed output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A field path of the catalog's `trusted_fields` / `untrusted_fields`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OutputField {
    steps: Vec<Pattern>,
    text: String,
}

impl OutputField {
    /// Parses `a.b`, `a[].b`, `*.b`, `[].b`. Empty keys and stray brackets are refused.
    pub fn parse(text: &str) -> Option<OutputField> {
        let mut steps = Vec::new();
        for (i, part) in text.split('.').enumerate() {
            let mut rest = part;
            let mut key_seen = false;
            // A leading `[]` is allowed on the first part only (`[].id`: a top-level list).
            if let Some(stripped) = rest.strip_prefix("[]") {
                if i > 0 {
                    return None;
                }
                steps.push(Pattern::Element);
                rest = stripped;
                key_seen = true;
            }
            let key_end = rest.find('[').unwrap_or(rest.len());
            let (key, mut brackets) = rest.split_at(key_end);
            match key {
                "" if key_seen => {}
                "" => return None,
                "*" => steps.push(Pattern::AnyKey),
                _ if key.contains(['*', ']']) => return None,
                _ => steps.push(Pattern::Key(key.to_owned())),
            }
            while !brackets.is_empty() {
                brackets = brackets.strip_prefix("[]")?;
                steps.push(Pattern::Element);
            }
        }
        if steps.is_empty() {
            return None;
        }
        Some(OutputField { steps, text: text.to_owned() })
    }

    /// Whether the rule names this leaf (or a field above it), anchored at the root: how a
    /// trusted field matches, by its key exactly.
    pub fn matches_anchored(&self, path: &[Step<'_>]) -> bool {
        matches_prefix(&self.steps, path, KeyMatch::Exact)
    }

    /// Whether the rule names this leaf (or a field above it) at any depth: how an
    /// untrusted field matches. Keys match by their letters and digits in any case: the
    /// same record is often shown again as text (`Notes:` or `Customer Notes:` for
    /// `customer_notes`), and demoting more is never the attacker's gain.
    pub fn matches_anywhere(&self, path: &[Step<'_>]) -> bool {
        let mut rest = path;
        while let Some((_, tail)) = rest.split_first() {
            if matches_prefix(&self.steps, rest, KeyMatch::Loose) {
                return true;
            }
            rest = tail;
        }
        false
    }
}

/// How a rule's key is compared with a leaf's.
#[derive(Clone, Copy)]
enum KeyMatch {
    Exact,
    /// By letters and digits, case folded (`customer_notes` is `Customer Notes`).
    Loose,
}

impl KeyMatch {
    fn same(self, rule: &str, key: &str) -> bool {
        match self {
            KeyMatch::Exact => rule == key,
            KeyMatch::Loose => rule == key || letters(rule).eq(letters(key)),
        }
    }
}

/// A key's letters and digits, lower case.
fn letters(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase)
}

/// Whether `rule` matches a prefix of `path`; an index the rule does not write is skipped.
fn matches_prefix(rule: &[Pattern], path: &[Step<'_>], keys: KeyMatch) -> bool {
    let Some((head, rule_rest)) = rule.split_first() else { return true };
    let Some((step, path_rest)) = path.split_first() else { return false };
    match (head, step) {
        (Pattern::Element, Step::Index(_)) => matches_prefix(rule_rest, path_rest, keys),
        (_, Step::Index(_)) => matches_prefix(rule, path_rest, keys),
        (Pattern::Key(k), Step::Key(s)) if keys.same(k, s) => {
            matches_prefix(rule_rest, path_rest, keys)
        }
        (Pattern::AnyKey, Step::Key(_)) => matches_prefix(rule_rest, path_rest, keys),
        _ => false,
    }
}

impl fmt::Display for OutputField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The text of a leaf path for labels: `transactions[2].subject`.
pub fn path_text(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}
