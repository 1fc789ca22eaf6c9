//! `aecl hook claude-code | codex | gemini`: the command an agent runs before each tool
//! call. It reads the agent's hook input on stdin (Claude Code's and Codex's `PreToolUse`,
//! Gemini CLI's `BeforeTool`), decides the call, and answers on stdout in the agent's own
//! shape. The events after the fact (a tool's output, the user's prompt, the session's
//! end) are reported to `aecl serve` with `--server`, or recorded in the session's file
//! (`local`) with `--policy` (see `report`).
//!
//! The call is decided either locally, from a policy directory (`--policy DIR --agent
//! ID`, with the decision code of `aecl replay` over the session's file, `local`), or by a running `aecl serve` (`--server
//! URL`, an agent token from `--token-file` or `AECL_TOKEN`), which records and audits it.
//! The mapping from a tool to a catalog action is `aecl_policy::hook`'s, the one the
//! server uses.
//!
//! Claude Code's input goes to the server's `/v1/hooks/claude-code` (evaluate): its `ask`
//! lets Claude Code's user approve. Codex and Gemini CLI cannot ask, so theirs goes to
//! `/v1/execute` with `Aecl-Executor: client` (the agent runs the tool): a call that needs
//! approval files an approval request, which an approver answers on the web page or with
//! `aecl approvals approve ID`; the agent's retry of the same call is then allowed, once.
//!
//! It fails closed: bad stdin, a policy that does not load, a server that cannot be
//! reached, is slow (`--timeout`) or answers anything but a 2xx with a decision all become
//! `deny` with the reason. A `deny` also exits with code 2 and the reason on stderr: each
//! of the three agents blocks the call on exit code 2 whatever it makes of stdout, while
//! exit code 1 would let the call through.
//!
//! `require_approval` is Claude Code's `ask` (its user is asked). Codex refuses `ask` from a
//! `PreToolUse` hook (and would then run the call), and Gemini CLI's `BeforeTool` has no
//! such answer, so for them it is a `deny` whose reason says a person must approve, and
//! where.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use aecl_core::Decision;
use aecl_policy::hook::{HookInput, HookOutcome, permission_decision};
use aecl_policy::trace::TraceEvent;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::approvals::request_with_headers;

mod doctor;
mod install;
mod local;
mod policy_cache;
mod private_file;
mod report;
mod saved;
mod state_guard;
use crate::input::now;

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Claude Code's `PreToolUse` command hook: `allow`, `ask` or `deny`.
    ClaudeCode(HookArgs),
    /// Codex's `PreToolUse` command hook: nothing on stdout to allow, `deny` otherwise.
    Codex(HookArgs),
    /// Gemini CLI's `BeforeTool` command hook: `{"decision": "allow" | "deny"}`.
    Gemini(HookArgs),
    /// Merge aecl's hooks into an agent's settings (idempotent).
    Install(install::InstallArgs),
    /// Check an installed hook: configured, executable, policy or server, a synthetic call.
    Doctor(doctor::DoctorArgs),
}

