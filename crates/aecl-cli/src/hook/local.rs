//! The local-mode hook's run state (`aecl hook AGENT --policy DIR --agent ID`): each
//! agent session is one append-only JSON Lines file in the `aecl replay` trace format,
//! so data flow across hook calls works without a server, and the file can be replayed.
//!
//! Each hook call is a fresh process, so the whole read-decide-append runs under an
//! exclusive `flock` of the session's file: two concurrent hook calls of one session see
//! each other's events, never a half of them. Every call replays the file's events into a
//! [`Replayer`] (from the state a recent call saved beside the file, when one fits it:
//! `saved`) and decides against that history.
//!
//! The file is named by the hex SHA-256 of the session id (an id like `../../x` names no
//! other path), in a directory of mode 0700, with mode 0600, opened without following a
//! link. It fails closed: a file over [`MAX_SESSION_BYTES`], a line that is not a trace
//! event, a directory others can write: the call is denied with the file named, and
//! history is never silently dropped.
//!
//! A disk that fills between a call and its output must not lose the output's taint: the
//! output's record would fail, and its values would later pass as the model's own. So each
//! call's line is appended only once the disk holds room past it for the outputs the session
//! awaits ([`RESERVE_PER_OUTPUT`] each, allocated with `fallocate`, the size kept): a call
//! the disk cannot hold that room for is denied, and an output that no longer fits whole is
//! recorded in its room as one that could not be kept whole (`report.rs`).
//!
//! After the fact: `PostToolUse` appends a `result` for the call it reports. The output
//! of a call the file holds no allow or ask for (never decided, blocked, or already
//! reported) is recorded as unguarded: a `result` under the id `unguarded:ID`, which no
//! call can bear (a call with such an id is denied), so the replay takes it as untrusted
//! output of an unknown tool. A result after an `ask` is the agent's user's approval in
//! the client (`approved_in_client`), said on stderr; the file shows it as the `ask`
//! call followed by its result.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use aecl_core::run_bounds::RunLimits;
use aecl_core::{Decision, Policy, Verdict};
use aecl_policy::replay::{Decided, Replayer};
use aecl_policy::trace::{CallEvent, TraceEvent, parse_event};
use anyhow::{Context, Result, anyhow, bail};
use nix::fcntl::{Flock, FlockArg, OFlag};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A session file larger than this denies every call: replaying it would be slow, and
/// cutting it would forget the history that makes values untrusted.
pub const MAX_SESSION_BYTES: u64 = 64 * 1024 * 1024;

/// The prefix of the id under which an unguarded call's output is recorded.
pub const UNGUARDED_PREFIX: &str = "unguarded:";

/// Of an output that cannot be recorded whole, at most this much of its start is kept.
pub const MAX_LOST_OUTPUT_BYTES: usize = 1024 * 1024;

/// Room kept on the disk past a session file's end for each output the session awaits:
/// enough for the record of an output that cannot be kept whole (`lost_output`).
pub const RESERVE_PER_OUTPUT: u64 = 128 * 1024;

/// Outputs the room is kept for at most (tools an agent runs in parallel await theirs
/// together).
pub const MAX_RESERVED_OUTPUTS: u64 = 16;

