//! The JSON Schemas of the wire types, derived from the serde types with schemars: the
//! files under `docs/schema/api/` (written by `cargo xtask codegen`, kept fresh by a test)
//! and the component schemas of the server's OpenAPI document.
//!
//! Requests are described as serde reads them (a field with a default is optional) and
//! answers as serde writes them (a field skipped when empty is optional). A type used on
//! both sides whose two descriptions differ (the call event: a request body, and inside a
//! run's events) keeps its name for the answer side; the request side's is suffixed
//! `Input`.

use std::collections::BTreeMap;

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

use crate::approval::{Approval, ApprovalAnswer, Approved};
use crate::audit::{AuditCheckpoint, AuditRecords};
use crate::call::{CallAnswer, CallRequest, DecisionLine, Effect};
use crate::effects::{ReconcileAnswer, RollbackAnswer};
use crate::error::ErrorAnswer;
use crate::grant::{NewGrant, StandingGrant};
use crate::health::{Health, Jwks};
use crate::hook::{HookInput, HookReply};
use crate::run::{EventRecorded, EventRequest, RunView};
use crate::token::{RevokeRequest, Revoked};
use crate::verdict::Verdict;

/// Which way a type travels, which decides how optional fields are described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A body the server reads.
    Request,
    /// A body the server writes.
    Answer,
}

impl Direction {
    fn settings(self) -> SchemaSettings {
        let settings = SchemaSettings::draft2020_12();
        match self {
            Direction::Request => settings.for_deserialize(),
            Direction::Answer => settings.for_serialize(),
        }
    }
}

/// One committed schema: its file under `docs/schema/api/`, and the type's schema.
#[derive(Debug, Clone, Copy)]
pub struct WireType {
    pub file: &'static str,
    pub direction: Direction,
    root: fn(SchemaGenerator) -> Schema,
}

fn root<T: JsonSchema>(generator: SchemaGenerator) -> Schema {
    generator.into_root_schema_for::<T>()
}

const fn request<T: JsonSchema>(file: &'static str) -> WireType {
    WireType { file, direction: Direction::Request, root: root::<T> }
}

const fn answer<T: JsonSchema>(file: &'static str) -> WireType {
    WireType { file, direction: Direction::Answer, root: root::<T> }
}

/// Every wire type with a committed schema.
pub const WIRE_TYPES: &[WireType] = &[
    request::<CallRequest>("call-request.schema.json"),
    answer::<CallAnswer<'static>>("call-answer.schema.json"),
    answer::<DecisionLine<'static>>("decision-line.schema.json"),
    answer::<Verdict<'static>>("verdict.schema.json"),
    answer::<Effect>("effect.schema.json"),
    answer::<Approval>("approval.schema.json"),
    request::<ApprovalAnswer>("approval-answer.schema.json"),
    answer::<Approved>("approved.schema.json"),
    answer::<RunView>("run.schema.json"),
    request::<EventRequest>("event-request.schema.json"),
    answer::<EventRecorded>("event-recorded.schema.json"),
    answer::<AuditRecords>("audit-records.schema.json"),
    answer::<AuditCheckpoint>("audit-checkpoint.schema.json"),
    answer::<Health>("health.schema.json"),
    answer::<Jwks>("jwks.schema.json"),
    request::<NewGrant>("new-grant.schema.json"),
    answer::<StandingGrant>("standing-grant.schema.json"),
    answer::<RollbackAnswer>("rollback-answer.schema.json"),
    answer::<ReconcileAnswer>("reconcile-answer.schema.json"),
    request::<RevokeRequest>("revoke-request.schema.json"),
    answer::<Revoked>("revoked.schema.json"),
    request::<HookInput>("hook-input.schema.json"),
    answer::<HookReply>("hook-reply.schema.json"),
    answer::<ErrorAnswer>("error.schema.json"),
];

/// The `$id` of the schema written to `docs/schema/api/<file>`.
pub fn schema_id(file: &str) -> String {
    format!("urn:aecl:schema:api:{}", file.trim_end_matches(".schema.json"))
}

/// Each schema file: its name under `docs/schema/api/` and its text.
pub fn generated() -> Vec<(&'static str, String)> {
    WIRE_TYPES
        .iter()
        .map(|t| (t.file, text(t.file, (t.root)(t.direction.settings().into_generator()))))
        .collect()
}

