//! `aecl hook install AGENT`: merges aecl's hook entries into the agent's settings, for a
//! project (`--project DIR`) or the user (`--user`, under `$HOME`):
//!
//! - Claude Code, `.claude/settings.json`: `PreToolUse` (with `"onFailure": "block"`, its
//!   fail-closed option), `PostToolUse` and `PostToolUseFailure` (matcher `*`),
//!   `UserPromptSubmit`, `SessionEnd`, `SessionStart`.
//! - Codex, `.codex/hooks.json` (the same shape): `PreToolUse`, `PostToolUse`,
//!   `UserPromptSubmit` (Codex has no session end).
//! - Gemini CLI, `.gemini/settings.json`: `BeforeTool` and `AfterTool` (matcher `.*`),
//!   `BeforeAgent`, `SessionEnd`; its timeouts are in milliseconds.
//!
//! Other settings and other hooks are kept. An entry whose command is this aecl's `hook
//! AGENT` is replaced by the new one, so a second install with the same arguments changes
//! nothing (the file is not even written). The command names the aecl binary by its
//! absolute path and every path argument absolute, since the agent runs it from any
//! directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

/// The agents `install` and `doctor` know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    ClaudeCode,
    Codex,
    Gemini,
}

/// Seconds the agent waits for a hook before giving up on it.
pub const TIMEOUT_SECS: u64 = 30;

impl Target {
    /// The subcommand of `aecl hook` for this agent.
    pub fn subcommand(self) -> &'static str {
        match self {
            Target::ClaudeCode => "claude-code",
            Target::Codex => "codex",
            Target::Gemini => "gemini",
        }
    }

    /// Every agent.
    pub const ALL: [Target; 3] = [Target::ClaudeCode, Target::Codex, Target::Gemini];

    /// The settings file under a project directory or the home directory that `install`
    /// writes: the first of [`Target::hook_files`].
    pub fn settings_file(self, base: &Path) -> PathBuf {
        base.join(self.folder()).join(self.hook_files()[0])
    }

    /// The agent's folder under a project directory or the home directory.
    pub fn folder(self) -> &'static str {
        match self {
            Target::ClaudeCode => ".claude",
            Target::Codex => ".codex",
            Target::Gemini => ".gemini",
        }
    }

    /// Every file in [`Target::folder`] from which the agent reads hooks, or settings that
    /// turn them off (Claude Code's `disableAllHooks`), in a project or the home directory.
    pub fn hook_files(self) -> &'static [&'static str] {
        match self {
            Target::ClaudeCode => &["settings.json", "settings.local.json"],
            Target::Codex => &["hooks.json", "config.toml"],
            Target::Gemini => &["settings.json"],
        }
    }

    /// The environment variable that moves the user's folder elsewhere
    /// (`$CLAUDE_CONFIG_DIR/settings.json`, `$CODEX_HOME/config.toml`).
    pub fn home_variable(self) -> Option<&'static str> {
        match self {
            Target::ClaudeCode => Some("CLAUDE_CONFIG_DIR"),
            Target::Codex => Some("CODEX_HOME"),
            Target::Gemini => None,
        }
    }

    /// The system-wide (managed) settings directories the agent reads, which `install`
    /// never writes: hooks there, or a setting that allows only those, outrank the user's.
    pub fn system_dirs(self) -> &'static [&'static str] {
        match self {
            Target::ClaudeCode => &["/etc/claude-code", "/Library/Application Support/ClaudeCode"],
            Target::Codex => &["/etc/codex"],
            Target::Gemini => &["/etc/gemini-cli", "/Library/Application Support/GeminiCli"],
        }
    }

    /// The hook events installed, each with its matcher (none: every occurrence).
    pub fn events(self) -> &'static [(&'static str, Option<&'static str>)] {
        match self {
            Target::ClaudeCode => &[
                ("PreToolUse", Some("*")),
                ("PostToolUse", Some("*")),
                ("PostToolUseFailure", Some("*")),
                ("UserPromptSubmit", None),
                ("SessionEnd", None),
                ("SessionStart", None),
            ],
            Target::Codex => {
                &[("PreToolUse", None), ("PostToolUse", None), ("UserPromptSubmit", None)]
            }
            Target::Gemini => &[
                ("BeforeTool", Some(".*")),
                ("AfterTool", Some(".*")),
                ("BeforeAgent", None),
                ("SessionEnd", None),
            ],
        }
    }

    /// The event that decides calls.
    pub fn pre_tool_event(self) -> &'static str {
        self.events()[0].0
    }

    /// The timeout as the agent's settings spell it.
    pub fn timeout_value(self) -> u64 {
        match self {
            Target::Gemini => TIMEOUT_SECS * 1000,
            Target::ClaudeCode | Target::Codex => TIMEOUT_SECS,
        }
    }
}

/// Where the settings are: a project or the user's home.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Place {
    /// The project directory (its `.claude/`, `.codex/` or `.gemini/`).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// The user's settings under $HOME.
    #[arg(long)]
    pub user: bool,
}