/// The state directory: `--state-dir`, else `$AECL_STATE_DIR`, else
/// `$XDG_STATE_HOME/aecl/hooks`, else `~/.local/state/aecl/hooks`.
pub fn state_dir(arg: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = arg {
        return Ok(dir.to_owned());
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("AECL_STATE_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_STATE_HOME").filter(|d| d.is_absolute()) {
        return Ok(dir.join("aecl/hooks"));
    }
    let home = var("HOME").ok_or_else(|| {
        anyhow!("no state directory: give --state-dir, AECL_STATE_DIR, XDG_STATE_HOME or HOME")
    })?;
    Ok(home.join(".local/state/aecl/hooks"))
}

/// The file name of a session: the hex SHA-256 of its id.
pub fn file_name(session_id: &str) -> String {
    let digest = Sha256::digest(session_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.jsonl")
}

/// A session's file, locked for as long as this lives.
pub struct SessionFile {
    file: Flock<File>,
    path: PathBuf,
}

impl SessionFile {
    /// Opens (creating) the file of `session_id` under `dir` and locks it exclusively.
    pub fn open(dir: &Path, session_id: &str) -> Result<SessionFile> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the state directory `{}`", dir.display()))?;
        let meta = std::fs::metadata(dir)
            .with_context(|| format!("reading the state directory `{}`", dir.display()))?;
        if meta.mode() & 0o022 != 0 {
            bail!(
                "the state directory `{}` is writable by others (mode {:o}): its session files \
                 could be replaced",
                dir.display(),
                meta.mode() & 0o777
            );
        }
        let path = dir.join(file_name(session_id));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path)
            .with_context(|| format!("opening the session file `{}`", path.display()))?;
        let file = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| {
            anyhow!("locking the session file `{}`: {errno}", path.display())
        })?;
        Ok(SessionFile { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's events, checked: size under the cap, every line a trace event.
    pub fn events(&mut self) -> Result<Vec<TraceEvent>> {
        Ok(self.events_from(Position::START)?.0)
    }

    /// The file's events from `from` on, checked as [`SessionFile::events`] checks them,
    /// and where the file ended.
    pub fn events_from(&mut self, from: Position) -> Result<(Vec<TraceEvent>, Position)> {
        let path = self.path.display().to_string();
        let size = self.file.metadata().with_context(|| format!("reading `{path}`"))?.len();
        if size > MAX_SESSION_BYTES {
            bail!(
                "the session file `{path}` holds {size} bytes, over the {MAX_SESSION_BYTES} \
                 bytes aecl replays: its history cannot be kept, so no call is decided (end \
                 the session, or move the file away to start over knowingly)"
            );
        }
        let mut text = String::new();
        self.file
            .seek(SeekFrom::Start(from.offset))
            .with_context(|| format!("reading `{path}`"))?;
        (&*self.file)
            .take(MAX_SESSION_BYTES + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("reading the session file `{path}`"))?;
        let mut events = Vec::new();
        let mut lines = from.lines;
        for line in text.split_inclusive('\n') {
            lines += 1;
            if !line.ends_with('\n') {
                bail!("the session file `{path}` is corrupt: line {lines} is cut short");
            }
            if line.trim().is_empty() {
                continue;
            }
            let event = parse_event(line, lines)
                .map_err(|e| anyhow!("the session file `{path}` is corrupt: {e}"))?;
            events.push(event);
        }
        let end = Position {
            offset: from.offset + text.len() as u64,
            lines,
            events: from.events + events.len(),
        };
        Ok((events, end))
    }

    /// The file's metadata.
    pub fn metadata(&self) -> Result<std::fs::Metadata> {
        self.file.metadata().with_context(|| format!("reading `{}`", self.path.display()))
    }

    /// `digest` fed the file's bytes from `start` to `end`: with a fresh SHA-256 and
    /// `start` 0, what a saved state checks that the file it was made of is still this one
    /// (`saved`); a digest of a prefix already checked is carried on over the rest.
    pub fn digest(&self, mut digest: Sha256, start: u64, end: u64) -> Result<Sha256> {
        use std::os::unix::fs::FileExt;
        let context = || format!("reading `{}`", self.path.display());
        let mut buffer = vec![0; 64 * 1024];
        // Positioned reads: the file's own offset is not moved.
        let mut at = start;
        while at < end {
            let want = usize::try_from((end - at).min(buffer.len() as u64))?;
            let chunk = buffer.get_mut(..want).ok_or_else(|| anyhow!("a chunk past the buffer"))?;
            self.file.read_exact_at(chunk, at).with_context(context)?;
            digest.update(&*chunk);
            at += want as u64;
        }
        Ok(digest)
    }

    /// Bytes the file may still grow by before it is over [`MAX_SESSION_BYTES`].
    pub fn room(&self) -> Result<u64> {
        let size = self
            .file
            .metadata()
            .with_context(|| format!("reading `{}`", self.path.display()))?
            .len();
        Ok(MAX_SESSION_BYTES.saturating_sub(size))
    }

    /// Appends `events`, a line each, in one write flushed to disk, once the disk holds
    /// `keep` more bytes past them (allocated, the file's size unchanged): a disk without
    /// that room is [`NoRoom`], and nothing is written.
    ///
    /// All or nothing: a write that fails part way (a full disk where room cannot be
    /// allocated ahead) is cut off again, so the file never keeps half a line, which would
    /// deny every later call of the session as corrupt even once the disk has room.
    pub fn append(&mut self, events: &[TraceEvent], keep: u64) -> Result<()> {
        let mut lines = Vec::new();
        for event in events {
            serde_json::to_writer(&mut lines, event)?;
            lines.push(b'\n');
        }
        let context = || format!("appending to the session file `{}`", self.path.display());
        let meta = self.file.metadata().with_context(context)?;
        let before = meta.len();
        self.allocate(&meta, lines.len() as u64 + keep)?;
        let written = self.file.write_all(&lines).and_then(|()| self.file.sync_data());
        if let Err(error) = written {
            // Under the session's lock: no other hook call appended since `before`.
            let _ = self.file.set_len(before);
            let errno = error.raw_os_error().map(nix::errno::Errno::from_raw);
            if matches!(errno, Some(nix::errno::Errno::ENOSPC | nix::errno::Errno::EDQUOT)) {
                return Err(NoRoom(format!("{}: {error}", context())).into());
            }
            return Err(error).with_context(context);
        }
        Ok(())
    }

    /// Allocates `len` bytes from the file's end (`meta`, read now) without changing its
    /// size, so that writing there cannot fail for room. A file system that cannot
    /// allocate ahead (`EOPNOTSUPP`: some network and FUSE file systems) is written without.
    ///
    /// Only what lies past the room already allocated is asked for: a failed `fallocate`
    /// may give back what it covered (tmpfs frees every page of its range not yet written),
    /// and the room kept earlier is what an output that no longer fits is recorded in. The
    /// file is written in order, so its blocks are its bytes and then that room.
    fn allocate(&self, meta: &std::fs::Metadata, len: u64) -> Result<()> {
        use nix::errno::Errno;
        use nix::fcntl::{FallocateFlags, fallocate};
        let (offset, allocated) = (meta.len(), meta.blocks().saturating_mul(512));
        let end = offset.saturating_add(len);
        let start = offset.max(allocated);
        if start >= end {
            return Ok(());
        }
        let (Ok(start), Ok(more)) = (i64::try_from(start), i64::try_from(end - start)) else {
            bail!("a session file offset over i64");
        };
        match fallocate(&*self.file, FallocateFlags::FALLOC_FL_KEEP_SIZE, start, more) {
            Ok(()) | Err(Errno::EOPNOTSUPP) => Ok(()),
            Err(errno @ (Errno::ENOSPC | Errno::EDQUOT | Errno::EFBIG)) => Err(NoRoom(format!(
                "the disk of the session file `{}` has no room for {len} more bytes (the \
                 call's line and the outputs the session awaits): {errno}",
                self.path.display()
            ))
            .into()),
            Err(errno) => Err(anyhow!(
                "allocating room in the session file `{}`: {errno}",
                self.path.display()
            )),
        }
    }

    /// The room allocated past the file's end now: an append that must not use it up
    /// (the user's prompt, the session's end) keeps it.
    pub fn kept(&self) -> Result<u64> {
        let meta = self.file.metadata()?;
        Ok(meta.blocks().saturating_mul(512).saturating_sub(meta.len()))
    }

    /// Gives back the room allocated past the file's end (at the session's end).
    pub fn release(&mut self) -> Result<()> {
        let size = self.file.metadata()?.len();
        self.file
            .set_len(size)
            .with_context(|| format!("releasing room of `{}`", self.path.display()))
    }
}

/// A place in a session file between two lines: its byte offset, and the lines and the
/// events (lines that are not blank) before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub offset: u64,
    pub lines: usize,
    pub events: usize,
}

impl Position {
    pub const START: Position = Position { offset: 0, lines: 0, events: 0 };
}

/// The disk has no room for an append: nothing of it was written.
#[derive(Debug)]
pub struct NoRoom(String);

impl std::fmt::Display for NoRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoRoom {}

/// A session's history replayed: the replayer, and what became of each call id.
pub struct History<'p> {
    pub replayer: Replayer<'p>,
    /// The enforced decision of each call id, and whether its result is recorded.
    calls: BTreeMap<String, (Decision, bool)>,
    /// Every decided call in order: id, action, canonical JSON of its arguments.
    order: Vec<(String, String, String)>,
    /// Whether a call of the file had no recorded verdict and was decided by this replay
    /// (a file older than `decided` events): its state then depends on this call's policy
    /// and clock, and is not saved.
    pub decided_anew: bool,
}

