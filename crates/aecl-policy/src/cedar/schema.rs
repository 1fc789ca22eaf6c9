//! The Cedar schema of a policy directory, generated from its action catalog: what the
//! validator checks every `.cedar` rule against, and the shape the arguments of each action
//! are converted to.
//!
//! - entity types `Agent` (principal) and `Run` (resource), without attributes: the entity
//!   store is empty, so `principal.x` can never hold;
//! - one action per catalog action, applying to `Agent` and `Run`;
//! - each action's context: `args`, a record typed from the action's JSON Schema (below),
//!   and the fields every call has (`risk`, `decision_so_far`, `effect`, `untrusted_args`,
//!   `run`).
//!
//! JSON Schema to Cedar: `string` → `String`, `boolean` → `Bool`, `integer` → `Long`,
//! `number` → `decimal` (every number of such an argument, `1200` included, so a rule
//! compares it with `.greaterThan(decimal("..."))` whatever the client sends), `array` with
//! `items` → `Set`, `object` with `properties` → a record whose attributes are required when
//! the schema's `required` lists them and `null` is not allowed. A type list with `null` is
//! the other type, optional. `enum`/`const` without `type` take the type of their values.
//! Anything else (`oneOf`, `$ref`, an object without `properties`) is left out of the
//! record: rules cannot read it, and the validator says so when one tries. An action
//! without a schema has an empty `args` record.

use std::collections::{BTreeMap, HashMap};

use aecl_core::policy::ActionSpec;
use serde_json::{Map, Value, json};

/// The Cedar type of an argument, and the conversion the call's JSON goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    String,
    Bool,
    Long,
    Decimal,
    Set(Box<Shape>),
    /// Attributes with their shape and whether they are required.
    Record(BTreeMap<String, (Shape, bool)>),
}

/// Record types nested deeper than this in an argument schema are left out: the schema is
/// the author's, but the emitted Cedar schema and the conversion stay bounded.
const MAX_SCHEMA_DEPTH: usize = 32;

impl Shape {
    /// The `args` record of an action with this JSON Schema (`None`: no schema).
    pub fn of_arguments(schema: Option<&Value>) -> Shape {
        match schema.and_then(|s| shape(s, 1)) {
            Some(record @ Shape::Record(_)) => record,
            _ => Shape::Record(BTreeMap::new()),
        }
    }

    /// The type in Cedar's JSON schema format.
    fn cedar_type(&self) -> Value {
        match self {
            Shape::String => json!({ "type": "String" }),
            Shape::Bool => json!({ "type": "Boolean" }),
            Shape::Long => json!({ "type": "Long" }),
            Shape::Decimal => json!({ "type": "Extension", "name": "decimal" }),
            Shape::Set(element) => json!({ "type": "Set", "element": element.cedar_type() }),
            Shape::Record(fields) => {
                let attributes: Map<String, Value> = fields
                    .iter()
                    .map(|(name, (shape, required))| {
                        let mut attribute = shape.cedar_type();
                        if let Some(fields) = attribute.as_object_mut() {
                            fields.insert("required".to_owned(), Value::Bool(*required));
                        }
                        (name.clone(), attribute)
                    })
                    .collect();
                json!({ "type": "Record", "attributes": attributes })
            }
        }
    }
}

/// The shape of one JSON Schema, or `None` when Cedar cannot type it.
fn shape(schema: &Value, depth: usize) -> Option<Shape> {
    let object = schema.as_object()?;
    if depth > MAX_SCHEMA_DEPTH {
        return None;
    }
    let kind = match object.get("type") {
        Some(Value::String(kind)) => Some(kind.as_str()),
        Some(Value::Array(kinds)) => {
            let mut named = kinds.iter().filter_map(Value::as_str).filter(|k| *k != "null");
            match (named.next(), named.next()) {
                (Some(only), None) => Some(only),
                _ => return None,
            }
        }
        Some(_) => return None,
        None => None,
    };
    let kind = match kind {
        Some(kind) => kind,
        None if object.contains_key("properties") => "object",
        None => return inferred(object),
    };
    match kind {
        "string" => Some(Shape::String),
        "boolean" => Some(Shape::Bool),
        "integer" => Some(Shape::Long),
        "number" => Some(Shape::Decimal),
        "array" => {
            let items = object.get("items")?;
            Some(Shape::Set(Box::new(shape(items, depth + 1)?)))
        }
        "object" => {
            let properties = object.get("properties")?.as_object()?;
            let required: Vec<&str> = object
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let fields = properties
                .iter()
                .filter_map(|(name, property)| {
                    let shape = shape(property, depth + 1)?;
                    let required = required.contains(&name.as_str()) && !allows_null(property);
                    Some((name.clone(), (shape, required)))
                })
                .collect();
            Some(Shape::Record(fields))
        }
        _ => None,
    }
}

/// The shape of an `enum` or `const` without a `type`: that of its values, when they
/// agree.
fn inferred(object: &Map<String, Value>) -> Option<Shape> {
    let values: Vec<&Value> = match (object.get("enum"), object.get("const")) {
        (Some(Value::Array(values)), _) => values.iter().filter(|v| !v.is_null()).collect(),
        (None, Some(value)) => vec![value],
        _ => return None,
    };
    let of = |value: &Value| match value {
        Value::String(_) => Some(Shape::String),
        Value::Bool(_) => Some(Shape::Bool),
        Value::Number(n) if n.is_i64() => Some(Shape::Long),
        _ => None,
    };
    let first = of(values.first()?)?;
    values.iter().all(|v| of(v).as_ref() == Some(&first)).then_some(first)
}

