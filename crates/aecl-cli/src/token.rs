//! `aecl token issue`: mints a signed JWT for an agent (its TTL from the agent's manifest),
//! an approver or an administrator, refused when longer than the policy's `[tokens]
//! max_ttl` for the role. The token goes to standard output only, never to a log; its id
//! (`jti`) goes to standard error, for `aecl token revoke`.
//!
//! `aecl token revoke ID` (or `--agent-key KID`): withdraws a token or an agent's key
//! through a running `aecl serve`, with an administrator's token.

use std::path::PathBuf;
use std::process::ExitCode;

use aecl_core::policy::TokenLimits;
use aecl_engine::identity::{self, Claims, Role};
use anyhow::{Result, bail};
use serde_json::json;

use crate::approvals::{read_token, request};
use crate::input::{load_policy, now};
use crate::record::signer;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["agent", "approver", "admin"])))]
pub struct IssueArgs {
    /// An agent token for this agent id (it must have a manifest in the policy).
    #[arg(long)]
    agent: Option<String>,
    /// An approver token for this person.
    #[arg(long)]
    approver: Option<String>,
    /// An administrator token (audit, metrics, revocation) for this person.
    #[arg(long)]
    admin: Option<String>,
    /// Lifetime in seconds; default: the agent manifest's `token_ttl_seconds`, or 900 for
    /// approvers and administrators. At most the policy's `[tokens] max_ttl` for the role.
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u64>,
    /// The secret key that signs tokens (`aecl keys generate`); `aecl serve --token-key`
    /// takes its public half.
    #[arg(long, value_name = "SECRET_KEY_FILE")]
    key: PathBuf,
    /// The policy directory: required for `--agent` (the agent must exist); for people,
    /// its `[tokens] max_ttl` applies (the defaults without it).
    #[arg(long, value_name = "DIR")]
    policy: Option<PathBuf>,
}

/// The lifetime of person tokens when `--ttl` is not given.
const PERSON_TTL_SECONDS: u64 = 900;

pub fn issue(args: &IssueArgs) -> Result<ExitCode> {
    let key = signer(&args.key)?;
    let loaded = args.policy.as_deref().map(load_policy).transpose()?;
    let limits = loaded.as_ref().map_or_else(TokenLimits::default, |l| l.policy.tokens);
    let (subject, role, default_ttl, max) = match (&args.agent, &args.approver, &args.admin) {
        (Some(agent), _, _) => {
            let (Some(dir), Some(loaded)) = (&args.policy, &loaded) else {
                bail!("`--agent` needs `--policy DIR`: the agent's manifest gives its token TTL");
            };
            let Some(manifest) = loaded.policy.agents.get(agent) else {
                bail!("unknown agent `{agent}`: no manifest in `{}`", dir.display());
            };
            (agent, Role::Agent, manifest.token_ttl_seconds, limits.agent_max_ttl_secs)
        }
        (None, Some(name), _) => {
            (name, Role::Approver, PERSON_TTL_SECONDS, limits.approver_max_ttl_secs)
        }
        (None, None, Some(name)) => {
            (name, Role::Admin, PERSON_TTL_SECONDS, limits.admin_max_ttl_secs)
        }
        (None, None, None) => bail!("name a subject: --agent, --approver or --admin"),
    };
    if subject.trim().is_empty() {
        bail!("the subject's name is empty");
    }
    // A name is how approvers are told apart and shown: one a reader cannot see whole
    // (a zero-width or bidirectional character, a control character) is refused.
    let shown = aecl_core::visible::visible(subject);
    if shown != subject.as_str() || subject.contains(['\n', '\t']) {
        bail!(
            "the subject's name `{shown}` holds characters a reader does not see; expected \
             printable text"
        );
    }
    let ttl = args.ttl.unwrap_or(default_ttl);
    if ttl == 0 {
        bail!("`--ttl` must be at least 1 second");
    }
    if ttl > max {
        bail!(
            "a {} token may live {max} s at most (`[tokens] max_ttl.{}` in policy.toml), not {ttl} s",
            role.as_str(),
            role.as_str()
        );
    }
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let jti = aecl_core::call::hex(&id);
    let claims = Claims::new(&key, subject, role, now(), ttl, jti.clone());
    #[expect(clippy::print_stdout, clippy::print_stderr, reason = "the command's output")]
    {
        println!("{}", identity::issue(&key, &claims));
        eprintln!("token id: {jti} (revoke with `aecl token revoke {jti}`)");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["id", "agent_key"])))]
pub struct RevokeArgs {
    /// The id (`jti`) of the token to revoke, as `aecl token issue` printed it.
    id: Option<String>,
    /// Revoke an agent's key instead: its id, as `aecl keys generate --agent` printed it
    /// (the `kid` of the agent's own tokens). The agent's next request is refused.
    #[arg(long, value_name = "KEY_ID", conflicts_with = "id")]
    agent_key: Option<String>,
    /// The `aecl serve` to talk to.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// A file holding an administrator's token; without it, `AECL_TOKEN`.
    #[arg(long)]
    token_file: Option<PathBuf>,
}

pub fn revoke(args: &RevokeArgs) -> Result<ExitCode> {
    let token = read_token(args.token_file.as_deref())?;
    let body = match (&args.id, &args.agent_key) {
        (Some(id), None) => json!({ "token": id }),
        (None, Some(kid)) => json!({ "agent_key": kid }),
        _ => bail!("name a token id, or --agent-key KEY_ID"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (status, answer) = runtime.block_on(request(
        &args.server,
        "POST",
        "/v1/tokens/revoke",
        &token,
        Some(&body),
    ))?;
    if status != 200 {
        let message = answer["error"]["message"].as_str().unwrap_or("no message");
        bail!("aecl serve answered {status}: {message}");
    }
    #[expect(clippy::print_stdout, reason = "the command's output")]
    {
        println!("revoked {}", answer["revoked"].as_str().unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}
