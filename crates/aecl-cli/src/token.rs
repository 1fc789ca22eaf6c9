//! `aecl token issue`: mints a signed, short-lived token for an agent (its TTL from the
//! agent's manifest), an approver or an administrator. The token goes to standard output
//! only, never to a log.

use std::path::PathBuf;
use std::process::ExitCode;

use aecl_engine::identity::{self, Claims, Role};
use anyhow::{Result, bail};

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
    /// An administrator token (audit and metrics) for this person.
    #[arg(long)]
    admin: Option<String>,
    /// Lifetime in seconds; default: the agent manifest's `token_ttl_seconds`, or 900 for
    /// approvers and administrators.
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u64>,
    /// The secret key that signs tokens (`aecl keys generate`); `aecl serve --token-key`
    /// takes its public half.
    #[arg(long, value_name = "SECRET_KEY_FILE")]
    key: PathBuf,
    /// The policy directory (required for `--agent`: the agent must exist).
    #[arg(long, value_name = "DIR")]
    policy: Option<PathBuf>,
}

/// The lifetime of person tokens when `--ttl` is not given.
const PERSON_TTL_SECONDS: u64 = 900;

pub fn issue(args: &IssueArgs) -> Result<ExitCode> {
    let key = signer(&args.key)?;
    let (subject, role, default_ttl) = match (&args.agent, &args.approver, &args.admin) {
        (Some(agent), _, _) => {
            let Some(dir) = &args.policy else {
                bail!("`--agent` needs `--policy DIR`: the agent's manifest gives its token TTL");
            };
            let loaded = load_policy(dir)?;
            let Some(manifest) = loaded.policy.agents.get(agent) else {
                bail!("unknown agent `{agent}`: no manifest in `{}`", dir.display());
            };
            (agent, Role::Agent, manifest.token_ttl_seconds)
        }
        (None, Some(name), _) => (name, Role::Approver, PERSON_TTL_SECONDS),
        (None, None, Some(name)) => (name, Role::Admin, PERSON_TTL_SECONDS),
        (None, None, None) => bail!("name a subject: --agent, --approver or --admin"),
    };
    if subject.trim().is_empty() {
        bail!("the subject's name is empty");
    }
    let ttl = args.ttl.unwrap_or(default_ttl);
    if ttl == 0 {
        bail!("`--ttl` must be at least 1 second");
    }
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let claims = Claims::new(&key, subject, role, now(), ttl, aecl_core::call::hex(&id));
    #[expect(clippy::print_stdout, reason = "the command's output")]
    {
        println!("{}", identity::issue(&key, &claims));
    }
    Ok(ExitCode::SUCCESS)
}
