//! `aecl mcp catalog`: a starter action catalog (TOML) from a server's `tools/list`, for a
//! person to review before any agent may call the tools.
//!
//! What the annotations claim is only a hint, so the starter takes their worst case where
//! one is missing (MCP's own defaults: `readOnlyHint` false, `destructiveHint` true,
//! `openWorldHint` true) or where two contradict each other, and never anything looser: a
//! tool is `read` only when it says it is read-only and does not also say it is
//! destructive, and every other tool is an irreversible `write`; either is `outward` when it
//! reaches an open world (a search or a fetch carries its arguments out as a post does).
//! Schemas are copied as the server gave them.
//!
//! INVARIANT: every output starts `untrusted` with data class `internal`, whatever the
//! server claims. A server saying `openWorldHint: false` still returns what others wrote
//! (a file, a row, a ticket), so a claim never makes its output trusted; where a claim
//! would have loosened it, a TOML comment says so for the reviewer, who alone may loosen.

use rmcp::model::Tool;
use serde_json::Value;

/// The catalog of `tools`, their actions named `prefix` + tool name, as TOML text.
pub fn starter_catalog(tools: &[Tool], prefix: &str, source: &str) -> Result<String, String> {
    let mut body = String::new();
    for tool in tools {
        let annotations = tool.annotations.clone().unwrap_or_default();
        let read_only =
            annotations.read_only_hint == Some(true) && annotations.destructive_hint != Some(true);
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
        }
        if open_world {
            action.insert("outward".into(), true.into());
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
        output.insert("trust".into(), "untrusted".into());
        // `internal` rather than `public`: a closed-world tool's output may well be the
        // company's own data, and `public` would let it flow anywhere.
        output.insert("data_class".into(), "internal".into());
        action.insert("output".into(), output.into());
        let name = format!("{prefix}{}", tool.name);
        // One table per action, so that its comment sits right above it.
        let mut one = toml::Table::new();
        one.insert(name.clone(), action.into());
        let mut root = toml::Table::new();
        root.insert("actions".into(), one.into());
        let text = toml::to_string(&root).map_err(|e| format!("writing the catalog: {e}"))?;
        if !open_world {
            // The name is the server's: a line break in it would end the comment and
            // write TOML of the server's choosing, so control characters are left out.
            let shown: String = name.chars().filter(|c| !c.is_control()).collect();
            body.push_str(&format!(
                "# `{shown}`: the server claims `openWorldHint: false`; its output is still\n\
                 # untrusted (a closed world holds what others wrote). Mark it trusted only if\n\
                 # no one but you can write what it returns.\n"
            ));
        }
        body.push_str(&text);
        body.push('\n');
    }
    Ok(format!(
        "# A starter catalog written by `aecl mcp catalog` from the tools of `{source}`.\n\
         # Review every action before allowing it in a manifest: annotations are hints from\n\
         # the server, taken at their worst case where they are missing or contradict each\n\
         # other (read-only only when `readOnlyHint` is true and `destructiveHint` is not).\n\
         # Every output starts untrusted, whatever the server claims.\n\n{body}"
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rmcp::model::ToolAnnotations;
    use serde_json::json;

    use super::*;

    fn tool(name: &str, annotations: Value) -> Tool {
        let schema = json!({"type": "object", "properties": {"path": {"type": "string"}}});
        let Value::Object(schema) = schema else { unreachable!() };
        let mut tool = Tool::new(name.to_owned(), "a tool", Arc::new(schema));
        let annotations: ToolAnnotations = serde_json::from_value(annotations).expect("hints");
        tool.annotations = Some(annotations);
        tool
    }

    /// Every claim a server can make, alone and together: the output is untrusted all the
    /// same, and a comment stands above each action whose claim would have loosened it.
    #[test]
    fn no_claim_makes_an_output_trusted() {
        let claims = [
            json!({}),
            json!({"openWorldHint": false}),
            json!({"readOnlyHint": true, "openWorldHint": false}),
            json!({"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true,
                   "openWorldHint": false, "title": "trusted"}),
            json!({"openWorldHint": true}),
        ];
        let tools: Vec<Tool> =
            claims.iter().enumerate().map(|(i, c)| tool(&format!("t{i}"), c.clone())).collect();
        let text = starter_catalog(&tools, "p__", "test").expect("a catalog");
        let parsed: toml::Table = text.parse().expect("the catalog is TOML");
        let actions = parsed["actions"].as_table().expect("actions");
        assert_eq!(actions.len(), claims.len(), "{text}");
        // A name that would break out of its comment writes no TOML of its own.
        let sneaky = "x\n[actions.p__t0.output]\ntrust = \"trusted\"\n#";
        let sneaky = tool(sneaky, json!({"openWorldHint": false}));
        let text = starter_catalog(&[tools[0].clone(), sneaky], "p__", "test").expect("a catalog");
        let parsed: toml::Table = text.parse().expect("still TOML");
        assert_eq!(parsed["actions"]["p__t0"]["output"]["trust"].as_str(), Some("untrusted"));
        assert_eq!(parsed["actions"].as_table().map(toml::Table::len), Some(2), "{text}");
        let text = starter_catalog(&tools, "p__", "test").expect("a catalog");
        for (i, claim) in claims.iter().enumerate() {
            let action = &actions[&format!("p__t{i}")];
            assert_eq!(action["output"]["trust"].as_str(), Some("untrusted"), "{claim}: {text}");
            assert_ne!(action["output"]["data_class"].as_str(), Some("public"), "{claim}");
            let header = format!("[actions.p__t{i}]");
            let before = &text[..text.find(&header).expect("the action's table")];
            let commented = before
                .lines()
                .rev()
                .take_while(|l| l.starts_with('#'))
                .any(|l| l.contains(&format!("`p__t{i}`")));
            let closed = claim["openWorldHint"] == json!(false);
            assert_eq!(commented, closed, "{claim}: {text}");
        }
    }

    /// Claims read at their worst: read-only beside destructive is a write; an open world
    /// makes a read outward as a write (the red team's `post_to_url`, round 19).
    #[test]
    fn contradicting_claims_are_read_at_their_worst() {
        let cases = [
            (
                json!({"readOnlyHint": true, "destructiveHint": true, "openWorldHint": true}),
                "write",
                true,
            ),
            (
                json!({"readOnlyHint": true, "destructiveHint": true, "openWorldHint": false}),
                "write",
                false,
            ),
            (json!({"readOnlyHint": true}), "read", true),
            (json!({"readOnlyHint": true, "openWorldHint": false}), "read", false),
            (
                json!({"readOnlyHint": true, "destructiveHint": false, "openWorldHint": false}),
                "read",
                false,
            ),
            (json!({"openWorldHint": false}), "write", false),
        ];
        for (claim, effect, outward) in cases {
            let text = starter_catalog(&[tool("t", claim.clone())], "", "test").expect("a catalog");
            let parsed: toml::Table = text.parse().expect("the catalog is TOML");
            let action = &parsed["actions"]["t"];
            assert_eq!(action["effect"].as_str(), Some(effect), "{claim}: {text}");
            let marked = action.get("outward").and_then(toml::Value::as_bool) == Some(true);
            assert_eq!(marked, outward, "{claim}: {text}");
        }
    }
}
