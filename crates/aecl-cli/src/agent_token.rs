//! The bearer token an agent-side command (`aecl hook --server`) sends: the agent's own
//! short token, signed now with its key (`--agent-key`), or a token read from a file or
//! `AECL_TOKEN`.

use std::path::Path;

use aecl_audit::SignerKey;
use aecl_engine::identity::mint_agent_assertion;
use anyhow::{Context, Result, anyhow};

use crate::approvals::read_token;
use crate::input::now;

/// How long an agent's own token lives: long enough for a slow network, far below the
/// five-minute ceiling the server enforces.
pub const AGENT_TOKEN_SECONDS: u64 = 60;

/// A token for one request: minted with `agent_key` when given (as `agent`, else as the
/// key's name), otherwise read from `token_file` or `AECL_TOKEN`.
pub fn bearer(
    token_file: Option<&Path>,
    agent_key: Option<&Path>,
    agent: Option<&str>,
) -> Result<String> {
    let Some(path) = agent_key else { return read_token(token_file) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the agent key {}", path.display()))?;
    let key = SignerKey::parse(text.trim()).with_context(|| {
        format!(
            "`{}` is not an agent's secret key (`aecl keys generate --agent NAME`)",
            path.display()
        )
    })?;
    let agent = agent.unwrap_or(key.name()).to_owned();
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| anyhow!("no randomness from the OS: {e}"))?;
    let jti = aecl_core::call::hex(&id);
    Ok(mint_agent_assertion(&key, &agent, now(), AGENT_TOKEN_SECONDS, jti))
}
