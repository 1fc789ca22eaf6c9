//! The committed schemas under `docs/schema/api/` are the generated ones; regenerate them
//! with `cargo xtask codegen`.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use aecl_protocol::schema::{generated, schema_id};

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema/api")
}

#[test]
fn committed_api_schemas_are_fresh() {
    for (name, text) in generated() {
        let committed = fs::read_to_string(dir().join(name)).unwrap_or_default();
        assert!(committed == text, "docs/schema/api/{name} is stale: run `cargo xtask codegen`");
    }
}

#[test]
fn no_committed_api_schema_is_left_over() {
    let names: HashSet<&str> = generated().iter().map(|(name, _)| *name).collect();
    for entry in fs::read_dir(dir()).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            names.contains(file.as_str()),
            "docs/schema/api/{file} is no wire type's: remove it"
        );
    }
}

#[test]
fn every_api_schema_has_its_own_id_and_compiles() {
    let mut ids = HashSet::new();
    for (name, text) in generated() {
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        let id = schema["$id"].as_str().unwrap_or_else(|| panic!("{name} has no `$id`"));
        assert_eq!(id, schema_id(name));
        assert!(ids.insert(id.to_owned()), "{name}: `$id` {id} is used twice");
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
