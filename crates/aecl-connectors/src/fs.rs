//! The `fs` connector: read, write, delete and move files under configured roots, keeping
//! the pre-image of every change for undo.
//!
//! Arguments (names configurable): `op` (`read`, `write`, `delete`, `move`), `path`,
//! `content` (write, text), `to` (move). Relative paths are relative to the first root.
//!
//! Containment: a path is normalised lexically (a `..` that would climb above the root is
//! refused outright), then its nearest existing ancestor is resolved with the file system
//! (`canonicalize`, which follows symlinks) and must still lie under a resolved root, so a
//! symlink inside a root that points outside is refused. The final component must not be
//! a symlink. (A race with someone swapping a directory for a symlink between the check
//! and the use is outside what this connector can rule out; the sandbox is the layer
//! under it.)
//!
//! Undo: before a write, delete or move, the previous content (or its absence) is copied
//! into `undo_dir/EFFECT_ID/`; the rollback token names the operation, the paths and the
//! SHA-256 of the content the effect left. The compensation first checks that content (a
//! written file still holds what was written, a deleted path is still absent, a moved file
//! is still at its destination and its source still free) and otherwise answers
//! `undo_conflict` without touching anything.

use std::path::{Component, Path, PathBuf};

use aecl_engine::{BoxFuture, Compensated, ConnectorOutcome, Effect};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::ConnectorsFile;
use crate::error::ConnectorError;
use crate::registry::{ActionConnector, Invocation};

/// `[connectors.NAME] kind = "fs"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsConfig {
    /// The folders the connector may touch (they must exist).
    pub roots: Vec<PathBuf>,
    /// Where pre-images are kept (created if missing; keep it outside the roots).
    pub undo_dir: PathBuf,
    #[serde(default = "default_op_arg")]
    pub op_arg: String,
    #[serde(default = "default_path_arg")]
    pub path_arg: String,
    #[serde(default = "default_content_arg")]
    pub content_arg: String,
    #[serde(default = "default_to_arg")]
    pub to_arg: String,
    /// The largest file `read` returns, in bytes.
    #[serde(default = "default_max_read")]
    pub max_read_bytes: u64,
}

fn default_op_arg() -> String {
    "op".to_owned()
}
fn default_path_arg() -> String {
    "path".to_owned()
}
fn default_content_arg() -> String {
    "content".to_owned()
}
fn default_to_arg() -> String {
    "to".to_owned()
}
fn default_max_read() -> u64 {
    1024 * 1024
}

/// The `fs` connector.
#[derive(Debug)]
pub struct FsConnector {
    /// Resolved (canonical) roots.
    roots: Vec<PathBuf>,
    undo_dir: PathBuf,
    config: FsConfig,
}

