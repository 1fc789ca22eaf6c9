//! Test policies: the agent `worker`'s manifest and a catalog, loaded as `aecl check` would
//! load them, so that a test's policy is refused exactly as a user's would be.

use std::sync::Arc;

use aecl_core::Policy;

/// A read and a write, both run by connector `test`: `get_record` (no effect on the world)
/// and `put_record` (reversible). Tests of what is synced when add to it.
pub const READ_AND_WRITE: &str = r#"
[actions.get_record]
effect = "read"
connector = "test"
output = { trust = "trusted", data_class = "public" }

[actions.put_record]
effect = "write"
reversibility = "reversible"
compensation = "put_record"
connector = "test"
output = { trust = "trusted", data_class = "public" }
"#;

/// `manifest` as `agents/worker.toml` and `catalog` as `catalog.toml`, loaded; a policy that
/// does not load fails the test with its errors.
pub fn load(manifest: &str, catalog: &str) -> Arc<Policy> {
    let files = [
        aecl_policy::SourceFile { path: "agents/worker.toml".into(), text: manifest.into() },
        aecl_policy::SourceFile { path: "catalog.toml".into(), text: catalog.into() },
    ];
    match aecl_policy::load(&files) {
        Ok(loaded) => Arc::new(loaded.policy),
        Err(errors) => panic!("the test policy does not load: {errors:?}"),
    }
}
