//! Reading a tool's output into a tree of fields: JSON, YAML, CSV with a header row, and
//! `key: value` lines, also when one of them is the text of a string output or of an MCP
//! result's `content`.
//!
//! Bounded and total: inputs over [`MAX_PARSE_BYTES`], trees deeper than [`MAX_DEPTH`] or
//! with more than [`MAX_NODES`] nodes (a YAML alias bomb expands into one) are refused, and
//! the caller falls back to the output's default trust. Object keys keep their order and
//! their duplicates, which the trust walk needs.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// String outputs longer than this are not parsed (taken as text).
pub const MAX_PARSE_BYTES: usize = 4 << 20;
/// Nesting deeper than this is refused.
pub const MAX_DEPTH: usize = 64;
/// Nodes (scalars, lists, maps, keys) in one output at most.
pub const MAX_NODES: usize = 200_000;

/// How an output is written (`[actions.NAME.output] format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// JSON, else a YAML mapping or sequence, else CSV with a header row, else `key: value`
    /// lines, else text.
    #[default]
    Auto,
    Json,
    Yaml,
    Csv,
    Kv,
    /// Never parsed: the whole output has the output's trust.
    Text,
}

impl OutputFormat {
    pub fn parse(name: &str) -> Option<OutputFormat> {
        Some(match name {
            "auto" => OutputFormat::Auto,
            "json" => OutputFormat::Json,
            "yaml" => OutputFormat::Yaml,
            "csv" => OutputFormat::Csv,
            "kv" => OutputFormat::Kv,
            "text" => OutputFormat::Text,
            _ => return None,
        })
    }
}

/// A parsed value. Maps keep every entry in order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Null, booleans: nothing to match.
    Empty,
    Text(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// One parsed document of an output.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The envelope's path to it, for labels (`content[1]` when an MCP result has several
    /// text items), else empty.
    pub prefix: String,
    pub node: Node,
    /// Line-structured text (`key: value`, or YAML that was not declared as such): a field
    /// after an untrusted one may be the untrusted value's continuation, so it is demoted.
    pub ordered: bool,
    /// Text that did not parse, beside a structured part of the same output: the whole of
    /// it has the output's trust (`output::fallback_trust`).
    pub unparsed: bool,
    /// A part of an MCP result beside its record (the record is its `structuredContent`,
    /// else its text items): a text item beside `structuredContent`, a text item's other
    /// fields, a resource's text, a link's description, the result's `_meta`. The record
    /// is often shown again there, under keys the catalog's field rules may not name
    /// (`Notes:` for `notes`, a CSV header, other words), so such a part has the output's
    /// trust as a whole (`output::fallback_trust`), never a trusted field's: only the
    /// record is read field by field.
    pub rendering: bool,
}

impl Document {
    fn new(prefix: String, node: Node) -> Document {
        Document { prefix, node, ordered: false, unparsed: false, rendering: false }
    }
}

/// Reads `output` as `format`. `None`: not structured (or over the limits).
pub fn documents(output: &Value, format: OutputFormat) -> Option<Vec<Document>> {
    if format == OutputFormat::Text {
        return None;
    }
    match output {
        Value::String(text) => parse_text(text, format).map(|(node, ordered)| {
            vec![Document { ordered, ..Document::new(String::new(), node) }]
        }),
        Value::Object(_) | Value::Array(_) if let Some(result) = mcp_result(output) => {
            mcp_documents(&result, format)
        }
        Value::Object(_) | Value::Array(_) => {
            Some(vec![Document::new(String::new(), from_value(output)?)])
        }
        _ => None,
    }
}

