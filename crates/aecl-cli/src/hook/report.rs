//! The events after the fact (`aecl hook AGENT` on a tool's output, the user's prompt, the
//! session's end): recorded in the session's file with `--policy`, or reported to `aecl
//! serve` with `--server`. Nothing here can stop what already happened, so a failure is
//! said on stdout (`systemMessage`) and stderr, and exits 0: an exit code 2 on a prompt
//! would drop the user's prompt.
//!
//! An output must never go unrecorded, since its values would later pass as the model's
//! own. One that cannot be recorded whole, because the hook input is over the stdin limit
//! or the result would not fit in the session file (`local::MAX_SESSION_BYTES`), is
//! recorded as far as it can be: its first [`local::MAX_LOST_OUTPUT_BYTES`] as untrusted,
//! marked as cut, after an `expired` event that makes the session fail closed. From then
//! on a control value the session cannot trace counts as untrusted (it may come from the
//! part that was not kept), as after any loss of history (`RunState::expire`).

use std::io::Write;
use std::process::ExitCode;

use aecl_policy::hook::{HookEvent, HookInput};
use aecl_policy::trace::TraceEvent;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::{Agent, HookArgs, local, policy_cache, post};
use crate::input::now;

/// The largest body sent to a server's hook endpoint whole: under `aecl serve`'s default
/// body limit (1 MiB) with room for the event's other fields. A larger output is sent as
/// its first [`SERVER_OUTPUT_BYTES`], marked as cut: refused whole (413), it went
/// unrecorded, and its values later passed as the model's own.
const SERVER_BODY_BYTES: usize = 768 * 1024;

/// Of an output too large to send whole, the bytes sent.
const SERVER_OUTPUT_BYTES: usize = 512 * 1024;

/// The events after the fact that `agent` sends (its other events are decided or refused):
/// the event, when `text` is one of them.
pub(super) fn after_the_fact(agent: Agent, text: &str) -> Option<HookEvent> {
    // Leniently: an output that is not valid JSON is still an event after the fact, to be
    // recorded (exit 0), not a call to deny.
    let name = HookInput::event_name(text)?;
    handled(agent, &name)
}

/// The event `name` when `agent` sends it after the fact.
fn handled(agent: Agent, name: &str) -> Option<HookEvent> {
    let handled: &[&str] = match agent {
        Agent::ClaudeCode => {
            &["PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "SessionEnd", "SessionStart"]
        }
        // Codex has no session end (`Stop` ends a turn, not the session).
        Agent::Codex => &["PostToolUse", "UserPromptSubmit"],
        Agent::Gemini => &["AfterTool", "BeforeAgent", "SessionEnd"],
    };
    handled.contains(&name).then(|| HookEvent::of(name)).flatten()
}

/// Whether `text` is an event of `agent`'s that neither asks for a decision nor carries
/// anything the model read (a turn's end, a notification, a compaction): answered `{}`,
/// exit 0. A deny (exit 2) there is not a refusal of anything: on Claude Code's `Stop` it
/// tells the model to go on (red team round 20, hooks).
pub(super) fn passed_over(agent: Agent, text: &str) -> bool {
    let passed: &[&str] = match agent {
        Agent::ClaudeCode => {
            &["Stop", "SubagentStop", "SubagentStart", "Notification", "PreCompact"]
        }
        Agent::Codex => &["Stop", "SessionStart"],
        Agent::Gemini => &[
            "AfterAgent",
            "BeforeModel",
            "AfterModel",
            "BeforeToolSelection",
            "SessionStart",
            "PreCompress",
            "Notification",
        ],
    };
    // Read as `HookInput::parse_event` reads: a member named twice is no event.
    !aecl_core::distinct::repeats_a_member(text.as_bytes())
        && serde_json::from_str::<Value>(text).is_ok_and(|input| {
            input["hook_event_name"].as_str().is_some_and(|name| passed.contains(&name))
        })
}

/// Reports an event after the fact: a tool's output, the user's prompt, the session's end.
/// With `--server`, to its hook endpoint, which records it in the session's run (and
/// records a call aecl never allowed as `unguarded`).
pub(super) fn report(agent: Agent, args: &HookArgs, text: &str, event: HookEvent) -> ExitCode {
    let recorded =
        HookInput::parse_event(text).map_err(anyhow::Error::from).and_then(|(input, _)| {
            let session = input.session_id.clone();
            record(agent, args, input, event, None)
                .map_err(|error| lost(args, &session, event, error))
        });
    answer_after(agent, recorded)
}

/// An output that could not be recorded (the policy did not load at that moment, the
/// session file could not be read or written): the session is marked as having lost
/// history, so that once the failure clears the values the output showed are not taken
/// for the model's own (red team round 20, hooks HK5: a page's URL was allowed after its
/// output went unrecorded). A session file that cannot be written either is said.
fn lost(args: &HookArgs, session: &str, event: HookEvent, error: anyhow::Error) -> anyhow::Error {
    if args.policy.is_none() || event != HookEvent::PostTool {
        return error;
    }
    let why = format!("an output could not be recorded: {error:#}");
    match lose_history(args, session, &why) {
        Ok(()) => error.context("the session is marked as having lost history"),
        Err(mark) => error
            .context(format!("marking the session as having lost history failed too: {mark:#}")),
    }
}

/// Answers an input over the stdin limit, of which `head` was read: an event after the
/// fact is recorded from its top-level fields, as far as it can be; anything else is
/// denied (exit code 2), and when its event cannot be told, the session is also made to
/// fail closed (it may have been an output).
pub(super) fn oversized(agent: Agent, args: &HookArgs, head: &str, limit: u64) -> Result<ExitCode> {
    let why = format!("the hook input is larger than {limit} bytes");
    let input = HookInput::salvage_head(head, &why);
    let event = input.as_ref().and_then(|i| handled(agent, &i.hook_event_name));
    let input = match (input, event) {
        (Some(input), Some(event)) => {
            let cut = Cut { head, why };
            return Ok(answer_after(agent, record(agent, args, input, event, Some(cut))));
        }
        (input, _) => input,
    };
    let mut reason = format!("aecl could not decide the call, so it is denied: {why}");
    // A call is denied and nothing ran; an event that cannot be told may have been an
    // output, whose values the session must not take for the model's own.
    let unknown_event = input.as_ref().is_none_or(|i| HookEvent::of(&i.hook_event_name).is_none());
    if let (Some(input), true, Some(_)) = (&input, unknown_event, &args.policy) {
        match lose_history(args, &input.session_id, &why) {
            Ok(()) => reason.push_str("; the session is marked as having lost history"),
            Err(error) => reason.push_str(&format!("; marking the session failed: {error:#}")),
        }
    }
    let outcome = aecl_policy::hook::HookOutcome { decision: aecl_core::Decision::Block, reason };
    super::answer(agent, &outcome.into())
}

/// An input that was cut: the part read, and why.
struct Cut<'a> {
    head: &'a str,
    why: String,
}

