//! `cargo xtask codegen`: the JSON Schemas of the policy files and the trace format, written
//! to `docs/schema/`. A tidy test fails when the committed files are stale.

use std::fs;
use std::path::{Path, PathBuf};

use aecl_policy::format::{CatalogFile, ManifestFile, SettingsFile};
use aecl_policy::trace::TraceEvent;
use anyhow::{Context, Result};
use schemars::schema_for;

/// Each generated file: its path under the workspace root and its text.
pub fn generated() -> Vec<(PathBuf, String)> {
    let schemas = [
        ("manifest.schema.json", schema_for!(ManifestFile)),
        ("catalog.schema.json", schema_for!(CatalogFile)),
        ("settings.schema.json", schema_for!(SettingsFile)),
        ("trace-event.schema.json", schema_for!(TraceEvent)),
    ];
    schemas
        .into_iter()
        .map(|(name, schema)| {
            let text = serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n";
            (Path::new("docs/schema").join(name), text)
        })
        .collect()
}

pub fn write(root: &Path) -> Result<()> {
    for (path, text) in generated() {
        let full = root.join(&path);
        if let Some(dir) = full.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&full, text).with_context(|| format!("writing `{}`", full.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_schemas_are_committed_and_fresh() {
        let root = crate::workspace_root();
        for (path, text) in generated() {
            let committed = fs::read_to_string(root.join(&path)).unwrap_or_default();
            assert!(committed == text, "`{}` is stale: run `cargo xtask codegen`", path.display());
        }
    }
}
