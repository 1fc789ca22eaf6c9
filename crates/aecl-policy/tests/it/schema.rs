//! The committed JSON Schemas in `docs/schema/` match the format types, and each names
//! itself with an `$id`.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

#[test]
fn committed_schemas_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema");
    for (name, text) in aecl_policy::schema::generated() {
        let committed = fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(committed == text, "docs/schema/{name} is stale: run `cargo xtask codegen`");
    }
}

#[test]
fn every_schema_has_its_own_id() {
    let mut ids = HashSet::new();
    for (name, text) in aecl_policy::schema::generated() {
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        let id = schema["$id"].as_str().unwrap_or_else(|| panic!("{name} has no `$id`"));
        assert_eq!(id, aecl_policy::schema::schema_id(name));
        assert!(id.starts_with("urn:aecl:schema:"), "{id}");
        assert!(ids.insert(id.to_owned()), "{name}: `$id` {id} is used twice");
        let dialect = schema["$schema"].as_str().unwrap_or_default();
        assert!(dialect.contains("json-schema.org"), "{name}: `$schema` is {dialect:?}");
    }
}