fn record(
    agent: Agent,
    args: &HookArgs,
    mut input: HookInput,
    event: HookEvent,
    cut: Option<Cut<'_>>,
) -> Result<Value> {
    if args.policy.is_some() {
        return report_locally(agent, args, input, event, cut);
    }
    if let Some(cut) = &cut {
        // The server keeps what it is given; the rest is said in the output itself.
        input.tool_response =
            Some(Value::String(local::marked_head(cut.head, &cut.why, SERVER_OUTPUT_BYTES)));
    }
    if serde_json::to_vec(&input).map_or(true, |body| body.len() > SERVER_BODY_BYTES)
        && let Some(output) = input.tool_response.take()
    {
        let text = match output {
            Value::String(text) => text,
            other => other.to_string(),
        };
        let why = format!("the output is larger than the {SERVER_BODY_BYTES} bytes sent whole");
        input.tool_response =
            Some(Value::String(local::marked_head(&text, &why, SERVER_OUTPUT_BYTES)));
    }
    report_to_server(args, &input)
}

fn answer_after(agent: Agent, recorded: Result<Value>) -> ExitCode {
    let answer = match recorded {
        Ok(answer) => answer,
        Err(error) => {
            let message = format!("aecl did not record the {} event: {error:#}", agent.name());
            #[expect(clippy::print_stderr, reason = "the agents show a hook's stderr")]
            {
                eprintln!("{message}");
            }
            json!({ "systemMessage": message })
        }
    };
    let mut out = std::io::stdout().lock();
    // Nothing is left to tell the agent if stdout is gone.
    let _ = serde_json::to_writer(&mut out, &answer)
        .and_then(|()| writeln!(out).and_then(|()| out.flush()).map_err(serde_json::Error::io));
    ExitCode::SUCCESS
}

/// Gemini CLI's `AfterTool` names no call id: the server links it to the call decided by
/// the tool and its input (`aecl_engine::hook_link`). Codex's input keeps its `turn_id`,
/// which tells the server its hook could not ask.
fn report_to_server(args: &HookArgs, input: &HookInput) -> Result<Value> {
    let Some(server) = &args.server else {
        bail!("give --policy DIR --agent ID, or --server URL");
    };
    let token = crate::agent_token::bearer(
        args.token_file.as_deref(),
        args.agent_key.as_deref(),
        args.agent.as_deref(),
    )?;
    let body = serde_json::to_value(input)?;
    post(server, "/v1/hooks/claude-code", &token, &[], &body, args.timeout)
}