/// What undoing a change needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum FsToken {
    Write {
        path: PathBuf,
        /// Whether the file existed before (its content is `undo_dir/EFFECT/before`).
        existed: bool,
        before_sha256: Option<String>,
        after_sha256: String,
        undo: String,
    },
    Delete {
        path: PathBuf,
        before_sha256: String,
        undo: String,
    },
    Move {
        from: PathBuf,
        to: PathBuf,
        sha256: String,
    },
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl FsConnector {
    pub fn new(
        file: &ConnectorsFile,
        name: &str,
        config: &FsConfig,
    ) -> Result<FsConnector, ConnectorError> {
        let mut config = config.clone();
        config.roots = config.roots.iter().map(|r| file.resolve(r)).collect();
        config.undo_dir = file.resolve(&config.undo_dir);
        FsConnector::with(config).map_err(|e| file.error(format!("connectors.{name}: {e}")))
    }

    /// A connector over `config` as given (absolute paths).
    pub fn with(config: FsConfig) -> Result<FsConnector, String> {
        if config.roots.is_empty() {
            return Err("`roots` is empty".to_owned());
        }
        let roots = config
            .roots
            .iter()
            .map(|r| r.canonicalize().map_err(|e| format!("root `{}`: {e}", r.display())))
            .collect::<Result<Vec<_>, _>>()?;
        std::fs::create_dir_all(&config.undo_dir)
            .map_err(|e| format!("undo_dir `{}`: {e}", config.undo_dir.display()))?;
        let undo_dir = config
            .undo_dir
            .canonicalize()
            .map_err(|e| format!("undo_dir `{}`: {e}", config.undo_dir.display()))?;
        Ok(FsConnector { roots, undo_dir, config })
    }

    /// `raw` resolved under a root, or why not.
    pub fn contain(&self, raw: &str) -> Result<PathBuf, String> {
        let first = self.roots.first().ok_or("no root")?;
        let given = Path::new(raw);
        let joined = if given.is_absolute() { given.to_owned() } else { first.join(given) };
        let mut normal = PathBuf::new();
        for component in joined.components() {
            match component {
                Component::ParentDir => {
                    if !normal.pop() {
                        return Err(format!("path `{raw}` climbs above the file system root"));
                    }
                }
                Component::CurDir => {}
                other => normal.push(other.as_os_str()),
            }
        }
        let Some(root) = self.roots.iter().find(|r| normal.starts_with(r)) else {
            return Err(format!("path `{raw}` is outside the allowed roots"));
        };
        if normal == *root {
            return Err(format!("path `{raw}` is a root itself"));
        }
        // The nearest existing ancestor, resolved by the file system.
        let mut existing = normal.parent().map(Path::to_owned).unwrap_or_default();
        while !existing.exists() {
            if !existing.pop() {
                return Err(format!("path `{raw}` has no existing ancestor"));
            }
        }
        let resolved = existing.canonicalize().map_err(|e| format!("path `{raw}`: {e}"))?;
        if !self.roots.iter().any(|r| resolved.starts_with(r)) {
            return Err(format!("path `{raw}` leaves the allowed roots through a symlink"));
        }
        if let Ok(meta) = std::fs::symlink_metadata(&normal)
            && meta.file_type().is_symlink()
        {
            return Err(format!("path `{raw}` is a symlink"));
        }
        Ok(normal)
    }

    fn run(
        &self,
        invocation: &Invocation<'_>,
    ) -> Result<(serde_json::Value, Option<String>), String> {
        let args = &invocation.call.args;
        let text = |name: &str| -> Result<&str, String> {
            args.get(name)
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("bad_request: argument `{name}` is missing or not text"))
        };
        let op = text(&self.config.op_arg)?;
        let path = self.contain(text(&self.config.path_arg)?)?;
        let undo = self.undo_dir.join(invocation.effect_id);
        match op {
            "read" => {
                let meta = std::fs::metadata(&path)
                    .map_err(|e| format!("read `{}`: {e}", path.display()))?;
                if meta.len() > self.config.max_read_bytes {
                    return Err(format!(
                        "read: the file has {} bytes, more than {}",
                        meta.len(),
                        self.config.max_read_bytes
                    ));
                }
                let bytes =
                    std::fs::read(&path).map_err(|e| format!("read `{}`: {e}", path.display()))?;
                let content = String::from_utf8_lossy(&bytes).into_owned();
                Ok((json!({ "path": path, "content": content, "bytes": bytes.len() }), None))
            }
            "write" => {
                let content = text(&self.config.content_arg)?;
                let before = match std::fs::read(&path) {
                    Ok(bytes) => Some(bytes),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(format!("write `{}`: {e}", path.display())),
                };
                if let Some(before) = &before {
                    keep(&undo, before)?;
                }
                let token = FsToken::Write {
                    path: path.clone(),
                    existed: before.is_some(),
                    before_sha256: before.as_deref().map(sha256_hex),
                    after_sha256: sha256_hex(content.as_bytes()),
                    undo: invocation.effect_id.to_owned(),
                };
                replace(&path, content.as_bytes())?;
                Ok((json!({ "path": path, "bytes": content.len() }), token_text(&token)))
            }
            "delete" => {
                let meta = std::fs::symlink_metadata(&path)
                    .map_err(|e| format!("delete `{}`: {e}", path.display()))?;
                if !meta.is_file() {
                    return Err(format!("delete `{}`: not a regular file", path.display()));
                }
                let before = std::fs::read(&path)
                    .map_err(|e| format!("delete `{}`: {e}", path.display()))?;
                keep(&undo, &before)?;
                std::fs::remove_file(&path)
                    .map_err(|e| format!("delete `{}`: {e}", path.display()))?;
                let token = FsToken::Delete {
                    path: path.clone(),
                    before_sha256: sha256_hex(&before),
                    undo: invocation.effect_id.to_owned(),
                };
                Ok((json!({ "path": path, "deleted": true }), token_text(&token)))
            }
            "move" => {
                let to = self.contain(text(&self.config.to_arg)?)?;
                let meta = std::fs::symlink_metadata(&path)
                    .map_err(|e| format!("move `{}`: {e}", path.display()))?;
                if !meta.is_file() {
                    return Err(format!("move `{}`: not a regular file", path.display()));
                }
                if std::fs::symlink_metadata(&to).is_ok() {
                    return Err(format!("move: `{}` exists already", to.display()));
                }
                let bytes =
                    std::fs::read(&path).map_err(|e| format!("move `{}`: {e}", path.display()))?;
                std::fs::rename(&path, &to).map_err(|e| format!("move: {e}"))?;
                let token = FsToken::Move {
                    from: path.clone(),
                    to: to.clone(),
                    sha256: sha256_hex(&bytes),
                };
                Ok((json!({ "from": path, "to": to }), token_text(&token)))
            }
            other => Err(format!("bad_request: unknown op `{other}` (read, write, delete, move)")),
        }
    }

    fn undo(&self, token: &FsToken) -> Compensated {
        let conflict = |detail: String| Compensated::Conflict { detail };
        let failed = |error: String| Compensated::Failed { error };
        let digest_of = |path: &Path| std::fs::read(path).ok().map(|b| sha256_hex(&b));
        // Paths come from a token aecl wrote, but are checked again: the roots may have
        // changed since.
        let inside = |path: &Path| self.contain(&path.to_string_lossy()).is_ok();
        match token {
            FsToken::Write { path, existed, before_sha256, after_sha256, undo } => {
                if !inside(path) {
                    return failed(format!("`{}` is no longer under a root", path.display()));
                }
                if digest_of(path).as_ref() != Some(after_sha256) {
                    return conflict(format!("`{}` changed since it was written", path.display()));
                }
                if *existed {
                    let kept = self.undo_dir.join(undo).join("before");
                    let Ok(before) = std::fs::read(&kept) else {
                        return failed(format!("the pre-image `{}` is missing", kept.display()));
                    };
                    if before_sha256.as_deref() != Some(sha256_hex(&before).as_str()) {
                        return failed("the pre-image does not match its token".to_owned());
                    }
                    if let Err(e) = replace(path, &before) {
                        return failed(e);
                    }
                } else if let Err(e) = std::fs::remove_file(path) {
                    return failed(format!("removing `{}`: {e}", path.display()));
                }
                Compensated::Restored {
                    result: json!({ "path": path, "restored": if *existed { "previous content" } else { "absent" } }),
                }
            }
            FsToken::Delete { path, before_sha256, undo } => {
                if !inside(path) {
                    return failed(format!("`{}` is no longer under a root", path.display()));
                }
                if std::fs::symlink_metadata(path).is_ok() {
                    return conflict(format!("`{}` exists again", path.display()));
                }
                let kept = self.undo_dir.join(undo).join("before");
                let Ok(before) = std::fs::read(&kept) else {
                    return failed(format!("the pre-image `{}` is missing", kept.display()));
                };
                if sha256_hex(&before) != *before_sha256 {
                    return failed("the pre-image does not match its token".to_owned());
                }
                match replace(path, &before) {
                    Ok(()) => Compensated::Restored {
                        result: json!({ "path": path, "restored": "previous content" }),
                    },
                    Err(e) => failed(e),
                }
            }
            FsToken::Move { from, to, sha256 } => {
                if !inside(from) || !inside(to) {
                    return failed("a path is no longer under a root".to_owned());
                }
                if std::fs::symlink_metadata(from).is_ok() {
                    return conflict(format!("`{}` exists again", from.display()));
                }
                if digest_of(to).as_ref() != Some(sha256) {
                    return conflict(format!("`{}` changed since the move", to.display()));
                }
                match std::fs::rename(to, from) {
                    Ok(()) => Compensated::Restored {
                        result: json!({ "path": from, "restored": "moved back" }),
                    },
                    Err(e) => failed(format!("moving back: {e}")),
                }
            }
        }
    }
}

