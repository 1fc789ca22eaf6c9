//! The JSON Schemas of the files users write, derived from the serde types with schemars.
//! `cargo xtask codegen` writes them to `docs/schema/`; a test keeps the committed ones fresh.

use schemars::schema_for;

use crate::format::{CatalogFile, ManifestFile, SettingsFile};
use crate::trace::TraceEvent;

/// Each schema file: its name under `docs/schema/` and its text.
pub fn generated() -> Vec<(&'static str, String)> {
    let schemas = [
        ("manifest.schema.json", schema_for!(ManifestFile)),
        ("catalog.schema.json", schema_for!(CatalogFile)),
        ("settings.schema.json", schema_for!(SettingsFile)),
        ("trace-event.schema.json", schema_for!(TraceEvent)),
    ];
    schemas
        .into_iter()
        .map(|(name, schema)| {
            (name, serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n")
        })
        .collect()
}