/// Appends an `expired` event to the session's file: its history is no longer whole.
fn lose_history(args: &HookArgs, session: &str, why: &str) -> Result<()> {
    let dir = local::state_dir(args.state_dir.as_deref())?;
    let mut file = local::SessionFile::open(&dir, session)?;
    file.events()?;
    let expired = TraceEvent::Expired { run: session.to_owned(), reason: Some(why.to_owned()) };
    file.append(&[expired], 0)
}

/// Records an event after the fact in the session's file (`local`): a tool's output as a
/// `result` (unguarded when the file holds no allow or ask for its call), the user's
/// prompt as `user`, the session's end as `end`; an output that cannot be kept whole as
/// described in the module's comment.
fn report_locally(
    agent: Agent,
    args: &HookArgs,
    input: HookInput,
    event: HookEvent,
    cut: Option<Cut<'_>>,
) -> Result<Value> {
    let (Some(policy), Some(agent_id)) = (&args.policy, &args.agent) else {
        bail!("give --policy DIR --agent ID, or --server URL");
    };
    let dir = local::state_dir(args.state_dir.as_deref())?;
    let mut file = local::SessionFile::open(&dir, &input.session_id)?;
    let run = input.session_id.clone();
    let marker = |text: &str| match &cut {
        Some(cut) => local::marked_head(text, &cut.why, local::MAX_LOST_OUTPUT_BYTES),
        None => text.to_owned(),
    };
    let events = match event {
        HookEvent::UserPrompt => {
            let text = marker(input.prompt.as_deref().unwrap_or_default());
            if aecl_policy::hook::is_client_notification(&text) {
                let source = aecl_policy::hook::NOTIFICATION_SOURCE.to_owned();
                let content = Value::String(text);
                vec![TraceEvent::Untrusted { run, source, content, read: true }]
            } else {
                vec![TraceEvent::User { run, text }]
            }
        }
        // The session's history stays: Claude Code resumes a session under its id after
        // its end (`--resume`, `--continue`, each `claude -p` turn), with what its model
        // read back in context, so an `end` that dropped the run made the resumed session
        // a fresh one (red team round 20, HK1). `aecl serve` keeps a run past its end too.
        // Only the room kept for outputs goes back (below).
        HookEvent::SessionEnd => Vec::new(),
        // A session that continues a conversation (`--resume`, `--continue`, a fork under a
        // new id, a compaction) whose history this file does not hold: what its model read
        // before is back in its context, and none of it is known here (red team round 20,
        // HK1: a forked session started with no history and its injected `curl` ran).
        HookEvent::SessionStart => {
            let source = input.source.as_deref().unwrap_or("startup");
            let continues = !matches!(source, "startup" | "clear");
            if continues && file.events()?.is_empty() {
                let reason = format!(
                    "the session continues a conversation (`{source}`) whose history the hook \
                     does not hold"
                );
                vec![TraceEvent::Expired { run, reason: Some(reason) }]
            } else {
                Vec::new()
            }
        }
        HookEvent::PostTool => {
            return record_output(agent, agent_id, policy, &dir, file, input, cut);
        }
        HookEvent::PreTool => bail!("a PreToolUse is decided, not reported"),
    };
    // Checked before appending to a file that is over the cap or corrupt.
    file.events()?;
    // Never out of the room kept for the outputs the session awaits.
    let kept = file.kept()?;
    if !events.is_empty() {
        file.append(&events, kept)?;
    }
    if matches!(event, HookEvent::SessionEnd) {
        // No more outputs come: the room kept for them goes back to the disk.
        file.release()?;
    }
    Ok(json!({}))
}

