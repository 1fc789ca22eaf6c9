//! The JSON Schemas of the files users write, derived from the serde types with schemars.
//! `cargo xtask codegen` writes them to `docs/schema/`; a test keeps the committed ones fresh.
//!
//! Each schema carries an `$id` (`urn:aecl:schema:<name>`): a stable name for editors and
//! validators that cache schemas, which claims no address to fetch it from. Editors find
//! the file itself through a `#:schema PATH` comment at the top of a TOML file (taplo and
//! VS Code's Even Better TOML), as `docs/policy.md` shows.

use schemars::{Schema, schema_for};

use crate::format::{CatalogFile, ManifestFile, SettingsFile};
use crate::policy_test::TestFile;
use crate::trace::TraceEvent;

/// The `$id` of the schema written to `docs/schema/<file>`.
pub fn schema_id(file: &str) -> String {
    format!("urn:aecl:schema:{}", file.trim_end_matches(".schema.json"))
}

/// Each schema file: its name under `docs/schema/` and its text.
pub fn generated() -> Vec<(&'static str, String)> {
    let schemas = [
        ("manifest.schema.json", schema_for!(ManifestFile)),
        ("catalog.schema.json", schema_for!(CatalogFile)),
        ("settings.schema.json", schema_for!(SettingsFile)),
        ("trace-event.schema.json", schema_for!(TraceEvent)),
        ("policy-test.schema.json", schema_for!(TestFile)),
    ];
    schemas.into_iter().map(|(name, schema)| (name, text(name, schema))).collect()
}

/// The schema as committed: `$schema`, then `$id`, then the rest.
fn text(name: &str, schema: Schema) -> String {
    let mut ordered = serde_json::Map::new();
    // Through its `Serialize`, which writes the keys in the order schemars keeps.
    let fields = match serde_json::to_value(&schema) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    if let Some(dialect) = fields.get("$schema") {
        ordered.insert("$schema".to_owned(), dialect.clone());
    }
    ordered.insert("$id".to_owned(), serde_json::Value::String(schema_id(name)));
    for (key, value) in fields {
        if key != "$schema" {
            ordered.insert(key, value);
        }
    }
    serde_json::to_string_pretty(&ordered).unwrap_or_default() + "\n"
}