/// An MCP tool result's documents: its `structuredContent`, each text item of its
/// `content` read as `format` (and the item's other fields, its `_meta`), its other items
/// (a resource's text, a link's URI and description; not an image's or a blob's bytes)
/// and its `_meta`. Every part of it is
/// indexed: a client may show the model any of them, and a server that writes an
/// attacker's value into the text beside a harmless `structuredContent` must not get it
/// past the index.
///
/// Without `structuredContent`, one text item that does not parse makes the whole result
/// text (`None`): its trust is then the output's, for all of it. With it, such an item is
/// a document of its own read as text ([`Document::unparsed`]), so the structured part
/// keeps its fields' trust.
fn mcp_documents(
    map: &serde_json::Map<String, Value>,
    format: OutputFormat,
) -> Option<Vec<Document>> {
    let structured = map.get("structuredContent").filter(|v| !v.is_null());
    let items = map.get("content").and_then(Value::as_array)?;
    let several = items.len() > 1;
    let label = |i: usize| if several { format!("content[{i}]") } else { String::new() };
    let mut docs = Vec::new();
    match structured {
        // The record: an object (or a list), as the protocol has it.
        Some(record @ (Value::Object(_) | Value::Array(_))) => {
            docs.push(Document::new(String::new(), from_value(record)?));
        }
        // Anything else is no record read field by field: its text has the output's
        // fallback trust, as any part beside the record.
        Some(other) => docs.push(beside(String::new(), from_value(other)?)),
        None => {}
    }
    // Members of the result the protocol does not name (a server's own, an SDK's): shown
    // to the client as the rest is, and beside the record.
    let extra: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(key, _)| !MCP_RESULT_KEYS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if !extra.is_empty() {
        docs.push(beside(String::new(), from_value(&Value::Object(extra))?));
    }
    // Without `structuredContent`, the record is the first text item: a second one (an
    // e-mail's body beside its headers, the record shown again) is beside it, where no
    // trusted rule reaches (`trusted_fields = ["id"]` is the record's `id`, not one an
    // untrusted body that is itself JSON writes).
    let mut record_read = structured.is_some();
    for (i, item) in items.iter().enumerate() {
        let text = (item.get("type").and_then(Value::as_str) == Some("text"))
            .then(|| item.get("text").and_then(Value::as_str))
            .flatten();
        if let Some(text) = text {
            let rendering = std::mem::replace(&mut record_read, true);
            match parse_text(text, format) {
                Some((node, ordered)) => {
                    docs.push(Document { ordered, rendering, ..Document::new(label(i), node) })
                }
                None if structured.is_some() => docs.push(Document {
                    unparsed: true,
                    ..Document::new(label(i), Node::Text(text.to_owned()))
                }),
                None => return None,
            }
            // The block's other fields (its `_meta`, its annotations) are handed to the
            // client with it.
            if let Some(rest) = text_item_rest(item) {
                docs.push(beside(format!("content[{i}]"), from_value(&rest)?));
            }
        } else if let Value::Object(fields) = item {
            let fields = readable_item(fields);
            docs.push(beside(format!("content[{i}]"), from_value(&Value::Object(fields))?));
        }
    }
    if let Some(meta) = map.get("_meta").filter(|v| !v.is_null()) {
        docs.push(beside("_meta".to_owned(), from_value(meta)?));
    }
    (!docs.is_empty()).then_some(docs)
}

/// A part of an MCP result beside its record ([`Document::rendering`]).
fn beside(prefix: String, node: Node) -> Document {
    Document { rendering: true, ..Document::new(prefix, node) }
}

/// An MCP content item (not a text one) as a model may read it. The bytes of an image or an
/// audio clip are dropped: no model copies text out of them. An embedded resource's `blob`
/// is replaced by its text when its bytes are UTF-8 text, whatever `mimeType` claims: a
/// client may show a text blob as text, and a model reads base64 as easily as a person
/// reads a page, so a link hidden in a blob is traced as one in `text` is. Other blobs are
/// dropped.
fn readable_item(fields: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    let mut fields = fields.clone();
    fields.remove("data");
    if let Some(Value::Object(resource)) = fields.get_mut("resource")
        && let Some(blob) = resource.remove("blob")
        && let Some(text) = blob.as_str().and_then(crate::values::base64_text)
    {
        add_resource_text(resource, text);
    }
    fields
}

