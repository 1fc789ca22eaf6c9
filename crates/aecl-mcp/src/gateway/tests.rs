//! The listing a call's definition is checked against belongs to the connections, not to a
//! request's handler: a sessionless client gets a new handler per request over its agent's
//! kept connections, and listing every server again before each of its calls cost an
//! upstream round trip per call (bench/README.md, "MCP gateway").

use std::sync::Arc;

use aecl_audit::SignerKey;
use aecl_engine::store::MemoryStore;
use aecl_engine::{Engine, EngineConfig, SystemClock};
use rmcp::model::Tool;

use super::{Gateway, GatewayConfig};
use crate::servers::{Launch, ServerSpec, Servers, Sharing};
use crate::upstream::Handshake;

/// A gateway whose one server cannot start: any attempt to list it fails.
fn gateway() -> Gateway<MemoryStore> {
    let files = [
        aecl_policy::SourceFile {
            path: "agents/a.toml".into(),
            text: "agent_id = \"a\"\nallowed_actions = [\"echo\"]\n".into(),
        },
        aecl_policy::SourceFile {
            path: "catalog.toml".into(),
            text: "[actions.echo]\neffect = \"read\"\n".into(),
        },
    ];
    let policy = match aecl_policy::load(&files) {
        Ok(loaded) => Arc::new(loaded.policy),
        Err(errors) => panic!("the test policy does not load: {errors:?}"),
    };
    let signer = SignerKey::from_seed("aecl.test/mcp", [7; 32]).unwrap();
    let store = Arc::new(MemoryStore::new("aecl.test/mcp", signer));
    let clock = Arc::new(SystemClock);
    let engine = Arc::new(Engine::new(store, policy, clock.clone(), EngineConfig::default()));
    let spec = ServerSpec {
        name: String::new(),
        prefix: String::new(),
        launch: Launch::Command {
            program: "/nonexistent/aecl-test-server".into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: None,
        },
        handshake: Handshake::Negotiate,
        sharing: Sharing::PerSession,
        resolve_paths_from: None,
    };
    let config = GatewayConfig {
        agent: "a".into(),
        run: "r".into(),
        approval_wait: std::time::Duration::ZERO,
        redact: Vec::new(),
        clock,
    };
    Gateway::new(engine, Arc::new(Servers::single(spec)), config)
}

#[tokio::test]
async fn a_handler_per_request_uses_the_listing_its_connections_keep() {
    let gateway = gateway();
    let kept = gateway.connections().clone();
    let echo = Tool::new("echo", "Answers its text.", Arc::new(serde_json::Map::new()));
    // What the agent's first request listed.
    gateway
        .for_agent_with("a", kept.clone())
        .connections()
        .tools()
        .insert("echo".into(), (0, echo));
    // The next request's handler, over the same connections, lists nothing again: it
    // could not (the server cannot start).
    let next = gateway.for_agent_with("a", kept);
    let definition = next.definition(0, "echo").await.unwrap();
    assert_eq!(definition.map(|tool| tool.name.into_owned()).as_deref(), Some("echo"));
    // Over connections of their own, nothing is known and the server must be listed.
    let fresh = gateway.for_agent("a");
    assert!(fresh.definition(0, "echo").await.is_err());
}
