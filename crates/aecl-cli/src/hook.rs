//! `aecl hook claude-code | codex | gemini`: the command an agent runs before each tool
//! call. It reads the agent's hook input on stdin (Claude Code's and Codex's `PreToolUse`,
//! Gemini CLI's `BeforeTool`), decides the call, and answers on stdout in the agent's own
//! shape.
//!
//! The call is decided either locally, from a policy directory (`--policy DIR --agent
//! ID`, with the decision code of `aecl eval`), or by a running `aecl serve` (`--server
//! URL`, an agent token from `--token-file` or `AECL_TOKEN`), whose `/v1/hooks/claude-code`
//! evaluates, records and audits it; Codex and Gemini CLI inputs are translated to Claude
//! Code's there and back. The mapping from a tool to a catalog action is
//! `aecl_policy::hook`'s, the one the server uses.
//!
//! It fails closed: bad stdin, a policy that does not load, a server that cannot be
//! reached, is slow (`--timeout`) or answers anything but a 2xx with a decision all become
//! `deny` with the reason. A `deny` also exits with code 2 and the reason on stderr: each
//! of the three agents blocks the call on exit code 2 whatever it makes of stdout, while
//! exit code 1 would let the call through.
//!
//! `require_approval` is Claude Code's `ask` (its user is asked). Codex refuses `ask` from a
//! `PreToolUse` hook (and would then run the call), and Gemini CLI's `BeforeTool` has no
//! such answer, so for them it is a `deny` whose reason says a person must approve.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aecl_core::Decision;
use aecl_policy::hook::{HookInput, HookOutcome, permission_decision};
use aecl_policy::replay::Replayer;
use aecl_policy::trace::TraceEvent;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::approvals::{read_token, request};
use crate::input::{load_policy, now};

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Claude Code's `PreToolUse` command hook: `allow`, `ask` or `deny`.
    ClaudeCode(HookArgs),
    /// Codex's `PreToolUse` command hook: nothing on stdout to allow, `deny` otherwise.
    Codex(HookArgs),
    /// Gemini CLI's `BeforeTool` command hook: `{"decision": "allow" | "deny"}`.
    Gemini(HookArgs),
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// Decide locally from this policy directory (with --agent). Each call is decided as
    /// the first of its run: budgets and data flow across calls need --server.
    #[arg(long, requires = "agent", conflicts_with = "server", required_unless_present = "server")]
    policy: Option<PathBuf>,
    /// The agent whose manifest applies (with --policy; with --server the token names it).
    #[arg(long)]
    agent: Option<String>,
    /// Ask this running `aecl serve` (e.g. `http://127.0.0.1:8080`), which records and
    /// audits the call.
    #[arg(long)]
    server: Option<String>,
    /// A file holding the agent's token (`aecl token issue --agent ID`); without it, the
    /// `AECL_TOKEN` environment variable.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Seconds to wait for the server before denying.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    timeout: u64,
}

/// The agent whose hook this is: what it sends and how it must be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agent {
    ClaudeCode,
    Codex,
    Gemini,
}

impl Agent {
    fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "Claude Code",
            Agent::Codex => "Codex",
            Agent::Gemini => "Gemini CLI",
        }
    }

    /// The hook event this command answers.
    fn event(self) -> &'static str {
        match self {
            Agent::ClaudeCode | Agent::Codex => "PreToolUse",
            Agent::Gemini => "BeforeTool",
        }
    }
}

/// Hook inputs larger than this are refused (a `Write` of a large file is still far below).
const STDIN_LIMIT: u64 = 64 * 1024 * 1024;

/// Exit code 0 for `allow` and `ask`, 2 for `deny` (the code the agents block on).
pub fn run(command: &HookCommand) -> Result<ExitCode> {
    let (agent, args) = match command {
        HookCommand::ClaudeCode(args) => (Agent::ClaudeCode, args),
        HookCommand::Codex(args) => (Agent::Codex, args),
        HookCommand::Gemini(args) => (Agent::Gemini, args),
    };
    let outcome =
        read_stdin().and_then(|text| decide(agent, args, &text)).unwrap_or_else(|error| {
            HookOutcome {
                decision: Decision::Block,
                reason: format!("aecl could not decide the call, so it is denied: {error:#}"),
            }
        });
    answer(agent, &outcome)
}

fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .take(STDIN_LIMIT + 1)
        .read_to_string(&mut text)
        .context("reading the hook input from stdin")?;
    if text.len() as u64 > STDIN_LIMIT {
        bail!("the hook input is larger than {STDIN_LIMIT} bytes");
    }
    Ok(text)
}

