//! Reconciliation of `fs` effects (see `crate::reconcile`): before a write, delete or move
//! changes anything, the connector records its intent — the rollback token the change will
//! return, which names the paths and the content hashes before and after — as
//! `undo_dir/EFFECT/intent`, created exclusively and synced, after the pre-image is kept.
//! After a crash, the intent and the files tell what happened:
//!
//! - no intent (or one cut short): nothing was changed. A fence (`intent` holding `fence`) is created in its
//!   place, so that the change, were it still to come, fails at its own intent record;
//! - the state the intent names after the change (the written content, the deleted path
//!   absent, the moved file at its destination): it landed, and the intent is its token;
//! - the state before it: it did not land;
//! - anything else (someone changed the file since): undecidable.
//!
//! Only the undo directory is written (the fence); the roots are only read, beneath their
//! handles.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use aecl_engine::Reconciled;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt as _};
use serde_json::{Value, json};

use super::{FsConnector, FsToken, MAX_PREIMAGE_BYTES, sha256_hex};
use crate::reconcile::undecidable;

/// The intent file of an effect, in its folder of `undo_dir`.
const INTENT: &str = "intent";
/// What a fence's intent file holds.
const FENCE: &str = "fence";
/// The largest intent file read back (a token names two paths and three hashes).
const MAX_INTENT_BYTES: u64 = 64 * 1024;

impl FsConnector {
    /// Records the intent of `effect` (`token`, what the change will return) before the
    /// change. Fails when the file exists: a reconciliation fenced the effect (or the
    /// effect already ran), and nothing may be changed.
    pub(super) fn intend(&self, effect: &str, token: &FsToken) -> Result<(), String> {
        let text = serde_json::to_string(token).map_err(|e| e.to_string())?;
        let (dir, rel) = self.intent_file(effect)?;
        let mut file = dir.open_with(&rel, &private_new()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!(
                    "effect `{effect}` already has an intent record (fenced by a \
                     reconciliation?); nothing was done"
                )
            } else {
                format!("recording the intent: {e}")
            }
        })?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("recording the intent: {e}"))
    }

    /// Whether the change of `effect` landed (see the module documentation).
    pub(super) fn reconcile_effect(&self, effect: &str) -> Reconciled {
        match self.judge(effect) {
            Ok(found) => found,
            Err(error) => undecidable(&error),
        }
    }

    fn judge(&self, effect: &str) -> Result<Reconciled, String> {
        let (dir, rel) = self.intent_file(effect)?;
        match dir.open_with(&rel, &private_new()) {
            Ok(mut file) => {
                file.write_all(FENCE.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| format!("writing the fence: {e}"))?;
                return Ok(not_landed(json!({ "intent": "absent", "fence": "written" })));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("fencing the effect: {e}")),
        }
        let mut text = String::new();
        dir.open(&rel)
            .map_err(|e| format!("reading the intent: {e}"))?
            .take(MAX_INTENT_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| format!("reading the intent: {e}"))?;
        if text == FENCE {
            return Ok(not_landed(json!({ "intent": "absent", "fence": "found" })));
        }
        // The intent is written and synced before anything changes: one cut short means
        // the change never started.
        let Ok(token) = serde_json::from_str::<FsToken>(&text) else {
            return Ok(not_landed(json!({ "intent": "incomplete", "files": "untouched" })));
        };
        let landed = |result: Value, state: &str| Reconciled::Landed {
            result,
            rollback_token: Some(text.clone()),
            evidence: json!({ "intent": "found", "files": state }),
        };
        let before = |state: &str| not_landed(json!({ "intent": "found", "files": state }));
        let neither = |path: &Path| {
            undecidable(&format!(
                "`{}` holds neither what the change left nor what was there before \
                 (changed since?)",
                path.display()
            ))
        };
        Ok(match &token {
            FsToken::Write { path, before_sha256, after_sha256, .. } => {
                let now = self.digest_at(path)?;
                if now.as_ref() == Some(after_sha256) {
                    let bytes = self.size_at(path)?;
                    landed(json!({ "path": path, "bytes": bytes }), "the intended content")
                } else if now == *before_sha256 {
                    before("the previous content")
                } else {
                    neither(path)
                }
            }
            FsToken::Delete { path, before_sha256, .. } => match self.digest_at(path)? {
                None => landed(json!({ "path": path, "deleted": true }), "the file is gone"),
                Some(now) if now == *before_sha256 => before("the file is still there"),
                Some(_) => neither(path),
            },
            FsToken::Move { from, to, sha256 } => {
                match (self.digest_at(from)?, self.digest_at(to)?) {
                    (None, Some(at_to)) if at_to == *sha256 => {
                        landed(json!({ "from": from, "to": to }), "the file is at its destination")
                    }
                    (Some(at_from), None) if at_from == *sha256 => {
                        before("the file is still at its source")
                    }
                    _ => neither(from),
                }
            }
        })
    }

    /// A handle on the folder of `effect` in `undo_dir` (made if missing, private) and the
    /// intent file's name in it; through the store's handle, never by path.
    fn intent_file(&self, effect: &str) -> Result<(Dir, PathBuf), String> {
        Ok((self.undo.effect_dir(effect)?, PathBuf::from(INTENT)))
    }

    /// The SHA-256 of the file at `path` (a path the connector wrote in a token), `None`
    /// when nothing is there; read beneath its root's handle.
    fn digest_at(&self, path: &Path) -> Result<Option<String>, String> {
        let located = self.roots.locate(&path.to_string_lossy())?;
        let at = self.roots.beneath(&located)?;
        Ok(at.read("reconcile", MAX_PREIMAGE_BYTES)?.map(|bytes| sha256_hex(&bytes)))
    }

    fn size_at(&self, path: &Path) -> Result<usize, String> {
        let located = self.roots.locate(&path.to_string_lossy())?;
        let at = self.roots.beneath(&located)?;
        Ok(at.read("reconcile", MAX_PREIMAGE_BYTES)?.map_or(0, |bytes| bytes.len()))
    }
}

/// A new file, created exclusively, readable by aecl's user only (`0600`, whatever the
/// umask leaves: the intent names the paths and hashes of the agent's files).
fn private_new() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    options
}

fn not_landed(evidence: Value) -> Reconciled {
    Reconciled::NotLanded { evidence }
}