#[derive(Debug, Args)]
pub struct HookArgs {
    /// Decide locally from this policy directory (with --agent), against the session's
    /// history kept in a file under --state-dir.
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
    /// The agent's own secret key (`aecl keys generate --agent NAME`): a fresh short token
    /// is signed with it for every request, so a session never meets an expiry. The agent
    /// is the key's name unless --agent names it.
    #[arg(long, value_name = "FILE", conflicts_with = "token_file", requires = "server")]
    agent_key: Option<PathBuf>,
    /// Where --policy keeps each session's run file (default: $AECL_STATE_DIR, else
    /// $XDG_STATE_HOME/aecl/hooks, else ~/.local/state/aecl/hooks).
    #[arg(long, value_name = "DIR", conflicts_with = "server")]
    state_dir: Option<PathBuf>,
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

/// Hook inputs larger than this are cut: a call is denied, an output recorded as far as it
/// can be (`report`). A `Write` of a large file is still far below.
const STDIN_LIMIT: u64 = 64 * 1024 * 1024;

/// Exit code 0 for `allow` and `ask`, 2 for `deny` (the code the agents block on).
pub fn run(command: &HookCommand) -> Result<ExitCode> {
    let (agent, args) = match command {
        HookCommand::ClaudeCode(args) => (Agent::ClaudeCode, args),
        HookCommand::Codex(args) => (Agent::Codex, args),
        HookCommand::Gemini(args) => (Agent::Gemini, args),
        HookCommand::Install(args) => return install::run(args).map(|()| ExitCode::SUCCESS),
        HookCommand::Doctor(args) => return doctor::run(args),
    };
    let input = read_stdin();
    // An input over the limit is answered from the part read: an output is recorded as
    // far as it can be (`report`), never dropped for its size.
    if let Ok(input) = &input
        && input.cut
    {
        return report::oversized(agent, args, &input.lossy, STDIN_LIMIT);
    }
    // An event after the fact is recorded even from bytes that are not UTF-8 (each bad
    // byte read as U+FFFD): an output must never go unrecorded for its spelling. A call
    // to decide must be exactly what runs, so its input must be UTF-8.
    if let Ok(input) = &input
        && let Some(event) = report::after_the_fact(agent, &input.lossy)
    {
        return Ok(report::report(agent, args, &input.lossy, event));
    }
    let (text, lossy) = match input {
        Ok(input) => {
            (input.exact.ok_or_else(|| anyhow!("the hook input is not UTF-8")), Some(input.lossy))
        }
        Err(error) => (Err(error), None),
    };
    let decided = match text.and_then(|text| decide(agent, args, &text)) {
        Ok(decided) => decided,
        // An event with no call is looked for only in what could not be decided: a call
        // to decide is not read once more for it.
        Err(_) if lossy.as_deref().is_some_and(|text| report::passed_over(agent, text)) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{{}}")?;
            out.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(error) => Decided::from(HookOutcome {
            decision: Decision::Block,
            reason: format!("aecl could not decide the call, so it is denied: {error:#}"),
        }),
    };
    answer(agent, &decided)
}

/// POSTs `body` to `path` of `aecl serve` at `server` within `timeout` seconds: the 2xx
/// answer, or an error naming the server and what went wrong.
fn post(
    server: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &Value,
    timeout: u64,
) -> Result<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the client runtime")?;
    let (status, answer) = runtime
        .block_on(async {
            tokio::time::timeout(
                Duration::from_secs(timeout),
                request_with_headers(server, "POST", path, token, headers, Some(body)),
            )
            .await
        })
        .map_err(|_| anyhow!("aecl serve at {server} did not answer within {timeout} s"))??;
    if !(200..300).contains(&status) {
        let message = answer["error"]["message"].as_str().unwrap_or("no message");
        bail!("aecl serve at {server} answered {status}: {message}");
    }
    Ok(answer)
}

/// A decision, and where a person approves the call when it needs approval.
#[derive(Debug)]
struct Decided {
    outcome: HookOutcome,
    /// The server's approval request (Codex and Gemini CLI) and the server.
    approval: Option<(String, String)>,
}

impl From<HookOutcome> for Decided {
    fn from(outcome: HookOutcome) -> Decided {
        Decided { outcome, approval: None }
    }
}

/// The hook input: as read, when it is UTF-8, and with every bad byte as U+FFFD. A byte
/// order mark in front is dropped. An input over [`STDIN_LIMIT`] is `cut`: only its first
/// [`STDIN_LIMIT`] bytes are read, and never decided on.
struct Stdin {
    exact: Option<String>,
    lossy: String,
    cut: bool,
}

fn read_stdin() -> Result<Stdin> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(STDIN_LIMIT + 1)
        .read_to_end(&mut bytes)
        .context("reading the hook input from stdin")?;
    let cut = bytes.len() as u64 > STDIN_LIMIT;
    bytes.truncate(usize::try_from(STDIN_LIMIT).unwrap_or(usize::MAX));
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    let exact = std::str::from_utf8(bytes).ok().filter(|_| !cut).map(str::to_owned);
    let lossy = exact.clone().unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    Ok(Stdin { exact, lossy, cut })
}