/// A text item's fields other than its `type` and `text` (its `_meta`, its annotations),
/// when it has any: a client may show them with the text, so they are read as well.
fn text_item_rest(item: &Value) -> Option<Value> {
    let Value::Object(fields) = item else { return None };
    let rest: serde_json::Map<String, Value> = fields
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "type" | "text"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    (!rest.is_empty()).then_some(Value::Object(rest))
}

/// Adds `text` to an embedded resource's `text` (after it, on a line of its own, when the
/// resource has both).
pub fn add_resource_text(resource: &mut serde_json::Map<String, Value>, text: String) {
    match resource.get_mut("text") {
        Some(Value::String(shown)) => {
            shown.push('\n');
            shown.push_str(&text);
        }
        _ => {
            resource.insert("text".to_owned(), Value::String(text));
        }
    }
}

/// The text of an MCP tool result that could not be read field by field: each text item's
/// text (and the strings of its other fields), the strings (and keys) of its other items
/// (not an image's or a blob's bytes), of its `structuredContent` and of its `_meta`, a
/// line each.
pub(crate) fn mcp_text(map: &serde_json::Map<String, Value>) -> String {
    fn strings(value: &Value, out: &mut String) {
        match value {
            Value::String(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Value::Number(number) => {
                out.push_str(&number.to_string());
                out.push('\n');
            }
            Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
            Value::Object(fields) => {
                for (key, field) in fields {
                    out.push_str(key);
                    out.push('\n');
                    strings(field, out);
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }
    let mut out = String::new();
    for item in map.get("content").and_then(Value::as_array).into_iter().flatten() {
        match item {
            Value::Object(fields) if fields.get("type").and_then(Value::as_str) == Some("text") => {
                strings(fields.get("text").unwrap_or(&Value::Null), &mut out);
                strings(&text_item_rest(item).unwrap_or(Value::Null), &mut out);
            }
            Value::Object(fields) => strings(&Value::Object(readable_item(fields)), &mut out),
            other => strings(other, &mut out),
        }
    }
    for (key, value) in map.iter().filter(|(key, _)| key.as_str() != "content") {
        if !MCP_RESULT_KEYS.contains(&key.as_str()) {
            out.push_str(key);
            out.push('\n');
        }
        strings(value, &mut out);
    }
    out
}

/// `output` as an MCP tool result: an object that is one ([`is_mcp_result`]), or a
/// result's content blocks alone ([`is_mcp_content`], as some hooks report an MCP tool's
/// output), made into one.
pub(crate) fn mcp_result(output: &Value) -> Option<Cow<'_, serde_json::Map<String, Value>>> {
    match output {
        Value::Object(map) if is_mcp_result(map) => Some(Cow::Borrowed(map)),
        Value::Array(items) if is_mcp_content(items) => {
            let mut map = serde_json::Map::new();
            map.insert("content".to_owned(), output.clone());
            Some(Cow::Owned(map))
        }
        _ => None,
    }
}

/// The members of an MCP tool result the protocol names (`resultType` is in every result
/// of its newer versions).
const MCP_RESULT_KEYS: [&str; 5] =
    ["content", "isError", "structuredContent", "_meta", "resultType"];

/// An MCP tool result: `{"content": [...]}` with only the members the protocol names, or
/// with others when its content is the protocol's content blocks (a server's own members,
/// kept by an SDK that passes unknown members on).
fn is_mcp_result(map: &serde_json::Map<String, Value>) -> bool {
    let Some(Value::Array(items)) = map.get("content") else { return false };
    map.keys().all(|k| MCP_RESULT_KEYS.contains(&k.as_str())) || is_mcp_content(items)
}

/// Whether `items` are an MCP result's content blocks: each an object of one of the
/// protocol's content types.
fn is_mcp_content(items: &[Value]) -> bool {
    !items.is_empty()
        && items.iter().all(|item| {
            matches!(
                item.get("type").and_then(Value::as_str),
                Some("text" | "image" | "audio" | "resource" | "resource_link")
            )
        })
}

fn from_value(value: &Value) -> Option<Node> {
    let budget = Cell::new(MAX_NODES);
    NodeSeed { budget: &budget, depth: 0 }.deserialize(value).ok()
}

/// Parses a text; the flag says whether the result is line-ordered.
pub(crate) fn parse_text(text: &str, format: OutputFormat) -> Option<(Node, bool)> {
    if text.len() > MAX_PARSE_BYTES {
        return None;
    }
    let structured = |node: Node| matches!(node, Node::Map(_) | Node::List(_)).then_some(node);
    match format {
        OutputFormat::Text => None,
        OutputFormat::Json => json(text).and_then(structured).map(|n| (n, false)),
        OutputFormat::Yaml => yaml(text).and_then(structured).map(|n| (n, false)),
        OutputFormat::Csv => csv(text).map(|n| (n, false)),
        OutputFormat::Kv => kv(text).map(|n| (n, true)),
        OutputFormat::Auto => {
            let trimmed = text.trim_start();
            if trimmed.starts_with(['{', '['])
                && let Some(node) = json(text).and_then(structured)
            {
                return Some((node, false));
            }
            // Text that was not declared YAML may be `key: value` lines that YAML happens
            // to read: it is line-ordered, like `kv`.
            if let Some(node) = yaml(text).and_then(structured) {
                return Some((node, true));
            }
            if let Some(node) = csv(text) {
                return Some((node, false));
            }
            kv(text).map(|n| (n, true))
        }
    }
}

fn json(text: &str) -> Option<Node> {
    let budget = Cell::new(MAX_NODES);
    let mut de = serde_json::Deserializer::from_str(text);
    let node = NodeSeed { budget: &budget, depth: 0 }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(node)
}

/// `text` read as YAML, unless it has none of the characters a YAML mapping or sequence
/// needs (`:`, `?`, `-`, `[`, `{`; and `!`, a tag, out of caution): such text is at most one
/// scalar, which both callers throw away, and building the parser was a tenth of what
/// recording an echo tool's short output cost.
fn yaml(text: &str) -> Option<Node> {
    if !text.bytes().any(|b| matches!(b, b':' | b'?' | b'-' | b'[' | b'{' | b'!')) {
        return None;
    }
    parse_yaml(text)
}

fn parse_yaml(text: &str) -> Option<Node> {
    let budget = Cell::new(MAX_NODES);
    let de = serde_norway::Deserializer::from_str(text);
    NodeSeed { budget: &budget, depth: 0 }.deserialize(de).ok()
}

/// CSV with a header row of two columns or more and at least one record, every record as
/// wide as the header (RFC 4180 quoting: a quoted cell may hold commas and newlines).
fn csv(text: &str) -> Option<Node> {
    // A header of two columns has a comma. Checked first because building a reader costs
    // more than the rest of parsing a short output (2 % of the MCP gateway's CPU on an echo
    // tool's text, where every undeclared output is tried as CSV).
    if !text.contains(',') {
        return None;
    }
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().ok()?.iter().map(|h| h.trim().to_owned()).collect();
    if headers.len() < 2 || headers.iter().any(String::is_empty) {
        return None;
    }
    let mut budget = MAX_NODES;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.ok()?;
        budget = budget.checked_sub(headers.len() * 2 + 1)?;
        let row = headers
            .iter()
            .zip(record.iter())
            .map(|(h, cell)| (h.clone(), Node::Text(cell.to_owned())))
            .collect();
        rows.push(Node::Map(row));
    }
    (!rows.is_empty()).then_some(Node::List(rows))
}

/// `key: value` lines. A line that is not one continues the value before it (a value may
/// span lines); text before the first key makes the output not `kv`.
fn kv(text: &str) -> Option<Node> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some((key, value)) = kv_line(line) {
            if entries.len() >= MAX_NODES / 2 {
                return None;
            }
            entries.push((key.to_owned(), value.trim().to_owned()));
        } else if let Some((_, value)) = entries.last_mut() {
            value.push('\n');
            value.push_str(line);
        } else if !line.trim().is_empty() {
            return None;
        }
    }
    (!entries.is_empty())
        .then(|| Node::Map(entries.into_iter().map(|(k, v)| (k, Node::Text(v))).collect()))
}

