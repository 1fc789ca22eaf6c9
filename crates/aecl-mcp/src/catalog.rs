//! `aecl mcp catalog`: a starter action catalog (TOML) from a server's `tools/list`, for a
//! person to review before any agent may call the tools.
//!
//! What the annotations claim is only a hint, so the starter takes their worst case where
//! one is missing (MCP's own defaults: `readOnlyHint` false, `destructiveHint` true,
//! `openWorldHint` true) and never anything looser: a tool is `read` only when it says it is
//! read-only, its output `trusted` only when it says it reaches no open world, and every
//! other tool is an irreversible `write` (outward when it reaches an open world). Schemas
//! are copied as the server gave them.

use rmcp::model::Tool;
use serde_json::Value;

/// The catalog of `tools`, their actions named `prefix` + tool name, as TOML text.
pub fn starter_catalog(tools: &[Tool], prefix: &str, source: &str) -> Result<String, String> {
    let mut actions = toml::Table::new();
    for tool in tools {
        let annotations = tool.annotations.clone().unwrap_or_default();
        let read_only = annotations.read_only_hint == Some(true);
        let open_world = annotations.open_world_hint != Some(false);
        let mut action = toml::Table::new();
        if let Some(description) = &tool.description {
            action.insert("description".into(), description.to_string().into());
        }
        if read_only {
            action.insert("effect".into(), "read".into());
        } else {
            action.insert("effect".into(), "write".into());
            action.insert("reversibility".into(), "irreversible".into());
            if open_world {
                action.insert("outward".into(), true.into());
            }
        }
        let schema = Value::Object((*tool.input_schema).clone());
        match to_toml(&schema) {
            Some(toml::Value::Table(schema)) => {
                action.insert("schema".into(), toml::Value::Table(schema));
            }
            // A schema TOML cannot hold (a `null` somewhere) is left for the reviewer.
            _ => {
                tracing::warn!(tool = %tool.name, "input schema not expressible in TOML; left out")
            }
        }
        let mut output = toml::Table::new();
        output.insert("trust".into(), if open_world { "untrusted" } else { "trusted" }.into());
        output.insert("data_class".into(), if open_world { "public" } else { "internal" }.into());
        action.insert("output".into(), output.into());
        actions.insert(format!("{prefix}{}", tool.name), action.into());
    }
    let mut root = toml::Table::new();
    root.insert("actions".into(), actions.into());
    let body = toml::to_string(&root).map_err(|e| format!("writing the catalog: {e}"))?;
    Ok(format!(
        "# A starter catalog written by `aecl mcp catalog` from the tools of `{source}`.\n\
         # Review every action before allowing it in a manifest: annotations are hints from\n\
         # the server, taken at their worst case where they are missing (read-only only when\n\
         # `readOnlyHint` is true; trusted output only when `openWorldHint` is false).\n\n{body}"
    ))
}

/// JSON as TOML; `None` when it holds a `null` (TOML has none).
fn to_toml(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => {
            toml::Value::Array(items.iter().map(to_toml).collect::<Option<_>>()?)
        }
        Value::Object(map) => toml::Value::Table(
            map.iter().map(|(k, v)| Some((k.clone(), to_toml(v)?))).collect::<Option<_>>()?,
        ),
    })
}