fn decide(agent: Agent, args: &HookArgs, text: &str) -> Result<Decided> {
    let mut input = HookInput::parse(text, agent.event())?;
    match (&args.policy, &args.agent, &args.server) {
        (Some(policy), Some(agent_id), _) => {
            let dir = local::state_dir(args.state_dir.as_deref())?;
            let loaded = policy_cache::load(policy, &dir)?;
            let cwd = resolve_paths(&mut input, Some(&loaded.policy))?;
            let event = input.into_call_event(aecl_engine::new_id);
            local::check_call_id(&event)?;
            let action = event.action.clone();
            let policy_dir = std::path::absolute(policy).unwrap_or_else(|_| policy.clone());
            let protected = state_guard::Protected::new(&dir, &policy_dir, &cwd);
            let touches_state =
                state_guard::check_untouched(&loaded.policy, &event, &protected, &cwd).err();
            let mut file = local::SessionFile::open(&dir, &event.run)?;
            let mut history = saved::Saved::new(&loaded.policy, agent_id)
                .history(&mut file, loaded.runs, now())
                .with_context(|| {
                    format!("replaying the session file `{}`", file.path().display())
                })?;
            let call = TraceEvent::Call(event);
            let decided =
                history.apply(&call)?.ok_or_else(|| anyhow!("the call was not decided"))?;
            // The call and its verdict, from which later calls rebuild the session.
            let written = [call, TraceEvent::decided(&decided.call, &decided.verdict)];
            let keep = history.room_to_keep(None);
            // The process ends with this call: freeing a long session's history one piece
            // at a time would cost more than deciding the call did.
            std::mem::forget(history);
            // The agent runs the tool itself: not one the policy wants sandboxed (no
            // connector runs anything here).
            let (outcome, _) = HookOutcome::for_client(&action, &decided.verdict, None);
            let Some(why) = touches_state else {
                // Denied when the disk cannot keep room for the outputs awaited, this
                // call's among them (`local`'s header).
                file.append(&written, keep)?;
                return Ok(outcome.into());
            };
            // The guard only tightens: the policy's own reasons come first when it blocks
            // too. The call is not written to the session's history, so an output reported
            // for it later is one of a call aecl denied: unguarded.
            let reason = match outcome.decision {
                Decision::Block => format!("{}; and {why:#}", outcome.reason),
                _ => format!("aecl: `{action}` block: {why:#}"),
            };
            Ok(HookOutcome { decision: Decision::Block, reason }.into())
        }
        (None, _, Some(server)) => {
            // The server cannot see this machine's filesystem: the resolutions travel with
            // the call. Roots that are links are not known here; write them resolved.
            resolve_paths(&mut input, None)?;
            ask_server(agent, server, args, input)
        }
        _ => bail!("give --policy DIR --agent ID, or --server URL"),
    }
}

/// Resolves every string of the tool's input on this machine's filesystem, from the
/// directory the call runs in, with the roots of the action's path constraints and the
/// write targets of its shell commands (`fs_paths::resolve_call`), into
/// `aecl_resolved_paths`: the agent acts on this filesystem, so a link here decides where
/// a write lands. That directory goes with them, so the shell rules read relative targets
/// from where the command runs; it is returned. It is the agent's `cwd`, which must be
/// absolute (else, when the input has none, this process's), or the directory a shell tool's input names (`HookInput::command_dir`:
/// Gemini CLI's `dir_path`, Codex's `workdir`) resolved from there; one that cannot be
/// read or resolved refuses the call. Codex's `exec_command` first has the command it runs
/// put in `cmd` (`HookInput::normalise_exec_command`).
fn resolve_paths(input: &mut HookInput, policy: Option<&aecl_core::Policy>) -> Result<PathBuf> {
    input.normalise_exec_command()?;
    let here = std::env::current_dir().context("reading the working directory")?;
    let mut cwd = match &input.cwd {
        // Agents send where the session runs, absolute; anything else cannot say where
        // the call acts, and guessing (this process's directory) would check the wrong
        // files.
        Some(cwd) if !Path::new(cwd).is_absolute() => {
            anyhow::bail!("the hook input's `cwd` must be an absolute path, got `{cwd}`")
        }
        Some(cwd) => PathBuf::from(cwd),
        None => here,
    };
    if let Some(dir) = input.command_dir()? {
        let base = cwd.display().to_string();
        let resolved = aecl_engine::fs_paths::resolve_path(&cwd, &dir).with_context(|| {
            format!("`{dir}`, where the command runs, cannot be resolved from `{base}`")
        })?;
        cwd = PathBuf::from(resolved);
    }
    let view =
        aecl_engine::fs_paths::resolve_call(policy, &input.action(), &input.tool_input, &cwd);
    input.aecl_resolved_paths = aecl_policy::trace::resolved_paths_file(&view);
    Ok(cwd)
}

