//! Tests of the gateway's pure parts: which tools are listed, and the starter catalog
//! (written from annotations at their worst case, and loadable by the policy loader); and
//! in [`wire`], the gateway end to end (the `aecl` binary) at the protocol's edges.

mod wire;

use aecl_mcp::catalog::starter_catalog;
use aecl_mcp::listing::{action_of, callable};
use aecl_policy::{SourceFile, load};
use rmcp::model::{Tool, ToolAnnotations};
use serde_json::json;

const CATALOG: &str = r#"
[actions.fs__read]
effect = "read"
[actions.fs__write]
effect = "write"
reversibility = "irreversible"
[actions.fs__delete]
effect = "delete"
reversibility = "irreversible"
[actions.fs__push]
effect = "read"
"#;

fn policy(manifest: &str) -> aecl_core::policy::Policy {
    let files = vec![
        SourceFile { path: "catalog.toml".into(), text: CATALOG.to_owned() },
        SourceFile { path: "agent.toml".into(), text: manifest.to_owned() },
    ];
    load(&files).expect("the test policy loads").policy
}

fn tool(name: &str, annotations: Option<ToolAnnotations>) -> Tool {
    let schema = json!({"type": "object", "properties": {"path": {"type": "string"}}});
    let mut tool = Tool::new(name.to_owned(), "a tool", schema.as_object().unwrap().clone());
    tool.annotations = annotations;
    tool
}

#[test]
fn listed_means_callable() {
    let policy = policy(
        r#"agent_id = "a"
allowed_actions = ["fs__read", "fs__write", "fs__push"]
blocked_actions = ["fs__write"]
[context_rules]
fs__push = "block"
"#,
    );
    let listed = |tool: &str| callable(&policy, "a", &action_of("fs__", tool));
    assert!(listed("read"));
    assert!(!listed("write"), "blocked actions are not listed");
    assert!(!listed("delete"), "actions the manifest does not allow are not listed");
    assert!(!listed("push"), "a blocking context rule hides the tool");
    assert!(!listed("unknown"), "actions missing from the catalog are not listed");
    assert!(!callable(&policy, "someone_else", "fs__read"), "unknown agents see nothing");
}

#[test]
fn monitor_mode_lists_everything() {
    let policy = policy("agent_id = \"a\"\nmode = \"monitor\"\nallowed_actions = []\n");
    assert!(callable(&policy, "a", "anything"));
}

#[test]
fn the_starter_catalog_takes_annotations_at_their_worst_case() {
    let read_only = ToolAnnotations::new().read_only(true);
    let closed = ToolAnnotations::new().read_only(true).open_world(false);
    // The server claims nothing: a destructive, open-world write.
    let tools = [tool("get", Some(closed)), tool("fetch", Some(read_only)), tool("send", None)];
    let text = starter_catalog(&tools, "x__", "test-server").unwrap();
    let parsed: toml::Table = text.parse().unwrap();
    let actions = parsed["actions"].as_table().unwrap();
    assert_eq!(actions["x__get"]["effect"].as_str(), Some("read"));
    // A server's claim never makes its output trusted; the catalog says where it would have.
    assert_eq!(actions["x__get"]["output"]["trust"].as_str(), Some("untrusted"));
    assert!(text.contains("`x__get`: the server claims `openWorldHint: false`"), "{text}");
    assert_eq!(actions["x__fetch"]["effect"].as_str(), Some("read"));
    assert_eq!(actions["x__fetch"]["output"]["trust"].as_str(), Some("untrusted"));
    assert_eq!(actions["x__send"]["effect"].as_str(), Some("write"));
    assert_eq!(actions["x__send"]["reversibility"].as_str(), Some("irreversible"));
    assert_eq!(actions["x__send"]["outward"].as_bool(), Some(true));
    assert_eq!(actions["x__send"]["output"]["trust"].as_str(), Some("untrusted"));
    assert_eq!(actions["x__send"]["schema"]["properties"]["path"]["type"].as_str(), Some("string"));
    // And it loads as a catalog.
    let files = vec![
        SourceFile { path: "catalog.toml".into(), text },
        SourceFile {
            path: "agent.toml".into(),
            text: "agent_id = \"a\"\nallowed_actions = [\"x__get\"]\n".into(),
        },
    ];
    load(&files).expect("the starter catalog loads");
}

/// Annotations only tighten: an open-world claim makes a trusted tool's output (and its
/// trusted fields) untrusted; a closed-world claim, no claim, or a tool missing from the
/// catalog changes nothing.
#[test]
fn annotations_make_trusted_output_untrusted_and_never_the_reverse() {
    use aecl_core::policy::Trust;
    use aecl_mcp::tighten::tightened;

    let catalog = r#"
[actions.web__fetch]
effect = "read"
[actions.web__fetch.output]
trust = "trusted"
trusted_fields = ["title"]
[actions.web__local]
effect = "read"
[actions.web__local.output]
trust = "trusted"
[actions.web__silent]
effect = "read"
"#;
    let files = vec![
        SourceFile { path: "catalog.toml".into(), text: catalog.to_owned() },
        SourceFile {
            path: "agent.toml".into(),
            text: "agent_id = \"a\"\nallowed_actions = [\"web__fetch\"]\n".to_owned(),
        },
    ];
    let policy = load(&files).expect("the test policy loads").policy;
    let open = ToolAnnotations::new().open_world(true);
    let closed = ToolAnnotations::new().open_world(false);

    let tighter = tightened(&policy, "web__", &[tool("fetch", Some(open.clone()))])
        .expect("an open-world tool catalogued as trusted is tightened");
    let fetch = &tighter.actions["web__fetch"].output;
    assert_eq!(fetch.trust, Trust::Untrusted);
    assert!(fetch.fields.iter().all(|(_, trust)| *trust == Trust::Untrusted), "{fetch:?}");
    assert_eq!(tighter.actions["web__local"].output.trust, Trust::Trusted);
    assert_eq!(tighter.revision, policy.revision);

    // Nothing to tighten: a closed world, no claim, output already untrusted, a tool the
    // catalog does not know.
    for tools in [
        vec![tool("local", Some(closed.clone()))],
        vec![tool("local", None)],
        vec![tool("silent", Some(open.clone()))],
        vec![tool("unknown", Some(open))],
        vec![tool("silent", Some(closed))],
    ] {
        assert!(tightened(&policy, "web__", &tools).is_none(), "{tools:?}");
    }
    assert_eq!(policy.actions["web__silent"].output.trust, Trust::Untrusted);
}
