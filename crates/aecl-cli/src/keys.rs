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

/// What a key pair is for: the files it is written to and the hints printed with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyUse {
    /// Signs audit checkpoints and standing grants (`aecl serve --key`); its public half is
    /// pinned by whoever verifies the log.
    Audit,
    /// Signs tokens (`aecl token issue --key`); `aecl serve --token-key` and
    /// `aecl mcp --token-key` check them with its public half.
    Tokens,
}

impl KeyUse {
    fn stem(self) -> &'static str {
        match self {
            KeyUse::Audit => "audit",
            KeyUse::Tokens => "tokens",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// What the key is for: `audit` (checkpoints, `audit.key`/`audit.pub`) or `tokens`
    /// (`tokens.key`/`tokens.pub`).
    #[arg(long = "for", value_enum, default_value = "audit", conflicts_with = "agent")]
    pub key_use: KeyUse,
    /// The key's name, which also names the log in its checkpoints (a host-like name such
    /// as `audit.example.com/aecl`); by default `aecl.local/audit` or `aecl.local/tokens`.
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write the pair: `audit.key` (secret, mode 0600) and `audit.pub`, or
    /// `tokens.key` and `tokens.pub`, or with `--agent`, `NAME.key` and `NAME.pub`.
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
    let default_name = format!("aecl.local/{}", args.key_use.stem());
    let name = args.agent.as_deref().or(args.name.as_deref()).unwrap_or(&default_name);
    let key =
        SignerKey::from_seed(name, seed).with_context(|| format!("`{name}` cannot name a key"))?;
    fs::create_dir_all(&args.out).with_context(|| format!("creating `{}`", args.out.display()))?;
    let stem = if args.agent.is_some() { name } else { args.key_use.stem() };
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
    let (signs, checks) = match args.key_use {
        KeyUse::Audit => (
            "`aecl serve --key` signs checkpoints and standing grants with it",
            "pin it: `aecl audit verify --key`",
        ),
        KeyUse::Tokens => (
            "`aecl token issue --key` signs tokens with it",
            "`aecl serve --token-key` and `aecl mcp --token-key` check tokens with it",
        ),
    };
    #[expect(clippy::print_stdout, reason = "the command's output")]
    {
        println!("secret key: {} (keep it private; {signs})", secret.display());
        println!("public key: {} ({checks})", public.display());
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