/// Asks `aecl serve`: Claude Code's hook endpoint for Claude Code, a client-executed
/// `execute` for the others.
fn ask_server(agent: Agent, server: &str, args: &HookArgs, input: HookInput) -> Result<Decided> {
    let token = crate::agent_token::bearer(
        args.token_file.as_deref(),
        args.agent_key.as_deref(),
        args.agent.as_deref(),
    )?;
    let (path, headers, body): (_, &[(&str, &str)], _) = match agent {
        Agent::ClaudeCode => ("/v1/hooks/claude-code", &[], serde_json::to_value(&input)?),
        Agent::Codex | Agent::Gemini => {
            let event = input.into_call_event(aecl_engine::new_id);
            ("/v1/execute", &[("aecl-executor", "client")], serde_json::to_value(&event)?)
        }
    };
    let answer = post(server, path, &token, headers, &body, args.timeout)?;
    let decided = match agent {
        Agent::ClaudeCode => outcome_of(&answer).map(Decided::from),
        Agent::Codex | Agent::Gemini => execute_outcome(&answer).map(|(outcome, approval)| {
            Decided { outcome, approval: approval.map(|id| (id, server.to_owned())) }
        }),
    };
    decided.with_context(|| format!("the answer of aecl serve at {server}"))
}

/// The decision in an execute answer (a replay line with `approval_id`), as enforced, and
/// the approval request when the call waits for one.
fn execute_outcome(answer: &Value) -> Result<(HookOutcome, Option<String>)> {
    let field = |name: &str| answer[name].as_str().unwrap_or_default();
    let decided = match field("decision") {
        "allow" => Decision::Allow,
        "require_approval" => Decision::RequireApproval,
        "block" => Decision::Block,
        _ => bail!("no `decision` of `allow`, `require_approval` or `block` in {answer}"),
    };
    let decision = match field("mode") {
        "monitor" => Decision::Allow,
        "enforce" | "dry-run" => decided,
        _ => bail!("no `mode` of `enforce`, `monitor` or `dry-run` in {answer}"),
    };
    let deciding: Vec<String> = answer["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["decision"].as_str() == Some(decided.as_str()))
        .map(|r| {
            let text = |name: &str| r[name].as_str().unwrap_or_default().to_owned();
            format!("{}: {}", text("rule"), text("message"))
        })
        .collect();
    let mut outcome =
        HookOutcome::new(field("action"), decision, &deciding, field("policy_revision"));
    // An allow is this client's permission to run the call only when the server handed the
    // call over to it, now and once: an effect recorded `succeeded` with the hand-over
    // result, not a replay of an earlier one. An allow without it (a grant that another
    // retry spent, a dry run, a repeated id or key) runs nothing.
    if decision == Decision::Allow && !handed_over(answer) {
        outcome.decision = Decision::Block;
        outcome.reason = format!(
            "aecl did not hand `{}` over to this client to run (effect: {}; replayed: {}): \
             not run",
            field("action"),
            answer.get("effect").map_or_else(|| "none".to_owned(), Value::to_string),
            answer["replayed"].as_bool().unwrap_or(false)
        );
    }
    let approval = match (decision, answer["approval_id"].as_str()) {
        (Decision::RequireApproval, Some(id)) => Some(id.to_owned()),
        _ => None,
    };
    Ok((outcome, approval))
}

/// Whether an execute answer hands the call over to this client (`Aecl-Executor: client`).
fn handed_over(answer: &Value) -> bool {
    let effect = &answer["effect"];
    answer["replayed"].as_bool() == Some(false)
        && effect["state"].as_str() == Some("succeeded")
        && effect["result"] == serde_json::json!({ "executed_by": "client" })
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
fn answer(agent: Agent, decided: &Decided) -> Result<ExitCode> {
    let outcome = &decided.outcome;
    let (decision, reason) = match (agent, outcome.decision) {
        (Agent::Codex | Agent::Gemini, Decision::RequireApproval) => {
            let how = match &decided.approval {
                Some((id, server)) => format!(
                    "approval request {id} is filed: an approver answers it at {}/ui or with \
                     `aecl approvals approve {id}`, and then the same call is allowed once",
                    server.trim_end_matches('/')
                ),
                None => {
                    "with aecl serve (--server) it would be filed as an approval request".to_owned()
                }
            };
            let reason = format!(
                "{}. A person must approve this call and {}'s hook cannot ask, so it is denied; \
                 {how}",
                outcome.reason,
                agent.name()
            );
            (Decision::Block, reason)
        }
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