fn allows_null(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().any(|k| k == "null"),
        Some(Value::String(kind)) => kind == "null",
        _ => false,
    }
}

/// The schema of a catalog: its Cedar JSON form and the `args` shape of every action.
#[derive(Debug, Clone)]
pub struct CatalogSchema {
    pub json: Value,
    pub shapes: HashMap<String, Shape>,
}

/// The name of `context.run`'s type in the schema.
const RUN_FACTS: &str = "RunFacts";

/// The attributes of `context.run`, the same for every call.
fn run_facts() -> Shape {
    let fields = [
        ("goal", Shape::String),
        ("calls_allowed", Shape::Long),
        ("amount_spent", Shape::Decimal),
        ("read_untrusted", Shape::Bool),
        ("read_private", Shape::Bool),
        ("tenant", Shape::String),
        ("environment", Shape::String),
    ];
    Shape::Record(
        fields.into_iter().map(|(name, shape)| (name.to_owned(), (shape, true))).collect(),
    )
}

/// The context of a call of an action whose arguments have the shape `args`.
pub fn context(args: Shape) -> Shape {
    let fields = [
        ("args", args),
        ("risk", Shape::Decimal),
        ("decision_so_far", Shape::String),
        ("effect", Shape::String),
        ("untrusted_args", Shape::Set(Box::new(Shape::String))),
        ("run", run_facts()),
    ];
    Shape::Record(
        fields.into_iter().map(|(name, shape)| (name.to_owned(), (shape, true))).collect(),
    )
}

impl CatalogSchema {
    pub fn of(actions: &HashMap<String, ActionSpec>) -> CatalogSchema {
        let mut names: Vec<&String> = actions.keys().collect();
        names.sort();
        let mut shapes = HashMap::with_capacity(actions.len());
        let mut declared = Map::new();
        for name in names {
            let Some(action) = actions.get(name) else { continue };
            let args = Shape::of_arguments(action.schema.as_ref().map(|s| &s.source));
            // `run` is the same record for every action: one common type in the schema.
            let mut context_type = context(args.clone()).cedar_type();
            if let Some(run) = context_type.pointer_mut("/attributes/run") {
                *run = json!({ "type": RUN_FACTS, "required": true });
            }
            declared.insert(
                name.clone(),
                json!({
                    "appliesTo": {
                        "principalTypes": ["Agent"],
                        "resourceTypes": ["Run"],
                        "context": context_type,
                    }
                }),
            );
            shapes.insert(name.clone(), args);
        }
        let json = json!({
            "": {
                "commonTypes": { (RUN_FACTS): run_facts().cedar_type() },
                "entityTypes": { "Agent": {}, "Run": {} },
                "actions": declared,
            }
        });
        CatalogSchema { json, shapes }
    }

    /// The context record of a call of `action`; `None` for an action outside the catalog.
    pub fn context_of(&self, action: &str) -> Option<Shape> {
        self.shapes.get(action).map(|args| context(args.clone()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Shape;

    fn record(schema: serde_json::Value) -> Shape {
        Shape::of_arguments(Some(&schema))
    }

    #[test]
    fn json_schema_types_become_cedar_types() {
        let shape = record(json!({
            "type": "object",
            "required": ["amount", "currency", "note"],
            "properties": {
                "amount": { "type": "number" },
                "count": { "type": "integer" },
                "currency": { "type": "string", "enum": ["EUR"] },
                "urgent": { "type": "boolean" },
                "tags": { "type": "array", "items": { "type": "string" } },
                "note": { "type": ["string", "null"] },
                "kind": { "enum": ["a", "b"] },
                "any": {},
                "either": { "oneOf": [{ "type": "string" }, { "type": "integer" }] },
                "free": { "type": "object" },
                "payee": { "type": "object", "properties": { "iban": { "type": "string" } } }
            }
        }));
        let Shape::Record(fields) = shape else { panic!("a record") };
        let field = |name: &str| fields.get(name).cloned();
        assert_eq!(field("amount"), Some((Shape::Decimal, true)));
        assert_eq!(field("count"), Some((Shape::Long, false)));
        assert_eq!(field("currency"), Some((Shape::String, true)));
        assert_eq!(field("urgent"), Some((Shape::Bool, false)));
        assert_eq!(field("tags"), Some((Shape::Set(Box::new(Shape::String)), false)));
        // Required but nullable: a null is left out, so the attribute is optional.
        assert_eq!(field("note"), Some((Shape::String, false)));
        assert_eq!(field("kind"), Some((Shape::String, false)));
        assert_eq!(field("any"), None);
        assert_eq!(field("either"), None);
        assert_eq!(field("free"), None);
        let iban = [("iban".to_owned(), (Shape::String, false))].into_iter().collect();
        assert_eq!(field("payee"), Some((Shape::Record(iban), false)));
    }

    #[test]
    fn no_schema_or_a_schema_that_is_not_an_object_is_an_empty_record() {
        assert_eq!(Shape::of_arguments(None), Shape::Record(Default::default()));
        assert_eq!(record(json!({ "type": "string" })), Shape::Record(Default::default()));
    }

    #[test]
    fn a_schema_nested_past_the_limit_is_cut_off() {
        let mut schema = json!({ "type": "string" });
        for _ in 0..40 {
            schema = json!({ "type": "object", "properties": { "a": schema } });
        }
        let mut shape = record(schema);
        let mut depth = 0;
        while let Shape::Record(fields) = shape {
            match fields.get("a") {
                Some((inner, _)) => shape = inner.clone(),
                None => break,
            }
            depth += 1;
        }
        assert!(depth < 33, "{depth}");
    }
}