/// What a [`History`] makes of its events, to be written down (`saved`).
#[derive(Serialize)]
pub struct HistoryRef<'h> {
    replay: &'h aecl_policy::replay::ReplayState,
    calls: &'h BTreeMap<String, (Decision, bool)>,
    order: &'h [(String, String, String)],
}

/// A [`HistoryRef`] read back.
#[derive(Deserialize)]
pub struct SavedHistory {
    replay: aecl_policy::replay::ReplayState,
    calls: BTreeMap<String, (Decision, bool)>,
    order: Vec<(String, String, String)>,
}

impl SavedHistory {
    /// The bounds its runs were kept under.
    pub fn limits(&self) -> RunLimits {
        self.replay.limits()
    }
}

impl<'p> History<'p> {
    /// Replays `events` against `policy` for `agent`.
    pub fn replay(
        policy: &'p Policy,
        limits: RunLimits,
        agent: &str,
        now: aecl_core::Timestamp,
        events: &[TraceEvent],
    ) -> Result<History<'p>> {
        let replayer = Replayer::new(policy, Some(agent.to_owned()), now).with_limits(limits);
        let mut history =
            History { replayer, calls: BTreeMap::new(), order: Vec::new(), decided_anew: false };
        history.replay_more(events, 0)?;
        Ok(history)
    }

    /// Goes on from a history saved after replaying the same file with `policy` for `agent`.
    pub fn resume(
        policy: &'p Policy,
        agent: &str,
        now: aecl_core::Timestamp,
        saved: SavedHistory,
    ) -> History<'p> {
        let SavedHistory { replay, calls, order } = saved;
        let replayer = Replayer::resume(policy, Some(agent.to_owned()), now, replay);
        History { replayer, calls, order, decided_anew: false }
    }

    /// What this history has made of its events, to be written down.
    pub fn saved(&self) -> HistoryRef<'_> {
        HistoryRef { replay: self.replayer.state(), calls: &self.calls, order: &self.order }
    }

    /// Replays `events`, the ones after the first `before` events of the file.
    pub fn replay_more(&mut self, events: &[TraceEvent], before: usize) -> Result<()> {
        let mut events = events.iter().enumerate().map(|(i, e)| (i + before, e)).peekable();
        while let Some((index, event)) = events.next() {
            // A call followed by its `decided` event is recorded with the verdict it got
            // then (the engine's rule: a run's past is never decided again). A call with
            // none (a file older than these events) is decided now, as it was before.
            if let TraceEvent::Call(call) = event
                && let Some((_, TraceEvent::Decided { run, id, decision, mode, replay_of })) =
                    events.peek()
                && (run, id) == (&call.run, &call.id)
            {
                let Some(verdict) = Verdict::parse_recorded(decision, mode, replay_of.clone())
                else {
                    bail!(
                        "event {}: call `{id}` decided `{decision}` in mode `{mode}`, a verdict \
                         aecl does not know",
                        index + 2
                    );
                };
                events.next();
                let decided =
                    self.replayer.apply_recorded(call, verdict).map_err(|e| anyhow!(e))?;
                self.note(event, Some(&decided));
                continue;
            }
            if let TraceEvent::Decided { id, .. } = event {
                bail!(
                    "event {}: a decision of call `{id}` that does not follow the call",
                    index + 1
                );
            }
            if matches!(event, TraceEvent::Call(_)) {
                self.decided_anew = true;
            }
            self.apply(event)?;
        }
        Ok(())
    }

    /// Applies one event, keeping track of the calls.
    pub fn apply(&mut self, event: &TraceEvent) -> Result<Option<Decided>> {
        let decided = self.replayer.apply(event).map_err(|e| anyhow!(e))?;
        self.note(event, decided.as_ref());
        Ok(decided)
    }

    /// Keeps track of the calls: `event` was applied and gave `decided`.
    fn note(&mut self, event: &TraceEvent, decided: Option<&Decided>) {
        match event {
            TraceEvent::Result { id, .. } => {
                // An output recorded as unguarded (one that could not be kept whole among
                // them) is its call's output too: the call awaits none any more.
                let id = id.strip_prefix(UNGUARDED_PREFIX).unwrap_or(id);
                if let Some(call) = self.calls.get_mut(id) {
                    call.1 = true;
                }
            }
            TraceEvent::Call(call) => {
                if let Some(decided) = decided {
                    self.calls
                        .insert(call.id.clone(), (decided.verdict.enforced_decision(), false));
                    let args = aecl_core::canonical::canonical_json(&call.args);
                    self.order.push((call.id.clone(), call.action.clone(), args));
                }
            }
            _ => {}
        }
    }

    /// The call an output of `action` with `args` belongs to when the agent names none
    /// (Gemini CLI's `AfterTool`): of the calls with that action and those arguments
    /// (canonical JSON) that aecl allowed or asked about and that have no result yet, the
    /// oldest. `aecl_engine::hook_link` is the server's same rule.
    pub fn link(&self, action: &str, args: &Value) -> Option<String> {
        let args = match args {
            Value::Null => Value::Object(serde_json::Map::new()),
            other => other.clone(),
        };
        let wanted = aecl_core::canonical::canonical_json(&args);
        self.order
            .iter()
            .filter(|(_, a, c)| a == action && *c == wanted)
            .map(|(id, ..)| id)
            .find(|id| {
                matches!(
                    self.calls.get(id.as_str()),
                    Some((Decision::Allow | Decision::RequireApproval, false))
                )
            })
            .cloned()
    }

    /// The room to keep on the disk for the outputs this session awaits, other than
    /// `except`'s: one [`RESERVE_PER_OUTPUT`] for each of the last calls that aecl allowed
    /// or asked about and whose output is not recorded yet.
    /// Only the last [`MAX_RESERVED_OUTPUTS`] calls count: a call the user refused in the
    /// client never reports an output, and must not hold room for good.
    pub fn room_to_keep(&self, except: Option<&str>) -> u64 {
        let window = usize::try_from(MAX_RESERVED_OUTPUTS).unwrap_or(usize::MAX);
        let awaited = self
            .order
            .iter()
            .rev()
            .take(window)
            .filter(|(id, ..)| Some(id.as_str()) != except)
            .filter(|(id, ..)| {
                matches!(
                    self.calls.get(id.as_str()),
                    Some((Decision::Allow | Decision::RequireApproval, false))
                )
            })
            .count() as u64;
        awaited.min(MAX_RESERVED_OUTPUTS) * RESERVE_PER_OUTPUT
    }

    /// How an output reported for call `id` stands; `can_ask`: the agent's hook answers
    /// `ask` (Claude Code), so an output after one is its user's approval. Codex's and
    /// Gemini CLI's hooks were answered `deny` instead: an output after one ran unguarded.
    pub fn standing(&self, id: Option<&str>, can_ask: bool) -> Standing {
        match id.and_then(|id| self.calls.get(id)) {
            None => Standing::Unguarded("aecl never decided this call".to_owned()),
            Some((_, true)) => {
                Standing::Unguarded("the result of this call is already recorded".to_owned())
            }
            Some((Decision::Block, false)) => {
                Standing::Unguarded("aecl denied this call, and it ran".to_owned())
            }
            Some((Decision::RequireApproval, false)) if can_ask => Standing::ApprovedInClient,
            Some((Decision::RequireApproval, false)) => Standing::Unguarded(
                "it needed approval, which this agent's hook cannot ask: aecl denied it, and it ran"
                    .to_owned(),
            ),
            Some((Decision::Allow, false)) => Standing::Allowed,
        }
    }
}