/// The schema as committed: `$schema`, then `$id`, then the rest.
fn text(file: &str, schema: Schema) -> String {
    let mut ordered = Map::new();
    let fields = match schema.to_value() {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    if let Some(dialect) = fields.get("$schema") {
        ordered.insert("$schema".to_owned(), dialect.clone());
    }
    ordered.insert("$id".to_owned(), Value::String(schema_id(file)));
    for (key, value) in fields {
        if key != "$schema" {
            ordered.insert(key, value);
        }
    }
    serde_json::to_string_pretty(&ordered).unwrap_or_default() + "\n"
}

/// Where the OpenAPI document keeps its schemas.
const COMPONENTS: &str = "#/components/schemas/";

/// The schemas of an OpenAPI document's bodies, gathered while its paths are written:
/// [`Components::request`] and [`Components::answer`] give a body's schema (a `$ref` to
/// a component for a named type), [`Components::finish`] the components themselves.
#[derive(Debug)]
pub struct Components {
    requests: SchemaGenerator,
    answers: SchemaGenerator,
}

/// A body's schema, to be resolved by [`Finished::resolve`] once every body is known.
#[derive(Debug, Clone)]
pub struct BodySchema {
    direction: Direction,
    schema: Value,
}

/// Every component schema, and the names given to request-side schemas that differ from
/// the answer-side schema of the same type.
#[derive(Debug, Clone)]
pub struct Finished {
    pub schemas: Map<String, Value>,
    renamed: BTreeMap<String, String>,
}

impl Default for Components {
    fn default() -> Self {
        let generator = |direction: Direction| {
            let mut settings = direction.settings();
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
            settings.into_generator()
        };
        Components {
            requests: generator(Direction::Request),
            answers: generator(Direction::Answer),
        }
    }
}

impl BodySchema {
    /// An answer that is some JSON object (the OpenAPI document itself).
    pub fn any_object() -> BodySchema {
        let schema = serde_json::json!({ "type": "object" });
        BodySchema { direction: Direction::Answer, schema }
    }
}

impl Components {
    /// The schema of a request body of type `T`.
    pub fn request<T: JsonSchema>(&mut self) -> BodySchema {
        let schema = self.requests.subschema_for::<T>().to_value();
        BodySchema { direction: Direction::Request, schema }
    }

    /// The schema of an answer body of type `T`.
    pub fn answer<T: JsonSchema>(&mut self) -> BodySchema {
        let schema = self.answers.subschema_for::<T>().to_value();
        BodySchema { direction: Direction::Answer, schema }
    }

    /// Every component: the answers' under their names, the requests' too unless the name
    /// is taken by a different answer-side schema, then as `<name>Input`.
    pub fn finish(mut self) -> Finished {
        let mut schemas = self.answers.take_definitions(true);
        let requests = self.requests.take_definitions(true);
        let renamed: BTreeMap<String, String> = requests
            .iter()
            .filter(|(name, schema)| schemas.get(*name).is_some_and(|taken| taken != *schema))
            .map(|(name, _)| (name.clone(), format!("{name}Input")))
            .collect();
        for (name, mut schema) in requests {
            rename_refs(&mut schema, &renamed);
            let name = renamed.get(&name).cloned().unwrap_or(name);
            schemas.insert(name, schema);
        }
        Finished { schemas, renamed }
    }
}

impl Finished {
    /// The schema of a body, with its references to renamed request schemas followed.
    pub fn resolve(&self, body: &BodySchema) -> Value {
        let mut schema = body.schema.clone();
        if body.direction == Direction::Request {
            rename_refs(&mut schema, &self.renamed);
        }
        schema
    }
}

/// Points every `$ref` to a component in `renamed` at its new name.
fn rename_refs(value: &mut Value, renamed: &BTreeMap<String, String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if key == "$ref"
                    && let Value::String(target) = field
                    && let Some(new) = target.strip_prefix(COMPONENTS).and_then(|n| renamed.get(n))
                {
                    *target = format!("{COMPONENTS}{new}");
                } else {
                    rename_refs(field, renamed);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rename_refs(item, renamed)),
        _ => {}
    }
}
