//! Tool annotations tighten what the catalog says of a tool's output, never loosen it.
//!
//! The catalog is the operator's word on how far a tool's output can be believed; the
//! server's annotations are its own claims. A claim that the tool reaches an open world
//! (`openWorldHint: true`: web pages, mail, anything others write) makes the output of a
//! tool catalogued as trusted untrusted, as a whole and in every field. Nothing the server
//! says makes output trusted: a catalog entry silent on trust, and a tool missing from the
//! catalog (callable in `monitor` mode only), already have untrusted output (the policy's
//! and the core's worst case), and stay so whatever the annotations say.
//!
//! The tightened catalog is the engine's policy in force (same revision: it only ever
//! decides more strictly than the files say), so the output is recorded untrusted in the
//! run's history by the engine itself, and every later decision of the run sees it.

use std::sync::Arc;

use aecl_core::policy::{ActionSpec, Policy, Trust};
use rmcp::model::Tool;

use crate::listing::action_of;

/// `policy` with the output of every tool in `tools` that claims an open world made
/// untrusted, when that changes anything; `None` when it changes nothing.
pub fn tightened(policy: &Policy, prefix: &str, tools: &[Tool]) -> Option<Policy> {
    let mut changed: Vec<(String, ActionSpec)> = Vec::new();
    for tool in tools {
        let open_world = tool.annotations.as_ref().and_then(|a| a.open_world_hint) == Some(true);
        if !open_world {
            continue;
        }
        let action = action_of(prefix, &tool.name);
        let Some(spec) = policy.actions.get(&action) else { continue };
        if let Some(untrusted) = untrusted_output(spec) {
            changed.push((action, untrusted));
        }
    }
    if changed.is_empty() {
        return None;
    }
    let mut policy = policy.clone();
    for (action, spec) in changed {
        tracing::info!(action, "output made untrusted: the tool's annotations claim an open world");
        policy.actions.insert(action, Arc::new(spec));
    }
    Some(policy)
}

/// `spec` with its output untrusted as a whole and in every field; `None` when it already
/// is.
fn untrusted_output(spec: &ActionSpec) -> Option<ActionSpec> {
    let trusted_somewhere = spec.output.trust == Trust::Trusted
        || spec.output.fields.iter().any(|(_, trust)| *trust == Trust::Trusted);
    if !trusted_somewhere {
        return None;
    }
    let mut spec = spec.clone();
    spec.output.trust = Trust::Untrusted;
    for (_, trust) in &mut spec.output.fields {
        *trust = Trust::Untrusted;
    }
    Some(spec)
}