/// How a reported output relates to the session's decided calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Allowed,
    /// It needed approval (`ask`) and ran: the agent's user approved it.
    ApprovedInClient,
    /// It ran without aecl's allow (why).
    Unguarded(String),
}

/// The `result` event that records an output of `standing`: under the call's id, or under
/// `unguarded:ID` (never a call's id) so that it counts as untrusted output.
pub fn result_event(run: &str, id: Option<&str>, standing: &Standing, output: Value) -> TraceEvent {
    let id = id.unwrap_or("(no call id)");
    let id = match standing {
        Standing::Unguarded(_) => format!("{UNGUARDED_PREFIX}{id}"),
        Standing::Allowed | Standing::ApprovedInClient => id.to_owned(),
    };
    TraceEvent::Result { run: run.to_owned(), id, output }
}

/// The events that record an output of call `id` that cannot be kept whole (`why`), of
/// which `head` is the start: an `expired` event, after which the session counts every
/// control value it cannot trace as untrusted, then as much of the head as fits in `room`
/// bytes (at most [`MAX_LOST_OUTPUT_BYTES`]), marked as cut, as an unguarded output
/// (untrusted). Their lines take at most `room` bytes when `room` holds a head of nothing.
pub fn lost_output(
    run: &str,
    id: Option<&str>,
    why: &str,
    head: &str,
    room: u64,
) -> Vec<TraceEvent> {
    let expired = TraceEvent::Expired {
        run: run.to_owned(),
        reason: Some(format!(
            "the output of call `{}` could not be recorded whole: {why}",
            id.unwrap_or("(no call id)")
        )),
    };
    let standing = Standing::Unguarded(why.to_owned());
    let line =
        |event: &TraceEvent| serde_json::to_vec(event).map_or(u64::MAX, |l| l.len() as u64 + 1);
    let room = room.saturating_sub(line(&expired));
    // JSON spells a byte in one to six: cut down until the line fits, in a few steps.
    let mut max = MAX_LOST_OUTPUT_BYTES.min(usize::try_from(room).unwrap_or(usize::MAX));
    loop {
        let result = result_event(run, id, &standing, Value::String(marked_head(head, why, max)));
        let len = line(&result);
        if len <= room || max == 0 {
            return vec![expired, result];
        }
        let scaled = u128::from(room) * max as u128 / u128::from(len);
        max = usize::try_from(scaled).unwrap_or(0).min(max - 1);
    }
}