/// Records a tool's output (`PostToolUse`): whole when it fits the session file and the
/// disk, else as one that could not be kept whole, in the room kept for it
/// (`local::lost_output`), which also makes the session fail closed.
fn record_output(
    agent: Agent,
    agent_id: &str,
    policy: &std::path::Path,
    dir: &std::path::Path,
    mut file: local::SessionFile,
    input: HookInput,
    cut: Option<Cut<'_>>,
) -> Result<Value> {
    let run = input.session_id.clone();
    let loaded = policy_cache::load(policy, dir)?;
    let history = super::saved::Saved::new(&loaded.policy, agent_id)
        .history(&mut file, loaded.runs, now())
        .with_context(|| format!("replaying the session file `{}`", file.path().display()))?;
    // Gemini CLI's AfterTool names no call: linked by the tool and its input.
    let linked;
    let id = match input.tool_use_id.as_deref().filter(|id| !id.is_empty()) {
        Some(id) => Some(id),
        None => {
            linked = history.link(&input.action(), &input.tool_input);
            linked.as_deref()
        }
    };
    let standing = match &input.unreadable {
        // Only the top-level fields could be read: the whole text is the output,
        // untrusted whatever the action's output rules say.
        Some(why) => local::Standing::Unguarded(format!("output not valid JSON: {why}")),
        None => history.standing(id, agent == Agent::ClaudeCode),
    };
    // The room other outputs awaited keep, whatever becomes of this one.
    let keep = history.room_to_keep(id);
    // The process ends with this report: not worth freeing a long history piece by piece.
    std::mem::forget(history);
    let output = input.tool_response.clone().unwrap_or(Value::Null);
    let whole = local::result_event(&run, id, &standing, output);
    let (why, head) = match cut {
        Some(cut) => (cut.why, cut.head.to_owned()),
        None => {
            let len = serde_json::to_vec(&whole).map_or(u64::MAX, |line| line.len() as u64 + 1);
            let why = if len > file.room()? {
                format!(
                    "the output would take the session file `{}` past its {} bytes",
                    file.path().display(),
                    local::MAX_SESSION_BYTES
                )
            } else {
                match file.append(std::slice::from_ref(&whole), keep) {
                    Ok(()) => {
                        let note = note(&input, id, &standing, &file);
                        return Ok(say(note));
                    }
                    Err(error) if error.is::<local::NoRoom>() => format!("{error:#}"),
                    Err(error) => return Err(error),
                }
            };
            let TraceEvent::Result { output, .. } = &whole else {
                bail!("a result event was expected")
            };
            (why, output.to_string())
        }
    };
    // As much of its start as the file's cap allows, else as the room kept for it holds.
    let room = file.room()?;
    let mut recorded = Err(anyhow::anyhow!("no room"));
    for room in [room, room.min(local::RESERVE_PER_OUTPUT)] {
        recorded = file.append(&local::lost_output(&run, id, &why, &head, room), keep);
        match &recorded {
            Err(error) if error.is::<local::NoRoom>() => continue,
            _ => break,
        }
    }
    if let Err(error) = recorded {
        // Not even its start fits: the session still learns that it lost an output, in the
        // smallest event there is, so that nothing it cannot trace passes as trusted.
        let why = format!("the output of `{}` could not be recorded: {error:#}", input.action());
        let expired = TraceEvent::Expired { run: run.clone(), reason: Some(why) };
        file.append(&[expired], 0).map_err(|last| last.context(error))?;
        return Ok(say(Some(format!(
            "aecl: the output of `{}` ({}) could not be recorded ({}): the session now counts \
             every control value it cannot trace as untrusted (start a new session to start over)",
            input.action(),
            id.unwrap_or("no call id"),
            file.path().display()
        ))));
    }
    let note = format!(
        "aecl: the output of `{}` ({}) could not be recorded whole ({why}): its start is \
         recorded as untrusted in `{}`, and the session now counts every control value it \
         cannot trace as untrusted (start a new session to start over)",
        input.action(),
        id.unwrap_or("no call id"),
        file.path().display()
    );
    Ok(say(Some(note)))
}

/// The answer to an event after the fact: `note`, if any, shown to the agent's user.
fn say(note: Option<String>) -> Value {
    let Some(note) = note else { return json!({}) };
    #[expect(clippy::print_stderr, reason = "the agents show a hook's stderr")]
    {
        eprintln!("{note}");
    }
    json!({ "systemMessage": note })
}

/// What the agent is told about a recorded output, if anything.
fn note(
    input: &HookInput,
    id: Option<&str>,
    standing: &local::Standing,
    file: &local::SessionFile,
) -> Option<String> {
    match standing {
        local::Standing::Unguarded(_) if let Some(why) = &input.unreadable => Some(format!(
            "aecl: the output of `{}` ({}) is not valid JSON ({why}): all of it is recorded as \
             untrusted in `{}`",
            input.action(),
            id.unwrap_or("no call id"),
            file.path().display()
        )),
        local::Standing::Unguarded(why) => Some(format!(
            "aecl: unguarded call: `{}` ({}) ran without aecl's allow ({why}); its output is \
             recorded as untrusted in `{}`",
            input.action(),
            id.unwrap_or("no call id"),
            file.path().display()
        )),
        local::Standing::ApprovedInClient => Some(format!(
            "aecl: `{}` ({}) needed approval and ran: recorded as approved_in_client by the \
             agent's user",
            input.action(),
            id.unwrap_or("no call id")
        )),
        local::Standing::Allowed => None,
    }
}
