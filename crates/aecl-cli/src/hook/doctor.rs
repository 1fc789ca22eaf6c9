//! `aecl hook doctor AGENT`: checks an installed hook the way the agent will run it, and
//! prints `ok` or `FAIL` per check; exits 1 when any fails. The checks: aecl's hook is in
//! the agent's settings (under every event it installs but the session's end), its command
//! exists and is executable, its policy loads (local) or
//! its server answers `/healthz`, and a synthetic pre-tool call gets a well-formed answer
//! within the agent's timeout.

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use super::install::{Place, TIMEOUT_SECS, Target, is_aecl_hook};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The agent whose hook is checked.
    pub target: Target,
    #[command(flatten)]
    pub place: Place,
}

/// Splits a command line written by `install::quote`: words apart on spaces, single
/// quotes around a word, `'\''` for a quote inside.
pub fn split(command: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => bail!("an unclosed quote in `{command}`"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next().context("a trailing backslash")?);
            }
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The value after `flag` in `words`.
fn flag<'a>(words: &'a [String], flag: &str) -> Option<&'a str> {
    words.iter().position(|w| w == flag).and_then(|i| words.get(i + 1)).map(String::as_str)
}

/// Runs the checks; exit code 1 when any fails.
pub fn run(args: &DoctorArgs) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    let mut report = |name: &str, result: Result<String>| -> Result<()> {
        match result {
            Ok(detail) => writeln!(out, "ok    {name}: {detail}")?,
            Err(error) => {
                failed = true;
                writeln!(out, "FAIL  {name}: {error:#}")?;
            }
        }
        Ok(())
    };
    let target = args.target;
    let command = configured(target, &args.place);
    let command = match command {
        Ok(command) => {
            report("configured", Ok(command.clone()))?;
            command
        }
        Err(error) => {
            report("configured", Err(error))?;
            return Ok(ExitCode::from(1));
        }
    };
    report("events", events(target, &args.place))?;
    let words = split(&command)?;
    report("command", executable(&words))?;
    report("policy or server", backend(&words))?;
    report("synthetic call", synthetic(target, &command))?;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The agent's settings file and what it holds.
fn settings(target: Target, place: &Place) -> Result<(std::path::PathBuf, Value)> {
    let file = target.settings_file(&place.base()?);
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading `{}`", file.display()))?;
    let settings =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", file.display()))?;
    Ok((file, settings))
}

/// aecl's hook command under `event` in `settings`.
fn aecl_hook(settings: &Value, event: &str, target: Target) -> Option<String> {
    settings["hooks"][event]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|group| group["hooks"].as_array().into_iter().flatten())
        .filter_map(|entry| entry["command"].as_str())
        .find(|command| is_aecl_hook(command, target))
        .map(str::to_owned)
}

/// aecl's pre-tool hook command in the agent's settings.
fn configured(target: Target, place: &Place) -> Result<String> {
    let (file, settings) = settings(target, place)?;
    let event = target.pre_tool_event();
    aecl_hook(&settings, event, target)
        .with_context(|| format!("no aecl hook under `hooks.{event}` in `{}`", file.display()))
}

/// Every event after the fact that `aecl hook install` installs has aecl's hook: without
/// them the outputs the agent reads (a failed command's, under Claude Code's
/// `PostToolUseFailure`) and the user's words are never recorded, and data flow is off
/// with nothing said (red team round 20, hooks HK6). The session's end only gives back
/// disk room: not required.
fn events(target: Target, place: &Place) -> Result<String> {
    let (file, settings) = settings(target, place)?;
    let wanted: Vec<&str> =
        target.events().iter().map(|(event, _)| *event).filter(|e| *e != "SessionEnd").collect();
    let missing: Vec<&str> =
        wanted.iter().copied().filter(|e| aecl_hook(&settings, e, target).is_none()).collect();
    if !missing.is_empty() {
        bail!(
            "no aecl hook under `hooks.{}` in `{}`: what those events carry (outputs the agent \
             reads, the user's words) is not recorded, and data flow cannot see it",
            missing.join("`, `hooks."),
            file.display()
        );
    }
    Ok(wanted.join(", "))
}

fn executable(words: &[String]) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let exe = words.first().context("an empty command")?;
    let meta = std::fs::metadata(exe).with_context(|| format!("`{exe}`"))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        bail!("`{exe}` is not an executable file");
    }
    Ok(format!("{exe} is executable"))
}

fn backend(words: &[String]) -> Result<String> {
    if let Some(policy) = flag(words, "--policy") {
        let loaded = crate::input::load_policy(Path::new(policy))?;
        return Ok(format!("policy `{policy}` loads (revision {})", loaded.policy.revision.0));
    }
    let server = flag(words, "--server").context("the command names no --policy or --server")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (status, _) = runtime
        .block_on(async {
            tokio::time::timeout(
                Duration::from_secs(5),
                crate::approvals::request_with_headers(server, "GET", "/healthz", "", &[], None),
            )
            .await
        })
        .map_err(|_| anyhow::anyhow!("{server} did not answer /healthz within 5 s"))??;
    if !(200..300).contains(&status) {
        bail!("{server}/healthz answered {status}");
    }
    Ok(format!("{server}/healthz answered {status}"))
}

/// A harmless pre-tool call through the command, as the agent sends it.
fn synthetic(target: Target, command: &str) -> Result<String> {
    let session = format!("aecl-doctor-{}", std::process::id());
    let input = match target {
        Target::ClaudeCode | Target::Codex => json!({
            "session_id": session, "cwd": "/", "hook_event_name": "PreToolUse",
            "tool_name": "Bash", "tool_input": {"command": "true"},
            "tool_use_id": "aecl-doctor-call",
        }),
        Target::Gemini => json!({
            "session_id": session, "cwd": "/", "hook_event_name": "BeforeTool",
            "tool_name": "run_shell_command", "tool_input": {"command": "true"},
        }),
    };
    // The local mode's session file of this probe goes to a directory of its own.
    let state = std::env::temp_dir().join(&session);
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .env("AECL_STATE_DIR", &state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running the hook command")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.to_string().as_bytes())?;
    }
    let deadline = Instant::now() + Duration::from_secs(TIMEOUT_SECS);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            child.kill()?;
            child.wait()?;
            bail!("no answer within the {TIMEOUT_SECS} s the hook is given");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output()?;
    drop(std::fs::remove_dir_all(&state));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let code = output.status.code();
    let decision = match (target, code) {
        (Target::Codex, Some(0)) if stdout.trim().is_empty() => "allow".to_owned(),
        (_, Some(0 | 2)) => {
            let answer: Value = serde_json::from_str(stdout.trim())
                .with_context(|| format!("stdout is not one JSON answer: {stdout}"))?;
            let decision = match target {
                Target::Gemini => &answer["decision"],
                Target::ClaudeCode | Target::Codex => {
                    &answer["hookSpecificOutput"]["permissionDecision"]
                }
            };
            match decision.as_str() {
                Some(d @ ("allow" | "ask" | "deny")) => d.to_owned(),
                _ => bail!("no decision in {answer}"),
            }
        }
        _ => bail!("exit code {code:?}: {}", String::from_utf8_lossy(&output.stderr).trim()),
    };
    Ok(format!("a synthetic call was answered `{decision}` (exit {})", code.unwrap_or(-1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hook::install::quote;

    #[test]
    fn split_undoes_quote() {
        let words = ["/opt/a b/aecl", "it's", "", "plain", "--x=1"];
        let line: Vec<String> = words.iter().map(|w| quote(w)).collect();
        assert_eq!(split(&line.join(" ")).unwrap(), words);
    }
}
