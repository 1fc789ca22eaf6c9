//! The committed JSON Schemas in `docs/schema/` match the format types.

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