fn decide(agent: Agent, args: &HookArgs, text: &str) -> Result<HookOutcome> {
    let input = HookInput::parse(text, agent.event())?;
    match (&args.policy, &args.agent, &args.server) {
        (Some(policy), Some(agent_id), _) => {
            let loaded = load_policy(policy)?;
            let event = input.into_call_event(aecl_engine::new_id);
            let action = event.action.clone();
            let mut replayer = Replayer::new(&loaded.policy, Some(agent_id.clone()), now());
            let decided = replayer
                .apply(&TraceEvent::Call(event))
                .map_err(|e| anyhow!(e))?
                .ok_or_else(|| anyhow!("the call was not decided"))?;
            Ok(HookOutcome::of(&action, &decided.verdict))
        }
        (None, _, Some(server)) => ask_server(server, args, input),
        _ => bail!("give --policy DIR --agent ID, or --server URL"),
    }
}

/// Posts the call to `aecl serve`'s Claude Code hook and reads its decision.
fn ask_server(server: &str, args: &HookArgs, mut input: HookInput) -> Result<HookOutcome> {
    let token = read_token(args.token_file.as_deref())?;
    // The endpoint speaks Claude Code's `PreToolUse`; a Gemini MCP tool is named the way
    // Claude Code names it, so the server maps it to the same catalog action.
    input.tool_name = input.qualified_tool_name();
    input.mcp_context = None;
    input.hook_event_name = "PreToolUse".to_owned();
    let body = serde_json::to_value(&input)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the client runtime")?;
    let limit = Duration::from_secs(args.timeout);
    let (status, answer) = runtime
        .block_on(async {
            tokio::time::timeout(
                limit,
                request(server, "POST", "/v1/hooks/claude-code", &token, Some(&body)),
            )
            .await
        })
        .map_err(|_| {
            anyhow!("aecl serve at {server} did not answer within {} s", args.timeout)
        })??;
    if !(200..300).contains(&status) {
        let message = answer["error"]["message"].as_str().unwrap_or("no message");
        bail!("aecl serve at {server} answered {status}: {message}");
    }
    outcome_of(&answer).with_context(|| format!("the answer of aecl serve at {server}"))
}

/// The decision in the server's `hookSpecificOutput`; anything else is an error (denied).
fn outcome_of(answer: &Value) -> Result<HookOutcome> {
    let output = &answer["hookSpecificOutput"];
    let reason = output["permissionDecisionReason"].as_str().unwrap_or_default().to_owned();
    let decision = match output["permissionDecision"].as_str() {
        Some("allow") => Decision::Allow,
        Some("ask") => Decision::RequireApproval,
        Some("deny") => Decision::Block,
        _ => bail!("no `permissionDecision` of `allow`, `ask` or `deny` in {answer}"),
    };
    Ok(HookOutcome { decision, reason })
}

/// Writes the agent's answer; a deny also goes to stderr and exits 2.
fn answer(agent: Agent, outcome: &HookOutcome) -> Result<ExitCode> {
    let (decision, reason) = match (agent, outcome.decision) {
        (Agent::Codex | Agent::Gemini, Decision::RequireApproval) => (
            Decision::Block,
            format!(
                "{}. A person must approve this call, and {}'s hook cannot ask, so aecl denies \
                 it: a person who approves can run it themselves, or change the policy",
                outcome.reason,
                agent.name()
            ),
        ),
        (_, decision) => (decision, outcome.reason.clone()),
    };
    let stdout = match agent {
        Agent::ClaudeCode => Some(json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": permission_decision(decision),
                "permissionDecisionReason": reason,
            }
        })),
        // Codex refuses `permissionDecision: "allow"` without a rewritten input: silence is
        // its "no objection".
        Agent::Codex if decision == Decision::Allow => None,
        Agent::Codex => Some(json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }
        })),
        Agent::Gemini => Some(json!({
            "decision": if decision == Decision::Allow { "allow" } else { "deny" },
            "reason": reason,
        })),
    };
    if let Some(stdout) = stdout {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &stdout)?;
        writeln!(out)?;
        out.flush()?;
    }
    if decision != Decision::Block {
        return Ok(ExitCode::SUCCESS);
    }
    #[expect(clippy::print_stderr, reason = "the agents read a blocking hook's reason on stderr")]
    {
        eprintln!("{reason}");
    }
    Ok(ExitCode::from(2))
}