impl Place {
    pub fn base(&self) -> Result<PathBuf> {
        match &self.project {
            Some(dir) => Ok(dir.clone()),
            None => std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
                .context("--user needs HOME"),
        }
    }
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The agent whose settings get the hooks.
    pub target: Target,
    #[command(flatten)]
    pub place: Place,
    /// Decide locally from this policy directory (with --agent).
    #[arg(long, requires = "agent", conflicts_with = "server", required_unless_present = "server")]
    pub policy: Option<PathBuf>,
    /// The agent id whose manifest applies (with --policy).
    #[arg(long)]
    pub agent: Option<String>,
    /// Ask this running `aecl serve` (with --token-file).
    #[arg(long, requires = "token_file")]
    pub server: Option<String>,
    /// The file holding the agent's token (with --server).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

pub use aecl_core::shell::quote_word as quote;

fn absolute(path: &Path) -> Result<String> {
    let path = std::path::absolute(path)
        .with_context(|| format!("making `{}` absolute", path.display()))?;
    path.to_str().map(str::to_owned).with_context(|| format!("`{}` is not UTF-8", path.display()))
}

/// The command line the agent runs.
fn command_line(args: &InstallArgs) -> Result<String> {
    let exe = std::env::current_exe().context("finding the aecl binary")?;
    let mut words = vec![absolute(&exe)?, "hook".to_owned(), args.target.subcommand().to_owned()];
    match (&args.policy, &args.agent, &args.server, &args.token_file) {
        (Some(policy), Some(agent), _, _) => {
            words.extend(["--policy".to_owned(), absolute(policy)?, "--agent".to_owned()]);
            words.push(agent.clone());
        }
        (_, _, Some(server), Some(token)) => {
            words.extend(["--server".to_owned(), server.clone(), "--token-file".to_owned()]);
            words.push(absolute(token)?);
        }
        _ => bail!("give --policy DIR --agent ID, or --server URL --token-file FILE"),
    }
    Ok(words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "))
}

/// Whether `command` is an aecl hook command for `target` (this install's or an older one).
pub fn is_aecl_hook(command: &str, target: Target) -> bool {
    let needle = format!(" hook {} ", target.subcommand());
    command.contains(&needle)
        && command.split(' ').next().is_some_and(|exe| exe.trim_matches('\'').ends_with("/aecl"))
}

/// `settings` with aecl's entries for `target` running `command`.
pub fn merged(settings: &Value, target: Target, command: &str) -> Result<Value> {
    let mut settings = match settings {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        _ => bail!("the settings are not a JSON object"),
    };
    let hooks = settings.entry("hooks").or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(hooks) = hooks else { bail!("`hooks` is not a JSON object") };
    for (event, matcher) in target.events() {
        let groups = hooks.entry(*event).or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(groups) = groups else { bail!("`hooks.{event}` is not an array") };
        // Drop earlier aecl entries, and groups left empty by that.
        for group in groups.iter_mut() {
            if let Some(Value::Array(entries)) = group.get_mut("hooks") {
                entries.retain(|e| !e["command"].as_str().is_some_and(|c| is_aecl_hook(c, target)));
            }
        }
        groups.retain(|g| g["hooks"].as_array().is_none_or(|e| !e.is_empty()));
        let mut group = Map::new();
        if let Some(matcher) = matcher {
            group.insert("matcher".to_owned(), json!(matcher));
        }
        let mut entry =
            json!({ "type": "command", "command": command, "timeout": target.timeout_value() });
        if target == Target::ClaudeCode && *event == "PreToolUse" {
            // Claude Code's fail-closed option: a hook that fails, times out or answers
            // garbage blocks the call instead of letting it run. Only before a call: after
            // one, a failure to record must not block the session.
            entry["onFailure"] = json!("block");
        }
        group.insert("hooks".to_owned(), json!([entry]));
        groups.push(Value::Object(group));
    }
    Ok(Value::Object(settings))
}

/// Installs; says what it did on stdout.
pub fn run(args: &InstallArgs) -> Result<()> {
    let file = args.target.settings_file(&args.place.base()?);
    let command = command_line(args)?;
    let current = match std::fs::read_to_string(&file) {
        Ok(text) if text.trim().is_empty() => Value::Null,
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not JSON; not changed", file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
        Err(e) => return Err(e).with_context(|| format!("reading `{}`", file.display())),
    };
    let merged = merged(&current, args.target, &command)
        .with_context(|| format!("merging into `{}`", file.display()))?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    if merged == current {
        writeln!(out, "{}: aecl's hooks already installed; not changed", file.display())?;
        return Ok(());
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(&merged)?;
    text.push('\n');
    let temp = file.with_extension("json.aecl-tmp");
    std::fs::write(&temp, text).with_context(|| format!("writing `{}`", temp.display()))?;
    std::fs::rename(&temp, &file).with_context(|| format!("writing `{}`", file.display()))?;
    writeln!(out, "{}: installed `{command}`", file.display())?;
    Ok(())
}