fn token_text(token: &FsToken) -> Option<String> {
    serde_json::to_string(token).ok()
}

/// Keeps `bytes` as `dir/before`.
fn keep(dir: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("undo dir `{}`: {e}", dir.display()))?;
    std::fs::write(dir.join("before"), bytes).map_err(|e| format!("keeping the pre-image: {e}"))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so
/// that the file is never seen half written.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.aecl-{}", uuid::Uuid::now_v7()));
    std::fs::write(&temporary, bytes).map_err(|e| format!("write `{}`: {e}", path.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        format!("write `{}`: {e}", path.display())
    })
}

impl ActionConnector for FsConnector {
    fn execute<'a>(&'a self, invocation: Invocation<'a>) -> BoxFuture<'a, ConnectorOutcome> {
        Box::pin(async move {
            // Small files, local disk: done inline rather than on a blocking thread.
            match self.run(&invocation) {
                Ok((result, rollback_token)) => {
                    ConnectorOutcome::Succeeded { result, rollback_token }
                }
                Err(error) => ConnectorOutcome::Failed { error },
            }
        })
    }

    fn compensate<'a>(
        &'a self,
        _: &'a Effect,
        rollback_token: &'a str,
    ) -> BoxFuture<'a, Compensated> {
        Box::pin(async move {
            match serde_json::from_str::<FsToken>(rollback_token) {
                Ok(token) => self.undo(&token),
                Err(e) => Compensated::Failed { error: format!("bad rollback token: {e}") },
            }
        })
    }
}