/// `key: value` with a key of letters, digits, `_`, `-`, `.` and inner spaces, at most 64
/// bytes, starting the line.
fn kv_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && !key.ends_with(' ')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-. ".contains(c));
    (ok && (value.is_empty() || value.starts_with([' ', '\t']))).then_some((key, value))
}

/// Builds a [`Node`] from any self-describing format, counting nodes and depth.
struct NodeSeed<'b> {
    budget: &'b Cell<usize>,
    depth: usize,
}

impl NodeSeed<'_> {
    fn spend<E: de::Error>(&self) -> Result<(), E> {
        let left = self.budget.get().checked_sub(1).ok_or_else(|| E::custom("too many nodes"))?;
        self.budget.set(left);
        if self.depth > MAX_DEPTH {
            return Err(E::custom("too deep"));
        }
        Ok(())
    }

    fn child(&self) -> NodeSeed<'_> {
        NodeSeed { budget: self.budget, depth: self.depth + 1 }
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        self.spend()?;
        Ok(Node::Empty)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        self.spend()?;
        Ok(Node::Text(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        self.spend()?;
        Ok(Node::Text(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        self.spend()?;
        let text =
            if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { v.to_string() };
        Ok(Node::Text(text))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        self.spend()?;
        Ok(Node::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        self.spend()?;
        Ok(Node::Text(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        self.spend()?;
        Ok(Node::Empty)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        self.spend()?;
        self.child().deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        self.spend()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child())? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        self.spend()?;
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed { budget: self.budget })? {
            let value = map.next_value_seed(self.child())?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// A map key: a string, or a number or boolean (YAML) in its text form.
struct KeySeed<'b> {
    budget: &'b Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl KeySeed<'_> {
    fn spend<E: de::Error>(&self) -> Result<(), E> {
        let left = self.budget.get().checked_sub(1).ok_or_else(|| E::custom("too many nodes"))?;
        self.budget.set(left);
        Ok(())
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.spend()?;
        Ok(v.to_owned())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.spend()?;
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.spend()?;
        Ok(v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.spend()?;
        Ok(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Node, parse_yaml};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// What `yaml` skips: text without `:`, `?`, `-`, `[`, `{` or `!` never reads as a
        /// YAML mapping or sequence, whatever else of YAML it holds (anchors, aliases,
        /// quotes and their escapes, block scalars, comments, directives, documents).
        #[test]
        fn text_without_the_indicators_is_never_a_yaml_collection(
            text in "([ \t\n\r]|[a-z0-9]{1,4}|[&*|>#%@`,'\"\\=<+~.^$;/()]|\\\\u003a|\\\\x2d|\\\\u005b|…|：|－|\u{feff}|\u{85}|\u{2028}){0,40}",
        ) {
            let parsed = parse_yaml(&text);
            prop_assert!(!matches!(parsed, Some(Node::Map(_) | Node::List(_))), "{text:?}: {parsed:?}");
        }
    }

    #[test]
    fn the_indicators_make_collections_that_are_read() {
        for text in ["a: b", "- a", "[a]", "{a: b}", "? a", "!!map {a: b}", "&x a: *x"] {
            assert!(matches!(super::yaml(text), Some(Node::Map(_) | Node::List(_))), "{text}");
        }
    }
}
