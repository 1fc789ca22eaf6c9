//! A session's replayed state kept beside its file, so that a hook call replays only the
//! events appended since, not the session from its start.
//!
//! Every local hook call decides against the whole session (`local`): replaying the file
//! from its start made a call's cost grow with the session, most of all with the outputs
//! it read (each indexed again for data flow at every call). Now a call that replays more
//! than [`REPLAY_AT_MOST`] events writes what the replay made of them
//! ([`local::History`]: every open run's state, whole) to `HASH.state` beside `HASH.jsonl`,
//! with where in the file it ends; the next call starts from it and replays the rest.
//!
//! # Soundness
//!
//! A state is used only where it is what replaying the file's first bytes would make now:
//! - its key hashes the executable that wrote it, the policy's revision and the agent id,
//!   so another binary, policy or agent replays in full;
//! - it names the session file's device and inode, the length it was made of, and the
//!   SHA-256 of the file's bytes up to that length: a file replaced, cut short or changed
//!   anywhere does not match (and its replay then fails closed on what changed, as it did
//!   before states were kept). Hashing the file costs a few cycles a byte, against
//!   thousands to replay it. The file is only ever appended to, under the session's lock,
//!   which is held while the state is read and written;
//! - a history that decided a call anew (a file without `decided` events) is not saved:
//!   what it made depends on the clock;
//! - it is a private file (`private_file`): in the 0700 state directory that `state_guard`
//!   keeps every tool call away from, 0600, this user's, not a link. Whoever can write it
//!   can as well rewrite the session's file, so it claims no more than the file does.
//!
//! Anything else (no state, a stale one, one that does not parse, a replay of the rest
//! that fails) is a full replay, as before: a bad state costs time, never history. A
//! state is not synced: after a crash the file, which is, is replayed.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use aecl_core::run_bounds::RunLimits;
use aecl_core::{Policy, Timestamp};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::local::{self, History, Position, SavedHistory, SessionFile};
use super::private_file::{self, field};

/// The first line of a state file, naming its format.
const MAGIC: &str = "aecl-session-state v1";

/// Events a call replays past the saved state before it saves one anew: a call then
/// replays a bounded number of events, and a state is written every few calls.
pub const REPLAY_AT_MOST: usize = 8;

/// The largest state read: the state of a session file at its cap holds its texts and
/// their words, a few times the file.
const MAX_STATE_BYTES: u64 = 4 * local::MAX_SESSION_BYTES;

/// What a state was made of: checked against the session's file before it is used.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    key: String,
    dev: u64,
    ino: u64,
    /// Where in the file the replay ended.
    end: Position,
    /// SHA-256 of the file's bytes before `end`, in hex.
    digest: String,
}

/// How the calls of one policy and agent find and check their saved states.
pub struct Saved<'a> {
    policy: &'a Policy,
    agent: &'a str,
    /// `None` when the executable cannot be identified: nothing is saved or read.
    key: Option<String>,
}

impl<'a> Saved<'a> {
    pub fn new(policy: &'a Policy, agent: &'a str) -> Saved<'a> {
        let mut hash = Sha256::new();
        field(&mut hash, MAGIC.as_bytes());
        let key = private_file::hash_executable(&mut hash).map(|()| {
            field(&mut hash, policy.revision.0.as_bytes());
            field(&mut hash, agent.as_bytes());
            aecl_core::call::hex(&hash.finalize())
        });
        Saved { policy, agent, key }
    }

    /// The session's history: from its saved state and the events after it when there is
    /// a sound one, else replayed in full; saved anew when the replay was long.
    pub fn history(
        &self,
        file: &mut SessionFile,
        limits: RunLimits,
        now: Timestamp,
    ) -> Result<History<'a>> {
        let (policy, agent) = (self.policy, self.agent);
        if let Some((saved, from, prefix)) = self.read(file, limits) {
            let mut history = History::resume(policy, agent, now, saved);
            // A rest that does not replay is replayed again from the start, where an error
            // is the file's and reported as such.
            if let Ok((events, end)) = file.events_from(from)
                && history.replay_more(&events, from.events).is_ok()
            {
                if events.len() > REPLAY_AT_MOST {
                    self.write(file, &history, end, (prefix, from.offset));
                }
                std::mem::forget(events);
                return Ok(history);
            }
        }
        let (events, end) = file.events_from(Position::START)?;
        let history = History::replay(policy, limits, agent, now, &events)?;
        if events.len() > REPLAY_AT_MOST {
            self.write(file, &history, end, (Sha256::new(), 0));
        }
        // The process ends with this call: freeing a long session's events one piece at a
        // time would cost more than deciding the call did.
        std::mem::forget(events);
        Ok(history)
    }

    /// The saved state of `file`'s session, where it ends, and the digest of the file up to
    /// there (not finished, to be carried on), if there is a sound one.
    fn read(
        &self,
        file: &SessionFile,
        limits: RunLimits,
    ) -> Option<(SavedHistory, Position, Sha256)> {
        let key = self.key.as_deref()?;
        let path = state_path(file.path());
        let text = private_file::read(path.parent()?, &path, MAX_STATE_BYTES)?;
        let mut lines = text.splitn(3, '\n');
        let (Some(MAGIC), Some(header), Some(body)) = (lines.next(), lines.next(), lines.next())
        else {
            return None;
        };
        let header: Header = serde_json::from_str(header).ok()?;
        let meta = file.metadata().ok()?;
        if header.key != key
            || (header.dev, header.ino) != (meta.dev(), meta.ino())
            || header.end.offset > meta.len()
        {
            return None;
        }
        let digest = file.digest(Sha256::new(), 0, header.end.offset).ok()?;
        if aecl_core::call::hex(&digest.clone().finalize()) != header.digest {
            return None;
        }
        let saved: SavedHistory = serde_json::from_str(body).ok()?;
        (saved.limits() == limits).then_some((saved, header.end, digest))
    }

    /// Saves `history`, the replay of `file` up to `end`; `prefix` is the digest of the
    /// file's bytes up to an offset (checked when the state it goes on from was read), so
    /// that only the rest is read again. A state that cannot be written costs the next call
    /// a longer replay, nothing more.
    fn write(
        &self,
        file: &SessionFile,
        history: &History<'_>,
        end: Position,
        prefix: (Sha256, u64),
    ) {
        if history.decided_anew {
            return;
        }
        let written = (|| -> Result<()> {
            let Some(key) = self.key.clone() else { return Ok(()) };
            let meta = file.metadata()?;
            let (digest, from) = prefix;
            let digest = aecl_core::call::hex(&file.digest(digest, from, end.offset)?.finalize());
            let header = Header { key, dev: meta.dev(), ino: meta.ino(), end, digest };
            let mut text = format!("{MAGIC}\n").into_bytes();
            serde_json::to_writer(&mut text, &header)?;
            text.push(b'\n');
            serde_json::to_writer(&mut text, &history.saved())?;
            let path = state_path(file.path());
            let dir = path.parent().unwrap_or(Path::new("."));
            private_file::write(dir, &path, &text)
        })();
        if let Err(error) = written {
            tracing::debug!("the session's state was not saved: {error:#}");
        }
    }
}

/// The state file of the session file at `session`: `HASH.state` beside `HASH.jsonl`.
pub fn state_path(session: &Path) -> PathBuf {
    session.with_extension("state")
}
