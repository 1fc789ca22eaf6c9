//! `aecl keys generate`: a new Ed25519 key pair for signing audit checkpoints or tokens, or
//! (`--agent NAME`) an agent's own key pair, whose public half goes into its manifest's
//! `public_keys` and whose secret half `aecl hook --agent-key` and the clients sign the
//! agent's short tokens with.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aecl_audit::SignerKey;
use anyhow::{Context, Result, bail};

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The key's name, which also names the log in its checkpoints (a host-like name such
    /// as `audit.example.com/aecl`).
    #[arg(long, default_value = "aecl.local/audit")]
    pub name: String,
    /// Where to write `audit.key` (secret, mode 0600) and `audit.pub` (with `--agent`,
    /// `NAME.key` and `NAME.pub`).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// An agent's own key pair, named after the agent: its public half goes into the
    /// agent's manifest (`public_keys`).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
}

pub fn generate(args: &GenerateArgs) -> Result<ExitCode> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let name = args.agent.as_deref().unwrap_or(&args.name);
    let key =
        SignerKey::from_seed(name, seed).with_context(|| format!("`{name}` cannot name a key"))?;
    fs::create_dir_all(&args.out).with_context(|| format!("creating `{}`", args.out.display()))?;
    let stem = if args.agent.is_some() { name } else { "audit" };
    let secret = args.out.join(format!("{stem}.key"));
    let public = args.out.join(format!("{stem}.pub"));
    for path in [&secret, &public] {
        if path.exists() {
            bail!("`{}` exists: refusing to replace a key (move it away first)", path.display());
        }
    }
    write_new(&secret, &key.to_text(), 0o600)?;
    write_new(&public, &key.verifier().to_text(), 0o644)?;
    if args.agent.is_some() {
        let verifier = key.verifier();
        #[expect(clippy::print_stdout, reason = "the command's output")]
        {
            println!(
                "secret key: {} (keep it private; `aecl hook --agent-key` signs with it)",
                secret.display()
            );
            println!("public key: {}", public.display());
            println!("key id: {}", aecl_engine::identity::agent_key_id(&verifier));
            println!("add to the agent's manifest: public_keys = [\"{}\"]", verifier.to_text());
        }
        return Ok(ExitCode::SUCCESS);
    }
    #[expect(clippy::print_stdout, reason = "the command's output")]
    {
        println!(
            "secret key: {} (keep it private; `aecl serve --key` signs with it)",
            secret.display()
        );
        println!("public key: {} (pin it: `aecl audit verify --key`)", public.display());
        println!("{}", key.verifier().to_text());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating `{}`", path.display()))?;
    writeln!(file, "{text}").with_context(|| format!("writing `{}`", path.display()))?;
    file.sync_all().with_context(|| format!("writing `{}`", path.display()))
}

/// Reads a key file (or takes the argument as the key's text when it is no file).
pub fn read_key_text(arg: &str) -> Result<String> {
    let path = Path::new(arg);
    if path.is_file() {
        let text = fs::read_to_string(path).with_context(|| format!("reading `{arg}`"))?;
        Ok(text.trim().to_owned())
    } else {
        Ok(arg.trim().to_owned())
    }
}