/// The first `max` bytes of `text` (at a character boundary) followed by a marker saying
/// the rest was not kept, and why.
pub fn marked_head(text: &str, why: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = text.get(..end).unwrap_or_default();
    format!(
        "{head}\n[aecl: cut after {end} of {} bytes read: {why}; the rest was not recorded]",
        text.len()
    )
}

/// Refuses a call whose id would read as an unguarded output's marker.
pub fn check_call_id(event: &CallEvent) -> Result<()> {
    if event.id.starts_with(UNGUARDED_PREFIX) {
        bail!("a call id may not start with `{UNGUARDED_PREFIX}` (the mark of unguarded outputs)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_that_cannot_be_kept_whole_expires_the_run_and_keeps_its_start_marked() {
        let head = "é".repeat(MAX_LOST_OUTPUT_BYTES);
        let events = lost_output("r", Some("t1"), "too large", &head, MAX_SESSION_BYTES);
        let [TraceEvent::Expired { reason, .. }, TraceEvent::Result { id, output, .. }] =
            events.as_slice()
        else {
            panic!("{events:?}")
        };
        assert!(reason.as_deref().unwrap_or_default().contains("too large"));
        assert_eq!(id, "unguarded:t1");
        let text = output.as_str().unwrap();
        assert!(text.len() <= MAX_LOST_OUTPUT_BYTES + 200, "{}", text.len());
        assert!(text.ends_with("too large; the rest was not recorded]"), "cut at a character");
        // A file with little room keeps less of it, never past the cap.
        let events = lost_output("r", None, "x", &head, 4096);
        let size: usize = events.iter().map(|e| serde_json::to_vec(e).unwrap().len() + 1).sum();
        assert!(size <= 4096, "{size}");
    }

    #[test]
    fn session_file_names_are_fixed_length_hex_whatever_the_id() {
        for id in ["../../etc/passwd", "a/b", "", "\0", "x".repeat(5000).as_str()] {
            let name = file_name(id);
            assert_eq!(name.len(), 64 + ".jsonl".len(), "{name}");
            assert!(name.trim_end_matches(".jsonl").chars().all(|c| c.is_ascii_hexdigit()));
        }
        assert_ne!(file_name("a"), file_name("b"));
    }
}
